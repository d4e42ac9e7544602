// Removing a shim's state directory (at Shutdown, and by `delete` after a crash): the share's binds (each
// container's rootfs, a member's bound host directories) are unmounted first, and a directory that still
// has a mount at or under it is refused rather than removed: a recursive removal would go on into the
// mounted rootfs or host directory and delete the container's or the host's files.
import { realpathSync, rmSync } from 'node:fs';
import { readMountInfo } from '../os/mountinfo.js';
import { isSysError } from '../sys/index.js';
import { unshareAll } from './sandbox.js';

/** Mount points at or under `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    if (isSysError(err, 'ENOENT')) return [];
    throw err;
  }
  return readMountInfo().map((m) => m.mountPoint).filter((p) => p === real || p.startsWith(`${real}/`));
}

/** Removes `dir` and what it holds; throws, removing nothing, while anything is mounted in it. */
export function removeUnmounted(dir: string): void {
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`not removing ${dir}: still mounted in it: ${mounted.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

/** Unmounts what the shim bound into its share, then removes its state directory. */
export function removeShimState(stateDir: string): void {
  unshareAll(stateDir);
  removeUnmounted(stateDir);
}
