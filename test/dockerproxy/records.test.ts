import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, dockerdSocket, mountsUnder, startTestCaller, useCallerScene } from './harness.js';

/**
 * What a caller owns and what was staged for it are concierge's records, kept in a file under its run
 * directory: a restarted caller socket rebuilds them, checks them against dockerd, and releases the
 * staging binds of siblings removed while it was down.
 */
const scene = useCallerScene();
const { marker, image } = scene;

describe('caller records across a restart', () => {
  it('are rebuilt from the file, verified against dockerd, and what went meanwhile is released', async () => {
    const first = await startTestCaller(scene.dir, `${marker}-r`);
    mkdirSync(join(first.root, 'kept'));
    mkdirSync(join(first.root, 'gone'));
    const create = async (name: string, source: string) => {
      const created = await api(first.socket, 'POST', `/containers/create?name=${name}`, { Image: image, HostConfig: { Binds: [`${source}:/x`] } });
      expect(created.status, created.text).toBe(201);
      return (created.json as { Id: string }).Id;
    };
    const kept = await create(`${marker}-kept`, '/kept');
    const gone = await create(`${marker}-gone`, '/gone');
    const file = JSON.parse(readFileSync(join(scene.dir, 'records', `${marker}-r.json`), 'utf8')) as { containers: Record<string, unknown> };
    expect(Object.keys(file.containers).sort()).toEqual([kept, gone].sort());
    await first.close();
    // While no socket serves the caller, one of its siblings is removed straight at dockerd.
    expect((await api(dockerdSocket(), 'DELETE', `/containers/${gone}`)).status).toBe(204);
    expect(mountsUnder(join(first.stagingDir, first.caller.id))).toHaveLength(2);

    const again = await startTestCaller(scene.dir, `${marker}-r`);
    try {
      expect(mountsUnder(join(again.stagingDir, again.caller.id))).toHaveLength(1);
      const inspected = await api(again.socket, 'GET', `/containers/${marker}-kept/json`);
      expect(inspected.status).toBe(200);
      expect((inspected.json as { HostConfig: { Binds: string[] } }).HostConfig.Binds).toEqual(['/kept:/x']);
      expect((await api(again.socket, 'GET', `/containers/${gone}/json`)).status).toBe(404);
    } finally {
      await again.closeAndClean();
    }
    expect(mountsUnder(join(again.stagingDir, again.caller.id))).toEqual([]);
    expect((await api(dockerdSocket(), 'GET', `/containers/${kept}/json`)).status).toBe(404);
  });
});
