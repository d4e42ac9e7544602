// The seam between PID 1 and the modules others own: the Docker API proxy (concierge/dockerproxy)
// and the workload runner (concierge/workloads). PID 1 needs only start, "all done" and stop.
import { startProxy } from '../dockerproxy/index.js';
import type { InstanceSpec } from '../instance/spec.js';
import type { Timeline } from '../boot/timeline.js';
import { log } from '../log/logger.js';
import { WorkloadRunner } from '../workloads/runner.js';
import { callerSocketAccess, callerSocketDefaults, dockerdWaitMs } from './docker-access.js';

export interface RunningWorkloads {
  /** Stops the workloads (each with its own timeout), then the proxy. */
  stop(): Promise<void>;
}

/**
 * Starts the proxy (when dockerd is enabled) and every workload of the spec. `onDone` gets the last
 * workload's exit code once all have ended; a workload that fails to start counts as exit code 1.
 * Workload output goes to the console.
 */
export async function startWorkloads(spec: InstanceSpec, timeline: Timeline, onDone: (lastExitCode: number) => void): Promise<RunningWorkloads> {
  const proxy = spec.docker.enabled
    ? await startProxy({ listen: spec.docker.proxySocket, upstream: spec.docker.socket, upstreamWaitMs: dockerdWaitMs })
    : undefined;
  if (proxy !== undefined) timeline.mark('docker proxy listening', { socket: spec.docker.proxySocket });
  if (spec.workloads.length === 0) {
    return { stop: async () => proxy?.close() };
  }
  const runner = await WorkloadRunner.open({
    containerdSocket: spec.containerd.socket,
    containerdState: spec.containerd.state,
    // Each workload with dockerAccess gets a caller-aware socket of its own in front of dockerd.
    ...(spec.docker.enabled ? { dockerAccess: callerSocketAccess(callerSocketDefaults(spec.docker.socket, spec.runDir)) } : {}),
    fifoRoot: `${spec.runDir}/fifo`,
  });
  let first = true;
  const write = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
    (stream === 'stdout' ? process.stdout : process.stderr).write(chunk);
  };
  const results = spec.workloads.map(async (w) => {
    try {
      const workload = await runner.start(w, write);
      if (first) {
        first = false;
        timeline.mark('first workload started', { workload: w.id });
      }
      const exit = await workload.wait();
      log.info({ workload: w.id, exitCode: exit.exitCode }, `workload ${w.id} exited with ${exit.exitCode}`);
      return exit.exitCode;
    } catch (err) {
      log.error({ workload: w.id, err: (err as Error).message }, `workload ${w.id} failed`);
      return 1;
    }
  });
  // "Last" is the one that ended last: its code is the instance's result.
  let last = 0;
  for (const r of results) void r.then((code) => (last = code));
  void Promise.all(results).then(() => onDone(last));
  return {
    stop: async () => {
      await runner.close();
      await proxy?.close();
    },
  };
}
