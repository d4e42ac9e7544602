import type { DockerPolicy } from './docker-policy.js';
import type { OciMount } from './runtime-spec.js';

/**
 * Where a workload with `dockerAccess` gets its docker socket. The default hands every workload the same
 * socket; the caller-aware proxy plugs in a provider that opens one socket per workload (brief section 4.8).
 */
export interface DockerAccessProvider {
  open(w: {
    workloadId: string;
    containerId: string;
    /** The workload's OCI mounts once its runtime spec is built: the caller-aware proxy maps paths with them. */
    mounts: () => readonly OciMount[] | undefined;
    /** The spec's dockerPolicy: what its siblings may ask for. */
    dockerPolicy: DockerPolicy;
  }): Promise<{ socketPath: string; close(): Promise<void> }>;
}

export function sharedDockerSocket(socketPath: string): DockerAccessProvider {
  return { open: async () => ({ socketPath, close: async () => undefined }) };
}

export const noDockerAccess: DockerAccessProvider = {
  open: async ({ workloadId }) => {
    throw new Error(`workload ${workloadId} asks for dockerAccess, but no docker socket was given (--docker <sock>)`);
  },
};
