import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export const sha256 = (bytes: Uint8Array | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export async function sha256Stream(stream: Readable): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

const digestPattern = /^sha256:[a-f0-9]{64}$/;
export function checkDigest(value: unknown, what: string): string {
  if (typeof value !== 'string' || !digestPattern.test(value)) throw new Error(`${what}: not a sha256 digest: ${JSON.stringify(value)}`);
  return value;
}

/** The identity of a stack of layers, as snapshots are named: chainID(n) = sha256(chainID(n-1) + " " + diffID(n)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    const parent = chain.at(-1);
    chain.push(parent === undefined ? diffId : sha256(`${parent} ${diffId}`));
  }
  return chain;
}
