import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUSTED } from '../../concierge/instance/docker-policy.js';
import { grpcCallOverUpgrade } from '../compat/harness/h2c-grpc.js';
import { docker20 } from '../compat/harness/images.js';
import { RawConnection } from '../lib/raw-http.js';
import { tar } from '../lib/tar.js';
import { api, dockerdSocket, removeImage, runCommand, runSibling, type TestCaller, useCallerScene } from './harness.js';

/**
 * The differential corpus of the request reading: each vector is sent straight to dockerd first (the
 * test asserts what dockerd did, so the vector is real) and then through a caller socket, where it is
 * refused or has exactly the effect concierge checked. Smuggling vectors carry an inner request that
 * creates a container binding the host's /etc: dockerd executing it unvetted is the escape; through
 * concierge the inner request is read as dockerd reads it, so it is vetted (the caller's root has no
 * /etc: refused) or never reaches dockerd.
 */
const scene = useCallerScene();
const { marker, image } = scene;
let a: TestCaller;
let foreignId: string;
let foreignRunning: string;
let foreignNet: string;
let roSource: string;

/** Every answer on one connection: bytes until dockerd or concierge closes, or nothing arrives for `idleMs`. */
function exchange(socket: string, bytes: Buffer | string, idleMs = 1500): Promise<{ text: string; statuses: number[]; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(socket);
    let got = Buffer.alloc(0);
    let timer: NodeJS.Timeout;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      const text = got.toString('latin1');
      resolve({ text, statuses: [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), idleMs);
    };
    sock.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      arm();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => finish(true));
    arm();
    sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** A create request for a container named `name` binding the host's /etc (in a caller's view: its own /etc). */
function innerCreate(name: string, opts: { close?: boolean } = {}): string {
  const body = JSON.stringify({ Image: image, Cmd: ['true'], HostConfig: { Binds: ['/etc:/host'] } });
  return `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${opts.close === false ? '' : 'Connection: close\r\n'}\r\n${body}`;
}

/** The Binds of container `name` on dockerd, or undefined when there is none. */
async function bindsOf(name: string): Promise<string[] | undefined> {
  const r = await api(dockerdSocket(), 'GET', `/containers/${name}/json`);
  if (r.status === 404) return undefined;
  return (r.json as { HostConfig: { Binds: string[] | null } }).HostConfig.Binds ?? [];
}

async function remove(name: string): Promise<void> {
  await api(dockerdSocket(), 'DELETE', `/containers/${name}?force=1`);
}

/** Straight to dockerd: the inner create ran with the host's /etc. Through concierge: it did not. */
async function smuggles(name: string, wrap: (inner: string) => string, expectDirect = true): Promise<void> {
  const direct = `${marker}-${name}-direct`;
  await exchange(dockerdSocket(), wrap(innerCreate(direct)));
  if (expectDirect) expect(await bindsOf(direct), 'dockerd executed the inner request').toEqual(['/etc:/host']);
  await remove(direct);
  const through = `${marker}-${name}-through`;
  const answers = await exchange(a.socket, wrap(innerCreate(through)));
  const binds = await bindsOf(through);
  await remove(through);
  expect(binds?.some((b) => b.startsWith('/etc:')) ?? false, `through concierge: ${answers.text.slice(0, 400)}`).toBe(false);
}

beforeAll(async () => {
  a = await scene.caller('a');
  const created = await api(dockerdSocket(), 'POST', `/containers/create?name=${marker}-foreign`, { Image: image, Cmd: ['true'], Labels: { [`${marker}-mark`]: '1' } });
  expect(created.status, created.text).toBe(201);
  foreignId = (created.json as { Id: string }).Id;
  const running = await api(dockerdSocket(), 'POST', `/containers/create?name=${marker}-foreign-run`, { Image: image, Cmd: ['sleep', '600'] });
  foreignRunning = (running.json as { Id: string }).Id;
  expect((await api(dockerdSocket(), 'POST', `/containers/${foreignRunning}/start`)).status).toBe(204);
  foreignNet = `${marker}-fnet`;
  expect((await api(dockerdSocket(), 'POST', '/networks/create', { Name: foreignNet })).status).toBe(201);
  roSource = mkdtempSync(join(scene.dir, 'ro-'));
  writeFileSync(join(roSource, 'f'), 'x');
});

afterAll(async () => {
  await api(dockerdSocket(), 'DELETE', `/networks/${foreignNet}`);
  rmSync(roSource, { recursive: true, force: true });
});

const PING = 'GET /_ping HTTP/1.1\r\nHost: d\r\n';

describe('framing: what dockerd reads as a second request is read as one (and vetted) by concierge', () => {
  const vectors: Array<[string, (inner: string) => string]> = [
    ['http10-te-chunked', (i) => `GET /_ping HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n${i}`],
    ['http10-te-chunked-length0', (i) => `POST /_ping HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n${i}`],
    ['bare-lf-before-te', (i) => `${PING}X-A: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${i}`],
    ['bare-lf-line-endings', (i) => `GET /_ping HTTP/1.1\nHost: d\nTransfer-Encoding: chunked\n\n0\r\n\r\n${i}`],
    ['chunk-ext-bare-lf', (i) => `${PING}Transfer-Encoding: chunked\r\n\r\n0;ext\n\r\n${i}`],
    ['chunk-ext-with-cr', (i) => `${PING}Transfer-Encoding: chunked\r\n\r\n0;a\rb\r\n\r\n${i}`],
    ['chunk-size-trailing-space', (i) => `${PING}Transfer-Encoding: chunked\r\n\r\n0 \r\n\r\n${i}`],
    ['chunk-empty-size-line', (i) => `${PING}Transfer-Encoding: chunked\r\n\r\n\r\n\r\n${i}`],
    ['chunk-trailer', (i) => `${PING}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n${i}`],
    ['obs-fold-hides-length', (i) => `POST /_ping HTTP/1.1\r\nHost: d\r\nX-A: 1\r\n Content-Length: 9999\r\n\r\n${i}`],
    ['te-overrides-length', (i) => `POST /_ping HTTP/1.1\r\nHost: d\r\nContent-Length: 9999\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${i}`],
    ['te-case', (i) => `${PING}Transfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n${i}`],
    ['length-with-spaces', (i) => `POST /_ping HTTP/1.1\r\nHost: d\r\nContent-Length:  2 \r\n\r\nab${i}`],
    ['length-duplicated-same', (i) => `POST /_ping HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab${i}`],
    ['empty-header-name', (i) => `${PING}: x\r\n\r\n${i}`],
    ['pipelined', (i) => `${PING}\r\n${PING}\r\n${i}`],
    ['keep-alive-sequence', (i) => `${PING}\r\n${innerCreate('x', { close: false }).replace('name=x', 'name=')}${i}`],
  ];
  for (const [name, wrap] of vectors) it(name, () => smuggles(name, wrap));

  const refusedByGo: Array<[string, string, number]> = [
    ['conflicting-lengths', `POST /_ping HTTP/1.1\r\nHost: d\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`, 400],
    ['two-transfer-encodings', `${PING}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 501],
    ['transfer-encoding-gzip', `${PING}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501],
    ['length-plus-sign', `POST /_ping HTTP/1.1\r\nHost: d\r\nContent-Length: +2\r\n\r\n`, 400],
    ['fold-first-line', `${PING.replace('Host: d\r\n', '')} Host: d\r\n\r\n`, 400],
    ['no-host-http11', 'GET /_ping HTTP/1.1\r\n\r\n', 400],
    ['two-hosts', `${PING}Host: e\r\n\r\n`, 400],
    ['bad-header-name', `${PING}Bad Name: x\r\n\r\n`, 400],
    ['ctl-in-value', `${PING}X-A: a\x01b\r\n\r\n`, 400],
    ['bare-cr-in-value', `${PING}X-A: a\rb\r\n\r\n`, 400],
    ['http-0.9', 'GET /_ping HTTP/0.9\r\n\r\n', 505],
    ['http-2.0', 'GET /_ping HTTP/2.0\r\nHost: d\r\n\r\n', 505],
    ['lower-case-version', 'GET /_ping http/1.1\r\nHost: d\r\n\r\n', 400],
    ['space-in-method', 'G T /_ping HTTP/1.1\r\nHost: d\r\n\r\n', 400],
    ['ctl-in-target', 'GET /_p\x7fing HTTP/1.1\r\nHost: d\r\n\r\n', 400],
    ['bad-escape-in-path', 'GET /v1.41/containers/%zz/json HTTP/1.1\r\nHost: d\r\n\r\n', 400],
    ['expect-unknown', `${PING}Expect: something\r\n\r\n`, 417],
  ];
  for (const [name, bytes, status] of refusedByGo) {
    it(`${name}: refused as dockerd refuses it`, async () => {
      const direct = await exchange(dockerdSocket(), bytes);
      expect(direct.statuses[0], direct.text).toBe(status);
      const through = await exchange(a.socket, bytes);
      expect(through.statuses[0], through.text).toBe(status);
      expect(through.statuses, 'nothing after the refusal').toHaveLength(1);
    });
  }

  it('a head split at every byte boundary reads the same', async () => {
    const head = `GET /v1.41/containers/json?all=1&filters=%7B%7D HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`;
    for (let cut = 1; cut < head.length; cut += 1) {
      const answer = await new Promise<string>((resolve) => {
        const sock = connect(a.socket);
        let got = '';
        sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
        sock.on('close', () => resolve(got));
        sock.write(head.slice(0, cut), () => setTimeout(() => sock.write(head.slice(cut)), 2));
      });
      expect(answer.slice(0, 15), `cut at ${cut}`).toBe('HTTP/1.1 200 OK');
      expect(answer).not.toContain(foreignId);
    }
  });
});

describe('targets: what dockerd routes, concierge routes the same way', () => {
  const createVia: Array<[string, string]> = [
    ['version-1.41.0', '/v1.41.0/containers/create'],
    ['version-01.41', '/v01.41/containers/create'],
    ['version-1.41-dot', '/v1.41./containers/create'],
    ['version-1.24.9', '/v1.24.9/containers/create'],
    ['escaped-letter', '/v1.41/%63ontainers/create'],
    ['escaped-slash', '/v1.41/containers%2Fcreate'],
    ['escaped-everything', '/v1.41/%63%6f%6e%74%61%69%6e%65%72%73/%63reate'],
    ['absolute-form', 'http://docker/v1.41/containers/create'],
    ['absolute-form-upper-scheme', 'HTTP://docker:2375/v1.41/containers/create'],
    ['absolute-form-other-scheme', 'foo://x/v1.41/containers/create'],
    ['no-version', '/containers/create'],
  ];
  for (const [name, path] of createVia) {
    it(`create via ${name}`, () =>
      smuggles(name, (inner) => inner.replace('POST /v1.41/containers/create?', `POST ${path}?`)));
  }

  const inspectForeign: Array<[string, (id: string) => string]> = [
    ['version-1.41.0', (id) => `/v1.41.0/containers/${id}/json`],
    ['escaped-id', (id) => `/v1.41/containers/${id.slice(0, 12).replace(/^(.)/, (c) => `%${c.charCodeAt(0).toString(16)}`)}/json`],
    ['escaped-route', (id) => `/v1.41/containers/${id}/%6Ason`],
    ['absolute-form', (id) => `http://docker/v1.41/containers/${id}/json`],
    ['escaped-name', () => `/v1.41/containers/${marker}%2Dforeign/json`],
  ];
  for (const [name, path] of inspectForeign) {
    it(`inspect a foreign container via ${name}`, async () => {
      const bytes = (p: string) => `GET ${p} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`;
      const direct = await exchange(dockerdSocket(), bytes(path(foreignId)));
      expect(direct.statuses[0], direct.text).toBe(200);
      const through = await exchange(a.socket, bytes(path(foreignId)));
      expect(through.statuses[0], through.text).toBe(404);
      // dockerd's wording, naming only what the client itself asked for.
      expect(through.text).toMatch(/No such container/);
    });
  }

  const listVia = ['/v1.41.0/containers/json?all=1', 'http://docker/containers/json?all=1', '/v1.41/%63ontainers/json?all=1', '/v1.41/containers/json?all=1&filters=%7B%7D&filters=x'];
  for (const path of listVia) {
    it(`list via ${path}: only the caller's`, async () => {
      const bytes = `GET ${path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`;
      expect((await exchange(dockerdSocket(), bytes)).text).toContain(foreignId);
      const through = await exchange(a.socket, bytes);
      expect(through.statuses[0], through.text).toBe(200);
      expect(through.text).not.toContain(foreignId);
    });
  }

  it('exec create in a foreign container via /v1.41.0/ is absent', async () => {
    const body = JSON.stringify({ Cmd: ['true'] });
    const bytes = `POST /v1.41.0/containers/${foreignRunning}/exec HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    expect((await exchange(dockerdSocket(), bytes)).statuses[0]).toBe(201);
    expect((await exchange(a.socket, bytes)).statuses[0]).toBe(404);
  });

  const answeredAsDockerd: Array<[string, string, number, RegExp]> = [
    ['unknown route', 'GET /v1.41/nothing-here', 404, /"message":"page not found"/],
    ['unknown route, old API (text)', 'GET /v1.20/nothing-here', 404, /\r\n\r\npage not found\n$/],
    ['wrong method', 'PUT /v1.41/containers/json', 404, /page not found/],
    ['unclean path', 'POST /v1.41/containers/../containers/create', 301, /./],
    ['double slash', 'GET /v1.41//containers/json', 301, /./],
    ['opaque target', 'GET x:y', 301, /./],
  ];
  for (const [name, line, status, body] of answeredAsDockerd) {
    it(`${name}: answered as dockerd answers, not forwarded`, async () => {
      const bytes = `${line} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`;
      const direct = await exchange(dockerdSocket(), bytes);
      expect(direct.statuses[0], direct.text).toBe(status);
      expect(direct.text).toMatch(body);
      const through = await exchange(a.socket, bytes);
      expect(through.statuses[0], through.text).toBe(status);
      if (status === 404) expect(through.text).toMatch(body);
    });
  }

  for (const path of ['/debug/vars', '/debug/pprof/cmdline', '/debug/pprof/', '/v1.41/../debug/vars']) {
    it(`${path} is not served to workloads`, async () => {
      const bytes = `GET ${path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`;
      const direct = await exchange(dockerdSocket(), bytes);
      expect([200, 301]).toContain(direct.statuses[0]);
      const through = await exchange(a.socket, bytes);
      expect([404, 301]).toContain(through.statuses[0]);
      expect(through.text).not.toMatch(/cmdline|memstats/);
    });
  }

  it('an undecodable escape in a container path is answered and concierge stays up', async () => {
    for (const p of ['/containers/%zz/start', '/v1.41/containers/%/json', '/v1.41/exec/%e/start', '/v1.41/volumes/%G0', '/v1.41/networks/%']) {
      const r = await exchange(a.socket, `POST ${p} HTTP/1.1\r\nHost: d\r\n\r\n`);
      expect(r.statuses[0], p).toBe(400);
    }
    expect((await api(a.socket, 'GET', '/_ping')).status).toBe(200);
  });
});

describe('parameters: read as ParseForm reads them (a form body first)', () => {
  it('containers prune with filters in a form body prunes only the caller\'s', async () => {
    const victim = await api(dockerdSocket(), 'POST', `/containers/create?name=${marker}-prune-victim`, { Image: image, Cmd: ['true'], Labels: { [`${marker}-victim`]: '1' } });
    expect(victim.status).toBe(201);
    const form = `filters=${encodeURIComponent(JSON.stringify({ label: [`${marker}-victim=1`] }))}`;
    const bytes = `POST /v1.41/containers/prune HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`;
    const through = await exchange(a.socket, bytes);
    expect(through.statuses[0], through.text).toBe(200);
    expect((await api(dockerdSocket(), 'GET', `/containers/${marker}-prune-victim/json`)).status, 'the foreign container survives').toBe(200);
    const direct = await exchange(dockerdSocket(), bytes);
    expect(direct.text).toContain((victim.json as { Id: string }).Id);
    expect((await api(dockerdSocket(), 'GET', `/containers/${marker}-prune-victim/json`)).status, 'dockerd pruned it by the body filter').toBe(404);
  });

  it('commit names the container in a form body: the body is read first', async () => {
    const form = `container=${foreignId}`;
    const bytes = `POST /v1.41/commit?container=nothing-${marker} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`;
    const through = await exchange(a.socket, bytes);
    expect(through.statuses[0], through.text).toBe(404);
    expect(through.text).toContain(foreignId);
  });

  const badParams: Array<[string, string]> = [
    ['semicolon', '/v1.41/containers/json?all=1;x=1'],
    ['bad escape', '/v1.41/containers/json?all=%zz'],
    ['bad escape in key', '/v1.41/containers/json?%g=1'],
  ];
  for (const [name, path] of badParams) {
    it(`${name}: refused with dockerd's own message`, async () => {
      const bytes = `GET ${path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`;
      const direct = await exchange(dockerdSocket(), bytes);
      expect(direct.statuses[0]).toBe(400);
      const message = /"message":"([^"]*)"/.exec(direct.text)?.[1];
      const through = await exchange(a.socket, bytes);
      expect(through.statuses[0]).toBe(400);
      expect(through.text).toContain(message);
    });
  }
});

describe('references and drivers in bodies', () => {
  const create = (hostConfig: object, extra: object = {}) => JSON.stringify({ Image: image, Cmd: ['true'], HostConfig: hostConfig, ...extra });
  const cases: Array<[string, string, number]> = [
    ['EndpointsConfig names a foreign network', create({}, { NetworkingConfig: { EndpointsConfig: { [foreignNetName()]: {} } } }), 404],
    ['NetworkMode names a foreign network', create({ NetworkMode: foreignNetName() }), 404],
    ['LogConfig.Type a plugin path', create({ LogConfig: { Type: '/run/x/plugin.sock', Config: {} } }), 403],
    ['LogConfig syslog to a host socket', create({ LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'unix:///dev/log' } } }), 403],
    ['LogConfig json-file with a path option', create({ LogConfig: { Type: 'json-file', Config: { 'max-size': '/etc/x' } } }), 403],
  ];
  function foreignNetName(): string {
    return `${marker}-fnet`;
  }
  for (const [name, body, status] of cases) {
    it(name, async () => {
      const direct = await api(dockerdSocket(), 'POST', `/containers/create?name=${marker}-ref-direct`, body);
      await remove(`${marker}-ref-direct`);
      expect(direct.status, `dockerd: ${direct.text}`).not.toBe(status === 404 ? 404 : 403);
      const through = await api(a.socket, 'POST', `/containers/create?name=${marker}-ref-through`, body);
      expect(through.status, through.text).toBe(status);
      expect(await bindsOf(`${marker}-ref-through`)).toBeUndefined();
    });
  }

  const networks: Array<[string, object]> = [
    ['network Driver a plugin name', { Driver: `${marker}-plugin` }],
    ['macvlan parent', { Driver: 'macvlan', Options: { parent: 'eth0' } }],
    ['bridge named after a host interface', { Options: { 'com.docker.network.bridge.name': 'lo' } }],
    ['IPAM driver a plugin', { IPAM: { Driver: `${marker}-ipam` } }],
  ];
  for (const [name, body] of networks) {
    it(`${name} is refused (not sent straight: it would touch the machine's interfaces)`, async () => {
      const through = await api(a.socket, 'POST', '/networks/create', { Name: `${marker}-n`, ...body });
      expect(through.status, through.text).toBe(403);
      expect((await api(dockerdSocket(), 'GET', `/networks/${marker}-n`)).status).toBe(404);
    });
  }

  it('exec create with Privileged obeys the container policy', async () => {
    const own = await api(a.socket, 'POST', `/containers/create?name=${marker}-own-exec`, create({ NetworkMode: 'none' }, { Cmd: ['sleep', '600'] }));
    expect(own.status, own.text).toBe(201);
    const id = (own.json as { Id: string }).Id;
    expect((await api(a.socket, 'POST', `/containers/${id}/start`)).status).toBe(204);
    expect((await api(dockerdSocket(), 'POST', `/containers/${id}/exec`, { Cmd: ['true'], Privileged: true })).status).toBe(201);
    const through = await api(a.socket, 'POST', `/containers/${id}/exec`, { Cmd: ['true'], Privileged: true });
    expect(through.status, through.text).toBe(403);
    expect((await api(a.socket, 'POST', `/containers/${id}/exec`, { Cmd: ['true'] })).status).toBe(201);
  });

  it('a bind under a read-only mount of the caller is staged read-only', async () => {
    const ro = await scene.caller('ro', [{ destination: '/ro', source: roSource, type: 'bind', options: ['rbind', 'ro'] }]);
    mkdirSync(join(ro.root, 'ro'), { recursive: true });
    const cmd = ['sh', '-c', 'touch /x/new 2>/dev/null && echo wrote || echo refused'];
    const direct = await runSibling(dockerdSocket(), { Image: image, Cmd: cmd, HostConfig: { Binds: [`${roSource}:/x`], NetworkMode: 'none' } });
    expect(direct.output?.trim(), 'the host source itself is writable').toBe('wrote');
    rmSync(join(roSource, 'new'), { force: true });
    for (const binds of [['/ro:/x'], ['/ro:/x:rw']]) {
      const through = await runSibling(ro.socket, { Image: image, Cmd: cmd, HostConfig: { Binds: binds, NetworkMode: 'none' } });
      expect(through.created.status, through.created.text).toBe(201);
      expect(through.output?.trim(), binds.join()).toBe('refused');
    }
    const mounts = await runSibling(ro.socket, { Image: image, Cmd: cmd, HostConfig: { Mounts: [{ Type: 'bind', Source: '/ro', Target: '/x' }], NetworkMode: 'none' } });
    expect(mounts.output?.trim()).toBe('refused');
  });
});

/** A classic-builder build of `dockerfile` (the body is its context), as dockerd answers it: status and the whole stream. */
function buildContext(socket: string, query: string, dockerfile: string): Promise<{ status: number; text: string }> {
  const context = tar([{ name: 'Dockerfile', data: Buffer.from(dockerfile) }]);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'POST', path: `/v1.41/build?${query}`, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': context.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(context);
  });
}

describe('build options: what reaches beyond the caller is refused, naming the parameter and the policy', () => {
  let trusted: TestCaller;
  let tags = 0;
  const built: string[] = [];
  const tag = () => {
    const t = `${marker}-built:${(tags += 1)}`;
    built.push(t);
    return t;
  };
  // An interface of the machine's own network namespace that a container on the default bridge does not
  // have: a bridge of this test's own (no address, no port, no traffic), so that no other test's bridge coming
  // and going decides the outcome.
  const hostOnly = `ccrr${randomBytes(4).toString('hex')}`;
  const listNets = () => `FROM ${image}\nRUN echo nets: $(ls /sys/class/net)\n`;
  // Every build runs its step (a cached step would show the network of an earlier build).
  const buildRaw = (socket: string, query: string, dockerfile: string) => buildContext(socket, `nocache=1&${query}`, dockerfile);

  beforeAll(async () => {
    execFileSync('ip', ['link', 'add', hostOnly, 'type', 'bridge']);
    trusted = await scene.caller('trusted', [], { policy: TRUSTED });
  });
  afterAll(async () => {
    execFileSync('ip', ['link', 'del', hostOnly]);
    for (const t of built) await removeImage(t);
  });

  it('networkmode=host (classic builder): a RUN step in the machine\'s network; isolated refused, trusted allowed', async () => {
    const direct = await buildRaw(dockerdSocket(), `networkmode=host&t=${tag()}`, listNets());
    expect(direct.text, 'dockerd ran the step in the host network').toContain(hostOnly);
    const through = await buildRaw(a.socket, `networkmode=host&t=${tag()}`, listNets());
    expect(through.status, through.text).toBe(403);
    expect(through.text).toContain('build networkmode=host is not allowed by this workload\'s dockerPolicy \\"isolated\\"');
    const allowed = await buildRaw(trusted.socket, `networkmode=host&t=${tag()}`, listNets());
    expect(allowed.text).toContain(hostOnly);
  });

  it('docker build --network host with BuildKit (/session, then POST /build?version=2): isolated refused, trusted allowed', async () => {
    const context = mkdtempSync(join(scene.dir, 'bk-'));
    writeFileSync(join(context, 'Dockerfile'), listNets());
    const cli = (socket: string) => runCommand([docker20, 'build', '--no-cache', '--network', 'host', '--progress=plain', '-t', tag(), context], {
      env: { PATH: process.env.PATH, HOME: scene.dir, DOCKER_BUILDKIT: '1', DOCKER_HOST: `unix://${socket}` }, timeoutMs: 120_000,
    });
    const direct = await cli(dockerdSocket());
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stderr).toContain(hostOnly);
    const through = await cli(a.socket);
    expect(through.code).not.toBe(0);
    expect(through.stderr).toContain('build networkmode=host is not allowed');
    const allowed = await cli(trusted.socket);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain(hostOnly);
  });

  it('remote: dockerd fetches the context itself from the machine\'s loopback; through concierge nothing is fetched', async () => {
    const fetched: string[] = [];
    const server = createServer((req, res) => {
      fetched.push(req.url ?? '');
      res.end(tar([{ name: 'Dockerfile', data: Buffer.from(`FROM ${image}\n`) }]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const query = (n: string) => `remote=${encodeURIComponent(`http://127.0.0.1:${port}/${n}.tar`)}&t=${tag()}`;
      const direct = await buildRaw(dockerdSocket(), query('direct'), '');
      expect(direct.status, direct.text).toBe(200);
      expect(fetched, 'dockerd fetched from the machine\'s loopback').toEqual(['/direct.tar']);
      const through = await buildRaw(a.socket, query('through'), '');
      expect(through.status, through.text).toBe(403);
      expect(through.text).toContain('build remote is not allowed');
      expect(fetched).toEqual(['/direct.tar']);
    } finally {
      server.close();
    }
  });

  it('networkmode names a foreign container or network: dockerd joins it; through concierge it does not exist', async () => {
    for (const mode of [`container:${foreignRunning}`, foreignNet]) {
      const direct = await buildRaw(dockerdSocket(), `networkmode=${encodeURIComponent(mode)}&t=${tag()}`, listNets());
      expect(direct.text, mode).toContain('nets:');
      const through = await buildRaw(a.socket, `networkmode=${encodeURIComponent(mode)}&t=${tag()}`, listNets());
      expect(through.status, through.text).toBe(404);
    }
  });

  it('cgroupparent is refused without the cgroup parent switch (not sent straight: it would leave cgroups on the machine)', async () => {
    const through = await buildRaw(a.socket, `cgroupparent=${marker}&t=${tag()}`, listNets());
    expect(through.status, through.text).toBe(403);
    expect(through.text).toContain('build cgroupparent is not allowed');
  });

  it('a BuildKit session registered on another caller\'s socket cannot be named; the caller\'s own can', async () => {
    const b = await scene.caller('b');
    const register = async (socket: string, id: string) => {
      const conn = await RawConnection.open(socket);
      conn.write(`POST /session HTTP/1.1\r\nHost: d\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nX-Docker-Expose-Session-Uuid: ${id}\r\nX-Docker-Expose-Session-Name: x\r\nX-Docker-Expose-Session-Sharedkey: x\r\n\r\n`);
      const { bytes } = await conn.readUntil((b) => b.includes('\r\n\r\n'), 10_000);
      expect(bytes.toString('latin1'), 'dockerd took the session').toMatch(/^HTTP\/1\.1 101 /);
      return conn;
    };
    const other = await register(b.socket, `${marker}-sb`);
    const own = await register(a.socket, `${marker}-sa`);
    try {
      const query = (id: string) => `version=2&remote=client-session&session=${id}&t=${tag()}`;
      const direct = await buildRaw(dockerdSocket(), query(`${marker}-sb`), '');
      expect(direct.status, 'dockerd takes a session by its id alone').toBe(200);
      const foreign = await buildRaw(a.socket, query(`${marker}-sb`), '');
      expect(foreign.status, foreign.text).toBe(403);
      expect(foreign.text).toContain('build session is not a BuildKit session of this workload');
      expect((await buildRaw(a.socket, query(`${marker}-sa`), '')).status).toBe(200);
    } finally {
      other.close();
      own.close();
    }
  });

  const dockerdRefuses: Array<[string, string]> = [
    ['securityopt', 'securityopt=seccomp%3Dunconfined'],
    ['squash without experimental', 'squash=1'],
    ['isolation other than default', 'isolation=hyperv'],
    ['outputs not JSON', 'outputs=nope'],
  ];
  for (const [name, query] of dockerdRefuses) {
    it(`${name}: dockerd refuses it itself; through concierge the answer is dockerd's`, async () => {
      const direct = await buildRaw(dockerdSocket(), query, listNets());
      const through = await buildRaw(a.socket, query, listNets());
      expect(direct.status, direct.text).toBeGreaterThanOrEqual(400);
      expect(through).toEqual(direct);
    });
  }

  it('/grpc (buildx\'s control API) is refused for an isolated caller where dockerd\'s builder grants network.host, passed where it does not', async () => {
    const listWorkers = '/moby.buildkit.v1.Control/ListWorkers';
    const direct = await grpcCallOverUpgrade(dockerdSocket(), '/grpc', listWorkers);
    expect(direct.grpcStatus).toBe('0');
    expect((await grpcCallOverUpgrade(a.socket, '/grpc', listWorkers)).upgradeStatusLine).toContain(' 403 ');
    expect((await grpcCallOverUpgrade(trusted.socket, '/grpc', listWorkers)).grpcStatus).toBe('0');
    const configured = await scene.caller('builder-off', [], { builderGrantsHostNetwork: false });
    expect((await grpcCallOverUpgrade(configured.socket, '/grpc', listWorkers)).grpcStatus).toBe('0');
  });
});

describe('checkpoints: answered as a dockerd that is not experimental answers them', () => {
  const vectors: Array<[string, (foreign: string) => string, string]> = [
    ['list', (f) => `GET /v1.41/containers/${f}/checkpoints`, ''],
    ['create', (f) => `POST /v1.41/containers/${f}/checkpoints`, '{"CheckpointID":"c1"}'],
    ['delete', (f) => `DELETE /v1.41/containers/${f}/checkpoints/c1`, ''],
    ['absent container', () => `GET /v1.41/containers/nothing-${marker}/checkpoints`, ''],
    ['version too new', (f) => `GET /v1.99/containers/${f}/checkpoints`, ''],
    ['version too old', (f) => `GET /v1.10/containers/${f}/checkpoints`, ''],
    ['old API: a text answer', (f) => `GET /v1.20/containers/${f}/checkpoints`, ''],
    ['no version', (f) => `GET /containers/${f}/checkpoints`, ''],
    ['escaped route', (f) => `GET /v1.41/containers/${f}/%63heckpoints`, ''],
  ];
  for (const [name, line, body] of vectors) {
    it(name, async () => {
      const bytes = `${line(foreignId)} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
      const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n') + 4);
      const direct = await exchange(dockerdSocket(), bytes);
      expect([400, 501]).toContain(direct.statuses[0]);
      const through = await exchange(a.socket, bytes);
      expect(through.statuses, through.text).toEqual(direct.statuses);
      expect(bodyOf(through.text)).toBe(bodyOf(direct.text));
    });
  }
});
