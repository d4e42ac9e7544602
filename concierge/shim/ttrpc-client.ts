// A ttrpc client on a unix socket: requests on odd stream ids (as ttrpc's clients use), each answered by
// the response frame of the same id; a non-OK status rejects with a TtrpcError.
import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameReader, messageType } from './ttrpc-frame.js';
import { code, decodeResponse, encodeRequest } from './ttrpc-messages.js';
import { TtrpcError } from './ttrpc-server.js';

export class TtrpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(p: Uint8Array): void; reject(e: Error): void }>();
  private readonly ready: Promise<void>;

  private constructor(private readonly socket: Socket) {
    const reader = new FrameReader();
    this.ready = new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        const waiter = this.pending.get(frame.streamId);
        if (frame.type !== messageType.response || waiter === undefined) continue;
        this.pending.delete(frame.streamId);
        const res = decodeResponse(frame.payload);
        if (res.status !== undefined && res.status.code !== code.ok) waiter.reject(new TtrpcError(res.status.code, res.status.message));
        else waiter.resolve(res.payload);
      }
    });
    socket.once('close', () => {
      for (const w of this.pending.values()) w.reject(new Error('ttrpc: connection closed'));
      this.pending.clear();
    });
  }

  static async connect(path: string): Promise<TtrpcClient> {
    const client = new TtrpcClient(connect(path));
    await client.ready;
    return client;
  }

  call(service: string, method: string, payload: Uint8Array, metadata: { key: string; value: string }[] = []): Promise<Uint8Array> {
    const streamId = this.nextId;
    this.nextId += 2;
    return new Promise((resolve, reject) => {
      this.pending.set(streamId, { resolve, reject });
      const bytes = encodeRequest({ service, method, payload, timeoutNano: 0n, metadata });
      this.socket.write(encodeFrame({ streamId, type: messageType.request, flags: 0, payload: Buffer.from(bytes) }));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
