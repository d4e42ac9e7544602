// The guest pulls its job's image by reference from the test host of test/guest/ci-host.ts on a closed
// test network: docker-registry (TLS with a CA the test makes, basic auth) as registry.test:5000, the
// CI project's repository over git://, dnsmasq naming both; the instance spec's registries section gives
// the CA and credentials.
//   1. The CI job (guest-rootfs/specs/ci-job.json, what `npm run main` boots): its image pulled by
//      reference; it clones the repository, builds an image FROM the registry (dockerd trusts it through
//      the CA the spec gives, the job logs in with its own credentials), pushes it, brings up a
//      two-service compose project on a user-defined network (one service calls the other by name, the
//      job calls a published port) and removes everything. Each step is a console line.
//   2. Two boots on one cache disk (containerd's root on it): the first pulls and runs a job; the second,
//      with the registry stopped, starts the job from the cache without fetching anything.
//   3. Exit code 125 and the reason when the job's image cannot be pulled.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayer, fileLayer, imageBlobs } from '../workloads/image-fixtures.js';
import { ciSteps, formatSteps, jobImage, repositoryUrl, startCiHost, type CiHost } from './ci-host.js';
import { bootGuest, buildGuest, initKind, sampleSpec } from './vm.js';

const minutes = (n: number): number => n * 60_000;
const run = randomBytes(3).toString('hex');
const password = `pw-${randomBytes(8).toString('hex')}`;
const image = 'registry.test:5000/ci/marker:1';
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe.skipIf(initKind !== 'concierge')('guest: the job image pulled from a registry (needs concierge init)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'guest-registry-'));
  let host: CiHost;
  let spec: Record<string, unknown>;

  beforeAll(async () => {
    host = await startCiHost({
      dir, tag: 'registry', password,
      push: async (pusher) => {
        await pusher.image('ci/marker', imageBlobs([busyboxLayer(), fileLayer('srv/marker', Buffer.from(`pulled image ${run}\n`), 0o644)], { gzip: true }), '1');
      },
    });
    const network = sampleSpec('network-job.json');
    const cached = sampleSpec('sample-job-cached.json');
    spec = {
      hostname: 'ci-guest',
      modules: [...new Set([...(network.modules as string[]), ...(cached.modules as string[])])],
      network: network.network,
      mounts: cached.mounts,
      containerd: cached.containerd,
      docker: { enabled: false },
      registries: host.spec.registries,
      workloads: [{ id: 'job', image, args: ['cat', '/srv/marker'] }],
      afterWorkloads: 'poweroff',
    };
    await buildGuest();
  }, minutes(12));

  afterAll(async () => {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the CI job: image by reference, clone, build FROM the registry, push, a two-service compose project, cleanup; each step on the console', async () => {
    const boot = await bootGuest({ spec: host.spec, net: host.net, timeoutSeconds: 600 });
    const out = boot.output;
    expect(out).toMatch(new RegExp(`image ${escape(jobImage)} pulled: 2 layers, [0-9.]+ MB fetched`));
    const clone = out.match(new RegExp(`^ci: [0-9.]+ s: cloned ${escape(repositoryUrl)} at ([0-9a-f]{7,})`, 'm'));
    expect(clone).not.toBeNull();
    const app = `registry.test:5000/ci/app:${clone![1]}`;
    // The job's steps, in order, each after the one before.
    const steps = [
      'logged in to registry.test:5000 as ci',
      `built ${app} FROM registry.test:5000/ci/busybox:1`,
      `pushed ${app}`,
      'compose up: services front web on network ci_ci',
      'published port 8088 answered: front asked web: hello from the web service',
      'removed everything: no container, network or image left',
    ];
    let at = out.indexOf(clone![0]);
    for (const step of steps) {
      const next = out.indexOf(`s: ${step}\n`, at);
      expect(next, step).toBeGreaterThan(at);
      at = next;
    }
    expect(out).toMatch(/workload job exited with code 0/);
    expect(out).not.toContain(password);
    expect(boot.code).toBe(0);
    // What the job pushed is on the registry.
    expect(await host.manifestStatus('ci/app', clone![1]!)).toBe(200);
    process.stdout.write(`the CI job's steps (host seconds since qemu's start, since the step before):\n${formatSteps(ciSteps(boot))}\n`);
  }, minutes(11));

  it('pulls the image on the first boot, and starts the job from the cache disk on the second without the registry', async () => {
    const cacheDisk = join(dir, 'cache.img');
    const first = await bootGuest({ spec, net: host.net, cacheDisk, timeoutSeconds: 600 });
    expect(first.output, first.output.slice(-4000)).toContain(`pulled image ${run}`);
    // The console's event line: the first boot fetched both layers of the job image.
    expect(first.output).toMatch(new RegExp(`image ${escape(image)} pulled: 2 layers, [0-9.]+ MB fetched`));
    expect(first.output).not.toContain(password);
    expect(first.code).toBe(0);
    await host.stopRegistry();
    const second = await bootGuest({ spec, net: host.net, cacheDisk, timeoutSeconds: 600 });
    expect(second.output, second.output.slice(-4000)).toContain(`pulled image ${run}`);
    expect(second.output).not.toContain(`image ${image} pulled`);
    expect(second.code).toBe(0);
    for (const boot of [first, second]) {
      process.stdout.write(`${boot.lines.filter((l) => /pulled|marker|result exit-code/.test(l.text)).map((l) => l.text).join('\n')}\n`);
    }
  }, minutes(22));

  it('ends the instance with exit code 125 and each reason when job images cannot be pulled: a DNS server that does not answer, a registry that refuses connections', async () => {
    // A DNS server that takes questions and never answers, on an address of its own on the test host.
    const silentDns = '10.88.0.3';
    await host.net.run('ip', ['addr', 'add', `${silentDns}/24`, 'dev', host.net.bridge]);
    host.net.spawn('socat', ['-u', `UDP4-RECV:53,bind=${silentDns}`, 'OPEN:/dev/null'], { stdio: 'ignore' });
    const boot = await bootGuest({
      spec: {
        ...spec, network: { ...(spec.network as Record<string, unknown>), dns: [silentDns] },
        workloads: [
          { id: 'job', image: 'registry.test:5000/ci/job:2', args: ['true'] },
          // Nothing listens on port 5001 of the test host.
          { id: 'refused', image: `${host.net.hostAddress}:5001/ci/job:2`, args: ['true'] },
        ],
      },
      net: host.net, cacheDisk: join(dir, 'cache-fault.img'), timeoutSeconds: 600,
    });
    expect(boot.output).toMatch(/workload job failed to start: pull registry\.test:5000\/ci\/job:2: cannot reach https:\/\/registry\.test:5000: .*EAI_AGAIN/);
    expect(boot.output).toMatch(/workload refused failed to start: pull 10\.88\.0\.1:5001\/ci\/job:2: cannot reach https:\/\/10\.88\.0\.1:5001: .*ECONNREFUSED/);
    expect(boot.code).toBe(125);
    process.stdout.write(`${boot.lines.filter((l) => /failed to start|result exit-code|power-off/.test(l.text)).map((l) => l.text).join('\n')}\n`);
  }, minutes(11));
});
