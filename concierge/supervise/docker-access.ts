// Plugs the caller-aware docker sockets (dockerproxy/aware) into the workloads' docker-access port:
// each workload with dockerAccess gets a socket of its own, and the socket a request arrives on is the
// caller's identity. Closing it removes the workload's siblings, volumes, networks and staging binds.
import { mkdir } from 'node:fs/promises';
import { StagingArea, startCallerSocket, type Caller } from '../dockerproxy/aware/index.js';
import { log as rootLog, type Logger } from '../log/logger.js';
import type { DockerAccessProvider } from '../workloads/docker-access.js';

export interface CallerSocketAccessOptions {
  /** dockerd's socket. */
  upstream: string;
  /** Where the per-workload sockets are made (host side). */
  socketDir: string;
  stagingDir: string;
  upstreamWaitMs?: number;
  /** Settles once dockerd answers, where the starter knows it (see CallerSocketOptions). */
  upstreamReady?: Promise<unknown>;
  /** dockerd's BuildKit grants network.host (dockerd's default; PID 1 knows, having written its configuration). */
  builderGrantsHostNetwork?: boolean;
  log?: Logger;
}

/** How long a request waits for dockerd to come up (PID 1 starts it beside the workloads). */
export const dockerdWaitMs = 120_000;

/** The defaults of `concierge run`, `serve` and PID 1 (whose runDir is /run/concierge unless the spec says). */
export function callerSocketDefaults(upstream: string, runDir = '/run/concierge'): CallerSocketAccessOptions {
  return { upstream, socketDir: `${runDir}/docker`, stagingDir: `${runDir}/staging`, upstreamWaitMs: dockerdWaitMs };
}

export function callerSocketAccess(options: CallerSocketAccessOptions): DockerAccessProvider {
  const log = options.log ?? rootLog;
  return {
    async open(w) {
      await mkdir(options.socketDir, { recursive: true, mode: 0o711 });
      const listen = `${options.socketDir}/${w.workloadId}.sock`;
      const caller: Caller = {
        id: w.workloadId,
        rootfs: w.rootfsPath,
        get mounts() {
          return w.mounts() ?? [{ destination: '/var/run/docker.sock', source: listen, type: 'bind', options: ['rbind'] }];
        },
        policy: w.dockerPolicy,
      };
      const socket = await startCallerSocket({
        caller,
        listen,
        upstream: options.upstream,
        stagingDir: options.stagingDir,
        ...(options.upstreamWaitMs === undefined ? {} : { upstreamWaitMs: options.upstreamWaitMs }),
        ...(options.upstreamReady === undefined ? {} : { upstreamReady: options.upstreamReady }),
        ...(options.builderGrantsHostNetwork === undefined ? {} : { builderGrantsHostNetwork: options.builderGrantsHostNetwork }),
        log,
      });
      return { socketPath: listen, close: () => socket.closeAndClean() };
    },
    async releaseLeftovers(live) {
      // Staging binds of workloads that are gone point into rootfs that are gone; a live workload's
      // (another concierge's on this machine) are its own.
      const swept = await new StagingArea(options.stagingDir).sweep({ keep: (callerId) => live.has(callerId) });
      if (swept > 0) log.info({ swept, stagingDir: options.stagingDir }, 'stale staging binds released');
    },
  };
}
