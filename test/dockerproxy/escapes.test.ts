import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  allContainerIds,
  allVolumeNames,
  api,
  dockerdSocket,
  raw,
  type RawAnswer,
  rawPost,
  runSibling,
  type TestCaller,
  unmountAllUnder,
  useCallerScene,
} from './harness.js';

/**
 * The escape corpus: every request here tries to make
 * dockerd bind, mount or reach something outside the caller's root, or to act on what the caller
 * does not own. Each must get a Docker-style 4xx JSON error, and dockerd must be left without any new
 * container or volume. Bodies are written as raw bytes, since most of them are what no client sends.
 *
 * The caller root:
 *   mydata/foobar, etc/hostname (the caller's own /etc: no passwd, no shadow)
 *   abs-etc -> /etc, rel-etc -> ../../../../../../../etc, up -> ../../../../.., to-root -> /,
 *   to-proc -> /proc/1/root, to-sys -> /sys, to-dev -> /dev, dangling -> /etc/<marker>-made-by-dockerd
 */
const scene = useCallerScene();
const { marker, image } = scene;
const V = '/v1.41';
let a: TestCaller;
let foreignId: string;
let foreignVolume: string;
let ownedId: string;

beforeAll(async () => {
  a = await scene.caller('a');
  const r = a.root;
  mkdirSync(join(r, 'mydata'));
  writeFileSync(join(r, 'mydata', 'foobar'), '');
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc', 'hostname'), 'caller\n');
  symlinkSync('/etc', join(r, 'abs-etc'));
  symlinkSync('../../../../../../../etc', join(r, 'rel-etc'));
  symlinkSync('../../../../..', join(r, 'up'));
  symlinkSync('/', join(r, 'to-root'));
  symlinkSync('/proc/1/root', join(r, 'to-proc'));
  symlinkSync('/sys', join(r, 'to-sys'));
  symlinkSync('/dev', join(r, 'to-dev'));
  symlinkSync(`/etc/${marker}-made-by-dockerd`, join(r, 'dangling'));
  // Objects the caller does not own, made straight on dockerd.
  const foreign = await api(dockerdSocket(), 'POST', `/containers/create?name=${marker}-foreign`, { Image: image, Cmd: ['sleep', '600'] });
  expect(foreign.status).toBe(201);
  foreignId = (foreign.json as { Id: string }).Id;
  foreignVolume = `${marker}-foreign-vol`;
  expect((await api(dockerdSocket(), 'POST', '/volumes/create', { Name: foreignVolume })).status).toBe(201);
  // One the caller owns (for the old-API start body).
  const owned = await api(a.socket, 'POST', `/containers/create?name=${marker}-owned`, { Image: image, Cmd: ['true'] });
  expect(owned.status).toBe(201);
  ownedId = (owned.json as { Id: string }).Id;
});

/** A create body with the given HostConfig (JSON text, so it can carry what JSON.stringify cannot). */
function createWith(hostConfigText: string, topLevelText = ''): string {
  return `{"Image":${JSON.stringify(image)},"Cmd":["true"]${topLevelText === '' ? '' : `,${topLevelText}`}${hostConfigText === '' ? '' : `,"HostConfig":${hostConfigText}`}}`;
}

function binds(...list: string[]): string {
  return createWith(JSON.stringify({ Binds: list }));
}

function mounts(...list: unknown[]): string {
  return createWith(JSON.stringify({ Mounts: list }));
}

const post = (path: string, body: string) => () => rawPost(a.socket, `${V}${path}`, body);
const create = (body: string) => post('/containers/create', body);
const volume = (body: unknown) => post('/volumes/create', JSON.stringify(body));

interface EscapeCase {
  name: string;
  send: () => Promise<RawAnswer>;
  /** The exact status when it matters (403 for policy, 404 for ownership); otherwise any 4xx. */
  status?: number;
  message?: RegExp;
  /** Refused as Go's HTTP server (dockerd) refuses it, before any handler: its plain-text answer. */
  goText?: boolean;
}

const NOT_FOUND = /does not exist/;

const cases: EscapeCase[] = [
  // `..` and `//` forms: the caller root has no passwd; the host does.
  { name: 'Binds /../../etc/passwd', send: create(binds('/../../etc/passwd:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds /mydata/../../../../etc/shadow', send: create(binds('/mydata/../../../../etc/shadow:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds //etc//passwd', send: create(binds('//etc//passwd:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds /./mydata/.././../etc/passwd/', send: create(binds('/./mydata/.././../etc/passwd/:/x')), status: 400, message: NOT_FOUND },
  // Not an absolute path, so a volume name to dockerd, which refuses it as one (400).
  { name: 'Binds relative path ../../etc', send: create(binds('../../etc:/x')), status: 400 },
  // Symlinks out of the root: followed inside it, where the host file is absent.
  { name: 'Binds absolute symlink /abs-etc/passwd', send: create(binds('/abs-etc/passwd:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds relative symlink /rel-etc/shadow', send: create(binds('/rel-etc/shadow:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds symlinked parent /up/etc/passwd', send: create(binds('/up/etc/passwd:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds /to-root/../etc/passwd', send: create(binds('/to-root/../etc/passwd:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds a dangling symlink (dockerd would create its target as root)', send: create(binds('/dangling:/x')), status: 400, message: NOT_FOUND },
  { name: 'Binds a missing source (never auto-created)', send: create(binds('/mydata/not-here:/x')), status: 400, message: NOT_FOUND },
  // The kernel's filesystems.
  { name: 'Binds /proc/1/root', send: create(binds('/proc/1/root:/host')), status: 403 },
  { name: 'Binds /proc/self/root/etc', send: create(binds('/proc/self/root/etc:/host')), status: 403 },
  { name: 'Binds /sys', send: create(binds('/sys:/s')), status: 403 },
  { name: 'Binds /sys/fs/cgroup', send: create(binds('/sys/fs/cgroup:/s')), status: 403 },
  { name: 'Binds /dev', send: create(binds('/dev:/d')), status: 403 },
  { name: 'Binds /dev/vda (a block device)', send: create(binds('/dev/vda:/d')), status: 403 },
  { name: 'Binds via symlink /to-proc', send: create(binds('/to-proc:/host')), status: 403 },
  { name: 'Binds via symlink /to-sys/kernel', send: create(binds('/to-sys/kernel:/k')), status: 403 },
  { name: 'Binds via symlink /to-dev/vda', send: create(binds('/to-dev/vda:/d')), status: 403 },
  { name: 'Binds one good, one bad: nothing staged survives', send: create(binds('/mydata:/ok', '/proc/1/root:/host')), status: 403 },
  // Mounts.
  { name: 'Mounts bind /proc/1/root', send: create(mounts({ Type: 'bind', Source: '/proc/1/root', Target: '/host' })), status: 403 },
  { name: 'Mounts bind via symlink /abs-etc/passwd', send: create(mounts({ Type: 'bind', Source: '/abs-etc/passwd', Target: '/x' })), status: 400, message: NOT_FOUND },
  { name: 'Mounts bind with ..', send: create(mounts({ Type: 'bind', Source: '/mydata/../../../etc/shadow', Target: '/x' })), status: 400 },
  { name: 'Mounts type npipe', send: create(mounts({ Type: 'npipe', Source: '/x', Target: '/x' })), status: 403 },
  { name: 'Mounts type cluster', send: create(mounts({ Type: 'cluster', Source: 'x', Target: '/x' })), status: 403 },
  { name: 'Mounts tmpfs with a Source', send: create(mounts({ Type: 'tmpfs', Source: '/etc', Target: '/x' })), status: 400 },
  {
    name: 'Mounts volume DriverConfig bind to the host via a symlink',
    send: create(mounts({ Type: 'volume', Source: `${marker}-dc1`, Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/abs-etc/passwd' } } } })),
    status: 400,
  },
  {
    name: 'Mounts volume DriverConfig type overlay',
    send: create(mounts({ Type: 'volume', Source: `${marker}-dc2`, Target: '/x', VolumeOptions: { DriverConfig: { Options: { type: 'overlay', o: 'lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w', device: 'overlay' } } } })),
    status: 403,
  },
  {
    name: 'Mounts volume DriverConfig ext4 on a device',
    send: create(mounts({ Type: 'volume', Source: `${marker}-dc3`, Target: '/x', VolumeOptions: { DriverConfig: { Options: { type: 'ext4', device: '/dev/vda' } } } })),
    status: 403,
  },
  {
    name: 'Mounts volume DriverConfig of another driver',
    send: create(mounts({ Type: 'volume', Source: `${marker}-dc4`, Target: '/x', VolumeOptions: { DriverConfig: { Name: 'nfsplugin', Options: {} } } })),
    status: 403,
  },
  { name: 'Mounts volume owned by no one (made on dockerd)', send: create(mounts({ Type: 'volume', Source: `${marker}-foreign-vol`, Target: '/x' })), status: 404 },
  { name: 'Binds with a volume the caller does not own', send: create(binds(`${marker}-foreign-vol:/x`)), status: 404 },
  // volumes/create with local-driver options.
  { name: 'volume create bind to /etc via a symlink', send: volume({ Name: `${marker}-v1`, DriverOpts: { type: 'none', o: 'bind', device: '/rel-etc/passwd' } }), status: 400 },
  { name: 'volume create bind of /proc/1/root', send: volume({ Name: `${marker}-v2`, DriverOpts: { type: 'none', o: 'bind', device: '/proc/1/root' } }), status: 403 },
  { name: 'volume create type overlay', send: volume({ Name: `${marker}-v3`, DriverOpts: { type: 'overlay', o: 'lowerdir=/etc,upperdir=/u,workdir=/w', device: 'overlay' } }), status: 403 },
  { name: 'volume create ext4 on /dev/vda', send: volume({ Name: `${marker}-v4`, DriverOpts: { type: 'ext4', device: '/dev/vda' } }), status: 403 },
  { name: 'volume create nfs', send: volume({ Name: `${marker}-v5`, DriverOpts: { type: 'nfs', o: 'addr=10.0.0.1,rw', device: ':/export' } }), status: 403 },
  { name: 'volume create tmpfs', send: volume({ Name: `${marker}-v6`, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } }), status: 403 },
  // A daemon with no plugins: dockerd's own status and words.
  { name: 'volume create with another driver', send: volume({ Name: `${marker}-v7`, Driver: 'vieux/sshfs' }), status: 404, message: /error looking up volume plugin vieux\/sshfs: plugin "vieux\/sshfs" not found/ },
  { name: 'volume create with an option key the checks do not know (Type)', send: volume({ Name: `${marker}-v8`, DriverOpts: { Type: 'nfs', o: 'addr=1.2.3.4', device: ':/x' } }), status: 403 },
  { name: 'volume create driveropts spelled driverOpts (folded)', send: post('/volumes/create', `{"Name":"${marker}-v9","driverOpts":{"type":"nfs","o":"addr=1.2.3.4","device":":/x"}}`), status: 403 },
  // Containers the caller does not own.
  { name: 'VolumesFrom a foreign container', send: create(JSON.stringify({ VolumesFrom: [`${marker}-foreign`] })), status: 404 },
  { name: 'VolumesFrom a foreign container by short id, read-only', send: () => create(JSON.stringify({ VolumesFrom: [`${foreignId.slice(0, 12)}:ro`] }))(), status: 404 },
  { name: 'NetworkMode container:<foreign>', send: () => create(JSON.stringify({ NetworkMode: `container:${foreignId}` }))(), status: 404 },
  { name: 'PidMode container:<foreign>', send: create(JSON.stringify({ PidMode: `container:${marker}-foreign` })), status: 404 },
  { name: 'IpcMode container:<foreign>', send: create(JSON.stringify({ IpcMode: `container:${marker}-foreign` })), status: 404 },
  { name: 'Links to a foreign container', send: create(JSON.stringify({ Links: [`${marker}-foreign:db`] })), status: 404 },
  // Go key folding: the misspelled fields are found (the refusal names what only they carry).
  { name: 'hoſtconfig / Bindſ with a missing source', send: create(createWith('').slice(0, -1) + ',"hoſtconfig":{"Bindſ":["/nowhere:/x"]}}'), status: 400, message: NOT_FOUND },
  { name: 'HOSTCONFIG / binds with /proc/1/root', send: create(createWith('').slice(0, -1) + ',"HOSTCONFIG":{"binds":["/proc/1/root:/x"]}}'), status: 403 },
  { name: 'linKs (Kelvin sign) to a foreign container', send: create(createWith(`{"Lin\u212As":["${marker}-foreign:db"]}`)), status: 404 },
  { name: 'Binds and bindſ in one HostConfig (dockerd takes the last)', send: create(createWith('{"Binds":["/mydata:/ok"],"bindſ":["/proc/1/root:/x"]}')), status: 400, message: /ambiguous/ },
  { name: 'privileged spelled PRIVILEGED', send: create(createWith('{"PRIVILEGED":true}')), status: 403, message: /Privileged/ },
  // Duplicates and escapes.
  { name: 'duplicate HostConfig keys', send: create(`{"Image":"${image}","HostConfig":{"Binds":["/mydata:/ok"]},"HostConfig":{"Binds":["/proc/1/root:/x"]}}`), status: 400, message: /ambiguous/ },
  { name: 'duplicate Binds keys', send: create(createWith('{"Binds":["/mydata:/ok"],"Binds":["/proc/1/root:/x"]}')), status: 400, message: /ambiguous/ },
  { name: '\\u-escaped keys naming HostConfig.Binds', send: create(`{"Image":"${image}","\\u0048ostConfig":{"\\u0042inds":["/proc/1/root:/x"]}}`), status: 403 },
  { name: '\\u-escaped duplicate of Binds', send: create(createWith('{"Binds":["/mydata:/ok"],"\\u0042inds":["/proc/1/root:/x"]}')), status: 400, message: /ambiguous/ },
  { name: '\\u-escaped path value /\\u0070roc/1/root', send: create(createWith('{"Binds":["/\\u0070roc/1/root:/x"]}')), status: 403 },
  // Legacy top-level HostConfig fields.
  { name: 'top-level Binds (legacy)', send: create(createWith('', '"Binds":["/proc/1/root:/x"]')), status: 403 },
  { name: 'top-level Privileged (legacy)', send: create(createWith('', '"Privileged":true')), status: 403, message: /Privileged/ },
  { name: 'top-level VolumesFrom a foreign container (legacy)', send: create(createWith('', `"VolumesFrom":["${marker}-foreign"]`)), status: 404 },
  { name: 'top-level Binds beside a HostConfig', send: create(createWith('{"Binds":["/mydata:/ok"]}', '"Binds":["/proc/1/root:/x"]')), status: 400, message: /ambiguous/ },
  { name: 'start body HostConfig (API 1.23) with /proc/1/root', send: () => rawPost(a.socket, `/v1.23/containers/${ownedId}/start`, '{"Binds":["/proc/1/root:/x"]}'), status: 403 },
  { name: 'start body HostConfig (API 1.23) privileged', send: () => rawPost(a.socket, `/v1.23/containers/${ownedId}/start`, '{"Privileged":true}'), status: 403, message: /Privileged/ },
  // Framing games.
  { name: 'Content-Length: 0 with a body', send: () => rawPost(a.socket, `${V}/containers/create`, binds('/proc/1/root:/x'), 0) },
  { name: 'Content-Length shorter than the body', send: () => rawPost(a.socket, `${V}/containers/create`, binds('/mydata:/ok'), 20) },
  { name: 'Content-Length not a number', send: () => rawPost(a.socket, `${V}/containers/create`, binds('/mydata:/ok'), '1e3'), goText: true },
  {
    name: 'two Content-Length headers',
    send: () => raw(a.socket, `POST ${V}/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: ${binds('/mydata:/ok').length}\r\n\r\n${binds('/mydata:/ok')}`),
    goText: true,
  },
  {
    name: 'Content-Length and chunked together',
    send: () => raw(a.socket, `POST ${V}/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n${binds('/mydata:/ok')}`),
  },
  { name: 'an oversized body (> 1 MiB) by Content-Length', send: () => rawPost(a.socket, `${V}/containers/create`, createWith(JSON.stringify({ Binds: ['/mydata:/ok'], ExtraHosts: ['x'.repeat(1_200_000)] }))), status: 413 },
  {
    name: 'an oversized body (> 1 MiB) chunked',
    send: () => {
      const body = createWith(JSON.stringify({ ExtraHosts: ['x'.repeat(1_200_000)] }));
      return raw(a.socket, `POST ${V}/containers/create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    },
    status: 413,
  },
  { name: 'HTTP/2 preface straight on the socket', send: () => raw(a.socket, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00') },
  // Privilege policy: 403 naming the field.
  { name: 'Privileged', send: create(createWith('{"Privileged":true}')), status: 403, message: /HostConfig\.Privileged/ },
  { name: 'CapAdd SYS_ADMIN', send: create(createWith('{"CapAdd":["SYS_ADMIN"]}')), status: 403, message: /HostConfig\.CapAdd/ },
  { name: 'CapAdd as a single string', send: create(createWith('{"CapAdd":"ALL"}')), status: 403, message: /HostConfig\.CapAdd/ },
  { name: 'NetworkMode host', send: create(createWith('{"NetworkMode":"host"}')), status: 403, message: /HostConfig\.NetworkMode/ },
  { name: 'PidMode host', send: create(createWith('{"PidMode":"host"}')), status: 403, message: /HostConfig\.PidMode/ },
  { name: 'IpcMode host', send: create(createWith('{"IpcMode":"host"}')), status: 403, message: /HostConfig\.IpcMode/ },
  { name: 'UTSMode host', send: create(createWith('{"UTSMode":"host"}')), status: 403, message: /HostConfig\.UTSMode/ },
  { name: 'UsernsMode host', send: create(createWith('{"UsernsMode":"host"}')), status: 403, message: /HostConfig\.UsernsMode/ },
  { name: 'Devices /dev/vda', send: create(createWith('{"Devices":[{"PathOnHost":"/dev/vda","PathInContainer":"/dev/vda","CgroupPermissions":"rwm"}]}')), status: 403, message: /HostConfig\.Devices/ },
  { name: 'DeviceCgroupRules', send: create(createWith('{"DeviceCgroupRules":["b *:* rwm"]}')), status: 403, message: /HostConfig\.DeviceCgroupRules/ },
  { name: 'Sysctls', send: create(createWith('{"Sysctls":{"net.ipv4.ip_forward":"1"}}')), status: 403, message: /HostConfig\.Sysctls/ },
  { name: 'SecurityOpt seccomp=unconfined', send: create(createWith('{"SecurityOpt":["seccomp=unconfined"]}')), status: 403, message: /HostConfig\.SecurityOpt/ },
  { name: 'CgroupParent', send: create(createWith('{"CgroupParent":"/"}')), status: 403, message: /HostConfig\.CgroupParent/ },
  { name: 'MaskedPaths emptied', send: create(createWith('{"MaskedPaths":[]}')), status: 403, message: /HostConfig\.MaskedPaths/ },
  { name: 'VolumeDriver other', send: create(createWith(`{"VolumeDriver":"sshfs","Binds":["${marker}-drvvol:/x"]}`)), status: 403 },
  { name: 'Binds: a new named volume, then a refused bind', send: create(binds(`${marker}-newvol:/v`, '/proc/1/root:/host')), status: 403 },
  // Areas a workload never reaches.
  { name: 'swarm init', send: post('/swarm/init', '{"ListenAddr":"0.0.0.0:2377"}'), status: 403 },
  // A node outside a swarm: dockerd's own 503.
  { name: 'services create', send: post('/services/create', '{}'), status: 503, message: /This node is not a swarm manager/ },
  { name: 'plugins pull', send: post('/plugins/pull?remote=vieux/sshfs', '[]'), status: 403 },
];

/** New containers and volumes of this run since `before` (other suites may share dockerd). */
async function leftSince(before: { containers: Set<string>; volumes: Set<string> }): Promise<{ containers: string[]; volumes: string[] }> {
  const containers = [...(await allContainerIds())].filter((id) => !before.containers.has(id));
  const volumes = [...(await allVolumeNames())].filter((v) => !before.volumes.has(v));
  const mine: string[] = [];
  for (const id of containers) {
    const { json } = await api(dockerdSocket(), 'GET', `/containers/${id}/json`);
    if ((json as { Config?: { Image?: string } } | undefined)?.Config?.Image === image) mine.push(id);
  }
  const owned: string[] = [];
  for (const v of volumes) {
    const { json } = await api(dockerdSocket(), 'GET', `/volumes/${encodeURIComponent(v)}`);
    if (v.includes(marker) || JSON.stringify((json as { Labels?: unknown } | undefined)?.Labels ?? {}).includes(marker)) owned.push(v);
  }
  return { containers: mine, volumes: owned };
}

describe('the escape corpus', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const before = { containers: await allContainerIds(), volumes: await allVolumeNames() };
      const answer = await c.send();
      expect(answer.status, `${answer.headers}\n${answer.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      if (c.status !== 503) expect(answer.status, answer.body.slice(0, 300)).toBeLessThan(500);
      if (c.status !== undefined) expect(answer.status, answer.body.slice(0, 300)).toBe(c.status);
      if (c.goText === true) {
        expect(answer.headers).toMatch(/\r\ncontent-type: text\/plain/i);
        expect(answer.body).toMatch(/^\d{3} /);
      } else {
        expect(answer.headers).toMatch(/\r\ncontent-type: application\/json/i);
        const json = JSON.parse(answer.body) as { message?: unknown };
        expect(typeof json.message).toBe('string');
        if (c.message !== undefined) expect(json.message).toMatch(c.message);
      }
      expect(await leftSince(before), `left by a request answered ${answer.status} ${answer.body.trim()}`).toEqual({ containers: [], volumes: [] });
    });
  }

  it('no staging bind is left behind by the refused requests', () => {
    // Only the owned container's create staged nothing either: the staging dir has no mounts at all.
    expect(unmountAllUnder(a.stagingDir)).toBe(0);
  });

  it('dockerd did not create the target of the dangling symlink', () => {
    expect(existsSync(`/etc/${marker}-made-by-dockerd`)).toBe(false);
    expect(existsSync(join(a.root, 'etc', `${marker}-made-by-dockerd`))).toBe(false);
  });

  it('the foreign container is untouched (still created, not started)', async () => {
    const { json } = await api(dockerdSocket(), 'GET', `/containers/${foreignId}/json`);
    expect((json as { State: { Status: string } }).State.Status).toBe('created');
  });
});

describe('what the corpus allows, shown to stay in the root', () => {
  it('a symlink to / is the caller root: the sibling sees the caller files, not the host', async () => {
    const r = await runSibling(a.socket, { Image: image, Cmd: ['ls', '-a', '/r', '/r/etc'], HostConfig: { Binds: ['/to-root:/r:ro'], NetworkMode: 'none' } });
    expect(r.created.status, r.created.text).toBe(201);
    const listed = r.output!;
    expect(listed).toContain('mydata');
    expect(listed).toContain('hostname');
    expect(listed).not.toMatch(/\bpasswd\b|\busr\b|\bboot\b/);
  });

  it('an absolute symlink to /etc is the caller /etc', async () => {
    const r = await runSibling(a.socket, { Image: image, Cmd: ['cat', '/e/hostname'], HostConfig: { Binds: ['/abs-etc:/e:ro'], NetworkMode: 'none' } });
    expect(r.output).toBe('caller\n');
  });
});
