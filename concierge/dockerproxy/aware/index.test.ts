import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, startCallerSocket } from './index.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in dockerd that records the request line of each connection and answers every one with 200. */
async function recordingDockerd(socket: string): Promise<string[]> {
  const requests: string[] = [];
  const server = createServer((conn) => {
    conn.once('data', (chunk: Buffer) => {
      requests.push(chunk.toString('latin1').split('\r\n', 1)[0]!);
      conn.write('HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK');
    });
    conn.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return requests;
}

describe('a caller socket started before dockerd answers', () => {
  it('makes no call to dockerd until upstreamReady settles, then learns its headers and watches destroys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concierge-caller-'));
    dirs.push(dir);
    const root = join(dir, 'root');
    mkdirSync(root);
    const upstream = join(dir, 'dockerd.sock');
    const requests = await recordingDockerd(upstream);
    let ready!: () => void;
    const upstreamReady = new Promise<void>((resolve) => { ready = resolve; });
    const listen = join(dir, 'caller.sock');
    const caller = await startCallerSocket({
      caller: { id: 'job', rootfs: root, mounts: [{ destination: '/var/run/docker.sock', source: listen, type: 'bind', options: ['rbind'] }], policy: DEFAULT_POLICY },
      listen, upstream, stagingDir: join(dir, 'staging'), upstreamReady,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(requests).toEqual([]);
      ready();
      for (let i = 0; i < 100 && requests.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(requests).toEqual(expect.arrayContaining(['GET /_ping HTTP/1.1', expect.stringMatching(/^GET \/events\?filters=/)]));
    } finally {
      await caller.close();
    }
  });
});
