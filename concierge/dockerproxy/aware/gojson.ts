/**
 * JSON read the way dockerd reads it (Go's encoding/json), and written back without loss.
 *
 * dockerd matches object keys to struct fields case-insensitively, with two Unicode letters that fold
 * to ASCII (`ſ` U+017F to s, `K` U+212A to k), and lets the last of two matching keys win. A proxy
 * that looked fields up with JSON.parse and exact names could be walked around with `hostconfig` or
 * `Bindſ`. So bodies are parsed into a tree that keeps every key as written and every number as its
 * literal text; fields are found with Go's folding; and two keys that dockerd would see as the same
 * field are refused as ambiguous rather than guessed at.
 */

import { ProxyError } from '../errors.js';

export class JsonNumber {
  constructor(readonly literal: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** An object with its keys in order, duplicates kept (so they can be refused, not silently merged). */
export class JsonObject {
  readonly entries: Array<[string, JsonValue]> = [];

  /** The entry for a Go struct field, matched as encoding/json matches it. Throws if two keys match. */
  field(name: string): JsonValue | undefined {
    const index = this.fieldIndex(name);
    return index < 0 ? undefined : this.entries[index]![1];
  }

  fieldIndex(name: string): number {
    const matches = this.folded().get(foldKey(name));
    if (matches === undefined) return -1;
    if (matches.length > 1) {
      const [a, b] = matches as [number, number];
      throw new AmbiguousJsonError(`the field ${name} is given twice (as ${JSON.stringify(this.entries[a]![0])} and ${JSON.stringify(this.entries[b]![0])})`);
    }
    return matches[0]!;
  }

  /** Folded key -> entry indexes, built once per object state (a create body is looked up ~30 times). */
  private foldedIndex: Map<string, number[]> | undefined;

  private folded(): Map<string, number[]> {
    if (this.foldedIndex === undefined) {
      this.foldedIndex = new Map();
      this.entries.forEach(([key], i) => {
        const k = foldKey(key);
        const list = this.foldedIndex!.get(k);
        if (list === undefined) this.foldedIndex!.set(k, [i]);
        else list.push(i);
      });
    }
    return this.foldedIndex;
  }

  /** Call after changing `entries` directly. */
  changed(): void {
    this.foldedIndex = undefined;
  }

  /** Replaces the value of a struct field, keeping the key as the client wrote it, or adds it. */
  setField(name: string, value: JsonValue): void {
    const index = this.fieldIndex(name);
    if (index >= 0) this.entries[index]![1] = value;
    else {
      this.entries.push([name, value]);
      this.changed();
    }
  }

  deleteField(name: string): void {
    const index = this.fieldIndex(name);
    if (index >= 0) {
      this.entries.splice(index, 1);
      this.changed();
    }
  }

  /** A map-typed value's entry (Go maps match keys exactly). */
  get(key: string): JsonValue | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  set(key: string, value: JsonValue): void {
    for (const entry of this.entries) {
      if (entry[0] === key) {
        entry[1] = value;
        return;
      }
    }
    this.entries.push([key, value]);
    this.changed();
  }

  keys(): string[] {
    return this.entries.map(([k]) => k);
  }
}

/** A body dockerd could read as two different requests: refused with 400. */
export class AmbiguousJsonError extends ProxyError {
  override name = 'AmbiguousJsonError';
  constructor(message: string) {
    super(400, `concierge: ambiguous request body: ${message}`);
  }
}

/** A body that is not JSON: refused with 400. */
export class JsonSyntaxError extends ProxyError {
  override name = 'JsonSyntaxError';
  constructor(message: string) {
    super(400, `concierge: ${message}`);
  }
}

/** The key as Go's encoding/json compares it with an ASCII field name. */
export function foldKey(key: string): string {
  let out = '';
  for (const ch of key) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x41 && c <= 0x5a) out += String.fromCharCode(c + 32);
    else if (c === 0x17f) out += 's';
    else if (c === 0x212a) out += 'k';
    else out += ch;
  }
  return out;
}

/**
 * Parses JSON text. Objects keep duplicate keys; an exact duplicate anywhere is refused, because Go
 * merges duplicate objects into one struct and which parts survive depends on the target type.
 */
export function parseJson(text: string): JsonValue {
  const parser = new Parser(text);
  parser.skipSpace();
  const value = parser.value(0);
  parser.skipSpace();
  if (parser.pos !== text.length) parser.fail('unexpected data after the JSON value');
  return value;
}

const MAX_DEPTH = 200;

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(message: string): never {
    throw new JsonSyntaxError(`invalid JSON at offset ${this.pos}: ${message}`);
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(c === undefined ? 'unexpected end' : `unexpected character ${JSON.stringify(c)}`);
    }
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return value;
  }

  private number(): JsonNumber {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.pos;
    const match = m.exec(this.text);
    if (match === null) this.fail('malformed number');
    this.pos += match[0].length;
    return new JsonNumber(match[0]);
  }

  private string(): string {
    const t = this.text;
    let pos = this.pos + 1;
    let out = '';
    let runStart = pos;
    for (;;) {
      if (pos >= t.length) {
        this.pos = pos;
        this.fail('unterminated string');
      }
      const c = t.charCodeAt(pos);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = pos;
        this.fail('control character in string');
      }
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += t.slice(runStart, pos);
      const e = t[pos + 1];
      pos += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = t.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = pos;
            this.fail('malformed \\u escape');
          }
          // Lone surrogates become U+FFFD, as Go decodes them.
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          this.pos = pos;
          this.fail('malformed escape');
      }
      runStart = pos;
    }
    out += t.slice(runStart, pos);
    this.pos = pos + 1;
    return out.toWellFormed();
  }

  private array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected , or ]');
    }
  }

  private object(depth: number): JsonObject {
    this.pos++;
    const out = new JsonObject();
    const seen = new Set<string>();
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      if (seen.has(key)) throw new AmbiguousJsonError(`the key ${JSON.stringify(key)} is given twice`);
      seen.add(key);
      this.skipSpace();
      if (this.text[this.pos++] !== ':') this.fail('expected :');
      this.skipSpace();
      out.entries.push([key, this.value(depth + 1)]);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected , or }');
    }
  }
}

/** Writes a tree back as JSON; numbers keep their literal text, so 2^63-1 stays exact. */
export function stringifyJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof JsonNumber) return value.literal;
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(',')}]`;
  return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${stringifyJson(v)}`).join(',')}}`;
}

/** Builds a tree from a plain JS value (for objects the proxy adds, such as labels). */
export function fromPlain(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return new JsonNumber(String(value));
  if (Array.isArray(value)) return value.map(fromPlain);
  const out = new JsonObject();
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out.entries.push([k, fromPlain(v)]);
  return out;
}

/** A value as a refusal message shows it: a string as it is, anything else as its JSON text. */
export function showJson(v: JsonValue | undefined): string {
  if (v === undefined) return 'undefined';
  return typeof v === 'string' ? v : stringifyJson(v);
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof JsonObject;
}

export function isString(v: JsonValue | undefined): v is string {
  return typeof v === 'string';
}
