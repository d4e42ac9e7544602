// HTTP/JSON plumbing shared by the control API's routes, whichever transport carries them: node:http on a
// unix socket, or node:http2's compatibility API on the host channel. Both request/response pairs fit
// the small interfaces below.
import { rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { log } from '../log/logger.js';

export interface ControlRequest extends AsyncIterable<unknown> {
  readonly url?: string;
  readonly method?: string;
}

export interface ControlResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers?: Record<string, string | number>): unknown;
  write(chunk: string | Buffer): boolean;
  end(chunk: string): unknown;
  end(): unknown;
  once(event: 'close', listener: () => void): unknown;
  destroy(): unknown;
}

/** A route handler: answers, or returns false when the path is not its. */
export type ControlHandler = (req: ControlRequest, res: ControlResponse, url: URL, parts: string[]) => Promise<boolean>;

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const maxBody = 1024 * 1024;

export async function readJson(req: ControlRequest): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBody) throw new HttpError(413, `body larger than ${maxBody} bytes`);
    chunks.push(buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

export function send(res: ControlResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** True when the query asks to follow (`follow`, `follow=1`, `follow=true`). */
export function wantsFollow(url: URL): boolean {
  const v = url.searchParams.get('follow');
  return v !== null && v !== '0' && v !== 'false';
}

/**
 * One request listener from route handlers tried in order: the first that answers wins; none is a
 * 404, a thrown HttpError its status, anything else a 500.
 */
export function dispatch(handlers: ControlHandler[]): (req: ControlRequest, res: ControlResponse) => void {
  const handle = async (req: ControlRequest, res: ControlResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://concierge');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw new HttpError(400, 'path is not valid percent-encoding');
    }
    for (const h of handlers) if (await h(req, res, url, parts)) return;
    throw new HttpError(404, `no such endpoint: ${req.method ?? 'GET'} ${url.pathname}`);
  };
  return (req, res) => {
    handle(req, res).catch((err: Error) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status >= 500) log.error({ err: err.message, url: req.url }, 'control API request failed');
      if (!res.headersSent) send(res, status, { message: err.message });
      else res.destroy();
    });
  };
}

/** Serves a listener on a unix socket (replacing a stale one); resolves once it listens. */
export async function listenUnix(socketPath: string, listener: RequestListener): Promise<{ close(): Promise<void> }> {
  const server: Server = createServer(listener);
  // No request timeout: waits and followed streams last as long as what they follow.
  server.requestTimeout = 0;
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  return {
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      rmSync(socketPath, { force: true });
    }),
  };
}
