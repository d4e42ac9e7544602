// FIFO ends opened without ever blocking, as sockets on libuv's event loop. A blocking open(2) of a FIFO
// waits for its other end, and Node runs it on a threadpool thread that nothing can cancel: a peer that
// never opens holds that thread (and the process's exit) forever.
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';

/**
 * A FIFO's writing end, opened O_RDWR: it succeeds without a reader (O_WRONLY|O_NONBLOCK would fail with
 * ENXIO), and holding a reading end too, writes never fail with EPIPE when the peer reader goes away
 * (they wait in the pipe, as runc's shim keeps a reader open on the task's output FIFOs).
 */
export function fifoWriter(path: string): Socket {
  return new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: false, writable: true });
}

/**
 * A FIFO's reading end, opened O_RDONLY|O_NONBLOCK: it succeeds without a writer; data and the end come
 * once a writer has opened and written or closed.
 */
export function fifoReader(path: string): Socket {
  return new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
}
