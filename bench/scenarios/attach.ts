import http from 'node:http';
import { createContainer, removeQuietly, startContainer, waitContainer } from '../lib/containers.js';
import { API, upgrade } from '../lib/http.js';
import type { Target } from '../lib/targets.js';
import type { Context, Figures, SerialScenario } from './scenario.js';

/**
 * `docker run` without -d: attach (hijacked with `Upgrade: tcp`) to a container that writes
 * `streamBytes` of zeros to stdout with dd, then start it. Timed from the first stream byte to the end
 * of the stream, so the container's start is not part of the figure. Its log driver is `none` so
 * dockerd does not also write the stream to disk.
 */
export const attach: SerialScenario = {
  id: 'attach',
  interleaved: false,
  async run(target: Target, ctx: Context): Promise<Figures> {
    const sock = target.socketPath;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const mib = Math.ceil(ctx.scale.streamBytes / (1024 * 1024));
    const id = await createContainer(sock, agent, {
      cmd: ['dd', 'if=/dev/zero', 'bs=1048576', `count=${mib}`],
      logDriver: 'none',
      attachStdout: true,
    });
    try {
      const { socket, head } = await upgrade(sock, `${API}/containers/${id}/attach?stream=1&stdout=1&stderr=0`);
      let bytes = head.length;
      let firstByteAt = head.length > 0 ? performance.now() : 0;
      const ended = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => socket.destroy(new Error(`${target.name}: attach stream did not end in 120 s`)), 120_000);
        socket.on('data', (chunk: Buffer) => {
          if (firstByteAt === 0) firstByteAt = performance.now();
          bytes += chunk.length;
        });
        socket.on('end', () => {
          clearTimeout(timer);
          resolve(performance.now());
          socket.end();
        });
        socket.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      await startContainer(sock, agent, id);
      const endedAt = await ended;
      await waitContainer(sock, agent, id, 30_000);
      if (bytes < mib * 1024 * 1024) throw new Error(`${target.name}: attach gave ${bytes} bytes, expected > ${mib} MiB`);
      return { attach: { kind: 'throughput', bytes, seconds: (endedAt - firstByteAt) / 1000 } };
    } finally {
      await removeQuietly(sock, agent, id);
      agent.destroy();
    }
  },
};
