import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { MetricsSchema } from '../../proto/gen/github.com/containerd/cgroups/v2/stats/metrics_pb.js';
import { cgroupMetrics, metricsAny } from './task-metrics.js';

describe('a task\'s Stats from the guest\'s cgroup files', () => {
  const guest = {
    'cpu.stat': { usage_usec: 1500, user_usec: 1000, system_usec: 500, nr_periods: 4, nr_throttled: 1, throttled_usec: 20, core_sched_force_idle_usec: 0 },
    'memory.current': 4096, 'memory.max': 'max', 'memory.swap.current': 0,
    'memory.stat': { anon: 1024, file: 2048, kernel_stack: 16384, pgfault: 7, not_a_field: 3 },
    'memory.events': { low: 0, high: 0, max: 3, oom: 1, oom_kill: 1 },
    'pids.current': 2, 'pids.max': 64,
  };

  it('are io.containerd.cgroups.v2.Metrics as containerd\'s cgroups library reads them', () => {
    const m = cgroupMetrics(guest);
    expect(m.memory).toMatchObject({ usage: 4096n, usageLimit: 2n ** 64n - 1n, swapUsage: 0n, swapLimit: 0n, anon: 1024n, file: 2048n, kernelStack: 16384n, pgfault: 7n });
    expect(m.cpu).toMatchObject({ usageUsec: 1500n, userUsec: 1000n, systemUsec: 500n, nrPeriods: 4n, nrThrottled: 1n, throttledUsec: 20n });
    expect(m.pids).toMatchObject({ current: 2n, limit: 64n });
    expect(m.memoryEvents).toMatchObject({ max: 3n, oom: 1n, oomKill: 1n });
  });

  it('travel as an Any named by the message\'s full name (containerd\'s typeurl), and bad input is refused', () => {
    const any = metricsAny(guest);
    expect(any.typeUrl).toBe('io.containerd.cgroups.v2.Metrics');
    expect(fromBinary(MetricsSchema, any.value).memory?.usage).toBe(4096n);
    expect(() => cgroupMetrics('nope')).toThrow(/expected an object/);
    expect(cgroupMetrics({ 'memory.current': -1, 'pids.current': 'x' }).memory?.usage).toBe(0n);
  });
});
