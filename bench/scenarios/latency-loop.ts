import type http from 'node:http';
import { request } from '../lib/http.js';
import type { Target } from '../lib/targets.js';

/**
 * Sequential requests, interleaved across targets request by request: i-th request to each target,
 * in an order rotated every iteration. Returns each target's latencies in ms.
 */
export async function interleavedLatencies(
  targets: readonly Target[],
  agentFor: (target: Target) => http.Agent | false,
  path: string,
  count: number,
  seconds: number,
  /** Called with each request's agent once it is answered (outside the timing). */
  after?: (agent: http.Agent | false) => void,
): Promise<Map<string, number[]>> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  const deadline = performance.now() + seconds * 1000;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    for (let k = 0; k < targets.length; k++) {
      const target = targets[(i + k) % targets.length]!;
      const agent = agentFor(target);
      const t0 = performance.now();
      const answer = await request(target.socketPath, { path, agent, timeoutMs: 10_000 });
      samples.get(target.name)!.push(performance.now() - t0);
      after?.(agent);
      if (answer.status !== 200) throw new Error(`${target.name}: ${path} answered ${answer.status}`);
    }
  }
  return samples;
}
