import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMountInfo } from '../../concierge/os/mountinfo.js';
import { startInstance, type RunningInstance } from './harness.js';

const spec = {
  hostname: 'pid1-boot-test',
  network: { dns: ['192.0.2.53'], search: ['example.test'] },
  docker: { enabled: false },
};

describe('PID 1 boot in fresh namespaces', () => {
  let instance: RunningInstance;
  beforeAll(async () => {
    instance = await startInstance({ spec });
    await instance.waitFor((l) => l.json?.timeline === 'boot steps done', 'boot steps done');
  });
  afterAll(async () => instance?.stop());

  it('mounts proc, sys, dev, devpts, shm, run, tmp and cgroup2 with their options', () => {
    const mounts = parseMountInfo(readFileSync(`/proc/${instance.hostPid}/mountinfo`, 'utf8'));
    const at = (point: string) => mounts.filter((m) => m.mountPoint === point).at(-1);
    expect(at('/proc')).toMatchObject({ fstype: 'proc' });
    expect(at('/proc')?.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    expect(at('/sys')).toMatchObject({ fstype: 'sysfs' });
    expect(at('/dev')).toMatchObject({ fstype: 'devtmpfs' });
    expect(at('/dev/pts')?.fstype).toBe('devpts');
    expect(at('/dev/pts')?.superOptions).toEqual(expect.arrayContaining(['ptmxmode=666', 'mode=620', 'gid=5']));
    expect(at('/dev/shm')?.fstype).toBe('tmpfs');
    expect(at('/run')?.fstype).toBe('tmpfs');
    expect(at('/tmp')?.fstype).toBe('tmpfs');
    expect(at('/sys/fs/cgroup')?.fstype).toBe('cgroup2');
    expect(readlinkSync(instance.path('/dev/ptmx'))).toBe('pts/ptmx');
    // Ordered: proc first, cgroup2 last of the base set.
    const order = ['/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/run', '/tmp', '/sys/fs/cgroup'].map((p) => mounts.findIndex((m) => m.mountPoint === p));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('makes / shared so binds propagate', () => {
    const root = parseMountInfo(readFileSync(`/proc/${instance.hostPid}/mountinfo`, 'utf8')).find((m) => m.mountPoint === '/');
    expect(root?.propagation.some((p) => p.startsWith('shared:'))).toBe(true);
  });

  it('moves itself into the leaf cgroup /init only below the real root (a move costs an RCU grace period)', () => {
    const inNs = (...argv: string[]) => execFileSync('nsenter', ['-t', String(instance.hostPid), '--mount', ...argv]).toString();
    // The real root has no cgroup.type; a cgroup namespace whose root is a child cgroup has one.
    const realRoot = inNs('sh', '-c', 'test -e /sys/fs/cgroup/cgroup.type && echo child || echo root').trim() === 'root';
    const offered = inNs('cat', '/sys/fs/cgroup/cgroup.controllers').trim();
    const own = readFileSync(`/proc/${instance.hostPid}/cgroup`, 'utf8');
    const done = instance.lines.find((l) => l.json?.timeline === 'boot steps done')!.json!;
    const step = (done.steps as { step: string; done?: string; skipped?: string }[]).find((s) => s.step === 'cgroups');
    if (realRoot || offered === '') expect(own).not.toMatch(/^0::.*\/init$/m);
    else expect(own).toMatch(/^0::.*\/init$/m);
    // Every offered controller is enabled for the children either way.
    const enabled = inNs('cat', '/sys/fs/cgroup/cgroup.subtree_control').trim().split(/\s+/);
    for (const c of offered.split(/\s+/).filter((w) => w !== '')) expect(enabled).toContain(c);
    expect(step?.done ?? step?.skipped).toBeDefined();
  });

  it('sets the hostname and names it in /etc/hosts', () => {
    expect(execFileSync('nsenter', ['-t', String(instance.hostPid), '--uts', 'hostname']).toString().trim()).toBe('pid1-boot-test');
    expect(readFileSync(instance.path('/etc/hosts'), 'utf8')).toMatch(/^127\.0\.1\.1\tpid1-boot-test$/m);
  });

  it('writes resolv.conf naming the DNS cache (which forwards to the spec\'s servers) and the spec\'s search domains', () => {
    expect(readFileSync(instance.path('/etc/resolv.conf'), 'utf8')).toBe('nameserver 169.254.53.53\nsearch example.test\n');
  });

  it('brings loopback up', () => {
    const lo = JSON.parse(execFileSync('nsenter', ['-t', String(instance.hostPid), '--net', 'ip', '-j', 'addr', 'show', 'lo']).toString()) as { flags: string[]; addr_info: { local: string }[] }[];
    expect(lo[0]?.flags).toContain('UP');
    expect(lo[0]?.addr_info.map((a) => a.local)).toContain('127.0.0.1');
  });

  it('reports every boot step on the timeline', () => {
    // One console line ends the boot and tells every step, in order, with what it did.
    const marks = instance.lines.flatMap((l) => (typeof l.json?.timeline === 'string' ? [l.json.timeline] : []));
    expect(marks[0]).toBe('boot steps done');
    const done = instance.lines.find((l) => l.json?.timeline === 'boot steps done')!.json!;
    const steps = done.steps as { step: string; tookMs: number; done?: string; skipped?: string }[];
    expect(steps.map((s) => s.step)).toEqual(['mounts', 'spec', 'root rshared', 'cgroups', 'sysctls', 'rlimits', 'hostname', 'modules', 'network', 'resolv.conf', 'extra mounts']);
    for (const s of steps) expect(s.tookMs).toBeGreaterThanOrEqual(0);
    expect(steps.find((s) => s.step === 'mounts')?.done).toContain('/sys/fs/cgroup');
    expect(steps.find((s) => s.step === 'hostname')?.done).toContain('pid1-boot-test');
    expect(done.rssBytes).toBeGreaterThan(10e6);
    process.stdout.write(`boot steps took ${String(done.stepsMs)} ms (first line to boot done: ${String(done.atMs)} ms, RSS ${((done.rssBytes as number) / 1e6).toFixed(1)} MB): ${steps.map((s) => `${s.step} ${s.tookMs}`).join(', ')}\n`);
  });
});
