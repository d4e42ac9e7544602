// The host's end of the channel: an HTTP/2 client session over whatever carries the bytes (qemu's
// chardev unix socket for a virtio-serial port, a vsock connection). A session counts as connected
// once the guest's SETTINGS arrived: that proves a fresh guest session is answering.
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';

export async function connectChannel(createConnection: () => Duplex, timeoutMs = 5000): Promise<ClientHttp2Session> {
  const session = connect('http://concierge', { createConnection });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`the guest did not answer on the host channel within ${timeoutMs} ms`));
    }, timeoutMs);
    session.once('remoteSettings', () => {
      clearTimeout(timer);
      resolve();
    });
    session.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    session.once('close', () => {
      clearTimeout(timer);
      reject(new Error('the host channel closed before the guest answered'));
    });
  });
  session.on('error', () => undefined);
  return session;
}

/**
 * Connects, trying again after a failed start: right after the host reopened the channel, the guest's
 * previous session may still have had a write under way (a byte stream has no session boundary), and
 * those stale bytes fail the new client's first frames. Closing the failed connection ends that
 * session in the guest; the next try meets a fresh one.
 */
export async function openChannel(createConnection: () => Duplex, options: { attempts?: number; retryDelayMs?: number; timeoutMs?: number } = {}): Promise<ClientHttp2Session> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectChannel(createConnection, options.timeoutMs);
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 300));
    }
  }
}

export interface ChannelAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with a whole answer (not for follow streams). */
export function request(session: ClientHttp2Session, method: string, path: string, body?: unknown): Promise<ChannelAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': method, ':path': path, ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    }, { endStream: body === undefined });
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => { headers = h; });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(JSON.stringify(body));
  });
}

/** Splits a byte stream into lines (newline-delimited JSON of the events follow). */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.on('data', (chunk: Buffer | string) => {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line !== '') onLine(line);
    }
  });
}
