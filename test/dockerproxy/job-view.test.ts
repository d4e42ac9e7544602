// From inside a job, the docker socket looks like a dockerd that holds only the job's own objects, at the
// job's own paths. Real clients (both docker CLIs, docker-compose, dockerode, testcontainers-node) run
// INSIDE a workload against its own socket, with a scratch directory that exists only in the job's
// filesystem, and the same scenario runs on the host straight at dockerd (with the scratch directory at
// the same path). What the clients read back is compared, normalised only for ids, clock readings and the
// addresses dockerd allocates.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkloadRunner } from '../../concierge/workloads/runner.js';
import { parseWorkloadSpec } from '../../concierge/instance/spec-workloads.js';
import { normalizeOutcome } from '../compat/harness/normalize.js';
import { busyboxLayer, ociArchive, writeArchive } from '../workloads/image-fixtures.js';
import { containerdSocket, runnerOptions } from '../workloads/containerd-env.js';
import { callerSocketAccess, callerSocketDefaults } from '../../concierge/supervise/docker-access.js';
import { fileEntries, importBusybox } from '../lib/busybox.js';
import { removeDockerdNamespaces, startOwnDockerd, type OwnDockerd } from '../lib/own-dockerd.js';
import { api, dockerdSocket, importBusyboxWithDocker, removeEverythingMarked, removeImage, runCommand, runMarker } from './harness.js';

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
// testcontainers' reaper is off on the shared dockerd, which publishes no ports (--userland-proxy=false
// --iptables=false) while testcontainers reaches its reaper on one: the reaper has a dockerd of its own below.
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', SCRATCH: scratch, M: marker, IMG: image, TESTCONTAINERS_RYUK_DISABLED: 'true' };

interface JobPlace {
  runner?: WorkloadRunner;
  env?: Record<string, string>;
  mounts?: Array<{ source: string; target: string; readonly?: boolean }>;
}

async function job(id: string, argv: string[], dockerPolicy: unknown = 'isolated', place: JobPlace = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const workload = await (place.runner ?? runner).start(
    parseWorkloadSpec({
      id: `${marker}-${id}`, image: join(dir, 'job.tar'), dockerAccess: true, dockerPolicy, network: 'host',
      args: argv, env: { ...ENV, ...place.env }, cwd: repo, mounts: [...HOST_TOOLS, ...(place.mounts ?? [])], stopTimeout: 0,
    }),
    (stream, chunk) => (stream === 'stdout' ? out : err).push(chunk),
  );
  const exit = await workload.wait();
  return { code: exit.exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function direct(argv: string[], place: { socket?: string; env?: Record<string, string> } = {}) {
  const r = await runCommand(argv, { env: { ...ENV, ...place.env, DOCKER_HOST: `unix://${place.socket ?? dockerdSocket()}` }, cwd: repo, timeoutMs: 300_000 });
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
  // The job image's own /etc/hosts (containerd writes none, as docker does): clients name `localhost`.
  writeArchive(join(dir, 'job.tar'), ociArchive([busyboxLayer([{ name: 'etc/hosts', data: Buffer.from('127.0.0.1 localhost\n') }])], `test.local/${marker}-job:latest`));
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
    const { got, differs } = await differences('trusted');
    expect(differs).toEqual([]);
    // The prunes removed the run's own volume and network, inside the job as straight.
    expect(JSON.parse(got['prune volumes by label']!)).toEqual({ VolumesDeleted: [`${marker}-pyvol`], SpaceReclaimed: 0 });
    expect(JSON.parse(got['prune networks by label']!)).toEqual({ NetworksDeleted: [`${marker}-pynet`] });
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

describe('testcontainers\' reaper inside a job', () => {
  // A dockerd of the test's own that publishes ports as a guest's does (the userland proxy), on loopback
  // only (--ip 127.0.0.1), so that a job on the host network reaches them and nothing else can; the
  // shared test dockerd publishes none (--userland-proxy=false --iptables=false).
  const ownNamespace = `${marker}-moby`;
  const ownData = join(process.env.CONCIERGE_TEST_DATA ?? '/var/lib/concierge-test', `${marker}-dockerd`);
  const ownRun = join(process.env.CONCIERGE_TEST_ROOT ?? '/run/concierge-test', `${marker}-dockerd`);
  const reaperImage = `${marker}-ryuk-stand-in:latest`;
  const handoff = join(dir, 'handoff');
  let own: OwnDockerd | undefined;
  let ownRunner: WorkloadRunner | undefined;

  beforeAll(async () => {
    own = await startOwnDockerd({ dataRoot: ownData, runDir: ownRun, containerdSocket: containerdSocket(),
      namespace: ownNamespace, args: ['--userland-proxy=true', '--ip=127.0.0.1'] });
    await importBusybox(own.socket, image);
    // The reaper: a stand-in for testcontainers/ryuk (no registry is reachable), a static Go program.
    const binary = join(dir, 'ryuk-stand-in');
    execFileSync('go', ['build', '-o', binary, join(here, 'job-view', 'ryuk-stand-in.go')], {
      env: { ...process.env, CGO_ENABLED: '0', GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', GOPROXY: 'off', GOCACHE: join(tmpdir(), 'concierge-test-gocache') },
      stdio: 'pipe',
    });
    await importBusybox(own.socket, reaperImage, fileEntries('usr/local/bin/ryuk-stand-in', readFileSync(binary)), ['ryuk-stand-in']);
    ownRunner = await WorkloadRunner.open({ ...runnerOptions(join(dir, 'own-fifo')), dockerAccess: callerSocketAccess(callerSocketDefaults(own.socket, join(dir, 'own-concierge'))) });
  }, 300_000);

  afterAll(async () => {
    await ownRunner?.close();
    await own?.stop();
    try {
      await removeDockerdNamespaces(containerdSocket(), ownNamespace);
    } finally {
      rmSync(ownData, { recursive: true, force: true });
      rmSync(ownRun, { recursive: true, force: true });
    }
  }, 120_000);

  const fileIdentity = (path: string) => {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  };

  /**
   * Runs the scenario (direct or in a job); when the session hands its id over, looks at the reaper
   * straight at dockerd, makes a decoy straight at dockerd with the session's label (no caller's), and
   * lets the session end. Returns the scenario's sections, the reaper's bind, which file its source is
   * (device and inode) beside which file the client's socket is, whether the caller's records (when
   * given) hold the reaper, and whether the decoy is left.
   */
  async function reaped(run: (env: Record<string, string>) => Promise<{ code: number | null; stdout: string; stderr: string }>, clientSocket: string, recordsFile?: string) {
    rmSync(handoff, { recursive: true, force: true });
    mkdirSync(handoff);
    const env = { HANDOFF: handoff, RYUK_CONTAINER_IMAGE: reaperImage, TESTCONTAINERS_RYUK_DISABLED: 'false', TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: '1s' };
    const running = run(env);
    let binds: string[] = [];
    let socketFile = '';
    let clientFile = '';
    let recorded = false;
    let decoy = '';
    let ended = false;
    void running.finally(() => (ended = true));
    for (let i = 0; i < 1200 && !ended && !existsSync(join(handoff, 'session')); i++) await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(join(handoff, 'session'))) {
      const r = await running;
      throw new Error(`the session handed nothing over (exit ${r.code}): ${r.stderr.slice(-3000)}\n${r.stdout.slice(-1000)}`);
    }
    try {
      const session = readFileSync(join(handoff, 'session'), 'utf8');
      const label = encodeURIComponent(JSON.stringify({ label: [`org.testcontainers.session-id=${session}`], ancestor: [reaperImage] }));
      const reapers = (await api(own!.socket, 'GET', `/containers/json?filters=${label}`)).json as Array<{ Id: string }>;
      binds = ((await api(own!.socket, 'GET', `/containers/${reapers[0]!.Id}/json`)).json as { HostConfig: { Binds: string[] } }).HostConfig.Binds;
      socketFile = fileIdentity(binds[0]!.split(':')[0]!);
      clientFile = fileIdentity(clientSocket);
      if (recordsFile !== undefined) recorded = Object.keys((JSON.parse(readFileSync(recordsFile, 'utf8')) as { containers: Record<string, unknown> }).containers).includes(reapers[0]!.Id);
      const made = await api(own!.socket, 'POST', `/containers/create?name=${marker}-decoy`, { Image: image, Labels: { 'org.testcontainers.session-id': session } });
      expect(made.status, made.text).toBe(201);
      decoy = (made.json as { Id: string }).Id;
    } finally {
      writeFileSync(join(handoff, 'go'), '');
    }
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    const decoyLeft = (await api(own!.socket, 'GET', `/containers/${decoy}/json`)).status === 200;
    await api(own!.socket, 'DELETE', `/containers/${decoy}?force=1`);
    return { sections: sections(result.stdout), binds, socketFile, clientFile, recorded, decoyLeft };
  }

  it('starts with Ryuk on, reaches a sibling on its published port, and the reaper it starts removes the session\'s siblings through the job\'s own socket', async () => {
    const argv = [process.execPath, '--import', 'tsx', join(here, 'job-view', 'reaper-scenario.ts')];
    // This machine is itself a container (/.dockerenv): there testcontainers looks for published ports
    // on the bridge's gateway, where this dockerd publishes none. The direct run names the host a job's
    // testcontainers finds by itself (a job has no /.dockerenv): localhost.
    const straight = await reaped((env) => direct(argv, { socket: own!.socket, env: { ...env, TESTCONTAINERS_HOST_OVERRIDE: 'localhost' } }), own!.socket);
    const inside = await reaped((env) => job('reaper', argv, 'isolated', { runner: ownRunner!, env, mounts: [{ source: handoff, target: handoff }] }),
      join(dir, 'own-concierge', 'docker', `${marker}-reaper.sock`), join(dir, 'own-concierge', 'records', `${marker}-reaper.json`));
    expect(inside.sections).toEqual(straight.sections);
    expect(JSON.parse(inside.sections.session!)).toMatchObject({ host: 'localhost', reached: 'reached\n', containers: [`/${marker}-reaped`, '<reaper>'] });
    expect(JSON.parse(inside.sections['after the session']!)).toEqual({ left: [] });
    // The reaper bind-mounts the socket the client uses: straight, dockerd's; in the job, the job's own
    // (the file staged for it is the job's socket, the one its workload serves).
    expect(straight.binds).toEqual([`${own!.socket}:/var/run/docker.sock:rw`]);
    expect(straight.socketFile).toBe(straight.clientFile);
    expect(inside.binds).toEqual([expect.stringMatching(/:\/var\/run\/docker\.sock:rw$/)]);
    expect(inside.socketFile).toBe(inside.clientFile);
    expect(inside.socketFile).not.toBe(straight.clientFile);
    // The reaper is the job's sibling in concierge's records (its create came through the job's socket).
    expect(inside.recorded).toBe(true);
    // What carries the session's label without being the job's: straight, the reaper removed it; from the
    // job's socket it never saw it.
    expect(straight.decoyLeft).toBe(false);
    expect(inside.decoyLeft).toBe(true);
  }, 300_000);
});
