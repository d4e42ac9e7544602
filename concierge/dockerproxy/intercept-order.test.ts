import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection, requestBytes } from '../../test/lib/raw-http.js';
import { gate, until, type Gate } from '../../test/lib/gate.js';
import { startProxyOverStandIn, type ProxyOverStandIn } from '../../test/lib/stand-in-dockerd.js';
import type { Interceptor, Outcome } from './intercept.js';

// An intercepted request (one the Docker-aware layer decides, asynchronously) pipelined behind one
// dockerd has not answered: it is decided only once the answers before it are out, so a locally made
// answer never overtakes dockerd's, and every answer comes back in the order of the requests.

let scene: ProxyOverStandIn | undefined;
let slow: Gate;
/** What dockerd had answered when each intercepted request was decided. */
let answeredAtDecision: Map<string, string[]>;
afterEach(async () => {
  slow.open();
  await scene?.close();
  scene = undefined;
});

const head = (method: string, target: string, body = ''): Buffer =>
  Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: docker\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`, 'latin1');

/** Routes `/decide/...`: `forward` goes to dockerd as `/rewritten`, `refuse` is answered 403 here, `body` has its body rewritten. */
async function start(decisionGates: Record<string, Gate> = {}): Promise<ProxyOverStandIn> {
  slow = gate();
  answeredAtDecision = new Map();
  const decide = async (target: string, body: Buffer | undefined): Promise<Outcome> => {
    answeredAtDecision.set(target, [...scene!.standIn.answered]);
    await nextTurn();
    await decisionGates[target]?.opened;
    if (target.startsWith('/decide/refuse')) return { status: 403, message: `refused ${target}` };
    if (target === '/decide/body') {
      const rewritten = `${body?.toString() ?? ''} rewritten`;
      return { head: head('POST', '/rewritten-body', rewritten), body: Buffer.from(rewritten) };
    }
    return { head: head('POST', target.replace('/decide/forward', '/rewritten')) };
  };
  const interceptor: Interceptor = {
    route: (request) =>
      request.target.startsWith('/decide/')
        ? { maxBody: request.target === '/decide/body' ? 1024 : 0, handle: (h, body) => decide(h.target, body) }
        : undefined,
  };
  scene = await startProxyOverStandIn(async (request) => {
    if (request.target === '/slow') await slow.opened;
    return { status: 200, body: `answer to ${request.target}${request.body.length > 0 ? ` with ${request.body.toString()}` : ''}` };
  }, interceptor);
  return scene;
}

async function readBodies(client: RawConnection, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const answer = await client.readResponse();
    out.push(`${answer.status} ${answer.body.toString().trim()}`);
  }
  return out;
}

describe('an intercepted request behind a pipelined one', { timeout: 20_000 }, () => {
  it('forwarded: decided after the answer before it, then answered in order with the request behind it', async () => {
    const { standIn, listen } = await start();
    const client = await RawConnection.open(listen);
    client.write(Buffer.concat([requestBytes('GET', '/slow'), requestBytes('POST', '/decide/forward'), requestBytes('GET', '/after')]));
    await until(() => standIn.requests.length === 1, 'dockerd to read /slow');
    expect(answeredAtDecision.size).toBe(0);

    slow.open();
    expect(await readBodies(client, 3)).toEqual(['200 answer to /slow', '200 answer to /rewritten', '200 answer to /after']);
    expect(answeredAtDecision.get('/decide/forward')).toEqual(['/slow']);
    expect(standIn.requests.map((r) => r.target)).toEqual(['/slow', '/rewritten', '/after']);
    expect(standIn.request('/rewritten').answeredBefore).toBe(1);
    client.close();
  });

  it('refused here: the local answer waits for dockerd answer before it, and the request behind it follows', async () => {
    const { standIn, listen } = await start();
    const client = await RawConnection.open(listen);
    client.write(Buffer.concat([requestBytes('GET', '/slow'), requestBytes('POST', '/decide/refuse'), requestBytes('GET', '/after')]));
    await until(() => standIn.requests.length === 1, 'dockerd to read /slow');

    slow.open();
    expect(await readBodies(client, 3)).toEqual(['200 answer to /slow', '403 {"message":"refused /decide/refuse"}', '200 answer to /after']);
    expect(answeredAtDecision.get('/decide/refuse')).toEqual(['/slow']);
    expect(standIn.requests.map((r) => r.target)).toEqual(['/slow', '/after']);
    client.close();
  });

  it('with its body read whole and rewritten: the rewritten body goes out, then the request behind it', async () => {
    const { standIn, listen } = await start();
    const client = await RawConnection.open(listen);
    client.write(Buffer.concat([requestBytes('GET', '/slow'), requestBytes('POST', '/decide/body', {}, 'options'), requestBytes('GET', '/after')]));
    await until(() => standIn.requests.length === 1, 'dockerd to read /slow');

    slow.open();
    expect(await readBodies(client, 3)).toEqual(['200 answer to /slow', '200 answer to /rewritten-body with options rewritten', '200 answer to /after']);
    expect(answeredAtDecision.get('/decide/body')).toEqual(['/slow']);
    client.close();
  });

  it('two intercepted requests in a row: the second is decided only after the first one is answered', async () => {
    const first = gate();
    const { listen } = await start({ '/decide/forward-1': first });
    slow.open();
    const client = await RawConnection.open(listen);
    client.write(Buffer.concat([requestBytes('POST', '/decide/forward-1'), requestBytes('POST', '/decide/refuse-2'), requestBytes('GET', '/after')]));
    await until(() => answeredAtDecision.has('/decide/forward-1'), 'the first decision');
    await nextTurn();
    expect(answeredAtDecision.has('/decide/refuse-2')).toBe(false);

    first.open();
    expect(await readBodies(client, 3)).toEqual(['200 answer to /rewritten-1', '403 {"message":"refused /decide/refuse-2"}', '200 answer to /after']);
    expect(answeredAtDecision.get('/decide/forward-1')).toEqual([]);
    expect(answeredAtDecision.get('/decide/refuse-2')).toEqual(['/rewritten-1']);
    client.close();
  });
});
