// The guest pulls its job's image by reference: docker-registry (TLS with a CA the test makes, basic
// auth) serves it on the test host of a closed test network, dnsmasq names it registry.test, and the
// instance spec's registries section gives the CA and credentials. Two boots on one cache disk
// (containerd's root on it): the first pulls and runs the job; the second, with the registry stopped,
// starts the job from the cache without fetching anything. And the job's own docker: dockerd trusts the
// registry through the CA the spec gives (certs.d), and the job logs in, pulls, builds FROM the registry
// and pushes through its docker socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq } from '../lib/dnsmasq.js';
import { createTestNet, type TestNet } from '../lib/testnet.js';
import { startDockerRegistry, type RunningRegistry } from '../registry/harness/docker-registry.js';
import { RegistryPusher } from '../registry/harness/push.js';
import { makeTls, type TestTls } from '../registry/harness/tls.js';
import { busyboxLayer, fileLayer, imageBlobs } from '../workloads/image-fixtures.js';
import { bootGuest, buildGuest, initKind, sampleSpec } from './vm.js';

const minutes = (n: number): number => n * 60_000;
const run = randomBytes(3).toString('hex');
const password = `pw-${randomBytes(8).toString('hex')}`;
const image = 'registry.test:5000/ci/job:1';

describe.skipIf(initKind !== 'concierge')('guest: the job image pulled from a registry (needs concierge init)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'guest-registry-'));
  let net: TestNet;
  let tls: TestTls;
  let registry: RunningRegistry | undefined;
  let spec: Record<string, unknown>;

  beforeAll(async () => {
    tls = makeTls(dir, ['registry.test']);
    // Pushed on loopback, then served from the same storage on the test network.
    const local = await startDockerRegistry(join(dir, 'registry'), tls, { ci: password });
    const pusher = new RegistryPusher({ host: local.host, ca: tls.caPem, username: 'ci', password });
    await pusher.image('ci/job', imageBlobs([busyboxLayer(), fileLayer('srv/marker', Buffer.from(`pulled image ${run}\n`), 0o644)], { gzip: true }), '1');
    await pusher.close();
    await local.stop();
    net = await createTestNet('registry');
    registry = await startDockerRegistry(join(dir, 'registry'), tls, { ci: password }, net);
    await startDnsmasq({ net, address: net.hostAddress, port: 53, hosts: { 'registry.test': net.hostAddress } });
    const network = sampleSpec('network-job.json');
    const cached = sampleSpec('sample-job-cached.json');
    spec = {
      hostname: 'ci-guest',
      modules: [...new Set([...(network.modules as string[]), ...(cached.modules as string[])])],
      network: network.network,
      mounts: cached.mounts,
      containerd: cached.containerd,
      docker: { enabled: false },
      registries: { 'registry.test:5000': { username: 'ci', password, ca: tls.caPem } },
      workloads: [{ id: 'job', image, args: ['cat', '/srv/marker'] }],
      afterWorkloads: 'poweroff',
    };
    await buildGuest();
  }, minutes(12));

  /** The registry's answer to a manifest request, from inside the test network (curl in its namespace). */
  const fetchManifest = async (repository: string, tag: string): Promise<number> => {
    const { stdout } = await net.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', tls.caPath, '-u', `ci:${password}`,
      '--resolve', `registry.test:5000:${net.hostAddress}`, '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json',
      `https://registry.test:5000/v2/${repository}/manifests/${tag}`]);
    return Number(stdout);
  };

  afterAll(async () => {
    await registry?.stop();
    await net?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets the job's docker log in, pull, build FROM the registry and push, with the CA from the spec", async () => {
    const script = [
      'set -eu',
      'echo "$REGISTRY_PASSWORD" | docker login registry.test:5000 -u ci --password-stdin',
      'docker pull -q registry.test:5000/ci/job:1',
      'ctx=$(mktemp -d)',
      'echo "built on $(hostname)" > "$ctx/built.txt"',
      'printf "FROM registry.test:5000/ci/job:1\\nCOPY built.txt /srv/built.txt\\n" > "$ctx/Dockerfile"',
      'docker build -q -t registry.test:5000/ci/built:1 "$ctx"',
      'docker push -q registry.test:5000/ci/built:1',
      'echo "job-docker: pushed"',
    ].join('\n');
    const boot = await bootGuest({
      spec: {
        ...spec, mounts: [], containerd: {}, docker: { iptables: false, bridge: 'none' },
        // The job gets the password because this spec says so (its env), not from the registries section.
        workloads: [{ id: 'job', image: '/usr/share/concierge/images/sample-job.tar', args: ['sh', '-c', script], network: 'host',
          dockerAccess: true, env: { REGISTRY_PASSWORD: password } }],
      },
      net, timeoutSeconds: 600,
    });
    expect(boot.output).toContain('job-docker: pushed');
    expect(boot.code).toBe(0);
    const pushed = await fetchManifest('ci/built', '1');
    expect(pushed).toBe(200);
  }, minutes(11));

  it('pulls the image on the first boot, and starts the job from the cache disk on the second without the registry', async () => {
    const cacheDisk = join(dir, 'cache.img');
    const first = await bootGuest({ spec, net, cacheDisk, timeoutSeconds: 600 });
    expect(first.output).toContain(`pulled image ${run}`);
    // The console's event line: the first boot fetched both layers of the job image.
    expect(first.output).toMatch(new RegExp(`image ${image.replace(/[.]/g, '\\.')} pulled: 2 layers, [0-9.]+ MB fetched`));
    expect(first.output).not.toContain(password);
    expect(first.code).toBe(0);
    await registry?.stop();
    registry = undefined;
    const second = await bootGuest({ spec, net, cacheDisk, timeoutSeconds: 600 });
    expect(second.output).toContain(`pulled image ${run}`);
    expect(second.output).not.toContain(`image ${image} pulled`);
    expect(second.code).toBe(0);
    for (const boot of [first, second]) {
      process.stdout.write(`${boot.lines.filter((l) => /pulled|marker|result exit-code/.test(l.text)).map((l) => l.text).join('\n')}\n`);
    }
  }, minutes(22));

  it('ends the instance with exit code 125 and the reason when the job image cannot be pulled', async () => {
    // The registry is stopped (by the test above, or here): nothing answers on registry.test:5000.
    await registry?.stop();
    registry = undefined;
    const boot = await bootGuest({ spec: { ...spec, workloads: [{ id: 'job', image: 'registry.test:5000/ci/job:2', args: ['true'] }] }, net,
      cacheDisk: join(dir, 'cache-fault.img'), timeoutSeconds: 600 });
    expect(boot.output).toMatch(/workload job failed to start: pull registry\.test:5000\/ci\/job:2: cannot reach https:\/\/registry\.test:5000: .*ECONNREFUSED/);
    expect(boot.code).toBe(125);
  }, minutes(11));
});
