import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from './server.js';

// A stand-in dockerd (node:http on a unix socket) that counts the connections the proxy opens to it.
const dir = mkdtempSync(join(tmpdir(), 'concierge-pool-'));
const upstreamPath = join(dir, 'dockerd.sock');
const listen = join(dir, 'proxy.sock');
let upstream: Server;
let proxy: RunningProxy;
let connections = 0;
const delays = new Map<string, number>();
/** Which of the proxy's connections (numbered as dockerd accepted them) carried each request path. */
const connectionOf = new Map<string, number>();
const numbers = new WeakMap<object, number>();

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res) => {
    connectionOf.set(req.url ?? '', numbers.get(req.socket)!);
    const delay = delays.get(req.url ?? '') ?? 0;
    setTimeout(() => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`answer to ${req.url}`);
    }, delay);
  });
  upstream.on('connection', (socket) => numbers.set(socket, ++connections));
  upstream.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    connectionOf.set(req.url ?? '', numbers.get(socket)!);
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    socket.on('data', (d) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => upstream.listen(upstreamPath, resolve));
  proxy = await startProxy({ listen, upstream: upstreamPath });
});
afterAll(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  delays.clear();
});

/** One client connection: writes `raw`, reads until the proxy ends it (the client half-closes after writing). */
function exchange(raw: string, keepOpenMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(listen);
    let text = '';
    socket.on('data', (d) => { text += d.toString('latin1'); });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.write(raw);
    setTimeout(() => socket.end(), keepOpenMs);
  });
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: docker\r\n${extra}\r\n`;
const body = (answer: string): string => answer.slice(answer.indexOf('\r\n\r\n') + 4);
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

describe('the dockerd connection pool', () => {
  it('answers a client that half-closes right after its request, whole', async () => {
    for (let i = 0; i < 5; i++) expect(body(await exchange(get(`/half-closed-${i}`)))).toBe(`answer to /half-closed-${i}`);
  });

  it('serves client connections one after the other on one dockerd connection', async () => {
    await settle();
    const before = connections;
    for (const path of ['/one', '/two', '/three']) {
      expect(body(await exchange(get(path), 20))).toBe(`answer to ${path}`);
      await settle();
    }
    expect(connections - before).toBeLessThanOrEqual(1);
  });

  it('gives concurrent clients connections of their own, and each its own answers', async () => {
    delays.set('/slow', 200);
    const [slow, fast] = await Promise.all([exchange(get('/slow'), 400), exchange(get('/fast'), 100)]);
    expect(body(slow)).toBe('answer to /slow');
    expect(body(fast)).toBe('answer to /fast');
    expect(connectionOf.get('/slow')).not.toBe(connectionOf.get('/fast'));
  });

  it('does not reuse a connection after Connection: close, nor one dockerd closed while idle', async () => {
    // Any number of idle connections: each one carries a closing request in turn.
    for (let i = 0; i < 10; i++) {
      await settle();
      expect(body(await exchange(get(`/closing-${i}`, 'Connection: close\r\n')))).toBe(`answer to /closing-${i}`);
    }
    await settle();
    expect(body(await exchange(get('/after-close'), 20))).toBe('answer to /after-close');
    const closers = new Set(Array.from({ length: 10 }, (_, i) => connectionOf.get(`/closing-${i}`)));
    expect(closers.size).toBe(10);
    expect(closers.has(connectionOf.get('/after-close'))).toBe(false);

    await settle();
    upstream.closeIdleConnections();
    await settle();
    const before = connections;
    expect(body(await exchange(get('/after-idle-close'), 20))).toBe('answer to /after-idle-close');
    expect(connections - before).toBe(1);
  });

  it('never hands back a connection that became a stream', async () => {
    await settle();
    const answer = await exchange(`POST /exec/x/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`, 100);
    expect(answer.startsWith('HTTP/1.1 101')).toBe(true);
    await settle();
    expect(body(await exchange(get('/after-stream'), 20))).toBe('answer to /after-stream');
    expect(connectionOf.get('/exec/x/start')).toBeGreaterThan(0);
    expect(connectionOf.get('/after-stream')).not.toBe(connectionOf.get('/exec/x/start'));
  });
});
