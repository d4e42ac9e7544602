import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AmbiguousJsonError,
  foldKey,
  isObject,
  JsonNumber,
  JsonObject,
  JsonSyntaxError,
  type JsonValue,
  parseJson,
  stringifyJson,
} from './gojson.js';

/**
 * The decoder must find fields exactly where dockerd (Go's encoding/json) finds them: a field the
 * proxy misses is a field dockerd acts on untranslated. These properties pin Go's rules.
 */

/** Docker API field names the translation looks up (a sample with s and k in them, where the folds bite). */
const FIELD_NAMES = ['HostConfig', 'Binds', 'Mounts', 'Source', 'Type', 'VolumesFrom', 'DriverOpts', 'Links', 'NetworkMode', 'Privileged', 'CapAdd', 'Sysctls', 'Labels', 'Options', 'Mask'];

/** Every spelling Go's decoder maps to `name`: each letter in either case, s as ſ (U+017F), k as K (U+212A). */
function goSpelling(name: string): fc.Arbitrary<string> {
  const letters = [...name].map((ch) => {
    const lower = ch.toLowerCase();
    const forms = [lower, ch.toUpperCase()];
    if (lower === 's') forms.push('\u017f');
    if (lower === 'k') forms.push('\u212a');
    return fc.constantFrom(...forms);
  });
  return fc.tuple(...letters).map((parts) => parts.join(''));
}

const fieldAndSpelling = fc.constantFrom(...FIELD_NAMES).chain((name) => goSpelling(name).map((spelling) => ({ name, spelling })));

/** Escapes some characters of a key as \uXXXX (UTF-16 units, as JSON writes them). */
function escapeSome(key: string, mask: boolean[]): string {
  let out = '';
  let i = 0;
  for (const unit of key.split('')) {
    const code = unit.charCodeAt(0);
    out += mask[i++ % mask.length] ? `\\u${code.toString(16).padStart(4, '0')}` : JSON.stringify(unit).slice(1, -1);
  }
  return out;
}

/** A parsed tree as a plain value, for comparison with JSON.parse (numbers through Number()). */
function toPlain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return Number(v.literal);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof JsonObject) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v.entries) Object.defineProperty(out, k, { value: toPlain(val), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

describe('key folding as Go matches struct fields', () => {
  it('finds a field under any case, ſ and K spelling', () => {
    fc.assert(
      fc.property(fieldAndSpelling, ({ name, spelling }) => {
        const tree = parseJson(`{${JSON.stringify(spelling)}:["x"],"Other":1}`);
        expect(isObject(tree)).toBe(true);
        expect((tree as JsonObject).field(name)).toEqual(['x']);
        expect(foldKey(spelling)).toBe(name.toLowerCase());
      }),
    );
  });

  it('the hand-picked forms: hoſtconfig, Bindſ, BINDS, linKs', () => {
    const tree = parseJson('{"hoſtconfig":{"Bindſ":["/a:/b"]},"linKs":[]}') as JsonObject;
    const hc = tree.field('HostConfig') as JsonObject;
    expect(hc.field('Binds')).toEqual(['/a:/b']);
    expect(tree.field('Links')).toEqual([]);
    expect((parseJson('{"BINDS":[]}') as JsonObject).field('Binds')).toEqual([]);
  });

  it('matches no other Unicode look-alike (Go folds only ſ and K onto ASCII)', () => {
    // Dotless ı, dotted İ, the Kelvin-like Greek kappa and the long-s ligature ﬅ are not s/i/k to Go.
    for (const key of ['Bınds', 'Bİnds', 'Linκs', 'Bind\u017f\u017f', 'Bin\ufb05']) {
      expect((parseJson(`{${JSON.stringify(key)}:[]}`) as JsonObject).field('Binds'), key).toBeUndefined();
    }
  });

  it('refuses a field named twice under different spellings when it is looked up', () => {
    const twoSpellings = fc.constantFrom(...FIELD_NAMES).chain((name) => fc.tuple(fc.constant(name), goSpelling(name), goSpelling(name)));
    fc.assert(
      fc.property(twoSpellings, ([name, first, second]) => {
        fc.pre(first !== second); // an exact duplicate is refused by the parser itself (below)
        const tree = parseJson(`{${JSON.stringify(first)}:1,"Unrelated":0,${JSON.stringify(second)}:2}`) as JsonObject;
        expect(() => tree.field(name)).toThrow(AmbiguousJsonError);
      }),
    );
  });

  it('setField keeps the key the client wrote (dockerd reads the rewritten value under it)', () => {
    const tree = parseJson('{"bindſ":["/x:/y"]}') as JsonObject;
    tree.setField('Binds', ['/staged:/y']);
    expect(stringifyJson(tree)).toBe('{"bindſ":["/staged:/y"]}');
  });
});

describe('duplicate keys', () => {
  it('refuses an exact duplicate at any depth', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 4 }), (key, depth) => {
        let text = `{${JSON.stringify(key)}:1,${JSON.stringify(key)}:2}`;
        for (let i = 0; i < depth; i++) text = i % 2 === 0 ? `[0,${text}]` : `{"level${i}":${text}}`;
        expect(() => parseJson(text)).toThrow(AmbiguousJsonError);
      }),
    );
  });

  it('refuses duplicates spelled with \\u escapes (they name the same key)', () => {
    expect(() => parseJson('{"Binds":[],"\\u0042inds":["/etc:/x"]}')).toThrow(AmbiguousJsonError);
    expect(() => parseJson('{"HostConfig":{},"\\u0048ost\\u0043onfig":{}}')).toThrow(AmbiguousJsonError);
  });
});

describe('\\u escapes in keys', () => {
  it('decode to the same key and the same field', () => {
    fc.assert(
      fc.property(fieldAndSpelling, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), ({ name, spelling }, mask) => {
        const tree = parseJson(`{"${escapeSome(spelling, mask)}":"v"}`) as JsonObject;
        expect(tree.keys()).toEqual([spelling]);
        expect(tree.field(name)).toBe('v');
      }),
    );
  });

  it('decode any string as JSON.parse does (well-formed strings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 16 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), (s, mask) => {
        expect(parseJson(`"${escapeSome(s, mask)}"`)).toBe(s);
      }),
    );
  });

  it('turn a lone surrogate into U+FFFD, as Go does', () => {
    expect(parseJson('"\\ud800x"')).toBe('\ufffdx');
    expect(parseJson('"\\udc00"')).toBe('\ufffd');
    expect(parseJson('"\\ud83d\\ude00"')).toBe('😀');
  });
});

describe('numbers', () => {
  it('keep big integers exact through parse and stringify', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }), (n) => {
        const text = `{"Memory":${n},"list":[${n}]}`;
        expect(stringifyJson(parseJson(text))).toBe(text);
      }),
    );
    for (const literal of ['9223372036854775807', '-9223372036854775808', '18446744073709551615']) {
      expect(stringifyJson(parseJson(`[${literal}]`))).toBe(`[${literal}]`);
    }
  });

  it('keep -0.0, 1e400, tiny and exponent forms as written', () => {
    for (const literal of ['-0.0', '-0', '1e400', '-1E+400', '1e-400', '0.10000000000000000000001', '1.5e3', '2E-7', '0']) {
      expect(stringifyJson(parseJson(`{"n":${literal}}`))).toBe(`{"n":${literal}}`);
    }
  });

  it('keep any grammatical number literal as written', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 30 });
    const literal = fc
      .tuple(fc.boolean(), digits, fc.option(digits), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits)))
      .map(([neg, int, frac, exp]) => {
        const i = int.replace(/^0+(?=\d)/, '');
        return `${neg ? '-' : ''}${i}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`;
      });
    fc.assert(
      fc.property(literal, (lit) => {
        expect(stringifyJson(parseJson(`[${lit}]`))).toBe(`[${lit}]`);
      }),
    );
  });

  it('refuses what the JSON grammar refuses', () => {
    for (const bad of ['01', '1.', '.5', '+1', '-', '1e', '0x10', 'NaN', 'Infinity', '-Infinity', '1_000']) {
      expect(() => parseJson(`[${bad}]`), bad).toThrow(JsonSyntaxError);
    }
  });
});

describe('whole documents', () => {
  it('random JSON parses to what JSON.parse gives, and round-trips', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 5 }), (text) => {
        const tree = parseJson(text);
        expect(toPlain(tree)).toStrictEqual(JSON.parse(text));
        expect(JSON.parse(stringifyJson(tree))).toStrictEqual(JSON.parse(text));
      }),
    );
  });

  it('random JSON with random whitespace parses the same', () => {
    const ws = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.array(ws, { minLength: 1, maxLength: 10 }), (value, spaces) => {
        let n = 0;
        const text = JSON.stringify(value, null, 1).replace(/\n */g, () => spaces[n++ % spaces.length]!);
        expect(toPlain(parseJson(text))).toStrictEqual(JSON.parse(text));
      }),
    );
  });

  it('accepts exactly what JSON.parse accepts (over a JSON-ish alphabet, duplicates aside)', () => {
    const jsonish = fc.string({ unit: fc.constantFrom(...'{}[]:,"\\ 0123-.eE+tfrunlasbu'.split('')), maxLength: 14 });
    fc.assert(
      fc.property(jsonish, (text) => {
        let expected = true;
        try {
          JSON.parse(text);
        } catch {
          expected = false;
        }
        let got = true;
        try {
          parseJson(text);
        } catch (err) {
          if (err instanceof AmbiguousJsonError) return;
          expect(err).toBeInstanceOf(JsonSyntaxError);
          got = false;
        }
        expect(got, text).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses trailing data, control characters in strings, and bottomless nesting', () => {
    for (const bad of ['{} {}', '{"a":1}x', '"a\u0001"', '["a\nb"]', '{"a" 1}', '{a:1}', "{'a':1}", '[1,]', '{"a":1,}']) {
      expect(() => parseJson(bad), JSON.stringify(bad)).toThrow(JsonSyntaxError);
    }
    expect(() => parseJson('['.repeat(10_000) + ']'.repeat(10_000))).toThrow(JsonSyntaxError);
  });
});
