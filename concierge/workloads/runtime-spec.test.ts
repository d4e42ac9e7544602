import { describe, expect, it } from 'vitest';
import { parseWorkloadSpec } from '../instance/spec-workloads.js';
import { buildRuntimeSpec } from './runtime-spec.js';

const image = { env: ['PATH=/bin'], entrypoint: [], cmd: ['sh'], workingDir: '', user: '', os: 'linux', architecture: 'amd64' };
const ctx = { namespace: 'default', containerId: 'job', user: { uid: 0, gid: 0 } };

describe('runtime spec', () => {
  it('turns the workload\'s resources into the cgroup\'s memory limit, a CPU quota per 100 ms (docker run --cpus), CPU shares and a pids limit', () => {
    const limited = buildRuntimeSpec(parseWorkloadSpec({ id: 'job', image: 'x', resources: { memory: '48m', cpus: 1.5 } }), image, ctx);
    expect(limited.linux.resources.memory).toEqual({ limit: 48 * 1024 * 1024 });
    expect(limited.linux.resources.cpu).toEqual({ quota: 150_000, period: 100_000 });
    const shared = buildRuntimeSpec(parseWorkloadSpec({ id: 'job', image: 'x', resources: { cpuShares: 512, pids: 64 } }), image, ctx);
    expect(shared.linux.resources.cpu).toEqual({ shares: 512 });
    expect(shared.linux.resources.pids).toEqual({ limit: 64 });
    const free = buildRuntimeSpec(parseWorkloadSpec({ id: 'job', image: 'x' }), image, ctx);
    expect(free.linux.resources).not.toHaveProperty('memory');
    expect(free.linux.resources).not.toHaveProperty('cpu');
    expect(free.linux.resources).not.toHaveProperty('pids');
  });

  it('masks /sys/firmware and gives the job no block device nodes', () => {
    const spec = buildRuntimeSpec(parseWorkloadSpec({ id: 'job', image: 'x' }), image, ctx);
    expect(spec.linux.maskedPaths).toContain('/sys/firmware');
    expect(spec.mounts.find((m) => m.destination === '/dev')).toMatchObject({ type: 'tmpfs' });
    expect(spec.linux.resources.devices[0]).toEqual({ allow: false, access: 'rwm' });
  });
});
