// DNS messages: what the cache needs to know of them, read and written with dns-packet.
import * as packet from 'dns-packet';

export type Message = packet.DecodedPacket;
export type Record = packet.Answer;
/** Every record but EDNS's OPT pseudo-record, which has no TTL. */
type DataRecord = Exclude<packet.Answer, packet.OptAnswer>;
const isData = (r: Record): r is DataRecord => r.type !== 'OPT';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;
/** The largest UDP answer a client without EDNS takes (RFC 1035). */
export const classicUdpSize = 512;

/** Record types whose answers are cached; everything else is forwarded as it is. */
const cachedTypes = new Set<string>(['A', 'AAAA', 'CNAME', 'PTR', 'MX', 'SRV', 'TXT', 'NS']);

export const rcodeOf = (m: packet.Packet): number => (m.flags ?? 0) & 0xf;
export const opcodeOf = (m: packet.Packet): number => ((m.flags ?? 0) >> 11) & 0xf;

/** Parses a message; undefined when it does not parse (a client's garbage is not an exception). */
export function parse(bytes: Buffer): Message | undefined {
  try {
    return packet.decode(bytes);
  } catch {
    return undefined;
  }
}

export function encode(m: packet.Packet): Buffer {
  return packet.encode(m);
}

function optOf(m: packet.Packet): packet.OptAnswer | undefined {
  return m.additionals?.find((a): a is packet.OptAnswer => a.type === 'OPT');
}

/** The largest UDP answer the client said it takes (EDNS payload size, else 512). */
export function clientUdpSize(query: packet.Packet): number {
  const opt = optOf(query);
  return opt === undefined ? classicUdpSize : Math.max(classicUdpSize, Math.min(opt.udpPayloadSize, 65_535));
}

/**
 * The cache key of a query, or undefined when its answer is not cached: one question of a cached
 * type in class IN, a standard query, and no DNSSEC wishes (DO or CD: those answers carry signatures
 * whose validity the cache would have to keep too).
 */
export function cacheKey(query: Message): string | undefined {
  if (query.type !== 'query' || opcodeOf(query) !== 0 || query.questions?.length !== 1) return undefined;
  const q = query.questions[0]!;
  if ((q.class ?? 'IN') !== 'IN' || !cachedTypes.has(q.type)) return undefined;
  if (query.flag_cd || optOf(query)?.flag_do === true) return undefined;
  return `${q.name.toLowerCase()}/${q.type}`;
}

function soaOf(m: Message): packet.SoaAnswer | undefined {
  return m.authorities?.find((a): a is packet.SoaAnswer => a.type === 'SOA');
}

const records = (m: Message): DataRecord[] => [...(m.answers ?? []), ...(m.authorities ?? []), ...(m.additionals ?? [])].filter(isData);

/**
 * How long an upstream answer may be cached, in seconds, or undefined when it may not:
 * - a positive answer: the smallest TTL among its records;
 * - a negative answer (NXDOMAIN, or NOERROR without answers: NODATA) as RFC 2308 says: the smaller of
 *   the SOA record's TTL and its MINIMUM field; without a SOA it is not cached;
 * - anything else (SERVFAIL, REFUSED, a truncated answer) is not cached.
 */
export function cacheTtl(answer: Message): number | undefined {
  if (answer.flag_tc) return undefined;
  const rcode = rcodeOf(answer);
  const negative = rcode === RCODE.NXDOMAIN || (rcode === RCODE.NOERROR && (answer.answers?.length ?? 0) === 0);
  if (negative) {
    const soa = soaOf(answer);
    if (soa === undefined) return undefined;
    return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0, ...records(answer).map((r) => r.ttl ?? 0));
  }
  if (rcode !== RCODE.NOERROR) return undefined;
  const ttls = records(answer).map((r) => r.ttl ?? 0);
  return ttls.length === 0 ? undefined : Math.min(...ttls);
}

/**
 * The answer to `query` from a cached upstream answer, `elapsed` seconds after it was stored: the
 * client's id, question (its letter case) and EDNS size, the upstream's records with their TTLs
 * lowered by the time spent in the cache.
 */
export function answerFromCache(query: Message, cached: Message, elapsed: number): packet.Packet {
  const age = (r: Record): Record => (isData(r) ? { ...r, ttl: Math.max(0, (r.ttl ?? 0) - elapsed) } : r);
  const opt = optOf(query);
  return {
    type: 'response',
    id: query.id,
    flags: (cached.flags ?? 0) & ~packet.TRUNCATED_RESPONSE & ~packet.RECURSION_DESIRED | (query.flags ?? 0) & packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE,
    questions: query.questions,
    answers: (cached.answers ?? []).map(age),
    authorities: (cached.authorities ?? []).map(age),
    additionals: [
      ...(cached.additionals ?? []).filter(isData).map(age),
      ...(opt === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as packet.OptAnswer]),
    ],
  };
}

/** An answer with no records: SERVFAIL when no upstream answered, FORMERR for a query that makes no sense. */
export function emptyAnswer(query: Message, rcode: number): Buffer {
  return encode({
    type: 'response',
    id: query.id,
    flags: ((query.flags ?? 0) & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | (opcodeOf(query) << 11) | rcode,
    questions: query.questions ?? [],
  });
}

/**
 * The answer as it goes to a UDP client that takes at most `limit` bytes: as it is when it fits,
 * else its header and question with TC set, so the client asks again over TCP (RFC 2181 9).
 */
export function fitUdp(answer: Buffer, limit: number): Buffer {
  if (answer.length <= limit) return answer;
  const m = parse(answer);
  if (m === undefined) return answer.subarray(0, limit);
  return encode({ type: 'response', id: m.id, flags: (m.flags ?? 0) | packet.TRUNCATED_RESPONSE, questions: m.questions ?? [] });
}

/** The question as a log line shows it: "example.test A". */
export function describeQuestion(m: packet.Packet): string {
  const q = m.questions?.[0];
  return q === undefined ? '(no question)' : `${q.name} ${q.type}`;
}

/** The same message with another id (what a pass-through answer gets back). */
export function withId(bytes: Buffer, id: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeUInt16BE(id, 0);
  return out;
}
