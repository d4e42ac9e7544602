import http from 'node:http';
import { API } from '../lib/http.js';
import type { Target } from '../lib/targets.js';
import { interleavedLatencies } from './latency-loop.js';
import type { Context, Figures, InterleavedScenario } from './scenario.js';

/** `docker ps -a` of the bench's own containers on one keep-alive connection: a JSON answer of some KiB. */
export const containerList: InterleavedScenario = {
  id: 'list',
  interleaved: true,
  async run(targets: readonly Target[], ctx: Context): Promise<Map<string, Figures>> {
    const agents = new Map(targets.map((t) => [t.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
    const path = `${API}/containers/json?all=1&filters=${encodeURIComponent(ctx.listFilter)}`;
    try {
      const agentFor = (t: Target): http.Agent => agents.get(t.name)!;
      await interleavedLatencies(targets, agentFor, path, 1, 5);
      const samples = await interleavedLatencies(targets, agentFor, path, ctx.scale.listRequests, ctx.scale.loopSeconds);
      return new Map([...samples].map(([name, samplesMs]) => [name, { list: { kind: 'latency', samplesMs } }]));
    } finally {
      for (const a of agents.values()) a.destroy();
    }
  },
};
