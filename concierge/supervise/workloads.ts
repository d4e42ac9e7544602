// The seam between PID 1 and the modules others own: the Docker API proxy (concierge/dockerproxy)
// and the workload runner (concierge/workloads). PID 1 needs start, the lifecycle hooks, the
// workload routes of the control API, and stop.
import invariant from 'tiny-invariant';
import { startProxy } from '../dockerproxy/index.js';
import type { InstanceSpec } from '../instance/spec.js';
import type { Timeline } from '../boot/timeline.js';
import { log } from '../log/logger.js';
import { workloadRoutes, type WorkloadRoutes } from '../workloads/control-api.js';
import { workloadDidNotStartExitCode } from '../workloads/exit-codes.js';
import { preferredOciRuntime } from '../workloads/oci-runtime.js';
import { defaultWorkloadNamespace, WorkloadRunner } from '../workloads/runner.js';
import type { Workload, WorkloadExit } from '../workloads/workload.js';
import { callerSocketAccess, callerSocketDefaults, dockerdWaitMs } from './docker-access.js';
import { builderGrantsHostNetwork } from './dockerd-builder.js';
import { runcShimGroupShim, warmRuntime, type RuncShimGroup } from './warm-runtime.js';

/** The value of runc's grouping annotation on the spec's workloads, when they share one shim server. */
const runcShimGroup = 'concierge';

export interface WorkloadHooks {
  started(workload: Workload): void;
  /** At the exit, before the workload's task and cgroup are removed. */
  exited(workload: Workload, exit: WorkloadExit): void;
  failed(id: string, err: Error): void;
  /** An image was pulled for the spec's workloads. */
  pulled(image: string, figures: { layers: number; bytes: number; ms: number }): void;
  /** Every workload of the spec has ended: the code of the one that ended last. */
  done(lastExitCode: number): void;
}

export interface RunningWorkloads {
  /** The control API's /workloads routes (logs of the spec's workloads included). */
  routes: WorkloadRoutes;
  /** The exit code of the workload that ended last, once one has. */
  lastExitCode: number | undefined;
  /** Stops the workloads (each with its own timeout), then the proxy. */
  stop(): Promise<void>;
}

/**
 * Starts the proxy (when dockerd is enabled) and every workload of the spec; a workload that fails to
 * start counts as exit code 125. Workload output goes to the console and to the control API's logs.
 * `dockerdReady` settles once dockerd answers, when the caller starts it later; with `shareRuncShim`
 * the tasks share one runc shim server, started now.
 */
export async function startWorkloads(
  spec: InstanceSpec, timeline: Timeline, hooks: WorkloadHooks, options: { dockerdReady?: Promise<unknown>; shareRuncShim?: boolean } = {},
): Promise<RunningWorkloads> {
  const { dockerdReady } = options;
  const ociRuntime = preferredOciRuntime();
  // The group's server and shim are made only for the spec's workloads; later ones get a shim each.
  const shimGroup: RuncShimGroup | undefined = options.shareRuncShim === true && spec.workloads.length > 0 ? {
    group: runcShimGroup, dir: `${spec.runDir}/runc-shim-group`, containerdSocket: spec.containerd.socket, namespace: defaultWorkloadNamespace,
  } : undefined;
  if (spec.workloads.length > 0) warmRuntime(ociRuntime, shimGroup);
  // The proxy and the runner (containerd's client, orphans removed) start side by side: neither needs the other.
  const [proxyStart, runnerOpen] = await Promise.allSettled([
    spec.docker.enabled ? startProxy({ listen: spec.docker.proxySocket, upstream: spec.docker.socket, upstreamWaitMs: dockerdWaitMs }).then((started) => {
      timeline.mark('docker proxy listening', { socket: spec.docker.proxySocket });
      return started;
    }) : undefined,
    WorkloadRunner.open({
      containerdSocket: spec.containerd.socket,
      containerdState: spec.containerd.state,
      // Each workload with dockerAccess gets a caller-aware socket of its own in front of dockerd.
      ...(spec.docker.enabled ? {
        dockerAccess: callerSocketAccess({
          ...callerSocketDefaults(spec.docker.socket, spec.runDir),
          builderGrantsHostNetwork: builderGrantsHostNetwork(spec.workloads),
          ...(dockerdReady === undefined ? {} : { upstreamReady: dockerdReady }),
        }),
      } : {}),
      fifoRoot: `${spec.runDir}/fifo`,
      ...(ociRuntime === undefined ? {} : { ociRuntime }),
      ...(shimGroup === undefined ? {} : { shimGroup: { name: shimGroup.group, shim: runcShimGroupShim(shimGroup) } }),
      registries: spec.registries,
      images: spec.workloads,
    }),
  ]);
  if (proxyStart.status === 'rejected' || runnerOpen.status === 'rejected') {
    if (proxyStart.status === 'fulfilled') await proxyStart.value?.close();
    if (runnerOpen.status === 'fulfilled') await runnerOpen.value.close();
    throw (proxyStart.status === 'rejected' ? proxyStart.reason : (runnerOpen as PromiseRejectedResult).reason) as Error;
  }
  const proxy = proxyStart.value;
  const runner = runnerOpen.value;
  runner.on('image-pulled', ({ reference, ...figures }) => hooks.pulled(reference, figures));
  const routes = workloadRoutes(runner, {
    onOutput: (_id, stream, chunk) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
    // A workload added over the control API (a runtime shim's pod member or exec) is watched as the spec's are.
    onStarted: (workload) => {
      hooks.started(workload);
      // A process that ends at once may have exited before start() returned.
      if (workload.exit !== undefined) hooks.exited(workload, workload.exit);
      else workload.once('exit', (exit: WorkloadExit) => hooks.exited(workload, exit));
    },
  });
  const running: RunningWorkloads = {
    routes,
    lastExitCode: undefined,
    stop: async () => {
      await runner.close();
      await proxy?.close();
    },
  };
  let first = true;
  const results = spec.workloads.map(async (w) => {
    let workload: Workload;
    try {
      workload = await routes.start(w);
    } catch (err) {
      log.error({ workload: w.id, err: (err as Error).message }, `workload ${w.id} failed`);
      hooks.failed(w.id, err as Error);
      running.lastExitCode = workloadDidNotStartExitCode;
      return;
    }
    if (first) {
      first = false;
      timeline.mark('first workload started', { workload: w.id });
    }
    // Taken at the exit: removals (output drained, task deleted) end in any order, and the result is
    // the code of the workload that exited last.
    const { exitCode, oomKilled } = await workload.ended();
    running.lastExitCode = exitCode;
    log.info({ workload: w.id, exitCode, oomKilled }, `workload ${w.id} exited with ${exitCode}`);
    // A removal that fails is logged by the routes' start; the workload's code stands.
    await workload.wait().catch(() => undefined);
  });
  if (results.length > 0) {
    void Promise.all(results).then(() => {
      invariant(running.lastExitCode !== undefined, 'every workload has a code once all have ended');
      hooks.done(running.lastExitCode);
    });
  }
  return running;
}
