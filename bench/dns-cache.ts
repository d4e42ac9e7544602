// concierge's DNS cache against asking dnsmasq directly, on loopback, in one run: the latency of a
// cache hit and of a cache miss (a name never asked, so the cache forwards it) beside dnsmasq's own
// answer to the same kind of question. Rounds interleave the three so machine noise hits all alike.
// Prints p50/p99 per kind and the p50 ratios. Usage: npx tsx bench/dns-cache.ts [--queries N] [--rounds N]
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { queryBytes } from '../test/lib/dns-client.js';
import { startDnsmasq } from '../test/lib/dnsmasq.js';
import { percentile } from './lib/stats.js';

const { values } = parseArgs({ options: { queries: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '5' } } });
const perRound = Number(values.queries);
const rounds = Number(values.rounds);

/** One UDP socket, one question at a time: the round trip of each, in microseconds. */
class Client {
  private readonly socket = createSocket('udp4');
  private waiting: ((m: Buffer) => void) | undefined;
  private id = 0;
  constructor() {
    this.socket.on('message', (m: Buffer) => this.waiting?.(m));
  }
  async time(port: number, name: string): Promise<number> {
    this.id = (this.id + 1) & 0xffff;
    const query = queryBytes(name, 'A', { id: this.id });
    const answered = new Promise<Buffer>((resolve) => (this.waiting = resolve));
    const started = process.hrtime.bigint();
    this.socket.send(query, port, '127.0.0.1');
    const answer = await answered;
    const us = Number(process.hrtime.bigint() - started) / 1000;
    if (answer.readUInt16BE(0) !== this.id || (answer[3]! & 0x0f) !== 0) throw new Error(`bad answer for ${name}`);
    return us;
  }
  close(): void {
    this.socket.close();
  }
}

const dnsmasq = await startDnsmasq({ hosts: { 'hit.test': '10.0.0.1' }, wildcards: { 'miss.bench': '10.0.0.2' }, ttl: 3600 });
const cache = spawn('npx', ['tsx', new URL('./lib/dns-cache-process.ts', import.meta.url).pathname, `127.0.0.1:${dnsmasq.port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = (await once(createInterface({ input: cache.stdout }), 'line')) as [string];
const cachePort = (JSON.parse(line) as { port: number }).port;
const client = new Client();
const samples = { direct: [] as number[], hit: [] as number[], miss: [] as number[] };
let unique = 0;
try {
  // Warm both (first answers, JIT) and put the hit name in the cache.
  for (let i = 0; i < 200; i++) {
    await client.time(dnsmasq.port, 'hit.test');
    await client.time(cachePort, 'hit.test');
    await client.time(cachePort, `warm${i}.miss.bench`);
  }
  const kinds = {
    // dnsmasq answering a name from its own data, as it does for every question the cache forwards.
    direct: () => client.time(dnsmasq.port, `d${unique++}.miss.bench`),
    hit: () => client.time(cachePort, 'hit.test'),
    miss: () => client.time(cachePort, `m${unique++}.miss.bench`),
  };
  const order = Object.keys(kinds) as (keyof typeof kinds)[];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < order.length; k++) {
      const kind = order[(k + r) % order.length]!;
      for (let i = 0; i < perRound; i++) samples[kind].push(await kinds[kind]());
    }
  }
} finally {
  client.close();
  cache.kill('SIGTERM');
  await dnsmasq.stop();
}
const p50 = (s: number[]): number => percentile(s, 50);
const row = (name: string, s: number[]): string => `  ${name.padEnd(28)} p50 ${p50(s).toFixed(0).padStart(5)} µs   p99 ${percentile(s, 99).toFixed(0).padStart(5)} µs   (n=${s.length})`;
process.stdout.write([
  `DNS over UDP on loopback, ${rounds} rounds x ${perRound} questions per kind, one at a time:`,
  row('dnsmasq directly', samples.direct),
  row('concierge cache hit', samples.hit),
  row('concierge cache miss', samples.miss),
  `  ratio p50 hit/direct ${(p50(samples.hit) / p50(samples.direct)).toFixed(2)}x, miss/direct ${(p50(samples.miss) / p50(samples.direct)).toFixed(2)}x`,
  '',
].join('\n'));
