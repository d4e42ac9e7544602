// The gRPC channel against a stand-in server for what a real containerd rarely does (split and joined
// messages, trailers-only errors, encoded messages, deadlines, limits); test/workloads runs it against
// containerd itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CallError, GrpcChannel, Status } from './grpc-channel.js';

const cleanups: (() => void)[] = [];
afterEach(() => { for (const c of cleanups.splice(0).reverse()) c(); });

const framed = (...messages: string[]): Buffer =>
  Buffer.concat(messages.map((m) => { const b = Buffer.from(m); const p = Buffer.alloc(5); p.writeUInt32BE(b.length, 1); return Buffer.concat([p, b]); }));

async function serve(handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Promise<Buffer>) => void): Promise<GrpcChannel> {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-grpc-'));
  const socket = join(dir, 'grpc.sock');
  const server: Http2Server = createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    handle(stream, headers, new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks)))));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const channel = new GrpcChannel(socket, { maxReceiveBytes: 64 });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => server.close(), () => channel.close());
  return channel;
}

async function messagesOf(channel: GrpcChannel, path: string, options: { timeoutMs?: number } = {}): Promise<{ messages: string[]; error?: CallError }> {
  const call = channel.start(path, { headers: { 'containerd-namespace': 'ns' }, ...options });
  const messages: string[] = [];
  call.onMessage((m) => messages.push(m.toString()));
  call.send(Buffer.from('hi'));
  call.end();
  try {
    await call.done;
    return { messages };
  } catch (err) {
    return { messages, error: err as CallError };
  }
}

describe('the gRPC channel', () => {
  it('sends gRPC headers and a framed message; reads messages split across frames and joined in one', async () => {
    let seen: IncomingHttpHeaders = {};
    let body: Buffer = Buffer.alloc(0);
    const channel = await serve((stream, headers, request) => {
      seen = headers;
      void request.then((b) => {
        body = b;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        const bytes = framed('one', 'two', 'three');
        stream.write(bytes.subarray(0, 3)); // part of the first prefix
        stream.write(bytes.subarray(3, 9));
        stream.end(bytes.subarray(9));
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      });
    });
    expect(await messagesOf(channel, '/pkg.Svc/Method')).toEqual({ messages: ['one', 'two', 'three'] });
    expect(seen).toMatchObject({ ':method': 'POST', ':path': '/pkg.Svc/Method', 'content-type': 'application/grpc', te: 'trailers', 'containerd-namespace': 'ns' });
    expect(body).toEqual(framed('hi'));
  });

  it("gives the server's status and its percent-encoded message, from trailers or a trailers-only answer", async () => {
    const channel = await serve((stream, headers) => {
      if (headers[':path'] === '/only') stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no%20such%20thing' }, { endStream: true });
      else {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.end(framed('partial'));
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '6', 'grpc-message': 'exists: 100%25' }));
      }
    });
    const only = await messagesOf(channel, '/only');
    expect(only.error).toMatchObject({ code: Status.NOT_FOUND, details: 'no such thing' });
    const trailed = await messagesOf(channel, '/trailed');
    expect(trailed).toMatchObject({ messages: ['partial'], error: { code: Status.ALREADY_EXISTS, details: 'exists: 100%' } });
  });

  it('ends with DEADLINE_EXCEEDED at the deadline (sent as grpc-timeout), RESOURCE_EXHAUSTED over the size limit, UNIMPLEMENTED on HTTP 404', async () => {
    let timeout: unknown;
    const channel = await serve((stream, headers) => {
      if (headers[':path'] === '/slow') { timeout = headers['grpc-timeout']; return; }
      if (headers[':path'] === '/big') { stream.respond({ ':status': 200, 'content-type': 'application/grpc' }); stream.write(framed('x'.repeat(65))); return; }
      stream.respond({ ':status': 404 }, { endStream: true });
    });
    expect((await messagesOf(channel, '/slow', { timeoutMs: 150 })).error).toMatchObject({ code: Status.DEADLINE_EXCEEDED });
    expect(timeout).toBe('150m');
    expect((await messagesOf(channel, '/big')).error).toMatchObject({ code: Status.RESOURCE_EXHAUSTED });
    expect((await messagesOf(channel, '/missing')).error).toMatchObject({ code: Status.UNIMPLEMENTED });
  });

  it('fails a call with UNAVAILABLE when nothing listens, and waits for a socket that appears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concierge-grpc-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'late.sock');
    const channel = new GrpcChannel(socket, { maxReceiveBytes: 64 });
    cleanups.push(() => channel.close());
    expect((await messagesOf(channel, '/any')).error).toMatchObject({ code: Status.UNAVAILABLE });
    const server = createServer();
    cleanups.push(() => server.close());
    setTimeout(() => server.listen(socket), 250);
    await expect(channel.waitForReady(5_000)).resolves.toBeUndefined();
    await expect(new GrpcChannel(join(dir, 'never.sock'), { maxReceiveBytes: 64 }).waitForReady(300)).rejects.toThrow(/ENOENT/);
  });
});
