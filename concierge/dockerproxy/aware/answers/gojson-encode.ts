import { isObject, JsonNumber, type JsonValue } from '../gojson.js';

/**
 * Encodes a tree as dockerd's `WriteJSON` does (Go's encoder with HTML escaping off): compact, keys in
 * the order they came, `\n`, `\r`, `\t` and `"`/`\\` escaped short, other control characters and
 * U+2028/U+2029 as `\u00XX`, numbers as their literal text, and a trailing newline.
 */
export function encodeGoJson(value: JsonValue): string {
  return `${encode(value)}\n`;
}

function encode(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return goString(value);
  if (value instanceof JsonNumber) return value.literal;
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (!isObject(value)) return 'null';
  return `{${value.entries.map(([k, v]) => `${goString(k)}:${encode(v)}`).join(',')}}`;
}

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function goString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f\u2028\u2029]/g, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}
