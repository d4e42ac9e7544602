import { API, requestCounted } from '../lib/http.js';
import type { Target } from '../lib/targets.js';
import type { Context, Figures, SerialScenario } from './scenario.js';

/** `docker logs` of a stopped container whose json-file log holds `streamBytes` of output. */
export const logs: SerialScenario = {
  id: 'logs',
  interleaved: false,
  async run(target: Target, ctx: Context): Promise<Figures> {
    const answer = await requestCounted(target.socketPath, {
      path: `${API}/containers/${ctx.logsContainer}/logs?stdout=1&stderr=1`,
      agent: false,
      timeoutMs: 120_000,
    });
    if (answer.status !== 200) throw new Error(`${target.name}: logs answered ${answer.status}`);
    if (answer.bytes < ctx.scale.streamBytes) throw new Error(`${target.name}: logs gave ${answer.bytes} bytes, expected > ${ctx.scale.streamBytes}`);
    return { logs: { kind: 'throughput', bytes: answer.bytes, seconds: (answer.endedAt - answer.sentAt) / 1000 } };
  },
};
