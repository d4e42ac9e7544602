/**
 * dockerd going away and coming back, seen through a second `concierge proxy` whose upstream is a
 * relay this test controls: a missing or dead socket gives a Docker-style JSON error with
 * a 5xx status, open streams end instead of hanging, and serving resumes once dockerd is back.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../lib/busybox.js';
import { docker28, removeEverythingNamed } from './harness/images.js';
import { startProxyProcess, type ProxyProcess } from './harness/proxy-process.js';
import { RawConnection, requestBytes } from '../lib/raw-http.js';
import { runCommand } from '../lib/run-command.js';
import { dockerdSocket } from '../lib/daemons.js';
import { UpstreamRelay, staleSocket } from './harness/upstream-relay.js';

const runId = randomBytes(3).toString('hex');
const relayPath = join(tmpdir(), `compat-${runId}-upstream.sock`);
const proxyPath = join(tmpdir(), `compat-${runId}-outage.sock`);
const image = `compat-busybox-${runId}:latest`;
let relay: UpstreamRelay;
let proxy: ProxyProcess;

beforeAll(async () => {
  await importBusybox(dockerdSocket(), image);
  relay = new UpstreamRelay(relayPath, dockerdSocket());
  // The upstream is missing on purpose: the proxy must start and serve errors anyway.
  proxy = await startProxyProcess(proxyPath, relayPath, { waitForPing: false });
});

afterAll(async () => {
  await proxy?.stop();
  await relay?.stop();
  await removeEverythingNamed(`unix://${dockerdSocket()}`, runId);
});

async function get(path: string) {
  const conn = await RawConnection.open(proxyPath);
  try {
    conn.write(requestBytes('GET', path));
    const res = await conn.readResponse({ timeoutMs: 60_000 });
    return { status: res.status, contentType: res.headers['content-type'] ?? '', body: res.body.toString('utf8') };
  } finally {
    conn.close();
  }
}

/** A Docker-style error: a 5xx status and a JSON body with a non-empty `message`. */
function expectDockerError(res: { status: number; contentType: string; body: string }) {
  expect(res.status, JSON.stringify(res)).toBeGreaterThanOrEqual(500);
  expect(res.status).toBeLessThan(600);
  expect(res.contentType).toMatch(/^application\/json/);
  const parsed = JSON.parse(res.body) as { message?: unknown };
  expect(typeof parsed.message).toBe('string');
  expect(parsed.message).not.toBe('');
}

/** The docker CLI's environment, pointed at the proxy. */
const cliEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, DOCKER_HOST: `unix://${proxyPath}`, HOME: tmpdir() });

describe('dockerd going away', () => {
  it('a missing upstream socket gives a JSON error with a 5xx status, and the CLI fails cleanly', async () => {
    expectDockerError(await get('/_ping'));
    expectDockerError(await get('/v1.41/containers/json'));
    const ps = await runCommand([docker28, 'ps'], { env: cliEnv(), timeoutMs: 60_000 });
    expect(ps.timedOut).toBe(false);
    expect(ps.code).not.toBe(0);
  });

  it('serving starts once the upstream appears', async () => {
    await relay.start();
    expect(await get('/_ping')).toMatchObject({ status: 200, body: 'OK' });
    const run = await runCommand([docker28, 'run', '--rm', '--name', `compat-${runId}-first`, image, 'echo', 'up'], { env: cliEnv() });
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: 'up\n' });
  });

  it('an open events stream ends when dockerd goes away mid-stream, and new requests get a JSON error', async () => {
    const events = await RawConnection.open(proxyPath);
    events.write(requestBytes('GET', '/v1.41/events'));
    const head = await events.readResponse({ bodyless: true });
    expect(head.status).toBe(200);
    const idle = await RawConnection.open(proxyPath);
    idle.write(requestBytes('GET', '/_ping'));
    expect((await idle.readResponse()).status).toBe(200);

    await relay.stop();
    // The stream must end (a truncated chunked body or a close), not hang for ever.
    await events.readToEnd(30_000);
    expect(events.closedByServer).toBe(true);
    events.close();

    // A kept-alive connection either answers its next request with the JSON error or is closed.
    if (!idle.closedByServer) {
      idle.write(requestBytes('GET', '/_ping'));
      const next = await idle.readResponse({ timeoutMs: 60_000 }).catch(() => undefined);
      if (next !== undefined) expectDockerError({ status: next.status, contentType: next.headers['content-type'] ?? '', body: next.body.toString() });
    }
    idle.close();
    expectDockerError(await get('/_ping'));
  });

  it('a dead socket left behind (connection refused) also gives a JSON error', async () => {
    const stale = await staleSocket(relayPath);
    try {
      expectDockerError(await get('/_ping'));
    } finally {
      await stale.remove();
    }
  });

  it('serving resumes once dockerd is back', async () => {
    await relay.start();
    expect(await get('/_ping')).toMatchObject({ status: 200, body: 'OK' });
    const run = await runCommand([docker28, 'run', '--rm', '--name', `compat-${runId}-again`, image, 'echo', 'back'], { env: cliEnv() });
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: 'back\n' });
  });
});
