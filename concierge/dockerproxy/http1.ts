/**
 * The parts of HTTP/1.1 the data path needs: message heads and where a body ends.
 *
 * The proxy forwards bytes as they arrive and only needs to know message boundaries (to find the next
 * request, to notice an upgrade or a hijacked stream). Heads are parsed once into a small record; the
 * raw head bytes are forwarded unchanged unless a Docker-aware handler rewrites the message.
 */

/** Largest head accepted; Go's net/http default is 1 MiB, dockerd never needs more than a few KiB. */
export const MAX_HEAD_BYTES = 64 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');

export class HttpParseError extends Error {
  override name = 'HttpParseError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface Head {
  /** Header names lower-cased; repeated headers joined with ", " except where that would be ambiguous. */
  readonly headers: Map<string, string>;
  /** Header names in order with their original case, for rebuilding a head. */
  readonly rawHeaders: Array<[string, string]>;
  /** Byte length of the head including the blank line. */
  readonly length: number;
}

export interface RequestHead extends Head {
  readonly method: string;
  readonly target: string;
  readonly version: string;
}

export interface ResponseHead extends Head {
  readonly status: number;
  readonly version: string;
}

/** Index just past the head's blank line, or -1 when the head is not complete yet. */
export function findHeadEnd(buf: Buffer, from = 0): number {
  const at = buf.indexOf(CRLFCRLF, Math.max(0, from - 3));
  return at < 0 ? -1 : at + 4;
}

function parseHeaderLines(text: string, start: number): Pick<Head, 'headers' | 'rawHeaders'> {
  const headers = new Map<string, string>();
  const rawHeaders: Array<[string, string]> = [];
  let pos = start;
  const end = text.length - 4; // the final CRLFCRLF
  while (pos < end) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0 || eol > end) eol = end;
    const line = text.slice(pos, eol);
    pos = eol + 2;
    if (line.length === 0) continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9) {
      throw new HttpParseError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`, 400);
    }
    const name = line.slice(0, colon);
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new HttpParseError(`invalid header name: ${JSON.stringify(name.slice(0, 80))}`, 400);
    }
    const value = line.slice(colon + 1).trim();
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    const prev = headers.get(key);
    if (prev === undefined) headers.set(key, value);
    else if (key === 'content-length') {
      // Two different lengths make the body's end ambiguous: the classic smuggling vector.
      if (prev !== value) throw new HttpParseError('conflicting Content-Length headers', 400);
    } else headers.set(key, `${prev}, ${value}`);
  }
  return { headers, rawHeaders };
}

export function parseRequestHead(buf: Buffer, length: number): RequestHead {
  const text = buf.toString('latin1', 0, length);
  const lineEnd = text.indexOf('\r\n');
  const line = text.slice(0, lineEnd);
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(line);
  if (m === null) throw new HttpParseError(`malformed request line: ${JSON.stringify(line.slice(0, 80))}`, 400);
  return { method: m[1]!, target: m[2]!, version: m[3]!, length, ...parseHeaderLines(text, lineEnd + 2) };
}

export function parseResponseHead(buf: Buffer, length: number): ResponseHead {
  const text = buf.toString('latin1', 0, length);
  const lineEnd = text.indexOf('\r\n');
  const line = text.slice(0, lineEnd);
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: .*)?$/.exec(line);
  if (m === null) throw new HttpParseError(`malformed status line: ${JSON.stringify(line.slice(0, 80))}`, 502);
  return { status: Number(m[2]), version: m[1]!, length, ...parseHeaderLines(text, lineEnd + 2) };
}

/** How a message body is delimited (RFC 9112 section 6.3). */
export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Until the connection closes: a hijacked Docker stream, or an HTTP/1.0-style response. */
  | { kind: 'close' };

function contentLength(head: Head): number | undefined {
  const raw = head.headers.get('content-length');
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpParseError(`invalid Content-Length: ${JSON.stringify(raw)}`, 400);
  return Number(raw);
}

function isChunked(head: Head): boolean {
  const te = head.headers.get('transfer-encoding');
  if (te === undefined) return false;
  // dockerd (Go) supports only "chunked"; anything else would be framed differently by each side.
  if (te.toLowerCase() !== 'chunked') throw new HttpParseError(`unsupported Transfer-Encoding: ${te}`, 501);
  return true;
}

export function requestFraming(head: RequestHead): BodyFraming {
  const chunked = isChunked(head);
  const length = contentLength(head);
  if (chunked && length !== undefined) {
    throw new HttpParseError('both Transfer-Encoding and Content-Length are set', 400);
  }
  if (chunked) return { kind: 'chunked' };
  if (length !== undefined && length > 0) return { kind: 'length', length };
  return { kind: 'none' };
}

export function responseFraming(head: ResponseHead, requestMethod: string): BodyFraming {
  if (requestMethod === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200) {
    return { kind: 'none' };
  }
  if (isChunked(head)) return { kind: 'chunked' };
  const length = contentLength(head);
  if (length !== undefined) return length > 0 ? { kind: 'length', length } : { kind: 'none' };
  return { kind: 'close' };
}

/**
 * Follows a body's framing across chunks of bytes without copying them: `consume` returns how many
 * bytes of `buf` (from `start`) belong to the body; `done` turns true at the body's last byte.
 */
export interface BodyTracker {
  consume(buf: Buffer, start: number): number;
  readonly done: boolean;
}

export function trackBody(framing: BodyFraming): BodyTracker {
  switch (framing.kind) {
    case 'none':
      return { consume: () => 0, done: true };
    case 'length':
      return new LengthTracker(framing.length);
    case 'chunked':
      return new ChunkedTracker();
    case 'close':
      return { consume: (buf, start) => buf.length - start, done: false };
  }
}

class LengthTracker implements BodyTracker {
  constructor(private remaining: number) {}
  get done(): boolean {
    return this.remaining === 0;
  }
  consume(buf: Buffer, start: number): number {
    const n = Math.min(this.remaining, buf.length - start);
    this.remaining -= n;
    return n;
  }
}

const enum Chunk {
  Size,
  SizeExt,
  SizeLF,
  Data,
  DataCR,
  DataLF,
  TrailerStart,
  TrailerLine,
  TrailerLF,
  FinalLF,
  Done,
}

/** Longest chunk-size line we accept (hex digits plus extensions). */
const MAX_CHUNK_LINE = 4096;

class ChunkedTracker implements BodyTracker {
  private state = Chunk.Size;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;

  get done(): boolean {
    return this.state === Chunk.Done;
  }

  consume(buf: Buffer, start: number): number {
    let i = start;
    const end = buf.length;
    while (i < end && this.state !== Chunk.Done) {
      if (this.state === Chunk.Data) {
        const n = Math.min(this.size, end - i);
        this.size -= n;
        i += n;
        if (this.size === 0) this.state = Chunk.DataCR;
        continue;
      }
      const c = buf[i++]!;
      if (++this.lineBytes > MAX_CHUNK_LINE) throw new HttpParseError('chunk line too long', 400);
      switch (this.state) {
        case Chunk.Size: {
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > 12) throw new HttpParseError('chunk size too large', 400);
            this.size = this.size * 16 + v;
          } else if (this.digits > 0 && (c === 0x3b || c === 0x20 || c === 0x09)) this.state = Chunk.SizeExt;
          else if (this.digits > 0 && c === 0x0d) this.state = Chunk.SizeLF;
          else throw new HttpParseError('malformed chunk size', 400);
          break;
        }
        case Chunk.SizeExt:
          if (c === 0x0d) this.state = Chunk.SizeLF;
          break;
        case Chunk.SizeLF:
          if (c !== 0x0a) throw new HttpParseError('malformed chunk size line', 400);
          this.lineBytes = 0;
          this.digits = 0;
          this.state = this.size === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.DataCR:
          if (c !== 0x0d) throw new HttpParseError('chunk data not followed by CRLF', 400);
          this.state = Chunk.DataLF;
          break;
        case Chunk.DataLF:
          if (c !== 0x0a) throw new HttpParseError('chunk data not followed by CRLF', 400);
          this.lineBytes = 0;
          this.state = Chunk.Size;
          break;
        case Chunk.TrailerStart:
          this.state = c === 0x0d ? Chunk.FinalLF : Chunk.TrailerLine;
          break;
        case Chunk.TrailerLine:
          if (c === 0x0d) this.state = Chunk.TrailerLF;
          break;
        case Chunk.TrailerLF:
          if (c !== 0x0a) throw new HttpParseError('malformed trailer', 400);
          this.lineBytes = 0;
          this.state = Chunk.TrailerStart;
          break;
        case Chunk.FinalLF:
          if (c !== 0x0a) throw new HttpParseError('malformed end of chunked body', 400);
          this.state = Chunk.Done;
          break;
      }
    }
    return i - start;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** True when the head asks to switch protocols (Docker's `Upgrade: tcp`, BuildKit's `h2c`, websockets). */
export function wantsUpgrade(head: Head): boolean {
  return head.headers.has('upgrade') && /\bupgrade\b/i.test(head.headers.get('connection') ?? '');
}

/** A whole body read from a buffer: its decoded bytes and where the message ends. */
export interface WholeBody {
  body: Buffer;
  end: number;
}

/**
 * Reads a complete body starting at `start`, decoding chunked framing. Returns undefined when more
 * bytes are needed; throws 413 when the body (or what is buffered of it) exceeds `max`.
 */
export function readWholeBody(buf: Buffer, start: number, framing: BodyFraming, max: number): WholeBody | undefined {
  const tooLarge = () => new HttpParseError(`request body larger than the ${max} bytes this endpoint accepts`, 413);
  switch (framing.kind) {
    case 'none':
      return { body: Buffer.alloc(0), end: start };
    case 'close':
      throw new HttpParseError('request body without a length', 411);
    case 'length': {
      if (framing.length > max) throw tooLarge();
      const end = start + framing.length;
      return buf.length < end ? undefined : { body: buf.subarray(start, end), end };
    }
    case 'chunked': {
      const tracker = trackBody(framing);
      const n = tracker.consume(buf, start);
      if (!tracker.done) {
        if (n > max + 1024) throw tooLarge();
        return undefined;
      }
      const body = decodeChunks(buf.subarray(start, start + n));
      if (body.length > max) throw tooLarge();
      return { body, end: start + n };
    }
  }
}

/** Decodes a complete, already validated chunked body. */
function decodeChunks(encoded: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = encoded.indexOf('\r\n', pos);
    const size = parseInt(encoded.toString('latin1', pos, lineEnd), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(encoded.subarray(lineEnd + 2, lineEnd + 2 + size));
    pos = lineEnd + 2 + size + 2;
  }
}
