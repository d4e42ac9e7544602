// The init's control API on its unix socket (the same routes the host channel serves): status with the
// boot timeline, daemons and workloads; events; metrics; a workload's logs; and an orderly shutdown on
// request with its reason, ending with the workload's exit code.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { busyboxLayer, dockerArchive } from '../workloads/image-fixtures.js';
import { startInstance, type RunningInstance } from './harness.js';

function call(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('PID 1 control API (unix socket)', () => {
  let instance: RunningInstance | undefined;
  afterEach(async () => {
    await instance?.stop();
    instance = undefined;
  });

  it('answers status, events, metrics and logs while a workload runs, and shuts down on request with the reason', async () => {
    instance = await startInstance({
      spec: {
        docker: { enabled: false },
        workloads: [{ id: 'job', image: '/images/busybox.tar', args: ['sh', '-c', 'trap "echo job: got TERM; exit 143" TERM; echo job: up; while true; do sleep 0.1; done'] }],
      },
      files: { '/images/busybox.tar': dockerArchive([busyboxLayer()], 'pid1-test/busybox:1') },
    });
    const socket = instance.path('/run/concierge/control.sock');
    await instance.waitFor((l) => l.raw === 'job: up', 'the job', 60_000);
    // The job's task is served by the runc shim server PID 1 started ahead: the server logs to the
    // `log` of the directory it was started in, the group's, and the job's bundle names its address.
    // containerd ran the group's script as the task's shim, which answered the task's `start`.
    const group = instance.path('/run/concierge/runc-shim-group');
    const bundle = instance.path('/run/containerd/io.containerd.runtime.v2.task/default/job');
    expect(readFileSync(join(bundle, 'shim-binary-path'), 'utf8')).toBe('/run/concierge/runc-shim-group/containerd-shim-runc-v2');
    expect(readFileSync(join(group, 'address'), 'utf8')).toMatch(/^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(readFileSync(join(group, 'address'), 'utf8'));
    expect(readFileSync(join(group, 'log'), 'utf8')).toMatch(/loading plugin/);

    const status = JSON.parse((await call(socket, 'GET', '/status')).body) as Record<string, unknown>;
    expect(status).toMatchObject({
      state: 'running', specOrigin: '/etc/concierge/instance.json', shutdown: null, result: null,
      daemons: [{ name: 'containerd', state: 'ready', restarts: 0 }],
      workloads: [{ id: 'job', state: 'running', exitCode: null, oomKilled: false }],
    });
    expect((status.timeline as { name: string }[]).map((m) => m.name)).toEqual(
      ['boot steps done', 'containerd spawned', 'containerd ready', 'first workload started']);
    const events = (await call(socket, 'GET', '/events')).body.trim().split('\n').map((l) => JSON.parse(l) as { type: string; seq: number });
    expect(events.map((e) => e.type)).toEqual(['timeline', 'timeline', 'timeline', 'daemon.ready', 'workload.started', 'timeline']);
    expect((await call(socket, 'GET', '/events?since=5')).body.trim().split('\n')).toHaveLength(1);
    expect((await call(socket, 'GET', '/workloads/job/logs?stream=stdout')).body).toBe('job: up\n');
    expect((await call(socket, 'GET', '/workloads/job/logs?stream=stdout&from=5')).body).toBe('up\n');
    const metrics = (await call(socket, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/^concierge_boot_step_seconds\{step="mounts"\} /m);
    expect(metrics).toMatch(/^concierge_daemon_start_seconds\{daemon="containerd"\} /m);
    expect(Number(/^concierge_resident_memory_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(10e6);

    expect(await call(socket, 'POST', '/shutdown', { reason: 'a\nb' })).toMatchObject({ status: 400 });
    expect(await call(socket, 'POST', '/shutdown', [])).toMatchObject({ status: 400 });
    expect(await call(socket, 'POST', '/shutdown', { reason: 'CI run cancelled' })).toEqual({ status: 202, body: '{"reason":"CI run cancelled"}' });
    expect(await instance.exited).toBe(143);
    expect(instance.lines.some((l) => l.raw === 'job: got TERM')).toBe(true);
    expect(instance.lines.some((l) => l.raw.startsWith('concierge: result exit-code=143 reason="host request: CI run cancelled"'))).toBe(true);
    const eventLines = instance.lines.filter((l) => /^concierge: \d\d:\d\d:\d\d\.\d{3} /.test(l.raw)).map((l) => l.raw.slice(24));
    expect(eventLines.slice(-3)).toEqual([
      'shutdown: host request: CI run cancelled',
      'workload job exited with code 143 (SIGTERM)', // 128 + 15: a status cannot tell a trap's exit 143 from the signal
      expect.stringMatching(/^power-off, exit code 143 after \d+ ms of shutdown$/),
    ]);
  });

  it('prints events as JSON lines when the spec asks for machine output', async () => {
    instance = await startInstance({ spec: { docker: { enabled: false }, console: 'json' } });
    await instance.waitFor((l) => l.json?.type === 'daemon.ready', 'containerd ready as an event', 60_000);
    process.kill(instance.hostPid, 'SIGTERM');
    expect(await instance.exited).toBe(0);
    const events = instance.lines.flatMap((l) => (typeof l.json?.type === 'string' && typeof l.json.seq === 'number' ? [l.json] : []));
    expect(events.map((e) => e.type)).toEqual(['timeline', 'timeline', 'timeline', 'daemon.ready', 'shutdown.started', 'poweroff']);
    expect(events.at(-2)).toMatchObject({ reason: 'signal SIGTERM' });
    expect(instance.lines.some((l) => /^concierge: \d\d:\d\d:\d\d\.\d{3} /.test(l.raw))).toBe(false);
  });
});
