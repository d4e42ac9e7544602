// A task's stdout and stderr as FIFOs that the runc shim writes and concierge reads:
// the shim opens the write ends during tasks.Create and would block with no reader, so an O_RDWR
// "keeper" fd is held on each FIFO until Create returns; the readers are then ordinary pipes to libuv.
// A stdin FIFO, when asked, is written by concierge through an O_RDWR fd (it never waits for the shim's
// reader); closing it is the workload's end of input.
import { closeSync, constants, mkdirSync, openSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fifoReader, fifoWriter } from '../os/fifo.js';
import { sys } from '../sys/index.js';

export interface TaskStdio {
  stdoutPath: string;
  stderrPath: string;
  stdout: Socket;
  stderr: Socket;
  /** The stdin FIFO and its writing end, when asked for. */
  stdinPath?: string;
  stdin?: Socket;
  /** Closes the keeper fds: call once tasks.Create has returned (or failed). */
  releaseKeepers(): void;
  /** Resolves when both streams have ended (the shim closed its write ends). */
  ended: Promise<void>;
  /** Closes the readers and removes the FIFOs' directory. */
  dispose(): void;
}

// Node has no mkfifo(3): the syscall addon's, not the mkfifo program, whose spawn forks all of PID 1
// (46-60 ms of Node's thread under TCG) on the way to the job's task create.
function makeFifos(paths: string[]): void {
  for (const path of paths) sys.mkfifo(path, 0o600);
}

function ended(stream: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) resolve();
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

export function openTaskStdio(dir: string, options: { stdin?: boolean } = {}): TaskStdio {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stdoutPath = join(dir, 'stdout');
  const stderrPath = join(dir, 'stderr');
  const fds: number[] = [];
  const sockets: Socket[] = [];
  try {
    const stdinPath = options.stdin === true ? join(dir, 'stdin') : undefined;
    makeFifos([stdoutPath, stderrPath, ...(stdinPath === undefined ? [] : [stdinPath])]);
    const flags = constants.O_NONBLOCK; // libuv opens with O_CLOEXEC itself
    const keepers = [openSync(stdoutPath, constants.O_RDWR | flags), openSync(stderrPath, constants.O_RDWR | flags)];
    fds.push(...keepers);
    sockets.push(fifoReader(stdoutPath), fifoReader(stderrPath));
    const [stdout, stderr] = sockets as [Socket, Socket];
    let stdin: Socket | undefined;
    if (stdinPath !== undefined) {
      stdin = fifoWriter(stdinPath);
      sockets.push(stdin);
      stdin.on('error', () => undefined); // a reader gone (the task ended) is not concierge's failure
    }
    let keepersOpen = true;
    const releaseKeepers = () => {
      if (!keepersOpen) return;
      keepersOpen = false;
      for (const fd of keepers) closeSync(fd);
    };
    return {
      stdoutPath, stderrPath, stdout, stderr, releaseKeepers,
      ...(stdinPath === undefined || stdin === undefined ? {} : { stdinPath, stdin }),
      ended: Promise.all([ended(stdout), ended(stderr)]).then(() => undefined),
      dispose() {
        releaseKeepers();
        stdout.destroy();
        stderr.destroy();
        stdin?.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    for (const socket of sockets) socket.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
