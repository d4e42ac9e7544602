import { describe, expect, it } from 'vitest';
import { ISOLATED, TRUSTED } from './docker-policy.js';
import { parseInstanceWorkloads, parseWorkloadSpec } from './spec-workloads.js';

describe('workload spec', () => {
  it('accepts a full spec and fills defaults', () => {
    const spec = parseWorkloadSpec({
      id: 'job-1', image: './img.tar', args: ['sh', '-c', 'true'], env: { A: '1' }, cwd: '/work', user: '1000:1000',
      mounts: [{ source: 'data', target: '/data', readonly: true }], network: 'host', dockerAccess: true, stopTimeout: 3,
      resources: { memory: '64m', cpus: 0.5 },
    }, { baseDir: '/specs' });
    expect(spec).toEqual({
      id: 'job-1', image: { archive: '/specs/img.tar' }, args: ['sh', '-c', 'true'], env: ['A=1'], cwd: '/work', user: '1000:1000',
      mounts: [{ source: '/specs/data', target: '/data', readonly: true }], network: 'host', stdin: false, terminal: false, dockerAccess: true, dockerPolicy: ISOLATED, stopTimeout: 3,
      resources: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5 },
    });
    expect(parseWorkloadSpec({ id: 'a', image: 'registry.test:5000/ci/job@sha256:' + 'a'.repeat(64), pullPolicy: 'always' }))
      .toMatchObject({ image: { reference: `registry.test:5000/ci/job@sha256:${'a'.repeat(64)}`, pullPolicy: 'always' } });
    expect(parseWorkloadSpec({ id: 'a', image: 'busybox:latest' })).toMatchObject({
      image: { reference: 'busybox:latest', pullPolicy: 'if-not-present' }, env: [], mounts: [], network: 'none', dockerAccess: false, dockerPolicy: ISOLATED, stopTimeout: 10, resources: {},
    });
    expect(parseWorkloadSpec({ id: 'a', image: 'x', resources: { memory: 10_000_000 } }).resources).toEqual({ memoryBytes: 10_000_000 });
    expect(parseWorkloadSpec({ id: 'a', image: 'x', resources: { memory: '1G' } }).resources).toEqual({ memoryBytes: 1024 ** 3 });
    expect(parseWorkloadSpec({ id: 'a', image: 'x', resources: { cpuShares: 512, pids: 100 } }).resources).toEqual({ cpuShares: 512, pids: 100 });
  });

  it('takes a guest directory as the root (rootfs, with args and no image), and a stdin', () => {
    expect(parseWorkloadSpec({ id: 'task', rootfs: '/run/r', args: ['sh'], stdin: true })).toMatchObject({ image: { rootfs: '/run/r' }, args: ['sh'], stdin: true });
    expect(() => parseWorkloadSpec({ id: 'task', rootfs: '/run/r' })).toThrow(/args: required with rootfs/);
    expect(() => parseWorkloadSpec({ id: 'task', rootfs: '/run/r', image: 'x', args: ['sh'] })).toThrow(/either image or rootfs/);
    expect(() => parseWorkloadSpec({ id: 'task', rootfs: 'rel', args: ['sh'] })).toThrow(/rootfs/);
    expect(() => parseWorkloadSpec({ id: 'task', rootfs: '/r', args: ['sh'], pullPolicy: 'always' })).toThrow(/pullPolicy/);
    expect(() => parseWorkloadSpec({ id: 'a', image: 'x', stdin: 'yes' })).toThrow(/stdin/);
  });

  it.each([
    [{ image: 'x' }, /id/],
    [{ id: '../x', image: 'x' }, /id/],
    [{ id: 'a' }, /image/],
    [{ id: 'a', image: 'x', args: [] }, /args/],
    [{ id: 'a', image: 'x', args: 'sh' }, /args/],
    [{ id: 'a', image: 'x', env: ['NOEQUALS'] }, /KEY=value/],
    [{ id: 'a', image: 'x', cwd: 'rel' }, /cwd/],
    [{ id: 'a', image: 'x', user: 'a:b:c' }, /user/],
    [{ id: 'a', image: 'x', user: '' }, /user/],
    [{ id: 'a', image: 'x', user: '-rf' }, /user/],
    [{ id: 'a', image: 'x', user: 1000 }, /user/],
    [{ id: 'a', image: 'x', mounts: [{ source: '/a', target: 'rel' }] }, /target/],
    [{ id: 'a', image: 'x', mounts: [{ type: 'volume', source: '/a', target: '/b' }] }, /bind/],
    [{ id: 'a', image: 'x', network: 'bridge' }, /network/],
    [{ id: 'a', image: 'x', dockerAccess: 'yes' }, /dockerAccess/],
    [{ id: 'a', image: 'x', stopTimeout: -1 }, /stopTimeout/],
    [{ id: 'a', image: 'x', dockerPolicy: 'open' }, /workload a: dockerPolicy: expected "isolated", "trusted" or an object/],
    [{ id: 'a', image: 'x', dockerPolicy: { privileged: 'yes' } }, /workload a: dockerPolicy\.privileged: expected a boolean/],
    [{ id: 'a', image: 'x', dockerPolicy: { capAdd: 'ALL' } }, /dockerPolicy\.capAdd: expected an array/],
    [{ id: 'a', image: 'x', dockerPolicy: { hostNetwork: true } }, /dockerPolicy: unknown field "hostNetwork"/],
    [{ id: 'a', image: 'x', resources: { memory: '5m' } }, /resources.memory: .*at least 6m/],
    [{ id: 'a', image: 'x', resources: { memory: '64 mb' } }, /resources.memory/],
    [{ id: 'a', image: 'x', resources: { memory: -1 } }, /resources.memory/],
    [{ id: 'a', image: 'x', resources: { cpus: 0 } }, /resources.cpus/],
    [{ id: 'a', image: 'x', resources: { cpus: '1' } }, /resources.cpus/],
    [{ id: 'a', image: 'x', resources: { cpuShares: 1 } }, /resources.cpuShares/],
    [{ id: 'a', image: 'x', resources: { pids: 1.5 } }, /resources.pids: expected a whole number/],
    [{ id: 'a', image: 'x', resources: { swap: 1 } }, /unknown field "swap"/],
    [{ id: 'a', image: 'x', privileged: true }, /unknown field "privileged"/],
    [{ id: 'a', image: 'x', pullPolicy: 'sometimes' }, /pullPolicy/],
    [{ id: 'a', image: './x.tar', pullPolicy: 'always' }, /pullPolicy: applies to an image reference/],
    [{ id: 'a', image: 'x', dockerAccess: true, mounts: [{ source: '/s', target: '/var/run/docker.sock' }] }, /docker.sock/],
  ])('refuses %j', (input, message) => {
    expect(() => parseWorkloadSpec(input)).toThrow(message);
  });

  it('reads dockerPolicy: isolated by default, trusted, or an object of switches over isolated', () => {
    expect(parseWorkloadSpec({ id: 'a', image: 'x' }).dockerPolicy).toEqual(ISOLATED);
    expect(parseWorkloadSpec({ id: 'a', image: 'x', dockerPolicy: 'isolated' }).dockerPolicy).toEqual(ISOLATED);
    expect(parseWorkloadSpec({ id: 'a', image: 'x', dockerPolicy: 'trusted' }).dockerPolicy).toEqual(TRUSTED);
    expect(parseWorkloadSpec({ id: 'a', image: 'x', dockerPolicy: { privileged: true, capAdd: ['cap_net_admin'] } }).dockerPolicy)
      .toEqual({ ...ISOLATED, name: 'custom', privileged: true, capAdd: ['NET_ADMIN'] });
    expect(() => parseInstanceWorkloads({ workloads: [{ id: 'a', image: 'x', dockerPolicy: 'root' }] })).toThrow(/workloads\[0\] \(a\): dockerPolicy/);
  });

  it('reads the workloads of an instance spec and refuses duplicate ids', () => {
    expect(parseInstanceWorkloads({ hostname: 'vm', workloads: [{ id: 'a', image: 'x' }] })).toHaveLength(1);
    expect(() => parseInstanceWorkloads({ workloads: [{ id: 'a', image: 'x' }, { id: 'a', image: 'y' }] })).toThrow(/twice/);
    expect(() => parseInstanceWorkloads({ workloads: [{ id: 'a', image: 1 }] })).toThrow(/image/);
  });
});
