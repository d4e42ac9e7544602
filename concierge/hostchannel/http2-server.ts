// The control API over HTTP/2 on a host channel: one HTTP/2 session per host session (a virtio-serial
// port's, or each vsock connection), so several requests (a log follow, an events follow, metrics
// scrapes) share one byte stream. Bytes that are not HTTP/2 end that session with a GOAWAY; the next
// host session gets a fresh one.
import { createServer, type Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ControlRequest, ControlResponse } from '../control/http.js';
import { log } from '../log/logger.js';
import type { HostChannel } from './byte-channel.js';

export interface Http2ControlServer {
  /** Serves one host session on a byte stream. */
  accept(stream: Duplex): void;
  close(): void;
}

export function http2ControlServer(listener: (req: ControlRequest, res: ControlResponse) => void): Http2ControlServer {
  const server = createServer({}, listener);
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', (err) => log.info({ err: err.message }, 'host channel: HTTP/2 session ended with an error'));
  });
  return {
    accept: (stream) => {
      stream.on('error', () => undefined);
      server.emit('connection', stream);
    },
    close: () => {
      for (const s of sessions) s.destroy();
      server.close();
    },
  };
}

/** The control API on a channel the host opens and closes (virtio-serial). */
export function serveHttp2(channel: HostChannel, listener: (req: ControlRequest, res: ControlResponse) => void): Http2ControlServer {
  const server = http2ControlServer(listener);
  channel.on('session', (stream: Duplex) => server.accept(stream));
  return server;
}
