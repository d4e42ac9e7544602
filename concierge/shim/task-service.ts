// containerd's runtime v2 Task service (containerd.task.v2.Task) for a container run as a microVM, and
// the other containers of its CRI pod (sandbox.ts): Create reads the bundle and mounts its rootfs into
// the shim's share, Start boots the guest with the workload (a pod member's Start adds its workload to
// the sandbox's running guest instead), Wait/State/Pids report the VM (its qemu pid stands for the
// task's), Kill signals the workload, Delete removes what the shim made (a member's workload only; the
// sandbox's ends with the VM), Shutdown ends the shim once no task is left; Exec adds a process that
// Start runs in the guest (exec-process.ts); a terminal (-t) is the guest's, resized by ResizePty; Stats
// is the task's workload's cgroup in the guest (task-metrics.ts), and the OOM kills the guest reports in
// it are TaskOOM events of its task. Update, Pause, Resume and Checkpoint answer Unimplemented, as do an
// exec's or a member's terminal.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  TaskCreateSchema, TaskDeleteSchema, TaskExecAddedSchema, TaskExecStartedSchema, TaskExitSchema, TaskOOMSchema, TaskStartSchema,
} from '../../proto/gen/github.com/containerd/containerd/api/events/task_pb.js';
import { Status } from '../../proto/gen/github.com/containerd/containerd/api/types/task/task_pb.js';
import { Task } from '../../proto/gen/github.com/containerd/containerd/runtime/v2/task/shim_pb.js';
import { log } from '../log/logger.js';
import type { EventPublisher } from './events.js';
import { execWorkloadId, newExec, type ExecRecord } from './exec-process.js';
import { GuestVm, type GuestImage } from './guest-vm.js';
import { mountRootfs, detachMount } from './host-rootfs.js';
import { dockerAccessAnnotation, guestRootfsOf, guestShareOf, guestSpec, readBundleConfig, workloadId, workloadResources, type BundleConfig } from './oci-bundle.js';
import { memberWorkloadId, shareBind, shareDir, shareRootfs, unshareBinds, unshareRootfs } from './sandbox.js';
import { metricsAny } from './task-metrics.js';
import { bindShares, filesShare, type BindShares } from './bind-shares.js';
import { code } from './ttrpc-messages.js';
import { TtrpcError, type TtrpcServer } from './ttrpc-server.js';

const serviceName = Task.typeName;
/** Where the copies of a task's bound files are kept, in the shim's state directory. */
const bindFilesDir = 'bind-files';

interface TaskRecord {
  id: string;
  /** Its workload id in the guest. */
  workload: string;
  /** A container of the pod whose sandbox booted the VM (not the sandbox itself). */
  member: boolean;
  bundle: string;
  rootfs: string;
  config: BundleConfig;
  /** config.json's host binds, as shares of the VM. */
  binds: BindShares;
  io: { stdin: string; stdout: string; stderr: string; terminal: boolean };
  status: Status;
  vm: GuestVm | undefined;
  exit: { status: number; at: Date } | undefined;
  exited: Promise<{ status: number; at: Date }>;
  setExit(status: number, at: Date): void;
  execs: Map<string, ExecRecord>;
}

export interface TaskServiceOptions {
  image: GuestImage;
  stateDir: string;
  events: EventPublisher;
  memoryMb: number;
  cpus: number;
  /** Called once Shutdown was answered and no task is left. */
  onShutdown(): void;
}

export class TaskService {
  private readonly tasks = new Map<string, TaskRecord>();
  /** The task whose Start boots the VM: the shim's first (a pod's sandbox). */
  private owner: TaskRecord | undefined;

  constructor(private readonly o: TaskServiceOptions) {}

  register(server: TtrpcServer): void {
    const m = Task.method;
    this.on(server, m.create, (r) => this.create(r));
    this.on(server, m.start, (r) => this.start(r));
    this.on(server, m.state, (r) => Promise.resolve(this.state(r)));
    this.on(server, m.wait, (r) => this.wait(r));
    this.on(server, m.kill, (r) => this.kill(r));
    this.on(server, m.delete, (r) => this.delete(r));
    this.on(server, m.exec, (r) => this.exec(r));
    this.on(server, m.resizePty, async (r) => {
      if (r.execId !== '' || this.initOf(r).member) throw new TtrpcError(code.unimplemented, 'an exec or a pod member has no terminal here');
      await this.initOf(r).vm?.resize(r.width, r.height);
      return {};
    });
    this.on(server, m.pids, (r) => Promise.resolve({ processes: this.initOf(r).vm?.pid ? [{ pid: this.initOf(r).vm!.pid }] : [] }));
    this.on(server, m.connect, (r) => Promise.resolve({ shimPid: process.pid, taskPid: this.tasks.get(r.id)?.vm?.pid ?? 0, version: '1' }));
    this.on(server, m.closeIO, (r) => {
      if (!r.stdin) return Promise.resolve({});
      const t = this.taskOf(r.id);
      if (r.execId !== '') t.vm?.closeWorkloadStdin(execWorkloadId(t.workload, this.execOf(t, r.execId).execId));
      else if (t.member) t.vm?.closeWorkloadStdin(t.workload);
      else t.vm?.closeStdin();
      return Promise.resolve({});
    });
    this.on(server, m.stats, async (r) => {
      const t = this.initOf(r);
      if (t.vm === undefined || t.status !== Status.RUNNING) throw new TtrpcError(code.failedPrecondition, `task ${t.id} is not running`);
      try {
        return { stats: metricsAny(await t.vm.stats(t.workload)) };
      } catch (err) {
        throw new TtrpcError(code.unavailable, (err as Error).message);
      }
    });
    this.on(server, m.shutdown, () => this.shutdown());
  }

  private on<I extends DescMessage, O extends DescMessage>(server: TtrpcServer, method: { name: string; input: I; output: O },
    handler: (request: MessageShape<I>) => Promise<MessageInitShape<O>>): void {
    server.register(serviceName, method.name, async (payload) => {
      const request = fromBinary(method.input, payload);
      return toBinary(method.output, create(method.output, await handler(request)));
    });
  }

  private taskOf(id: string): TaskRecord {
    const t = this.tasks.get(id);
    if (t === undefined) throw new TtrpcError(code.notFound, `task ${id} not found`);
    return t;
  }

  private execOf(t: TaskRecord, execId: string): ExecRecord {
    const e = t.execs.get(execId);
    if (e === undefined) throw new TtrpcError(code.notFound, `process ${execId} not found`);
    return e;
  }

  /** The task a guest workload belongs to: its own, or one of its execs. */
  private taskOfWorkload(workload: string): TaskRecord | undefined {
    return [...this.tasks.values()].find((t) => t.workload === workload || [...t.execs.keys()].some((e) => execWorkloadId(t.workload, e) === workload));
  }

  /** The task's init process (exec id ""). */
  private initOf(r: { id: string }): TaskRecord {
    return this.taskOf(r.id);
  }

  private async create(r: MessageShape<typeof Task.method.create.input>): Promise<MessageInitShape<typeof Task.method.create.output>> {
    const owner = this.owner;
    if (owner !== undefined && r.bundle === owner.bundle) throw new TtrpcError(code.alreadyExists, `task ${owner.id} already exists in this shim`);
    if (r.checkpoint !== '') throw new TtrpcError(code.unimplemented, 'checkpoint restore is not supported');
    let config: BundleConfig;
    try {
      config = readBundleConfig(r.bundle);
    } catch (err) {
      throw new TtrpcError(code.invalidArgument, (err as Error).message);
    }
    // A second task comes only to the shim of its pod's sandbox (shim-start.ts answers a member's start with that shim).
    const member = owner !== undefined;
    if (member) {
      if (config.pod === undefined || config.pod.isSandbox || config.pod.sandboxId !== owner.id) {
        throw new TtrpcError(code.alreadyExists, `task ${owner.id} already exists in this shim, and ${r.id} is not a container of its pod`);
      }
      if (this.tasks.has(r.id)) throw new TtrpcError(code.alreadyExists, `task ${r.id} already exists`);
      if (r.terminal || config.process.terminal) throw new TtrpcError(code.unimplemented, 'a pod member with a terminal (-t) is not supported by the concierge runtime yet');
      // The guest's dockerd is started at boot, for the sandbox's annotation (CRI's pod_annotations put a pod's on each of its containers).
      if (config.docker.access && !owner.config.docker.access) {
        throw new TtrpcError(code.failedPrecondition, `docker access for ${r.id} needs its pod's sandbox ${owner.id} annotated ${dockerAccessAnnotation}=true too (the guest's dockerd starts with the VM)`);
      }
    }
    const workload = member ? memberWorkloadId(r.id) : workloadId;
    let binds: BindShares;
    try {
      // A member's task joins a VM already booted: its bound directories reach it through the pod's share.
      binds = bindShares(config.binds, join(this.o.stateDir, bindFilesDir), workload,
        member ? (index, bind) => guestShareOf(shareBind(this.o.stateDir, r.id, index, bind.source, bind.readonly)) : undefined);
    } catch (err) {
      if (member) unshareBinds(this.o.stateDir, r.id);
      throw new TtrpcError(code.invalidArgument, (err as Error).message);
    }
    const rootfs = isAbsolute(config.rootPath) ? config.rootPath : join(r.bundle, config.rootPath);
    try {
      mountRootfs(r.rootfs.map((m) => ({ type: m.type, source: m.source, options: m.options })), rootfs);
      try {
        shareRootfs(this.o.stateDir, r.id, rootfs);
      } catch (err) {
        detachMount(rootfs);
        throw err;
      }
    } catch (err) {
      if (member) unshareBinds(this.o.stateDir, r.id);
      throw err;
    }
    let setExit!: TaskRecord['setExit'];
    const exited = new Promise<{ status: number; at: Date }>((resolve) => { setExit = (status, at) => resolve({ status, at }); });
    const task: TaskRecord = {
      id: r.id, workload, member, bundle: r.bundle, rootfs, config, io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      binds, status: Status.CREATED, vm: undefined, exit: undefined, exited, execs: new Map(),
      setExit: (status, at) => {
        if (task.exit !== undefined) return;
        task.exit = { status, at };
        task.status = Status.STOPPED;
        setExit(status, at);
      },
    };
    this.tasks.set(r.id, task);
    if (!member) this.owner = task;
    log.info({ id: r.id, bundle: r.bundle, args: config.process.args, ...(member ? { sandbox: owner.id } : {}) }, 'task created');
    await this.o.events.publish('/tasks/create', TaskCreateSchema, create(TaskCreateSchema, {
      containerId: r.id, bundle: r.bundle, rootfs: r.rootfs, io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }, pid: 0,
    }));
    return { pid: 0 };
  }

  private async start(r: MessageShape<typeof Task.method.start.input>): Promise<MessageInitShape<typeof Task.method.start.output>> {
    if (r.execId !== '') return this.startExec(this.taskOf(r.id), r.execId);
    const t = this.initOf(r);
    if (t.status !== Status.CREATED) throw new TtrpcError(code.failedPrecondition, `task ${t.id} is not in the created state`);
    if (t.member) return this.startMember(t);
    const files = filesShare(join(this.o.stateDir, bindFilesDir));
    const vm = new GuestVm({
      image: this.o.image, stateDir: this.o.stateDir, share: shareDir(this.o.stateDir),
      // The files share from boot on, whether or not this task binds files: a pod member's copies go there later.
      spec: guestSpec(t.config, { stdin: t.io.stdin !== '', terminal: t.io.terminal || t.config.process.terminal }, t.id, {
        guestMounts: [...files.guestMounts, ...t.binds.guestMounts], workloadMounts: t.binds.workloadMounts,
      }),
      shares: [...files.shares, ...t.binds.shares],
      stdin: t.io.stdin, stdout: t.io.stdout, stderr: t.io.stderr, memoryMb: this.o.memoryMb, cpus: this.o.cpus,
      onOom: (workload) => {
        const oomed = this.taskOfWorkload(workload);
        if (oomed !== undefined) void this.o.events.publish('/tasks/oom', TaskOOMSchema, create(TaskOOMSchema, { containerId: oomed.id }));
      },
    });
    t.vm = vm;
    await vm.boot();
    t.status = Status.RUNNING;
    void vm.exited.then(async (e) => {
      t.setExit(e.status, e.at);
      await this.o.events.publish('/tasks/exit', TaskExitSchema, create(TaskExitSchema, {
        containerId: t.id, id: t.id, pid: vm.pid, exitStatus: e.status, exitedAt: timestampFromDate(e.at),
      }));
    });
    await this.o.events.publish('/tasks/start', TaskStartSchema, create(TaskStartSchema, { containerId: t.id, pid: vm.pid }));
    return { pid: vm.pid };
  }

  /** A pod member's container: a workload of its own rootfs added to the sandbox's running guest. */
  private async startMember(t: TaskRecord): Promise<MessageInitShape<typeof Task.method.start.output>> {
    const vm = this.owner?.vm;
    if (vm === undefined || this.owner?.status !== Status.RUNNING) throw new TtrpcError(code.failedPrecondition, `the pod's sandbox ${this.owner?.id ?? ''} is not running`);
    const { exited } = await vm.startWorkload(t.workload, guestRootfsOf(t.id), t.config.process, t.io, {
      ...(t.config.docker.access ? { docker: { policy: t.config.docker.policy } } : {}),
      mounts: t.binds.workloadMounts, resources: workloadResources(t.config.resources),
    });
    t.vm = vm;
    t.status = Status.RUNNING;
    void exited.then(async (status) => {
      t.setExit(status, new Date());
      await this.o.events.publish('/tasks/exit', TaskExitSchema, create(TaskExitSchema, {
        containerId: t.id, id: t.id, pid: vm.pid, exitStatus: status, exitedAt: timestampFromDate(t.exit!.at),
      }));
    });
    await this.o.events.publish('/tasks/start', TaskStartSchema, create(TaskStartSchema, { containerId: t.id, pid: vm.pid }));
    return { pid: vm.pid };
  }

  private async exec(r: MessageShape<typeof Task.method.exec.input>): Promise<MessageInitShape<typeof Task.method.exec.output>> {
    const t = this.taskOf(r.id);
    if (t.status !== Status.RUNNING) throw new TtrpcError(code.failedPrecondition, `task ${t.id} is not running`);
    if (t.execs.has(r.execId)) throw new TtrpcError(code.alreadyExists, `process ${r.execId} already exists`);
    t.execs.set(r.execId, newExec(r.execId, r.spec?.value, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }));
    await this.o.events.publish('/tasks/exec-added', TaskExecAddedSchema, create(TaskExecAddedSchema, { containerId: t.id, execId: r.execId }));
    return {};
  }

  private async startExec(t: TaskRecord, execId: string): Promise<MessageInitShape<typeof Task.method.start.output>> {
    const e = this.execOf(t, execId);
    if (e.status !== Status.CREATED || t.vm === undefined) throw new TtrpcError(code.failedPrecondition, `process ${execId} cannot be started`);
    const vm = t.vm;
    const { exited } = await vm.startWorkload(execWorkloadId(t.workload, execId), guestRootfsOf(t.id), e.process, e.io);
    e.status = Status.RUNNING;
    void exited.then(async (status) => {
      e.setExit(status, new Date());
      await this.o.events.publish('/tasks/exit', TaskExitSchema, create(TaskExitSchema, {
        containerId: t.id, id: execId, pid: vm.pid, exitStatus: status, exitedAt: timestampFromDate(e.exit!.at),
      }));
    });
    await this.o.events.publish('/tasks/exec-started', TaskExecStartedSchema, create(TaskExecStartedSchema, { containerId: t.id, execId, pid: vm.pid }));
    return { pid: vm.pid };
  }

  /** The process a request names: the init (exec id "") or an exec. */
  private processOf(r: { id: string; execId: string }): TaskRecord | ExecRecord {
    const t = this.taskOf(r.id);
    return r.execId === '' ? t : this.execOf(t, r.execId);
  }

  private state(r: MessageShape<typeof Task.method.state.input>): MessageInitShape<typeof Task.method.state.output> {
    if (r.execId !== '') {
      const t = this.taskOf(r.id);
      const e = this.execOf(t, r.execId);
      return {
        id: t.id, bundle: t.bundle, pid: t.vm?.pid ?? 0, status: e.status, ...e.io, execId: e.execId,
        exitStatus: e.exit?.status ?? 0, ...(e.exit === undefined ? {} : { exitedAt: timestampFromDate(e.exit.at) }),
      };
    }
    const t = this.initOf(r);
    return {
      id: t.id, bundle: t.bundle, pid: t.vm?.pid ?? 0, status: t.status, ...t.io, execId: '',
      exitStatus: t.exit?.status ?? 0, ...(t.exit === undefined ? {} : { exitedAt: timestampFromDate(t.exit.at) }),
    };
  }

  private async wait(r: MessageShape<typeof Task.method.wait.input>): Promise<MessageInitShape<typeof Task.method.wait.output>> {
    const e = await this.processOf(r).exited;
    return { exitStatus: e.status, exitedAt: timestampFromDate(e.at) };
  }

  private async kill(r: MessageShape<typeof Task.method.kill.input>): Promise<MessageInitShape<typeof Task.method.kill.output>> {
    if (r.execId !== '') {
      const t = this.taskOf(r.id);
      const e = this.execOf(t, r.execId);
      if (e.exit !== undefined) throw new TtrpcError(code.notFound, 'process already finished');
      await t.vm?.signalWorkload(execWorkloadId(t.workload, e.execId), r.signal);
      return {};
    }
    const t = this.initOf(r);
    if (t.exit !== undefined) throw new TtrpcError(code.notFound, `process already finished`);
    if (t.vm === undefined) t.setExit(128 + r.signal, new Date()); // created, never started: nothing runs
    else if (t.member) await t.vm.signalWorkload(t.workload, r.signal);
    else await t.vm.signal(r.signal);
    return {};
  }

  private async delete(r: MessageShape<typeof Task.method.delete.input>): Promise<MessageInitShape<typeof Task.method.delete.output>> {
    if (r.execId !== '') {
      const t = this.taskOf(r.id);
      const e = this.execOf(t, r.execId);
      if (e.status === Status.RUNNING) throw new TtrpcError(code.failedPrecondition, `process ${e.execId} is running: kill it first`);
      if (e.exit === undefined) e.setExit(128 + 9, new Date());
      t.execs.delete(e.execId);
      return { pid: t.vm?.pid ?? 0, exitStatus: e.exit!.status, exitedAt: timestampFromDate(e.exit!.at) };
    }
    const t = this.initOf(r);
    if (t.status === Status.RUNNING) throw new TtrpcError(code.failedPrecondition, `task ${t.id} is running: kill it first`);
    const members = [...this.tasks.keys()].filter((id) => id !== t.id);
    // CRI removes a pod's containers before its sandbox; the VM (ended with the sandbox's task) is gone by now.
    if (!t.member && members.length > 0) throw new TtrpcError(code.failedPrecondition, `the pod's containers ${members.join(', ')} must be deleted before its sandbox ${t.id}`);
    if (t.exit === undefined) t.setExit(128 + 9, new Date());
    this.cleanup(t);
    this.tasks.delete(t.id);
    if (t === this.owner) this.owner = undefined;
    const exitedAt: Timestamp = timestampFromDate(t.exit!.at);
    const pid = t.vm?.pid ?? 0;
    await this.o.events.publish('/tasks/delete', TaskDeleteSchema, create(TaskDeleteSchema, {
      containerId: t.id, id: t.id, pid, exitStatus: t.exit!.status, exitedAt,
    }));
    log.info({ id: t.id, exitStatus: t.exit!.status }, 'task deleted');
    return { pid, exitStatus: t.exit!.status, exitedAt };
  }

  private cleanup(t: TaskRecord): void {
    if (t.member) unshareBinds(this.o.stateDir, t.id);
    unshareRootfs(this.o.stateDir, t.id);
    detachMount(t.rootfs);
    if (t.member) rmSync(join(this.o.stateDir, bindFilesDir, t.workload), { recursive: true, force: true });
    else {
      rmSync(join(this.o.stateDir, 'spec.img'), { force: true });
      rmSync(join(this.o.stateDir, bindFilesDir), { recursive: true, force: true });
    }
  }

  /** containerd sends it after each task's Delete: the shim ends only when its last task is gone. */
  private shutdown(): Promise<MessageInitShape<typeof Task.method.shutdown.output>> {
    if (this.tasks.size === 0) setImmediate(() => this.o.onShutdown());
    return Promise.resolve({});
  }
}
