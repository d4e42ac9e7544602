// The vsock path's plumbing: fd -> Node socket -> HTTP/2 server. The build machines' own vsock belongs
// to the machine that runs them, so no AF_VSOCK socket is opened here: a unix socketpair made through
// the same shim stands in for an accepted vsock connection (both are stream sockets libuv cannot
// guess the kind of by itself only in the vsock case).
import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatch, send } from '../control/http.js';
import { sys } from '../sys/index.js';
import { request } from './http2-client.js';
import { socketFromFd } from './vsock.js';
import { createServer } from 'node:http2';

describe('vsock plumbing (socketpair stand-in; no AF_VSOCK socket is opened)', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => { for (const c of cleanup.splice(0)) c(); });

  it('serves the control API over HTTP/2 on an fd wrapped as a Node socket', async () => {
    const [guestFd, hostFd] = sys.socketpair();
    const server = createServer({}, dispatch([(_req, res, url, parts) => {
      if (parts[0] !== 'status') return Promise.resolve(false);
      send(res, 200, { ok: true, query: url.search });
      return Promise.resolve(true);
    }]));
    // As the guest does for each accepted vsock connection: one session per connection.
    server.emit('connection', socketFromFd(guestFd));
    const session = connect('http://concierge', { createConnection: () => socketFromFd(hostFd) });
    cleanup.push(() => { session.destroy(); server.close(); });
    const [a, b] = await Promise.all([request(session, 'GET', '/status?x=1'), request(session, 'GET', '/none')]);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body.toString())).toEqual({ ok: true, query: '?x=1' });
    expect(b.status).toBe(404);
  });
});
