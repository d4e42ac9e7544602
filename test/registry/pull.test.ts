// concierge's registry client against Debian's docker-registry (distribution 2.8) on loopback, over TLS
// with a CA made here and htpasswd basic auth, pulling into the test containerd; a stand-in registry
// for what a real one will not do (bearer tokens from a token server of its own, bad bytes, a stall).
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobExists } from '../../concierge/containerd/content.js';
import { ignoreNotFound, isNotFound } from '../../concierge/containerd/errors.js';
import { resolveImage } from '../../concierge/containerd/images/resolve.js';
import { snapshotExists } from '../../concierge/containerd/images/unpack.js';
import { RegistryClient } from '../../concierge/registry/client.js';
import { RegistryError, type PullFailure } from '../../concierge/registry/errors.js';
import { pullImage } from '../../concierge/registry/pull.js';
import { registriesAt } from '../../concierge/instance/spec-registries.js';
import { connect, containerdSocket } from '../workloads/containerd-env.js';
import { busyboxLayer, fileLayer, imageBlobs, sha, type ImageBlobs } from '../workloads/image-fixtures.js';
import { startDockerRegistry, type RunningRegistry } from './harness/docker-registry.js';
import { freePort } from './harness/ports.js';
import { RegistryPusher } from './harness/push.js';
import { StandInRegistry } from './harness/stand-in.js';
import { makeTls, type TestTls } from './harness/tls.js';

const client = connect();
const bundle = join(import.meta.dirname, '../../dist/concierge.js');
const dir = mkdtempSync(join(tmpdir(), 'concierge-registry-test-'));
const run = randomBytes(3).toString('hex');
const user = { username: 'ci', password: `pw-${randomBytes(8).toString('hex')}` };
const pulled = new Set<string>();
let tls: TestTls;
let registry: RunningRegistry;
let base: Buffer;
let amd64: ImageBlobs;
let jobIndex: string;
let dockerManifest: string;

const layer = (name: string, size = 4096) => fileLayer(`srv/${name}`, Buffer.concat([Buffer.from(`${name} ${run}\n`), randomBytes(size)]));

beforeAll(async () => {
  tls = makeTls(dir);
  registry = await startDockerRegistry(join(dir, 'registry'), tls, { [user.username]: user.password });
  base = busyboxLayer();
  const pusher = new RegistryPusher({ host: registry.host, ca: tls.caPem, ...user });
  try {
    // An OCI index: linux/amd64 with three layers (gzip), linux/arm64 with a layer of its own.
    amd64 = imageBlobs([base, layer('one'), layer('two')], { gzip: true, cmd: ['cat', '/srv/one'] });
    const arm64 = imageBlobs([layer('arm')], { gzip: true, architecture: 'arm64' });
    await pusher.image('ci/job', amd64);
    await pusher.image('ci/job', arm64);
    jobIndex = await pusher.index('ci/job', '1', [{ image: arm64, architecture: 'arm64' }, { image: amd64, architecture: 'amd64' }]);
    // Docker schema2 manifest list, uncompressed layers.
    const docker = imageBlobs([base, layer('docker')], { docker: true });
    dockerManifest = await pusher.image('ci/docker', docker);
    await pusher.index('ci/docker', '1', [{ image: docker, architecture: 'amd64' }], true);
    await pusher.image('ci/armonly', arm64);
    await pusher.index('ci/armonly', '1', [{ image: arm64, architecture: 'arm64' }]);
    await pusher.image('ci/plain', imageBlobs([base, layer('plain')]), '1');
  } finally {
    await pusher.close();
  }
}, 120_000);

afterAll(async () => {
  for (const name of pulled) await ignoreNotFound(client.images.delete({ name, sync: true }));
  await registry?.stop();
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

function settingsFor(host: string, entry: Record<string, unknown>) {
  return registriesAt({ [host]: entry }, 'registries');
}

const good = () => settingsFor(registry.host, { ...user, ca: tls.caPem });

async function pull(reference: string, settings = good(), options: { idleTimeoutMs?: number } = {}) {
  const registryClient = new RegistryClient(settings, options);
  try {
    const result = await pullImage(client, registryClient, reference);
    pulled.add(result.name);
    return result;
  } finally {
    await registryClient.close();
  }
}

async function pullLeases(): Promise<string[]> {
  return (await client.leases.list({})).leases.map((l) => l.id).filter((id) => id.startsWith('concierge-pull'));
}

async function imageAbsent(name: string): Promise<boolean> {
  try {
    await client.images.get({ name });
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

/** The pull fails for `reason`, names the image, and leaves no image record, lease or ingest. */
async function expectFault(reference: string, name: string, reason: PullFailure, message: RegExp, settings = good(),
  options: { idleTimeoutMs?: number } = {}): Promise<void> {
  const leasesBefore = await pullLeases();
  const error = await pull(reference, settings, options).then(() => undefined, (err: unknown) => err);
  expect(error).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).reason).toBe(reason);
  expect((error as RegistryError).message).toContain(`pull ${name}: `);
  expect((error as RegistryError).message).toMatch(message);
  expect((error as RegistryError).message).not.toContain(user.password);
  expect(await imageAbsent(name)).toBe(true);
  expect(await pullLeases()).toEqual(leasesBefore);
  const ingests = await client.content.listStatuses({ filters: [] });
  expect(ingests.statuses.filter((s) => s.ref.startsWith('concierge-'))).toEqual([]);
}

describe('pull from docker-registry 2.8 (TLS, basic auth)', () => {
  it('pulls an OCI index by tag: the linux/amd64 manifest, its layers unpacked, the image recorded under the reference', async () => {
    const leasesBefore = await pullLeases();
    const name = `${registry.host}/ci/job:1`;
    const result = await pull(name);
    expect(result.name).toBe(name);
    expect(result.manifestDigest).toBe(sha(amd64.manifest));
    expect(result.fetchedLayers).toBe(3);
    const { image } = await client.images.get({ name });
    expect(image?.target?.digest).toBe(jobIndex);
    expect(await snapshotExists(client, 'overlayfs', result.chainId)).toBe(true);
    expect(result.config.cmd).toEqual(['cat', '/srv/one']);
    expect((await resolveImage(client, name)).chainId).toBe(result.chainId);
    expect(await pullLeases()).toEqual(leasesBefore);
    // Again: nothing is fetched, everything is in the store.
    const again = await pull(name);
    expect(again.fetchedLayers).toBe(0);
    expect(again.chainId).toBe(result.chainId);
  });

  it('pulls a Docker schema2 manifest list, and an image by digest under a name that keeps the digest', async () => {
    const byTag = await pull(`${registry.host}/ci/docker:1`);
    expect(byTag.manifestDigest).toBe(dockerManifest);
    const byDigest = await pull(`${registry.host}/ci/docker@${dockerManifest}`);
    expect(byDigest.name).toBe(`${registry.host}/ci/docker@${dockerManifest}`);
    expect(byDigest.chainId).toBe(byTag.chainId);
    expect((await client.images.get({ name: byDigest.name })).image?.target?.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('fails clearly and leaves nothing for: an unknown tag, wrong or no credentials, another platform only, no CA, no registry', async () => {
    const host = registry.host;
    await expectFault(`${host}/ci/job:nope`, `${host}/ci/job:nope`, 'not-found', /MANIFEST_UNKNOWN/);
    await expectFault(`${host}/ci/plain:1`, `${host}/ci/plain:1`, 'unauthorized', /rejected the credentials of user "ci"/,
      settingsFor(host, { username: 'ci', password: 'wrong', ca: tls.caPem }));
    await expectFault(`${host}/ci/plain:1`, `${host}/ci/plain:1`, 'unauthorized', /requires credentials/, settingsFor(host, { ca: tls.caPem }));
    await expectFault(`${host}/ci/armonly:1`, `${host}/ci/armonly:1`, 'platform', /no manifest for linux\/amd64 \(the image has: linux\/arm64\)/);
    await expectFault(`${host}/ci/plain:1`, `${host}/ci/plain:1`, 'unreachable', /certificate/, settingsFor(host, user));
    const nobody = `127.0.0.1:${await freePort()}`;
    await expectFault(`${nobody}/ci/plain:1`, `${nobody}/ci/plain:1`, 'unreachable', /ECONNREFUSED/);
  });

  it('fails clearly and leaves nothing when the DNS server never answers (concierge pull, its resolver pointed at a silent server)', async () => {
    // concierge pull runs in mount, network and PID namespaces of its own (loopback only; the server ends
    // with them), whose /etc/resolv.conf names a server there that reads every question and answers none
    // (glibc asks port 53).
    const resolvConf = join(dir, 'resolv.silent.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n');
    const ready = join(dir, 'silent.ready');
    const silentServer = `const s=require('dgram').createSocket('udp4');s.on('message',()=>process.stdout.write('question\\n'));s.bind(53,'127.0.0.53',()=>require('fs').writeFileSync('${ready}',''))`;
    const name = `silent-${run}.registry.test`;
    const reference = `${name}:5000/ci/plain:1`;
    const script = [
      'set -e',
      `mount --bind ${resolvConf} /etc/resolv.conf`,
      'ip link set lo up',
      `${process.execPath} -e "${silentServer}" &`,
      `while [ ! -e ${ready} ]; do sleep 0.05; done`,
      `${process.execPath} ${bundle} pull ${reference} --containerd ${containerdSocket()}`,
    ].join('\n');
    const leasesBefore = await pullLeases();
    const r = spawnSync('unshare', ['--mount', '--net', '--pid', '--fork', '--kill-child', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain('question');
    expect(r.stderr).toContain(`pull ${reference}: `);
    expect(r.stderr).toMatch(/EAI_AGAIN|ENOTFOUND/);
    expect(await imageAbsent(reference)).toBe(true);
    expect(await pullLeases()).toEqual(leasesBefore);
  }, 90_000);
});

describe('pull from a stand-in registry (token auth, bad bytes, a stall, mirrors)', () => {
  const standIns: StandInRegistry[] = [];
  afterAll(async () => { for (const s of standIns) await s.stop(); });
  const standIn = async (options: ConstructorParameters<typeof StandInRegistry>[0]) => {
    const s = new StandInRegistry(options);
    await s.start();
    standIns.push(s);
    return s;
  };

  it('answers a bearer challenge with a token from the realm, fetched with the credentials', async () => {
    const s = await standIn({ tokenAuth: user });
    const image = imageBlobs([base, layer('token')], { gzip: true });
    s.add('ci/token', '1', image);
    const plain = (extra: Record<string, unknown> = {}) => settingsFor(s.host, { insecure: true, ...extra });
    const result = await pull(`${s.host}/ci/token:1`, plain(user));
    expect(await snapshotExists(client, 'overlayfs', result.chainId)).toBe(true);
    expect(s.requests).toContain(`GET /v2/ci/token/blobs/${sha(image.layers[1]!)}`);
    expect(s.requests.filter((r) => r.startsWith('GET /token'))).toHaveLength(1); // one token for the whole pull
    await ignoreNotFound(client.images.delete({ name: result.name, sync: true }));
    await expectFault(`${s.host}/ci/token:1`, `${s.host}/ci/token:1`, 'unauthorized', /token server .* rejected the credentials/,
      plain({ username: 'ci', password: 'wrong' }));
  });

  it('refuses a layer whose bytes do not match its digest, and a registry that stalls mid-layer', async () => {
    const corruptImage = imageBlobs([base, layer('corrupt', 300_000)], { gzip: true });
    const stallImage = imageBlobs([base, layer('stall', 300_000)], { gzip: true });
    const s = await standIn({ corrupt: new Set([sha(corruptImage.layers[1]!)]), stall: new Set([sha(stallImage.layers[1]!)]) });
    s.add('ci/corrupt', '1', corruptImage);
    s.add('ci/stall', '1', stallImage);
    const settings = settingsFor(s.host, { insecure: true });
    await expectFault(`${s.host}/ci/corrupt:1`, `${s.host}/ci/corrupt:1`, 'digest', /do not match the digest/, settings);
    expect(await blobExists(client, sha(corruptImage.layers[1]!))).toBe(false);
    await expectFault(`${s.host}/ci/stall:1`, `${s.host}/ci/stall:1`, 'stalled', /stopped sending/, settings, { idleTimeoutMs: 1500 });
    expect(await blobExists(client, sha(stallImage.layers[1]!))).toBe(false);
  });

  it('takes the image from a mirror first, and from the registry when the mirror lacks it', async () => {
    const upstream = await standIn({});
    const mirror = await standIn({});
    const mirrored = imageBlobs([base, layer('mirrored')], { gzip: true });
    const upstreamOnly = imageBlobs([base, layer('upstream-only')], { gzip: true });
    mirror.add('ci/app', '1', mirrored);
    upstream.add('ci/app', '1', mirrored);
    upstream.add('ci/app', '2', upstreamOnly);
    const settings = registriesAt({ [upstream.host]: { insecure: true, mirrors: [`http://${mirror.host}`] } }, 'registries');
    await pull(`${upstream.host}/ci/app:1`, settings);
    expect(upstream.requests).toEqual([]);
    expect(mirror.requests.some((r) => r.includes('/blobs/'))).toBe(true);
    const second = await pull(`${upstream.host}/ci/app:2`, settings);
    expect(second.manifestDigest).toBe(sha(upstreamOnly.manifest));
    expect(upstream.requests.some((r) => r === 'GET /v2/ci/app/manifests/2')).toBe(true);
  });
});
