// A workload's cgroup v2 directory (runc makes it from the runtime spec's cgroupsPath) and the figures
// read from it: OOM kills for the exit report, CPU, memory and IO for the metrics.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const cgroupRoot = '/sys/fs/cgroup';

/** The runtime spec's cgroupsPath for a workload: one leaf per container under its namespace. */
export function cgroupsPath(namespace: string, containerId: string): string {
  return `/${namespace}/${containerId}`;
}

/** `key value` lines (memory.events, cpu.stat) -> numbers; absent file -> undefined. */
export function readKeyedFile(path: string): Map<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return parseKeyed(text);
}

export function parseKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key !== undefined && key !== '' && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** OOM kills in the cgroup and below (memory.events `oom_kill`); 0 when it cannot be read. */
export function oomKills(dir: string): number {
  return readKeyedFile(join(dir, 'memory.events'))?.get('oom_kill') ?? 0;
}

export interface CgroupFigures {
  cpuUsageSeconds: number;
  memoryCurrentBytes: number;
  memoryPeakBytes: number | undefined;
  ioReadBytes: number;
  ioWriteBytes: number;
  oomKills: number;
}

/** io.stat: `8:0 rbytes=1 wbytes=2 rios=...` per device -> totals. */
export function parseIoStat(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const m of text.matchAll(/\b(rbytes|wbytes)=(\d+)/g)) {
    if (m[1] === 'rbytes') read += Number(m[2]);
    else write += Number(m[2]);
  }
  return { read, write };
}

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The figures of a cgroup directory, or undefined when it is gone. */
export function readCgroupFigures(dir: string): CgroupFigures | undefined {
  const cpu = readKeyedFile(join(dir, 'cpu.stat'));
  if (cpu === undefined) return undefined;
  let io = { read: 0, write: 0 };
  try {
    io = parseIoStat(readFileSync(join(dir, 'io.stat'), 'utf8'));
  } catch {
    // No io controller enabled for this cgroup: no IO figures.
  }
  return {
    cpuUsageSeconds: (cpu.get('usage_usec') ?? 0) / 1e6,
    memoryCurrentBytes: readNumber(join(dir, 'memory.current')) ?? 0,
    memoryPeakBytes: readNumber(join(dir, 'memory.peak')),
    ioReadBytes: io.read,
    ioWriteBytes: io.write,
    oomKills: oomKills(dir),
  };
}
