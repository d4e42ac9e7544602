import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImageArchive } from '../../concierge/containerd/images/import.js';
import { labels } from '../../concierge/workloads/owner.js';
import { WorkloadRunner } from '../../concierge/workloads/runner.js';
import { runtimeSpecTypeUrl } from '../../concierge/workloads/runtime-spec.js';
import { parseWorkloadSpec } from '../../concierge/instance/spec-workloads.js';
import { busyboxLayer, ociArchive, tar, writeArchive } from './image-fixtures.js';
import { connect, inventory, runnerOptions } from './containerd-env.js';

const dir = mkdtempSync(join(tmpdir(), 'concierge-lifecycle-'));
const archive = join(dir, 'busybox.tar');
/** busybox with a second layer of users and groups, and USER runner in its config. */
const runnerArchive = join(dir, 'busybox-runner.tar');
let runner: WorkloadRunner;

beforeAll(async () => {
  writeArchive(archive, ociArchive([busyboxLayer()], 'test.local/busybox:lifecycle'));
  const users = tar([
    { name: 'etc/', type: 'dir' },
    { name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nrunner:x:1001:121:runner:/home/runner:/bin/sh\n') },
    { name: 'etc/group', data: Buffer.from('root:x:0:\ndocker:x:121:\nsudo:x:27:runner\nadm:x:4:syslog,runner\nstaff:x:50:\n') },
  ]);
  writeArchive(runnerArchive, ociArchive([busyboxLayer(), users], 'test.local/busybox:runner', { user: 'runner' }));
  runner = await WorkloadRunner.open(runnerOptions(join(dir, 'fifo')));
  // Imported up front, so that "nothing left behind" compares workloads, not the image's own snapshots.
  const client = connect();
  await importImageArchive(client, archive);
  await importImageArchive(client, runnerArchive);
  client.close();
});
afterAll(async () => {
  await runner?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(spec: Record<string, unknown>) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const workload = await runner.start(parseWorkloadSpec({ image: archive, ...spec }),
    (stream, chunk) => (stream === 'stdout' ? out : err).push(chunk));
  const exit = await workload.wait();
  return { ...exit, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), info: workload.info() };
}

/** A container record only (no snapshot, no task), as another client of containerd makes one. */
async function createBareContainer(client: ReturnType<typeof connect>, id: string, containerLabels: Record<string, string>): Promise<void> {
  const spec = { ociVersion: '1.0.2', process: { args: ['true'], cwd: '/' }, root: { path: 'rootfs' } };
  await client.containers.create({ container: {
    id, labels: containerLabels, runtime: { name: 'io.containerd.runc.v2' },
    spec: { typeUrl: runtimeSpecTypeUrl, value: Buffer.from(JSON.stringify(spec)) },
  } });
}

describe('workload lifecycle on a real containerd', () => {
  it('runs a directory as its root as it is (rootfs: no image, no snapshot), its writes landing there, with a stdin', async () => {
    const root = join(dir, 'rootfs-dir');
    mkdirSync(root);
    writeFileSync(join(dir, 'layer.tar'), busyboxLayer());
    expect(spawnSync('tar', ['-xf', join(dir, 'layer.tar'), '-C', root]).status).toBe(0);
    const client = connect();
    const before = await inventory(client);
    const out: Buffer[] = [];
    const workload = await runner.start(parseWorkloadSpec({
      id: 'lc-rootfs', rootfs: root, args: ['sh', '-c', 'read line; echo "got:$line"; echo written > /written'], stdin: true,
    }), (stream, chunk) => { if (stream === 'stdout') out.push(chunk); });
    workload.stdin!.end('from-stdin\n');
    const exit = await workload.wait();
    expect(exit.exitCode).toBe(0);
    expect(Buffer.concat(out).toString()).toBe('got:from-stdin\n');
    expect(readFileSync(join(root, 'written'), 'utf8')).toBe('written\n');
    expect(await inventory(client)).toEqual(before);
    client.close();
  });

  it('returns exact stdout, stderr and exit status, and leaves nothing behind', async () => {
    const client = connect();
    const before = await inventory(client);
    const r = await run({ id: 'lc-exit3', args: ['sh', '-c', 'echo out-line; echo err-line >&2; printf "no newline"; exit 3'] });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('out-line\nno newline');
    expect(r.stderr).toBe('err-line\n');
    expect(await inventory(client)).toEqual(before);
    expect(r.info.state).toBe('removed');
    client.close();
  });

  it('passes large output through intact', async () => {
    const r = await run({ id: 'lc-big', args: ['sh', '-c', 'yes 0123456789abcdef | head -c 3000000'] });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(3_000_000);
    expect(r.stdout.startsWith('0123456789abcdef\n')).toBe(true);
  });

  it('applies a bind mount, env, cwd and user', async () => {
    const data = join(dir, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'hello.txt'), 'from the host\n');
    const r = await run({
      id: 'lc-env', env: { GREETING: 'hi there' }, cwd: '/data', user: '1234:4321',
      mounts: [{ source: data, target: '/data', readonly: true }],
      args: ['sh', '-c', 'echo "$GREETING|$FROM_IMAGE|$(pwd)|$(id -u):$(id -g)"; cat hello.txt; touch x 2>/dev/null && echo writable || echo readonly'],
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi there|yes|/data|1234:4321\nfrom the host\nreadonly\n');
    expect(r.exitCode).toBe(0);
  });

  it('resolves user names from the image\'s /etc/passwd and /etc/group, as docker run --user does', async () => {
    const ids = 'echo "$(id -u):$(id -g):$(id -G | tr " " "\\n" | sort -n | tr "\\n" " ")"';
    // The image's USER: its uid, primary gid, and the groups listing it.
    expect((await run({ id: 'lc-user-image', image: runnerArchive, args: ['sh', '-c', ids] })).stdout).toBe('1001:121:4 27 121 \n');
    // An explicit group replaces the primary gid, and brings no supplementary groups.
    expect((await run({ id: 'lc-user-group', image: runnerArchive, user: 'runner:staff', args: ['sh', '-c', ids] })).stdout).toBe('1001:50:50 \n');
    // A uid with a passwd entry takes its gid; one without has gid 0.
    expect((await run({ id: 'lc-user-uid', image: runnerArchive, user: '1001', args: ['sh', '-c', ids] })).stdout).toBe('1001:121:4 27 121 \n');
    expect((await run({ id: 'lc-user-nouid', user: '4242', args: ['sh', '-c', ids] })).stdout).toBe('4242:0:0 \n');
    expect((await run({ id: 'lc-user-root', image: runnerArchive, user: 'root', args: ['sh', '-c', ids] })).stdout).toBe('0:0:0 \n');
  });

  it('refuses a user the image does not have, naming it, and leaves nothing behind', async () => {
    const client = connect();
    const before = await inventory(client);
    await expect(run({ id: 'lc-user-ghost', image: runnerArchive, user: 'ghost', args: ['true'] }))
      .rejects.toThrow('workload lc-user-ghost: user "ghost": unable to find user ghost: no matching entries in the image\'s /etc/passwd');
    await expect(run({ id: 'lc-group-ghost', user: 'root:ghosts', args: ['true'] })).rejects.toThrow(/unable to find group ghosts/);
    expect(await inventory(client)).toEqual(before);
    expect(readdirSync(join(dir, 'fifo')).filter((n) => n.includes('ghost'))).toEqual([]);
    client.close();
  });

  it("refuses an id containerd holds for a container that is not a workload, leaving that container as it was", async () => {
    const client = connect();
    await createBareContainer(client, 'lc-foreign', { mine: 'yes' });
    try {
      const before = await inventory(client);
      await expect(run({ id: 'lc-foreign', args: ['true'] }))
        .rejects.toThrow('a container named lc-foreign already exists in namespace default and is not a concierge workload');
      expect(await inventory(client)).toEqual(before);
      expect((await client.containers.get({ id: 'lc-foreign' })).container?.labels).toEqual({ mine: 'yes' });
    } finally {
      await client.containers.delete({ id: 'lc-foreign' });
      client.close();
    }
  });

  it('removes a container a dead concierge left with the id after the runner opened, and starts the workload', async () => {
    const client = connect();
    const before = await inventory(client);
    await createBareContainer(client, 'lc-orphan', { [labels.workload]: 'lc-orphan', [labels.owner]: 'another-boot/1/1' });
    expect(await run({ id: 'lc-orphan', args: ['echo', 'second life'] })).toMatchObject({ exitCode: 0, stdout: 'second life\n' });
    expect(await inventory(client)).toEqual(before);
    client.close();
  });

  it("refuses an id another live concierge's workload holds, and leaves that workload running", async () => {
    const other = await WorkloadRunner.open(runnerOptions(join(dir, 'fifo-other')));
    try {
      const running = await other.start(parseWorkloadSpec({ image: archive, id: 'lc-twice', stopTimeout: 1, args: ['sleep', '600'] }));
      await expect(run({ id: 'lc-twice', args: ['true'] })).rejects.toThrow('workload lc-twice is already running under another concierge');
      expect(running.state).toBe('running');
      expect(readdirSync(running.info().rootfsPath)).toContain('bin');
      expect((await running.stop())?.exitCode).toBe(137);
    } finally {
      await other.close();
    }
  });

  it('sees the host interfaces with network host, and only loopback without', async () => {
    // Other tests on this machine add and remove veths: compare with what the host had both before and after.
    const hostBefore = readdirSync('/sys/class/net');
    const host = await run({ id: 'lc-net', network: 'host', args: ['sh', '-c', 'ls /sys/class/net'] });
    const stable = readdirSync('/sys/class/net').filter((n) => hostBefore.includes(n));
    expect(stable.some((n) => n !== 'lo')).toBe(true);
    expect(host.stdout.split('\n').filter(Boolean)).toEqual(expect.arrayContaining(stable));
    const isolated = await run({ id: 'lc-nonet', args: ['sh', '-c', 'ls /sys/class/net'] });
    expect(isolated.stdout.trim()).toBe('lo');
  });

  it('stops a workload that ignores SIGTERM with SIGKILL after its stop timeout', async () => {
    const workload = await runner.start(parseWorkloadSpec({
      image: archive, id: 'lc-stop', stopTimeout: 1, args: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'],
    }));
    expect(runner.list().find((w) => w.workloadId === 'lc-stop')).toMatchObject({
      state: 'running', containerId: 'lc-stop', rootfsPath: expect.stringMatching(/io\.containerd\.runtime\.v2\.task\/default\/lc-stop\/rootfs$/) as unknown,
    });
    expect(readdirSync(workload.info().rootfsPath)).toContain('bin');
    const exit = await workload.stop();
    expect(exit?.exitCode).toBe(137);
  });

  it('reports task exits to listeners', async () => {
    const notices: unknown[] = [];
    runner.on('task-exit', (n) => notices.push(n));
    await run({ id: 'lc-notice', args: ['true'] });
    expect(notices).toContainEqual({ workloadId: 'lc-notice', containerId: 'lc-notice', exitCode: 0 });
  });
});
