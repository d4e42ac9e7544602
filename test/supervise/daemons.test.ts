import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerdDisabledPlugins } from '../../concierge/supervise/daemons.js';
import { runCommand } from '../lib/run-command.js';
import { childrenNamed, message, startInstance, type RunningInstance } from './harness.js';

/** GET /_ping on a unix socket inside the instance, reached through /proc/<pid>/root. */
function ping(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/_ping', timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

const readyCount = (instance: RunningInstance, name: string): number => instance.lines.filter((l) => l.json?.msg === `${name} ready`).length;

describe('PID 1 supervision of containerd and dockerd', () => {
  let instance: RunningInstance;
  beforeAll(async () => {
    instance = await startInstance({ spec: { hostname: 'pid1-daemons', docker: { bridge: 'none' } } });
  });
  afterAll(async () => instance?.stop());

  it('starts containerd, then dockerd wired to it, and serves the Docker API through the proxy', async () => {
    await instance.waitFor((l) => l.json?.timeline === 'containerd ready', 'containerd ready');
    await instance.waitFor((l) => l.json?.timeline === 'dockerd ready', 'dockerd ready', 120_000);
    const containerd = instance.lines.findIndex(message('containerd ready'));
    const dockerd = instance.lines.findIndex(message('dockerd ready'));
    expect(containerd).toBeLessThan(dockerd);
    expect(await ping(instance.path('/run/concierge/dockerd.sock'))).toBe('200 OK');
    expect(await ping(instance.path('/run/docker.sock'))).toBe('200 OK');
    const timeline = instance.lines.filter((l) => typeof l.json?.timeline === 'string').map((l) => `+${String(l.json?.atMs)}ms ${String(l.json?.timeline)}`);
    process.stdout.write(`timeline:\n  ${timeline.join('\n  ')}\n`);
    const rss = /VmRSS:\s+(\d+) kB/.exec(await import('node:fs').then((fs) => fs.readFileSync(`/proc/${instance.hostPid}/status`, 'utf8')))?.[1];
    process.stdout.write(`PID 1 RSS with containerd + dockerd up: ${rss} kB\n`);
  });

  it("loads only containerd's plugins that are used, and every one of them", () => {
    const log = readFileSync(instance.path('/run/concierge/containerd.log'), 'utf8');
    expect(log).toContain('containerd successfully booted');
    // The ones the workloads and dockerd need loaded (the tasks service needs a v1 runtime too).
    for (const used of ['snapshotter.v1.overlayfs', 'runtime.v1.linux', 'runtime.v2.task', 'service.v1.tasks-service', 'grpc.v1.tasks', 'grpc.v1.images', 'grpc.v1.leases', 'grpc.v1.content']) {
      expect(log).toContain(`loading plugin \\"io.containerd.${used}\\"`);
    }
    for (const unused of containerdDisabledPlugins) expect(log).not.toContain(`loading plugin \\"${unused}\\"`);
    expect(log).not.toMatch(/failed to load plugin|skip loading plugin|modprobe/);
  });

  it('restarts containerd after SIGKILL', async () => {
    const [pid] = childrenNamed(instance.hostPid, 'containerd');
    expect(pid).toBeDefined();
    const before = readyCount(instance, 'containerd');
    process.kill(pid!, 'SIGKILL');
    await instance.waitFor(() => readyCount(instance, 'containerd') > before, 'containerd ready again');
    expect(childrenNamed(instance.hostPid, 'containerd')).not.toContain(pid);
    expect(instance.lines.some((l) => l.json?.msg === 'containerd exited; restarting' && l.json.signal === 'SIGKILL')).toBe(true);
    // The same as events: the unasked exit, then the restart.
    await instance.waitFor((l) => / containerd ready again \(restart \d+\) in \d+ ms, pid \d+$/.test(l.raw), 'the restart event');
    expect(instance.lines.some((l) => / containerd exited \(SIGKILL\), pid \d+$/.test(l.raw))).toBe(true);
  });

  it('restarts dockerd after SIGKILL and the proxy serves again', async () => {
    const [pid] = childrenNamed(instance.hostPid, 'dockerd');
    expect(pid).toBeDefined();
    const before = readyCount(instance, 'dockerd');
    process.kill(pid!, 'SIGKILL');
    await instance.waitFor(() => readyCount(instance, 'dockerd') > before, 'dockerd ready again', 120_000);
    expect(instance.lines.some((l) => l.json?.msg === 'dockerd exited; restarting' && l.json.signal === 'SIGKILL')).toBe(true);
    expect(await ping(instance.path('/run/docker.sock'))).toBe('200 OK');
  });

  it("dockerd's builder, configured by concierge, refuses network.host when no workload's policy allows host namespaces", async () => {
    const context = mkdtempSync(join(tmpdir(), 'pid1-builder-'));
    try {
      writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /x\n');
      const build = (flags: string[]) => runCommand(['/usr/bin/docker', 'build', ...flags, '--progress=plain', context], {
        env: { PATH: process.env.PATH, HOME: context, DOCKER_BUILDKIT: '1', DOCKER_HOST: `unix://${instance.path('/run/concierge/dockerd.sock')}` },
        timeoutMs: 120_000,
      });
      const plain = await build([]);
      expect(plain.code, plain.stderr).toBe(0);
      // dockerd 20.10 grants it by default; here its configuration file says otherwise.
      const host = await build(['--network', 'host']);
      expect(host.code, host.stderr).not.toBe(0);
      expect(host.stderr).toContain('network.host is not allowed');
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });
});
