import { readFileSync } from 'node:fs';
import { MNT, sys } from '../../concierge/sys/index.js';

/** Mount points the caller socket's staging leaves in this (dockerd's) mount namespace; used by the tests and the bench. */

/** Mount points at or under `prefix`, from this process's mount table (octal escapes decoded). */
export function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === prefix || p.startsWith(`${prefix}/`));
}

/**
 * Detaches every mount under `prefix`, deepest first, never following a symlink (a staged bind is of
 * the caller's files: a recursive remove must not walk into it). Returns how many there were.
 */
export function unmountAllUnder(prefix: string): number {
  const points = mountsUnder(prefix).sort().reverse();
  for (const p of points) {
    try {
      sys.umount2(p, MNT.DETACH | MNT.UMOUNT_NOFOLLOW);
    } catch {
      // gone with a parent already
    }
  }
  return points.length;
}
