import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  docker,
  dockerdSocket,
  raw,
  type TestCaller,
  useCallerScene,
} from './harness.js';

/**
 * Two callers on one dockerd: each sees and touches only its own siblings, volumes and
 * networks; the other's are absent to it (404, worded as dockerd words it), by name, full id or short id.
 */
const scene = useCallerScene();
const { marker, image } = scene;
let a: TestCaller;
let b: TestCaller;
const ids: Record<string, string> = {};
let execA: string;

async function createRunning(c: TestCaller, name: string): Promise<string> {
  const created = await api(c.socket, 'POST', `/containers/create?name=${name}`, {
    Image: image,
    Cmd: ['sleep', '600'],
    HostConfig: { Binds: ['/mydata:/data'], NetworkMode: 'none' },
  });
  expect(created.status, created.text).toBe(201);
  const id = (created.json as { Id: string }).Id;
  expect((await api(c.socket, 'POST', `/containers/${id}/start`)).status).toBe(204);
  return id;
}

beforeAll(async () => {
  a = await scene.caller('a');
  b = await scene.caller('b');
  for (const c of [a, b]) {
    mkdirSync(join(c.root, 'mydata'));
    writeFileSync(join(c.root, 'mydata', `file-of-${c.caller.id}`), 'secret\n');
  }
  ids.a = await createRunning(a, `${marker}-a1`);
  ids.b = await createRunning(b, `${marker}-b1`);
  const exec = await api(a.socket, 'POST', `/containers/${ids.a}/exec`, { Cmd: ['true'] });
  expect(exec.status).toBe(201);
  execA = (exec.json as { Id: string }).Id;
  expect((await api(a.socket, 'POST', '/volumes/create', { Name: `${marker}-vol-a` })).status).toBe(201);
  expect((await api(a.socket, 'POST', '/networks/create', { Name: `${marker}-net-a` })).status).toBe(201);
});

/** Every way of touching a container, as [method, path suffix, body]. */
const CONTAINER_ACTIONS: Array<[string, string, unknown?]> = [
  ['GET', '/json'],
  ['GET', '/logs?stdout=1&stderr=1'],
  ['GET', '/archive?path=/data'],
  ['GET', '/export'],
  ['GET', '/top'],
  ['GET', '/stats?stream=0'],
  ['GET', '/changes'],
  ['POST', '/exec', { Cmd: ['cat', '/data/secret'] }],
  ['POST', '/attach?stream=1&stdout=1'],
  ['POST', '/kill'],
  ['POST', '/stop?t=0'],
  ['POST', '/restart?t=0'],
  ['POST', '/pause'],
  ['POST', '/rename?name=stolen'],
  ['POST', '/update', { Memory: 0 }],
  ['POST', '/wait'],
  ['DELETE', '?force=1&v=1'],
];

describe('two callers, one dockerd', () => {
  for (const [who, other] of [['a', 'b'], ['b', 'a']] as const) {
    it(`${who} gets 404 for every action on ${other}'s sibling, by name, id and short id`, async () => {
      const me = who === 'a' ? a : b;
      const refs = [`${marker}-${other}1`, ids[other]!, ids[other]!.slice(0, 12)];
      for (const ref of refs) {
        for (const [method, suffix, body] of CONTAINER_ACTIONS) {
          const path = `/v1.41/containers/${encodeURIComponent(ref)}${suffix}`;
          const r = await api(me.socket, method, path, body);
          expect(r.status, `${method} ${path}: ${r.text}`).toBe(404);
          expect((r.json as { message: string }).message, path).toMatch(/No such container/);
        }
      }
      // The other's sibling is still running, untouched.
      const direct = await api(dockerdSocket(), 'GET', `/containers/${ids[other]}/json`);
      expect((direct.json as { State: { Running: boolean }; Name: string }).State.Running).toBe(true);
      expect((direct.json as { Name: string }).Name).toBe(`/${marker}-${other}1`);
    });

    it(`${who} lists only its own siblings, whatever the filters`, async () => {
      const me = who === 'a' ? a : b;
      const all = await api(me.socket, 'GET', '/containers/json?all=1');
      expect((all.json as Array<{ Id: string }>).map((c) => c.Id)).toEqual([ids[who]]);
      // The docker CLI's map form of filters.
      const byName = await api(me.socket, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: { [`${marker}-${other}1`]: true } }))}`);
      expect(byName.json).toEqual([]);
      const otherLabel = await api(me.socket, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: { [`io.concierge.owner=${marker}-${other}`]: true } }))}`);
      expect(otherLabel.json).toEqual([]);
      const ownByName = await api(me.socket, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: { [`${marker}-${who}1`]: true } }))}`);
      expect((ownByName.json as Array<{ Id: string }>).map((c) => c.Id)).toEqual([ids[who]]);
    });

    it(`${who} lists with the legacy list form of filters (docker-py, compose) too`, async () => {
      const me = who === 'a' ? a : b;
      const mine = await api(me.socket, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [`${marker}-${who}1`] }))}`);
      expect(mine.status, mine.text).toBe(200);
      expect((mine.json as Array<{ Id: string }>).map((c) => c.Id)).toEqual([ids[who]]);
      const theirs = await api(me.socket, 'GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [`${marker}-${other}1`] }))}`);
      expect(theirs.status, theirs.text).toBe(200);
      expect(theirs.json).toEqual([]);
    });

    it(`${who} gets a bodiless 404 to HEAD on the archive of ${other}'s sibling`, async () => {
      const me = who === 'a' ? a : b;
      // A HEAD answer has no body; bytes after its head would be read as the next answer on the connection.
      const r = await raw(me.socket, `HEAD /v1.41/containers/${ids[other]}/archive?path=/data HTTP/1.1\r\nHost: docker\r\n\r\nGET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n`, 3000);
      expect(r.status).toBe(404);
      expect(r.body, 'what follows the HEAD answer must be the /_ping answer').toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    });
  }

  it('b cannot inspect or start a exec instance of a', async () => {
    for (const [method, suffix, body] of [['GET', '/json'], ['POST', '/start', { Detach: true }], ['POST', '/resize?h=10&w=10']] as const) {
      const r = await api(b.socket, method, `/exec/${execA}${suffix}`, body);
      expect(r.status, `${method} ${suffix}`).toBe(404);
    }
    expect((await api(a.socket, 'GET', `/exec/${execA}/json`)).status).toBe(200);
  });

  it('b cannot see, inspect or remove a volume or a network of a', async () => {
    expect((await api(b.socket, 'GET', `/volumes/${marker}-vol-a`)).status).toBe(404);
    expect((await api(b.socket, 'DELETE', `/volumes/${marker}-vol-a?force=1`)).status).toBe(404);
    expect(((await api(b.socket, 'GET', '/volumes')).json as { Volumes: unknown[] | null }).Volumes ?? []).toEqual([]);
    expect((await api(b.socket, 'GET', `/networks/${marker}-net-a`)).status).toBe(404);
    expect((await api(b.socket, 'DELETE', `/networks/${marker}-net-a`)).status).toBe(404);
    expect((await api(b.socket, 'GET', '/networks')).json as Array<{ Name: string }>).not.toContainEqual(expect.objectContaining({ Name: `${marker}-net-a` }));
    // a sees its own.
    expect((await api(a.socket, 'GET', `/volumes/${marker}-vol-a`)).status).toBe(200);
    const aVolumes = ((await api(a.socket, 'GET', '/volumes')).json as { Volumes: Array<{ Name: string }> }).Volumes.map((v) => v.Name);
    expect(aVolumes).toEqual([`${marker}-vol-a`]);
  });

  it('b cannot attach a sibling of its own to the network of a', async () => {
    const r = await api(b.socket, 'POST', `/networks/${marker}-net-a/connect`, { Container: ids.b });
    expect(r.status).toBe(404);
  });

  it('b cannot share the volumes or namespaces of a sibling of a', async () => {
    for (const hc of [{ VolumesFrom: [`${marker}-a1`] }, { NetworkMode: `container:${marker}-a1` }, { PidMode: `container:${ids.a!.slice(0, 12)}` }]) {
      const r = await api(b.socket, 'POST', '/containers/create', { Image: image, HostConfig: hc });
      expect(r.status, JSON.stringify(hc)).toBe(404);
    }
  });

  it('with the docker CLI: ps, exec, logs, cp and rm of the other caller fail as if it were absent', async () => {
    const ps = await docker(b.socket, ['ps', '-a', '--format', '{{.Names}}']);
    expect(ps.stdout.trim()).toBe(`${marker}-b1`);
    for (const args of [['exec', `${marker}-a1`, 'ls', '/data'], ['logs', `${marker}-a1`], ['cp', `${marker}-a1:/data`, '-'], ['rm', `${marker}-a1`], ['inspect', `${marker}-a1`]]) {
      const r = await docker(b.socket, args);
      expect(r.code, args.join(' ')).not.toBe(0);
      // `inspect` falls through to images, networks, volumes and plugins; the last is refused (403).
      expect(r.stderr, args.join(' ')).toMatch(args[0] === 'inspect' ? /No such (container|object)|plugins is not available/i : /No such container/i);
      expect(r.stdout, args.join(' ')).not.toContain('secret');
      expect(r.stdout, args.join(' ')).not.toContain(ids.a);
    }
    // `rm -f` of an absent container succeeds quietly in the CLI: what matters is that a1 survives it.
    expect((await docker(b.socket, ['rm', '-f', `${marker}-a1`])).code).toBe(0);
    expect((await docker(dockerdSocket(), ['inspect', '-f', '{{.State.Running}}', `${marker}-a1`])).stdout.trim()).toBe('true');
    // The same through a's socket works, and reads a's own file.
    const own = await docker(a.socket, ['exec', `${marker}-a1`, 'ls', '/data']);
    expect(own.stdout.trim()).toBe(`file-of-${marker}-a`);
  });
});
