// Writing blobs into containerd's content store: streamed in chunks of at most 1 MiB, verified against
// the expected digest by containerd on commit, and skipped when the blob is already there.
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
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

/** containerd refused to commit a blob whose bytes hash to another digest (it checks every commit). */
export class DigestMismatchError extends Error {
  /** What the bytes hash to: containerd says "unexpected commit digest <actual>, expected <digest>". */
  readonly actual: string;

  constructor(readonly digest: string, details: string) {
    super(`blob ${digest}: content does not match its digest (corrupt archive?)`);
    this.actual = /unexpected commit digest (sha256:[0-9a-f]{64})/.exec(details)?.[1] ?? 'another digest';
  }
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
    // Streams from a socket come in small pieces: gather them into one message of up to 1 MiB of data.
    // A few writes are kept in flight (containerd answers them in order), so reading the source overlaps
    // containerd's writing instead of waiting a round trip per chunk.
    // A message's room is what is left of the blob, up to a chunk: a small blob gets a small buffer.
    const room = () => Math.min(chunkSize, Number(total - offset));
    let message = dataMessage(ref, offset, room());
    const inFlight: Promise<unknown>[] = [];
    const flush = async () => {
      const answer = write.exchange(message.finish());
      answer.catch(() => undefined); // awaited below, or the write failed and the error comes from the first awaited
      inFlight.push(answer);
      offset += BigInt(message.size);
      message = dataMessage(ref, offset, room());
      if (inFlight.length >= writesInFlight) await inFlight.shift();
    };
    for await (const piece of blob.open()) {
      const buffer = piece as Buffer;
      for (let at = 0; at < buffer.length;) {
        if (message.capacity === 0) throw new Error(`blob ${blob.digest}: more than the expected ${total} bytes`);
        at += message.take(buffer, at);
        if (message.size === message.capacity) await flush();
      }
    }
    if (message.size > 0) await flush();
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
    if (err instanceof ContainerdError && err.details.includes('unexpected commit digest')) throw new DigestMismatchError(blob.digest, err.details);
    throw err;
  }
}

/**
 * A WriteContentRequest with action WRITE, encoded into the buffer its data is gathered in: the fields
 * before the data are encoded by protobuf-es, and the data (the last field, at most `capacity` bytes) is
 * copied once, straight from the source's pieces.
 */
function dataMessage(ref: string, offset: bigint, capacity: number) {
  const head = new BinaryWriter()
    .tag(1, WireType.Varint).int32(WriteAction.WRITE)
    .tag(2, WireType.LengthDelimited).string(ref)
    .tag(5, WireType.Varint).int64(offset)
    .tag(6, WireType.LengthDelimited).finish();
  // The data's length is a varint written once the size is known: reserve its largest form (5 bytes)
  // and encode it with continuation bits so that it always takes all 5.
  const buffer = Buffer.allocUnsafe(head.length + 5 + capacity);
  buffer.set(head, 0);
  const start = head.length + 5;
  let size = 0;
  return {
    capacity,
    get size() { return size; },
    /** Copies from piece[at..] what fits; returns how many bytes it took. */
    take(piece: Buffer, at: number): number {
      const n = Math.min(capacity - size, piece.length - at);
      piece.copy(buffer, start + size, at, at + n);
      size += n;
      return n;
    },
    finish(): Buffer {
      let v = size;
      for (let i = 0; i < 4; i++, v = Math.floor(v / 128)) buffer[head.length + i] = (v & 0x7f) | 0x80;
      buffer[head.length + 4] = v & 0x7f;
      return buffer.subarray(0, start + size);
    },
  };
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
