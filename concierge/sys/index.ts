// sys/: the syscall shim; Node's missing syscalls (mount, reboot, waitid, openat2, netlink...) with typed errors, no logic.
import { constants } from 'node:os';
import { loadAddon, type NativeSys } from './addon.js';

export * from './constants.js';

/** A failed syscall, shaped like Node's own (`code`, `errno`, `syscall`, `path`). */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

export function isSysError(err: unknown, code?: string): err is SysError {
  return err instanceof Error && typeof (err as SysError).syscall === 'string' && (code === undefined || (err as SysError).code === code);
}

/** errno number -> name ('ECHILD'), from the OS's own table (libuv's error names lack some). */
const errnoNames = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** The name of a positive errno number ('ECHILD'). */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

let native: NativeSys | undefined;

/** The addon, loaded on first use so commands that never make these calls never pay for it. */
function addon(): NativeSys {
  native ??= loadAddon();
  return native;
}

function call<T>(path: string | undefined, run: (n: NativeSys) => T): T {
  const n = addon();
  try {
    return run(n);
  } catch (err) {
    throw toSysError(err, path);
  }
}

function toSysError(err: unknown, path: string | undefined): unknown {
  if (!(err instanceof Error) || typeof (err as SysError).errno !== 'number') return err;
  const e = err as SysError;
  e.code = errnoName(-e.errno);
  e.message = `${e.code}: ${e.message.toLowerCase()}, ${e.syscall}${path === undefined ? '' : ` '${path}'`}`;
  if (path !== undefined) e.path = path;
  return e;
}

/** The result of waitpid: how a child ended. */
export interface ChildExit {
  pid: number;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: number | null;
}

export function decodeWaitStatus(pid: number, status: number): ChildExit {
  const signal = status & 0x7f;
  return signal === 0 ? { pid, code: (status >> 8) & 0xff, signal: null } : { pid, code: null, signal };
}

export const sys = {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
    call(target, (n) => n.mount(source, target, fstype, flags, data));
  },
  umount2(target: string, flags = 0): void {
    call(target, (n) => n.umount2(target, flags));
  },
  reboot(cmd: number): void {
    call(undefined, (n) => n.reboot(cmd));
  },
  sethostname(name: string): void {
    call(undefined, (n) => n.sethostname(name));
  },
  /** The pid of a child that has ended and is still unreaped (left so), or 0; ECHILD when none at all. */
  waitidPeek(): number {
    return call(undefined, (n) => n.waitidPeek());
  },
  /** Reaps one child; null when `options` has WNOHANG and it has not ended. */
  waitpid(pid: number, options = 0): ChildExit | null {
    const [reaped, status] = call(undefined, (n) => n.waitpid(pid, options));
    return reaped === 0 ? null : decodeWaitStatus(reaped, status);
  },
  prctl(option: number, arg2 = 0, arg3 = 0): number {
    return call(undefined, (n) => n.prctl(option, arg2, arg3));
  },
  setrlimit(resource: number, soft: bigint, hard: bigint): void {
    call(undefined, (n) => n.setrlimit(resource, soft, hard));
  },
  getrlimit(resource: number): { soft: bigint; hard: bigint } {
    const [soft, hard] = call(undefined, (n) => n.getrlimit(resource));
    return { soft, hard };
  },
  finitModule(fd: number, params = '', flags = 0, path?: string): void {
    call(path, (n) => n.finitModule(fd, params, flags));
  },
  netlinkOpen(protocol: number): number {
    return call(undefined, (n) => n.netlinkOpen(protocol));
  },
  netlinkSend(fd: number, message: Buffer): number {
    return call(undefined, (n) => n.netlinkSend(fd, message));
  },
  netlinkRecv(fd: number, into: Buffer, flags = 0): number {
    return call(undefined, (n) => n.netlinkRecv(fd, into, flags));
  },
  openat2(dirfd: number, path: string, how: { flags: number; mode?: number; resolve?: number }): number {
    return call(path, (n) => n.openat2(dirfd, path, how.flags, how.mode ?? 0, how.resolve ?? 0));
  },
  openTree(dirfd: number, path: string, flags: number): number {
    return call(path, (n) => n.openTree(dirfd, path, flags));
  },
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void {
    call(toPath === '' ? fromPath : toPath, (n) => n.moveMount(fromDirfd, fromPath, toDirfd, toPath, flags));
  },
  /** A FIFO at `path`; `mode` is masked by the umask, as mkfifo(3) does. */
  mkfifo(path: string, mode: number): void {
    call(path, (n) => n.mkfifo(path, mode));
  },
  sync(): void {
    addon().sync();
  },
  /** A stream socket of the AF_VSOCK family (close-on-exec): the fd. */
  vsockSocket(): number {
    return call(undefined, (n) => n.vsockSocket());
  },
  vsockBind(fd: number, cid: number, port: number): void {
    call(undefined, (n) => n.vsockBind(fd, cid, port));
  },
  listen(fd: number, backlog: number): void {
    call(undefined, (n) => n.listen(fd, backlog));
  },
  /** The next connection's fd (close-on-exec; `flags` adds SOCK_NONBLOCK and the like). */
  accept(fd: number, flags = 0): number {
    return call(undefined, (n) => n.accept(fd, flags));
  },
  /** A connected pair of unix stream sockets (close-on-exec). */
  socketpair(): [number, number] {
    return call(undefined, (n) => n.socketpair());
  },
};
