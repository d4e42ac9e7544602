// concierge's DNS cache on loopback with dnsmasq as its upstream: hits and misses, TTLs counted down
// and expiring, negative answers cached for the SOA's time (RFC 2308), TCP when an answer is
// truncated, SERVFAIL when the upstream is silent, other types passed through. The cache's clock is
// the test's, so expiry needs no waiting.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { newDnsCounters, type DnsCounters } from '../../concierge/dns/counters.js';
import { CachingResolver } from '../../concierge/dns/resolver.js';
import { listenDns, type DnsServer } from '../../concierge/dns/server.js';
import { log } from '../../concierge/log/logger.js';
import { ask } from '../lib/dns-client.js';
import { startDnsmasq, type Dnsmasq } from '../lib/dnsmasq.js';

const big = Array.from({ length: 8 }, (_, i) => String.fromCharCode(97 + i).repeat(200));

describe('DNS cache (dnsmasq upstream on loopback)', () => {
  let upstream: Dnsmasq;
  let counters: DnsCounters;
  let now: number;
  let cache: DnsServer;

  beforeAll(async () => {
    upstream = await startDnsmasq({ hosts: { 'host.test': '10.88.0.1', 'other.test': '10.88.0.7' }, txt: { 'big.test': big }, ttl: 30 });
  });
  afterAll(async () => upstream.stop());

  beforeEach(async () => {
    counters = newDnsCounters();
    now = 1_000_000;
    const resolver = new CachingResolver({ servers: [upstream], counters, nowMs: () => now, timeoutMs: 2000 });
    cache = await listenDns(resolver, '127.0.0.1', 0);
    return () => cache.close();
  });

  const upstreamQueries = (name: string): number => upstream.queries().filter((l) => l.includes(` ${name} `)).length;

  it('answers a miss from upstream, then from the cache with TTLs counted down, then asks again once they expire', async () => {
    const before = upstreamQueries('host.test');
    const miss = await ask(cache, 'host.test', 'A');
    expect(miss.rcode).toBe('NOERROR');
    expect(miss.answers).toMatchObject([{ name: 'host.test', type: 'A', data: '10.88.0.1', ttl: 30 }]);
    now += 12_000;
    const hit = await ask(cache, 'HOST.test', 'A', { id: 99 });
    expect(hit.id).toBe(99);
    expect(hit.questions?.[0]?.name).toBe('HOST.test');
    expect(hit.answers).toMatchObject([{ type: 'A', data: '10.88.0.1', ttl: 18 }]);
    expect(hit.flag_ra).toBe(true);
    expect(upstreamQueries('host.test')).toBe(before + 1);
    now += 18_000;
    const expired = await ask(cache, 'host.test', 'A');
    expect(expired.answers).toMatchObject([{ data: '10.88.0.1', ttl: 30 }]);
    expect(upstreamQueries('host.test')).toBe(before + 2);
    expect(counters).toMatchObject({ hits: 1, misses: 2, upstreamFailures: 0 });
  });

  it('caches NXDOMAIN and NODATA for the SOA\'s time (RFC 2308) and counts their TTLs down too', async () => {
    const before = upstreamQueries('missing.test');
    const first = await ask(cache, 'missing.test', 'A');
    expect(first.rcode).toBe('NXDOMAIN');
    expect(first.authorities).toMatchObject([{ type: 'SOA', ttl: 30 }]);
    now += 10_000;
    const cached = await ask(cache, 'missing.test', 'A');
    expect(cached.rcode).toBe('NXDOMAIN');
    expect(cached.authorities).toMatchObject([{ type: 'SOA', ttl: 20 }]);
    expect(upstreamQueries('missing.test')).toBe(before + 1);
    const noData = await ask(cache, 'host.test', 'AAAA');
    expect(noData.rcode).toBe('NOERROR');
    expect(noData.answers).toEqual([]);
    await ask(cache, 'host.test', 'AAAA');
    now += 30_000;
    expect((await ask(cache, 'missing.test', 'A')).rcode).toBe('NXDOMAIN');
    expect(upstreamQueries('missing.test')).toBe(before + 2);
    expect(counters).toMatchObject({ hits: 2, misses: 3 });
  });

  it('asks upstream over TCP when its UDP answer is truncated, and tells a small UDP client to come back over TCP', async () => {
    const full = await ask(cache, 'big.test', 'TXT', { edns: 4096 });
    expect(full.flag_tc).toBe(false);
    expect(full.answers).toHaveLength(big.length);
    expect(full.size).toBeGreaterThan(1232);
    expect(counters.upstreamTcp).toBe(1);
    const small = await ask(cache, 'big.test', 'TXT');
    expect(small.flag_tc).toBe(true);
    expect(small.answers).toEqual([]);
    const overTcp = await ask(cache, 'big.test', 'TXT', { tcp: true });
    expect(overTcp.answers).toHaveLength(big.length);
    expect(counters).toMatchObject({ misses: 1, hits: 2, upstreamTcp: 1 });
  });

  it('passes other types through uncached, over UDP and TCP', async () => {
    const before = upstreamQueries('test');
    const soa = await ask(cache, 'test', 'SOA');
    expect(soa.answers).toMatchObject([{ type: 'SOA', data: { mname: 'ns.test' } }]);
    await ask(cache, 'test', 'SOA', { tcp: true });
    expect(upstreamQueries('test')).toBe(before + 2);
    expect(counters).toMatchObject({ passedThrough: 2, hits: 0, misses: 0, upstreamTcp: 1 });
  });

  it('answers SERVFAIL with one clear log line when no upstream answers in time', async () => {
    const silent: UdpSocket = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const resolver = new CachingResolver({ servers: [{ address: '127.0.0.1', port: silent.address().port }], counters, timeoutMs: 300 });
    const lonely = await listenDns(resolver, '127.0.0.1', 0);
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    try {
      const answer = await ask(lonely, 'host.test', 'A');
      expect(answer.rcode).toBe('SERVFAIL');
      expect(counters.upstreamFailures).toBe(1);
      expect(warn).toHaveBeenCalledTimes(1);
      const [fields, message] = warn.mock.calls[0] as unknown as [{ err: string }, string];
      expect(message).toBe('dns: no upstream answer for host.test A; answered SERVFAIL');
      expect(fields.err).toMatch(/no UDP answer from 127\.0\.0\.1:\d+ within 300 ms/);
    } finally {
      warn.mockRestore();
      silent.close();
      await lonely.close();
    }
  });

  it('asks upstream once for a question many clients ask at the same time', async () => {
    const before = upstreamQueries('other.test');
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask(cache, 'other.test', 'A')));
    expect(answers.every((a) => JSON.stringify(a.answers).includes('"10.88.0.7"'))).toBe(true);
    expect(upstreamQueries('other.test')).toBe(before + 1);
  });
});
