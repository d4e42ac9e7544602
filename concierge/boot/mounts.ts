import { existsSync, lstatSync, mkdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { MS, sys } from '../sys/index.js';
import { splitOptions } from '../os/mount-options.js';
import { mountAt, readMountInfo, type MountEntry } from '../os/mountinfo.js';
import type { MountSpec } from '../instance/spec.js';
import { done, skipped, type StepResult } from './step.js';

interface BaseMount {
  type: string;
  target: string;
  flags: number;
  data?: string;
}

/** The mounts of brief 3, in order: proc first (everything after reads it), cgroup2 last. */
export const baseMounts: readonly BaseMount[] = [
  { type: 'proc', target: '/proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC },
  { type: 'sysfs', target: '/sys', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC },
  { type: 'devtmpfs', target: '/dev', flags: MS.NOSUID, data: 'mode=0755' },
  { type: 'devpts', target: '/dev/pts', flags: MS.NOSUID | MS.NOEXEC, data: 'gid=5,mode=620,ptmxmode=666' },
  { type: 'tmpfs', target: '/dev/shm', flags: MS.NOSUID | MS.NODEV, data: 'mode=1777' },
  { type: 'tmpfs', target: '/run', flags: MS.NOSUID | MS.NODEV, data: 'mode=0755' },
  { type: 'tmpfs', target: '/tmp', flags: MS.NOSUID | MS.NODEV, data: 'mode=1777' },
  { type: 'cgroup2', target: '/sys/fs/cgroup', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'nsdelegate' },
];

/** Mounts what is missing of the base set; a mount point already holding that filesystem type is left. */
export function mountBase(): StepResult {
  let table: MountEntry[] | undefined = existsSync('/proc/self/mountinfo') ? readMountInfo() : undefined;
  const mounted: string[] = [];
  for (const m of baseMounts) {
    if (table !== undefined && mountAt(table, m.target)?.fstype === m.type) continue;
    mkdirSync(m.target, { recursive: true });
    sys.mount(m.type, m.target, m.type, m.flags, m.data ?? null);
    mounted.push(m.target);
    if (m.type === 'proc' && table === undefined) table = readMountInfo();
  }
  const ptmx = linkPtmx();
  if (mounted.length === 0 && !ptmx) return skipped('all mounted');
  return done(`${mounted.join(' ')}${ptmx ? ' /dev/ptmx->pts/ptmx' : ''}`);
}

/** /dev/ptmx as a link to the devpts instance's own ptmx (whose ptmxmode=666 lets anyone open it). */
function linkPtmx(): boolean {
  try {
    if (lstatSync('/dev/ptmx').isSymbolicLink()) return false;
    unlinkSync('/dev/ptmx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  symlinkSync('pts/ptmx', '/dev/ptmx');
  return true;
}

/** `/` and everything below it shared, so bind mounts made later propagate into containers' views. */
export function makeRootShared(): StepResult {
  const root = mountAt(readMountInfo(), '/');
  if (root?.propagation.some((p) => p.startsWith('shared:'))) return skipped('already shared');
  sys.mount(null, '/', null, MS.REC | MS.SHARED);
  return done('/ rshared');
}

/** The spec's extra mounts (a cache disk, for instance); a target already mounted is left. */
export function mountExtra(mounts: MountSpec[]): StepResult {
  if (mounts.length === 0) return skipped('none in spec');
  const table = readMountInfo();
  const mounted: string[] = [];
  for (const m of mounts) {
    if (mountAt(table, m.target) !== undefined) continue;
    const { flags, data } = splitOptions(m.options);
    mkdirSync(m.target, { recursive: true });
    sys.mount(m.source, m.target, m.type, flags, data === '' ? null : data);
    mounted.push(m.target);
  }
  return mounted.length === 0 ? skipped('all mounted') : done(mounted.join(' '));
}
