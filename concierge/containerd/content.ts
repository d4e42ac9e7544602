// Writing blobs into containerd's content store: streamed in chunks of at most 1 MiB, verified against
// the expected digest by containerd on commit, and skipped when the blob is already there.
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WriteAction } from './api.js';
import type { ContainerdClient } from './client.js';
import { ContainerdError, ignoreNotFound, isAlreadyExists, isNotFound } from './errors.js';

const chunkSize = 1024 * 1024;
const writesInFlight = 4;

export interface BlobToWrite {
  digest: string;
  size: number;
  open(): Readable;
  labels?: Record<string, string>;
}

/** Puts the blob under the client's lease; 'exists' when the store already had it (nothing was read). */
export async function writeBlob(client: ContainerdClient, blob: BlobToWrite): Promise<'written' | 'exists'> {
  if (await blobExists(client, blob.digest)) {
    await leaseResource(client, blob.digest, 'content');
    return 'exists';
  }
  const ref = `concierge-${blob.digest.replace(':', '-')}-${randomBytes(4).toString('hex')}`;
  const total = BigInt(blob.size);
  const write = client.content.write();
  try {
    await write.exchange({ action: WriteAction.STAT, ref, total, expected: blob.digest });
    let offset = 0n;
    // Streams from a socket come in small pieces: gather them into chunks of up to 1 MiB. A few writes
    // are kept in flight (containerd answers them in order), so reading the source overlaps containerd's
    // writing instead of waiting a round trip per chunk.
    let pending: Buffer[] = [];
    let pendingSize = 0;
    const inFlight: Promise<unknown>[] = [];
    const flush = async () => {
      const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingSize);
      pending = [];
      pendingSize = 0;
      const answer = write.exchange({ action: WriteAction.WRITE, ref, offset, data });
      answer.catch(() => undefined); // awaited below, or the write failed and the error comes from the first awaited
      inFlight.push(answer);
      offset += BigInt(data.length);
      if (inFlight.length >= writesInFlight) await inFlight.shift();
    };
    for await (const piece of blob.open()) {
      const buffer = piece as Buffer;
      for (let at = 0; at < buffer.length;) {
        const take = Math.min(chunkSize - pendingSize, buffer.length - at);
        pending.push(buffer.subarray(at, at + take));
        pendingSize += take;
        at += take;
        if (pendingSize === chunkSize) await flush();
      }
    }
    if (pendingSize > 0) await flush();
    await Promise.all(inFlight);
    if (offset !== total) throw new Error(`blob ${blob.digest}: read ${offset} bytes, expected ${total}`);
    // The offset must be given: containerd truncates the ingest to a zero offset before committing.
    await write.exchange({ action: WriteAction.COMMIT, ref, offset, total, expected: blob.digest, labels: blob.labels ?? {} });
    await write.close();
    return 'written';
  } catch (err) {
    write.cancel();
    if (isAlreadyExists(err)) {
      await leaseResource(client, blob.digest, 'content');
      return 'exists';
    }
    await ignoreNotFound(client.content.abort({ ref })).catch(() => undefined);
    if (err instanceof ContainerdError && err.details.includes('unexpected commit digest')) {
      throw new Error(`blob ${blob.digest}: content does not match its digest (corrupt archive?)`);
    }
    throw err;
  }
}

export async function blobExists(client: ContainerdClient, digest: string): Promise<boolean> {
  try {
    await client.content.info({ digest });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export async function readBlob(client: ContainerdClient, digest: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const answer of client.content.read({ digest })) chunks.push(answer.data);
  return Buffer.concat(chunks);
}

/** Sets labels on a blob (GC references among them), leaving its other labels alone. */
export async function labelBlob(client: ContainerdClient, digest: string, labels: Record<string, string>): Promise<void> {
  await client.content.update({
    info: { digest, labels },
    updateMask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
  });
}

/**
 * Adds something that already existed to the client's lease, so a garbage collection running before we
 * reference it from an image or a label cannot take it. type: 'content' or 'snapshots/<snapshotter>'.
 */
export async function leaseResource(client: ContainerdClient, id: string, type: string): Promise<void> {
  if (client.lease === undefined) return;
  await client.leases.addResource({ id: client.lease, resource: { id, type } });
}
