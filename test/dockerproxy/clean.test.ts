import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  docker,
  mountsUnder,
  ownedBy,
  type TestCaller,
  useCallerScene,
} from './harness.js';

/**
 * When a workload exits, concierge calls closeAndClean on its socket: the caller's
 * siblings (running, stopped, created), their staging binds, and its volumes and networks go; another
 * caller's objects and the caller's own files stay.
 */
const scene = useCallerScene();
const { marker, image } = scene;
let a: TestCaller;
let b: TestCaller;

beforeAll(async () => {
  a = await scene.caller('a');
  b = await scene.caller('b');
  for (const c of [a, b]) {
    mkdirSync(join(c.root, 'mydata'));
    writeFileSync(join(c.root, 'mydata', 'foobar'), 'kept\n');
  }
});

describe('closeAndClean', () => {
  it('removes the caller siblings, volumes, networks and staging binds, and nothing of another caller', async () => {
    // a: a running sibling with a bind, a stopped one with a --mount bind, a created one with a named
    // volume, a local-driver bind volume (staged), a plain volume and a network.
    expect((await docker(a.socket, ['run', '-d', '--name', `${marker}-a-running`, '--network', 'none', '-v', '/mydata:/d', image, 'sleep', '600'])).code).toBe(0);
    expect((await docker(a.socket, ['run', '--name', `${marker}-a-exited`, '--network', 'none', '--mount', 'type=bind,src=/mydata,dst=/d', image, 'true'])).code).toBe(0);
    expect((await docker(a.socket, ['create', '--name', `${marker}-a-created`, '-v', `${marker}-a-named:/v`, image, 'true'])).code).toBe(0);
    expect((await docker(a.socket, ['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', 'device=/mydata', `${marker}-a-bindvol`])).code).toBe(0);
    expect((await docker(a.socket, ['volume', 'create', `${marker}-a-plain`])).code).toBe(0);
    expect((await docker(a.socket, ['network', 'create', `${marker}-a-net`])).code).toBe(0);
    // b: one of each, which must survive a's cleanup.
    expect((await docker(b.socket, ['run', '-d', '--name', `${marker}-b-running`, '--network', 'none', '-v', '/mydata:/d', image, 'sleep', '600'])).code).toBe(0);
    expect((await docker(b.socket, ['volume', 'create', `${marker}-b-plain`])).code).toBe(0);
    expect((await docker(b.socket, ['network', 'create', `${marker}-b-net`])).code).toBe(0);

    const aBefore = await ownedBy(a.caller.id);
    expect(aBefore.containers).toHaveLength(3);
    expect(aBefore.volumes.sort()).toEqual([`${marker}-a-bindvol`, `${marker}-a-named`, `${marker}-a-plain`]);
    expect(aBefore.networks).toHaveLength(1);
    const aStaging = mountsUnder(join(a.stagingDir, a.caller.id));
    expect(aStaging.length).toBeGreaterThanOrEqual(3); // the running and exited siblings' binds, the bind volume
    const bBefore = await ownedBy(b.caller.id);
    const bStaging = mountsUnder(join(b.stagingDir, b.caller.id));
    expect(bStaging).toHaveLength(1);

    await a.closeAndClean();

    expect(await ownedBy(a.caller.id)).toEqual({ containers: [], volumes: [], networks: [] });
    expect(mountsUnder(join(a.stagingDir, a.caller.id))).toEqual([]);
    expect(existsSync(join(a.stagingDir, a.caller.id))).toBe(false);
    // The caller's files are where they were (a release never removes through a live bind).
    expect(readdirSync(join(a.root, 'mydata'))).toEqual(['foobar']);
    // The socket no longer answers.
    await expect(api(a.socket, 'GET', '/_ping')).rejects.toThrow();
    // b is untouched, and its sibling still runs on its staged bind.
    expect(await ownedBy(b.caller.id)).toEqual(bBefore);
    expect(mountsUnder(join(b.stagingDir, b.caller.id))).toEqual(bStaging);
    const ls = await docker(b.socket, ['exec', `${marker}-b-running`, 'cat', '/d/foobar']);
    expect(ls.stdout).toBe('kept\n');
  });
});
