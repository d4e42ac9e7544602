import http from 'node:http';
import { createContainer, removeQuietly, startContainer } from '../lib/containers.js';
import { API } from '../lib/http.js';
import { memory, openFds } from '../lib/proc.js';
import type { Target } from '../lib/targets.js';

/**
 * The memory figures: a proxy holding many idle long-lived streams, half `events` and
 * half `logs -f` of a sleeping container, each on its own connection. Reports the proxy's RSS and fds
 * once `checkpoints` streams are open (each answered with its 200 head).
 */
export interface StreamsFigure {
  open: number;
  held: number;
  rssMb: number;
  fds: number;
}

export async function idleStreams(target: Target, checkpoints: number[], timeoutMs = 30_000): Promise<StreamsFigure[]> {
  const pid = target.pid;
  if (pid === undefined) throw new Error('idle streams are measured on a proxy process');
  const sock = target.socketPath;
  const control = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const sleeper = await createContainer(sock, control, { cmd: ['sleep', '600'] });
  const requests: http.ClientRequest[] = [];
  const figures: StreamsFigure[] = [];
  let held = 0;
  let failed = 0;
  try {
    await startContainer(sock, control, sleeper);
    const deadline = Date.now() + timeoutMs;
    for (const checkpoint of checkpoints) {
      while (requests.length < checkpoint) {
        const path = requests.length % 2 === 0 ? `${API}/events` : `${API}/containers/${sleeper}/logs?follow=1&stdout=1&tail=0`;
        const req = http.request({ socketPath: sock, path, agent: false }, (res) => {
          if (res.statusCode === 200) held++;
          else failed++;
          res.resume();
        });
        req.on('error', () => failed++);
        req.end();
        requests.push(req);
      }
      while (held + failed < checkpoint && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300)); // let the proxy settle before reading its memory
      figures.push({ open: checkpoint, held, rssMb: memory(pid).rssMb, fds: openFds(pid) });
    }
    return figures;
  } finally {
    for (const req of requests) req.destroy();
    await removeQuietly(sock, control, sleeper);
    control.destroy();
  }
}
