/**
 * The wire, byte by byte, straight at dockerd and through the proxy: an HTTP/2
 * preface, keep-alive and pipelining, chunked uploads, API version prefixes, and hijacked exec
 * streams with and without `Upgrade: tcp`, over-read bytes and half-close.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcCallOverUpgrade } from './harness/h2c-grpc.js';
import { RawConnection, chunked, demuxDockerStream, requestBytes, type RawResponse } from '../lib/raw-http.js';
import { compareTargets } from './harness/scenario.js';
import { type CompatRun, type Target } from './harness/targets.js';
import { startRunWithImage, stopRun } from './harness/suite.js';

let run: CompatRun;
let image: string;

beforeAll(async () => {
  ({ run, image } = await startRunWithImage());
});

afterAll(() => stopRun(run));

/** Headers whose value is part of the outcome (Date, and framing headers, are not compared here). */
const comparedHeaders = ['api-version', 'content-type', 'docker-experimental', 'ostype', 'server', 'connection', 'upgrade'];

function summary(res: RawResponse, body: 'text' | 'json' | 'size' = 'text') {
  const headers = Object.fromEntries(comparedHeaders.filter((h) => res.headers[h] !== undefined).map((h) => [h, res.headers[h]]));
  const text = res.body.toString('utf8');
  return {
    statusLine: res.statusLine,
    headers,
    framing: res.framing,
    body: body === 'json' ? parseJsonOrText(text) : body === 'size' ? res.body.length : text,
  };
}

/** Old API versions get plain-text errors: those stay text. */
function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function request(t: Target, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  const conn = await RawConnection.open(t.socket);
  try {
    conn.write(requestBytes(method, path, headers, body));
    return await conn.readResponse();
  } finally {
    conn.close();
  }
}

async function createContainer(t: Target, name: string, cmd: string[], extra: Record<string, unknown> = {}) {
  const res = await request(t, 'POST', `/containers/create?name=${name}`, { 'Content-Type': 'application/json' }, JSON.stringify({ Image: image, Cmd: cmd, ...extra }));
  if (res.status !== 201) throw new Error(`create ${name}: ${res.statusLine} ${res.body.toString()}`);
  return (JSON.parse(res.body.toString()) as { Id: string }).Id;
}

describe('HTTP/2 prior knowledge', () => {
  it('a preface straight on the socket is refused with an HTTP/1.1 answer and a close', async () => {
    const { direct, proxy, caller } = await compareTargets(run, async (t) => {
      const conn = await RawConnection.open(t.socket);
      conn.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      const answer = (await conn.readToEnd(15_000)).toString('latin1');
      const closed = conn.closedByServer;
      conn.close();
      const statusLine = answer.split('\r\n')[0] ?? '';
      const status = Number(statusLine.split(' ')[1]);
      // What a client needs in order to fall back to HTTP/1.1: an HTTP/1.1 status that is not a
      // success and no HTTP/2 SETTINGS frame, then the server hangs up.
      return { http1: statusLine.startsWith('HTTP/1.1 '), refused: status >= 300, closed };
    });
    expect(direct).toEqual({ http1: true, refused: true, closed: true });
    expect(proxy).toEqual(direct);
    expect(caller).toEqual(direct);
  });
});

describe('BuildKit /grpc', () => {
  // The 20.10 CLI's BuildKit client uses /session only (covered by the build scenarios); buildx
  // drives dockerd's builder through /grpc. Not installed here, so its first step is done by hand.
  // The caller socket refuses /grpc to an isolated workload where dockerd's builder grants network.host,
  // as the test dockerd does (dockerd's default): that side is in test/dockerproxy/request-reading.test.ts.
  it('h2c upgrade, then gRPC calls on the upgraded connection', async () => {
    const summarize = async (t: Target, method: string) => {
      const r = await grpcCallOverUpgrade(t.socket, '/grpc', method);
      return { ...r, body: r.body.toString('base64') };
    };
    for (const t of [run.direct, run.proxy]) {
      const listWorkers = await summarize(t, '/moby.buildkit.v1.Control/ListWorkers');
      expect(listWorkers, t.label).toMatchObject({ upgradeStatusLine: 'HTTP/1.1 101 Switching Protocols', status: 200, grpcStatus: '0' });
      expect(Buffer.from(listWorkers.body, 'base64').length).toBeGreaterThan(5);
      expect(await summarize(t, '/moby.buildkit.v1.Control/NoSuchMethod'), t.label).toMatchObject({ status: 200, grpcStatus: '12' });
    }
    expect((await summarize(run.caller, '/moby.buildkit.v1.Control/ListWorkers')).upgradeStatusLine).toMatch(/^HTTP\/1\.1 403 /);
  });
});

describe('keep-alive', () => {
  it('several requests one after another, then pipelined, on one connection', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const conn = await RawConnection.open(t.socket);
      const filter = encodeURIComponent(JSON.stringify({ name: [t.name('nothing-has-this-name')] }));
      const sequential = [];
      for (const [method, path] of [
        ['GET', '/_ping'],
        ['HEAD', '/_ping'],
        ['GET', '/v1.41/version'],
        ['GET', `/containers/json?all=1&filters=${filter}`],
        ['GET', '/v1.41/containers/compat-no-such-container/json'],
      ] as const) {
        conn.write(requestBytes(method, path));
        sequential.push(summary(await conn.readResponse({ bodyless: method === 'HEAD' })));
      }
      conn.write(Buffer.concat([requestBytes('GET', '/_ping'), requestBytes('GET', '/v1.41/version'), requestBytes('GET', '/_ping')]));
      const pipelined = [];
      for (let i = 0; i < 3; i++) pipelined.push(summary(await conn.readResponse()));
      const stillOpen = !conn.closedByServer;
      conn.close();
      return { sequential, pipelined, stillOpen };
    });
    expect(normalized.sequential.map((r) => r.statusLine)).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 404 Not Found',
    ]);
    expect(normalized.pipelined.map((r) => r.body)).toEqual(['OK', expect.stringContaining('ApiVersion'), 'OK']);
    expect(normalized.stillOpen).toBe(true);
  });
});

describe('chunked request bodies', () => {
  it('a chunked create and a chunked archive upload, on one connection', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name('chunked');
      const tarDir = join(t.dir, 'chunked');
      mkdirSync(tarDir, { recursive: true });
      writeFileSync(join(tarDir, 'payload.txt'), 'x'.repeat(3 << 20));
      // A fixed mtime, so the archive's stat header is the same for both targets.
      const tar = execFileSync('tar', ['-C', tarDir, '--mtime=2020-01-01 00:00:00Z', '--owner=0', '--group=0', '-cf', '-', 'payload.txt'], { maxBuffer: 16 << 20 });
      const conn = await RawConnection.open(t.socket);
      const body = JSON.stringify({ Image: image, Cmd: ['true'], Labels: { compat: 'chunked' } });
      conn.write(requestBytes('POST', `/v1.41/containers/create?name=${name}`, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
      conn.write(chunked([body.slice(0, 10), body.slice(10, 30), body.slice(30)]));
      const created = summary(await conn.readResponse(), 'json');
      conn.write(requestBytes('PUT', `/v1.41/containers/${name}/archive?path=/tmp`, { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' }));
      const pieces: Buffer[] = [];
      for (let at = 0; at < tar.length; at += 256 << 10) pieces.push(tar.subarray(at, at + (256 << 10)));
      conn.write(chunked(pieces));
      const uploaded = summary(await conn.readResponse());
      conn.write(requestBytes('HEAD', `/v1.41/containers/${name}/archive?path=/tmp/payload.txt`));
      const stat = await conn.readResponse({ bodyless: true });
      conn.write(requestBytes('DELETE', `/v1.41/containers/${name}?force=1`));
      const removed = summary(await conn.readResponse());
      conn.close();
      const pathStat = stat.headers['x-docker-container-path-stat'];
      return {
        created,
        uploaded,
        stat: { statusLine: stat.statusLine, pathStat: pathStat ? (JSON.parse(Buffer.from(pathStat, 'base64').toString()) as unknown) : null },
        removed,
      };
    });
    expect(normalized.created.statusLine).toBe('HTTP/1.1 201 Created');
    expect(normalized.uploaded.statusLine).toBe('HTTP/1.1 200 OK');
    expect(normalized.stat.pathStat).toMatchObject({ name: 'payload.txt', size: 3 << 20 });
    expect(normalized.removed.statusLine).toBe('HTTP/1.1 204 No Content');
  });
});

describe('API version prefixes', () => {
  it('/v1.41, /v1.24, none, too old and too new', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const out: Record<string, unknown> = {};
      for (const prefix of ['/v1.41', '/v1.24', '', '/v1.12', '/v1.11', '/v1.42', '/v9.99']) {
        out[`${prefix || '(none)'}/version`] = summary(await request(t, 'GET', `${prefix}/version`), 'json');
        out[`${prefix || '(none)'}/_ping`] = summary(await request(t, 'GET', `${prefix}/_ping`));
      }
      out['/v1.24/containers/json'] = summary(await request(t, 'GET', `/v1.24/containers/json?filters=${encodeURIComponent(JSON.stringify({ name: [t.name('none')] }))}`), 'json');
      return out;
    });
    expect(normalized['/v1.24/version']).toMatchObject({ statusLine: 'HTTP/1.1 200 OK' });
    expect(normalized['(none)/version']).toMatchObject({ statusLine: 'HTTP/1.1 200 OK' });
    expect(normalized['/v1.12/version']).toMatchObject({ statusLine: 'HTTP/1.1 200 OK' });
    expect(normalized['/v1.11/version']).toMatchObject({ statusLine: 'HTTP/1.1 400 Bad Request', body: expect.stringContaining('too old') as unknown });
    expect(normalized['/v1.42/version']).toMatchObject({ statusLine: 'HTTP/1.1 400 Bad Request', body: { message: expect.stringContaining('too new') as unknown } });
  });
});

/** Starts a `sleep` container and creates an exec of `cat` with stdin, stdout and stderr attached. */
async function catExec(t: Target, name: string) {
  const id = await createContainer(t, name, ['sleep', '600']);
  const started = await request(t, 'POST', `/containers/${id}/start`);
  if (started.status !== 204) throw new Error(`start ${name}: ${started.statusLine}`);
  const execCreate = await request(
    t,
    'POST',
    `/v1.41/containers/${id}/exec`,
    { 'Content-Type': 'application/json' },
    JSON.stringify({ AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false, Cmd: ['sh', '-c', 'cat; echo cat-ended >&2'] }),
  );
  const execId = (JSON.parse(execCreate.body.toString()) as { Id: string }).Id;
  const state = async () => {
    const inspect = await request(t, 'GET', `/exec/${execId}/json`);
    const s = JSON.parse(inspect.body.toString()) as { Running: boolean; ExitCode: number };
    return { Running: s.Running, ExitCode: s.ExitCode };
  };
  const remove = () => request(t, 'DELETE', `/containers/${id}?force=1`);
  return { execId, state, remove };
}

const upgradeModes: Array<[string, Record<string, string>]> = [
  ['with Upgrade: tcp (101)', { Connection: 'Upgrade', Upgrade: 'tcp' }],
  ['without an Upgrade header (200 raw stream)', {}],
];

describe('hijacked exec start', () => {
  it.each(upgradeModes)('%s: stdin, then half-close ends cat and the stream', async (_label, upgradeHeaders) => {
    const { normalized } = await compareTargets(run, async (t) => {
      const exec = await catExec(t, t.name(`exec-${Object.keys(upgradeHeaders).length ? 'upgrade' : 'raw'}`));
      const conn = await RawConnection.open(t.socket);
      conn.write(requestBytes('POST', `/v1.41/exec/${exec.execId}/start`, { 'Content-Type': 'application/json', ...upgradeHeaders }, JSON.stringify({ Detach: false, Tty: false })));
      const head = await conn.readResponse();
      conn.write('one\n');
      conn.write('two\n');
      // Without the half-close reaching dockerd, cat never sees EOF and this stream never ends.
      conn.endWriting();
      const stream = await conn.readToEnd(30_000);
      const closedByServer = conn.closedByServer;
      conn.close();
      const state = await exec.state();
      await exec.remove();
      return { head: summary(head), stream: demuxDockerStream(stream), closedByServer, exec: state };
    });
    expect(normalized.head.statusLine).toBe(Object.keys(upgradeHeaders).length ? 'HTTP/1.1 101 UPGRADED' : 'HTTP/1.1 200 OK');
    expect(normalized.stream).toEqual({ stdout: 'one\ntwo\n', stderr: 'cat-ended\n', rest: 0 });
    expect(normalized.closedByServer).toBe(true);
    expect(normalized.exec).toEqual({ Running: false, ExitCode: 0 });
  });

  /*
   * Bytes a client sends in the same write as an attach/exec request, before the answer: dockerd drops
   * them (Go's HTTP server had buffered them when the connection was hijacked), and clients rely on it
   * (dockerode writes its attach options there as an unframed body). The proxy and the caller socket
   * drop them too; what is sent after the answer reaches the process everywhere.
   */
  const overReadCases = upgradeModes.flatMap(([label, headers]) => (['direct', 'proxy', 'caller'] as const).map((via) => [label, via, headers] as const));
  it.each(overReadCases)('%s: stdin sent in the same write as the request is dropped (%s), stdin after the answer arrives', async (_label, via, upgradeHeaders) => {
    const t = run[via];
    const exec = await catExec(t, t.name(`overread-${Object.keys(upgradeHeaders).length ? 'upgrade' : 'raw'}`));
    const conn = await RawConnection.open(t.socket);
    conn.write(
      Buffer.concat([
        requestBytes('POST', `/v1.41/exec/${exec.execId}/start`, { 'Content-Type': 'application/json', ...upgradeHeaders }, JSON.stringify({ Detach: false, Tty: false })),
        Buffer.from('sent with the request\n'),
      ]),
    );
    const head = await conn.readResponse();
    conn.write('sent after the answer\n');
    conn.endWriting();
    const stream = demuxDockerStream(await conn.readToEnd(30_000));
    conn.close();
    await exec.remove();
    expect(head.status).toBe(Object.keys(upgradeHeaders).length ? 101 : 200);
    expect(stream).toEqual({ stdout: 'sent after the answer\n', stderr: 'cat-ended\n', rest: 0 });
  });
});
