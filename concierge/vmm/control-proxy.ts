// The guest's control API on a host unix socket while the guest runs: each HTTP/1 request is forwarded
// as an HTTP/2 request over the host channel, bodies streamed both ways (log and event follows too).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import { listenUnix } from '../control/http.js';

/** Answer headers HTTP/2 forbids or HTTP/1 sets itself. */
const dropped = new Set([':status', 'connection', 'keep-alive', 'transfer-encoding', 'date']);

function reply(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

export function serveControlProxy(socketPath: string, session: () => ClientHttp2Session | undefined): Promise<{ close(): Promise<void> }> {
  return listenUnix(socketPath, (req: IncomingMessage, res: ServerResponse) => {
    const s = session();
    if (s === undefined || s.closed || s.destroyed) {
      reply(res, 503, 'the guest is not connected on the host channel (booting, or powered off)');
      return;
    }
    const headers: Record<string, string> = { ':method': req.method ?? 'GET', ':path': req.url ?? '/' };
    const type = req.headers['content-type'];
    if (type !== undefined) headers['content-type'] = type;
    const upstream = s.request(headers, { endStream: req.method === 'GET' || req.method === 'HEAD' });
    if (req.method !== 'GET' && req.method !== 'HEAD') req.pipe(upstream);
    upstream.on('response', (h) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(h)) if (!dropped.has(k) && v !== undefined) out[k] = v;
      res.writeHead(Number(h[':status']), out);
      upstream.pipe(res);
    });
    upstream.on('error', (err: Error) => {
      if (!res.headersSent) reply(res, 502, `host channel: ${err.message}`);
      else res.destroy();
    });
    res.on('close', () => upstream.close());
  });
}
