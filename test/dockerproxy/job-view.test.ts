// From inside a job, the docker socket looks like a dockerd that holds only the job's own objects, at the
// job's own paths. Real clients (both docker CLIs, docker-compose, dockerode, testcontainers-node) run
// INSIDE a workload against its own socket, with a scratch directory that exists only in the job's
// filesystem, and the same scenario runs on the host straight at dockerd (with the scratch directory at
// the same path). What the clients read back is compared, normalised only for ids, clock readings and the
// addresses dockerd allocates.
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkloadRunner } from '../../concierge/workloads/runner.js';
import { parseWorkloadSpec } from '../../concierge/instance/spec-workloads.js';
import { normalizeOutcome } from '../compat/harness/normalize.js';
import { busyboxLayer, ociArchive, writeArchive } from '../workloads/image-fixtures.js';
import { runnerOptions } from '../workloads/containerd-env.js';
import { dockerdSocket, importBusyboxWithDocker, removeEverythingMarked, removeImage, runCommand, runMarker } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const marker = runMarker();
const image = `${marker}-busybox:latest`;
const scratch = `/tmp/${marker}-scratch`;
const dir = mkdtempSync(join(tmpdir(), `${marker}-`));
let runner: WorkloadRunner;

/** The host's programs and libraries, read-only, so the job runs the same clients as the host. */
const HOST_TOOLS = [
  { source: '/usr', target: '/usr', readonly: true },
  { source: '/usr/lib', target: '/lib', readonly: true },
  { source: '/usr/lib64', target: '/lib64', readonly: true },
  // The repository at its own path (test scripts, node_modules, the node binary), and where node_modules
  // really lives when it is a link out of the tree (a worktree sharing another checkout's).
  ...[...new Set([repo, dirname(realpathSync(join(repo, 'node_modules')))])]
    .filter((dir, i, all) => i === 0 || !dir.startsWith(`${all[0]}/`))
    .map((dir) => ({ source: dir, target: dir, readonly: true })),
];
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', SCRATCH: scratch, M: marker, IMG: image, TESTCONTAINERS_RYUK_DISABLED: 'true' };

async function job(id: string, argv: string[], dockerPolicy: unknown = 'isolated') {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const workload = await runner.start(
    parseWorkloadSpec({
      id: `${marker}-${id}`, image: join(dir, 'job.tar'), dockerAccess: true, dockerPolicy, network: 'host',
      args: argv, env: ENV, cwd: repo, mounts: HOST_TOOLS, stopTimeout: 0,
    }),
    (stream, chunk) => (stream === 'stdout' ? out : err).push(chunk),
  );
  const exit = await workload.wait();
  return { code: exit.exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function direct(argv: string[]) {
  const r = await runCommand(argv, { env: { ...ENV, DOCKER_HOST: `unix://${dockerdSocket()}` }, cwd: repo, timeoutMs: 300_000 });
  rmSync(scratch, { recursive: true, force: true });
  return r;
}

/** "### name" sections of a scenario's output, normalised for ids, clock readings and allocated addresses. */
function sections(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  let name = '';
  for (const line of stdout.split('\n')) {
    if (line.startsWith('### ')) name = line.slice(4);
    else if (name !== '') out[name] = `${out[name] ?? ''}${line}\n`;
  }
  for (const [k, v] of Object.entries(out)) out[k] = sortedMounts(v);
  const normalised = normalizeOutcome(out, { aliases: [] });
  for (const [k, v] of Object.entries(normalised)) {
    normalised[k] = v
      .replace(/\b\d{1,3}(\.\d{1,3}){3}(\/\d+)?\b/g, '<ip>')
      .replace(/\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b/g, '<mac>')
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
      .replace(/"Pid": ?\d+/g, '"Pid":<pid>')
      .replace(/"IPPrefixLen": ?\d+/g, '"IPPrefixLen":<prefix>')
      .replace(/"(Created|CreatedAt|StartedAt|FinishedAt)": ?\d+/g, '"$1":<time>')
      // Published host ports: dockerd picks a free one per run.
      .replace(/"(HostPort|PublicPort)": ?"?\d+"?/g, '"$1":<port>');
  }
  return normalised;
}

/**
 * dockerd lists a container's mounts from a map, the docker CLI sends its binds from one, and a network
 * endpoint's aliases come as it joined them: in no fixed order (seen straight: ["web", "<id>"] one run, ["<id>", "web"] the next): JSON sections get
 * them sorted.
 */
function sortedMounts(text: string): string {
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch {
    return text;
  }
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        if (key === 'Mounts' && Array.isArray(child)) child.sort((x: { Destination?: string }, y: { Destination?: string }) => String(x.Destination).localeCompare(String(y.Destination)));
        // The docker CLI builds Binds from a Go map of its -v flags: their order changes from run to run.
        if (key === 'Binds' && Array.isArray(child)) child.sort();
        // A short id first, then names.
        if (key === 'Aliases' && Array.isArray(child)) child.sort((x: string, y: string) => Number(!/^[0-9a-f]{12}$/.test(x)) - Number(!/^[0-9a-f]{12}$/.test(y)) || x.localeCompare(y));
        visit(child);
      }
    }
  };
  visit(tree);
  return `${JSON.stringify(tree, null, 1)}\n`;
}

beforeAll(async () => {
  writeArchive(join(dir, 'job.tar'), ociArchive([busyboxLayer()], `test.local/${marker}-job:latest`));
  await importBusyboxWithDocker(image);
  runner = await WorkloadRunner.open(runnerOptions(join(dir, 'fifo')));
}, 120_000);

afterAll(async () => {
  await runner?.close();
  await removeEverythingMarked(marker);
  await removeImage(image);
  rmSync(dir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe('clients inside a job read back what they would read from dockerd', () => {
  it('both docker CLIs and docker-compose: inspect, lists, labels and paths of containers, volumes and networks', async () => {
    const script = join(here, 'job-view', 'cli-scenario.sh');
    const straight = await direct(['sh', script]);
    expect(straight.code, straight.stderr).toBe(0);
    const inside = await job('cli', ['sh', script]);
    expect(inside.code, inside.stderr).toBe(0);
    const want = sections(straight.stdout);
    const got = sections(inside.stdout);
    expect(Object.keys(got)).toEqual(Object.keys(want));
    for (const name of Object.keys(want)) expect(got[name], name).toBe(want[name]);
    // What the comparison stands on: the job's own paths and labels, read back from inside.
    expect(got['cli28 container']).toContain(`"${scratch}/a:/data:ro"`);
    expect(got['cli28 container']).toContain(`"Source": "${scratch}/site"`);
    expect(got['compose up again']).toMatch(/is up-to-date/);
    expect(inside.stdout).not.toContain('io.concierge');
    expect(inside.stdout).not.toContain('/staging/');
  }, 300_000);

  it('dockerode and testcontainers-node: inspect, lists, volumes with bind options, df, events, a sibling reached', async () => {
    const argv = [process.execPath, '--import', 'tsx', join(here, 'job-view', 'sdk-scenario.ts')];
    const straight = await direct(argv);
    expect(straight.code, straight.stderr).toBe(0);
    // The same node as the host's (it lives in the repository, bound into the job at its own path).
    const inside = await job('sdk', argv);
    expect(inside.code, inside.stderr).toBe(0);
    const want = sections(straight.stdout);
    const got = sections(inside.stdout);
    expect(Object.keys(got)).toEqual(Object.keys(want));
    for (const name of Object.keys(want)) expect(got[name], name).toBe(want[name]);
    expect(got['dockerode bind volume']).toContain(`"device": "${scratch}/site"`);
    expect(JSON.parse(got.testcontainers!)).toMatchObject({ reached: 'reached\n', mappedIsNumber: true });
    // The reaper's socket is the job's own: it found and removed the session's sibling through it.
    expect(JSON.parse(got.reaper!)).toEqual({ removed: '1', left: 0 });
    expect(inside.stdout).not.toContain('io.concierge');
  }, 300_000);
});

describe('the Docker SDK for Python inside a job against a direct run', () => {
  const argv = ['python3', join(here, 'job-view', 'docker-py-suite.py')];
  let want: Record<string, string>;

  beforeAll(async () => {
    const straight = await direct(argv);
    expect(straight.code, straight.stderr).toBe(0);
    want = sections(straight.stdout);
  }, 300_000);

  async function differences(policy: string): Promise<{ got: Record<string, string>; differs: string[] }> {
    const inside = await job(`py-${policy}`, argv, policy);
    expect(inside.code, inside.stderr).toBe(0);
    const got = sections(inside.stdout);
    expect(Object.keys(got)).toEqual(Object.keys(want));
    const differs = Object.keys(want).filter((name) => got[name] !== want[name]);
    console.log(`docker-py, ${policy}: ${Object.keys(want).length} cases, differing: ${JSON.stringify(differs)}`);
    return { got, differs };
  }

  it('with the trusted policy: no difference (swarm and plugins answer as dockerd outside a swarm)', async () => {
    expect((await differences('trusted')).differs).toEqual([]);
  }, 300_000);

  it('with the isolated policy: only the requests the policy refuses, each refused with the field named', async () => {
    const { got, differs } = await differences('isolated');
    expect(differs).toEqual(['privileged', 'host network and pid', 'sysctls and cap_add']);
    const refusal = (name: string) => JSON.parse(got[name]!) as { status: number; message: string };
    for (const [name, field] of [['privileged', /HostConfig\.Privileged/], ['host network and pid', /HostConfig\.(NetworkMode|PidMode)/], ['sysctls and cap_add', /HostConfig\.(CapAdd|Sysctls)/]] as const) {
      expect(refusal(name).status).toBe(403);
      expect(refusal(name).message).toMatch(field);
      expect(refusal(name).message).toMatch(/is not allowed by this workload's dockerPolicy "isolated"/);
    }
  }, 300_000);
});

describe('dockerPolicy', () => {
  const hostPid1 = readFileSync('/proc/1/comm', 'utf8').trim();
  const caps = `docker run --rm --cap-add SYS_ADMIN ${image} sh -c 'mkdir /m && mount -t tmpfs t /m && echo caps-ok'`;
  const hostNs = `docker run --rm --network host --pid host ${image} sh -c 'cat /proc/1/comm; readlink /proc/self/ns/net'`;
  // runc on this machine cannot apply every capability (its own bounding set lacks some): a privileged
  // sibling fails at start, straight as through the socket. The comparison shows concierge let it through.
  const privileged = `docker run --rm --privileged ${image} echo privileged-ok 2>&1 | head -1; echo "privileged exit $?"`;

  it('a trusted job runs siblings with capabilities, host namespaces and privileged mode, as a direct run does', async () => {
    const script = `${caps} && ${hostNs} && ${privileged}`;
    const straight = await direct(['sh', '-c', script]);
    const inside = await job('trusted', ['sh', '-c', script], 'trusted');
    expect(inside.stderr).toBe(straight.stderr);
    expect(inside.stdout).toBe(straight.stdout);
    expect(inside.stdout.split('\n').slice(0, 3)).toEqual(['caps-ok', hostPid1, readlinkSync('/proc/self/ns/net')]);
    expect(inside.code).toBe(0);
  }, 120_000);

  it('an isolated job is refused with the field and the policy named, and nothing is created', async () => {
    const r = await job('isolated', ['sh', '-c', `${caps}; echo "exit $?"; ${hostNs}; echo "exit $?"; ${privileged}; docker ps -aq | wc -l`]);
    expect(r.stderr).toMatch(/HostConfig\.CapAdd is not allowed by this workload's dockerPolicy "isolated"/);
    expect(r.stderr).toMatch(/HostConfig\.(NetworkMode|PidMode) is not allowed by this workload's dockerPolicy "isolated"/);
    expect(r.stdout).toMatch(/HostConfig\.Privileged is not allowed by this workload's dockerPolicy "isolated"/);
    expect(r.stdout.trim().split('\n').filter((l) => !l.startsWith('docker:'))).toEqual(['exit 125', 'exit 125', 'privileged exit 0', '0']);
  }, 120_000);

  it('a policy of switches allows what it lists and nothing more', async () => {
    const script = `${caps}; echo "exit $?"; ${hostNs}; echo "exit $?"`;
    const r = await job('custom', ['sh', '-c', script], { capAdd: ['SYS_ADMIN'] });
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['caps-ok', 'exit 0']);
    expect(r.stderr).toMatch(/HostConfig\.(NetworkMode|PidMode) is not allowed by this workload's dockerPolicy "custom"/);
    expect(r.stdout).toContain('exit 125');
  }, 120_000);
});
