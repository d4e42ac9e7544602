/**
 * A request head read as Go 1.19's net/http server reads it (`readRequest`, textproto's
 * `ReadMIMEHeader`, `readTransfer`), including what it rejects and the status it rejects it with.
 * dockerd is a Go server: a head concierge reads differently from Go is a request concierge checks
 * and dockerd does not execute, so this follows Go line by line in behaviour (never in code).
 */
import { ProxyError } from '../errors.js';
import { goQuote, GoUrlError, parseRequestUri, type RequestUrl } from './url.js';

/**
 * How Go's server refuses a head: the status, Go's public text ("400 Bad Request: missing required
 * Host header", which is also the body it writes before closing) and, as the message, why (for logs).
 */
export function goRefusal(status: number, publicText: string, why: string): ProxyError {
  return new ProxyError(status, why, { kind: 'go-text', text: publicText });
}

function badRequest(why: string, publicSuffix = ''): ProxyError {
  return goRefusal(400, `400 Bad Request${publicSuffix === '' ? '' : `: ${publicSuffix}`}`, why);
}

/** Go's header map: canonical keys, each with its values in order. */
export type GoHeader = Map<string, string[]>;

export type RequestBody =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' };

export interface GoRequest {
  method: string;
  /** The request target as sent (`RequestURI`). */
  target: string;
  major: number;
  minor: number;
  url: RequestUrl;
  /** `Request.Host`: the absolute-form authority, else the Host header. */
  host: string;
  /** Headers without Host and Transfer-Encoding (Go deletes both before a handler sees them). */
  header: GoHeader;
  body: RequestBody;
  /** Go closes the connection after answering (`Request.Close`). */
  close: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request with a body: Go answers 100 when the body is read. */
  expectContinue: boolean;
  /** Byte length of the head. */
  length: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST_BYTES = /^[0-9A-Za-z!$%&'()*+,\-.:;=[\]_~]*$/;

/**
 * Where the head ends: just past the first empty line after the request line. Lines end at LF; a CR
 * right before it belongs to the ending (Go's bufio ReadLine). -1 when no such line has arrived.
 * An empty first line ends the "head" at once: Go refuses it as a malformed request.
 */
export function findHeadEnd(buf: Buffer, from = 0): number {
  let lineStart = 0;
  let at = buf.indexOf(0x0a, 0);
  if (from > 2) {
    // Resume near where the last scan stopped: back up to the start of the line being read.
    const back = buf.lastIndexOf(0x0a, from - 3);
    if (back >= 0) {
      lineStart = back + 1;
      at = buf.indexOf(0x0a, lineStart);
    }
  }
  while (at >= 0) {
    const len = at - lineStart;
    if (len === 0 || (len === 1 && buf[lineStart] === 0x0d)) return at + 1;
    lineStart = at + 1;
    at = buf.indexOf(0x0a, lineStart);
  }
  return -1;
}

/** The lines of a head as bufio's ReadLine gives them (without "\n" or "\r\n"). */
function headLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop(); // after the last LF
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

function trimSpaceTab(s: string): string {
  return s.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
}

/** textproto.TrimString: space, tab, CR and LF off both ends. */
function trimAsciiSpace(s: string): string {
  return s.replace(/^[ \t\r\n]+/, '').replace(/[ \t\r\n]+$/, '');
}

/** CanonicalMIMEHeaderKey: unchanged when it holds a byte that is not a token byte. */
export function canonicalKey(k: string): string {
  if (!TOKEN.test(k)) return k;
  let out = '';
  let upper = true;
  for (const ch of k) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/** textproto.ReadMIMEHeader over the lines after the request line (up to, not including, the blank one). */
function readMimeHeader(lines: string[]): GoHeader {
  const header: GoHeader = new Map();
  if (lines.length > 0 && (lines[0]!.startsWith(' ') || lines[0]!.startsWith('\t'))) {
    throw badRequest(`malformed MIME header initial line: ${lines[0]}`);
  }
  let i = 0;
  while (i < lines.length) {
    const first = lines[i++]!;
    if (!first.includes(':')) throw badRequest(`malformed MIME header: missing colon: ${goQuote(first)}`);
    let kv = trimSpaceTab(first);
    // obs-fold: following lines that start with spaces or tabs continue this one, joined by one space.
    while (i < lines.length && (lines[i]!.startsWith(' ') || lines[i]!.startsWith('\t'))) {
      kv += ` ${trimSpaceTab(lines[i++]!)}`;
    }
    const colon = kv.indexOf(':');
    const key = canonicalKey(kv.slice(0, colon));
    if (key === '') continue; // Go skips an empty name
    const value = kv.slice(colon + 1).replace(/^[ \t]+/, '');
    const list = header.get(key);
    if (list === undefined) header.set(key, [value]);
    else list.push(value);
  }
  return header;
}

/** httpguts.HeaderValuesContainsToken */
export function containsToken(values: readonly string[] | undefined, token: string): boolean {
  if (values === undefined) return false;
  const t = token.toLowerCase();
  return values.some((v) => v.split(',').some((part) => trimSpaceTab(part).toLowerCase() === t));
}

/** net/http's hasToken: `token` anywhere in `v`, case-insensitively, between spaces, tabs or commas. */
function hasToken(v: string, token: string): boolean {
  const boundary = (c: string | undefined) => c === undefined || c === ' ' || c === ',' || c === '\t';
  const lower = v.toLowerCase();
  for (let at = lower.indexOf(token); at >= 0; at = lower.indexOf(token, at + 1)) {
    if (boundary(v[at - 1]) && boundary(v[at + token.length])) return true;
  }
  return false;
}

function validHeaderValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** ParseHTTPVersion */
function parseVersion(proto: string): [number, number] | undefined {
  if (proto === 'HTTP/1.1') return [1, 1];
  if (proto === 'HTTP/1.0') return [1, 0];
  const m = /^HTTP\/([0-9])\.([0-9])$/.exec(proto);
  return m === null ? undefined : [Number(m[1]), Number(m[2])];
}

/**
 * Reads the head in `buf[0, length)` (length from findHeadEnd). Throws ProxyError where Go's server
 * refuses the request before any handler runs.
 */
export function readRequestHead(buf: Buffer, length: number): GoRequest {
  const lines = headLines(buf.toString('latin1', 0, length));
  const requestLine = lines[0] ?? '';
  const sp1 = requestLine.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : requestLine.indexOf(' ', sp1 + 1);
  if (sp1 < 0 || sp2 < 0) throw badRequest(`malformed HTTP request ${goQuote(requestLine)}`);
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  const proto = requestLine.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw badRequest(`invalid method ${goQuote(method)}`);
  const version = parseVersion(proto);
  if (version === undefined) throw badRequest(`malformed HTTP version ${goQuote(proto)}`);
  const [major, minor] = version;
  const authorityOnly = method === 'CONNECT' && !target.startsWith('/');
  let url: RequestUrl;
  try {
    url = parseRequestUri(authorityOnly ? `http://${target}` : target);
  } catch (err) {
    if (err instanceof GoUrlError) throw badRequest(err.message);
    throw err;
  }
  const header = readMimeHeader(lines.slice(1, -1));
  const hosts = header.get('Host');
  if (hosts !== undefined && hosts.length > 1) throw badRequest('too many Host headers');
  const body = readTransfer(header, major, minor);
  // PRI * HTTP/2.0 is the only non-1.x request Go's HTTP/1 server takes (to hand it to an h2 upgrade).
  const isH2Preface = method === 'PRI' && major === 2 && minor === 0 && target === '*';
  if (major !== 1 && !isH2Preface) {
    throw goRefusal(505, '505 HTTP Version Not Supported: unsupported protocol version', `unsupported protocol version ${proto}`);
  }
  if (major === 1 && minor >= 1 && (hosts === undefined || hosts.length === 0) && !isH2Preface && method !== 'CONNECT') {
    throw badRequest('missing required Host header', 'missing required Host header');
  }
  if (hosts?.length === 1 && !HOST_BYTES.test(hosts[0]!)) throw badRequest('malformed Host header', 'malformed Host header');
  for (const [k, values] of header) {
    if (!TOKEN.test(k)) throw badRequest(`invalid header name ${goQuote(k)}`, 'invalid header name');
    if (!values.every(validHeaderValue)) throw badRequest(`invalid header value for ${k}`, 'invalid header value');
  }
  header.delete('Host');
  const connection = header.get('Connection');
  const close = major < 1 || containsToken(connection, 'close') || (major === 1 && minor === 0 && !containsToken(connection, 'keep-alive'));
  const expect = header.get('Expect')?.[0] ?? '';
  const expectContinue = hasToken(expect, '100-continue');
  if (!expectContinue && expect !== '') {
    throw goRefusal(417, '417 Expectation Failed', `unsupported Expect: ${goQuote(expect)}`);
  }
  return {
    method,
    target,
    major,
    minor,
    url,
    host: url.host !== '' ? url.host : (hosts?.[0] ?? ''),
    header,
    body,
    close,
    expectContinue: expectContinue && major === 1 && minor >= 1 && body.kind !== 'none',
    length,
  };
}

/** readTransfer for a request: Transfer-Encoding (ignored before HTTP/1.1), Content-Length, Trailer. */
function readTransfer(header: GoHeader, major: number, minor: number): RequestBody {
  const te = header.get('Transfer-Encoding');
  let chunked = false;
  if (te !== undefined) {
    header.delete('Transfer-Encoding');
    if (major > 1 || (major === 1 && minor >= 1)) {
      if (te.length !== 1 || te[0]!.toLowerCase() !== 'chunked') {
        throw goRefusal(501, '501 Not Implemented', `unsupported transfer encoding ${goQuote(te.join(', '))}`);
      }
      header.delete('Content-Length'); // chunked overrides a length
      chunked = true;
    }
  }
  let length = 0;
  const lengths = header.get('Content-Length');
  if (lengths !== undefined) {
    const first = trimAsciiSpace(lengths[0]!);
    if (lengths.some((l) => trimAsciiSpace(l) !== first)) throw badRequest(`conflicting Content-Length headers ${goQuote(lengths.join(', '))}`);
    header.set('Content-Length', [first]);
    if (first !== '' && !chunked) {
      if (!/^[0-9]{1,18}$/.test(first)) throw badRequest(`bad Content-Length ${goQuote(first)}`);
      length = Number(first);
      if (!Number.isSafeInteger(length)) throw badRequest(`bad Content-Length ${goQuote(first)}`);
    }
    if (first === '') header.delete('Content-Length');
  }
  const trailer = header.get('Trailer');
  if (trailer !== undefined && chunked) {
    for (const v of trailer) {
      for (const part of v.split(',')) {
        const key = canonicalKey(trimSpaceTab(part));
        if (key === 'Transfer-Encoding' || key === 'Trailer' || key === 'Content-Length') throw badRequest(`bad trailer key ${goQuote(key)}`);
      }
    }
  }
  if (chunked) return { kind: 'chunked' };
  return length > 0 ? { kind: 'length', length } : { kind: 'none' };
}
