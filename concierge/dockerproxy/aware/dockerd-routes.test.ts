import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchRoute, REGISTERED_ROUTES } from './dockerd-routes.js';

const ROUTERS = '/usr/share/gocode/src/github.com/docker/docker/api/server/router';

function goFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? goFiles(p) : p.endsWith('.go') && !p.endsWith('_test.go') ? [p] : [];
  });
}

describe("dockerd's route table", () => {
  it('lists exactly the routes dockerd 20.10 registers (read from its source)', () => {
    const fromSource = new Set<string>();
    for (const file of goFiles(ROUTERS)) {
      if (file.includes('/debug/')) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/router\.New(Get|Post|Put|Delete|Head|Options)Route\("([^"]+)"/g)) {
        fromSource.add(`${m[1]!.toUpperCase()} ${m[2]}`);
      }
    }
    expect(new Set(REGISTERED_ROUTES)).toEqual(fromSource);
  });

  it('routes as gorilla/mux: versions, greedy names, first registered wins, unclean paths redirect', () => {
    expect(matchRoute('GET', '/v1.41.0/containers/a/b/json')).toMatchObject({ kind: 'route', vars: { version: '1.41.0', name: 'a/b' } });
    expect(matchRoute('DELETE', '/containers/c/checkpoints/k')).toMatchObject({ kind: 'route', route: { key: 'DELETE /containers/{name}/checkpoints/{checkpoint}' } });
    expect(matchRoute('GET', '/v1.41/nothing')).toEqual({ kind: 'not-found', version: '1.41' });
    expect(matchRoute('PUT', '/containers/json')).toEqual({ kind: 'not-found', version: '' });
    expect(matchRoute('GET', '/v1.41/../debug/vars')).toEqual({ kind: 'redirect', cleanPath: '/debug/vars' });
    expect(matchRoute('POST', '/debug/vars')).toMatchObject({ kind: 'route', route: { method: undefined } });
  });
});
