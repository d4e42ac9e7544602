import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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

  it('takes the process (args, env, cwd, numeric user), hostname and root of config.json into one rootfs workload', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      ociVersion: '1.0.2', hostname: 'box',
      process: { args: ['sh', '-c', 'id'], env: ['PATH=/bin', 'A=1'], cwd: '/work', user: { uid: 1000, gid: 100 }, terminal: false },
      root: { path: 'rootfs' },
    }));
    const config = readBundleConfig(dir);
    expect(config).toEqual({
      process: { args: ['sh', '-c', 'id'], env: ['PATH=/bin', 'A=1'], cwd: '/work', uid: 1000, gid: 100, terminal: false }, hostname: 'box', rootPath: 'rootfs', pod: undefined,
      docker: { access: false, policy: undefined },
    });
    const spec = guestSpec(config, { stdin: true, terminal: false }, 'c1');
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
    const spec = guestSpec(readBundleConfig(dir), { stdin: false, terminal: false }, 'c1');
    expect(spec.docker).toEqual({ iptables: false, bridge: 'none' });
    expect(spec.modules).toContain('overlay');
    expect(spec.workloads).toMatchObject([{ dockerAccess: true, dockerPolicy: 'trusted' }]);
  });

  it('refuses a process without args or with a malformed user, naming the field', () => {
    expect(() => readProcess({ args: [] })).toThrow(/process.args: must not be empty/);
    expect(() => readProcess({ args: ['sh'], user: { uid: -1 } })).toThrow(/process.user.uid/);
    expect(() => readProcess({ args: 'sh' }, 'exec process')).toThrow(/exec process.args/);
    expect(readProcess({ args: ['true'] })).toEqual({ args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, terminal: false });
  });
});
