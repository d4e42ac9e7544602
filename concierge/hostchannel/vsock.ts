// The host channel on AF_VSOCK (Firecracker, cloud-hypervisor, qemu's vhost-vsock): the socket is made
// through the sys/ shim (Node has no AF_VSOCK) and handed to libuv as a stream. libuv's own guess of an
// fd's kind knows unix and TCP sockets only, so the fd is opened as a pipe handle, which reads, writes,
// listens and accepts on any stream socket. Each connection is one host session of its own.
import { Server, Socket } from 'node:net';
import { sys } from '../sys/index.js';

/** Any CID: the guest listens on its own. */
export const VMADDR_CID_ANY = 0xffffffff;

interface PipeHandle {
  open(fd: number): number;
}

interface PipeBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number; SERVER: number };
}

function isPipeBinding(value: unknown): value is PipeBinding {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const constants = v.constants as Record<string, unknown> | undefined;
  return typeof v.Pipe === 'function' && typeof constants?.SOCKET === 'number' && typeof constants.SERVER === 'number';
}

function pipeBinding(): PipeBinding {
  // libuv's pipe handle, as net.Socket makes it for unix sockets (no public API takes an fd of another kind).
  const binding: unknown = (process as unknown as { binding(name: string): unknown }).binding('pipe_wrap');
  if (!isPipeBinding(binding)) throw new Error('this Node has no pipe_wrap binding to wrap a vsock fd');
  return binding;
}

function openHandle(fd: number, kind: 'SOCKET' | 'SERVER'): PipeHandle {
  const binding = pipeBinding();
  const handle = new binding.Pipe(binding.constants[kind]);
  const err = handle.open(fd);
  if (err !== 0) throw new Error(`cannot open fd ${fd} as a stream (libuv error ${err})`);
  return handle;
}

/** A connected stream socket's fd (an accepted vsock connection) as a Node socket. */
export function socketFromFd(fd: number): Socket {
  // net.Socket takes an existing libuv handle as `handle` (its types know only BoundSocket there).
  const socket: unknown = Reflect.construct(Socket, [{ handle: openHandle(fd, 'SOCKET'), readable: true, writable: true }]);
  if (!(socket instanceof Socket)) throw new Error('net.Socket did not take the handle');
  return socket;
}

/** A listening stream socket's fd as a Node server; each accepted connection arrives as a Node socket. */
export function serverFromFd(fd: number, onConnection: (socket: Socket) => void): Server {
  const server = new Server(onConnection);
  server.listen(openHandle(fd, 'SERVER'));
  return server;
}

/** Listens on a vsock port: socket, bind, listen through the shim. */
export function listenVsock(port: number, onConnection: (socket: Socket) => void, cid = VMADDR_CID_ANY): Server {
  const fd = sys.vsockSocket();
  sys.vsockBind(fd, cid, port);
  sys.listen(fd, 64);
  return serverFromFd(fd, onConnection);
}
