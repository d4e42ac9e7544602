import type { Context, Figures, Scenario } from '../scenarios/scenario.js';
import { cpuSeconds, ownCpuSeconds } from './proc.js';
import type { Measures } from './report.js';
import type { Target } from './targets.js';

/**
 * Runs the scenarios round after round. Within a round each scenario runs on every target before the
 * next scenario starts (serial scenarios one target after another, latency loops request by request),
 * and the order of targets rotates each round, so noise on the shared machine hits all targets alike.
 * CPU time of the bench itself, dockerd and each proxy is recorded per scenario and target.
 */

/** CPU seconds spent while a scenario ran on a target, summed over rounds. */
export interface CpuUse {
  scenario: string;
  target: string;
  /** Latency loops measure all targets at once: client and dockerd figures cover all of them. */
  interleaved: boolean;
  wall: number;
  client: number;
  dockerd: number;
  proxy: number;
  /** Work done on this target: requests, cycles or bytes (see workUnit). */
  work: number;
}

export function workUnit(scenario: string): 'request' | 'cycle' | 'byte' {
  if (scenario === 'lifecycle' || scenario === 'bind-create') return 'cycle';
  if (scenario === 'archive' || scenario === 'attach' || scenario === 'logs') return 'byte';
  return 'request';
}

/**
 * Work done in one scenario run: bytes and requests add up over its figures, but latency figures of
 * one scenario time parts of the same requests (create, and create + DELETE), so they count once.
 */
function work(figures: Figures): number {
  let total = 0;
  let timed = 0;
  for (const m of Object.values(figures)) {
    if (m.kind === 'latency') timed = Math.max(timed, m.samplesMs.length);
    else total += m.kind === 'rate' ? m.requests : m.bytes;
  }
  return total + timed;
}

const defaultTargets = (t: Target): boolean => t.callerRoot === undefined;

interface Snapshot {
  wall: number;
  client: number;
  dockerd: number;
  proxies: Map<string, number>;
}

export class Rounds {
  readonly measures: Measures = new Map();
  readonly cpu = new Map<string, CpuUse>();

  constructor(
    private readonly targets: readonly Target[],
    private readonly dockerdPid: number | undefined,
  ) {}

  private snapshot(): Snapshot {
    return {
      wall: performance.now(),
      client: ownCpuSeconds(),
      dockerd: this.dockerdPid === undefined ? 0 : cpuSeconds(this.dockerdPid),
      proxies: new Map(this.targets.map((t) => [t.name, t.pid === undefined ? 0 : cpuSeconds(t.pid)])),
    };
  }

  private record(scenario: string, target: string, interleaved: boolean, before: Snapshot, after: Snapshot, figures: Figures): void {
    const key = `${scenario}\0${target}`;
    const use = this.cpu.get(key) ?? { scenario, target, interleaved, wall: 0, client: 0, dockerd: 0, proxy: 0, work: 0 };
    use.wall += (after.wall - before.wall) / 1000;
    use.client += after.client - before.client;
    use.dockerd += after.dockerd - before.dockerd;
    use.proxy += after.proxies.get(target)! - before.proxies.get(target)!;
    use.work += work(figures);
    this.cpu.set(key, use);
    for (const [id, m] of Object.entries(figures)) {
      if (!this.measures.has(id)) this.measures.set(id, new Map());
      const byTarget = this.measures.get(id)!;
      byTarget.set(target, [...(byTarget.get(target) ?? []), m]);
    }
  }

  async round(index: number, scenarios: readonly Scenario[], ctx: Context): Promise<void> {
    const order = this.targets.map((_, i) => this.targets[(i + index) % this.targets.length]!);
    for (const scenario of scenarios) {
      const targets = order.filter(scenario.appliesTo ?? defaultTargets);
      if (scenario.interleaved) {
        const before = this.snapshot();
        const results = await scenario.run(targets, ctx).catch((err: Error) => {
          throw new Error(`${scenario.id} (targets interleaved): ${err.message}`, { cause: err });
        });
        const after = this.snapshot();
        for (const [target, figures] of results) this.record(scenario.id, target, true, before, after, figures);
        continue;
      }
      for (const target of targets) {
        const before = this.snapshot();
        const figures = await scenario.run(target, ctx).catch((err: Error) => {
          throw new Error(`${scenario.id} on ${target.name}: ${err.message}`, { cause: err });
        });
        this.record(scenario.id, target.name, false, before, this.snapshot(), figures);
      }
    }
  }
}
