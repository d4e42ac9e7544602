// The task's microVM: qemu (KVM when it really runs the kernel, TCG otherwise) booting the guest with the
// bundle's instance spec on a config drive and the shim's share (each container's rootfs) over virtio-9p, the guest's workload output
// bridged to the task's stdout and stderr, signals sent to the workload over the host channel, and the
// exit taken from the guest's power-off event (from qemu's status or console when the channel had none).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encodeConfigDrive } from '../instance/config-drive.js';
import { request } from '../hostchannel/http2-client.js';
import { log } from '../log/logger.js';
import { fifoReader, fifoWriter } from '../os/fifo.js';
import { GuestLink } from '../vmm/guest-link.js';
import { guestCodeFromConsole, guestCodeFromStatus, kvmRunsKernel, qemuArgs, type QemuOptions } from '../vmm/qemu.js';
import { rootfsTag, workloadId } from './oci-bundle.js';

export interface GuestImage {
  kernel: string;
  initrd: string;
  /** The root filesystem image when the initramfs is only a first stage (build.sh --root=disk). */
  rootDisk?: string;
}

export interface GuestVmOptions {
  image: GuestImage;
  /** Where the VM's files go (the config drive, the channel socket, qemu's pid). */
  stateDir: string;
  /** The host directory shared into the guest (see sandbox.ts). */
  share: string;
  /** Host directories shared besides it (config.json's binds, bind-shares.ts). */
  shares: { tag: string; path: string; readonly: boolean }[];
  spec: Record<string, unknown>;
  /** The task's FIFOs ("" for none); stdin is streamed to the workload once the guest has started it. */
  stdin: string;
  stdout: string;
  stderr: string;
  memoryMb: number;
  cpus: number;
  /** The OOM killer killed a process of a workload in the guest (once per kill the guest reports). */
  onOom?(workload: string): void;
}

export interface GuestExit {
  status: number;
  at: Date;
}

/**
 * A task's output FIFO (ctr holds the reading end, or held it: a detached ctr is gone) opened for writing
 * without waiting for a reader, or nowhere when the task has none.
 */
function sink(path: string): Writable {
  if (path === '') return new Writable({ write: (_c, _e, done) => done() });
  const stream = fifoWriter(path);
  stream.on('error', (err) => log.warn({ path, err: err.message }, 'task output pipe failed'));
  return stream;
}

interface StdinBridge {
  /** Ends the input (CloseIO), after a grace period for the bytes still in the FIFO. */
  close(): void;
  /** Stops reading the FIFO at once (the guest is gone). */
  destroy(): void;
}

/**
 * The task's stdin FIFO (ctr holds the writing end) streamed into the workload's stdin over the host
 * channel: the FIFO's end ends the request body, which closes the workload's stdin. CloseIO comes right
 * after the client closed its end (ctr calls it at its stdin's EOF), often before the last bytes were
 * read here: it ends the input only if the FIFO has not ended by itself within a grace period.
 */
function bridgeStdin(path: string, session: ClientHttp2Session, workload: string): StdinBridge {
  // Opened without waiting for a writer: a detached ctr may be gone before the guest runs the workload, and
  // each blocking open would hold a libuv pool thread (a pod's -d containers and execs stalled the shim).
  const fifo = fifoReader(path);
  const upload = session.request({ ':method': 'POST', ':path': `/workloads/${encodeURIComponent(workload)}/stdin` });
  upload.on('response', (h) => {
    if (h[':status'] !== 204) log.warn({ status: h[':status'] }, 'the guest refused the task\'s stdin');
  });
  upload.resume();
  // The guest's answer ends the bridge (the workload ended first): a FIFO whose writer had gone before
  // this open never reports its end.
  upload.once('close', () => fifo.destroy());
  let ended = false;
  pipeline(fifo, upload).then(() => { ended = true; }, (err: Error) => log.warn({ err: err.message }, 'task stdin bridge ended'));
  return {
    close: () => {
      setTimeout(() => {
        if (ended) return;
        fifo.unpipe(upload);
        fifo.destroy();
        upload.end();
      }, 2000).unref();
    },
    destroy: () => fifo.destroy(),
  };
}

/** A workload added to the running guest (an exec, or a pod's container): its output and stdin bridged. */
interface AddedWorkload {
  io: { stdin: string };
  stdout: Writable;
  stderr: Writable;
  stdin: StdinBridge | undefined;
  /** Called when its output was read to the end and its pipes closed. */
  outputEnded(): void;
}

export interface ExecSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
}

/** What a pod member's workload has besides an exec's: its docker socket, binds and cgroup limits. */
export interface MemberExtras {
  docker?: { policy: unknown };
  mounts?: { source: string; target: string; readonly: boolean }[];
  resources?: Record<string, number>;
}

export class GuestVm {
  pid = 0;
  exit: GuestExit | undefined;
  readonly exited: Promise<GuestExit>;
  private resolveExit!: (e: GuestExit) => void;
  private qemu: ChildProcess | undefined;
  private link: GuestLink | undefined;
  private stdin: StdinBridge | undefined;
  /** The terminal's last size asked for. */
  private size: { width: number; height: number } | undefined;
  /** Workloads added after boot (execs, a pod's containers) by their workload id in the guest. */
  private readonly execs = new Map<string, AddedWorkload>();

  /** Ends the workload's input (CloseIO). */
  closeStdin(): void {
    this.stdin?.close();
  }

  constructor(private readonly o: GuestVmOptions) {
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
  }

  get pidFile(): string {
    return join(this.o.stateDir, 'qemu.pid');
  }

  async boot(): Promise<void> {
    mkdirSync(this.o.stateDir, { recursive: true });
    const options: QemuOptions = {
      kernel: this.o.image.kernel, initrd: this.o.image.initrd,
      ...(this.o.image.rootDisk === undefined ? {} : { rootDisk: this.o.image.rootDisk }),
      accel: (await kvmRunsKernel(this.o.image.kernel)) ? 'kvm' : 'tcg',
      memoryMb: this.o.memoryMb, cpus: this.o.cpus,
      channelSocket: join(this.o.stateDir, 'channel.sock'),
      specDrive: join(this.o.stateDir, 'spec.img'),
      shares: [{ tag: rootfsTag, path: this.o.share }, ...this.o.shares],
    };
    writeFileSync(options.specDrive!, encodeConfigDrive(JSON.stringify(this.o.spec)), { mode: 0o600 });
    // Its own session: the VM outlives a killed shim, and the shim's `delete` ends it by the pid file.
    const qemu = spawn('qemu-system-x86_64', qemuArgs(options), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.qemu = qemu;
    this.pid = qemu.pid ?? 0;
    writeFileSync(this.pidFile, String(this.pid));
    let consoleTail = '';
    let qemuErrors = '';
    // The guest's console (kernel and concierge lines) in the state directory, for a look while it runs.
    const consoleFile = createWriteStream(join(this.o.stateDir, 'console.log'));
    consoleFile.on('error', () => undefined);
    qemu.stdout.on('data', (c: Buffer) => {
      consoleTail = (consoleTail + c.toString()).slice(-64 * 1024);
      consoleFile.write(c);
    });
    qemu.stdout.once('end', () => consoleFile.end());
    qemu.stderr.on('data', (c: Buffer) => { qemuErrors = (qemuErrors + c.toString()).slice(-16 * 1024); });
    const oomReported = new Set<string>();
    const stdout = sink(this.o.stdout);
    const stderr = sink(this.o.stderr);
    const link = new GuestLink(() => connect(options.channelSocket), {
      stdout, stderr,
      event: (e) => {
        if (e.type === 'workload.started' && e.workload === workloadId && this.o.stdin !== '' && link.session !== undefined) {
          this.stdin = bridgeStdin(this.o.stdin, link.session, workloadId);
        }
        if (e.type === 'workload.oom') {
          oomReported.add(e.workload);
          this.o.onOom?.(e.workload);
        }
        // A workload whose own process the OOM killer ended may exit before its watch saw the kill.
        if (e.type === 'workload.exited' && e.oomKilled && !oomReported.has(e.workload)) this.o.onOom?.(e.workload);
        // A size asked for before the guest ran the workload is applied now.
        if (e.type === 'workload.started' && e.workload === workloadId && this.size !== undefined) void this.resize(this.size.width, this.size.height);
      },
      outputOf: (workload, stream) => this.execs.get(workload)?.[stream],
      outputEnded: (workload) => {
        const exec = this.execs.get(workload);
        if (exec === undefined) return;
        exec.stdin?.destroy();
        void Promise.all([exec.stdout, exec.stderr].map((w) => new Promise((resolve) => { w.end(resolve); }))).then(() => exec.outputEnded());
      },
    });
    this.link = link;
    const linkDone = link.run();
    log.info({ pid: this.pid, accel: options.accel }, 'guest booting');
    qemu.once('exit', (status, signal) => {
      void (async () => {
        link.stop();
        await linkDone;
        // No reader stays on a stdin FIFO whose writer never came.
        for (const bridge of [this.stdin, ...[...this.execs.values()].map((e) => e.stdin)]) bridge?.destroy();
        const ended = (s: Writable): Promise<void> => new Promise((resolve) => { s.end(resolve); });
        await Promise.all([ended(stdout), ended(stderr)]);
        const code = link.result?.exitCode
          ?? guestCodeFromStatus(status, /qemu-system|^qemu/m.test(qemuErrors))
          ?? guestCodeFromConsole(consoleTail)
          ?? (signal === null ? 255 : 128 + (signal === 'SIGKILL' ? 9 : 15));
        if (link.result === undefined) log.warn({ status, signal, qemuErrors: qemuErrors.slice(-2000), console: consoleTail.slice(-2000) }, 'guest ended without a power-off event');
        this.exit = { status: Math.min(code, 255), at: new Date() };
        log.info({ exitStatus: this.exit.status }, 'guest exited');
        this.resolveExit(this.exit);
      })();
    });
  }

  /** A signal for the workload: over the host channel once the guest answers, else to qemu (SIGKILL ends the VM at once). */
  async signal(signal: number): Promise<void> {
    if (this.exit !== undefined || this.qemu === undefined) return;
    const session = this.link?.session;
    if (signal !== 9 && session !== undefined) {
      const answer = await request(session, 'POST', `/workloads/${workloadId}/signal?signal=${signal}`);
      if (answer.status === 204) return;
      log.warn({ status: answer.status, signal }, 'the guest refused the signal: ending the VM');
    }
    this.qemu.kill('SIGKILL');
  }

  /**
   * Starts a workload in the running guest over a rootfs of the share: an exec over its container's (its
   * own namespaces: it shares the container's files, not its processes), or a pod's container over its
   * own; resolves with its exit status once its output has ended.
   */
  async startWorkload(workload: string, rootfs: string, spec: ExecSpec, io: { stdin: string; stdout: string; stderr: string },
    member: MemberExtras = {}): Promise<{ exited: Promise<number> }> {
    const { docker } = member;
    const session = this.link?.session;
    if (session === undefined || this.exit !== undefined) throw new Error('the guest is not running');
    let outputEnded!: () => void;
    const outputDone = new Promise<void>((resolve) => { outputEnded = resolve; });
    const exec: AddedWorkload = { io: { stdin: io.stdin }, stdout: sink(io.stdout), stderr: sink(io.stderr), stdin: undefined, outputEnded };
    this.execs.set(workload, exec);
    const answer = await request(session, 'POST', '/workloads', {
      id: workload, rootfs, args: spec.args, env: spec.env, cwd: spec.cwd, user: `${spec.uid}:${spec.gid}`,
      network: 'host', stdin: io.stdin !== '',
      ...(member.mounts === undefined ? {} : { mounts: member.mounts }),
      ...(member.resources === undefined ? {} : { resources: member.resources }),
      ...(docker === undefined ? {} : { dockerAccess: true, ...(docker.policy === undefined ? {} : { dockerPolicy: docker.policy }) }),
    });
    if (answer.status !== 201) {
      this.execs.delete(workload);
      throw new Error(`the guest refused workload ${workload} (${answer.status}): ${answer.body.toString().slice(0, 500)}`);
    }
    // The guest's events name only its spec's workloads: this one's output and exit are asked for.
    this.link!.follow(workload);
    if (io.stdin !== '') exec.stdin = bridgeStdin(io.stdin, session, workload);
    const waited = request(session, 'POST', `/workloads/${encodeURIComponent(workload)}/wait`).then((w) => {
      const body: unknown = JSON.parse(w.body.toString() || '{}');
      return typeof body === 'object' && body !== null && 'exitCode' in body && typeof body.exitCode === 'number' ? body.exitCode : 255;
    });
    // The status once the output is complete too (the guest ends the output when it removes the workload);
    // a VM that ends first ends the workload with a SIGKILL's status.
    const exited = Promise.race([
      Promise.all([waited, outputDone]).then(([code]) => code),
      this.exited.then(() => 137),
    ]).catch((err: Error) => {
      log.warn({ workload, err: err.message }, 'waiting for an added workload failed');
      return 255;
    });
    return { exited };
  }

  /** The workload's terminal size: sent once the guest runs it (kept until then). */
  async resize(width: number, height: number): Promise<void> {
    this.size = { width, height };
    const session = this.link?.session;
    if (session === undefined || this.exit !== undefined) return;
    const answer = await request(session, 'POST', `/workloads/${workloadId}/resize?width=${width}&height=${height}`).catch(() => undefined);
    if (answer !== undefined && answer.status !== 204 && answer.status !== 404) log.warn({ status: answer.status }, 'the guest refused a terminal resize');
  }

  /** A workload's cgroup v2 files, as the guest reads them (GET /workloads/{id}/stats). */
  async stats(workload: string): Promise<unknown> {
    const session = this.link?.session;
    if (session === undefined || this.exit !== undefined) throw new Error('the guest is not running');
    const answer = await request(session, 'GET', `/workloads/${encodeURIComponent(workload)}/stats`);
    if (answer.status !== 200) throw new Error(`the guest has no stats of workload ${workload} (${answer.status}): ${answer.body.toString().slice(0, 300)}`);
    return JSON.parse(answer.body.toString()) as unknown;
  }

  /** A signal for a workload added after boot. */
  async signalWorkload(workload: string, signal: number): Promise<void> {
    const session = this.link?.session;
    if (session === undefined) return;
    await request(session, 'POST', `/workloads/${encodeURIComponent(workload)}/signal?signal=${signal}`);
  }

  closeWorkloadStdin(workload: string): void {
    this.execs.get(workload)?.stdin?.close();
  }
}
