// The test host of the CI job (guest-rootfs/ci-job, specs/ci-job.json), on a closed test network: the
// registry (docker-registry over TLS with a CA made here and htpasswd basic auth) as registry.test:5000
// holding the job's image (busybox + git, the docker CLI, docker-compose) and the busybox the project
// builds FROM; the project's repository served by `git daemon` as git://git.test/ci-project; dnsmasq
// naming both. `npm run main` (scripts/ci-job.ts) and test/guest/registry-pull.test.ts boot the same job.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDnsmasq } from '../lib/dnsmasq.js';
import { createTestNet, type TestNet } from '../lib/testnet.js';
import { startDockerRegistry, type RunningRegistry } from '../registry/harness/docker-registry.js';
import { RegistryPusher } from '../registry/harness/push.js';
import { makeTls, type TestTls } from '../registry/harness/tls.js';
import { busyboxLayer, imageBlobs } from '../workloads/image-fixtures.js';
import { repoRoot, sampleSpec, type Boot } from './vm.js';

const execFileAsync = promisify(execFile);
const ciJobDir = join(repoRoot, 'guest-rootfs', 'ci-job');

export const registryHost = 'registry.test:5000';
export const jobImage = `${registryHost}/ci/job:1`;
export const repositoryUrl = 'git://git.test/ci-project';

export interface CiHost {
  net: TestNet;
  tls: TestTls;
  registry: RunningRegistry;
  password: string;
  /** specs/ci-job.json with this run's CA and password. */
  spec: Record<string, unknown> & { workloads: Record<string, unknown>[] };
  /** The registry's status for a manifest, asked from inside the test network (curl in its namespace). */
  manifestStatus(repository: string, tag: string): Promise<number>;
  /** Stops the registry (the guest then meets a registry.test that refuses connections). */
  stopRegistry(): Promise<void>;
  stop(): Promise<void>;
}

export interface CiHostOptions {
  /** A scratch directory of the caller's (storage, certificates, the repository). */
  dir: string;
  /** Tag of the test network's namespace name. */
  tag: string;
  password: string;
  /** More images to push before the registry moves onto the test network. */
  push?: (pusher: RegistryPusher) => Promise<void>;
  log?: (line: string) => void;
}

export async function startCiHost(options: CiHostOptions): Promise<CiHost> {
  const { dir, password } = options;
  const log = options.log ?? (() => undefined);
  const tls = makeTls(dir, ['registry.test']);
  const users = { ci: password };
  // Pushed on loopback, then served from the same storage on the test network.
  const local = await startDockerRegistry(join(dir, 'registry'), tls, users);
  try {
    const pusher = new RegistryPusher({ host: local.host, ca: tls.caPem, username: 'ci', password });
    await pusher.image('ci/busybox', imageBlobs([busyboxLayer()], { gzip: true }), '1');
    const tools = join(dir, 'job-tools.tar');
    await execFileAsync('bash', [join(ciJobDir, 'build-job-layer.sh'), tools]);
    const job = imageBlobs([busyboxLayer(), readFileSync(tools)], {
      gzip: true, docker: true, cmd: ['sh'], env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/root'],
    });
    await pusher.image('ci/job', job, '1');
    log(`ci host: pushed ${jobImage} (${(job.layers.reduce((n, l) => n + l.length, 0) / 1e6).toFixed(1)} MB of gzip layers) and ${registryHost}/ci/busybox:1`);
    await options.push?.(pusher);
    await pusher.close();
  } finally {
    await local.stop();
  }

  const repository = join(dir, 'git', 'ci-project');
  mkdirSync(repository, { recursive: true });
  cpSync(join(ciJobDir, 'project'), repository, { recursive: true });
  const git = (...args: string[]) => execFileAsync('git', ['-C', repository, ...args]);
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('-c', 'user.name=concierge test', '-c', 'user.email=ci@git.test', 'commit', '-q', '-m', 'the CI job\'s project');

  const net = await createTestNet(options.tag);
  try {
    const registry = await startDockerRegistry(join(dir, 'registry'), tls, users, net);
    net.spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${join(dir, 'git')}`, `--listen=${net.hostAddress}`,
      '--port=9418', '--informative-errors'], { stdio: 'ignore' });
    for (let i = 0; !(await net.run('bash', ['-c', `echo > /dev/tcp/${net.hostAddress}/9418`]).then(() => true, () => false)); i++) {
      if (i > 50) throw new Error('git daemon did not listen on 9418');
      await new Promise((r) => setTimeout(r, 100));
    }
    await startDnsmasq({ net, address: net.hostAddress, port: 53, hosts: { 'registry.test': net.hostAddress, 'git.test': net.hostAddress } });
    log(`ci host: ${repositoryUrl} and ${registryHost} on ${net.hostAddress} (network namespace ${net.name})`);

    const spec = sampleSpec('ci-job.json');
    spec.registries = { [registryHost]: { username: 'ci', password, ca: tls.caPem } };
    const [job] = spec.workloads;
    // The job gets the password because this spec says so (its env), not from the registries section.
    spec.workloads = [{ ...job, env: { ...(job!.env as Record<string, string>), CI_REGISTRY_PASSWORD: password } }];

    let registryUp: RunningRegistry | undefined = registry;
    const stopRegistry = async (): Promise<void> => {
      await registryUp?.stop();
      registryUp = undefined;
    };
    return {
      net, tls, registry, password, spec, stopRegistry,
      async manifestStatus(name, tag) {
        const { stdout } = await net.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', tls.caPath, '-u', `ci:${password}`,
          '--resolve', `registry.test:5000:${net.hostAddress}`, '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json',
          `https://registry.test:5000/v2/${name}/manifests/${tag}`]);
        return Number(stdout);
      },
      async stop() {
        await stopRegistry();
        await net.remove();
      },
    };
  } catch (error) {
    await net.remove();
    throw error;
  }
}

/** One step of the CI job: its console line, and when it arrived (host ms since the boot started). */
export interface CiStep {
  what: string;
  atMs: number;
  /** Since the step before (the boot's start for the first). */
  tookMs: number;
}

/**
 * The boot's steps as the console showed them: concierge's events up to the job's start, the job's
 * "ci:" lines, then its exit and the power-off. Times are the lines' arrival on the host.
 */
export function ciSteps(boot: Boot): CiStep[] {
  const marks: RegExp[] = [
    /^concierge: \S+ boot steps done/, /^concierge: \S+ containerd ready in/, /^concierge: \S+ dockerd ready in/,
    /^concierge: \S+ image \S+ pulled/, /^concierge: \S+ workload job started/, /^ci: /,
    /^concierge: \S+ workload job exited/, /^concierge: \S+ power-off/,
  ];
  const steps: CiStep[] = [];
  let previous = 0;
  for (const line of boot.lines) {
    if (!marks.some((m) => m.test(line.text))) continue;
    steps.push({ what: line.text.replace(/^concierge: \S+ /, '').replace(/^ci: [0-9.]+ s: /, 'job: '), atMs: line.ms, tookMs: line.ms - previous });
    previous = line.ms;
  }
  return steps;
}

export function formatSteps(steps: CiStep[]): string {
  return steps.map((s) => `${(s.atMs / 1000).toFixed(1).padStart(6)} s  +${(s.tookMs / 1000).toFixed(1).padStart(5)} s  ${s.what}`).join('\n');
}
