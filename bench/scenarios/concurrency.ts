import http from 'node:http';
import { request } from '../lib/http.js';
import type { Target } from '../lib/targets.js';
import type { Context, Figures, SerialScenario } from './scenario.js';

/**
 * N clients, each on its own keep-alive connection, sending `/_ping` back to back for a fixed time.
 * The rate counts answers completed inside the window after a short warm-up (connections opened).
 */
export const concurrentPing: SerialScenario = {
  id: 'concurrent',
  interleaved: false,
  async run(target: Target, ctx: Context): Promise<Figures> {
    const clients = ctx.scale.concurrentClients;
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    let counting = false;
    let count = 0;
    let requests = 0;
    let stop = false;
    const client = async (): Promise<void> => {
      while (!stop) {
        const answer = await request(target.socketPath, { path: '/_ping', agent, timeoutMs: 10_000 });
        if (answer.status !== 200) throw new Error(`${target.name}: /_ping answered ${answer.status}`);
        requests++;
        if (counting) count++;
      }
    };
    try {
      const running = Array.from({ length: clients }, () => client());
      await new Promise((r) => setTimeout(r, 300));
      counting = true;
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, ctx.scale.concurrentSeconds * 1000));
      counting = false;
      const seconds = (performance.now() - t0) / 1000;
      stop = true;
      await Promise.all(running);
      return { concurrent: { kind: 'rate', count, seconds, requests } };
    } finally {
      stop = true;
      agent.destroy();
    }
  },
};
