import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWorkloadSpec } from '../instance/spec-workloads.js';
import { bindShares, filesShare } from './bind-shares.js';
import { guestRootfsOf, guestShare, guestSpec, readBundleConfig, readProcess } from './oci-bundle.js';
import { parseShimFlags } from './shim-flags.js';

describe('shim command line', () => {
  it('reads containerd 1.6\'s start and delete command lines (Go flag syntax), the bundle defaulting to the working directory', () => {
    expect(parseShimFlags(['-namespace', 'default', '-address', '/run/c.sock', '-publish-binary', '/usr/bin/containerd', '-id', 't1', '-debug', 'start'], '/b'))
      .toEqual({ namespace: 'default', address: '/run/c.sock', publishBinary: '/usr/bin/containerd', id: 't1', bundle: '/b', debug: true, action: 'start' });
    expect(parseShimFlags(['-namespace=k8s.io', '-id', 't2', '-bundle', '/x/t2', 'delete'], '/')).toMatchObject({ namespace: 'k8s.io', bundle: '/x/t2', action: 'delete' });
    expect(() => parseShimFlags(['-nope', 'x', 'start'], '/')).toThrow(/not defined: -nope/);
    expect(() => parseShimFlags(['-id'], '/')).toThrow(/needs an argument/);
  });
});

describe('OCI bundle to the guest\'s instance spec', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shim-bundle-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const noBinds = { guestMounts: [], workloadMounts: [] };

  it('takes the process (args, env, cwd, numeric user), hostname and root of config.json into one rootfs workload', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      ociVersion: '1.0.2', hostname: 'box',
      process: { args: ['sh', '-c', 'id'], env: ['PATH=/bin', 'A=1'], cwd: '/work', user: { uid: 1000, gid: 100 }, terminal: false },
      root: { path: 'rootfs' },
    }));
    const config = readBundleConfig(dir);
    expect(config).toEqual({
      process: { args: ['sh', '-c', 'id'], env: ['PATH=/bin', 'A=1'], cwd: '/work', uid: 1000, gid: 100, terminal: false }, hostname: 'box', rootPath: 'rootfs', pod: undefined,
      docker: { access: false, policy: undefined }, binds: [], resources: {},
    });
    const spec = guestSpec(config, { stdin: true, terminal: false }, 'c1', noBinds);
    expect(spec).toMatchObject({
      hostname: 'box', docker: { enabled: false }, afterWorkloads: 'poweroff',
      mounts: [{ target: guestShare, type: '9p' }],
      workloads: [{ id: 'task', rootfs: guestRootfsOf('c1'), args: ['sh', '-c', 'id'], env: ['PATH=/bin', 'A=1'], cwd: '/work', user: '1000:100', stdin: true }],
    });
    expect((spec.workloads as object[])[0]).not.toHaveProperty('dockerAccess');
  });

  it('gives the workload a docker socket (and dockerd to the guest) when the annotation asks, with the policy of the other', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      process: { args: ['sh'] }, annotations: { 'io.concierge.docker-access': 'true', 'io.concierge.docker-policy': 'trusted' },
    }));
    const spec = guestSpec(readBundleConfig(dir), { stdin: false, terminal: false }, 'c1', noBinds);
    expect(spec.docker).toEqual({ iptables: false, bridge: 'none' });
    expect(spec.modules).toContain('overlay');
    expect(spec.workloads).toMatchObject([{ dockerAccess: true, dockerPolicy: 'trusted' }]);
  });

  it('brings config.json\'s host binds into the guest (a share per directory, files copied) and its linux.resources into the workload\'s cgroup', () => {
    const hostDir = join(dir, 'host-dir');
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      process: { args: ['sh'] },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
        { destination: '/m', type: 'bind', source: hostDir, options: ['rbind', 'ro'] },
        { destination: '/etc/hosts', source: join(dir, 'hosts'), options: ['rbind', 'rw'] }, // a bind by its option (CRI's)
      ],
      linux: { resources: { memory: { limit: 33554432, swap: 0 }, cpu: { quota: 50000, period: 100000, shares: 512 }, pids: { limit: 64 }, devices: [] } },
    }));
    const config = readBundleConfig(dir);
    expect(config.binds).toEqual([{ source: hostDir, destination: '/m', readonly: true }, { source: join(dir, 'hosts'), destination: '/etc/hosts', readonly: false }]);
    expect(config.resources).toEqual({ memoryBytes: 32 * 1024 * 1024, cpus: 0.5, cpuShares: 512, pids: 64 });
    const files = filesShare(join(dir, 'files'));
    expect(files.shares).toEqual([{ tag: 'ctr-bind-files', path: join(dir, 'files'), readonly: false }]);
    const shares = bindShares(config.binds, join(dir, 'files'), 'task');
    expect(shares.shares).toEqual([{ tag: 'ctr-bind-0', path: hostDir, readonly: true }]);
    expect(readFileSync(join(dir, 'files/task/1/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    const spec = guestSpec(config, { stdin: false, terminal: false }, 'c1', { guestMounts: [...files.guestMounts, ...shares.guestMounts], workloadMounts: shares.workloadMounts });
    expect(spec.mounts).toMatchObject([{ target: guestShare }, { source: 'ctr-bind-files', type: '9p' }, { source: 'ctr-bind-0', type: '9p' }]);
    // The guest's own parser takes the workload as given.
    const workload = parseWorkloadSpec((spec.workloads as unknown[])[0]);
    expect(workload.resources).toEqual({ memoryBytes: 32 * 1024 * 1024, cpus: 0.5, cpuShares: 512, pids: 64 });
    expect(workload.mounts).toEqual([
      { source: '/run/concierge-shim/binds/0', target: '/m', readonly: true },
      { source: '/run/concierge-shim/bind-files/task/1/hosts', target: '/etc/hosts', readonly: false },
    ]);
    expect(() => bindShares([{ source: join(dir, 'missing'), destination: '/x', readonly: false }], join(dir, 'files'), 'task')).toThrow(/mount \/x: its source .* cannot be read \(ENOENT\)/);
    // A pod member's task comes to a running VM: its files are copied into the files share under its
    // workload id, its bound directories go into the pod's share (no share of their own).
    const intoShare: { index: number; source: string }[] = [];
    const member = bindShares(config.binds, join(dir, 'files'), 'c-1', (index, bind) => {
      intoShare.push({ index, source: bind.source });
      return `/in-share/${index}`;
    });
    expect(intoShare).toEqual([{ index: 0, source: hostDir }]);
    expect(member).toEqual({ shares: [], guestMounts: [], workloadMounts: [
      { source: '/in-share/0', target: '/m', readonly: true },
      { source: '/run/concierge-shim/bind-files/c-1/1/hosts', target: '/etc/hosts', readonly: false },
    ] });
    expect(readFileSync(join(dir, 'files/c-1/1/hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ process: { args: ['sh'] }, linux: { resources: { cpu: { quota: 1e9, period: 1000, shares: 1 }, pids: { limit: 0 } } } }));
    expect(readBundleConfig(dir).resources).toEqual({ cpus: 1024, cpuShares: 2 }); // within the guest's ranges; pids 0 is no limit
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ process: { args: ['sh'] }, linux: { resources: { memory: { limit: 1024 } } } }));
    expect(() => readBundleConfig(dir)).toThrow(/memory.limit: at least/);
  });

  it('refuses a process without args or with a malformed user, naming the field', () => {
    expect(() => readProcess({ args: [] })).toThrow(/process.args: must not be empty/);
    expect(() => readProcess({ args: ['sh'], user: { uid: -1 } })).toThrow(/process.user.uid/);
    expect(() => readProcess({ args: 'sh' }, 'exec process')).toThrow(/exec process.args/);
    expect(readProcess({ args: ['true'] })).toEqual({ args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, terminal: false });
  });
});
