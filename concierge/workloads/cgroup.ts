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

/** A cgroup v2 limit file: a number, or "max" (no limit). */
export type Limit = number | 'max';

/**
 * A cgroup's own files as the kernel names them (what a container runtime's stats report is made of):
 * undefined when the cgroup is gone; a file its controllers lack is left out.
 */
export interface CgroupStats {
  'memory.current'?: number;
  'memory.max'?: Limit;
  'memory.swap.current'?: number;
  'memory.swap.max'?: Limit;
  'memory.stat'?: Record<string, number>;
  'memory.events'?: Record<string, number>;
  'cpu.stat'?: Record<string, number>;
  'pids.current'?: number;
  'pids.max'?: Limit;
}

function readLimit(path: string): Limit | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text === 'max' ? 'max' : Number(text);
  } catch {
    return undefined;
  }
}

export function readCgroupStats(dir: string): CgroupStats | undefined {
  const cpu = readKeyedFile(join(dir, 'cpu.stat'));
  if (cpu === undefined) return undefined;
  const stats: CgroupStats = { 'cpu.stat': Object.fromEntries(cpu) };
  const set = <K extends keyof CgroupStats>(key: K, value: CgroupStats[K] | undefined): void => {
    if (value !== undefined) stats[key] = value;
  };
  const keyed = (file: string): Record<string, number> | undefined => {
    const m = readKeyedFile(join(dir, file));
    return m === undefined ? undefined : Object.fromEntries(m);
  };
  set('memory.current', readNumber(join(dir, 'memory.current')));
  set('memory.max', readLimit(join(dir, 'memory.max')));
  set('memory.swap.current', readNumber(join(dir, 'memory.swap.current')));
  set('memory.swap.max', readLimit(join(dir, 'memory.swap.max')));
  set('memory.stat', keyed('memory.stat'));
  set('memory.events', keyed('memory.events'));
  set('pids.current', readNumber(join(dir, 'pids.current')));
  set('pids.max', readLimit(join(dir, 'pids.max')));
  return stats;
}
