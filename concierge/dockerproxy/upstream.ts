import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a connection's bytes are read: into a caller-chosen buffer, handed to a callback. */
export interface ReadInto {
  buffer: () => Buffer;
  callback: (bytesRead: number, buffer: Buffer) => boolean;
}

/** Opens a fresh connection to dockerd. */
export type UpstreamDialer = (onread?: ReadInto) => Promise<Socket>;

/** Errors that mean "dockerd is not listening yet" rather than "this will never work". */
const NOT_YET = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/**
 * Dials a unix socket. While dockerd starts (it is the slowest part of a guest boot), requests are held
 * for up to `waitMs` and retried, so clients never see a start-up race; after that they get an error.
 */
export function unixDialer(path: string, waitMs: number): UpstreamDialer {
  return async (onread) => {
    const deadline = Date.now() + waitMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      try {
        return await connectOnce(path, onread);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!NOT_YET.has(code) || Date.now() + delay > deadline) throw err;
        await sleep(delay);
      }
    }
  };
}

function connectOnce(path: string, onread: ReadInto | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(onread === undefined ? { path, allowHalfOpen: true } : { path, allowHalfOpen: true, onread });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
