import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import { log } from '../log/logger.js';
import { AnswerCache } from './cache.js';
import { dnsCounters, type DnsCounters } from './counters.js';
import {
  RCODE, answerFromCache, cacheKey, cacheTtl, clientUdpSize, describeQuestion, emptyAnswer, encode, fitUdp, parse, type Message,
} from './message.js';
import { ask, type UpstreamServer } from './upstream.js';

export interface ResolverOptions {
  servers: UpstreamServer[];
  /** How long a question may wait for the upstream servers in all. */
  timeoutMs?: number;
  counters?: DnsCounters;
  maxEntries?: number;
  /** Milliseconds on a monotonic clock (tests move it). */
  nowMs?: () => number;
}

/** The EDNS payload size asked of upstream servers (the DNS flag day's safe size). */
const upstreamUdpSize = 1232;

/**
 * Answers DNS queries from the cache or the upstream servers. A cacheable question (cache key) that
 * misses is asked upstream once however many clients ask it meanwhile; everything else is forwarded
 * as it came. No upstream answer in time: SERVFAIL, and one log line naming the question.
 */
export class CachingResolver {
  readonly counters: DnsCounters;
  private readonly cache: AnswerCache;
  private readonly inflight = new Map<string, Promise<Message>>();
  private readonly timeoutMs: number;

  constructor(private readonly options: ResolverOptions) {
    this.counters = options.counters ?? dnsCounters;
    this.cache = new AnswerCache(options.maxEntries, options.nowMs);
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** The answer to send back, or undefined when the message is to be dropped (not a query). */
  async resolve(bytes: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const query = parse(bytes);
    if (query === undefined || query.type !== 'query') {
      this.counters.malformed++;
      return undefined;
    }
    const answer = await this.answer(query, bytes, transport);
    return transport === 'udp' ? fitUdp(answer, clientUdpSize(query)) : answer;
  }

  private async answer(query: Message, bytes: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer> {
    if ((query.questions?.length ?? 0) === 0) {
      this.counters.malformed++;
      return emptyAnswer(query, RCODE.FORMERR);
    }
    const key = cacheKey(query);
    try {
      if (key === undefined) {
        this.counters.passedThrough++;
        const forwarded = await ask(this.options.servers, bytes, { timeoutMs: this.timeoutMs, tcp: transport === 'tcp' });
        if (forwarded.overTcp) this.counters.upstreamTcp++;
        return forwarded.bytes;
      }
      const cached = this.cache.get(key);
      if (cached !== undefined) {
        this.counters.hits++;
        return encode(answerFromCache(query, cached.answer, cached.elapsedSeconds));
      }
      this.counters.misses++;
      return encode(answerFromCache(query, await this.fetch(key, query), 0));
    } catch (err) {
      this.counters.upstreamFailures++;
      log.warn({ question: describeQuestion(query), err: (err as Error).message }, `dns: no upstream answer for ${describeQuestion(query)}; answered SERVFAIL`);
      return emptyAnswer(query, RCODE.SERVFAIL);
    }
  }

  /** The upstream answer to a cacheable question, asked once for all who wait on it, and cached. */
  private fetch(key: string, query: Message): Promise<Message> {
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const question = query.questions![0]!;
    const upstreamQuery = encode({
      type: 'query',
      id: randomInt(0, 65_536),
      flags: packet.RECURSION_DESIRED,
      questions: [{ name: question.name, type: question.type, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: upstreamUdpSize, flags: 0 } as packet.OptAnswer],
    });
    const fetched = (async () => {
      const answer = await ask(this.options.servers, upstreamQuery, { timeoutMs: this.timeoutMs, tcp: false });
      if (answer.overTcp) this.counters.upstreamTcp++;
      const parsed = parse(answer.bytes);
      if (parsed === undefined) throw new Error(`upstream answer for ${describeQuestion(query)} does not parse`);
      const ttl = cacheTtl(parsed);
      if (ttl !== undefined) this.cache.set(key, parsed, ttl);
      return parsed;
    })().finally(() => this.inflight.delete(key));
    this.inflight.set(key, fetched);
    return fetched;
  }
}
