// os/: OS primitives over sys/ (this file: /proc/<pid>/mountinfo); mount options, the /proc walk and netlink beside it.
import { readFileSync } from 'node:fs';

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  id: number;
  parent: number;
  /** Path inside the filesystem that is mounted (not "/" for bind mounts of a subdirectory). */
  root: string;
  mountPoint: string;
  options: string[];
  /** Optional fields such as "shared:1", "master:2". */
  propagation: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

// Paths in mountinfo escape space, tab, newline and backslash as \ooo. Most have none: the pattern
// then never runs (under emulation its first compile to machine code took 10-20 ms of the boot).
const unescape = (s: string): string => !s.includes('\\') ? s : s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 3) throw new Error(`unexpected mountinfo line: ${line}`);
    entries.push({
      id: Number(fields[0]),
      parent: Number(fields[1]),
      root: unescape(fields[3] ?? ''),
      mountPoint: unescape(fields[4] ?? ''),
      options: (fields[5] ?? '').split(','),
      propagation: fields.slice(6, dash),
      fstype: fields[dash + 1] ?? '',
      source: unescape(fields[dash + 2] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return entries;
}

export function readMountInfo(pid: number | 'self' = 'self'): MountEntry[] {
  return parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
}

/** The mount visible at a path: the last one mounted there (mounts stack). */
export function mountAt(entries: MountEntry[], mountPoint: string): MountEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (entries[i]?.mountPoint === mountPoint) return entries[i];
  return undefined;
}
