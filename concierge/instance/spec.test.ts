import { describe, expect, it } from 'vitest';
import { SpecError as InstanceSpecError, validateSpec } from './spec.js';
import { parseSpecText, specPathFromCmdline } from './spec-source.js';

describe('instance spec', () => {
  it('gives every default for an empty document', () => {
    const spec = validateSpec({});
    expect(spec.network).toEqual({ interfaces: [], dns: [], search: [] });
    expect(spec.docker).toMatchObject({ enabled: true, iptables: false, socket: '/run/concierge/dockerd.sock' });
    expect(spec.containerd.socket).toBe('/run/containerd/containerd.sock');
    expect(spec.afterWorkloads).toBe('poweroff');
    expect(spec.workloads).toEqual([]);
  });

  it('reads a full document', () => {
    const spec = validateSpec({
      hostname: 'ci-7.example',
      network: {
        interfaces: [{ name: 'eth0', addresses: ['10.0.2.15/24', 'fd00::15/64'], gateway: '10.0.2.2', mtu: 1400, routes: [{ to: '10.9.0.0/16', via: '10.0.2.3' }] }],
        dns: ['10.0.2.3'],
        search: ['example'],
      },
      sysctls: { 'net.ipv4.ip_forward': 1, 'vm.max_map_count': '262144' },
      rlimits: { nofile: 65536, core: { soft: 0, hard: 'unlimited' } },
      modules: ['overlay', 'br_netfilter'],
      mounts: [{ source: '/dev/vdb', target: '/cache', type: 'ext4', options: ['noatime'] }],
      docker: { iptables: true, bridge: 'none', env: { DOCKER_RAMDISK: 'true' } },
      shutdown: { workloadTimeoutMs: 5000 },
    });
    expect(spec.network.interfaces[0]?.addresses.map((a) => `${a.text}/${a.prefixLength}`)).toEqual(['10.0.2.15/24', 'fd00::15/64']);
    expect(spec.network.interfaces[0]?.routes[0]?.via?.text).toBe('10.0.2.3');
    expect(spec.sysctls).toEqual({ 'net.ipv4.ip_forward': '1', 'vm.max_map_count': '262144' });
    expect(spec.rlimits.nofile).toEqual({ soft: 65536n, hard: 65536n });
    expect(spec.rlimits.core).toEqual({ soft: 0n, hard: 2n ** 64n - 1n });
    expect(spec.docker).toMatchObject({ iptables: true, bridge: 'none', env: { DOCKER_RAMDISK: 'true' } });
    expect(spec.shutdown).toEqual({ workloadTimeoutMs: 5000, daemonTimeoutMs: 10000 });
  });

  it.each([
    [{ hostnme: 'x' }, /spec: unknown field "hostnme"/],
    [{ hostname: '-bad' }, /spec.hostname/],
    [{ network: { interfaces: [{ name: 'eth0', addresses: ['10.0.0.1'] }] } }, /spec.network.interfaces\[0\].addresses\[0\]: .*prefix length/],
    [{ network: { interfaces: [{ name: 'eth0', mtu: 20 }] } }, /interfaces\[0\].mtu: expected an integer from 68/],
    [{ network: { interfaces: [{ name: 'eth0', gateway: '10.0.0.1' }] } }, /gateway: no IPv4 address/],
    [{ network: { interfaces: [{ name: 'eth0' }, { name: 'eth0' }] } }, /named twice/],
    [{ sysctls: { '../../etc/x': '1' } }, /not a sysctl name/],
    [{ rlimits: { nofile: { soft: 10, hard: 5 } } }, /soft is above hard/],
    [{ mounts: [{ source: 'x', target: 'cache', type: 'ext4' }] }, /spec.mounts\[0\].target: expected an absolute path/],
    [{ afterWorkloads: 'halt' }, /afterWorkloads/],
    [{ workloads: {} }, /spec.workloads: expected an array/],
  ])('refuses %j', (input, message) => {
    expect(() => validateSpec(input)).toThrow(InstanceSpecError);
    expect(() => validateSpec(input)).toThrow(message);
  });

  it('names the origin of a bad document', () => {
    expect(() => parseSpecText('{', 'fw_cfg', '/')).toThrow(/^instance spec from fw_cfg: not JSON/);
    expect(() => parseSpecText('{"x":1}', '/etc/concierge/instance.json', '/')).toThrow(/from \/etc\/concierge\/instance.json: spec: unknown field "x"/);
  });

  it('finds concierge.spec= on a kernel command line', () => {
    expect(specPathFromCmdline('console=ttyS0 concierge.spec=/spec.json quiet\n')).toBe('/spec.json');
    expect(specPathFromCmdline('console=ttyS0')).toBeUndefined();
  });
});
