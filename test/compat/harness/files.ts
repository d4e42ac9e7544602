import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';

/** Writes `size` random bytes (in 1 MiB pieces) and returns their sha256. */
export function writeRandomFile(path: string, size: number): string {
  const hash = createHash('sha256');
  const piece = 1 << 20;
  const parts: Buffer[] = [];
  for (let left = size; left > 0; left -= piece) {
    const part = randomBytes(Math.min(piece, left));
    hash.update(part);
    parts.push(part);
  }
  writeFileSync(path, Buffer.concat(parts));
  return hash.digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
