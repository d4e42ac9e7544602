import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtrpcClient } from './ttrpc-client.js';
import { encodeFrame, FrameReader, headerLength, maxPayload, messageType } from './ttrpc-frame.js';
import { code, decodeRequest, encodeRequest } from './ttrpc-messages.js';
import { TtrpcServer, TtrpcError } from './ttrpc-server.js';

describe('ttrpc frames', () => {
  it('cuts frames out of any chunking, one byte at a time included', () => {
    const frames = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7)].map((payload, i) =>
      encodeFrame({ streamId: 2 * i + 1, type: messageType.request, flags: 0, payload }));
    const stream = Buffer.concat(frames);
    for (const step of [1, 3, headerLength, 4096, stream.length]) {
      const reader = new FrameReader();
      const seen = [];
      for (let at = 0; at < stream.length; at += step) seen.push(...reader.push(stream.subarray(at, at + step)));
      expect(seen.map((f) => [f.streamId, f.payload.length])).toEqual([[1, 3], [3, 0], [5, 70_000]]);
      expect(seen[0]!.payload.toString()).toBe('one');
    }
  });

  it('puts the length, stream id, type and flags in the 10-byte header', () => {
    const f = encodeFrame({ streamId: 0x01020304, type: 2, flags: 1, payload: Buffer.from('ab') });
    expect([...f.subarray(0, headerLength)]).toEqual([0, 0, 0, 2, 1, 2, 3, 4, 2, 1]);
  });

  it('refuses a frame longer than ttrpc allows', () => {
    const header = Buffer.alloc(headerLength);
    header.writeUInt32BE(maxPayload + 1, 0);
    expect(() => new FrameReader().push(header)).toThrow(/exceeds/);
    expect(() => encodeFrame({ streamId: 1, type: 1, flags: 0, payload: Buffer.alloc(maxPayload + 1) })).toThrow(/exceeds/);
  });

  it('round-trips a request with metadata and a timeout', () => {
    const req = { service: 's.v1.S', method: 'M', payload: new Uint8Array([1, 2, 3]), timeoutNano: 5_000_000_000n, metadata: [{ key: 'k', value: 'v' }] };
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
  });
});

describe('ttrpc server', () => {
  let dir: string;
  let server: TtrpcServer;
  let client: TtrpcClient;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ttrpc-test-'));
    server = new TtrpcServer();
    server.register('test.Echo', 'Echo', (p) => Promise.resolve(p));
    server.register('test.Echo', 'Fail', () => Promise.reject(new TtrpcError(code.notFound, 'no such thing')));
    await server.listen(join(dir, 's.sock'));
    client = await TtrpcClient.connect(join(dir, 's.sock'));
  });
  afterAll(async () => {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers each request on its stream id, big payloads included', async () => {
    const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
    const [a, b] = await Promise.all([client.call('test.Echo', 'Echo', big), client.call('test.Echo', 'Echo', new Uint8Array([9]))]);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(big))).toBe(0);
    expect([...b]).toEqual([9]);
  });

  it('answers an unknown method or service with Unimplemented, and a handler error with its code', async () => {
    await expect(client.call('test.Echo', 'Nope', new Uint8Array())).rejects.toMatchObject({ code: code.unimplemented, message: 'method Nope' });
    await expect(client.call('other.S', 'M', new Uint8Array())).rejects.toMatchObject({ code: code.unimplemented, message: 'service other.S' });
    await expect(client.call('test.Echo', 'Fail', new Uint8Array())).rejects.toMatchObject({ code: code.notFound, message: 'no such thing' });
  });
});
