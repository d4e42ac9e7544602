// The docker-access port: workloads/ says what it needs from a docker socket; the composition roots
// (cli/, supervise/) plug in an implementation (the caller-aware sockets of dockerproxy/aware).
import type { OciMount } from './runtime-spec.js';

/** What a workload tells the provider when it asks for a docker socket. */
export interface WorkloadIdentity {
  workloadId: string;
  containerId: string;
  /** The task's rootfs overlay on the host (containerd mounts it there when the task is created). */
  rootfsPath: string;
  /** The workload's OCI mounts once its runtime spec is built (read on each use). */
  mounts: () => readonly OciMount[] | undefined;
}

/** Where a workload with `dockerAccess` gets its docker socket (bind-mounted at /var/run/docker.sock). */
export interface DockerAccessProvider {
  open(w: WorkloadIdentity): Promise<{ socketPath: string; close(): Promise<void> }>;
  /**
   * Called once when the runner opens, after workloads of interrupted concierges are removed: releases
   * what earlier workloads left (staging binds), keeping what belongs to the live ones.
   */
  releaseLeftovers?(liveWorkloadIds: ReadonlySet<string>): Promise<void>;
}

export function sharedDockerSocket(socketPath: string): DockerAccessProvider {
  return { open: async () => ({ socketPath, close: async () => undefined }) };
}

export const noDockerAccess: DockerAccessProvider = {
  open: async ({ workloadId }) => {
    throw new Error(`workload ${workloadId} asks for dockerAccess, but no docker socket was given (--docker <sock>)`);
  },
};
