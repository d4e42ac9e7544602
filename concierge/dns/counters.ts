/**
 * What the DNS cache did, as plain counters (a metrics exporter reads them; nothing here resets them).
 * `dnsCounters` is the process's; a server given its own object (tests) counts there instead.
 */
export interface DnsCounters {
  /** Answered from the cache. */
  hits: number;
  /** Cacheable questions not in the cache (or expired): asked upstream. */
  misses: number;
  /** Questions forwarded as they were, uncached (other types, other opcodes, DNSSEC). */
  passedThrough: number;
  /** Questions no upstream server answered in time (the client got SERVFAIL). */
  upstreamFailures: number;
  /** Upstream questions asked over TCP (a truncated UDP answer, or a TCP client's pass-through). */
  upstreamTcp: number;
  /** Messages from clients that did not parse as a DNS query (dropped, or FORMERR). */
  malformed: number;
}

export const newDnsCounters = (): DnsCounters => ({ hits: 0, misses: 0, passedThrough: 0, upstreamFailures: 0, upstreamTcp: 0, malformed: 0 });

export const dnsCounters: DnsCounters = newDnsCounters();
