import { mkdir } from 'node:fs/promises';
import { taskRootfs } from '../../containerd/paths.js';
import type { Logger } from '../../log/logger.js';
import { type Caller, type CallerMount, DEFAULT_POLICY, type PrivilegePolicy } from './caller.js';
import { startCallerSocket } from './index.js';

export interface CallerSocketAccessOptions {
  /** dockerd's socket. */
  upstream: string;
  /** Where the per-workload sockets are made (host side). */
  socketDir: string;
  stagingDir: string;
  /** containerd's state directory: task rootfs overlays live under it. */
  containerdState: string;
  namespace?: string;
  policyFor?: (workloadId: string) => PrivilegePolicy;
  upstreamWaitMs?: number;
  log?: Logger;
}

/** What a workload tells the provider (the workloads' DockerAccessProvider contract). */
export interface WorkloadIdentity {
  workloadId: string;
  containerId: string;
  /** The workload's OCI mounts, known once its runtime spec is built (read on each request). */
  mounts?: () => readonly CallerMount[] | undefined;
  /** The workload spec's dockerPolicy (the same shape as PrivilegePolicy). */
  dockerPolicy?: PrivilegePolicy;
}

/**
 * Gives each workload with docker access a socket of its own, served by the caller-aware layer: the
 * socket a request arrives on is the caller's identity (brief 4.8). Closing it removes the workload's
 * siblings, volumes, networks and staging binds (brief 4.10).
 */
export function callerSocketAccess(options: CallerSocketAccessOptions) {
  return {
    async open(w: WorkloadIdentity): Promise<{ socketPath: string; close(): Promise<void> }> {
      await mkdir(options.socketDir, { recursive: true, mode: 0o711 });
      const listen = `${options.socketDir}/${w.workloadId}.sock`;
      const caller: Caller = {
        id: w.workloadId,
        rootfs: taskRootfs(options.containerdState, options.namespace ?? 'default', w.containerId),
        get mounts() {
          return w.mounts?.() ?? [{ destination: '/var/run/docker.sock', source: listen, type: 'bind', options: ['rbind'] }];
        },
        policy: w.dockerPolicy ?? options.policyFor?.(w.workloadId) ?? DEFAULT_POLICY,
      };
      const socket = await startCallerSocket({
        caller,
        listen,
        upstream: options.upstream,
        stagingDir: options.stagingDir,
        ...(options.upstreamWaitMs === undefined ? {} : { upstreamWaitMs: options.upstreamWaitMs }),
        ...(options.log === undefined ? {} : { log: options.log }),
      });
      return { socketPath: listen, close: () => socket.closeAndClean() };
    },
  };
}
