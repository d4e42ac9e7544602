import { readdirSync, readFileSync } from 'node:fs';

/** A process as its /proc/<pid>/stat shows it: the state letter (R, S, Z, ...) and the parent's pid. */
export interface ProcessState {
  pid: number;
  state: string;
  ppid: number;
}

/** Every process in /proc; one that ends while the list is read is left out. */
export function listProcesses(): ProcessState[] {
  const processes: ProcessState[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    processes.push({ pid: Number(name), state: state ?? '', ppid: Number(ppid) });
  }
  return processes;
}
