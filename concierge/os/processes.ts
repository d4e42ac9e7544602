// Processes as /proc shows them: one reader of /proc/<pid>/stat for the reaper, the shutdown and the
// owner labels of containers.
import { readdirSync, readFileSync } from 'node:fs';

/** A process as its /proc/<pid>/stat shows it: the state letter (R, S, Z, ...), the parent's pid and its start time. */
export interface ProcessState {
  pid: number;
  state: string;
  ppid: number;
  /** Clock ticks after boot (field 22): with the pid, unique until reboot. */
  startTime: string;
}

/** One process's stat, or undefined when it is gone (or never was). */
export function readProcess(pid: number): ProcessState | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so read after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '0' };
}

/** Every process in /proc; one that ends while the list is read is left out. */
export function listProcesses(): ProcessState[] {
  const processes: ProcessState[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const found = readProcess(Number(name));
    if (found !== undefined) processes.push(found);
  }
  return processes;
}
