// HTTP to registries with undici: one pool of keep-alive connections per origin, each with the CA its
// registry's settings give, and bounded waits: for a connection, for an answer's headers, and between
// two pieces of a body (a registry that stalls mid-layer fails instead of hanging the pull).
import { createSecureContext, rootCertificates } from 'node:tls';
import { Pool, errors, type Dispatcher } from 'undici';
import { RegistryError } from './errors.js';

export interface TransportOptions {
  /** Longest silence, in ms, while waiting for an answer's headers or for more of its body. */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Connections per origin (layers are fetched concurrently). */
  connections: number;
}

export interface HttpRequest {
  method?: 'GET' | 'HEAD';
  path: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type HttpAnswer = Dispatcher.ResponseData;

const connectCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** An undici or socket error as a pull failure: what went wrong, at which origin. */
export function transportFailure(err: unknown, origin: string): Error {
  if (err instanceof RegistryError) return err;
  if (err instanceof errors.BodyTimeoutError || err instanceof errors.HeadersTimeoutError) {
    return new RegistryError('stalled', `${origin} stopped sending (${err.message})`);
  }
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && (connectCodes.has(code) || code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('UNABLE_TO')
    || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')) {
    return new RegistryError('unreachable', `cannot reach ${origin}: ${message} (${code})`);
  }
  if (err instanceof Error && err.name === 'AbortError') return err;
  return new RegistryError('unreachable', `${origin}: ${message}`);
}

export class Transport {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: TransportOptions) {}

  private pool(origin: string, ca: string | undefined): Pool {
    const key = `${origin}\0${ca ?? ''}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.options.connections,
        headersTimeout: this.options.idleTimeoutMs,
        bodyTimeout: this.options.idleTimeoutMs,
        keepAliveTimeout: 30_000,
        connect: {
          timeout: this.options.connectTimeoutMs,
          // The spec's CA is trusted besides the system's roots, not instead of them. One context for the
          // pool: with `ca` itself every connection would parse the ~140 root certificates again.
          ...(ca === undefined ? {} : { secureContext: createSecureContext({ ca: [...rootCertificates, ca] }) }),
        },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async request(origin: string, ca: string | undefined, request: HttpRequest): Promise<HttpAnswer> {
    try {
      return await this.pool(origin, ca).request({
        method: request.method ?? 'GET',
        path: request.path,
        headers: request.headers ?? {},
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
    } catch (err) {
      throw transportFailure(err, origin);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}

/** A small body (manifest, token), refusing more than `limit` bytes. */
export async function readBody(body: AsyncIterable<unknown>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (!Buffer.isBuffer(chunk)) continue;
    size += chunk.length;
    if (size > limit) throw new RegistryError('protocol', `${what} is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
