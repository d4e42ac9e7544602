/**
 * Normalizes what differs between two runs of one scenario by nature, and nothing else: the run's
 * names and paths, object ids, and clock readings. Ids are numbered by first appearance across the
 * whole outcome (a short id gets its long id's number), so the proxy swapping or mangling an id
 * still shows as a difference.
 */
export interface NormalizeOptions {
  /** Exact strings and their stand-ins (the run's names, sockets, scratch directories). */
  aliases: ReadonlyArray<readonly [string, string]>;
  /** Values kept verbatim although they look like ids (a file's sha256 the scenario checks). */
  preserve?: readonly string[];
}

const longId = /\b[0-9a-f]{64}\b/g;
const shortId = /\b[0-9a-f]{12}\b/g;
const rfc3339 = /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g;
const goTime = /\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} [A-Z]{3,5}\b/g;
const httpDate = /\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\b/g;
const relative = /\b(\d+|About an?|Less than a) (second|minute|hour)s?\b/g;

export function normalizeOutcome<T>(outcome: T, options: NormalizeOptions): T {
  const aliases = [...options.aliases].sort((a, b) => b[0].length - a[0].length);
  const preserve = options.preserve ?? [];
  const longs = new Map<string, string>();
  const shorts = new Map<string, string>();

  const prepare = (text: string) => {
    let out = text;
    for (const [from, to] of aliases) out = out.replaceAll(from, to);
    preserve.forEach((p, i) => (out = out.replaceAll(p, `<kept${i}>`)));
    return out;
  };
  // First pass: number the long ids in order of appearance, so short ids can find theirs.
  walk(outcome, (s) => {
    for (const m of prepare(s).matchAll(longId)) if (!longs.has(m[0])) longs.set(m[0], `<id${longs.size + 1}>`);
    return s;
  });
  const forShort = (short: string) => {
    for (const [long, label] of longs) if (long.startsWith(short)) return `${label.slice(0, -1)}:short>`;
    if (!shorts.has(short)) shorts.set(short, `<short${shorts.size + 1}>`);
    return shorts.get(short)!;
  };

  return walk(outcome, (s) => {
    let out = prepare(s);
    out = out.replace(rfc3339, '<time>').replace(goTime, '<time>').replace(httpDate, '<time>');
    out = out.replace(relative, '<dur>');
    out = out.replace(longId, (m) => longs.get(m) ?? m).replace(shortId, forShort);
    preserve.forEach((p, i) => (out = out.replaceAll(`<kept${i}>`, p)));
    return out;
  });
}

/** Applies `f` to every string in a JSON-like value (keys included), returning a copy. */
function walk<T>(value: T, f: (s: string) => string): T {
  if (typeof value === 'string') return f(value) as T;
  if (Array.isArray(value)) return (value as unknown[]).map((v) => walk(v, f)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [f(k), walk(v, f)])) as T;
  }
  return value;
}
