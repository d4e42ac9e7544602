// The guest on the closed test network: qemu inside the test namespace with a virtio NIC on its tap,
// the test host (10.88.0.1) serving DNS (dnsmasq, zone "test") and a file over HTTP. Two boots of
// guest-rootfs/specs/network-job.json:
//   1. dockerd with its default bridge and iptables: eth0 from the spec, a name resolved through
//      concierge's DNS cache, a file fetched by name, siblings on the default bridge and on a
//      user-defined network, a published port;
//   2. the same spec with dockerd's bridge "none" and iptables off (the job's own network only).
// Both print how long dockerd took to answer after containerd did: what the bridge and iptables cost.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq } from '../lib/dnsmasq.js';
import { createTestNet, type TestNet } from '../lib/testnet.js';
import { bootGuest, buildGuest, initKind, sampleSpec, type Boot } from './vm.js';

const minutes = (n: number): number => n * 60_000;

/** ms from "containerd ready" to "dockerd ready" on concierge's console timeline. */
function dockerdStartMs(boot: Boot): number | undefined {
  const at = (mark: string): number | undefined => {
    const line = boot.lines.find((l) => l.text.includes(`"timeline":"${mark}"`));
    const m = line?.text.match(/"atMs":([0-9.]+)/);
    return m === undefined || m === null ? undefined : Number(m[1]);
  };
  const containerd = at('containerd ready');
  const dockerd = at('dockerd ready');
  return containerd === undefined || dockerd === undefined ? undefined : dockerd - containerd;
}

describe.skipIf(initKind !== 'concierge')('guest microVM on the test network (needs concierge init)', () => {
  let net: TestNet;
  const site = mkdtempSync(join(tmpdir(), 'guest-network-site-'));
  let withBridge: Boot;

  beforeAll(async () => {
    net = await createTestNet('guest-network');
    writeFileSync(join(site, 'hello.txt'), 'served by the test host\n');
    net.spawn('busybox', ['httpd', '-f', '-p', `${net.hostAddress}:8080`, '-h', site]);
    await startDnsmasq({ net, address: net.hostAddress, port: 53, hosts: { 'testhost.test': net.hostAddress } });
    await buildGuest();
  }, minutes(10));
  afterAll(async () => {
    await net?.remove();
    rmSync(site, { recursive: true, force: true });
  });

  const expectJobNetwork = (boot: Boot): void => {
    expect(boot.output).toMatch(/net: eth0 10\.88\.0\.2\/24 mtu 1400/);
    expect(boot.output).toMatch(/net: route default via 10\.88\.0\.1 dev eth0.*10\.99\.0\.0\/16 via 10\.88\.0\.1 dev eth0/);
    expect(boot.output).toContain('net: resolv.conf nameserver 169.254.53.53');
    expect(boot.output).toContain('net: testhost.test is 10.88.0.1');
    expect(boot.output).toContain('net: fetched served by the test host');
  };

  it('brings eth0 up from the spec; the job resolves the test host through the DNS cache and fetches a file; siblings reach the test host by name and each other by service name; the job reaches a published port', async () => {
    withBridge = await bootGuest({ spec: sampleSpec('network-job.json'), net, timeoutSeconds: 600 });
    expectJobNetwork(withBridge);
    expect(withBridge.output).toContain('net: sibling on the default bridge fetched served by the test host');
    expect(withBridge.output).toContain('net: sibling reached web by name: served by the web sibling');
    expect(withBridge.output).toContain('net: job reached the published port: served by the web sibling');
    expect(withBridge.output).toContain('net: done');
    expect(withBridge.code).toBe(0);
  }, minutes(11));

  it('runs the same job\'s own network checks with dockerd\'s bridge and iptables off, and tells what they cost at dockerd\'s start', async () => {
    const spec = sampleSpec('network-job.json');
    spec.docker = { iptables: false, bridge: 'none' };
    spec.workloads[0] = { ...spec.workloads[0], args: ['/job/network.sh'] };
    const without = await bootGuest({ spec, net, timeoutSeconds: 600 });
    expectJobNetwork(without);
    expect(without.code).toBe(0);
    const a = dockerdStartMs(withBridge);
    const b = dockerdStartMs(without);
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    process.stdout.write(`dockerd start after containerd ready (TCG): bridge+iptables ${a} ms, bridge none + iptables off ${b} ms (${(a! / b!).toFixed(2)}x)\n`);
  }, minutes(11));
});
