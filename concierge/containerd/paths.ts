// Paths containerd lays out on disk, built in one place.
import { join } from 'node:path';

/** The rootfs overlay containerd's v2 runtime mounts for a running task. */
export function taskRootfs(containerdState: string, namespace: string, containerId: string): string {
  return join(containerdState, 'io.containerd.runtime.v2.task', namespace, containerId, 'rootfs');
}
