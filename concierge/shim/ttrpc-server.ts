// A ttrpc server on a unix socket: each request frame is decoded, handed to the method registered as
// "service/method", and answered on its stream id with the method's payload or a status; an unknown
// service or method gets Unimplemented, as ttrpc's own server answers.
import { create } from '@bufbuild/protobuf';
import { createServer, type Server, type Socket } from 'node:net';
import { StatusSchema } from '../../proto/gen/google/rpc/status_pb.js';
import { encodeFrame, FrameReader, messageType } from './ttrpc-frame.js';
import { code, decodeRequest, encodeResponse, type TtrpcRequest } from './ttrpc-messages.js';

export type TtrpcMethod = (payload: Uint8Array, request: TtrpcRequest) => Promise<Uint8Array>;

/** An error answered with its gRPC status code (others are answered as Unknown). */
export class TtrpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export class TtrpcServer {
  private readonly methods = new Map<string, TtrpcMethod>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((socket) => this.serve(socket));
  }

  register(service: string, method: string, handler: TtrpcMethod): void {
    this.methods.set(`${service}/${method}`, handler);
  }

  /** Serves on an already listening socket (inherited) or a path. */
  listen(where: string | { fd: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(where, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  get connections(): number {
    return this.sockets.size;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (frame.type !== messageType.request) continue;
        void this.answer(frame.payload).then((payload) => {
          if (!socket.destroyed) socket.write(encodeFrame({ streamId: frame.streamId, type: messageType.response, flags: 0, payload }));
        });
      }
    });
  }

  private async answer(bytes: Buffer): Promise<Buffer> {
    let request: TtrpcRequest;
    try {
      request = decodeRequest(bytes);
    } catch (err) {
      return this.status(code.invalidArgument, `ttrpc: bad request: ${(err as Error).message}`);
    }
    const handler = this.methods.get(`${request.service}/${request.method}`);
    if (handler === undefined) {
      const known = [...this.methods.keys()].some((k) => k.startsWith(`${request.service}/`));
      return this.status(code.unimplemented, known ? `method ${request.method}` : `service ${request.service}`);
    }
    try {
      return Buffer.from(encodeResponse({ payload: await handler(request.payload, request) }));
    } catch (err) {
      return this.status(err instanceof TtrpcError ? err.code : code.unknown, (err as Error).message);
    }
  }

  private status(c: number, message: string): Buffer {
    return Buffer.from(encodeResponse({ status: create(StatusSchema, { code: c, message }), payload: new Uint8Array() }));
  }
}
