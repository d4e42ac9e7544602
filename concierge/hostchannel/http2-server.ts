// The control API over HTTP/2 on the host channel: one HTTP/2 session per host session, so several
// requests (a log follow, an events follow, metrics scrapes) share the one byte stream. Bytes that are
// not HTTP/2 end that session with a GOAWAY; the next host session gets a fresh one.
import { createServer, type Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ControlRequest, ControlResponse } from '../control/http.js';
import { log } from '../log/logger.js';
import type { HostChannel } from './byte-channel.js';

export function serveHttp2(channel: HostChannel, listener: (req: ControlRequest, res: ControlResponse) => void): { close(): void } {
  const server = createServer({}, listener);
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', (err) => log.info({ err: err.message }, 'host channel: HTTP/2 session ended with an error'));
  });
  channel.on('session', (stream: Duplex) => {
    stream.on('error', () => undefined);
    server.emit('connection', stream);
  });
  return {
    close: () => {
      for (const s of sessions) s.destroy();
      server.close();
    },
  };
}
