/**
 * The parts of HTTP/1.1 the data path needs: message heads and where a body ends.
 *
 * The proxy forwards bytes as they arrive and only needs to know message boundaries (to find the next
 * request, to notice an upgrade or a hijacked stream). Heads are parsed once into a small record; the
 * raw head bytes are forwarded unchanged unless a Docker-aware handler rewrites the message.
 */

import { ProxyError } from './errors.js';
import { GoChunkedBody, readChunkedBody } from './gohttp/chunked.js';
import { findHeadEnd as findGoHeadEnd, type GoRequest, readRequestHead } from './gohttp/head.js';

/** Largest head accepted; Go's net/http default is 1 MiB, dockerd never needs more than a few KiB. */
export const MAX_HEAD_BYTES = 64 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * The data path's name for the proxy's one error type (message first); `instanceof` matches every
 * ProxyError, so errors raised by the Go-exact readers are caught where parse errors are.
 */
export class HttpParseError extends ProxyError {
  constructor(message: string, status: number) {
    super(status, message);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof ProxyError;
  }
}

function parseError(message: string, status: number): ProxyError {
  return new ProxyError(status, message);
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
  /** The request as Go's net/http server (dockerd) reads it. */
  readonly go: GoRequest;
}

export interface ResponseHead extends Head {
  readonly status: number;
  readonly version: string;
}

/**
 * Index just past the head's blank line, or -1 when the head is not complete yet. Lines end at LF
 * (a CR before it is part of the ending), as Go's server reads them.
 */
export function findHeadEnd(buf: Buffer, from = 0): number {
  // Fast path: a head with CRLF endings only (every client sends those) ends at the first CRLFCRLF.
  const at = buf.indexOf(CRLFCRLF, Math.max(0, from - 3));
  if (at >= 0 && !hasBareLf(buf, at)) return at + 4;
  return findGoHeadEnd(buf, from);
}

function hasBareLf(buf: Buffer, end: number): boolean {
  let i = buf.indexOf(0x0a);
  while (i >= 0 && i < end) {
    if (i === 0 || buf[i - 1] !== 0x0d) return true;
    i = buf.indexOf(0x0a, i + 1);
  }
  return false;
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
      throw parseError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`, 400);
    }
    const name = line.slice(0, colon);
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw parseError(`invalid header name: ${JSON.stringify(name.slice(0, 80))}`, 400);
    }
    const value = line.slice(colon + 1).trim();
    rawHeaders.push([name, value]);
    const key = name.toLowerCase();
    const prev = headers.get(key);
    if (prev === undefined) headers.set(key, value);
    else if (key === 'content-length') {
      // Two different lengths make the body's end ambiguous: the classic smuggling vector.
      if (prev !== value) throw parseError('conflicting Content-Length headers', 400);
    } else headers.set(key, `${prev}, ${value}`);
  }
  return { headers, rawHeaders };
}

/** A request head read as Go's server reads it; throws ProxyError where Go refuses it. */
export function parseRequestHead(buf: Buffer, length: number): RequestHead {
  const go = readRequestHead(buf, length);
  const headers = new Map<string, string>();
  const rawHeaders: Array<[string, string]> = [];
  for (const [name, values] of go.header) {
    for (const v of values) rawHeaders.push([name, v]);
    headers.set(name.toLowerCase(), values.join(', '));
  }
  return { method: go.method, target: go.target, version: `HTTP/${go.major}.${go.minor}`, length, headers, rawHeaders, go };
}

export function parseResponseHead(buf: Buffer, length: number): ResponseHead {
  const text = buf.toString('latin1', 0, length);
  const lineEnd = text.indexOf('\r\n');
  const line = text.slice(0, lineEnd);
  const m = /^(HTTP\/\d\.\d) (\d{3})(?: .*)?$/.exec(line);
  if (m === null) throw parseError(`malformed status line: ${JSON.stringify(line.slice(0, 80))}`, 502);
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
  if (!/^\d{1,15}$/.test(raw)) throw parseError(`invalid Content-Length: ${JSON.stringify(raw)}`, 400);
  return Number(raw);
}

function isChunked(head: Head): boolean {
  const te = head.headers.get('transfer-encoding');
  if (te === undefined) return false;
  // dockerd (Go) supports only "chunked"; anything else would be framed differently by each side.
  if (te.toLowerCase() !== 'chunked') throw parseError(`unsupported Transfer-Encoding: ${te}`, 501);
  return true;
}

/** The request body's framing as Go read it (Transfer-Encoding is ignored before HTTP/1.1). */
export function requestFraming(head: RequestHead): BodyFraming {
  return head.go.body;
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
      return new GoChunkedBody();
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
  const tooLarge = () => parseError(`request body larger than the ${max} bytes this endpoint accepts`, 413);
  switch (framing.kind) {
    case 'none':
      return { body: Buffer.alloc(0), end: start };
    case 'close':
      throw parseError('request body without a length', 411);
    case 'length': {
      if (framing.length > max) throw tooLarge();
      const end = start + framing.length;
      return buf.length < end ? undefined : { body: buf.subarray(start, end), end };
    }
    case 'chunked':
      return readChunkedBody(buf, start, max);
  }
}
