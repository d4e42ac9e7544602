import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import { AT, AT_FDCWD, MNT, MOVE_MOUNT, MS, O, OPEN_TREE, RESOLVE, sys } from '../../sys/index.js';
import { ProxyError } from '../errors.js';
import { log } from '../../log/logger.js';
import type { ResolvedSource } from './paths.js';

/**
 * Binds a resolved source to a path concierge owns, through an fd opened without following any
 * symlink. dockerd only ever sees staging paths, so swapping a path component for a symlink
 * after the check gains nothing: the open fails, or the bind is of the object that was checked.
 */
export class StagingArea {
  constructor(readonly dir: string) {}

  stage(callerId: string, source: ResolvedSource): string {
    const baseFd = openSync(source.base, O.PATH | O.CLOEXEC);
    let fd = baseFd;
    try {
      if (source.relative !== '') {
        try {
          // No O_NOFOLLOW: with it, openat2 hands back a trailing symlink itself (which open_tree would
          // then follow on the host). Without it, RESOLVE_NO_SYMLINKS refuses every symlink with ELOOP.
          fd = sys.openat2(baseFd, source.relative, {
            flags: O.PATH | O.CLOEXEC,
            resolve: RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV,
          });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ELOOP' || code === 'EXDEV' || code === 'ENOENT' || code === 'ENOTDIR') {
            throw new ProxyError(409, `bind source ${source.callerPath} changed while it was being resolved (${code}); not bound`);
          }
          throw err;
        }
      }
      const stat = fstatSync(fd);
      if (stat.isSymbolicLink()) throw new ProxyError(409, `bind source ${source.callerPath} changed while it was being resolved; not bound`);
      const isDir = stat.isDirectory();
      const callerDir = `${this.dir}/${callerId}`;
      mkdirSync(callerDir, { recursive: true, mode: 0o700 });
      const target = `${callerDir}/${randomUUID()}`;
      if (isDir) mkdirSync(target);
      else writeFileSync(target, '', { mode: 0o600 });
      const tree = sys.openTree(fd, '', OPEN_TREE.CLONE | OPEN_TREE.CLOEXEC | AT.EMPTY_PATH | AT.SYMLINK_NOFOLLOW);
      try {
        sys.moveMount(tree, '', AT_FDCWD, target, MOVE_MOUNT.F_EMPTY_PATH);
      } finally {
        closeSync(tree);
      }
      // The clone is as writable as the host source; what the caller sees read-only stays read-only
      // (a bind of this mount keeps its read-only flag, whatever mode the sibling asks for).
      if (source.readOnly) sys.mount(null, target, null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV);
      return target;
    } finally {
      if (fd !== baseFd) closeSync(fd);
      closeSync(baseFd);
    }
  }

  /**
   * Unmounts and removes one staging bind. Never throws (it runs after answers, off the request path):
   * a failure is logged and the sweep at exit or start-up tries again.
   */
  async release(path: string): Promise<boolean> {
    if (!path.startsWith(`${this.dir}/`) || path.slice(this.dir.length + 1).includes('..')) return false;
    try {
      // NOFOLLOW: the staging path is concierge's, but never let a link there aim the unmount elsewhere.
      sys.umount2(path, MNT.DETACH | MNT.UMOUNT_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') {
        log.warn({ path, err: (err as Error).message }, 'staging bind not released');
        return false;
      }
    }
    try {
      // Never a recursive remove: if the unmount did not take, that would delete the caller's files.
      await removeEmpty(path);
      return true;
    } catch (err) {
      log.warn({ path, err: (err as Error).message }, 'staging path not removed');
      return false;
    }
  }

  /**
   * Releases every staging bind of one caller (its exit), or of all callers but those `keep` names
   * (the start-up sweep, which leaves live callers' binds alone).
   */
  async sweep(which: string | { keep: (callerId: string) => boolean } = { keep: () => false }): Promise<number> {
    const dirs = typeof which === 'string' ? [which] : (await listDir(this.dir)).filter((d) => !which.keep(d));
    let released = 0;
    for (const d of dirs) {
      for (const entry of await listDir(`${this.dir}/${d}`)) {
        if (await this.release(`${this.dir}/${d}/${entry}`)) released++;
      }
      await removeEmpty(`${this.dir}/${d}`).catch(() => undefined);
    }
    return released;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function removeEmpty(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isDirectory()) await rmdir(path);
    else await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
