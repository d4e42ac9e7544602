import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection, requestBytes } from '../../test/lib/raw-http.js';
import { gate, until, type Gate } from '../../test/lib/gate.js';
import { startProxyOverStandIn, type ProxyOverStandIn, type StandInAnswer } from '../../test/lib/stand-in-dockerd.js';

// A request that may hijack the connection (attach, exec start, any Upgrade) pipelined behind one
// dockerd has not answered yet: it goes out at once, and what the client sends after it waits until
// its answer says whether the connection is still HTTP or now a stream.

let scene: ProxyOverStandIn | undefined;
let slow: Gate;
afterEach(async () => {
  slow.open();
  await scene?.close();
  scene = undefined;
});

/** A stand-in dockerd: `/slow` waits for the test; attach and exec answer with `stream`, or 404 for a missing container. */
async function start(stream: StandInAnswer): Promise<ProxyOverStandIn> {
  slow = gate();
  scene = await startProxyOverStandIn(async (request) => {
    if (request.target === '/slow') await slow.opened;
    if (request.target.includes('/missing/')) return { status: 404, body: '{"message":"No such container: missing"}' };
    if (/\/(attach|start|session)\b/.test(request.target)) return stream;
    return { status: 200, body: `answer to ${request.target}` };
  });
  return scene;
}

const attach = '/v1.41/containers/c1/attach?stream=1&stdin=1&stdout=1';
/** Sent before the answer; shaped as a request, so a proxy that did not hold it would forward it to dockerd. */
const early = 'GET /early HTTP/1.1\r\nHost: docker\r\n\r\n';
const upgradeTcp = { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': '0' };

describe('a hijack behind a request dockerd has not answered', { timeout: 20_000 }, () => {
  for (const [kind, stream, headers] of [
    ['101 Upgrade: tcp', { stream: 'upgrade' }, upgradeTcp],
    ['200 raw stream without Upgrade', { stream: 'raw' }, { 'Content-Length': '0' }],
  ] as const) {
    it(`${kind}: answers come back in order, the bytes sent before the answer are dropped, those after reach the stream`, async () => {
      const { standIn, listen } = await start(stream);
      const client = await RawConnection.open(listen);
      client.write(Buffer.concat([requestBytes('GET', '/slow'), requestBytes('POST', attach, headers), Buffer.from(early)]));
      await until(() => standIn.requests.length === 1, 'dockerd to read /slow');

      slow.open();
      const first = await client.readResponse();
      expect(first.status).toBe(200);
      expect(first.body.toString()).toBe('answer to /slow');
      const second = await client.readResponse();
      expect(second.status).toBe(stream.stream === 'upgrade' ? 101 : 200);

      client.write('late');
      client.endWriting();
      expect((await client.readToEnd()).toString()).toBe('late');
      // The attach went out right behind /slow; the bytes after it never reached dockerd.
      expect(standIn.request(attach).answeredBefore).toBe(0);
      expect(standIn.request(attach).unreadAtAnswer).toBe('');
      expect(standIn.request(attach).streamed).toBe('late');
      expect(standIn.answered).toEqual(['/slow', attach]);
    });
  }

  it('an h2c upgrade (not a Docker stream): the bytes sent before the answer follow it into the stream', async () => {
    const { standIn, listen } = await start({ stream: 'upgrade' });
    const client = await RawConnection.open(listen);
    client.write(Buffer.concat([requestBytes('GET', '/slow'), requestBytes('POST', '/session', { Connection: 'Upgrade', Upgrade: 'h2c' }), Buffer.from(early)]));
    await until(() => standIn.requests.length === 1, 'dockerd to read /slow');

    slow.open();
    expect((await client.readResponse()).body.toString()).toBe('answer to /slow');
    expect((await client.readResponse()).status).toBe(101);
    client.write('late');
    client.endWriting();
    expect((await client.readToEnd()).toString()).toBe(`${early}late`);
    expect(standIn.request('/session').unreadAtAnswer).toBe('');
    expect(standIn.request('/session').streamed).toBe(`${early}late`);
  });

  it('a hijackable request answered as plain HTTP (404): the requests held behind it go out after that answer, in order', async () => {
    const { standIn, listen } = await start({ stream: 'upgrade' });
    const missing = '/v1.41/containers/missing/attach?stream=1&stdin=1';
    const client = await RawConnection.open(listen);
    client.write(Buffer.concat([requestBytes('GET', '/slow'), requestBytes('POST', missing, upgradeTcp), requestBytes('GET', '/after')]));
    await until(() => standIn.requests.length === 1, 'dockerd to read /slow');

    slow.open();
    expect((await client.readResponse()).body.toString()).toBe('answer to /slow');
    expect((await client.readResponse()).status).toBe(404);
    expect((await client.readResponse()).body.toString()).toBe('answer to /after');
    expect(standIn.request(missing).answeredBefore).toBe(0);
    expect(standIn.request('/after').answeredBefore).toBe(2);
    expect(standIn.request('/after').connection).toBe(standIn.request('/slow').connection);
    client.close();
  });
});
