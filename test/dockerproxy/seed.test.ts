import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  docker,
  dockerdSocket,
  mountsUnder,
  runCommand,
  type TestCaller,
  useCallerScene,
} from './harness.js';

/**
 * The seed example (`docker run -v /mydata:/parent` from inside a job) and its variants, with the real docker CLI (and docker-compose) talking
 * to a caller socket whose caller root is a temp directory: `/mydata` means <root>/mydata, never the
 * host's /mydata (which does not exist).
 */
const scene = useCallerScene();
const { marker, image } = scene;
let sharedSrc: string;
let a: TestCaller;

beforeAll(async () => {
  sharedSrc = join(scene.dir, 'shared-src');
  mkdirSync(sharedSrc);
  writeFileSync(join(sharedSrc, 'hello-from-mount'), '');
  a = await scene.caller('a', [{ destination: '/shared', source: sharedSrc, type: 'bind', options: ['rbind', 'rw'] }]);
  mkdirSync(join(a.root, 'mydata'));
  writeFileSync(join(a.root, 'mydata', 'foobar'), '');
});

describe('the seed example through a caller socket', () => {
  it('docker run -v /mydata:/parent lists the caller /mydata', async () => {
    const r = await docker(a.socket, ['run', '--rm', '-v', '/mydata:/parent', image, 'ls', '/parent']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('foobar\n');
    expect(r.code).toBe(0);
  });

  it('the same with --mount type=bind', async () => {
    const r = await docker(a.socket, ['run', '--rm', '--mount', 'type=bind,source=/mydata,target=/parent,readonly', image, 'ls', '/parent']);
    expect(r.stdout).toBe('foobar\n');
    expect(r.code).toBe(0);
  });

  it('a path under a bind mount of the caller maps to that mount source', async () => {
    const r = await docker(a.socket, ['run', '--rm', '-v', '/shared:/s', image, 'ls', '/s']);
    expect(r.stdout).toBe('hello-from-mount\n');
  });

  it('writes by the sibling land in the caller root and in the caller mount', async () => {
    const r = await docker(a.socket, ['run', '--rm', '-v', '/mydata:/parent', '-v', '/shared:/s', image, 'sh', '-c', 'echo hi > /parent/written && mkdir /parent/made && echo there > /s/written']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(a.root, 'mydata', 'written'), 'utf8')).toBe('hi\n');
    expect(readFileSync(join(sharedSrc, 'written'), 'utf8')).toBe('there\n');
    // And the caller's later siblings see them too.
    const again = await docker(a.socket, ['run', '--rm', '-v', '/mydata:/parent', image, 'ls', '/parent']);
    expect(again.stdout.split('\n').filter(Boolean).sort()).toEqual(['foobar', 'made', 'written']);
  });

  it('no staging bind outlives the --rm siblings once they are removed through the socket', async () => {
    // docker run --rm leaves the removal to dockerd (AutoRemove), which the proxy never sees; what is
    // left is released when the caller's siblings are cleaned up (closeAndClean, tested elsewhere).
    const id = (await docker(a.socket, ['create', '-v', '/mydata:/parent', image, 'true'])).stdout.trim();
    const staged = mountsUnder(a.stagingDir).length;
    expect((await docker(a.socket, ['rm', id])).code).toBe(0);
    expect(mountsUnder(a.stagingDir).length).toBe(staged - 1);
  });
});

describe('docker-compose with a relative path', () => {
  /**
   * compose resolves `./data` against the compose file's directory on the CLIENT side and sends an
   * absolute path. Inside a real workload the client runs in the caller's own filesystem view, so the
   * path it sends is a caller path. Here the client runs on the host: to give it the caller's view of
   * its project directory it runs in a private mount namespace where <root>/mnt is bound at /mnt.
   * The caller path /mnt/data then names <root>/mnt/data, as it would for a workload whose cwd is /mnt.
   */
  function compose(cwd: string, project: string, args: string[], viewBind?: string) {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_HOST: `unix://${a.socket}`, COMPOSE_PROJECT_NAME: project };
    const inner = `cd ${cwd} && exec docker-compose ${args.join(' ')}`;
    const script = viewBind === undefined ? inner : `mount --bind ${viewBind} /mnt && ${inner}`;
    return runCommand(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], { env, timeoutMs: 120_000 });
  }

  beforeAll(() => {
    const proj = join(a.root, 'mnt');
    mkdirSync(join(proj, 'data'), { recursive: true });
    writeFileSync(join(proj, 'data', 'foobar'), '');
    writeFileSync(join(proj, 'docker-compose.yml'), `version: "3"\nservices:\n  app:\n    image: ${image}\n    network_mode: none\n    volumes:\n      - ./data:/parent\n`);
  });

  it('from the caller view of its cwd: ./data is the caller /mnt/data', async () => {
    const project = `${marker.replace(/-/g, '')}view`;
    const r = await compose('/mnt', project, ['run', '--rm', 'app', 'ls', '/parent'], join(a.root, 'mnt'));
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.stdout.trim()).toBe('foobar');
    expect(r.code).toBe(0);
    await compose('/mnt', project, ['down'], join(a.root, 'mnt'));
  });

  it('from a host cwd the absolute host path it sends is a caller path that does not exist: refused', async () => {
    const project = `${marker.replace(/-/g, '')}host`;
    const r = await compose(join(a.root, 'mnt'), project, ['run', '--rm', 'app', 'ls', '/parent']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bind source path does not exist/);
    await compose(join(a.root, 'mnt'), project, ['down']);
  });
});

describe('the docker socket bound into a sibling', () => {
  it('-v /var/run/docker.sock reaches the caller socket: docker ps there lists only the caller siblings', async () => {
    const mine = await docker(a.socket, ['create', '--name', `${marker}-mine`, image, 'true']);
    expect(mine.code).toBe(0);
    const foreign = await api(dockerdSocket(), 'POST', `/containers/create?name=${marker}-foreign`, { Image: image, Cmd: ['true'] });
    expect(foreign.status).toBe(201);
    const r = await docker(a.socket, ['run', '--rm', '--name', `${marker}-delegate`, '-v', '/var/run/docker.sock:/var/run/docker.sock', image, 'docker', 'ps', '-a', '--format', '{{.Names}}']);
    expect(r.stderr).toBe('');
    const names = r.stdout.split('\n').filter(Boolean).sort();
    expect(names).toEqual([`${marker}-delegate`, `${marker}-mine`]);
    // Directly on dockerd the foreign container is there: the sibling's view was scoped, not empty.
    const direct = await docker(dockerdSocket(), ['ps', '-a', '--format', '{{.Names}}']);
    expect(direct.stdout).toContain(`${marker}-foreign`);
  });

  it('a sibling acts as its owner delegate: its -v /mydata is the caller /mydata', async () => {
    const r = await docker(a.socket, ['run', '--rm', '-v', '/var/run/docker.sock:/var/run/docker.sock', image, 'docker', 'run', '--rm', '-v', '/mydata:/p', image, 'ls', '/p']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('foobar\n');
  });
});
