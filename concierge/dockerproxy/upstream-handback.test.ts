import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection, requestBytes } from '../../test/lib/raw-http.js';
import { gate, until, type Gate } from '../../test/lib/gate.js';
import { startProxyOverStandIn, type ProxyOverStandIn } from '../../test/lib/stand-in-dockerd.js';
import type { Interceptor } from './intercept.js';

// When a client connection is done, its dockerd connection goes back to the pool for the next client
// only if it sits between requests: nothing sent that is unanswered, no answer partly read, not a
// stream, and neither side said the connection closes (Connection: close, HTTP/1.0). Each test starts
// with an empty pool and notes every hand-back with dockerd's answers so far.

let scene: ProxyOverStandIn | undefined;
let slow: Gate;
let deciding: Gate;
afterEach(async () => {
  slow.open();
  deciding.open();
  await scene?.close();
  scene = undefined;
});

async function start(): Promise<ProxyOverStandIn> {
  slow = gate();
  deciding = gate();
  const interceptor: Interceptor = {
    route: (head) =>
      head.target === '/decided' ? { maxBody: 0, handle: () => deciding.opened.then(() => ({ head: requestBytes('GET', '/decided') })) } : undefined,
  };
  scene = await startProxyOverStandIn(async (request) => {
    switch (request.target) {
      case '/slow':
        await slow.opened;
        break;
      case '/closing-answer':
        return { status: 200, body: 'bye', headers: ['Connection: close'], close: true };
      case '/http10-answer':
        return { status: 200, body: 'old', version: 'HTTP/1.0', close: true };
      case '/cut-short':
        return { status: 200, body: 'abc', length: 10 };
      case '/v1.41/exec/e1/start':
        return { stream: 'upgrade' };
    }
    return { status: 200, body: `answer to ${request.target}` };
  }, interceptor);
  return scene;
}

/** A client that sends `bytes` and half-closes (as a client that is gone looks to the proxy). */
async function halfClosed(bytes: Buffer): Promise<RawConnection> {
  const client = await RawConnection.open(scene!.listen);
  client.write(bytes);
  client.endWriting();
  return client;
}

/** The stand-in connection a fresh client is served on. */
async function nextClientConnection(): Promise<number> {
  const client = await halfClosed(requestBytes('GET', '/next'));
  expect((await client.readToEnd()).toString('latin1')).toContain('answer to /next');
  return scene!.standIn.request('/next').connection;
}

describe('handing an idle dockerd connection back to the pool', { timeout: 20_000 }, () => {
  it('after every answer went out: handed back once, and the next client is served on it', async () => {
    await start();
    slow.open();
    const client = await halfClosed(Buffer.concat([requestBytes('GET', '/one'), requestBytes('GET', '/slow')]));
    expect((await client.readToEnd()).toString('latin1')).toContain('answer to /slow');
    expect(scene!.handedBack).toEqual([['/one', '/slow']]);
    expect(await nextClientConnection()).toBe(1);
  });

  it('HTTP/1.0 with keep-alive: handed back', async () => {
    await start();
    const client = await halfClosed(Buffer.from('GET /old-kept HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'));
    expect((await client.readToEnd()).toString('latin1')).toContain('answer to /old-kept');
    expect(scene!.handedBack).toEqual([['/old-kept']]);
    expect(await nextClientConnection()).toBe(1);
  });

  it('a request unanswered when the client ends: kept until its answer went out, then handed back', async () => {
    const { standIn } = await start();
    const client = await halfClosed(requestBytes('GET', '/slow'));
    await until(() => standIn.requests.length === 1, 'dockerd to read /slow');
    expect(await nextClientConnection()).toBe(2);
    slow.open();
    expect((await client.readToEnd()).toString('latin1')).toContain('answer to /slow');
    expect(scene!.handedBack).toEqual([['/next'], ['/next', '/slow']]);
  });

  it('a request being decided when the client ends: kept until it is decided, sent and answered, then handed back', async () => {
    const { standIn } = await start();
    const client = await halfClosed(requestBytes('GET', '/decided'));
    expect(await nextClientConnection()).toBe(2);
    deciding.open();
    expect((await client.readToEnd()).toString('latin1')).toContain('answer to /decided');
    expect(standIn.request('/decided').connection).toBe(1);
    expect(scene!.handedBack).toEqual([['/next'], ['/next', '/decided']]);
  });

  it('an answer partly read when dockerd goes away: never handed back, the client sees the answer cut', async () => {
    const { standIn } = await start();
    const client = await halfClosed(requestBytes('GET', '/cut-short'));
    await until(() => standIn.answered.length === 1, 'dockerd to answer /cut-short in part');
    standIn.drop(1);
    expect((await client.readToEnd()).toString('latin1')).toMatch(/Content-Length: 10\r\n\r\nabc$/);
    expect(scene!.handedBack).toEqual([]);
    expect(await nextClientConnection()).toBe(2);
  });

  for (const [what, bytes] of [
    ['the request says Connection: close', requestBytes('GET', '/closing', { Connection: 'close' })],
    ['the request is HTTP/1.0', Buffer.from('GET /old HTTP/1.0\r\n\r\n')],
    ['the answer says Connection: close', requestBytes('GET', '/closing-answer')],
    ['the answer is HTTP/1.0', requestBytes('GET', '/http10-answer')],
    ['the answer is a stream (101)', requestBytes('POST', '/v1.41/exec/e1/start', { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': '0' })],
  ] as const) {
    it(`${what}: not handed back`, async () => {
      await start();
      const client = await halfClosed(bytes);
      expect((await client.readToEnd()).toString('latin1')).toMatch(/^HTTP\/1\.[01] (200|101)/);
      expect(scene!.handedBack).toEqual([]);
      expect(await nextClientConnection()).toBe(2);
    });
  }
});
