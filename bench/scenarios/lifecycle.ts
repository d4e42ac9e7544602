import http from 'node:http';
import { createContainer, removeQuietly, startContainer, waitContainer } from '../lib/containers.js';
import type { Target } from '../lib/targets.js';
import type { Context, Figures, SerialScenario } from './scenario.js';

/** `docker run --rm busybox true` as API calls: create, start, wait, rm. */
export const lifecycle: SerialScenario = {
  id: 'lifecycle',
  interleaved: false,
  async run(target: Target, ctx: Context): Promise<Figures> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const sock = target.socketPath;
    const samplesMs: number[] = [];
    const deadline = performance.now() + ctx.scale.loopSeconds * 1000;
    try {
      for (let i = 0; i < ctx.scale.lifecycleCycles && performance.now() < deadline; i++) {
        const t0 = performance.now();
        const id = await createContainer(sock, agent, { cmd: ['true'] });
        try {
          await startContainer(sock, agent, id);
          const code = await waitContainer(sock, agent, id, 30_000);
          if (code !== 0) throw new Error(`${target.name}: busybox true exited ${code}`);
        } finally {
          await removeQuietly(sock, agent, id);
        }
        samplesMs.push(performance.now() - t0);
      }
      return { lifecycle: { kind: 'latency', samplesMs } };
    } finally {
      agent.destroy();
    }
  },
};
