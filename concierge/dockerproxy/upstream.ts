import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Opens a fresh connection to dockerd. */
export type UpstreamDialer = () => Promise<Socket>;

/** Errors that mean "dockerd is not listening yet" rather than "this will never work". */
const NOT_YET = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/**
 * Dials a unix socket. While dockerd starts (it is the slowest part of a guest boot), requests are held
 * for up to `waitMs` and retried, so clients never see a start-up race; after that they get an error.
 */
export function unixDialer(path: string, waitMs: number): UpstreamDialer {
  return async () => {
    const deadline = Date.now() + waitMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
      try {
        return await connectOnce(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!NOT_YET.has(code) || Date.now() + delay > deadline) throw err;
        await sleep(delay);
      }
    }
  };
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
