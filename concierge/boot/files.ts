import { lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a small system file when its content differs; a symlink in its place (resolv.conf pointing
 * into a resolver's runtime dir) is replaced by the file. Written in place, not renamed over, so a
 * file bind-mounted there keeps working.
 */
export function writeIfChanged(path: string, content: string): boolean {
  try {
    if (lstatSync(path).isSymbolicLink()) unlinkSync(path);
    else if (readFileSync(path, 'utf8') === content) return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true });
  }
  writeFileSync(path, content);
  return true;
}
