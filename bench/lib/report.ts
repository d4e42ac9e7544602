import type { Measure } from '../scenarios/scenario.js';
import type { CpuUse } from './rounds.js';
import { workUnit } from './rounds.js';
import { fmt, median, medianInterval, percentile, table } from './stats.js';

/** Turns the rounds' measures into the figures table and the verdicts against the targets. */

/** measures[measureId][targetName] = one Measure per round. */
export type Measures = Map<string, Map<string, Measure[]>>;

export interface Figure {
  id: string;
  label: string;
  unit: string;
  measure: string;
  stat: 'p50' | 'p99' | 'rate' | 'throughput';
  better: 'lower' | 'higher';
}

export const FIGURES: Figure[] = [
  { id: 'ping-ka-p50', label: '/_ping p50, one keep-alive conn', unit: 'ms', measure: 'ping-keepalive', stat: 'p50', better: 'lower' },
  { id: 'ping-ka-p99', label: '/_ping p99, one keep-alive conn', unit: 'ms', measure: 'ping-keepalive', stat: 'p99', better: 'lower' },
  { id: 'ping-new-p50', label: '/_ping p50, new conn per request', unit: 'ms', measure: 'ping-newconn', stat: 'p50', better: 'lower' },
  { id: 'ping-new-p99', label: '/_ping p99, new conn per request', unit: 'ms', measure: 'ping-newconn', stat: 'p99', better: 'lower' },
  { id: 'ping-newka-p50', label: '/_ping p50, new conn, keep-alive (CLI)', unit: 'ms', measure: 'ping-newconn-keepalive', stat: 'p50', better: 'lower' },
  { id: 'ping-newka-p99', label: '/_ping p99, new conn, keep-alive (CLI)', unit: 'ms', measure: 'ping-newconn-keepalive', stat: 'p99', better: 'lower' },
  { id: 'concurrent', label: '/_ping rate, 64 concurrent clients', unit: 'req/s', measure: 'concurrent', stat: 'rate', better: 'higher' },
  { id: 'list-p50', label: 'container list p50', unit: 'ms', measure: 'list', stat: 'p50', better: 'lower' },
  { id: 'lifecycle-p50', label: 'create/start/wait/rm p50', unit: 'ms', measure: 'lifecycle', stat: 'p50', better: 'lower' },
  { id: 'cp-in', label: 'docker cp in (archive PUT)', unit: 'MB/s', measure: 'cp-in', stat: 'throughput', better: 'higher' },
  { id: 'cp-out', label: 'docker cp out (archive GET)', unit: 'MB/s', measure: 'cp-out', stat: 'throughput', better: 'higher' },
  { id: 'attach', label: 'attach stream', unit: 'MB/s', measure: 'attach', stat: 'throughput', better: 'higher' },
  { id: 'logs', label: 'logs', unit: 'MB/s', measure: 'logs', stat: 'throughput', better: 'higher' },
  { id: 'bind-create-p50', label: 'create with a bind p50 (caller: translated)', unit: 'ms', measure: 'bind-create', stat: 'p50', better: 'lower' },
  { id: 'bind-create-p99', label: 'create with a bind p99 (caller: translated)', unit: 'ms', measure: 'bind-create', stat: 'p99', better: 'lower' },
  { id: 'bind-cycle-p50', label: 'create with a bind + DELETE p50', unit: 'ms', measure: 'bind-cycle', stat: 'p50', better: 'lower' },
  { id: 'bind-cycle-p99', label: 'create with a bind + DELETE p99', unit: 'ms', measure: 'bind-cycle', stat: 'p99', better: 'lower' },
];

/** Target: what a create with a translated bind may add to direct dockerd's p50. */
export const TRANSLATED_BIND_LIMIT_MS = 2;

/** Target: the limit on concierge's ratio to direct dockerd for a figure. */
export const RATIO_TARGETS: Array<{ figure: string; text: string; limit: number }> = [
  { figure: 'ping-ka-p50', text: '/_ping p50 ≤ 1.10× direct (keep-alive)', limit: 1.1 },
  { figure: 'ping-new-p50', text: '/_ping p50 ≤ 1.10× direct (new connection per request)', limit: 1.1 },
  { figure: 'concurrent', text: '64 concurrent clients req/s ≥ 0.90× direct', limit: 0.9 },
  { figure: 'list-p50', text: 'container list p50 ≤ 1.10× direct', limit: 1.1 },
  { figure: 'cp-in', text: 'docker cp in ≥ 0.90× direct throughput', limit: 0.9 },
  { figure: 'cp-out', text: 'docker cp out ≥ 0.90× direct throughput', limit: 0.9 },
  { figure: 'attach', text: 'attach ≥ 0.90× direct throughput', limit: 0.9 },
  { figure: 'logs', text: 'logs ≥ 0.90× direct throughput', limit: 0.9 },
];

/** A figure's value from a list of per-round measures (latencies pooled; rates the median of rounds). */
export function value(figure: Figure, rounds: readonly Measure[]): number {
  if (rounds.length === 0) return Number.NaN;
  switch (figure.stat) {
    case 'p50':
    case 'p99': {
      const samples = rounds.flatMap((m) => (m.kind === 'latency' ? m.samplesMs : []));
      return percentile(samples, figure.stat === 'p50' ? 50 : 99);
    }
    case 'rate':
      return median(rounds.map((m) => (m.kind === 'rate' ? m.count / m.seconds : Number.NaN)));
    case 'throughput':
      return median(rounds.map((m) => (m.kind === 'throughput' ? m.bytes / 1e6 / m.seconds : Number.NaN)));
  }
}

export interface Results {
  targets: string[];
  values: Map<string, Map<string, number>>; // figure id -> target -> value
  /** Per-round ratio of each proxy to direct, to show how much of a ratio is noise. */
  roundRatios: Map<string, Map<string, number[]>>;
}

export function summarize(measures: Measures, targets: string[]): Results {
  const values = new Map<string, Map<string, number>>();
  const roundRatios = new Map<string, Map<string, number[]>>();
  for (const figure of FIGURES) {
    const byTarget = measures.get(figure.measure) ?? new Map<string, Measure[]>();
    const v = new Map<string, number>();
    const rr = new Map<string, number[]>();
    const directRounds = byTarget.get('direct') ?? [];
    for (const target of targets) {
      const rounds = byTarget.get(target) ?? [];
      v.set(target, value(figure, rounds));
      rr.set(
        target,
        rounds.map((m, i) => {
          const d = directRounds[i];
          return d === undefined ? Number.NaN : value(figure, [m]) / value(figure, [d]);
        }),
      );
    }
    values.set(figure.id, v);
    roundRatios.set(figure.id, rr);
  }
  return { targets, values, roundRatios };
}

export function ratio(results: Results, figure: string, target: string): number {
  const v = results.values.get(figure);
  return (v?.get(target) ?? Number.NaN) / (v?.get('direct') ?? Number.NaN);
}

/** A ratio, or '-' where the target does not run the figure's scenario. */
function ratioText(r: number): string {
  return Number.isFinite(r) ? r.toFixed(2) : '-';
}

export function figuresTable(results: Results): string {
  const proxies = results.targets.filter((t) => t !== 'direct');
  const header = ['figure', 'unit', 'direct', ...proxies.flatMap((t) => [t, '×direct']), ...proxies.map((t) => `${t} ×direct per round`)];
  const rows = [header];
  for (const figure of FIGURES) {
    const v = results.values.get(figure.id)!;
    rows.push([
      figure.label,
      figure.unit,
      fmt(v.get('direct') ?? Number.NaN),
      ...proxies.flatMap((t) => [fmt(v.get(t) ?? Number.NaN), ratioText(ratio(results, figure.id, t))]),
      ...proxies.map((t) => (results.roundRatios.get(figure.id)?.get(t) ?? []).map(ratioText).join(' ')),
    ]);
  }
  return table(rows);
}

/** True when `a` is better than `b` on the figure. */
function ahead(figure: Figure, a: number, b: number): boolean {
  return figure.better === 'lower' ? a < b : a > b;
}

export function verdicts(results: Results, concierge: string): string[] {
  const lines: string[] = [];
  for (const t of RATIO_TARGETS) {
    const r = ratio(results, t.figure, concierge);
    const figure = FIGURES.find((f) => f.id === t.figure)!;
    const met = figure.better === 'lower' ? r <= t.limit : r >= t.limit;
    lines.push(`${met ? 'MET    ' : 'NOT MET'}  ${t.text}: ${concierge} ${r.toFixed(2)}×`);
  }
  if (results.targets.includes('haproxy')) {
    // Only rows both ran (HAProxy is not in the bind scenario).
    const behind = FIGURES.filter((f) => {
      const v = results.values.get(f.id)!;
      const mine = v.get(concierge) ?? Number.NaN;
      const theirs = v.get('haproxy') ?? Number.NaN;
      return Number.isFinite(mine) && Number.isFinite(theirs) && !ahead(f, mine, theirs);
    });
    lines.push(
      behind.length === 0
        ? `MET      ahead of HAProxy on every row`
        : `NOT MET  ahead of HAProxy on every row: behind or equal on ${behind.map((f) => f.label).join('; ')}`,
    );
  }
  return lines;
}

/**
 * Where CPU went while each scenario ran: the bench client, dockerd, the proxy (as % of one core over
 * the scenario's wall time), and the proxy's CPU per unit of work, which noise on the machine barely
 * moves (µs per request, ms per container cycle, ms per MB streamed).
 */
export function cpuTable(uses: Iterable<CpuUse>): string {
  const rows = [['scenario', 'target', 'wall s', 'client', 'dockerd', 'proxy', 'proxy CPU per unit']];
  for (const u of uses) {
    const pct = (x: number): string => `${((100 * x) / u.wall).toFixed(0)}%`;
    const unit = workUnit(u.scenario);
    const cost =
      u.target === 'direct' || u.work === 0
        ? '-'
        : unit === 'request'
          ? `${fmt((u.proxy / u.work) * 1e6)} µs/req`
          : unit === 'cycle'
            ? `${fmt((u.proxy / u.work) * 1e3)} ms/cycle`
            : `${fmt((u.proxy / (u.work / 1e6)) * 1e3)} ms/MB`;
    rows.push([
      u.scenario,
      u.interleaved ? `${u.target}*` : u.target,
      u.wall.toFixed(1),
      pct(u.client),
      pct(u.dockerd),
      u.target === 'direct' ? '-' : pct(u.proxy),
      cost,
    ]);
  }
  return `${table(rows)}\n* latency loops run all targets request by request: their wall, client and dockerd figures cover all targets together`;
}

/** Per-cycle differences `target − direct` of a latency measure, paired by round and cycle (same iteration). */
function pairedDifferences(measures: Measures, measure: string, target: string): number[] {
  const byTarget = measures.get(measure);
  const mine = byTarget?.get(target) ?? [];
  const direct = byTarget?.get('direct') ?? [];
  const out: number[] = [];
  mine.forEach((m, round) => {
    const d = direct[round];
    if (m.kind !== 'latency' || d?.kind !== 'latency') return;
    for (let i = 0; i < Math.min(m.samplesMs.length, d.samplesMs.length); i++) out.push(m.samplesMs[i]! - d.samplesMs[i]!);
  });
  return out;
}

/**
 * The translated-bind target: the caller socket's create p50 minus direct dockerd's, with
 * the transparent proxy's difference beside it (the part that is transport, not translation) and the
 * median of per-cycle paired differences with its ~95% interval (how much of the figure is noise).
 */
export function bindVerdicts(results: Results, measures: Measures, caller: string, transparent: string | undefined): string[] {
  const p50 = (figure: string, target: string): number => results.values.get(figure)?.get(target) ?? Number.NaN;
  const lines: string[] = [];
  for (const [figure, measure, what] of [
    ['bind-create-p50', 'bind-create', 'create'],
    ['bind-cycle-p50', 'bind-cycle', 'create + DELETE'],
  ] as const) {
    const added = p50(figure, caller) - p50(figure, 'direct');
    const viaProxy = transparent === undefined ? '' : `; transparent ${transparent} − direct ${fmt(p50(figure, transparent) - p50(figure, 'direct'))} ms`;
    const pairs = medianInterval(pairedDifferences(measures, measure, caller));
    const detail = `${caller} ${fmt(p50(figure, caller))} ms − direct ${fmt(p50(figure, 'direct'))} ms = ${fmt(added)} ms${viaProxy}; per-cycle paired difference median ${fmt(pairs.median)} ms, ~95% interval [${fmt(pairs.low)}, ${fmt(pairs.high)}] over ${pairs.n} cycles`;
    if (measure === 'bind-create') {
      const met = added <= TRANSLATED_BIND_LIMIT_MS;
      lines.push(`${met ? 'MET    ' : 'NOT MET'}  create with a translated bind adds ≤ ${TRANSLATED_BIND_LIMIT_MS} ms p50: ${detail}`);
    } else {
      lines.push(`info     ${what} with a translated bind, added p50: ${detail}`);
    }
  }
  return lines;
}
