import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInstance, type RunningInstance } from './harness.js';

// The instance's network namespace is made first (as a VM has its NIC at boot): one end of a veth
// pair is moved into it and renamed eth0; concierge configures it from the spec over netlink.
const netns = `cnc-pid1-${process.pid}`;
const hostEnd = `cncv${process.pid % 100000}`;
const ip = (...args: string[]): string => execFileSync('ip', args).toString();

describe('PID 1 network from the spec', () => {
  let instance: RunningInstance;
  beforeAll(async () => {
    ip('netns', 'add', netns);
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', `${hostEnd}p`);
    ip('link', 'set', `${hostEnd}p`, 'netns', netns);
    ip('-n', netns, 'link', 'set', `${hostEnd}p`, 'name', 'eth0');
    instance = await startInstance({
      netns,
      spec: {
        hostname: 'pid1-net',
        network: {
          interfaces: [{
            name: 'eth0',
            addresses: ['198.51.100.10/24', 'fd00:5::10/64'],
            gateway: '198.51.100.1',
            mtu: 1400,
            routes: [{ to: '203.0.113.0/24', via: '198.51.100.254' }],
          }],
        },
        docker: { enabled: false },
      },
    });
    await instance.waitFor((l) => l.json?.timeline === 'boot steps done', 'boot steps done');
  });
  afterAll(async () => {
    await instance?.stop();
    execFileSync('ip', ['netns', 'del', netns]);
    try {
      ip('link', 'del', hostEnd);
    } catch {
      // gone with the namespace's end
    }
  });

  const inside = (...args: string[]): unknown => JSON.parse(execFileSync('ip', ['-n', netns, '-j', ...args]).toString());

  it('sets the interface up with the MTU of the spec', () => {
    const [link] = inside('link', 'show', 'eth0') as { flags: string[]; mtu: number }[];
    expect(link?.flags).toContain('UP');
    expect(link?.mtu).toBe(1400);
  });

  it('gives the interface its IPv4 and IPv6 addresses', () => {
    const [addr] = inside('addr', 'show', 'eth0') as { addr_info: { local: string; prefixlen: number }[] }[];
    expect(addr?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['198.51.100.10/24', 'fd00:5::10/64']));
  });

  it('adds the default route and the extra route', () => {
    const routes = inside('route', 'show') as { dst: string; gateway?: string; dev: string }[];
    expect(routes).toEqual(expect.arrayContaining([
      expect.objectContaining({ dst: 'default', gateway: '198.51.100.1', dev: 'eth0' }),
      expect.objectContaining({ dst: '203.0.113.0/24', gateway: '198.51.100.254', dev: 'eth0' }),
    ]));
  });

  it('brings loopback up beside it', () => {
    const [lo] = inside('link', 'show', 'lo') as { flags: string[] }[];
    expect(lo?.flags).toContain('UP');
  });
});
