// One workload's container and task, from creation to removal: create (container, snapshot, stdio,
// task), Wait before Start, start, signal, stop (SIGTERM, then SIGKILL after the stop timeout), and
// delete (task, container, snapshot, FIFOs, docker socket) once the task has exited.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { ContainerdClient } from '../containerd/client.js';
import { ignoreNotFound, isAlreadyExists } from '../containerd/errors.js';
import { taskRootfs } from '../containerd/paths.js';
import type { ResolvedImage } from '../containerd/images/import.js';
import { log } from '../log/logger.js';
import type { DockerAccessProvider } from './docker-access.js';
import { labels, ownerId } from './owner.js';
import { cgroupRoot, cgroupsPath, oomKills } from './cgroup.js';
import { ociRuntimeName, runcShimGroupAnnotation, runcShimOptions } from './oci-runtime.js';
import { buildRuntimeSpec, runtimeSpecTypeUrl, type OciMount } from './runtime-spec.js';
import type { WorkloadSpec } from '../instance/spec-workloads.js';
import { readRootfsFiles } from './rootfs-files.js';
import { openTaskStdio, type TaskStdio } from './stdio-fifos.js';
import { needsLookup, resolveUser, UserLookupError } from './user.js';

export type WorkloadState = 'creating' | 'running' | 'stopping' | 'exited' | 'removed' | 'failed';
export type OutputStream = 'stdout' | 'stderr';

/** Milliseconds spent in each lifecycle step. */
export interface StepTimings {
  image?: number;
  create?: number;
  start?: number;
  wait?: number;
  delete?: number;
}

export interface WorkloadExit {
  exitCode: number;
  exitedAt: Date | undefined;
  /** The signal an exit status of 128 + N stands for (how containerd reports a signal death; an exit(143) reads the same), or null. */
  signal: string | null;
  /** The kernel's OOM killer killed a process of the workload (its cgroup's memory.events). */
  oomKilled: boolean;
}

/** What the Docker proxy needs to know about a running workload. */
export interface WorkloadInfo {
  workloadId: string;
  containerId: string;
  namespace: string;
  state: WorkloadState;
  pid: number | undefined;
  /** The task's rootfs on the host, mounted while the task exists. */
  rootfsPath: string;
  mounts: OciMount[];
  exitCode: number | undefined;
  signal: string | null;
  oomKilled: boolean;
  timings: StepTimings;
}

export interface WorkloadContext {
  client: ContainerdClient;
  dockerAccess: DockerAccessProvider;
  /** containerd's state directory (`state` in its config): where task bundles and rootfs mounts live. */
  containerdState: string;
  /** Where concierge keeps per-task FIFOs. */
  fifoRoot: string;
  runtime: string;
  /** The OCI runtime binary the runc shim runs; undefined: its default, runc. */
  ociRuntime?: string | undefined;
  /** The runc shim server the tasks share (its grouping annotation); undefined: one shim per task. */
  shimGroup?: string | undefined;
}

/** The events of a Workload and their arguments. */
export interface WorkloadEvents {
  output: [stream: OutputStream, chunk: Buffer];
  exit: [exit: WorkloadExit];
  removed: [];
}

/** containerd reports a process ended by signal N as 128 + N. */
function signalOfStatus(status: number): string | null {
  if (status <= 128 || status > 128 + 64) return null;
  const n = status - 128;
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

function readTextOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** containerd already holds a container with the workload's id: nothing of it was touched. */
export class ContainerIdTakenError extends Error {
  override name = 'ContainerIdTakenError';
  constructor(readonly containerId: string) {
    super(`a container named ${containerId} already exists`);
  }
}

const elapsed = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e6;

export class Workload extends EventEmitter<WorkloadEvents> {
  readonly containerId: string;
  state: WorkloadState = 'creating';
  pid: number | undefined;
  exit: WorkloadExit | undefined;
  readonly timings: StepTimings = {};
  private mounts: OciMount[] = [];
  private stdio: TaskStdio | undefined;
  private dockerSocket: { socketPath: string; close(): Promise<void> } | undefined;
  private exited!: Promise<WorkloadExit>;
  private resolveExit!: (exit: WorkloadExit) => void;
  private removal: Promise<void> | undefined;
  private startedAt = 0n;
  private snapshotter = 'overlayfs';
  /** containerd holds a container with this id that this workload did not create. */
  private idTaken = false;

  constructor(readonly spec: WorkloadSpec, private readonly ctx: WorkloadContext) {
    super();
    this.containerId = spec.id;
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
  }

  info(): WorkloadInfo {
    return {
      workloadId: this.spec.id, containerId: this.containerId, namespace: this.ctx.client.namespace, state: this.state,
      pid: this.pid, rootfsPath: this.rootfsPath, mounts: this.mounts, exitCode: this.exit?.exitCode,
      signal: this.exit?.signal ?? null, oomKilled: this.exit?.oomKilled ?? false, timings: this.timings,
    };
  }

  /** The writing end of the task's stdin (a spec with stdin), open until it is ended. */
  get stdin(): NodeJS.WritableStream | undefined {
    return this.stdio?.stdin;
  }

  /** The workload's cgroup v2 directory (runc makes it, and removes it with the task). */
  get cgroupDir(): string {
    return join(cgroupRoot, cgroupsPath(this.ctx.client.namespace, this.containerId));
  }

  /** The OCI runtime that makes its task: `crun` or `runc`. */
  get ociRuntime(): string {
    return ociRuntimeName(this.ctx.ociRuntime);
  }

  get rootfsPath(): string {
    if ('rootfs' in this.spec.image) return this.spec.image.rootfs; // the root as it is: no task mount
    return taskRootfs(this.ctx.containerdState, this.ctx.client.namespace, this.containerId);
  }

  /**
   * Opens the workload's docker socket while its image resolves, then creates and starts the task;
   * resolves once it runs. A failed image leaves nothing; any other failure removes what was made.
   */
  async start(image: Promise<{ resolved: ResolvedImage; ms: number }>): Promise<void> {
    const { client } = this.ctx;
    const access = this.spec.dockerAccess ? this.ctx.dockerAccess.open({
      workloadId: this.spec.id, containerId: this.containerId, rootfsPath: this.rootfsPath, mounts: () => this.mounts, dockerPolicy: this.spec.dockerPolicy,
    }) : undefined;
    const [opened, resolved] = await Promise.allSettled([access, image]);
    if (opened.status === 'fulfilled') this.dockerSocket = opened.value;
    if (resolved.status === 'rejected') {
      this.state = 'failed';
      await this.dockerSocket?.close();
      this.dockerSocket = undefined;
      throw resolved.reason;
    }
    this.timings.image = resolved.value.ms;
    try {
      let t = process.hrtime.bigint();
      if (opened.status === 'rejected') throw opened.reason;
      await this.create(resolved.value.resolved, opened.value?.socketPath);
      this.timings.create = elapsed(t);
      t = process.hrtime.bigint();
      // Wait before Start: the exit status is then ours however quickly the process ends.
      const wait = client.tasks.wait({ containerId: this.containerId });
      wait.then((answer) => this.taskExited(answer.exitStatus, answer.exitedAt
        ? new Date(Number(answer.exitedAt.seconds) * 1000 + Math.floor(answer.exitedAt.nanos / 1e6)) : undefined),
      (err: Error) => { if (this.exit === undefined) log.warn({ workload: this.spec.id, err: err.message }, 'task wait failed'); });
      const { pid } = await client.tasks.start({ containerId: this.containerId });
      this.pid = pid;
      this.startedAt = process.hrtime.bigint();
      this.timings.start = elapsed(t);
      if (this.exit !== undefined) this.timings.wait = 0; // it ended before Start had answered
      if (this.state === 'creating') this.state = 'running';
      log.info({ workload: this.spec.id, pid, createMs: this.timings.create, startMs: this.timings.start }, 'workload started');
    } catch (err) {
      this.state = 'failed';
      await this.remove().catch((cleanupErr: Error) =>
        log.error({ workload: this.spec.id, err: cleanupErr.message }, 'cleanup after a failed start failed'));
      throw err;
    }
  }

  private async create(image: ResolvedImage, dockerSocket: string | undefined): Promise<void> {
    const { client } = this.ctx;
    const user = this.spec.user ?? image.config.user;
    // A user the image's files decide is resolved once its rootfs exists; root stands in until then.
    const lookup = needsLookup(user);
    const spec = buildRuntimeSpec(this.spec, image.config, {
      namespace: client.namespace, containerId: this.containerId,
      ...(dockerSocket === undefined ? {} : { dockerSocket }),
      user: lookup ? { uid: 0, gid: 0 } : this.resolveUser(user, {}),
    });
    // A rootfs directory is the root as it is: no image, no snapshot (runc takes an absolute root path).
    const rootfsDir = 'rootfs' in this.spec.image ? this.spec.image.rootfs : undefined;
    if (rootfsDir !== undefined) spec.root.path = rootfsDir;
    if (this.ctx.shimGroup !== undefined) spec.annotations = { [runcShimGroupAnnotation]: this.ctx.shimGroup };
    this.mounts = spec.mounts;
    this.snapshotter = image.snapshotter;
    await client.containers.create({
      container: {
        id: this.containerId,
        image: image.name,
        labels: { [labels.workload]: this.spec.id, [labels.owner]: ownerId() },
        runtime: { name: this.ctx.runtime, ...(this.ctx.ociRuntime === undefined ? {} : { options: runcShimOptions(this.ctx.ociRuntime) }) },
        spec: { typeUrl: runtimeSpecTypeUrl, value: Buffer.from(JSON.stringify(spec)) },
        ...(rootfsDir === undefined ? { snapshotter: image.snapshotter, snapshotKey: this.containerId } : {}),
      },
    }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
      // Another's container, task and snapshot: the removal leaves them.
      this.idTaken = true;
      throw new ContainerIdTakenError(this.containerId);
    });
    // The container, made first, references the snapshot key: GC keeps the snapshot from its creation on.
    const { mounts } = rootfsDir !== undefined ? { mounts: [] } : await client.snapshots.prepare({
      snapshotter: image.snapshotter, key: this.containerId, parent: image.chainId,
      labels: { [labels.workload]: this.spec.id },
    });
    if (lookup) {
      const [passwd, group] = rootfsDir !== undefined
        ? ['etc/passwd', 'etc/group'].map((f) => readTextOrUndefined(join(rootfsDir, f)))
        : readRootfsFiles(mounts, join(this.ctx.fifoRoot, `${this.containerId}.rootfs`), ['/etc/passwd', '/etc/group']);
      spec.process.user = this.resolveUser(user, { passwd, group });
      await client.containers.update({
        container: { id: this.containerId, spec: { typeUrl: runtimeSpecTypeUrl, value: Buffer.from(JSON.stringify(spec)) } },
        updateMask: { paths: ['spec'] },
      });
    }
    const stdio = openTaskStdio(join(this.ctx.fifoRoot, this.containerId), { stdin: this.spec.stdin });
    this.stdio = stdio;
    for (const name of ['stdout', 'stderr'] as const) stdio[name].on('data', (chunk: Buffer) => this.emit('output', name, chunk));
    try {
      await client.tasks.create({
        containerId: this.containerId, rootfs: mounts, stdin: stdio.stdinPath ?? '', stdout: stdio.stdoutPath, stderr: stdio.stderrPath, terminal: this.spec.terminal,
      });
    } finally {
      stdio.releaseKeepers();
    }
  }

  private resolveUser(user: string, etc: Parameters<typeof resolveUser>[1]): ReturnType<typeof resolveUser> {
    try {
      return resolveUser(user, etc);
    } catch (err) {
      if (err instanceof UserLookupError) err.message = `workload ${this.spec.id}: user "${user}": ${err.message}`;
      throw err;
    }
  }

  private taskExited(exitCode: number, exitedAt: Date | undefined): void {
    if (this.exit !== undefined) return;
    // Read before the task is deleted: its cgroup goes with it.
    this.exit = { exitCode, exitedAt, signal: signalOfStatus(exitCode), oomKilled: oomKills(this.cgroupDir) > 0 };
    if (this.startedAt !== 0n) this.timings.wait = elapsed(this.startedAt);
    if (this.state !== 'removed' && this.state !== 'failed') this.state = 'exited';
    this.resolveExit(this.exit);
    this.emit('exit', this.exit);
  }

  /** Called by the runner for each /tasks/exit event of this container's init process. */
  onTaskExitEvent(exitStatus: number, exitedAt: Date | undefined): void {
    this.taskExited(exitStatus, exitedAt);
  }

  /** Resolves with the exit status at the exit, before the output is read to the end and the workload removed. */
  ended(): Promise<WorkloadExit> {
    return this.exited;
  }

  /** Resolves with the exit status, after its output has been read to the end and the workload removed. */
  async wait(): Promise<WorkloadExit> {
    const exit = await this.exited;
    await this.remove();
    return exit;
  }

  /** The size of the workload's terminal (a spec with terminal). */
  async resize(width: number, height: number): Promise<void> {
    await this.ctx.client.tasks.resizePty({ containerId: this.containerId, width, height });
  }

  async signal(signal: number): Promise<void> {
    await this.ctx.client.tasks.kill({ containerId: this.containerId, signal, all: false });
  }

  /** SIGTERM, then SIGKILL to every process of the task after `timeoutSeconds`; then removal. */
  async stop(timeoutSeconds = this.spec.stopTimeout): Promise<WorkloadExit | undefined> {
    if (this.exit === undefined && this.pid !== undefined) {
      if (this.state === 'running') this.state = 'stopping';
      await ignoreNotFound(this.signal(15));
      const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutSeconds * 1000, 'timeout').unref());
      if ((await Promise.race([this.exited, timer])) === 'timeout') {
        log.info({ workload: this.spec.id, timeoutSeconds }, 'workload ignored SIGTERM: killing it');
        await ignoreNotFound(this.ctx.client.tasks.kill({ containerId: this.containerId, signal: 9, all: true }));
        await this.exited;
      }
    }
    await this.remove();
    return this.exit;
  }

  /** Removes the task, container, snapshot and FIFOs; idempotent, and safe after a partial create. */
  remove(): Promise<void> {
    this.removal ??= this.removeOnce();
    return this.removal;
  }

  private async removeOnce(): Promise<void> {
    const { client } = this.ctx;
    const t = process.hrtime.bigint();
    if (this.stdio !== undefined && this.exit !== undefined) {
      // The shim closes its ends when the process has gone; wait briefly for the last bytes.
      await Promise.race([this.stdio.ended, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    if (this.exit === undefined && this.pid !== undefined) {
      await ignoreNotFound(client.tasks.kill({ containerId: this.containerId, signal: 9, all: true }));
    }
    // Siblings bind paths inside this task's rootfs: they go first, then the task.
    if (this.dockerSocket) await this.dockerSocket.close();
    this.dockerSocket = undefined;
    if (!this.idTaken) {
      const deleted = await ignoreNotFound(client.tasks.delete({ containerId: this.containerId }));
      if (deleted && this.exit === undefined) this.taskExited(deleted.exitStatus, undefined);
    }
    this.stdio?.dispose();
    if (!this.idTaken) {
      await ignoreNotFound(client.containers.delete({ id: this.containerId }));
      if (this.snapshotter !== '') await ignoreNotFound(client.snapshots.remove({ snapshotter: this.snapshotter, key: this.containerId }));
    }
    this.timings.delete = elapsed(t);
    if (this.exit === undefined) this.taskExited(-1, undefined);
    this.state = this.state === 'failed' ? 'failed' : 'removed';
    log.info({ workload: this.spec.id, exitCode: this.exit?.exitCode, timings: this.timings }, 'workload removed');
    this.emit('removed');
  }
}
