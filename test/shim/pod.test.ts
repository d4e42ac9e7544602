// A CRI pod on the concierge runtime: containers annotated with one sandbox id (as the CRI plugin
// annotates them) run in the VM of the sandbox's container, one guest boot for the whole pod (TCG here).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMountInfo } from '../../concierge/os/mountinfo.js';
import { startCommand } from '../lib/run-command.js';
import { buildGuest } from '../guest/vm.js';
import { runtime, startContainerd, type TestContainerd } from './containerd-with-shim.js';

const image = 'concierge.test/shim-pod-busybox:1';
/** busybox with a static docker CLI, for the docker-access annotation. */
const dockerImage = 'concierge.test/shim-pod-busybox-docker:1';
const dockerAccess = ['--annotation', 'io.concierge.docker-access=true'];
const bootMs = 300_000;
const sandboxId = 'pod1';
const asSandbox = ['--annotation', `io.kubernetes.cri.sandbox-id=${sandboxId}`, '--annotation', 'io.kubernetes.cri.container-type=sandbox'];
const inPod = ['--annotation', `io.kubernetes.cri.sandbox-id=${sandboxId}`, '--annotation', 'io.kubernetes.cri.container-type=container'];
// Each workload marks its start in its rootfs, which is the host's (shared over virtio-9p), and ends on SIGTERM.
const idle = 'trap "exit 0" TERM; touch /up; while :; do sleep 1; done';

describe('containerd runtime io.containerd.concierge.v1: a pod', () => {
  let containerd: TestContainerd;
  beforeAll(async () => {
    await buildGuest();
    containerd = await startContainerd();
    await containerd.importBusybox(image);
    await containerd.importBusybox(dockerImage, { dockerCli: true });
  }, 600_000);
  afterAll(async () => {
    expect(await containerd?.stop(), 'shim servers that outlived their tasks').toBe(0);
  });

  const taskLs = async (): Promise<string> => (await containerd.ctr(['task', 'ls'])).stdout;
  /** Mounts left under the shims' state (a member's rootfs or bound directory not unmounted). */
  const mountsInShimState = (): string[] => readMountInfo().map((m) => m.mountPoint).filter((p) => p.startsWith(`${containerd.shims}/`));
  /** A host directory holding one file, for a member to bind. */
  const hostDir = (name: string, content: string): string => {
    const dir = join(containerd.dir, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'f'), content);
    return dir;
  };

  it('containers with one sandbox id share one VM and its network; a member\'s delete leaves the VM, the sandbox\'s end stops it', async () => {
    // The sandbox serves a page on the guest's loopback.
    const serve = `mkdir -p /www && echo served-by-the-sandbox > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && ${idle}`;
    const sandbox = await containerd.ctr(['run', '-d', '--runtime', runtime, ...asSandbox, image, sandboxId, 'sh', '-c', serve]);
    expect(sandbox.code, sandbox.stderr).toBe(0);
    const pod = containerd.paths(sandboxId);
    await containerd.until(() => existsSync(join(pod.rootfs, 'up')), 'the sandbox to start in the guest');
    const [qemuPid] = containerd.processes('qemu');

    // A member fetches it from 127.0.0.1: the same network namespace, the pod's. Its bound file reaches it
    // (copied into the VM's files share), and its bound host directories (through the pod's share, bound
    // after boot): the read-only one refuses a write, the read-write one's reaches the host. Its memory limit
    // is its workload's cgroup's, and on /go it outgrows that limit (busybox tail keeps a line whole: 100 MB
    // without a newline).
    const note = join(containerd.dir, 'pod-note');
    writeFileSync(note, 'bound-into-a-member\n');
    const roDir = hostDir('member-ro', 'from-the-host\n');
    const rwDir = hostDir('member-rw', 'rw-before\n');
    const events = startCommand(['ctr', '-a', containerd.socket, 'events'], { timeoutMs: 2 * bootMs });
    const fetch = [
      'wget -qO /got http://127.0.0.1:8080/', 'cat /etc/pod-note > /note',
      'cat /m/f > /from-ro', 'if echo x > /m/new 2>/dev/null; then echo ro-written > /ro-write; else echo ro-refused > /ro-write; fi',
      'cat /w/f > /from-rw', 'echo written-by-the-member > /w/g', 'trap "exit 0" TERM', 'touch /up',
      'while [ ! -f /go ]; do sleep 1; done', 'head -c 100m /dev/zero | tail >/dev/null', 'touch /after', 'while :; do sleep 1; done',
    ].join('; ');
    const member = await containerd.ctr(['run', '-d', '--runtime', runtime, ...inPod, '--memory-limit', String(32 * 1024 * 1024),
      '--mount', `type=bind,src=${note},dst=/etc/pod-note,options=rbind:ro`, '--mount', `type=bind,src=${roDir},dst=/m,options=rbind:ro`,
      '--mount', `type=bind,src=${rwDir},dst=/w,options=rbind:rw`, image, 'web', 'sh', '-c', fetch]);
    expect(member.code, member.stderr).toBe(0);
    const web = containerd.paths('web');
    await containerd.until(() => existsSync(join(web.rootfs, 'up')), 'the member to start in the guest');
    expect(readFileSync(join(web.rootfs, 'got'), 'utf8')).toBe('served-by-the-sandbox\n');
    expect(readFileSync(join(web.rootfs, 'note'), 'utf8')).toBe('bound-into-a-member\n');
    expect(readFileSync(join(web.rootfs, 'from-ro'), 'utf8')).toBe('from-the-host\n');
    expect(readFileSync(join(web.rootfs, 'ro-write'), 'utf8')).toBe('ro-refused\n');
    expect(existsSync(join(roDir, 'new'))).toBe(false);
    expect(readFileSync(join(web.rootfs, 'from-rw'), 'utf8')).toBe('rw-before\n');
    expect(readFileSync(join(rwDir, 'g'), 'utf8')).toBe('written-by-the-member\n');
    // (both bound into the pod's share on the host, under the member's id)
    expect(mountsInShimState().filter((p) => p.startsWith(`${pod.stateDir}/containers/.binds/web/`))).toHaveLength(2);
    // Each task's metrics are its own workload's cgroup: the member's limit, none on the sandbox's.
    const limitOf = async (id: string): Promise<string | undefined> => {
      const metrics = await containerd.ctr(['task', 'metrics', id]);
      expect(metrics.code, `${metrics.stderr}\n${containerd.log().slice(-3000)}`).toBe(0);
      expect(Number(/^pids\.current\s+(\d+)/m.exec(metrics.stdout)?.[1]), metrics.stdout).toBeGreaterThan(0);
      return /^memory\.usage_limit\s+(\d+)/m.exec(metrics.stdout)?.[1];
    };
    expect(await limitOf('web')).toBe(String(32 * 1024 * 1024));
    expect(await limitOf(sandboxId)).toBe(String(2n ** 64n - 1n));
    writeFileSync(join(web.rootfs, 'go'), '');
    await events.waitForStdout(/\/tasks\/oom/, 120_000);
    await containerd.until(() => existsSync(join(web.rootfs, 'after')), 'the member to go on after the OOM kill');
    events.child.kill();
    expect(events.stdoutSoFar()).toMatch(/\/tasks\/oom .*"container_id":"web"/);
    expect(events.stdoutSoFar()).not.toMatch(/\/tasks\/oom .*"container_id":"pod1"/);
    // One VM and one shim for both: the member's task is the sandbox VM's, it has no shim state of its own.
    expect(containerd.processes('qemu')).toEqual([qemuPid]);
    expect(containerd.processes('shim')).toHaveLength(1);
    expect(existsSync(web.stateDir)).toBe(false);
    const tasks = await taskLs();
    for (const id of [sandboxId, 'web']) expect(tasks).toMatch(new RegExp(`^${id}\\s+${qemuPid}\\s+RUNNING`, 'm'));

    // An exec runs over its own container's rootfs (the sandbox's has no /got); one exec id in both containers.
    const inWeb = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', 'web', 'cat', '/got'], { timeoutMs: 120_000 });
    expect(inWeb.stdout, `${inWeb.stderr}\n${containerd.log().slice(-6000)}`).toBe('served-by-the-sandbox\n');
    const inSandbox = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', sandboxId, 'sh', '-c', 'test -e /got; echo "got:$?"'], { timeoutMs: 120_000 });
    expect(inSandbox.stdout, `${inSandbox.stderr}\n${containerd.log().slice(-6000)}`).toBe('got:1\n');

    // The member's end and delete remove its workload only: the VM and the sandbox run on.
    expect((await containerd.ctr(['task', 'kill', 'web'])).code).toBe(0);
    await containerd.until(() => containerd.taskStopped('web'), 'web to stop');
    expect((await containerd.ctr(['task', 'delete', 'web'])).code).toBe(0);
    expect((await containerd.ctr(['containers', 'rm', 'web'])).code).toBe(0);
    expect(existsSync(join(web.rootfs, 'up'))).toBe(false); // unmounted
    expect(existsSync(join(pod.stateDir, 'containers', 'web'))).toBe(false); // out of the VM's share
    expect(existsSync(join(pod.stateDir, 'containers', '.binds', 'web'))).toBe(false); // its bound directories too, unmounted, not deleted:
    expect(readFileSync(join(roDir, 'f'), 'utf8')).toBe('from-the-host\n');
    expect(readFileSync(join(rwDir, 'g'), 'utf8')).toBe('written-by-the-member\n');
    expect(mountsInShimState().filter((p) => !p.startsWith(`${pod.stateDir}/containers/${sandboxId}`))).toEqual([]);
    expect(containerd.processes('qemu')).toEqual([qemuPid]);
    expect(await taskLs()).toMatch(new RegExp(`^${sandboxId}\\s+${qemuPid}\\s+RUNNING`, 'm'));

    // A member in the foreground: its output reaches ctr, its status is ctr's, --rm removes it; the VM stays.
    const once = await containerd.ctr(['run', '--rm', '--runtime', runtime, ...inPod, image, 'once', 'sh', '-c', 'wget -qO- http://127.0.0.1:8080/; exit 6'], { timeoutMs: 120_000 });
    expect(once.stdout, once.stderr).toBe('served-by-the-sandbox\n');
    expect(once.code).toBe(6);
    expect((await containerd.ctr(['containers', 'ls', '-q'])).stdout).not.toContain('once');
    expect(containerd.processes('qemu')).toEqual([qemuPid]);
    // Docker access is the VM's, started with the sandbox: a member cannot ask for it when the sandbox did not.
    const noDocker = await containerd.ctr(['run', '-d', '--runtime', runtime, ...inPod, ...dockerAccess, image, 'nodock', 'true']);
    expect(noDocker.code).not.toBe(0);
    expect(noDocker.stderr).toMatch(/needs its pod's sandbox pod1 annotated io.concierge.docker-access=true/);
    await containerd.ctr(['containers', 'rm', 'nodock']);
    // Another member (binding a host directory), then the sandbox's end: the VM stops, and the member ends with it.
    const lateDir = hostDir('late-rw', 'late\n');
    const late = await containerd.ctr(['run', '-d', '--runtime', runtime, ...inPod, '--mount', `type=bind,src=${lateDir},dst=/d,options=rbind:rw`, image, 'late', 'sh', '-c', idle]);
    expect(late.code, late.stderr).toBe(0);
    await containerd.until(() => existsSync(join(containerd.paths('late').rootfs, 'up')), 'the late member to start in the guest');
    expect((await containerd.ctr(['task', 'kill', sandboxId])).code).toBe(0);
    await containerd.until(() => containerd.processes('qemu').length === 0, 'the VM to stop');
    await containerd.until(() => containerd.taskStopped('late'), 'the late member to stop with the VM');
    await containerd.until(() => containerd.taskStopped(sandboxId), 'the sandbox to stop');
    // CRI removes a pod's containers before its sandbox: the sandbox's delete says so while one is left.
    const early = await containerd.ctr(['task', 'delete', sandboxId]);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toMatch(/late must be deleted before its sandbox/);
    expect((await containerd.ctr(['task', 'delete', 'late'])).code).toBe(0);
    expect((await containerd.ctr(['task', 'delete', sandboxId])).code).toBe(0);
    for (const id of ['late', sandboxId]) expect((await containerd.ctr(['containers', 'rm', id])).code).toBe(0);
    // The shim ended with the pod's last task, and took its state with it: unmounted, the host directories kept.
    await containerd.until(() => containerd.processes('shim').length === 0, 'the pod\'s shim to end');
    expect(existsSync(pod.stateDir)).toBe(false);
    expect(mountsInShimState()).toEqual([]);
    expect(readFileSync(join(lateDir, 'f'), 'utf8')).toBe('late\n');
    expect(readFileSync(join(roDir, 'f'), 'utf8')).toBe('from-the-host\n');
    expect(readFileSync(join(rwDir, 'f'), 'utf8')).toBe('rw-before\n');
  }, 2 * bootMs);

  it('a pod with docker access: a member talks to the guest\'s dockerd; its shim killed, containerd\'s delete path ends the VM and unmounts every rootfs and bound directory', async () => {
    const podId = 'pod2';
    const annotations = (type: string): string[] => ['--annotation', `io.kubernetes.cri.sandbox-id=${podId}`, '--annotation', `io.kubernetes.cri.container-type=${type}`];
    expect((await containerd.ctr(['run', '-d', '--runtime', runtime, ...annotations('sandbox'), ...dockerAccess, image, podId, 'sh', '-c', idle])).code).toBe(0);
    const pod = containerd.paths(podId);
    await containerd.until(() => existsSync(join(pod.rootfs, 'up')), 'the sandbox to start in the guest');
    // The guest's dockerd starts once the sandbox runs: the member asks until it answers.
    const askDocker = 'for i in $(seq 120); do docker version --format "{{.Server.Version}}" > /docker 2>/dev/null && break; sleep 1; done';
    const sideDir = hostDir('side-rw', 'side\n');
    expect((await containerd.ctr(['run', '-d', '--runtime', runtime, ...annotations('container'), ...dockerAccess,
      '--mount', `type=bind,src=${sideDir},dst=/d,options=rbind:rw`, dockerImage, 'side', 'sh', '-c', `cat /d/f > /from-d; ${askDocker}; ${idle}`])).code).toBe(0);
    const side = containerd.paths('side');
    await containerd.until(() => existsSync(join(side.rootfs, 'up')), 'the member to start in the guest');
    expect(readFileSync(join(side.rootfs, 'docker'), 'utf8')).toMatch(/^\d+\.\d+/);
    expect(readFileSync(join(side.rootfs, 'from-d'), 'utf8')).toBe('side\n');
    expect(containerd.processes('qemu')).toHaveLength(1);

    process.kill(Number(readFileSync(join(pod.stateDir, 'shim.pid'), 'utf8')), 'SIGKILL');
    // (a qemu killed by the delete path is gone from the list even before its new parent reaps it)
    await containerd.until(() => containerd.processes('qemu').length === 0, 'the VM to be ended');
    await containerd.until(() => !existsSync(pod.stateDir), 'the shim state to be removed');
    await containerd.until(() => !existsSync(join(side.rootfs, 'up')) && !existsSync(join(pod.rootfs, 'up')), 'both rootfs to be unmounted');
    expect(mountsInShimState()).toEqual([]); // the member's bound directory too, and not deleted through
    expect(readFileSync(join(sideDir, 'f'), 'utf8')).toBe('side\n');
    for (const id of ['side', podId]) {
      await containerd.ctr(['task', 'delete', id]);
      expect((await containerd.ctr(['containers', 'rm', id])).code).toBe(0);
    }
  }, bootMs);
});
