/**
 * Request targets and parameters read as Go's net/url reads them (Go 1.19): `ParseRequestURI` for the
 * target, `ParseQuery` for a query or a form body. Strings here are "byte strings": one char per byte
 * (latin1), so a path holding any byte a Go string can hold compares and matches byte for byte.
 */

/** What Go reports for a target or parameter it cannot read; the message is Go's own text. */
export class GoUrlError extends Error {
  override name = 'GoUrlError';
}

export interface RequestUrl {
  /** Scheme of an absolute-form target, lower-cased ('' for origin form). */
  scheme: string;
  /** Authority of an absolute-form target ('' otherwise). */
  host: string;
  /** The unescaped path, as `URL.Path` (what gorilla/mux routes on). */
  path: string;
  /** The raw query, as `URL.RawQuery`. */
  rawQuery: string;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  if (c <= 0x39) return c - 0x30;
  if (c <= 0x46) return c - 0x37;
  return c - 0x57;
}

/** Go's `unescape` in path mode (`plus` false) or query-component mode (`plus` true: '+' is a space). */
export function unescape(s: string, plus: boolean): string {
  if (!s.includes('%') && !(plus && s.includes('+'))) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= s.length || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) {
        const bad = s.slice(i, i + 3);
        throw new GoUrlError(`invalid URL escape ${goQuote(bad)}`);
      }
      out += String.fromCharCode(hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2)));
      i += 2;
    } else if (c === 0x2b && plus) out += ' ';
    else out += s[i];
  }
  return out;
}

/** strconv.Quote of a byte string, for Go's error texts (printable ASCII as is, the rest escaped). */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${s[i]}`;
    else if (c >= 0x20 && c < 0x7f) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${out}"`;
}

function hasControlByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Go's getScheme: a scheme is letters then letters, digits, '+', '-', '.' up to the first ':'. */
function splitScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
    if (letter) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return ['', raw];
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) throw new GoUrlError('missing protocol scheme');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ['', raw];
  }
  return ['', raw];
}

/**
 * Hosts of absolute-form targets this reader accepts: a reg-name or IPv4 address with an optional
 * port. Go accepts more (user info, IPv6 literals, escapes); those are refused here as malformed,
 * which is stricter than Go and never reads a target differently.
 */
const SIMPLE_AUTHORITY = /^[A-Za-z0-9._~!$&'()*+,;=-]*(?::[0-9]*)?$/;

/**
 * `url.ParseRequestURI` (Go 1.19). Throws GoUrlError where Go fails; an opaque target
 * (`scheme:rest`) reads as an empty path, as in Go.
 */
export function parseRequestUri(raw: string): RequestUrl {
  if (hasControlByte(raw)) throw new GoUrlError('net/url: invalid control character in URL');
  if (raw === '') throw new GoUrlError('empty url');
  if (raw === '*') return { scheme: '', host: '', path: '*', rawQuery: '' };
  const [rawScheme, afterScheme] = splitScheme(raw);
  const scheme = rawScheme.toLowerCase();
  let rest = afterScheme;
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0 && !(q === rest.length - 1)) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  } else if (q === rest.length - 1) {
    // Go: a single trailing '?' is ForceQuery; with more than one, the first splits.
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, host: '', path: '', rawQuery };
    throw new GoUrlError('invalid URI for request');
  }
  let host = '';
  if (scheme !== '' && rest.startsWith('//')) {
    const authority = rest.slice(2);
    const slash = authority.indexOf('/');
    host = slash < 0 ? authority : authority.slice(0, slash);
    rest = slash < 0 ? '' : authority.slice(slash);
    if (!SIMPLE_AUTHORITY.test(host)) throw new GoUrlError(`concierge: unsupported authority in request target: ${goQuote(host)}`);
  }
  return { scheme, host, path: unescape(rest, false), rawQuery };
}

/** url.Values: each key's values in order. Keys keep insertion order (Go's map has none). */
export type Values = Map<string, string[]>;

export interface ParsedQuery {
  values: Values;
  /** Go's first error (ParseQuery keeps going and returns it with the values). */
  error: string | undefined;
}

/** `url.ParseQuery` into `into`: pairs with ';' or bad escapes are dropped and the first error kept. */
export function parseQuery(query: string, into: Values = new Map()): ParsedQuery {
  let error: string | undefined;
  let rest = query;
  while (rest !== '') {
    let key: string;
    const amp = rest.indexOf('&');
    if (amp < 0) {
      key = rest;
      rest = '';
    } else {
      key = rest.slice(0, amp);
      rest = rest.slice(amp + 1);
    }
    if (key.includes(';')) {
      error = 'invalid semicolon separator in query'; // Go: this error replaces an earlier one
      continue;
    }
    if (key === '') continue;
    const eq = key.indexOf('=');
    const rawValue = eq < 0 ? '' : key.slice(eq + 1);
    const rawKey = eq < 0 ? key : key.slice(0, eq);
    let k: string;
    let v: string;
    try {
      k = unescape(rawKey, true);
      v = unescape(rawValue, true);
    } catch (err) {
      if (!(err instanceof GoUrlError)) throw err;
      error ??= err.message;
      continue;
    }
    const list = into.get(k);
    if (list === undefined) into.set(k, [v]);
    else list.push(v);
  }
  return { values: into, error };
}

/** Bytes that Go's QueryEscape and PathEscape leave as they are (unreserved). */
function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function escapeBytes(s: string, keep: (c: number) => boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (keep(c)) out += s[i];
    else out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A query component every Go reader unescapes back to `s` (spaces as %20, never '+'). */
export function escapeQueryComponent(s: string): string {
  return escapeBytes(s, isUnreserved);
}

/** A path every Go reader unescapes back to `s`: '/' stays, every other byte but unreserved is escaped. */
export function escapePath(s: string): string {
  return escapeBytes(s, (c) => isUnreserved(c) || c === 0x2f);
}

/** url.Values encoded so that `parseQuery` reads back exactly `values` (keys sorted, as Go's Encode). */
export function encodeQuery(values: Values): string {
  const parts: string[] = [];
  for (const key of [...values.keys()].sort()) {
    const k = escapeQueryComponent(key);
    for (const v of values.get(key)!) parts.push(`${k}=${escapeQueryComponent(v)}`);
  }
  return parts.join('&');
}

/** `Values.Get`: the first value or ''. */
export function firstValue(values: Values, key: string): string {
  return values.get(key)?.[0] ?? '';
}
