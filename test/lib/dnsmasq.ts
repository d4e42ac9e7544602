// dnsmasq (Debian's dnsmasq-base) as the test host's DNS server: authoritative for one zone (so
// negative answers carry a SOA, as RFC 2308 caching needs), nothing else, no upstream of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { ask } from './dns-client.js';
import type { TestNet } from './testnet.js';

export interface DnsmasqOptions {
  /** Where it listens (default 127.0.0.1); inside `net` when given. */
  address?: string;
  /** Default: a UDP port free on loopback now. */
  port?: number;
  /** The zone it answers for (default "test"). */
  zone?: string;
  /** name -> IPv4 address, in the zone. */
  hosts: Record<string, string>;
  /** domain -> IPv4 address answered for the domain and every name under it (outside the zone). */
  wildcards?: Record<string, string>;
  /** name -> TXT strings (several make a large answer). */
  txt?: Record<string, string[]>;
  /** TTL of every answer and of the SOA (its MINIMUM too): seconds. */
  ttl?: number;
  /** Run inside the test network's namespace. */
  net?: TestNet;
}

export interface Dnsmasq {
  address: string;
  port: number;
  /** Questions dnsmasq logged (one "auth[...]" or "query[...]" line each). */
  queries(): string[];
  stop(): Promise<void>;
}

export async function startDnsmasq(options: DnsmasqOptions): Promise<Dnsmasq> {
  const address = options.address ?? '127.0.0.1';
  const zone = options.zone ?? 'test';
  const ttl = options.ttl ?? 30;
  const port = options.port ?? await freeUdpPort();
  const args = [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-daemon', '--conf-file=/dev/null', '--log-queries', '--log-facility=-',
    `--port=${port}`, `--listen-address=${address}`, '--bind-interfaces', '--user=root', '--pid-file=',
    `--auth-server=ns.${zone},${address}`, `--auth-zone=${zone}`, `--auth-ttl=${ttl}`, `--local-ttl=${ttl}`,
    `--auth-soa=1,hostmaster.${zone},1200,180,1209600`, '--edns-packet-max=1232',
    ...Object.entries(options.hosts).map(([name, ip]) => `--host-record=${name},${ip}`),
    ...Object.entries(options.wildcards ?? {}).map(([domain, ip]) => `--address=/${domain}/${ip}`),
    ...Object.entries(options.txt ?? {}).flatMap(([name, texts]) => texts.map((t) => `--txt-record=${name},${t}`)),
  ];
  const child: ChildProcess = options.net === undefined
    ? spawn('dnsmasq', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : options.net.spawn('dnsmasq', args);
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const stop = (): Promise<void> => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  const firstHost = Object.keys(options.hosts)[0];
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited at start: ${log}`);
    if (options.net !== undefined || firstHost === undefined) {
      // Not reachable from here (its own namespace): give it the time to bind.
      if (i >= 5) break;
    } else if (await ask({ address, port }, firstHost, 'A', { timeoutMs: 200 }).then(() => true, () => false)) break;
    if (i >= 50) {
      await stop();
      throw new Error(`dnsmasq did not answer on ${address}:${port}: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    port,
    queries: () => log.split('\n').filter((l) => /(query|auth)\[/.test(l)),
    stop,
  };
}

/** A UDP port nothing uses on loopback right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
