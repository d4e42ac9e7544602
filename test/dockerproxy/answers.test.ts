import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IncomingMessage, request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { OWNER_LABEL, STAGING_LABEL } from '../../concierge/dockerproxy/aware/caller.js';
import { api, type ApiAnswer, dockerdSocket, mountsUnder, type TestCaller, useCallerScene } from './harness.js';

/**
 * A differential corpus for what a caller reads back: each vector is sent straight to dockerd first
 * (the assertion there shows the vector is real: a label taken for state, a foreign object shown) and
 * then through a caller socket, where the answer is a dockerd's that holds only the caller's objects,
 * at the caller's paths, and concierge's state is its own records, not labels.
 */
const scene = useCallerScene();
const { marker, image } = scene;
let a: TestCaller;
let b: TestCaller;
const straight = (method: string, path: string, body?: unknown) => api(dockerdSocket(), method, path, body);
const ids: Record<string, string> = {};

function labelsOf(answer: ApiAnswer): Record<string, string> {
  const json = answer.json as { Config?: { Labels?: Record<string, string> | null }; Labels?: Record<string, string> | null };
  return json.Config?.Labels ?? json.Labels ?? {};
}

function q(filters: unknown): string {
  return encodeURIComponent(JSON.stringify(filters));
}

function created(answer: ApiAnswer): string {
  expect(answer.status, answer.text).toBe(201);
  return (answer.json as { Id: string }).Id;
}

/** dockerd's events between two instants (a finite stream). */
function events(socketPath: string, since: number, filters: unknown): Promise<Array<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }>> {
  return new Promise((resolve, reject) => {
    const until = Math.ceil(Date.now() / 1000) + 1;
    const req = request({ socketPath, path: `/events?since=${since}&until=${until}&filters=${q(filters)}` }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as never)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let since = 0;

beforeAll(async () => {
  since = Math.floor(Date.now() / 1000) - 1;
  a = await scene.caller('a');
  b = await scene.caller('b');
  mkdirSync(join(a.root, 'mydata', 'site'), { recursive: true });
  writeFileSync(join(a.root, 'mydata', 'f'), 'a\n');
  ids.a1 = created(await api(a.socket, 'POST', `/containers/create?name=${marker}-a1`, {
    Image: image, Cmd: ['sleep', '600'], Labels: { app: 'answers' },
    HostConfig: { Binds: ['/mydata:/data:ro'], Mounts: [{ Type: 'bind', Source: '/mydata/site', Target: '/site' }] },
  }));
  expect((await api(a.socket, 'POST', `/containers/${ids.a1}/start`)).status).toBe(204);
  expect((await api(a.socket, 'POST', '/volumes/create', { Name: `${marker}-va`, Labels: { v: 'a' } })).status).toBe(201);
  expect((await api(a.socket, 'POST', '/volumes/create', {
    Name: `${marker}-vbind`, DriverOpts: { type: 'none', o: 'bind', device: '/mydata' },
  })).status).toBe(201);
  ids.neta = created(await api(a.socket, 'POST', '/networks/create', { Name: `${marker}-na`, Labels: { n: 'a' } }));
});

describe('answers carry the caller\'s paths, without concierge\'s labels', () => {
  it('container inspect: HostConfig.Binds, HostConfig.Mounts[].Source and Mounts[].Source are the caller\'s', async () => {
    const direct = (await straight('GET', `/containers/${ids.a1}/json`)).json as { HostConfig: { Binds: string[] } };
    expect(direct.HostConfig.Binds[0]).toMatch(new RegExp(`^${a.stagingDir}/`));
    const through = (await api(a.socket, 'GET', `/containers/${ids.a1}/json`)).json as {
      HostConfig: { Binds: string[]; Mounts: Array<{ Source: string }> }; Mounts: Array<{ Source: string; Destination: string }>;
    };
    expect(through.HostConfig.Binds).toEqual(['/mydata:/data:ro']);
    expect(through.HostConfig.Mounts.map((m) => m.Source)).toEqual(['/mydata/site']);
    expect(through.Mounts.map((m) => `${m.Source}:${m.Destination}`).sort()).toEqual(['/mydata/site:/site', '/mydata:/data']);
  });

  it('container inspect and list: the owner label is gone, the caller\'s own labels stay', async () => {
    expect(labelsOf(await straight('GET', `/containers/${ids.a1}/json`))[OWNER_LABEL]).toBe(a.caller.id);
    expect(labelsOf(await api(a.socket, 'GET', `/containers/${ids.a1}/json`))).toEqual({ app: 'answers' });
    const list = (await api(a.socket, 'GET', `/containers/json?filters=${q({ label: ['app=answers'] })}`)).json as Array<{ Id: string; Labels: Record<string, string>; Mounts: Array<{ Source: string }> }>;
    expect(list.map((c) => c.Id)).toEqual([ids.a1]);
    expect(list[0]!.Labels).toEqual({ app: 'answers' });
    expect(list[0]!.Mounts.map((m) => m.Source).sort()).toEqual(['/mydata', '/mydata/site']);
  });

  it('volume inspect and list: labels without the owner\'s, a bind volume\'s device is the caller\'s path', async () => {
    const direct = (await straight('GET', `/volumes/${marker}-vbind`)).json as { Options: { device: string }; Labels: Record<string, string> };
    expect(direct.Options.device).toMatch(new RegExp(`^${a.stagingDir}/`));
    expect(direct.Labels[OWNER_LABEL]).toBe(a.caller.id);
    const through = (await api(a.socket, 'GET', `/volumes/${marker}-vbind`)).json as { Options: { device: string }; Labels: Record<string, string> | null };
    expect(through.Options.device).toBe('/mydata');
    // Created without labels: null, as dockerd shows such a volume's labels.
    expect(through.Labels).toBeNull();
    const list = (await api(a.socket, 'GET', '/volumes')).json as { Volumes: Array<{ Name: string; Labels: Record<string, string> }> };
    expect(list.Volumes.map((v) => v.Name).sort()).toEqual([`${marker}-va`, `${marker}-vbind`]);
    expect(list.Volumes.find((v) => v.Name === `${marker}-va`)!.Labels).toEqual({ v: 'a' });
  });

  it('network inspect and list: the caller\'s labels only', async () => {
    expect(labelsOf(await straight('GET', `/networks/${ids.neta}`))[OWNER_LABEL]).toBe(a.caller.id);
    expect(labelsOf(await api(a.socket, 'GET', `/networks/${ids.neta}`))).toEqual({ n: 'a' });
    const list = (await api(a.socket, 'GET', `/networks?filters=${q({ label: ['n=a'] })}`)).json as Array<{ Id: string; Labels: Record<string, string> }>;
    expect(list.map((n) => [n.Id, n.Labels])).toEqual([[ids.neta, { n: 'a' }]]);
  });

  it('events: the actor\'s attributes lose the owner label and keep the caller\'s', async () => {
    const direct = await events(dockerdSocket(), since, { type: ['container'], container: [ids.a1] });
    expect(direct.some((e) => e.Actor.Attributes[OWNER_LABEL] === a.caller.id)).toBe(true);
    const through = await events(a.socket, since, { type: ['container'], container: [ids.a1] });
    expect(through.map((e) => e.Action)).toEqual(direct.map((e) => e.Action));
    for (const e of through) {
      expect(e.Actor.Attributes[OWNER_LABEL]).toBeUndefined();
      expect(e.Actor.Attributes.app).toBe('answers');
    }
  });
});

describe('a followed event stream', () => {
  it('gets the caller\'s events as they happen, none of another caller\'s, chunked as dockerd sends them', async () => {
    const lines: string[] = [];
    let res: IncomingMessage | undefined;
    const req = request({ socketPath: a.socket, path: `/events?filters=${q({ type: ['container'], event: ['create'] })}` }, (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)));
    });
    req.on('error', () => undefined);
    req.end();
    await new Promise((r) => setTimeout(r, 300));
    const mine = created(await api(a.socket, 'POST', '/containers/create', { Image: image }));
    const theirs = created(await api(b.socket, 'POST', '/containers/create', { Image: image }));
    try {
      for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      expect(res?.headers['transfer-encoding']).toBe('chunked');
      expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual([mine]);
      expect(lines[0]).not.toContain('io.concierge');
    } finally {
      req.destroy();
      await api(a.socket, 'DELETE', `/containers/${mine}`);
      await api(b.socket, 'DELETE', `/containers/${theirs}`);
    }
  });
});

describe('state is concierge\'s records, never labels', () => {
  it('an image carrying a staging label cannot release another caller\'s staging bind', async () => {
    const staged = mountsUnder(join(a.stagingDir, a.caller.id));
    expect(staged.length).toBeGreaterThan(0);
    // An image made with concierge's staging label naming A's binds (a build or commit can do this).
    const commit = await straight('POST', `/commit?container=${ids.a1}&repo=${marker}-staging-img&tag=latest`, {
      Labels: { [STAGING_LABEL]: staged.join(',') },
    });
    expect(commit.status, commit.text).toBe(201);
    // Straight, dockerd copies the image's labels into a container that sets none: the vector is real.
    const plain = created(await straight('POST', '/containers/create', { Image: `${marker}-staging-img` }));
    expect(labelsOf(await straight('GET', `/containers/${plain}/json`))[STAGING_LABEL]).toBe(staged.join(','));
    expect((await straight('DELETE', `/containers/${plain}`)).status).toBe(204);
    // Through B: its container from that image is created, removed, and A's binds stay.
    const fromB = created(await api(b.socket, 'POST', '/containers/create', { Image: `${marker}-staging-img` }));
    expect((await api(b.socket, 'DELETE', `/containers/${fromB}`)).status).toBe(204);
    await new Promise((r) => setTimeout(r, 300)); // the destroy event has been seen
    expect(mountsUnder(join(a.stagingDir, a.caller.id))).toEqual(staged);
    // The image's labels are not shown to the caller either.
    expect(labelsOf(await straight('GET', `/images/${marker}-staging-img/json`))[OWNER_LABEL]).toBe(a.caller.id);
    const inspected = await api(b.socket, 'GET', `/images/${marker}-staging-img/json`);
    expect(Object.keys(labelsOf(inspected)).filter((k) => k.startsWith('io.concierge.'))).toEqual([]);
    await straight('DELETE', `/images/${marker}-staging-img?force=1`);
  });

  it('a container from an image committed by A is not A\'s, although it carries A\'s owner label', async () => {
    const commit = await straight('POST', `/commit?container=${ids.a1}&repo=${marker}-owner-img&tag=latest`);
    expect(commit.status).toBe(201);
    const elsewhere = created(await straight('POST', `/containers/create?name=${marker}-elsewhere`, { Image: `${marker}-owner-img` }));
    expect(labelsOf(await straight('GET', `/containers/${elsewhere}/json`))[OWNER_LABEL]).toBe(a.caller.id);
    expect((await api(a.socket, 'GET', `/containers/${elsewhere}/json`)).status).toBe(404);
    expect((await api(a.socket, 'DELETE', `/containers/${marker}-elsewhere?force=1`)).status).toBe(404);
    const list = (await api(a.socket, 'GET', '/containers/json?all=1')).json as Array<{ Id: string }>;
    expect(list.map((c) => c.Id)).not.toContain(elsewhere);
    await straight('DELETE', `/containers/${elsewhere}?force=1`);
    await straight('DELETE', `/images/${marker}-owner-img?force=1`);
  });

  it('a volume and a network labelled as A\'s from outside are not A\'s', async () => {
    expect((await straight('POST', '/volumes/create', { Name: `${marker}-forged-v`, Labels: { [OWNER_LABEL]: a.caller.id } })).status).toBe(201);
    const net = created(await straight('POST', '/networks/create', { Name: `${marker}-forged-n`, Labels: { [OWNER_LABEL]: a.caller.id } }));
    expect((await straight('GET', `/volumes?filters=${q({ label: [`${OWNER_LABEL}=${a.caller.id}`] })}`)).text).toContain(`${marker}-forged-v`);
    expect((await api(a.socket, 'GET', `/volumes/${marker}-forged-v`)).status).toBe(404);
    expect((await api(a.socket, 'GET', `/networks/${net}`)).status).toBe(404);
    expect((await api(a.socket, 'GET', '/volumes')).text).not.toContain(`${marker}-forged-v`);
    expect((await api(a.socket, 'GET', '/networks')).text).not.toContain(`${marker}-forged-n`);
    await straight('DELETE', `/volumes/${marker}-forged-v`);
    await straight('DELETE', `/networks/${net}`);
  });
});

describe('answers never show another caller\'s objects', () => {
  it('a name clash\'s 409 names another caller\'s container without its id', async () => {
    const direct = await straight('POST', `/containers/create?name=${marker}-a1`, { Image: image });
    expect(direct.status).toBe(409);
    expect(direct.text).toContain(ids.a1);
    const through = await api(b.socket, 'POST', `/containers/create?name=${marker}-a1`, { Image: image });
    expect(through.status).toBe(409);
    expect(through.text).not.toContain(ids.a1);
    expect(through.text).not.toContain(ids.a1!.slice(0, 12));
    expect((through.json as { message: string }).message).toMatch(/^Conflict\. The container name "\/[^"]+" is already in use\. You have to remove/);
  });

  it('the caller\'s own name clash keeps its own id, as dockerd words it', async () => {
    const through = await api(a.socket, 'POST', `/containers/create?name=${marker}-a1`, { Image: image });
    expect(through.status).toBe(409);
    expect(through.text).toBe((await straight('POST', `/containers/create?name=${marker}-a1`, { Image: image })).text);
  });

  it('inspecting the bridge network lists only the caller\'s containers', async () => {
    const direct = (await straight('GET', '/networks/bridge')).json as { Containers: Record<string, unknown> };
    expect(Object.keys(direct.Containers)).toContain(ids.a1);
    const throughB = (await api(b.socket, 'GET', '/networks/bridge')).json as { Containers: Record<string, unknown> };
    expect(Object.keys(throughB.Containers)).toEqual([]);
    const throughA = (await api(a.socket, 'GET', '/networks/bridge')).json as { Containers: Record<string, unknown> };
    expect(Object.keys(throughA.Containers)).toEqual([ids.a1]);
  });

  it('/system/df lists only the caller\'s containers and volumes', async () => {
    const direct = (await straight('GET', '/system/df')).json as { Containers: Array<{ Id: string }>; Volumes: Array<{ Name: string }> };
    expect(direct.Containers.map((c) => c.Id)).toContain(ids.a1);
    const throughB = (await api(b.socket, 'GET', '/system/df')).json as { Containers: Array<{ Id: string }>; Volumes: Array<{ Name: string }> };
    expect(throughB.Containers).toEqual([]);
    expect(throughB.Volumes).toEqual([]);
    const throughA = (await api(a.socket, 'GET', '/system/df')).json as { Containers: Array<{ Id: string; Labels: Record<string, string>; Mounts: Array<{ Source: string }> }>; Volumes: Array<{ Name: string }> };
    expect(throughA.Containers.map((c) => c.Id)).toEqual([ids.a1]);
    expect(throughA.Containers[0]!.Labels).toEqual({ app: 'answers' });
    const mine = [`${marker}-va`, `${marker}-vbind`];
    expect(throughA.Volumes.map((v) => v.Name).sort()).toEqual(direct.Volumes.map((v) => v.Name).filter((n) => mine.includes(n)).sort());
  });

  it('/info counts only the caller\'s containers', async () => {
    const direct = (await straight('GET', '/info')).json as { Containers: number };
    expect(direct.Containers).toBeGreaterThanOrEqual(1); // A's a1 at least
    const throughB = (await api(b.socket, 'GET', '/info')).json as { Containers: number; ContainersRunning: number; Images: number };
    expect(throughB.Containers).toBe(0);
    const throughA = (await api(a.socket, 'GET', '/info')).json as { Containers: number; ContainersRunning: number; ContainersStopped: number };
    const mine = (await api(a.socket, 'GET', '/containers/json?all=1')).json as Array<{ State: string }>;
    expect([throughA.Containers, throughA.ContainersRunning]).toEqual([mine.length, mine.filter((c) => c.State === 'running').length]);
  });

  it('creating a volume with another caller\'s volume name does not hand that volume over', async () => {
    const direct = await straight('POST', '/volumes/create', { Name: `${marker}-va` });
    expect(direct.status).toBe(201);
    expect(labelsOf(direct)[OWNER_LABEL]).toBe(a.caller.id);
    const through = await api(b.socket, 'POST', '/volumes/create', { Name: `${marker}-va` });
    expect(through.status).toBe(409);
    expect(through.text).not.toContain(a.caller.id);
    expect((await api(b.socket, 'GET', `/volumes/${marker}-va`)).status).toBe(404);
  });

  it.each(['since', 'before'])('a %s filter naming another caller\'s container answers as for an absent one', async (key) => {
    const direct = await straight('GET', `/containers/json?filters=${q({ [key]: [`${marker}-a1`] })}`);
    expect(direct.status).toBe(200);
    const absent = await straight('GET', `/containers/json?filters=${q({ [key]: [`${marker}-absent`] })}`);
    const through = await api(b.socket, 'GET', `/containers/json?filters=${q({ [key]: [`${marker}-a1`] })}`);
    expect(through.status).toBe(absent.status);
    expect(through.text.replace(`${marker}-a1`, `${marker}-absent`)).toBe(absent.text);
  });

  it('lists and events of another caller show nothing of A', async () => {
    expect((await straight('GET', '/networks')).text).toContain(`${marker}-na`);
    expect((await api(b.socket, 'GET', '/networks')).text).not.toContain(`${marker}-na`);
    expect((await api(b.socket, 'GET', '/volumes')).text).not.toContain(`${marker}-va`);
    expect((await api(b.socket, 'GET', '/containers/json?all=1')).text).not.toContain(ids.a1);
    expect((await events(b.socket, since, { type: ['container', 'volume', 'network'] })).map((e) => e.Actor.ID)).not.toContain(ids.a1);
  });

  it('events of shared images and of the build cache reach every caller, as images/json lists every image; a prune\'s filter check none', async () => {
    const from = Math.floor(Date.now() / 1000) - 1;
    const bContainer = created(await api(b.socket, 'POST', '/containers/create', { Image: image, Labels: { app: 'b-img' } }));
    expect((await api(b.socket, 'POST', `/commit?container=${bContainer}&repo=${marker}-b-img&tag=v1`)).status).toBe(201);
    expect((await api(b.socket, 'POST', `/images/${marker}-b-img:v1/tag?repo=${marker}-b-img&tag=v2`)).status).toBe(201);
    const built = await api(b.socket, 'POST', `/build/prune?filters=${q({ id: [`nothing-${marker}`] })}`);
    expect(built.status, built.text).toBe(200);
    const pruned = await api(a.socket, 'POST', `/containers/prune?filters=${q({ label: [`nothing-${marker}`] })}`);
    expect(pruned.text).toBe('{"ContainersDeleted":null,"SpaceReclaimed":0}\n');
    try {
      const imageId = ((await straight('GET', `/images/${marker}-b-img:v2/json`)).json as { Id: string }).Id;
      const direct = (await events(dockerdSocket(), from, { type: ['image'], image: [imageId] }));
      expect(direct.map((e) => e.Actor.Attributes.name)).toEqual([`${marker}-b-img:v1`, `${marker}-b-img:v2`]);
      expect(direct[0]!.Actor.Attributes[OWNER_LABEL], 'the image carries B\'s owner label').toBe(b.caller.id);
      // A lists B's image (images are shared) and gets its events, without concierge's labels.
      expect((await api(a.socket, 'GET', '/images/json')).text).toContain(`${marker}-b-img:v2`);
      const seen = await events(a.socket, from, { type: ['image'], image: [imageId] });
      expect(seen.map((e) => [e.Action, e.Actor.ID, e.Actor.Attributes.name, e.Actor.Attributes.app])).toEqual(direct.map((e) => ['tag', imageId, e.Actor.Attributes.name, 'b-img']));
      for (const e of seen) expect(Object.keys(e.Actor.Attributes).filter((k) => k.startsWith('io.concierge.'))).toEqual([]);
      // The build cache is dockerd's own: B's prune of it is an event A's dockerd would send too.
      const builder = (list: Awaited<ReturnType<typeof events>>) => list.filter((e) => e.Type === 'builder' && e.Action === 'prune').length;
      expect(builder(await events(a.socket, from, { type: ['builder'] }))).toBe(builder(await events(dockerdSocket(), from, { type: ['builder'] })));
      expect(builder(await events(a.socket, from, { type: ['builder'] }))).toBeGreaterThan(0);
      // The prune event dockerd logs for concierge's check of A's filters is no caller's.
      const prunes = (socket: string) => events(socket, from, { type: ['container'], event: ['prune'] }).then((l) => l.length);
      expect(await prunes(dockerdSocket())).toBeGreaterThan(0);
      expect(await prunes(a.socket)).toBe(0);
      expect(await prunes(b.socket)).toBe(0);
    } finally {
      await api(b.socket, 'DELETE', `/containers/${bContainer}`);
      await straight('DELETE', `/images/${marker}-b-img:v1?force=1`);
      await straight('DELETE', `/images/${marker}-b-img:v2?force=1`);
    }
  });
});

describe('refusals as dockerd words them', () => {
  const SAME = [
    ['POST', '/swarm/leave?force=1'], ['GET', '/swarm'], ['GET', '/swarm/unlockkey'], ['GET', '/services'], ['GET', '/services/x'],
    ['DELETE', '/services/x'], ['GET', '/nodes'], ['GET', '/nodes/x'], ['GET', '/tasks'], ['GET', '/secrets'], ['GET', '/configs'],
    ['GET', '/services/x/logs'], ['POST', '/swarm/update', {}], ['POST', '/services/x/update?version=x', {}], ['POST', '/services/create', {}],
    ['POST', '/swarm/unlock', {}], ['GET', '/plugins'], ['GET', '/plugins/foo/json'], ['DELETE', '/plugins/foo'],
    ['POST', '/plugins/foo/disable'], ['POST', '/plugins/foo/enable'], ['GET', '/plugins/privileges?remote=foo'],
  ] as const;
  it.each(SAME)('%s %s answers as a dockerd outside a swarm, with no plugins', async (method, path, body?: unknown) => {
    const direct = await straight(method, `/v1.41${path}`, body);
    const through = await api(a.socket, method, `/v1.41${path}`, body);
    expect([through.status, through.text]).toEqual([direct.status, direct.text]);
  });

  it('an unknown volume driver is dockerd\'s 404 and its words', async () => {
    const body = { Name: `${marker}-drv`, Driver: 'nosuchdriver' };
    const direct = await straight('POST', '/volumes/create', body);
    const through = await api(a.socket, 'POST', '/volumes/create', body);
    expect([through.status, through.text]).toEqual([direct.status, direct.text]);
  });

  it('swarm init is a policy refusal naming the workload\'s policy', async () => {
    const through = await api(a.socket, 'POST', '/swarm/init', { ListenAddr: '127.0.0.1:2377' });
    expect(through.status).toBe(403);
    expect(through.text).toMatch(/\/swarm\/init is not allowed for this workload \(dockerPolicy isolated/);
  });
});

describe('links', () => {
  it('DELETE /containers/{name}/{alias}?link=1 removes the caller\'s own link', async () => {
    const parent = created(await api(a.socket, 'POST', `/containers/create?name=${marker}-web`, {
      Image: image, Cmd: ['sleep', '600'], HostConfig: { Links: [`${marker}-a1:db`] },
    }));
    expect((await api(a.socket, 'POST', `/containers/${parent}/start`)).status).toBe(204);
    const removed = await api(a.socket, 'DELETE', `/containers/${marker}-web/db?link=1`);
    expect(removed.status, removed.text).toBe(204);
    const links = ((await straight('GET', `/containers/${parent}/json`)).json as { HostConfig: { Links: string[] | null } }).HostConfig.Links;
    expect(links ?? []).toEqual([]);
    // B cannot remove a link of A's.
    expect((await api(b.socket, 'DELETE', `/containers/${marker}-web/db?link=1`)).status).toBe(404);
  });
});
