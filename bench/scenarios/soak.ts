import http from 'node:http';
import { createContainer, removeContainer } from '../lib/containers.js';
import { memory, openFds } from '../lib/proc.js';
import { fmt, slope, table } from '../lib/stats.js';
import type { Target } from '../lib/targets.js';
import { CALLER_BIND_SOURCE } from './scenario.js';

/**
 * Brief section 6's "fd count and RSS flat over create/rm cycles": `cycles` create + DELETE cycles (with
 * a bind, so a caller-aware socket stages and releases one each time) on each proxy in turn, its fds and
 * RSS read every `cycles`/20 cycles. Bounded by `budgetSeconds`: it stops early and says so.
 */

export interface SoakPoint {
  cycle: number;
  seconds: number;
  /** Per target name. */
  fds: Map<string, number>;
  rssMb: Map<string, number>;
}

export interface SoakResult {
  asked: number;
  done: number;
  seconds: number;
  points: SoakPoint[];
  targets: string[];
}

export async function createRemoveSoak(targets: readonly Target[], cycles: number, budgetSeconds: number, hostBindSource: string, log: (line: string) => void): Promise<SoakResult> {
  for (const t of targets) if (t.pid === undefined) throw new Error(`the soak reads a proxy process; ${t.name} has none`);
  const every = Math.max(1, Math.round(cycles / 20));
  const agents = new Map(targets.map((t) => [t.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
  const t0 = performance.now();
  const seconds = (): number => (performance.now() - t0) / 1000;
  const points: SoakPoint[] = [];
  const sample = (cycle: number): void => {
    points.push({
      cycle,
      seconds: seconds(),
      fds: new Map(targets.map((t) => [t.name, openFds(t.pid!)])),
      rssMb: new Map(targets.map((t) => [t.name, memory(t.pid!).rssMb])),
    });
  };
  let done = 0;
  try {
    sample(0);
    while (done < cycles && seconds() < budgetSeconds) {
      for (let k = 0; k < targets.length; k++) {
        const target = targets[(done + k) % targets.length]!;
        const agent = agents.get(target.name)!;
        const source = target.callerRoot === undefined ? hostBindSource : CALLER_BIND_SOURCE;
        const id = await createContainer(target.socketPath, agent, { cmd: ['true'], binds: [`${source}:/d`] });
        await removeContainer(target.socketPath, agent, id);
      }
      done++;
      if (done % every === 0 || done === cycles) {
        sample(done);
        log(`soak: ${done}/${cycles} cycles at ${seconds().toFixed(0)} s`);
      }
    }
    if (points.at(-1)!.cycle !== done) sample(done);
    return { asked: cycles, done, seconds: seconds(), points, targets: targets.map((t) => t.name) };
  } finally {
    for (const a of agents.values()) a.destroy();
  }
}

/**
 * What counts as flat. fds: none gained after the first interval, but one (a keep-alive or events
 * connection being replaced as a point is read); a leak of one per cycle, or per hundred, is far above
 * that. RSS: the slope after the first interval, extrapolated to the brief's 10,000 cycles; a short run's
 * slope carries GC noise, so the figure is printed beside the verdict.
 */
export const FLAT_FDS_GAINED = 1;
export const FLAT_RSS_MB_PER_10K = 10;

export interface SoakTrend {
  target: string;
  /** Per 1000 cycles, least squares over the points after the first interval (warm-up: lazy loads, JIT, heap growth). */
  fdsPer1000: number;
  rssMbPer1000: number;
  /** fds at the end minus fds after the first interval. */
  fdsGained: number;
  flat: boolean;
}

export function soakTrends(result: SoakResult): SoakTrend[] {
  const settled = result.points.length > 2 ? result.points.slice(1) : result.points;
  const xs = settled.map((p) => p.cycle);
  return result.targets.map((target) => {
    const fds = settled.map((p) => p.fds.get(target)!);
    const fdsPer1000 = slope(xs, fds) * 1000;
    const rssMbPer1000 = slope(xs, settled.map((p) => p.rssMb.get(target)!)) * 1000;
    const fdsGained = fds.at(-1)! - fds[0]!;
    const flat = fdsGained <= FLAT_FDS_GAINED && rssMbPer1000 * 10 <= FLAT_RSS_MB_PER_10K;
    return { target, fdsPer1000, rssMbPer1000, fdsGained, flat };
  });
}

export function soakReport(result: SoakResult): string[] {
  const out: string[] = [];
  const per = result.done > 0 ? (result.seconds / result.done) * 1000 : Number.NaN;
  out.push(
    `create/rm soak: ${result.done} of ${result.asked} cycles (each a create with a bind + DELETE on every one of ${result.targets.join(', ')}) in ${result.seconds.toFixed(0)} s, ${fmt(per)} ms per cycle; fds and RSS (MB) of each proxy:`,
  );
  const rows = [['cycle', 's', ...result.targets.flatMap((t) => [`${t} fds`, `${t} RSS`])]];
  for (const p of result.points) {
    rows.push([String(p.cycle), p.seconds.toFixed(0), ...result.targets.flatMap((t) => [String(p.fds.get(t)), fmt(p.rssMb.get(t)!)])]);
  }
  out.push(table(rows));
  const first = result.points[0]!;
  const last = result.points.at(-1)!;
  for (const trend of soakTrends(result)) {
    out.push(
      `${trend.target}: fds ${first.fds.get(trend.target)} → ${last.fds.get(trend.target)}, slope ${trend.fdsPer1000.toFixed(2)} per 1000 cycles; ` +
        `RSS ${fmt(first.rssMb.get(trend.target)!)} → ${fmt(last.rssMb.get(trend.target)!)} MB, slope ${trend.rssMbPer1000.toFixed(2)} MB per 1000 cycles ` +
        `(slopes after the first interval); ${trend.flat ? 'flat' : 'NOT flat'}`,
    );
  }
  return out;
}

export function soakVerdicts(result: SoakResult): string[] {
  return soakTrends(result).map(
    (t) =>
      `${t.flat ? 'MET    ' : 'NOT MET'}  fd count and RSS flat over create/rm cycles: ${t.target} over ${result.done} cycles (the brief asks 10,000): ` +
      `fds gained ${t.fdsGained} (slope ${t.fdsPer1000.toFixed(2)}/1000 cycles), RSS ${t.rssMbPer1000.toFixed(2)} MB/1000 cycles ` +
      `(flat: ≤ ${FLAT_FDS_GAINED} fd gained after the first interval, RSS slope ≤ ${FLAT_RSS_MB_PER_10K} MB per 10,000 cycles)`,
  );
}
