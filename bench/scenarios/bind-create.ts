import http from 'node:http';
import { createContainer, removeContainer } from '../lib/containers.js';
import type { Target } from '../lib/targets.js';
import { CALLER_BIND_SOURCE, type Context, type Figures, type InterleavedScenario } from './scenario.js';

/**
 * `docker create -v <dir>:/d busybox true` then `docker rm`, as API calls: on direct dockerd and the
 * transparent concierge with a host directory, on the caller-aware socket with `/data` of its caller,
 * which it resolves in the caller's root and binds to a staging path before dockerd sees the create
 *; its DELETE also looks the container up (ownership) and releases the staging bind.
 * Interleaved cycle by cycle, so a slow spell of dockerd lands on every target alike and the i-th
 * samples of two targets can be compared as a pair.
 */
export const bindCreate: InterleavedScenario = {
  id: 'bind-create',
  interleaved: true,
  appliesTo: (t) => t.callerRoot !== undefined || t.name === 'direct' || t.name === 'concierge' || t.name === 'concierge-js',
  async run(targets: readonly Target[], ctx: Context): Promise<Map<string, Figures>> {
    const agents = new Map(targets.map((t) => [t.name, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
    const created = new Map(targets.map((t) => [t.name, [] as number[]]));
    const cycles = new Map(targets.map((t) => [t.name, [] as number[]]));
    const cycle = async (target: Target, record: boolean): Promise<void> => {
      const agent = agents.get(target.name)!;
      const source = target.callerRoot === undefined ? ctx.hostBindSource : CALLER_BIND_SOURCE;
      const t0 = performance.now();
      const id = await createContainer(target.socketPath, agent, { cmd: ['true'], binds: [`${source}:/d`] });
      const t1 = performance.now();
      await removeContainer(target.socketPath, agent, id);
      const t2 = performance.now();
      if (record) {
        created.get(target.name)!.push(t1 - t0);
        cycles.get(target.name)!.push(t2 - t0);
      }
    };
    try {
      for (const t of targets) await cycle(t, false); // connections opened and code paths warmed outside the timed loop
      const deadline = performance.now() + ctx.scale.bindSeconds * 1000;
      for (let i = 0; i < ctx.scale.bindCycles && performance.now() < deadline; i++) {
        for (let k = 0; k < targets.length; k++) await cycle(targets[(i + k) % targets.length]!, true);
      }
      return new Map(
        targets.map((t) => [
          t.name,
          {
            'bind-create': { kind: 'latency', samplesMs: created.get(t.name)! },
            'bind-cycle': { kind: 'latency', samplesMs: cycles.get(t.name)! },
          },
        ]),
      );
    } finally {
      for (const a of agents.values()) a.destroy();
    }
  },
};
