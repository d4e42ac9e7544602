// containerd runs containers as concierge microVMs through the runtime v2 shim (qemu; TCG here, so each
// run boots a guest for a minute or two: the tests share what they can).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayer } from '../lib/busybox.js';
import { buildGuest } from '../guest/vm.js';
import { dockerArchive, writeArchive } from '../workloads/image-fixtures.js';
import { runtime, startContainerd, type TestContainerd } from './containerd-with-shim.js';
import { createHash } from 'node:crypto';

const image = 'concierge.test/shim-busybox:1';
const bootMs = 300_000;

describe('containerd runtime io.containerd.concierge.v1', () => {
  let containerd: TestContainerd;
  beforeAll(async () => {
    await buildGuest();
    containerd = await startContainerd();
    const archive = writeArchive(join(containerd.dir, 'busybox.tar'), dockerArchive([busyboxLayer()], image));
    const imported = await containerd.ctr(['images', 'import', archive]);
    expect(imported.code, imported.stderr).toBe(0);
  }, 600_000);
  afterAll(async () => {
    await containerd?.stop();
  });

  it('ctr run --rm prints the container\'s output and exits with its status', async () => {
    const r = await containerd.ctr(['run', '--runtime', runtime, '--rm', image, 't1', 'sh', '-c', 'echo hi; echo to-stderr >&2; exit 3'], { timeoutMs: bootMs });
    expect(r.stdout, `${r.stderr}\n${containerd.log().slice(-4000)}`).toContain('hi');
    expect(r.stderr).toContain('to-stderr');
    expect(r.code).toBe(3);
    // --rm removed the container and the shim its state.
    expect((await containerd.ctr(['containers', 'ls', '-q'])).stdout).not.toContain('t1');
  }, bootMs);

  it('ctr run -d, task ls, task kill, task delete: states as for runc; a killed shim\'s VM is cleaned by delete', async () => {
    const started = await containerd.ctr(['run', '-d', '--runtime', runtime, image, 't2', 'sh', '-c', 'trap "exit 7" TERM; echo up; while :; do sleep 1; done']);
    expect(started.code, started.stderr).toBe(0);
    const ls = await containerd.ctr(['task', 'ls']);
    expect(ls.stdout).toMatch(/t2\s+\d+\s+RUNNING/);
    const bundle = join(containerd.state, 'io.containerd.runtime.v2.task/default/t2');
    const stateDir = join(containerd.shims, createHash('sha256').update(bundle).digest('hex').slice(0, 16));
    const qemuPid = Number(readFileSync(join(stateDir, 'qemu.pid'), 'utf8'));
    expect(existsSync(`/proc/${qemuPid}`)).toBe(true);

    // SIGTERM reaches the workload once the guest runs it (its trap exits 7); until then it ends the VM.
    const kill = await containerd.ctr(['task', 'kill', 't2']);
    expect(kill.code, kill.stderr).toBe(0);
    let state = '';
    for (let i = 0; i < 600 && !/STOPPED/.test(state); i++) {
      state = (await containerd.ctr(['task', 'ls'])).stdout;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(state).toMatch(/t2\s+\d+\s+STOPPED/);
    const deleted = await containerd.ctr(['task', 'delete', 't2']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await containerd.ctr(['task', 'ls'])).stdout).not.toContain('t2');
    expect(existsSync(`/proc/${qemuPid}`)).toBe(false);
    expect((await containerd.ctr(['containers', 'rm', 't2'])).code).toBe(0);
  }, bootMs);
});
