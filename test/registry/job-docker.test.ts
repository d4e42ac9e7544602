// The job's own docker: a dockerd configured from the instance spec's registries (Docker Hub mirrors,
// insecure registries, each CA in certs.d/<host>/ca.crt), with the job's caller-aware socket in front
// of it. Through that socket the docker CLI logs in to, pulls from, builds FROM and pushes to a
// docker-registry over TLS with basic auth whose CA only the spec gives, and pulls a Docker Hub name
// from a mirror (nothing here reaches Docker Hub: the mirror serves it or the pull fails).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, startCallerSocket, type CallerSocket } from '../../concierge/dockerproxy/aware/index.js';
import { registriesAt } from '../../concierge/instance/spec-registries.js';
import { RegistryClient } from '../../concierge/registry/client.js';
import { parseReference } from '../../concierge/registry/reference.js';
import { dockerdRegistryArgs, writeDockerCerts } from '../../concierge/supervise/dockerd-registries.js';
import { runCommand } from '../lib/run-command.js';
import { containerdSocket } from '../workloads/containerd-env.js';
import { busyboxLayer, fileLayer, imageBlobs } from '../workloads/image-fixtures.js';
import { startDockerRegistry, type RunningRegistry } from './harness/docker-registry.js';
import { removeDockerdNamespaces, startOwnDockerd, type OwnDockerd } from '../lib/own-dockerd.js';
import { RegistryPusher } from './harness/push.js';
import { makeTls, type TestTls } from './harness/tls.js';

const run = randomBytes(3).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'concierge-job-docker-'));
const dataRoot = join(process.env.CONCIERGE_TEST_DATA ?? '/var/lib/concierge-test', `registry-dockerd-${run}`);
const runDir = join(process.env.CONCIERGE_TEST_ROOT ?? '/run/concierge-test', `registry-dockerd-${run}`);
const namespace = `concierge-registry-${run}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const dockerCli = '/usr/bin/docker'; // 20.10, as in the guest
let registry: RunningRegistry;
let mirror: RunningRegistry;
let dockerd: OwnDockerd;
let caller: CallerSocket;
let registryArgs: string[];
let certsWritten: string[];
let tls: TestTls;
/** The registry by a name (resolved in dockerd's /etc/hosts) as the guest's would be: `registry-<run>.test:<port>`. */
const registryName = `registry-${run}.test`;
let registryHost: string;

beforeAll(async () => {
  tls = makeTls(dir, [registryName]);
  registry = await startDockerRegistry(join(dir, 'registry'), tls, { ci: password });
  registryHost = `${registryName}:${registry.port}`;
  mirror = await startDockerRegistry(join(dir, 'mirror'), tls);
  const base = imageBlobs([busyboxLayer(), fileLayer('srv/base', Buffer.from(`base ${run}\n`), 0o644)], { gzip: true, docker: true });
  const toRegistry = new RegistryPusher({ host: registry.host, ca: tls.caPem, username: 'ci', password });
  await toRegistry.image('ci/base', base, '1');
  await toRegistry.close();
  const toMirror = new RegistryPusher({ host: mirror.host, ca: tls.caPem });
  await toMirror.image(`library/concierge-mirrored-${run}`, base, '1');
  await toMirror.close();
  // The instance spec's section: dockerd gets no credentials, only where to go and what to trust.
  const registries = registriesAt({
    [registryHost]: { username: 'ci', password, ca: tls.caPem },
    [mirror.host]: { ca: tls.caPem },
    'docker.io': { mirrors: [`https://${mirror.host}`] },
    'plain.test:5000': { insecure: true },
  }, 'spec.registries');
  registryArgs = dockerdRegistryArgs(registries);
  const etcDocker = join(dir, 'etc-docker');
  certsWritten = writeDockerCerts(registries, join(etcDocker, 'certs.d'));
  dockerd = await startOwnDockerd({ etcDocker, dataRoot, runDir, containerdSocket: containerdSocket(), namespace, args: registryArgs,
    hosts: { [registryName]: '127.0.0.1' } });
  const root = join(dir, 'job-root');
  mkdirSync(root);
  const socket = join(dir, 'job.sock');
  caller = await startCallerSocket({
    caller: { id: `job-${run}`, rootfs: root, mounts: [{ destination: '/var/run/docker.sock', source: socket, type: 'bind', options: ['rbind', 'rw'] }], policy: DEFAULT_POLICY },
    listen: socket, upstream: dockerd.socket, stagingDir: join(dir, 'staging'), upstreamWaitMs: 60_000,
  });
}, 180_000);

afterAll(async () => {
  await caller?.closeAndClean();
  await dockerd?.stop();
  await registry?.stop();
  await mirror?.stop();
  try {
    await removeDockerdNamespaces(containerdSocket(), namespace);
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

function docker(args: string[], input?: string) {
  return runCommand([dockerCli, ...args], {
    env: { PATH: process.env.PATH, DOCKER_HOST: `unix://${join(dir, 'job.sock')}`, DOCKER_CONFIG: join(dir, 'docker-config'), DOCKER_BUILDKIT: '1' },
    ...(input === undefined ? {} : { input }), cwd: dir, timeoutMs: 120_000,
  });
}

describe("the job's docker, configured from the spec's registries", () => {
  it('gives dockerd the Docker Hub mirror, the insecure registry and a certs.d entry per CA, and no credentials', () => {
    expect(registryArgs).toEqual(['--registry-mirror', `https://${mirror.host}`, '--insecure-registry', 'plain.test:5000']);
    expect(certsWritten.sort()).toEqual([mirror.host, registryHost].sort());
    expect(registryArgs.join(' ')).not.toContain(password);
  });

  it('logs in, pulls, builds FROM the registry and pushes through the caller socket', async () => {
    const login = await docker(['login', registryHost, '--username', 'ci', '--password-stdin'], password);
    expect(login.stderr + login.stdout).toMatch(/Login Succeeded/);
    const pull = await docker(['pull', `${registryHost}/ci/base:1`]);
    expect(pull.code, pull.stderr).toBe(0);
    const context = join(dir, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), `FROM ${registryHost}/ci/base:1\nCOPY marker /srv/marker\n`);
    writeFileSync(join(context, 'marker'), `built ${run}\n`);
    const built = `${registryHost}/ci/built:${run}`;
    const build = await docker(['build', '--pull', '-t', built, context]);
    expect(build.code, build.stderr).toBe(0);
    const push = await docker(['push', built]);
    expect(push.code, push.stderr).toBe(0);
    // The pushed image is on the registry: concierge's own client finds it.
    const client = new RegistryClient(registriesAt({ [registry.host]: { username: 'ci', password, ca: tls.caPem } }, 'registries'));
    try {
      const manifest = await client.manifest(parseReference(`${registry.host}/ci/built:${run}`), run);
      expect(manifest.document.kind).toBe('manifest');
    } finally {
      await client.close();
    }
    await docker(['image', 'rm', built, `${registryHost}/ci/base:1`]);
  });

  it('pulls a Docker Hub name from the mirror', async () => {
    const name = `concierge-mirrored-${run}:1`;
    const pull = await docker(['pull', name]);
    expect(pull.code, pull.stderr).toBe(0);
    const inspect = await docker(['image', 'inspect', '--format', '{{json .RepoTags}}', name]);
    expect(inspect.stdout).toContain(`concierge-mirrored-${run}:1`);
    await docker(['image', 'rm', name]);
  });
});
