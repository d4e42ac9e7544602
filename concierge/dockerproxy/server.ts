import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { log as rootLog, type Logger } from '../log/logger.js';
import { ProxyConnection } from './connection.js';
import { DockerdHeaders } from './identity.js';
import type { Interceptor } from './intercept.js';
import { unixDialer } from './upstream.js';

export interface ProxyOptions {
  /** Unix socket path to serve the Docker API on. */
  listen: string;
  /** dockerd's unix socket. */
  upstream: string;
  /** How long a request waits for dockerd to start listening before it gets an error (ms). */
  upstreamWaitMs?: number;
  /** File mode of the listening socket. */
  mode?: number;
  log?: Logger;
  /** The Docker-aware layer (a caller's socket); absent for the transparent proxy. */
  interceptor?: Interceptor;
  /** dockerd's identity headers for this server's own answers (learned from dockerd's; a new set when absent). */
  dockerdHeaders?: DockerdHeaders;
}

export interface RunningProxy {
  readonly listen: string;
  close(): Promise<void>;
}

/**
 * Serves the Docker API on a unix socket and forwards it to dockerd.
 *
 * Built on node:net with a small HTTP/1.1 framing layer (http1.ts) rather than node:http or undici:
 * the proxy must forward heads byte for byte, turn a connection into a raw stream when dockerd hijacks
 * it (with or without an Upgrade header), forward half-closes only after an upgrade, and never time a
 * stream out. node:http's server would re-frame bodies (chunked vs close-delimited), parse a hijacked
 * stream's stdin as new requests, and apply its own timeouts; undici pools connections, which breaks
 * dockerd's per-connection semantics. A 1:1 pairing of client and dockerd connections keeps them; a
 * dockerd connection left idle between requests is handed to a later client connection (upstream.ts).
 */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const log = (options.log ?? rootLog).child({ component: 'dockerproxy', listen: options.listen });
  const dial = unixDialer(options.upstream, { waitMs: options.upstreamWaitMs ?? 0 });
  const dockerdHeaders = options.dockerdHeaders ?? new DockerdHeaders();
  const connections = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    connections.add(client);
    client.once('close', () => connections.delete(client));
    new ProxyConnection(client, { dial, log, interceptor: options.interceptor, dockerdHeaders });
  });
  await removeStaleSocket(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(options.listen, options.mode ?? 0o660);
  log.info({ upstream: options.upstream }, 'docker proxy listening');
  return {
    listen: options.listen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.destroy();
        dial.close();
      }),
  };
}

/** A socket file left by an earlier run blocks listen(); anything that is not a socket is left alone. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
