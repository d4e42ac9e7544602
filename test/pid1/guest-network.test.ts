// concierge as PID 1 in a namespace whose eth0 is on the closed test network's bridge (no qemu):
// eth0 from the spec, the DNS cache on its own address, and a name of the test host resolved
// through it (dnsmasq upstream on the test host) to fetch a file from the test host's HTTP server.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq } from '../lib/dnsmasq.js';
import { createTestNet, type TestNet } from '../lib/testnet.js';
import { startInstance, type RunningInstance } from './harness.js';

describe('PID 1 on the test network: eth0, the DNS cache, a fetch by name', () => {
  let net: TestNet;
  let peer: string;
  let instance: RunningInstance;
  const site = mkdtempSync(join(tmpdir(), 'guest-network-site-'));

  beforeAll(async () => {
    net = await createTestNet('guest-network');
    peer = await net.addPeer();
    writeFileSync(join(site, 'hello.txt'), 'served by the test host\n');
    net.spawn('busybox', ['httpd', '-f', '-p', `${net.hostAddress}:8080`, '-h', site]);
    await startDnsmasq({ net, address: net.hostAddress, port: 53, hosts: { 'testhost.test': net.hostAddress } });
    instance = await startInstance({
      netns: peer,
      spec: {
        hostname: 'pid1-guest-net',
        network: {
          interfaces: [{ name: 'eth0', addresses: [`${net.guestAddress}/24`], gateway: net.hostAddress, mtu: 1400, routes: [{ to: '10.99.0.0/16', via: net.hostAddress }] }],
          dns: [net.hostAddress],
          search: ['test'],
        },
        docker: { enabled: false },
      },
    });
    await instance.waitFor((l) => l.json?.timeline === 'dns cache listening', 'dns cache listening');
  });
  afterAll(async () => {
    await instance?.stop();
    await net?.remove();
    rmSync(site, { recursive: true, force: true });
  });

  const inInstance = (...args: string[]): string =>
    execFileSync('nsenter', ['-t', String(instance.hostPid), '--net', '--mount', ...args], { timeout: 20_000 }).toString();

  it('configures eth0 with the spec\'s address, MTU, routes, and puts the DNS cache address on lo', () => {
    const eth0 = JSON.parse(inInstance('ip', '-j', 'addr', 'show', 'eth0')) as { mtu: number; flags: string[]; addr_info: { local: string; prefixlen: number }[] }[];
    expect(eth0[0]).toMatchObject({ mtu: 1400 });
    expect(eth0[0]?.flags).toContain('UP');
    expect(eth0[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain(`${net.guestAddress}/24`);
    const routes = inInstance('ip', 'route');
    expect(routes).toMatch(new RegExp(`^default via ${net.hostAddress.replaceAll('.', '\\.')} dev eth0`, 'm'));
    expect(routes).toMatch(/^10\.99\.0\.0\/16 via 10\.88\.0\.1 dev eth0/m);
    expect(inInstance('ip', '-o', 'addr', 'show', 'dev', 'lo')).toContain('inet 169.254.53.53/32');
  });

  it('points resolv.conf at the DNS cache, which answers from the test host\'s dnsmasq', () => {
    expect(readFileSync(instance.path('/etc/resolv.conf'), 'utf8')).toBe('nameserver 169.254.53.53\nsearch test\n');
    expect(inInstance('busybox', 'nslookup', 'testhost.test', '169.254.53.53')).toMatch(/Address: 10\.88\.0\.1/);
    const missing = spawnSync('nsenter', ['-t', String(instance.hostPid), '--net', '--mount', 'busybox', 'nslookup', 'missing.test', '169.254.53.53'], { encoding: 'utf8', timeout: 20_000 });
    expect(missing.stdout + missing.stderr).toMatch(/NXDOMAIN/);
  });

  it('fetches a file from the test host by name, resolved through the cache', () => {
    expect(inInstance('busybox', 'wget', '-qO-', 'http://testhost.test:8080/hello.txt')).toBe('served by the test host\n');
  });
});
