// The container's rootfs on the host, as the runc shim makes it: containerd's rootfs mounts (one
// overlay, or a bind) mounted at <bundle>/rootfs for the task's life, then shared into the guest.
import { mkdirSync } from 'node:fs';
import { splitOptions } from '../os/mount-options.js';
import { isSysError, MNT, sys } from '../sys/index.js';

export interface RootfsMount {
  type: string;
  source: string;
  options: string[];
}

export function mountRootfs(mounts: readonly RootfsMount[], target: string): void {
  if (mounts.length === 0) return; // the bundle's own rootfs directory (ctr run --rootfs)
  if (mounts.length > 1) throw new Error(`expected one rootfs mount from containerd, got ${mounts.length}`);
  const m = mounts[0]!;
  const { flags, data } = splitOptions(m.options);
  mkdirSync(target, { recursive: true });
  sys.mount(m.source, target, m.type === 'bind' ? null : m.type, flags, data === '' ? null : data);
}

/**
 * Unmounts (lazily) what is mounted at `target`, the rootfs or a bind of the shim's share; one not mounted
 * (or gone) is fine: cleanup runs again after a crash.
 */
export function detachMount(target: string): void {
  try {
    sys.umount2(target, MNT.DETACH);
  } catch (err) {
    if (!isSysError(err, 'EINVAL') && !isSysError(err, 'ENOENT')) throw err;
  }
}
