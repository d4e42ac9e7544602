// The guest's HTTP/2 server on a byte channel that the host closes and reopens, with a stand-in for the
// virtio-serial port: reads see the host's bytes, a read of 0 means no host is connected.
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch, send } from '../control/http.js';
import { PortStandIn } from '../../test/hostchannel/port-stand-in.js';
import { HostChannel } from './byte-channel.js';
import { connectChannel, onLines, openChannel, request } from './http2-client.js';
import { serveHttp2 } from './http2-server.js';

describe('host channel (HTTP/2 over a byte channel the host can reopen)', () => {
  let cleanup: (() => void)[] = [];
  afterEach(() => { for (const c of cleanup) c(); cleanup = []; });

  const start = () => {
    const port = new PortStandIn();
    const channel = new HostChannel(port, 5);
    let tick = 0;
    const server = serveHttp2(channel, dispatch([
      (_req, res, url, parts) => {
        if (parts[0] === 'status') {
          send(res, 200, { ok: true, path: url.pathname });
          return Promise.resolve(true);
        }
        if (parts[0] === 'ticks') {
          res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
          const timer = setInterval(() => res.write(`${JSON.stringify({ tick: ++tick })}\n`), 5);
          res.once('close', () => clearInterval(timer));
          return Promise.resolve(true);
        }
        return Promise.resolve(false);
      },
    ]));
    channel.start();
    cleanup.push(() => { channel.close(); server.close(); });
    return { port, channel };
  };

  it('serves several requests at once on one session: a follow stream while status is asked', async () => {
    const { port } = start();
    const session = await connectChannel(() => port.connect());
    const ticks: number[] = [];
    const follow = session.request({ ':path': '/ticks' });
    onLines(follow, (l) => ticks.push((JSON.parse(l) as { tick: number }).tick));
    const a = await request(session, 'GET', '/status');
    const b = await request(session, 'GET', '/nope');
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body.toString())).toEqual({ ok: true, path: '/status' });
    expect(b.status).toBe(404);
    expect(JSON.parse(b.body.toString())).toEqual({ message: 'no such endpoint: GET /nope' });
    await new Promise((r) => setTimeout(r, 50));
    expect(ticks.length).toBeGreaterThan(2);
    session.destroy();
  });

  it('serves the host again after it closed the channel mid-stream and reopened it', async () => {
    const { port, channel } = start();
    const first = await connectChannel(() => port.connect());
    const follow = first.request({ ':path': '/ticks' });
    await new Promise((r) => follow.once('data', r));
    first.destroy();
    // Reopened at once: the old session's last writes may still come out first (see openChannel).
    const second = await openChannel(() => port.connect(), { retryDelayMs: 20 });
    const answer = await request(second, 'GET', '/status');
    expect(answer.status).toBe(200);
    expect(channel.sessions).toBeGreaterThanOrEqual(2);
    second.destroy();
  });

  it('answers garbage with an error (a GOAWAY) and serves a proper client afterwards', async () => {
    const { port, channel } = start();
    const raw = port.connect();
    const back: Buffer[] = [];
    raw.on('data', (c: Buffer) => back.push(c));
    raw.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const reply = Buffer.concat(back);
    // HTTP/2 frames: the server's SETTINGS, then a GOAWAY (type 7) with PROTOCOL_ERROR (1).
    const types: number[] = [];
    for (let at = 0; at + 9 <= reply.length; at += 9 + reply.readUIntBE(at, 3)) types.push(reply[at + 3]!);
    expect(types).toContain(7);
    raw.destroy();
    const session = await connectChannel(() => port.connect());
    expect((await request(session, 'GET', '/status')).status).toBe(200);
    expect(channel.sessions).toBe(2);
    session.destroy();
  });
});
