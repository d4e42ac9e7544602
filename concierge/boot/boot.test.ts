// The boot's step order, with every step's system work replaced by a stand-in that records what it
// was asked and, like the kernel, makes a NIC exist only once its driver module is loaded.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { validateSpec } from '../instance/spec.js';
import { done, type StepResult } from './step.js';
import { Timeline } from './timeline.js';

const calls: string[] = [];
const links = new Set(['lo']);
const record = (what: string): StepResult => {
  calls.push(what);
  return done(what);
};

vi.mock('./mounts.js', () => ({
  mountBase: () => record('mounts'),
  makeRootShared: () => record('root rshared'),
  mountExtra: () => record('extra mounts'),
}));
vi.mock('./cgroup.js', () => ({ setUpCgroups: () => record('cgroups') }));
vi.mock('./sysctl.js', () => ({
  dockerSysctls: () => ({}),
  applySysctls: () => ({ result: record('sysctls'), missing: {} }),
}));
vi.mock('./rlimits.js', () => ({ applyRlimits: () => record('rlimits'), defaultRlimits: () => ({}) }));
vi.mock('./hostname.js', () => ({ applyHostname: () => record('hostname') }));
vi.mock('./resolv.js', () => ({ applyResolvConf: () => record('resolv.conf') }));
vi.mock('./modules.js', () => ({
  loadModules: (names: string[]) => {
    if (names.includes('virtio_net')) links.add('eth0');
    return record(`modules ${names.join(' ')}`);
  },
}));
vi.mock('./network.js', () => ({
  withDnsCacheAddress: (spec: { network: { interfaces: unknown[] } }) => spec.network.interfaces,
  configureNetwork: (interfaces: { name: string }[]) => {
    for (const i of interfaces) if (!links.has(i.name)) throw new Error(`network interface ${i.name} (named in the spec) does not exist`);
    return record('network');
  },
}));
vi.mock('../instance/spec-source.js', () => ({
  findSpec: () => ({
    origin: 'test',
    spec: validateSpec({
      modules: ['virtio_pci', 'virtio_net'],
      network: { interfaces: [{ name: 'eth0', addresses: ['10.0.2.15/24'], gateway: '10.0.2.2' }], dns: ['10.0.2.3'] },
    }),
  }),
}));

const { boot } = await import('./boot.js');

describe('boot step order', () => {
  beforeEach(() => {
    calls.length = 0;
    links.clear();
    links.add('lo');
  });

  it('loads the spec\'s modules before configuring the network, so a NIC whose driver is a module is configured', () => {
    const timeline = new Timeline();
    vi.spyOn(timeline, 'mark').mockImplementation(() => undefined);
    expect(() => boot(timeline, undefined)).not.toThrow();
    expect(calls).toEqual([
      'mounts', 'root rshared', 'cgroups', 'sysctls', 'rlimits', 'hostname',
      'modules virtio_pci virtio_net', 'network', 'resolv.conf', 'extra mounts',
    ]);
  });
});
