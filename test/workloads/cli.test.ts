// `concierge run` and `concierge serve` as processes (the bundle the build made), against the real containerd.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImageArchive } from '../../concierge/containerd/images/import.js';
import { busyboxLayer, ociArchive, writeArchive } from './image-fixtures.js';
import { MS, sys } from '../../concierge/sys/index.js';
import { mountsUnder, unmountAllUnder } from '../lib/mounts.js';
import { connect, containerdSocket, dockerdSocket, inventory } from './containerd-env.js';
import { until } from '../lib/gate.js';
import { startCommand, type RunningCommand } from '../lib/run-command.js';

const bundle = join(__dirname, '../../dist/concierge.js');
const dir = mkdtempSync(join(tmpdir(), 'concierge-cli-'));
const state = `${process.env.CONCIERGE_TEST_ROOT ?? '/run/concierge-test'}/containerd/state`;
const client = connect();

beforeAll(async () => {
  if (!existsSync(bundle)) throw new Error('dist/concierge.js is missing: npm run build first');
  writeArchive(join(dir, 'busybox.tar'), ociArchive([busyboxLayer()], 'test.local/busybox:cli'));
  await importImageArchive(client, join(dir, 'busybox.tar'));
});
/** Processes a failed test left running are stopped (SIGTERM: they remove their workloads) before the files go. */
const started = new Set<ChildProcess>();
afterAll(async () => {
  await Promise.all([...started].map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await closed;
    clearTimeout(killer);
  }));
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

function concierge(args: string[]): RunningCommand {
  const running = startCommand([process.execPath, bundle, ...args, '--containerd', containerdSocket(), '--containerd-state', state]);
  started.add(running.child);
  return running;
}

function spec(name: string, body: Record<string, unknown>): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ image: './busybox.tar', ...body }));
  return path;
}

const taskRunning = (id: string) => async () => (await client.tasks.list({})).tasks.some((t) => t.id === id);

describe('concierge run', () => {
  it('streams output and exits with the workload exit code', async () => {
    const { done } = concierge(['run', '--spec', spec('exit3', { id: 'cli-exit3', args: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 3'] })]);
    const r = await done;
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('to-stdout\n');
    expect(r.stderr).toContain('to-stderr\n');
  });

  it('refuses a bad spec with a one-line error', async () => {
    const r = await concierge(['run', '--spec', spec('bad', { id: 'cli-bad', network: 'bridge' })]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^concierge run: workload cli-bad: network: expected "host" or "none"\n$/);
  });

  it('stops and removes the workload on Ctrl-C', async () => {
    const before = await inventory(client);
    const { child, done } = concierge(['run', '--spec', spec('sleep', { id: 'cli-sigint', stopTimeout: 1, args: ['sleep', '600'] })]);
    await until(taskRunning('cli-sigint'), 'the workload to run', { intervalMs: 100 });
    child.kill('SIGINT');
    const r = await done;
    // sleep is PID 1 of its container and ignores SIGTERM: killed after the 1 s stop timeout.
    expect(r.code).toBe(137);
    expect(await inventory(client)).toEqual(before);
  });

  it('cleans up what a killed concierge left behind when started again', async () => {
    const before = await inventory(client);
    const { child, done } = concierge(['run', '--spec', spec('orphan', { id: 'cli-orphan', args: ['sleep', '600'] })]);
    await until(taskRunning('cli-orphan'), 'the workload to run', { intervalMs: 100 });
    child.kill('SIGKILL');
    await done;
    expect((await inventory(client)).containers).toContain('cli-orphan');
    const again = await concierge(['run', '--spec', spec('orphan2', { id: 'cli-orphan', args: ['echo', 'second life'] })]).done;
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('second life\n');
    expect(await inventory(client)).toEqual(before);
  });

  it('releases the staging binds of workloads that are gone when it starts', async () => {
    // A caller directory no live workload owns, holding a bind, as a killed concierge leaves it.
    const leftover = `/run/concierge/staging/cli-gone-${process.pid}`;
    const bind = join(leftover, 'staged');
    mkdirSync(bind, { recursive: true });
    sys.mount(mkdtempSync(join(dir, 'staged-source-')), bind, null, MS.BIND);
    try {
      expect(mountsUnder(leftover)).toEqual([bind]);
      const r = await concierge(['run', '--docker', dockerdSocket(), '--spec', spec('sweep', { id: 'cli-sweep', args: ['true'] })]).done;
      expect(r.code).toBe(0);
      expect(mountsUnder(leftover)).toEqual([]);
      expect(existsSync(leftover)).toBe(false);
    } finally {
      unmountAllUnder(leftover);
      rmSync(leftover, { recursive: true, force: true });
    }
  });
});

function api(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('concierge serve', () => {
  it('runs the instance workloads and answers run, list, logs, signal and wait', async () => {
    const before = await inventory(client);
    const control = join(dir, 'control.sock');
    const instance = join(dir, 'instance.json');
    writeFileSync(instance, JSON.stringify({
      hostname: 'ignored-here',
      workloads: [{ id: 'srv-a', image: './busybox.tar', args: ['sh', '-c', 'echo from-a; exit 5'] }],
    }));
    const { child, done } = concierge(['serve', '--spec', instance, '--control', control]);
    await until(() => existsSync(control), 'the control socket', { intervalMs: 100 });
    expect(await api(control, 'POST', '/workloads/srv-a/wait')).toEqual({ status: 200, body: '{"exitCode":5}' });
    expect((await api(control, 'GET', '/workloads/srv-a/logs')).body).toBe('from-a\n');

    const created = await api(control, 'POST', '/workloads', {
      id: 'srv-b', image: './busybox.tar', args: ['sh', '-c', 'trap "echo got-usr1; exit 9" USR1; echo ready; while true; do sleep 0.1; done'],
    });
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({ workloadId: 'srv-b', containerId: 'srv-b', state: 'running' });
    await until(async () => (await api(control, 'GET', '/workloads/srv-b/logs')).body.includes('ready'), 'srv-b to be ready', { intervalMs: 100 });
    const list = JSON.parse((await api(control, 'GET', '/workloads')).body) as { workloadId: string }[];
    expect(list.map((w) => w.workloadId).sort()).toEqual(['srv-a', 'srv-b']);
    expect(await api(control, 'POST', '/workloads/srv-b/signal?signal=USR1')).toMatchObject({ status: 204 });
    expect(await api(control, 'POST', '/workloads/srv-b/wait')).toEqual({ status: 200, body: '{"exitCode":9}' });
    expect((await api(control, 'GET', '/workloads/srv-b/logs?stream=stdout')).body).toBe('ready\ngot-usr1\n');

    expect(await api(control, 'GET', '/workloads/nope')).toEqual({ status: 404, body: '{"message":"no such workload: nope"}' });
    expect((await api(control, 'POST', '/workloads', { id: 'bad', image: 'x', user: 'a:b:c' })).status).toBe(400);
    const missing = await api(control, 'POST', '/workloads', { id: 'no-image', image: 'test.local/never-imported:1', pullPolicy: 'never', args: ['true'] });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ message: expect.stringContaining('image test.local/never-imported:1 is not in containerd') as unknown });
    const ghost = await api(control, 'POST', '/workloads', { id: 'ghost-user', image: './busybox.tar', user: 'ghost', args: ['true'] });
    expect(ghost).toEqual({ status: 400, body: JSON.stringify({ message: 'workload ghost-user: user "ghost": unable to find user ghost: no matching entries in the image\'s /etc/passwd' }) });

    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(await inventory(client)).toEqual(before);
  });
  it('exits with the code of the workload that ended last under --exit-with-workloads', async () => {
    const before = await inventory(client);
    const instance = join(dir, 'exit-with.json');
    // Listed first, ends last: its code is the result (as PID 1 decides it).
    writeFileSync(instance, JSON.stringify({
      workloads: [
        { id: 'srv-slow', image: './busybox.tar', args: ['sh', '-c', 'sleep 1; exit 4'] },
        { id: 'srv-fast', image: './busybox.tar', args: ['sh', '-c', 'exit 6'] },
      ],
    }));
    const r = await concierge(['serve', '--spec', instance, '--control', join(dir, 'exit-with.sock'), '--exit-with-workloads']).done;
    expect(r.code).toBe(4);
    expect(await inventory(client)).toEqual(before);
  });
});

describe('concierge pull', () => {
  it('imports an archive path as a workload would: written once, then found as it is', async () => {
    const name = `test.local/busybox:cli-pull-${process.pid}`;
    writeArchive(join(dir, 'pull.tar'), ociArchive([busyboxLayer()], name));
    const pull = () => startCommand([process.execPath, bundle, 'pull', join(dir, 'pull.tar'), '--containerd', containerdSocket()]).done;
    try {
      const first = await pull();
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`^${name} sha256:[0-9a-f]{64} written=true ms=\\d+\\n$`));
      const { image } = await client.images.get({ name });
      expect(image?.target?.digest).toBe(first.stdout.split(' ')[1]);
      const second = await pull();
      expect(second.stdout).toMatch(/ written=false /);
    } finally {
      await client.images.delete({ name, sync: true }).catch(() => undefined);
    }
  });
});
