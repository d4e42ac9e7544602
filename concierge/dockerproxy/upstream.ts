import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One read buffer for every dockerd socket. Reads are handled synchronously, so it is reused while no
 * write still points into it; when a write is queued, a fresh one is taken and the old one is left to
 * that write (see `retireReadBuffer`). This halves the CPU per byte on streams (attach, logs, archives)
 * against a fresh buffer per read, and keeps idle connections at no buffer memory at all.
 */
const READ_BUFFER_BYTES = 64 * 1024;
let sharedRead = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/** True when `bytes` lies in the shared read buffer (a write queued with them must keep it). */
export const inSharedReadBuffer = (bytes: Buffer): boolean => bytes.buffer === sharedRead.buffer;

/** The shared buffer is held by a queued write: later reads go to a fresh one. */
export function retireReadBuffer(): void {
  sharedRead = Buffer.allocUnsafe(READ_BUFFER_BYTES);
}

/** Where a dockerd connection's events go: to the client connection it serves, or to the idle pool. */
export interface UpstreamHandlers {
  /** Bytes from dockerd, in the shared read buffer: use them before returning. */
  data(bytes: Buffer): void;
  /** dockerd ended its side. */
  end(): void;
  /** The socket failed or closed. */
  lost(err?: Error): void;
}

/** A connection to dockerd, whose events follow whoever holds it now. */
export interface Upstream {
  readonly socket: Socket;
  handlers: UpstreamHandlers;
}

export interface UpstreamDialer {
  /** An idle connection from the pool, or a fresh one. */
  dial(handlers: UpstreamHandlers): Promise<Upstream>;
  /**
   * Hands back a connection between requests (nothing sent unanswered, nothing unread): it serves the
   * next client connection instead of a new connect(2), which costs both concierge and dockerd.
   */
  release(upstream: Upstream): void;
  /** Closes the idle connections; later releases close theirs. */
  close(): void;
}

/** Errors that mean "dockerd is not listening yet" rather than "this will never work". */
const NOT_YET = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

export interface DialerOptions {
  /** How long a dial waits for dockerd to start listening before it fails (ms). */
  waitMs: number;
  /** Idle connections kept for reuse. */
  maxIdle?: number;
  /** An idle connection is closed after this long unused (ms). */
  idleMs?: number;
}

/**
 * Dials a unix socket. While dockerd starts (it is the slowest part of a guest boot), dials are held
 * for up to `waitMs` and retried, so clients never see a start-up race; after that they fail.
 *
 * Connections a client connection hands back between requests are kept (a few, for a while) and given
 * to the next client connection: dockerd keeps no state on a connection between requests, so this is
 * invisible to clients, and a CLI that opens a connection per command costs no connect(2), accept(2)
 * and close(2) pair on either side. A connection that dockerd ends, that fails, or that sends bytes
 * nobody asked for while idle is dropped from the pool.
 */
export function unixDialer(path: string, options: DialerOptions): UpstreamDialer {
  const maxIdle = options.maxIdle ?? 8;
  const idleMs = options.idleMs ?? 30_000;
  const idle: { upstream: Upstream; timer: NodeJS.Timeout }[] = [];
  let closed = false;

  const drop = (upstream: Upstream): void => {
    const i = idle.findIndex((e) => e.upstream === upstream);
    if (i >= 0) clearTimeout(idle.splice(i, 1)[0]!.timer);
    upstream.socket.destroy();
  };
  const idleHandlers = (upstream: Upstream): UpstreamHandlers => ({
    data: () => drop(upstream),
    end: () => drop(upstream),
    lost: () => drop(upstream),
  });

  const connectOnce = (handlers: UpstreamHandlers): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      let upstream: Upstream | undefined;
      const socket = connect({
        path,
        allowHalfOpen: true,
        onread: {
          buffer: () => sharedRead,
          callback: (n, buf) => {
            upstream?.handlers.data((buf as Buffer).subarray(0, n));
            return true; // backpressure pauses the socket explicitly
          },
        },
      });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const made: Upstream = { socket, handlers };
        upstream = made;
        socket.on('end', () => made.handlers.end());
        socket.on('error', (err) => made.handlers.lost(err));
        socket.on('close', () => made.handlers.lost());
        resolve(made);
      });
    });

  return {
    async dial(handlers) {
      const reused = idle.pop();
      if (reused !== undefined) {
        clearTimeout(reused.timer);
        reused.upstream.socket.ref();
        reused.upstream.handlers = handlers;
        return reused.upstream;
      }
      const deadline = Date.now() + options.waitMs;
      for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
        try {
          return await connectOnce(handlers);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? '';
          if (!NOT_YET.has(code) || Date.now() + delay > deadline) throw err;
          await sleep(delay);
        }
      }
    },
    release(upstream) {
      const { socket } = upstream;
      upstream.handlers = idleHandlers(upstream);
      // Paused: a slow client's 'drain' would resume it under its next holder.
      if (closed || idle.length >= maxIdle || socket.destroyed || socket.readableEnded || socket.writableEnded || socket.writableLength > 0 || socket.isPaused()) {
        socket.destroy();
        return;
      }
      socket.unref(); // an idle connection keeps no process alive
      const timer = setTimeout(() => drop(upstream), idleMs);
      timer.unref();
      idle.push({ upstream, timer });
    },
    close() {
      closed = true;
      for (const { upstream } of [...idle]) drop(upstream);
    },
  };
}
