// End to end under qemu (TCG here), the guest's contract with a VMM: the spec on a config drive only
// (no fw_cfg), the control API over the virtio-serial host channel, events, metrics, logs, OOM reports
// and a shutdown on request. Boots take minutes under software emulation, so each proves many points:
//   A. the test is the host, with the library pieces of `concierge vm` (qemu launcher, guest link) and
//      raw connections: status and metrics while a job runs, logs followed across a closed and reopened
//      channel, garbage answered with an error, a memory limit's OOM kill reported, the spec unreadable
//      from a job, a shutdown requested with a reason, events in order;
//   B. `concierge vm` itself (through boot.sh): the sample job from the config drive, the control API on
//      a host unix socket while it runs, the spec's secret unreadable from an ordinary sibling of the job
//      (a privileged sibling, the probe's control, finds it on the drive), SIGTERM to it stops the guest in
//      order, its exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceEvent } from '../../concierge/events/event-log.js';
import { encodeConfigDrive } from '../../concierge/instance/config-drive.js';
import { request } from '../../concierge/hostchannel/http2-client.js';
import { GuestLink } from '../../concierge/vmm/guest-link.js';
import { qemuArgs } from '../../concierge/vmm/qemu.js';
import { buildGuest, initKind, repoRoot, sampleSpec, scratchDir, startGuest } from './vm.js';

const minutes = (n: number): number => n * 60_000;
const secret = 'tok-7f3a9c-never-visible';
const registrySecret = 'pw-5e1b0c-never-visible';
const image = '/usr/share/concierge/images/sample-job.tar';
/** Lines a job prints about what it can see of the spec's places. */
const probeScript = [
  `echo "probe: token in cmdline: $(grep -c ${secret} /proc/cmdline)"`,
  'echo "probe: sys/firmware entries: $(ls -A /sys/firmware 2>/dev/null | wc -l)"',
  'echo "probe: vd devices in /dev: $(ls /dev | grep -c "^vd")"',
  'dev=$(cat /sys/block/vda/dev)',
  'if mknod /tmp/vda b "${dev%:*}" "${dev#*:}" 2>/dev/null && head -c 64 /tmp/vda >/dev/null 2>&1; then echo "probe: drive readable"; else echo "probe: drive unreadable"; fi',
  'echo "probe: run dir: $(ls -d /run/concierge 2>/dev/null || echo absent)"',
  'i=0; while [ $i -lt 75 ]; do i=$((i+1)); echo "probe: tick $i"; sleep 1; done',
  'echo "probe: eating memory"',
  // String doubling: past the 48m limit within a few steps; the OOM killer ends the workload's process.
  'exec awk \'BEGIN { s = "x"; while (1) s = s s }\'',
].join('\n');
const longScript = 'trap \'echo "long: got TERM"; exit 143\' TERM; echo "long: waiting"; while true; do sleep 1; done';
/**
 * What a sibling of the job (`docker run` through the job's docker socket) can see of the spec's places,
 * one line each, prefixed with its $0. The marker comes in its environment (REGISTRY_TOKEN); the drive is
 * the one the kernel command line names, opened at /dev/<name> when the sibling has it, else through a
 * device node it makes itself (docker's default capabilities include CAP_MKNOD). The image the sample job
 * builds has no /tmp.
 */
const siblingProbe = [
  'who=$0; m=$REGISTRY_TOKEN; mkdir -p /tmp',
  'echo "$who: marker length ${#m}"',
  'echo "$who: cmdline: $(cat /proc/cmdline)"',
  'echo "$who: marker in cmdline: $(grep -c "$m" /proc/cmdline)"',
  'echo "$who: sys/firmware entries: $(ls -A /sys/firmware 2>/dev/null | wc -l), files with the marker: $(grep -rl "$m" /sys/firmware 2>/dev/null | wc -l)"',
  'echo "$who: vd devices in /dev: $(ls /dev | grep -c "^vd")"',
  'drive=$(sed -n "s/.*concierge\\.specdrive=\\([a-z0-9]*\\).*/\\1/p" /proc/cmdline); node=/dev/$drive',
  'if [ ! -b "$node" ]; then dev=$(cat "/sys/block/$drive/dev"); node=/tmp/$drive; mknod "$node" b "${dev%:*}" "${dev#*:}" || echo "$who: mknod $drive ($dev) refused"; fi',
  'if head -c 65536 "$node" >/tmp/drive 2>/tmp/err; then echo "$who: drive $drive read: $(wc -c </tmp/drive) bytes, lines with the marker: $(grep -c "$m" /tmp/drive)"; else echo "$who: drive $drive unreadable: $(cat /tmp/err)"; fi',
  'echo "$who: run dir: $(ls -A /run/concierge 2>&1 | tr "\\n" " ")"',
].join('\n');
/**
 * The sample job, then its siblings' probes: an ordinary one (the sibling under test) and a privileged
 * one (this workload's dockerPolicy allows it) that sees every device and an unmasked /sys/firmware, so
 * the probe is shown to find the marker where it is; and a bind of concierge's run directory asked for.
 */
const sampleJobThenProbes = [
  '/job/run.sh || exit $?',
  `probe='${siblingProbe.replace(/'/g, "'\\''")}'`,
  'docker run --rm -e REGISTRY_TOKEN concierge-sample-built:latest sh -c "$probe" sibling',
  'docker run --rm --privileged -e REGISTRY_TOKEN concierge-sample-built:latest sh -c "$probe" privileged',
  'echo "job: bind of /run/concierge: $(docker run --rm -v /run/concierge:/x concierge-sample-built:latest ls /x 2>&1)"',
].join('\n');

/** Waits (polling) for a condition; names what it waited for when it gives up. */
async function until(check: () => boolean, what: () => string, timeoutMs = minutes(4)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A host's view through a GuestLink: events and output collected. */
function follow(channelSocket: string): { link: GuestLink; events: InstanceEvent[]; out: () => string; done: Promise<void> } {
  const events: InstanceEvent[] = [];
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const link = new GuestLink(() => connect(channelSocket), { stdout, stderr: stdout, event: (e) => events.push(e) });
  return { link, events, out: () => out, done: link.run() };
}

/**
 * Whether the frames in a byte stream hold a GOAWAY with an error code (not NO_ERROR). The previous
 * session's last frames may come first (seen: its GOAWAY NO_ERROR, then the new session's SETTINGS,
 * then GOAWAY INTERNAL_ERROR for the garbage), so frames are walked from every frame boundary found.
 */
function hasGoawayWithError(bytes: Buffer): boolean {
  for (let i = 0; i + 9 <= bytes.length; i += 9 + bytes.readUIntBE(i, 3)) {
    if (bytes[i + 3] === 7 && bytes.readUIntBE(i, 3) >= 8 && i + 17 <= bytes.length && bytes.readUInt32BE(i + 13) !== 0) return true;
  }
  return false;
}

function unixGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(initKind !== 'concierge')('guest contract over the host channel (concierge init, qemu)', () => {
  const dir = scratchDir();
  let qemu: ChildProcess | undefined;

  beforeAll(async () => {
    await buildGuest();
  }, minutes(10));
  afterAll(() => { qemu?.kill('SIGKILL'); });

  it('A: status, metrics, logs across a reopen, garbage, an OOM kill, the spec kept from jobs, a shutdown with a reason, events in order', async () => {
    const spec = {
      hostname: 'channel-test',
      modules: ['overlay'],
      docker: { enabled: false },
      workloads: [
        { id: 'probe', image, args: ['sh', '-c', probeScript], resources: { memory: '48m', cpus: 1 } },
        { id: 'long', image, args: ['sh', '-c', longScript], env: { REGISTRY_TOKEN: secret } },
      ],
    };
    const drive = join(dir, 'spec.img');
    writeFileSync(drive, encodeConfigDrive(JSON.stringify(spec)));
    expect(readFileSync(drive).includes(secret)).toBe(true); // what the job must not find is on the drive it boots with
    const channelSocket = join(dir, 'channel.sock');
    const out = join(repoRoot, 'guest-rootfs/out');
    qemu = spawn('qemu-system-x86_64', qemuArgs({
      kernel: join(out, 'vmlinux'), initrd: join(out, 'initramfs'), accel: 'tcg', memoryMb: 2048, cpus: 2,
      ...(existsSync(join(out, 'root.erofs')) ? { rootDisk: join(out, 'root.erofs') } : {}),
      specDrive: drive, channelSocket,
    }), { stdio: ['ignore', 'pipe', 'pipe'] });
    let consoleText = '';
    qemu.stdout!.on('data', (c: Buffer) => (consoleText += c.toString()));
    qemu.stderr!.on('data', (c: Buffer) => (consoleText += c.toString()));
    const qemuExited = new Promise<number | null>((resolve) => qemu!.once('exit', (code) => resolve(code)));
    await until(() => consoleText.includes('concierge'), () => `concierge on the console:\n${consoleText}`, minutes(2));

    // 1. Logs followed while the job runs; status and metrics read meanwhile, on the same session.
    const first = follow(channelSocket);
    await until(() => first.out().includes('probe: tick 3\n'), () => `the probe's ticks:\n${first.out()}\n${consoleText.slice(-3000)}`);
    const session = first.link.session!;
    const status = JSON.parse((await request(session, 'GET', '/status')).body.toString()) as {
      state: string; specOrigin: string; timeline: { name: string }[]; daemons: { name: string; state: string }[];
      workloads: { id: string; state: string }[];
    };
    expect(status.state).toBe('running');
    expect(status.specOrigin).toBe('config drive /dev/vda');
    expect(status.timeline.map((m) => m.name)).toEqual(expect.arrayContaining(['boot steps done', 'containerd ready', 'first workload started']));
    expect(status.daemons).toEqual([expect.objectContaining({ name: 'containerd', state: 'ready' })]);
    expect(status.workloads).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'probe', state: 'running' })]));
    const metrics = (await request(session, 'GET', '/metrics')).body.toString();
    expect(metrics).toMatch(/^concierge_boot_step_seconds\{step="mounts"\} [0-9.e-]+$/m);
    expect(metrics).toMatch(/^concierge_workload_memory_bytes\{workload="probe"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^concierge_workload_cpu_seconds\{workload="probe"\} /m);
    const rss = Number(/^concierge_resident_memory_bytes (\d+)$/m.exec(metrics)?.[1]);
    expect(rss).toBeGreaterThan(10e6);
    process.stdout.write(`concierge's RSS as PID 1 with the workloads running: ${(rss / 1e6).toFixed(1)} MB\n`);
    const missing = await request(session, 'GET', '/workloads/nope');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString())).toEqual({ message: 'no such workload: nope' });

    // 2. The spec is nowhere a job can read it.
    const seenByProbe = first.out();
    expect(seenByProbe).toContain('probe: token in cmdline: 0');
    expect(seenByProbe).toContain('probe: sys/firmware entries: 0');
    expect(seenByProbe).toContain('probe: vd devices in /dev: 0');
    expect(seenByProbe).toContain('probe: drive unreadable');
    expect(seenByProbe).toContain('probe: run dir: absent');
    expect(seenByProbe).not.toContain(secret);

    // 3. The host closes the channel mid-job and opens it again: served again, output caught up.
    const ticks = (): number[] => [...first.out().matchAll(/probe: tick (\d+)/g)].map((m) => Number(m[1]));
    const before = ticks().length;
    first.link.reopen();
    await until(() => first.link.sessions >= 2 && ticks().length >= before + 3, () => `ticks after the reopen:\n${first.out()}`);
    expect(ticks()).toEqual(ticks().map((_, i) => i + 1));
    first.link.stop();
    await first.done;

    // 4. Garbage on the channel gets an HTTP/2 error (a GOAWAY with an error code) and breaks nothing else.
    const raw = connect(channelSocket);
    const reply: Buffer[] = [];
    raw.on('data', (c: Buffer) => reply.push(c));
    raw.write('GET /status HTTP/1.1\r\nHost: guest\r\n\r\n\x00\xff garbage \xfe');
    await until(() => hasGoawayWithError(Buffer.concat(reply)), () => `a GOAWAY (got ${Buffer.concat(reply).toString('hex').slice(0, 400)})`, 60_000);
    raw.destroy();
    const second = follow(channelSocket);
    await until(() => second.events.some((e) => e.type === 'workload.exited' && e.workload === 'probe'), () => `the probe's end:\n${second.out().slice(-2000)}`);
    expect(second.link.sessions).toBeGreaterThanOrEqual(1);
    expect(second.out()).toContain('probe: eating memory');

    // 5. Over its memory limit: OOM-killed, reported with its exit code.
    const probeExit = second.events.find((e) => e.type === 'workload.exited' && e.workload === 'probe');
    expect(probeExit).toMatchObject({ exitCode: 137, signal: 'SIGKILL', oomKilled: true });
    const oomMetrics = (await request(second.link.session!, 'GET', '/metrics')).body.toString();
    expect(oomMetrics).toMatch(/^concierge_workload_oom_kills\{workload="probe"\} 1$/m);
    expect(oomMetrics).toMatch(/^concierge_workload_exits_total\{workload="probe",code="137"\} 1$/m);

    // 6. A shutdown of the long job on request, with its reason; the result over the channel.
    const asked = await request(second.link.session!, 'POST', '/shutdown', { reason: 'test: stop the long job' });
    expect(asked.status).toBe(202);
    expect(await qemuExited).not.toBeNull();
    await second.done.catch(() => undefined);
    second.link.stop();
    expect(second.out()).toContain('long: got TERM');
    expect(second.link.result).toEqual({ exitCode: 143, reason: 'host request: test: stop the long job' });

    // 7. Events, replayed to the second host from the start, in order and each once.
    const events = second.events;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const at = (type: string, pred: (e: InstanceEvent) => boolean = () => true): number => events.findIndex((e) => e.type === type && pred(e));
    const order = [
      at('timeline', (e) => e.type === 'timeline' && e.name === 'boot steps done'),
      at('daemon.ready', (e) => e.type === 'daemon.ready' && e.daemon === 'containerd'),
      at('workload.started', (e) => e.type === 'workload.started' && e.workload === 'probe'),
      at('workload.exited', (e) => e.type === 'workload.exited' && e.workload === 'probe'),
      at('shutdown.started', (e) => e.type === 'shutdown.started' && e.reason === 'host request: test: stop the long job'),
      at('workload.exited', (e) => e.type === 'workload.exited' && e.workload === 'long'),
      at('poweroff', (e) => e.type === 'poweroff' && e.exitCode === 143),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    for (const e of events) expect(Date.parse(e.time)).not.toBeNaN();
    const probeLines = seenByProbe.split('\n').filter((l) => l.startsWith('probe: ') && !l.startsWith('probe: tick'));
    process.stdout.write(`${[...probeLines, `probe exit: ${JSON.stringify(probeExit)}`, `result: ${JSON.stringify(second.link.result)}`,
      `host sessions: first link ${first.link.sessions}, second ${second.link.sessions}; events ${events.length}`].join('\n')}\n`);
  }, minutes(9));

  it('B: concierge vm runs the sample job from the config drive alone, serves the control API on a host socket, keeps the spec\'s secret from a sibling, stops in order on SIGTERM', async () => {
    const spec = sampleSpec('sample-job.json');
    // A registry credential in the spec, and the same marker in the job's environment so that its siblings
    // can look for it (`-e REGISTRY_TOKEN`); the job may run privileged siblings (the probe's control).
    spec.registries = { 'registry.test:5000': { username: 'ci', password: registrySecret } };
    const job = spec.workloads[0]!;
    spec.workloads[0] = {
      ...job, args: ['sh', '-c', sampleJobThenProbes], env: [...(job.env as string[]), `REGISTRY_TOKEN=${registrySecret}`],
      dockerPolicy: { privileged: true },
    };
    spec.workloads.push({ id: 'long', image, args: ['sh', '-c', longScript] });
    const control = join(dir, 'control.sock');
    const boot = startGuest({ spec, args: ['--control', control, '--spec-via', 'drive'] });
    await boot.waitFor(/^job: docker build/);
    const status = await unixGet(control, '/status');
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ state: 'running', specOrigin: 'config drive /dev/vda' });
    const metrics = await unixGet(control, '/metrics');
    expect(metrics.body).toMatch(/^concierge_workload_memory_bytes\{workload="job"\} [1-9]/m);
    process.stdout.write(`${metrics.body.split('\n').filter((l) => /^concierge_(boot_step|workload_(memory|oom)|proxy_req)/.test(l)).join('\n')}\n`);
    const events = await unixGet(control, '/events');
    expect(events.body.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as InstanceEvent).type)).toContain('workload.started');
    for (const answer of [status, metrics, events]) expect(answer.body).not.toContain(registrySecret);
    await boot.waitFor(/^concierge: .* workload job exited with code 0$/);
    // The job's docker calls, counted by its proxy: answers, the translated bind of run.sh's sibling, the
    // refused bind of the run directory.
    const proxyFigures = (await unixGet(control, '/metrics')).body.split('\n').filter((l) => /^concierge_proxy_/.test(l) && !/ 0$/.test(l));
    process.stdout.write(`${proxyFigures.join('\n')}\n`);
    const figure = (pattern: RegExp): number => proxyFigures.filter((l) => pattern.test(l)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    expect(figure(/^concierge_proxy_requests_total\{route="\w+",status="2xx"\}/)).toBeGreaterThan(0);
    expect(figure(/^concierge_proxy_translated_binds_total /)).toBeGreaterThanOrEqual(1);
    expect(figure(/^concierge_proxy_refusals_total\{/)).toBeGreaterThanOrEqual(1);
    boot.child.kill('SIGTERM');
    const result = await boot.done;
    expect(result.output).toContain('job: sibling read back: made by the job in its own filesystem');
    expect(result.output).toContain('job: done');

    // The spec's secret, from an ordinary sibling: the kernel command line (read: it names the drive),
    // /sys/firmware (masked), the drive (no node in its /dev; one it makes cannot be opened) and
    // concierge's run directory (absent; a bind of it is refused) give nothing.
    const probed = (who: string): string[] => result.lines.map((l) => l.text).filter((t) => t.startsWith(`${who}: `));
    process.stdout.write(`${[...probed('sibling'), ...probed('privileged'), ...probed('job').filter((t) => t.includes('/run/concierge'))].join('\n')}\n`);
    const sibling = probed('sibling');
    expect(sibling).toContain(`sibling: marker length ${registrySecret.length}`);
    expect(sibling).toContainEqual(expect.stringMatching(/^sibling: cmdline: .*\bconcierge\.specdrive=vda\b/));
    expect(sibling).toContain('sibling: marker in cmdline: 0');
    expect(sibling).toContain('sibling: sys/firmware entries: 0, files with the marker: 0');
    expect(sibling).toContain('sibling: vd devices in /dev: 0');
    expect(sibling).toContainEqual(expect.stringMatching(/^sibling: drive vda unreadable: /));
    expect(sibling).toContainEqual(expect.stringMatching(/^sibling: run dir: .*No such file or directory/));
    expect(result.output).toMatch(/^job: bind of \/run\/concierge: docker: Error response from daemon: bind source \/run\/concierge: /m);
    // The control: a privileged sibling, with every device and an unmasked /sys/firmware, finds the marker
    // on the drive with the same probe (the spec delivered holds it), and still not on the command line.
    const privileged = probed('privileged');
    expect(privileged).toContain('privileged: marker in cmdline: 0');
    expect(privileged).toContainEqual(expect.stringMatching(/^privileged: sys\/firmware entries: [1-9]\d*, files with the marker: 0$/));
    expect(privileged).toContainEqual(expect.stringMatching(/^privileged: drive vda read: [1-9]\d* bytes, lines with the marker: [1-9]\d*$/));
    expect(result.output).not.toContain(registrySecret);

    expect(result.output).toMatch(/concierge vm: SIGTERM: asked the guest to shut down/);
    expect(result.output).toMatch(/shutdown: host request: host: SIGTERM/);
    expect(result.output).toContain('long: got TERM');
    expect(result.output).toMatch(/concierge vm: guest exit code 143 \(over the host channel\)/);
    expect(result.code).toBe(143);
    expect(await unixGet(control, '/status').catch((err: Error) => err.message)).toMatch(/ENOENT|ECONNREFUSED/);
  }, minutes(9));
});
