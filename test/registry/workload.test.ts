// `concierge run` (the built bundle) with a workload image given by reference: pulled from a
// docker-registry over TLS with basic auth from a --registries file, run, and its output streamed;
// a reference that cannot be pulled ends run with exit code 125 and says why. Credentials appear in no
// output and not in the workload's environment.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ignoreNotFound } from '../../concierge/containerd/errors.js';
import { workloadDidNotStartExitCode } from '../../concierge/workloads/exit-codes.js';
import { runCommand } from '../lib/run-command.js';
import { connect, containerdSocket } from '../workloads/containerd-env.js';
import { busyboxLayer, fileLayer, imageBlobs } from '../workloads/image-fixtures.js';
import { startDockerRegistry, type RunningRegistry } from './harness/docker-registry.js';
import { RegistryPusher } from './harness/push.js';
import { makeTls } from './harness/tls.js';

const bundle = join(__dirname, '../../dist/concierge.js');
const state = `${process.env.CONCIERGE_TEST_ROOT ?? '/run/concierge-test'}/containerd/state`;
const client = connect();
const dir = mkdtempSync(join(tmpdir(), 'concierge-registry-run-'));
const run = randomBytes(3).toString('hex');
const password = `pw-${randomBytes(8).toString('hex')}`;
let registry: RunningRegistry;
let registries: string;

beforeAll(async () => {
  if (!existsSync(bundle)) throw new Error('dist/concierge.js is missing: npm run build first');
  const tls = makeTls(dir);
  registry = await startDockerRegistry(join(dir, 'registry'), tls, { ci: password });
  const pusher = new RegistryPusher({ host: registry.host, ca: tls.caPem, username: 'ci', password });
  await pusher.image('ci/job', imageBlobs([busyboxLayer(), fileLayer('srv/marker', Buffer.from(`pulled ${run}\n`), 0o644)], { gzip: true }), '1');
  await pusher.close();
  registries = join(dir, 'registries.json');
  writeFileSync(registries, JSON.stringify({ [registry.host]: { username: 'ci', password, ca: tls.caPem } }));
}, 120_000);

afterAll(async () => {
  await ignoreNotFound(client.images.delete({ name: `${registry.host}/ci/job:1`, sync: true }));
  await registry?.stop();
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

async function concierge(workload: Record<string, unknown>) {
  const spec = join(dir, `${String(workload.id)}.json`);
  writeFileSync(spec, JSON.stringify(workload));
  return runCommand([process.execPath, bundle, 'run', '--spec', spec, '--registries', registries,
    '--containerd', containerdSocket(), '--containerd-state', state], { timeoutMs: 120_000 });
}

describe('concierge run with an image reference', () => {
  it('pulls the image and runs the workload; the credentials reach neither the output nor the workload', async () => {
    const result = await concierge({
      id: `reg-run-${run}`, image: `${registry.host}/ci/job:1`, pullPolicy: 'always', args: ['sh', '-c', 'cat /srv/marker; env'],
    });
    expect(result.stderr).not.toContain(password);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`pulled ${run}`);
    expect(result.stdout).not.toContain(password);
    expect(result.stdout).not.toMatch(/ci:|Basic /);
  });

  it('exits 125 naming the image and the reason when the image cannot be pulled', async () => {
    const result = await concierge({ id: `reg-missing-${run}`, image: `${registry.host}/ci/job:missing`, args: ['true'] });
    expect(result.code).toBe(workloadDidNotStartExitCode);
    expect(result.stderr).toMatch(new RegExp(`workload reg-missing-${run} did not start: pull ${registry.host}/ci/job:missing: .*has no manifest`));
    expect(result.stderr).not.toContain(password);
    const never = await concierge({ id: `reg-never-${run}`, image: `${registry.host}/ci/other:1`, pullPolicy: 'never', args: ['true'] });
    expect(never.code).toBe(workloadDidNotStartExitCode);
    expect(never.stderr).toMatch(/is not in containerd .* pullPolicy is "never"/);
  });
});
