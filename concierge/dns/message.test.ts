import * as packet from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { cacheKey, cacheTtl, fitUdp, parse, type Message } from './message.js';

const soa = (ttl: number, minimum: number): packet.Answer => ({
  type: 'SOA', name: 'test', ttl,
  data: { mname: 'ns.test', rname: 'hostmaster.test', serial: 1, refresh: 1200, retry: 180, expire: 1209600, minimum },
});
const message = (p: packet.Packet): Message => parse(packet.encode(p))!;
const response = (rcode: number, answers: packet.Answer[], authorities: packet.Answer[] = [], flags = 0): Message =>
  message({ type: 'response', id: 1, flags: rcode | flags, questions: [{ name: 'a.test', type: 'A' }], answers, authorities });
const query = (p: Partial<packet.Packet> = {}): Message => message({ type: 'query', id: 1, questions: [{ name: 'A.Test', type: 'A' }], ...p });

describe('DNS cache rules', () => {
  it('keeps a positive answer for its smallest TTL', () => {
    expect(cacheTtl(response(0, [{ type: 'A', name: 'a.test', ttl: 300, data: '10.0.0.1' }, { type: 'A', name: 'a.test', ttl: 60, data: '10.0.0.2' }]))).toBe(60);
  });

  it('keeps a negative answer for the smaller of the SOA\'s TTL and MINIMUM (RFC 2308), and not at all without a SOA', () => {
    expect(cacheTtl(response(3, [], [soa(900, 60)]))).toBe(60);
    expect(cacheTtl(response(3, [], [soa(45, 3600)]))).toBe(45);
    expect(cacheTtl(response(0, [], [soa(900, 120)]))).toBe(120);
    expect(cacheTtl(response(3, []))).toBeUndefined();
    expect(cacheTtl(response(0, []))).toBeUndefined();
  });

  it('never keeps SERVFAIL, REFUSED or a truncated answer', () => {
    expect(cacheTtl(response(2, [], [soa(900, 60)]))).toBeUndefined();
    expect(cacheTtl(response(5, []))).toBeUndefined();
    expect(cacheTtl(response(0, [{ type: 'A', name: 'a.test', ttl: 60, data: '10.0.0.1' }], [], packet.TRUNCATED_RESPONSE))).toBeUndefined();
  });

  it('caches one IN question of an ordinary type, keyed without letter case; DNSSEC and other types pass through', () => {
    expect(cacheKey(query())).toBe('a.test/A');
    expect(cacheKey(query({ questions: [{ name: 'a.test', type: 'SOA' }] }))).toBeUndefined();
    expect(cacheKey(query({ questions: [{ name: 'a.test', type: 'A', class: 'CH' }] }))).toBeUndefined();
    expect(cacheKey(query({ questions: [{ name: 'a.test', type: 'A' }, { name: 'b.test', type: 'A' }] }))).toBeUndefined();
    expect(cacheKey(query({ flags: packet.CHECKING_DISABLED }))).toBeUndefined();
    expect(cacheKey(query({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: packet.DNSSEC_OK } as packet.OptAnswer] }))).toBeUndefined();
  });

  it('sends a UDP client an answer too big for it as its question with TC set', () => {
    const big = packet.encode({ type: 'response', id: 7, questions: [{ name: 'a.test', type: 'TXT' }], answers: [{ type: 'TXT', name: 'a.test', ttl: 1, data: ['x'.repeat(200), 'y'.repeat(200), 'z'.repeat(200)] }] });
    expect(fitUdp(big, 4096)).toBe(big);
    const cut = parse(fitUdp(big, 512))!;
    expect(cut).toMatchObject({ id: 7, flag_tc: true, answers: [] });
    expect(cut.questions).toEqual([{ name: 'a.test', type: 'TXT', class: 'IN' }]);
  });
});
