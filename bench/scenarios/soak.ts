import http from 'node:http';
import { createContainer, removeContainer } from '../lib/containers.js';
import { memory, openFds } from '../lib/proc.js';
import { fmt, slope, table } from '../lib/stats.js';
import type { Target } from '../lib/targets.js';
import { CALLER_BIND_SOURCE } from './scenario.js';

/**
 * The target "fd count and RSS flat over create/rm cycles": `cycles` create + DELETE cycles (with
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
 * What counts as flat. fds: none gained after the first interval but one (the first interval opens the
 * soak's keep-alive connections); a leak of one per cycle, or per hundred, is far above that. RSS: the
 * slope over the second half of the run, extrapolated to 10,000 cycles. Not over the whole
 * run: Node's heap grows in steps to its working size early on (a plateau follows), while a leak keeps
 * growing to the end. Both slopes are printed.
 */
export const FLAT_FDS_GAINED = 1;
export const FLAT_RSS_MB_PER_10K = 10;

export interface SoakTrend {
  target: string;
  /** fds at the end minus fds after the first interval. */
  fdsGained: number;
  /** Per 1000 cycles, least squares over the points after the first interval. */
  fdsPer1000: number;
  rssMbPer1000: number;
  /** Per 1000 cycles, least squares over the second half of the run: what the verdict reads. */
  lateRssMbPer1000: number;
  flat: boolean;
}

export function soakTrends(result: SoakResult): SoakTrend[] {
  const settled = result.points.length > 2 ? result.points.slice(1) : result.points;
  const late = result.points.filter((p) => p.cycle >= result.done / 2);
  const fit = (points: readonly SoakPoint[], y: (p: SoakPoint) => number): number =>
    slope(
      points.map((p) => p.cycle),
      points.map(y),
    ) * 1000;
  return result.targets.map((target) => {
    const fdsGained = settled.at(-1)!.fds.get(target)! - settled[0]!.fds.get(target)!;
    const fdsPer1000 = fit(settled, (p) => p.fds.get(target)!);
    const rssMbPer1000 = fit(settled, (p) => p.rssMb.get(target)!);
    const lateRssMbPer1000 = fit(late, (p) => p.rssMb.get(target)!);
    const flat = fdsGained <= FLAT_FDS_GAINED && lateRssMbPer1000 * 10 <= FLAT_RSS_MB_PER_10K;
    return { target, fdsGained, fdsPer1000, rssMbPer1000, lateRssMbPer1000, flat };
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
      `${trend.target}: fds ${first.fds.get(trend.target)} → ${last.fds.get(trend.target)}, ${trend.fdsGained} gained after the first interval, slope ${trend.fdsPer1000.toFixed(2)} per 1000 cycles; ` +
        `RSS ${fmt(first.rssMb.get(trend.target)!)} → ${fmt(last.rssMb.get(trend.target)!)} MB, slope ${trend.rssMbPer1000.toFixed(2)} MB per 1000 cycles after the first interval, ` +
        `${trend.lateRssMbPer1000.toFixed(2)} over the second half; ${trend.flat ? 'flat' : 'NOT flat'}`,
    );
  }
  return out;
}

export function soakVerdicts(result: SoakResult): string[] {
  return soakTrends(result).map(
    (t) =>
      `${t.flat ? 'MET    ' : 'NOT MET'}  fd count and RSS flat over create/rm cycles: ${t.target} over ${result.done} cycles (the brief asks 10,000): ` +
      `${t.fdsGained} fds gained, RSS ${t.lateRssMbPer1000.toFixed(2)} MB per 1000 cycles over the second half ` +
      `(flat: ≤ ${FLAT_FDS_GAINED} fd gained after the first interval, RSS slope ≤ ${FLAT_RSS_MB_PER_10K} MB per 10,000 cycles)`,
  );
}
