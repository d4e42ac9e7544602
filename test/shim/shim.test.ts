// containerd runs containers as concierge microVMs through the runtime v2 shim (qemu; TCG here, so each
// run boots a guest for a minute or two: the tests share what they can).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, startCommand } from '../lib/run-command.js';
import { buildGuest } from '../guest/vm.js';
import { runtime, startContainerd, type TestContainerd } from './containerd-with-shim.js';

const image = 'concierge.test/shim-busybox:1';
/** busybox with a static docker CLI, for the docker-access annotation. */
const dockerImage = 'concierge.test/shim-busybox-docker:1';
const bootMs = 300_000;

describe('containerd runtime io.containerd.concierge.v1', () => {
  let containerd: TestContainerd;
  beforeAll(async () => {
    await buildGuest();
    containerd = await startContainerd();
    await containerd.importBusybox(image);
    await containerd.importBusybox(dockerImage, { dockerCli: true });
  }, 600_000);
  afterAll(async () => {
    // Every shim server ended with its task (containerd's Shutdown), none outlived it.
    expect(await containerd?.stop(), 'shim servers that outlived their tasks').toBe(0);
  });

  it('ctr run --rm prints the container\'s output, reads its stdin, exits with its status; the task events reach containerd', async () => {
    const events = startCommand(['ctr', '-a', containerd.socket, 'events'], { timeoutMs: bootMs });
    const r = await containerd.ctr(['run', '--runtime', runtime, '--rm', image, 't1', 'sh', '-c', 'echo hi; read line; echo "read:$line"; echo to-stderr >&2; exit 3'], { timeoutMs: bootMs, input: 'from-stdin\n' });
    expect(r.stdout, `${r.stderr}\n${containerd.log().slice(-4000)}`).toContain('hi');
    expect(r.stdout).toContain('read:from-stdin');
    expect(r.stderr).toContain('to-stderr');
    expect(r.code).toBe(3);
    // --rm removed the container and the shim its state.
    expect((await containerd.ctr(['containers', 'ls', '-q'])).stdout).not.toContain('t1');
    await events.waitForStdout(/\/tasks\/delete/);
    events.child.kill();
    const topics = events.stdoutSoFar().split('\n').flatMap((l) => /\/tasks\/\w+/.exec(l) ?? []);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    expect(events.stdoutSoFar()).toMatch(/\/tasks\/exit .*"exit_status":3/);
  }, bootMs);

  it('ctr run -t: the container gets a terminal in the guest, of the size ctr\'s terminal has', async () => {
    // script(1) gives ctr a terminal of its own, sized 30x100 before ctr reads it.
    const ctr = ['ctr', '-a', containerd.socket, 'run', '-t', '--runtime', runtime, '--rm', image, 't4', 'sh', '-c', 'tty; stty size; exit 5'].join(' ');
    const r = await runCommand(['script', '-qec', `stty rows 30 cols 100; ${ctr}`, '/dev/null'], { timeoutMs: bootMs });
    expect(r.stdout, r.stderr).toMatch(/\/dev\/pts\/\d+/);
    expect(r.stdout).toMatch(/30 100/);
    expect(r.code).toBe(5);
  }, bootMs);

  it('the docker-access annotation: the container runs docker in its VM, a sibling reading its file through the bind translation', async () => {
    // An image built from the container's own busybox (no registry), then a sibling with a bind of the container's /data.
    const job = [
      'mkdir -p /data && echo made-in-the-container > /data/f',
      'ctx=$(mktemp -d) && cp /bin/busybox $ctx/ && printf "FROM scratch\\nCOPY busybox /bin/busybox\\n" > $ctx/Dockerfile',
      'docker build -q -t shim-sibling:1 $ctx >/dev/null',
      'docker run --rm -v /data:/d shim-sibling:1 /bin/busybox cat /d/f',
    ].join(' && ');
    const r = await containerd.ctr(['run', '--runtime', runtime, '--rm', '--annotation', 'io.concierge.docker-access=true', dockerImage, 't5', 'sh', '-c', job], { timeoutMs: bootMs });
    expect(r.stdout, `${r.stderr}\n${containerd.log().slice(-3000)}`).toContain('made-in-the-container');
    expect(r.code).toBe(0);
  }, bootMs);

  const paths = (id: string): { stateDir: string; rootfs: string } => containerd.paths(id);
  const until = (done: () => boolean | Promise<boolean>, what: string): Promise<void> => containerd.until(done, what);
  // The workload marks its start in its rootfs, which is the host's (shared over virtio-9p).
  const marksUp = 'trap "touch /termed; exit 7" TERM; touch /up; while :; do sleep 1; done';

  it('ctr run -d, task ls, task exec, task kill, task delete: states as for runc; SIGTERM reaches the workload in the guest', async () => {
    const started = await containerd.ctr(['run', '-d', '--runtime', runtime, image, 't2', 'sh', '-c', marksUp]);
    expect(started.code, started.stderr).toBe(0);
    expect((await containerd.ctr(['task', 'ls'])).stdout).toMatch(/t2\s+\d+\s+RUNNING/);
    const { stateDir, rootfs } = paths('t2');
    const qemuPid = Number(readFileSync(join(stateDir, 'qemu.pid'), 'utf8'));
    expect(existsSync(`/proc/${qemuPid}`)).toBe(true);
    await until(() => existsSync(join(rootfs, 'up')), 'the workload to start in the guest');

    // A second process in the running guest, over the same rootfs, with its own output and exit status.
    const exec = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', 't2', 'sh', '-c', 'test -f /up && echo from-exec; echo exec-err >&2; exit 4'], { timeoutMs: 120_000 });
    expect(exec.stdout, exec.stderr).toContain('from-exec');
    expect(exec.stderr).toContain('exec-err');
    expect(exec.code).toBe(4);
    expect((await containerd.ctr(['task', 'ls'])).stdout).toMatch(/t2\s+\d+\s+RUNNING/);

    const kill = await containerd.ctr(['task', 'kill', 't2']);
    expect(kill.code, kill.stderr).toBe(0);
    await until(() => containerd.taskStopped('t2'), 't2 to stop');
    // The workload's trap ran: the signal went to it through the host channel, not to qemu.
    expect(existsSync(join(rootfs, 'termed'))).toBe(true);
    expect((await containerd.ctr(['task', 'delete', 't2'])).code).toBe(0);
    expect((await containerd.ctr(['task', 'ls'])).stdout).not.toContain('t2');
    expect(existsSync(`/proc/${qemuPid}`)).toBe(false);
    expect(existsSync(join(rootfs, 'up'))).toBe(false); // unmounted
    expect((await containerd.ctr(['containers', 'rm', 't2'])).code).toBe(0);
  }, bootMs);

  it('config.json\'s bind and memory limit reach the workload; task metrics are its cgroup\'s; an OOM kill in it is a /tasks/oom event', async () => {
    const hostDir = join(containerd.dir, 'bind-source');
    mkdirSync(hostDir);
    writeFileSync(join(hostDir, 'f'), 'from-the-host\n');
    const events = startCommand(['ctr', '-a', containerd.socket, 'events'], { timeoutMs: bootMs });
    // busybox tail keeps a line whole: 100 MB without a newline outgrows the 32 MiB limit.
    const job = [
      'cat /m/f > /seen', '(echo x > /m/g) 2>/dev/null && echo written > /ro || echo refused > /ro', 'touch /up',
      'while [ ! -f /go ]; do sleep 1; done', 'head -c 100m /dev/zero | tail >/dev/null', 'touch /after', 'while :; do sleep 1; done',
    ].join('; ');
    const started = await containerd.ctr(['run', '-d', '--runtime', runtime, '--memory-limit', String(32 * 1024 * 1024),
      '--mount', `type=bind,src=${hostDir},dst=/m,options=rbind:ro`, image, 't7', 'sh', '-c', job]);
    expect(started.code, started.stderr).toBe(0);
    const { rootfs } = paths('t7');
    await until(() => existsSync(join(rootfs, 'up')), 'the workload to start in the guest');
    expect(readFileSync(join(rootfs, 'seen'), 'utf8')).toBe('from-the-host\n');
    expect(readFileSync(join(rootfs, 'ro'), 'utf8')).toBe('refused\n');
    expect(existsSync(join(hostDir, 'g'))).toBe(false);

    // The guest workload's cgroup: memory.current now, memory.max as --memory-limit set it.
    const metrics = await containerd.ctr(['task', 'metrics', 't7']);
    expect(metrics.code, `${metrics.stderr}\n${containerd.log().slice(-3000)}`).toBe(0);
    const figure = (name: string): number => Number(new RegExp(`^${name.replace('.', '\\.')}\\s+(\\d+)`, 'm').exec(metrics.stdout)?.[1]);
    expect(figure('memory.usage'), metrics.stdout).toBeGreaterThan(0);
    expect(figure('memory.usage_limit')).toBe(32 * 1024 * 1024);
    expect(figure('pids.current')).toBeGreaterThan(0);
    expect(figure('cpu.usage_usec')).toBeGreaterThan(0);

    writeFileSync(join(rootfs, 'go'), '');
    await events.waitForStdout(/\/tasks\/oom/, 120_000);
    events.child.kill();
    expect(events.stdoutSoFar()).toMatch(/\/tasks\/oom .*"container_id":"t7"/);
    // The OOM killer took tail, not the workload: it lives on, and its cgroup counted the kill.
    await until(() => existsSync(join(rootfs, 'after')), 'the workload to go on after the OOM kill');
    const after = await containerd.ctr(['task', 'metrics', '--format', 'json', 't7']);
    expect(after.stdout).toMatch(/"oom_kill":\s*[1-9]/);
    expect((await containerd.ctr(['task', 'ls'])).stdout).toMatch(/t7\s+\d+\s+RUNNING/);

    expect((await containerd.ctr(['task', 'kill', '-s', 'SIGKILL', 't7'])).code).toBe(0);
    await until(() => containerd.taskStopped('t7'), 't7 to stop');
    expect((await containerd.ctr(['task', 'delete', 't7'])).code).toBe(0);
    expect((await containerd.ctr(['containers', 'rm', 't7'])).code).toBe(0);
  }, bootMs);

  it('a VM that dies is a task exit, never a hang', async () => {
    const started = await containerd.ctr(['run', '-d', '--runtime', runtime, image, 't6', 'sh', '-c', marksUp]);
    expect(started.code, started.stderr).toBe(0);
    const { stateDir, rootfs } = paths('t6');
    await until(() => existsSync(join(rootfs, 'up')), 'the workload to start in the guest');
    process.kill(Number(readFileSync(join(stateDir, 'qemu.pid'), 'utf8')), 'SIGKILL');
    await until(() => containerd.taskStopped('t6'), 't6 to stop');
    expect((await containerd.ctr(['task', 'delete', 't6'])).code).toBe(0);
    expect((await containerd.ctr(['containers', 'rm', 't6'])).code).toBe(0);
  }, bootMs);

  it('a shim killed mid-task: containerd\'s delete path ends the VM and removes the shim\'s state', async () => {
    const started = await containerd.ctr(['run', '-d', '--runtime', runtime, image, 't3', 'sh', '-c', marksUp]);
    expect(started.code, started.stderr).toBe(0);
    const { stateDir, rootfs } = paths('t3');
    const qemuPid = Number(readFileSync(join(stateDir, 'qemu.pid'), 'utf8'));
    await until(() => existsSync(join(rootfs, 'up')), 'the workload to start in the guest');
    process.kill(Number(readFileSync(join(stateDir, 'shim.pid'), 'utf8')), 'SIGKILL');
    await until(() => !existsSync(`/proc/${qemuPid}`), 'the VM to be ended');
    await until(() => !existsSync(stateDir), 'the shim state to be removed');
    expect((await containerd.ctr(['task', 'ls'])).stdout).not.toMatch(/t3\s+\d+\s+RUNNING/);
    await containerd.ctr(['task', 'delete', 't3']);
    expect((await containerd.ctr(['containers', 'rm', 't3'])).code).toBe(0);
  }, bootMs);
});
