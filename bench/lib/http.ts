import http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * The bench's Docker API client: node:http over a unix socket. Request loops reuse keep-alive
 * connections through an Agent; each call is bounded by a timeout so a stuck target fails the run
 * instead of hanging it.
 */

export const API = '/v1.41';

export interface RequestOptions {
  method?: string;
  path: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer | string | Readable;
  /** An Agent (keep-alive) or false for a fresh connection closed after the answer. */
  agent: http.Agent | false;
  timeoutMs?: number;
}

export interface Answer {
  status: number;
  body: Buffer;
}

export interface CountedAnswer {
  status: number;
  bytes: number;
  /** performance.now() when the request was sent, the answer's first body byte came, and it ended. */
  sentAt: number;
  firstByteAt: number;
  endedAt: number;
}

function open(socketPath: string, options: RequestOptions, onResponse: (res: http.IncomingMessage) => void, reject: (err: Error) => void): http.ClientRequest {
  const req = http.request(
    { socketPath, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: options.agent },
    onResponse,
  );
  req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${options.method ?? 'GET'} ${options.path}`)));
  req.on('error', reject);
  const body = options.body;
  if (body === undefined) req.end();
  else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
  else {
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  }
  return req;
}

/** Sends a request and reads the whole (small) answer. */
export function request(socketPath: string, options: RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    open(
      socketPath,
      options,
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
      reject,
    );
  });
}

/** Sends a request and counts the answer's body bytes without keeping them. */
export function requestCounted(socketPath: string, options: RequestOptions): Promise<CountedAnswer> {
  return new Promise((resolve, reject) => {
    const sentAt = performance.now();
    open(
      socketPath,
      options,
      (res) => {
        let bytes = 0;
        let firstByteAt = 0;
        res.on('data', (c: Buffer) => {
          if (bytes === 0) firstByteAt = performance.now();
          bytes += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, sentAt, firstByteAt, endedAt: performance.now() }));
        res.on('error', reject);
      },
      reject,
    );
  });
}

/** Like request(), but fails unless the status is one of `ok`; parses a JSON answer. */
export async function call<T = unknown>(socketPath: string, options: RequestOptions, ok: number[] = [200, 201, 204]): Promise<T> {
  const answer = await request(socketPath, options);
  if (!ok.includes(answer.status)) {
    throw new Error(`${options.method ?? 'GET'} ${options.path}: ${answer.status} ${answer.body.toString().slice(0, 300)}`);
  }
  return (answer.body.length > 0 ? JSON.parse(answer.body.toString()) : undefined) as T;
}

export function json(value: unknown): { body: string; headers: http.OutgoingHttpHeaders } {
  return { body: JSON.stringify(value), headers: { 'Content-Type': 'application/json' } };
}

/** Opens a hijacked stream the way the docker CLI does (`Connection: Upgrade`, `Upgrade: tcp`). */
export function upgrade(socketPath: string, path: string, timeoutMs = 30_000): Promise<{ socket: Socket; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath,
      method: 'POST',
      path,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': 0 },
    });
    const timer = setTimeout(() => req.destroy(new Error(`timeout: upgrade ${path}`)), timeoutMs);
    req.on('upgrade', (res, socket, head) => {
      clearTimeout(timer);
      if (res.statusCode !== 101) reject(new Error(`upgrade ${path}: ${res.statusCode}`));
      else resolve({ socket, head });
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      reject(new Error(`upgrade ${path}: answered ${res.statusCode} without switching protocols`));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
