import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OWNER_LABEL } from '../../concierge/dockerproxy/aware/caller.js';
import { api, type ApiAnswer, dockerdSocket, type TestCaller, useCallerScene } from './harness.js';

/**
 * Prunes through a caller socket act on the caller's records, as the caller's own dockerd would prune:
 * its `label`, `label!` and `until` filters read as dockerd reads them, dockerd's report shape and its
 * errors. Objects that are not the caller's survive, whatever labels they carry: a container made
 * straight from an image committed from the caller's container carries the caller's owner label (a
 * prune narrowed by that label removed it), and the anonymous volumes dockerd makes carry no owner
 * label at all (such a prune missed them).
 */
const scene = useCallerScene();
const { marker, image } = scene;
let a: TestCaller;
let b: TestCaller;
const straight = (method: string, path: string, body?: unknown) => api(dockerdSocket(), method, path, body);
const q = (filters: unknown) => encodeURIComponent(JSON.stringify(filters));

function created(answer: ApiAnswer): string {
  expect(answer.status, answer.text).toBe(201);
  return (answer.json as { Id: string }).Id;
}

const exists = async (kind: 'containers' | 'volumes' | 'networks', ref: string) => (await straight('GET', kind === 'containers' ? `/containers/${ref}/json` : `/${kind}/${ref}`)).status === 200;
const recorded = (caller: TestCaller) => JSON.parse(readFileSync(join(scene.dir, 'records', `${caller.caller.id}.json`), 'utf8')) as { containers: Record<string, unknown>; volumes: Record<string, unknown>; networks: Record<string, string> };

beforeAll(async () => {
  a = await scene.caller('a');
  b = await scene.caller('b');
});

describe('containers prune', () => {
  it('removes the caller\'s stopped containers its filters select, and nothing of another caller or from outside', async () => {
    const make = (caller: TestCaller, name: string, labels: Record<string, string>) =>
      api(caller.socket, 'POST', `/containers/create?name=${marker}-${name}`, { Image: image, Cmd: ['sleep', '600'], Labels: labels }).then(created);
    const yes = await make(a, 'yes', { prune: 'yes', keep: 'no' });
    const no = await make(a, 'no', { prune: 'no' });
    const bare = await make(a, 'bare', {});
    const running = await make(a, 'running', { prune: 'yes' });
    expect((await api(a.socket, 'POST', `/containers/${running}/start`)).status).toBe(204);
    const theirs = await make(b, 'theirs', { prune: 'yes' });
    // A container made outside from an image committed from A's: it carries A's owner label and prune=yes.
    expect((await straight('POST', `/commit?container=${yes}&repo=${marker}-committed&tag=latest`)).status).toBe(201);
    const outside = created(await straight('POST', `/containers/create?name=${marker}-outside`, { Image: `${marker}-committed` }));
    const byOwnerLabel = (await straight('GET', `/containers/json?all=1&filters=${q({ label: [`${OWNER_LABEL}=${a.caller.id}`, 'prune=yes'] })}`)).json as Array<{ Id: string }>;
    expect(byOwnerLabel.map((c) => c.Id), 'the vector is real: the owner label selects it').toContain(outside);

    // until before any of them was made: nothing, in dockerd's words for nothing.
    const early = await api(a.socket, 'POST', `/containers/prune?filters=${q({ until: ['2001-01-01T00:00:00Z'], label: ['prune=yes'] })}`);
    expect(early.status).toBe(200);
    expect(early.text).toBe((await straight('POST', `/containers/prune?filters=${q({ label: [`${marker}-nothing`] })}`)).text);

    const pruned = await api(a.socket, 'POST', `/containers/prune?filters=${q({ label: { 'prune=yes': true }, until: { '-1h': false } })}`);
    expect(pruned.status, pruned.text).toBe(200);
    expect(pruned.json).toEqual({ ContainersDeleted: [yes], SpaceReclaimed: expect.any(Number) as number });
    expect(Object.keys(recorded(a).containers)).not.toContain(yes);
    for (const [id, what] of [[no, 'A\'s prune=no'], [bare, 'A\'s unlabelled'], [running, 'A\'s running'], [theirs, 'B\'s'], [outside, 'the outside one']] as const) {
      expect(await exists('containers', id), what).toBe(true);
    }

    // label! in the legacy list form: all of A's stopped containers without prune=no.
    const negated = await api(a.socket, 'POST', `/containers/prune?filters=${q({ 'label!': ['prune=no'] })}`);
    expect(negated.json).toEqual({ ContainersDeleted: [bare], SpaceReclaimed: expect.any(Number) as number });
    expect(await exists('containers', no)).toBe(true);
    expect(await exists('containers', theirs)).toBe(true);
    expect(await exists('containers', outside)).toBe(true);
    await straight('DELETE', `/containers/${outside}?force=1`);
    await straight('DELETE', `/images/${marker}-committed?force=1`);
  });

  it('reports the size of the writable layers it removed, as dockerd measures them', async () => {
    const c = created(await api(a.socket, 'POST', '/containers/create', { Image: image, Cmd: ['sh', '-c', 'head -c 20000 /dev/zero > /written'], Labels: { sized: marker } }));
    await api(a.socket, 'POST', `/containers/${c}/start`);
    await api(a.socket, 'POST', `/containers/${c}/wait`);
    const size = ((await straight('GET', `/containers/${c}/json?size=1`)).json as { SizeRw: number }).SizeRw;
    expect(size).toBeGreaterThanOrEqual(20000);
    const pruned = await api(a.socket, 'POST', `/containers/prune?filters=${q({ label: [`sized=${marker}`] })}`);
    expect(pruned.json).toEqual({ ContainersDeleted: [c], SpaceReclaimed: size });
  });

  it('a filter dockerd does not take is its error, and nothing is removed', async () => {
    const stopped = created(await api(a.socket, 'POST', '/containers/create', { Image: image }));
    for (const filters of [{ name: ['x'] }, { until: ['xyz'] }, { until: ['1h', '2h'] }]) {
      const through = await api(a.socket, 'POST', `/containers/prune?filters=${q(filters)}`);
      const direct = await straight('POST', `/containers/prune?filters=${q(filters)}`);
      expect(direct.status, JSON.stringify(filters)).not.toBe(200);
      expect([through.status, through.text]).toEqual([direct.status, direct.text]);
    }
    // Filters Go cannot read (a string, the two forms mixed): dockerd's 400, in words of concierge's.
    for (const filters of [{ label: 'x' }, { label: ['a'], until: { '1h': true } }]) {
      expect((await straight('POST', `/containers/prune?filters=${q(filters)}`)).status, JSON.stringify(filters)).toBe(400);
      expect((await api(a.socket, 'POST', `/containers/prune?filters=${q(filters)}`)).status, JSON.stringify(filters)).toBe(400);
    }
    expect(await exists('containers', stopped)).toBe(true);
    expect((await api(a.socket, 'DELETE', `/containers/${stopped}`)).status).toBe(204);
  });
});

describe('volumes prune', () => {
  it('removes the caller\'s unused volumes without driver options, anonymous ones too, and no one else\'s', async () => {
    expect((await api(a.socket, 'POST', '/volumes/create', { Name: `${marker}-va`, Labels: { v: 'a' } })).status).toBe(201);
    expect((await api(a.socket, 'POST', '/volumes/create', { Name: `${marker}-vbind`, DriverOpts: { type: 'none', o: 'bind', device: '/' } })).status).toBe(201);
    expect((await api(a.socket, 'POST', '/volumes/create', { Name: `${marker}-vused` })).status).toBe(201);
    const user = created(await api(a.socket, 'POST', '/containers/create', { Image: image, HostConfig: { Binds: [`${marker}-vused:/used`] } }));
    // An anonymous volume dockerd makes for a container: no owner label on it.
    const withAnonymous = created(await api(a.socket, 'POST', '/containers/create', { Image: image, Volumes: { '/anon': {} } }));
    const anonymous = ((await straight('GET', `/containers/${withAnonymous}/json`)).json as { Mounts: Array<{ Name: string }> }).Mounts[0]!.Name;
    expect(((await straight('GET', `/volumes/${anonymous}`)).json as { Labels: unknown }).Labels).toBeNull();
    expect((await api(a.socket, 'DELETE', `/containers/${withAnonymous}`)).status).toBe(204);
    expect((await straight('POST', '/volumes/create', { Name: `${marker}-vb`, Labels: { [OWNER_LABEL]: a.caller.id } })).status).toBe(201);
    expect((await api(b.socket, 'POST', '/volumes/create', { Name: `${marker}-vb2` })).status).toBe(201);

    const refused = await api(a.socket, 'POST', `/volumes/prune?filters=${q({ until: ['1h'] })}`);
    expect([refused.status, refused.json]).toEqual([400, { message: 'Invalid filter \'until\'' }]);

    const pruned = await api(a.socket, 'POST', '/volumes/prune');
    expect(pruned.status, pruned.text).toBe(200);
    const report = pruned.json as { VolumesDeleted: string[]; SpaceReclaimed: number };
    expect(report.VolumesDeleted.sort()).toEqual([`${marker}-va`, anonymous].sort());
    expect(report.SpaceReclaimed).toBe(0);
    for (const name of [`${marker}-vbind`, `${marker}-vused`, `${marker}-vb`, `${marker}-vb2`]) expect(await exists('volumes', name), name).toBe(true);
    expect(Object.keys(recorded(a).volumes)).not.toContain(anonymous);
    // Nothing left to prune: dockerd's empty list, not null.
    expect((await api(a.socket, 'POST', `/volumes/prune?filters=${q({ label: ['v=a'] })}`)).text).toBe('{"VolumesDeleted":[],"SpaceReclaimed":0}\n');
    await api(a.socket, 'DELETE', `/containers/${user}`);
    await api(a.socket, 'DELETE', `/volumes/${marker}-vused`);
    await straight('DELETE', `/volumes/${marker}-vb`);
  });

  it('reports the bytes of the files in what it removed', async () => {
    const c = created(await api(a.socket, 'POST', '/containers/create', {
      Image: image, Cmd: ['sh', '-c', 'head -c 12345 /dev/zero > /v/f && ln /v/f /v/hard'], HostConfig: { Binds: [`${marker}-sized:/v`] },
    }));
    await api(a.socket, 'POST', `/containers/${c}/start`);
    await api(a.socket, 'POST', `/containers/${c}/wait`);
    expect((await api(a.socket, 'DELETE', `/containers/${c}`)).status).toBe(204);
    const pruned = await api(a.socket, 'POST', '/volumes/prune');
    expect(pruned.json).toEqual({ VolumesDeleted: [`${marker}-sized`], SpaceReclaimed: 12345 });
  });
});

describe('networks prune', () => {
  it('removes the caller\'s networks without endpoints that its filters select, by name', async () => {
    const unused = created(await api(a.socket, 'POST', '/networks/create', { Name: `${marker}-na`, Labels: { n: 'a' } }));
    const used = created(await api(a.socket, 'POST', '/networks/create', { Name: `${marker}-nused`, Labels: { n: 'a' } }));
    const c = created(await api(a.socket, 'POST', '/containers/create', { Image: image, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: `${marker}-nused` } }));
    expect((await api(a.socket, 'POST', `/containers/${c}/start`)).status).toBe(204);
    const theirs = created(await api(b.socket, 'POST', '/networks/create', { Name: `${marker}-nb`, Labels: { n: 'a' } }));
    const outside = created(await straight('POST', '/networks/create', { Name: `${marker}-nout`, Labels: { n: 'a', [OWNER_LABEL]: a.caller.id } }));
    const pruned = await api(a.socket, 'POST', `/networks/prune?filters=${q({ label: ['n=a'] })}`);
    expect([pruned.status, pruned.text]).toEqual([200, `{"NetworksDeleted":["${marker}-na"]}\n`]);
    expect(await exists('networks', unused)).toBe(false);
    for (const id of [used, theirs, outside]) expect(await exists('networks', id)).toBe(true);
    expect(Object.keys(recorded(a).networks)).not.toContain(unused);
    expect((await api(a.socket, 'POST', '/networks/prune')).text).toBe('{"NetworksDeleted":null}\n');
    await api(a.socket, 'DELETE', `/containers/${c}?force=1`);
    await straight('DELETE', `/networks/${outside}`);
  });
});
