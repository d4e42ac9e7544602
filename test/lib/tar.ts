import { Readable } from 'node:stream';

/**
 * A minimal ustar writer for tests and the bench: image layers and archives (files, directories,
 * symlinks) and the single large file `docker cp` sends. Written here because neither may depend on a
 * tar binary or package, and because the bench's 256 MiB body has to be generated as a stream, never
 * held in memory. Every entry has one fixed mtime, so the same entries make the same bytes (and digests).
 */

export const BLOCK = 512;

export type EntryType = 'file' | 'dir' | 'symlink';

export interface EntryHeader {
  name: string;
  type: EntryType;
  mode: number;
  size?: number;
  linkname?: string;
}

const TYPEFLAG: Record<EntryType, string> = { file: '0', dir: '5', symlink: '2' };

const MTIME = 1_700_000_000;

function putString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  bytes.copy(buf, offset);
}

function putOctal(buf: Buffer, offset: number, length: number, value: number): void {
  putString(buf, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

export function header(entry: EntryHeader): Buffer {
  const buf = Buffer.alloc(BLOCK);
  putString(buf, 0, 100, entry.name);
  putOctal(buf, 100, 8, entry.mode);
  putOctal(buf, 108, 8, 0);
  putOctal(buf, 116, 8, 0);
  putOctal(buf, 124, 12, entry.size ?? 0);
  putOctal(buf, 136, 12, MTIME);
  buf.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  putString(buf, 156, 1, TYPEFLAG[entry.type]);
  putString(buf, 157, 100, entry.linkname ?? '');
  putString(buf, 257, 6, 'ustar\0');
  putString(buf, 263, 2, '00');
  let sum = 0;
  for (const byte of buf) sum += byte;
  putString(buf, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return buf;
}

/** Zero bytes that round a file's data up to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks end an archive. */
export const END = Buffer.alloc(2 * BLOCK);

/** An entry of an archive held in memory; mode defaults to 0755 for directories, 0644 otherwise. */
export interface TarEntry {
  name: string;
  type?: EntryType;
  data?: Buffer;
  mode?: number;
  linkname?: string;
}

/** An archive of `entries`, in memory. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const data = type === 'file' ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const mode = entry.mode ?? (type === 'dir' ? 0o755 : 0o644);
    parts.push(header({ name: entry.name, type, mode, size: data.length, linkname: entry.linkname }), data, padding(data.length));
  }
  parts.push(END);
  return Buffer.concat(parts);
}

/** Bytes on the wire of an archive holding one file of `size` bytes. */
export function singleFileArchiveSize(size: number): number {
  return BLOCK + size + padding(size).length + END.length;
}

/**
 * An archive holding one file of `size` bytes, produced lazily from one reused block of data so a
 * large body costs neither memory nor much CPU on the client.
 */
export function singleFileArchive(name: string, size: number, chunkSize = 256 * 1024): Readable {
  const data = Buffer.alloc(chunkSize, 0x61);
  let left = size;
  let stage = 0;
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (stage === 0) {
        stage = 1;
        this.push(header({ name, type: 'file', mode: 0o644, size }));
        return;
      }
      if (left > 0) {
        const n = Math.min(left, data.length);
        left -= n;
        this.push(n === data.length ? data : data.subarray(0, n));
        return;
      }
      if (stage === 1) {
        stage = 2;
        this.push(Buffer.concat([padding(size), END]));
        return;
      }
      this.push(null);
    },
  });
}
