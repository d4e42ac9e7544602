// Which OCI runtime the runc shim runs for concierge's workloads, and the container's runtime options
// that name it (containerd hands a container's options to its shim at the task's create).
import { accessSync, constants, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { RuncOptionsSchema } from '../containerd/api.js';
import { cgroupRoot } from './cgroup.js';

/** The runc shim's own default when a container names no binary. */
const defaultOciRuntime = 'runc';

/**
 * crun when the root ships it and the cgroup v2 hierarchy holds the controllers; otherwise undefined
 * (the shim runs runc). crun is C: a task's create and start then run no Go program but the shim, where
 * runc starts three (create, its init, start); under emulation that was 0.3 s of a job's start. crun
 * refuses a hybrid hierarchy (controllers on v1, none on the v2 root), where runc runs.
 */
export function preferredOciRuntime(candidate = '/usr/bin/crun', cgroups = cgroupRoot): string | undefined {
  try {
    accessSync(candidate, constants.X_OK);
    return readFileSync(join(cgroups, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory') ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The runc shim's grouping annotation: tasks whose runtime specs carry the same value share one shim
 * server, as a pod's containers do (containerd's CRI uses the sandbox id). The shim's `start` command
 * then answers the running server's address instead of starting another.
 */
export const runcShimGroupAnnotation = 'io.containerd.runc.v2.group';

/** The container's runtime options naming the OCI runtime binary (containerd.runc.v1.Options' binary_name). */
export function runcShimOptions(binaryName: string): { typeUrl: string; value: Uint8Array } {
  return { typeUrl: RuncOptionsSchema.typeName, value: toBinary(RuncOptionsSchema, create(RuncOptionsSchema, { binaryName })) };
}

/** The runtime's name for logs and events: `crun` for /usr/bin/crun. */
export function ociRuntimeName(binary: string | undefined): string {
  return basename(binary ?? defaultOciRuntime);
}
