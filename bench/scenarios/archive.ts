import http from 'node:http';
import { createContainer, removeQuietly } from '../lib/containers.js';
import { API, requestCounted } from '../lib/http.js';
import { singleFileArchive, singleFileArchiveSize } from '../../test/lib/tar.js';
import type { Target } from '../lib/targets.js';
import type { Context, Figures, SerialScenario } from './scenario.js';

const FILE = 'bench.bin';

/**
 * `docker cp` in and out as the CLI does it: a tar stream PUT to /containers/{id}/archive with a
 * chunked body (the CLI streams, it does not know the length), then the same file read back with GET.
 * Each direction is timed from the request to the end of the answer.
 */
export const archive: SerialScenario = {
  id: 'archive',
  interleaved: false,
  async run(target: Target, ctx: Context): Promise<Figures> {
    const sock = target.socketPath;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const size = ctx.scale.streamBytes;
    const id = await createContainer(sock, agent, { cmd: ['true'] });
    try {
      const put = await requestCounted(sock, {
        method: 'PUT',
        path: `${API}/containers/${id}/archive?path=/tmp`,
        headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' },
        body: singleFileArchive(FILE, size),
        agent,
        timeoutMs: 120_000,
      });
      if (put.status !== 200) throw new Error(`${target.name}: archive PUT answered ${put.status}`);
      const get = await requestCounted(sock, { path: `${API}/containers/${id}/archive?path=/tmp/${FILE}`, agent, timeoutMs: 120_000 });
      if (get.status !== 200) throw new Error(`${target.name}: archive GET answered ${get.status}`);
      if (get.bytes < size) throw new Error(`${target.name}: archive GET gave ${get.bytes} bytes, expected > ${size}`);
      return {
        'cp-in': { kind: 'throughput', bytes: singleFileArchiveSize(size), seconds: (put.endedAt - put.sentAt) / 1000 },
        'cp-out': { kind: 'throughput', bytes: get.bytes, seconds: (get.endedAt - get.sentAt) / 1000 },
      };
    } finally {
      await removeQuietly(sock, agent, id);
      agent.destroy();
    }
  },
};
