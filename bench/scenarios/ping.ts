import http from 'node:http';
import type { Target } from '../lib/targets.js';
import { interleavedLatencies } from './latency-loop.js';
import type { Context, Figures, InterleavedScenario } from './scenario.js';

/** Sequential `/_ping` requests: the proxy's per-request cost with nothing else going on. */

/** One keep-alive connection per target, requests one after another. */
export const pingKeepAlive: InterleavedScenario = {
  id: 'ping-keepalive',
  interleaved: true,
  async run(targets: readonly Target[], ctx: Context): Promise<Map<string, Figures>> {
    const agents = new Map(targets.map((t) => [t.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
    try {
      const agentFor = (t: Target): http.Agent => agents.get(t.name)!;
      await interleavedLatencies(targets, agentFor, '/_ping', 1, 5); // connections opened outside the timed loop
      const samples = await interleavedLatencies(targets, agentFor, '/_ping', ctx.scale.pingRequests, ctx.scale.loopSeconds);
      return new Map([...samples].map(([name, samplesMs]) => [name, { 'ping-keepalive': { kind: 'latency', samplesMs } }]));
    } finally {
      for (const a of agents.values()) a.destroy();
    }
  },
};

/** A new connection per request (Node then sends `Connection: close`), as one-shot docker CLI calls do. */
export const pingNewConnection: InterleavedScenario = {
  id: 'ping-newconn',
  interleaved: true,
  async run(targets: readonly Target[], ctx: Context): Promise<Map<string, Figures>> {
    const samples = await interleavedLatencies(targets, () => false, '/_ping', ctx.scale.newConnectionRequests, ctx.scale.loopSeconds);
    return new Map([...samples].map(([name, samplesMs]) => [name, { 'ping-newconn': { kind: 'latency', samplesMs } }]));
  },
};

/**
 * A new connection per request without `Connection: close`, closed by the client once answered: what the
 * Go docker CLI, compose and SDKs with keep-alive agents do for each command. A proxy may reuse its
 * dockerd connection for the next client here; with `Connection: close` (above) dockerd closes it.
 */
export const pingNewKeepAliveConnection: InterleavedScenario = {
  id: 'ping-newconn-keepalive',
  interleaved: true,
  async run(targets: readonly Target[], ctx: Context): Promise<Map<string, Figures>> {
    const samples = await interleavedLatencies(targets, () => new http.Agent({ keepAlive: true, maxSockets: 1 }), '/_ping',
      ctx.scale.newConnectionRequests, ctx.scale.loopSeconds, (agent) => { if (agent !== false) agent.destroy(); });
    return new Map([...samples].map(([name, samplesMs]) => [name, { 'ping-newconn-keepalive': { kind: 'latency', samplesMs } }]));
  },
};
