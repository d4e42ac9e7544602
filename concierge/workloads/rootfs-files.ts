import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmdirSync } from 'node:fs';
import { constants } from 'node:fs';
import { splitOptions } from '../os/mount-options.js';
import type { Mount } from '../containerd/api.js';
import { isSysError, MNT, MS, O, RESOLVE, sys } from '../sys/index.js';

/** passwd and group files are a few KiB; anything this large is not one. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Reads small text files of a container's rootfs before its task exists: mounts containerd's rootfs
 * mounts read-only at `mountPoint`, opens each path resolved inside that root (an image's absolute
 * symlinks stay in it), and unmounts before returning, so the task's own mount of the same overlay
 * finds its work directory free. A missing file reads as undefined.
 */
export function readRootfsFiles(rootfs: readonly Mount[], mountPoint: string, paths: readonly string[]): (string | undefined)[] {
  if (rootfs.length !== 1) throw new Error(`expected one rootfs mount from containerd, got ${rootfs.length}`);
  const m = rootfs[0]!;
  const { flags, data } = splitOptions(m.options);
  mkdirSync(mountPoint, { recursive: true });
  sys.mount(m.source, mountPoint, m.type === 'bind' ? null : m.type, flags | MS.RDONLY, data === '' ? null : data);
  try {
    const root = openSync(mountPoint, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      return paths.map((path) => readInRoot(root, path.replace(/^\/+/, '')));
    } finally {
      closeSync(root);
    }
  } finally {
    try {
      sys.umount2(mountPoint, MNT.UMOUNT_NOFOLLOW);
    } catch (err) {
      if (!isSysError(err, 'EBUSY')) throw err;
      sys.umount2(mountPoint, MNT.DETACH | MNT.UMOUNT_NOFOLLOW);
    }
    rmdirSync(mountPoint);
  }
}

function readInRoot(root: number, relative: string): string | undefined {
  let fd: number;
  try {
    fd = sys.openat2(root, relative, { flags: O.RDONLY | O.CLOEXEC, resolve: RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS });
  } catch (err) {
    if (isSysError(err, 'ENOENT') || isSysError(err, 'ENOTDIR')) return undefined;
    throw err;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return undefined;
    if (stat.size > MAX_FILE_BYTES) throw new Error(`/${relative} in the image is ${stat.size} bytes; not read`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
