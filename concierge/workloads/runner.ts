import { performance } from 'node:perf_hooks';
// workloads/: runs workloads in containerd; owns the docker-access port the roots plug the proxy into.
// Runs workloads: resolves or imports their images, removes what an interrupted concierge left, starts
// each as a Workload, follows containerd's task-exit events, and tells listeners (the Docker proxy) when
// a workload's task exits. The programmatic entry point for the CLI and for PID 1.
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { ContainerdClient, defaultContainerdSocket } from '../containerd/client.js';
import { importImageArchive, type ResolvedImage } from '../containerd/images/import.js';
import type { RegistryClient, RegistryClientOptions } from '../registry/client.js';
import type { RegistrySettings } from '../registry/settings.js';
import { subscribeTaskExits, type TaskExitSubscription } from '../containerd/task-exits.js';
import { log } from '../log/logger.js';
import { removeOrphanedWorkloads } from './cleanup.js';
import { noDockerAccess, type DockerAccessProvider } from './docker-access.js';
import { imageByReference } from './image-reference.js';
import { rootfsAsImage } from './rootfs-image.js';
import { labels } from './owner.js';
import type { WorkloadSpec } from '../instance/spec-workloads.js';
import { ContainerIdTakenError, Workload, type WorkloadExit, type WorkloadInfo } from './workload.js';

/** containerd's namespace of the runner's workloads unless told (dockerd's containers are in `moby`). */
export const defaultWorkloadNamespace = 'default';
/** containerd's runtime for the runner's tasks unless told: the runc shim. */
const runcShimRuntime = 'io.containerd.runc.v2';

export interface WorkloadRunnerOptions {
  containerdSocket?: string;
  /** containerd's `state` directory; task rootfs mounts live under it. Default /run/containerd. */
  containerdState?: string;
  namespace?: string;
  /** Where dockerAccess workloads get their docker socket; the composition root picks it (default: none). */
  dockerAccess?: DockerAccessProvider;
  fifoRoot?: string;
  runtime?: string;
  /** The OCI runtime binary the runc shim runs (its `binary_name` option); by default the shim's own, runc. */
  ociRuntime?: string;
  /**
   * The runc shim server the tasks share: its grouping annotation, and what containerd runs as their
   * shim (PID 1's start for the group, supervise/warm-runtime.ts) unless `runtime` is given; by
   * default one runc shim per task.
   */
  shimGroup?: { name: string; shim: string };
  /** Credentials, CAs and mirrors for images pulled by reference. */
  registries?: RegistrySettings;
  registryClient?: RegistryClientOptions;
  /** Workloads about to start: their archives are imported while the runner opens (a pull waits for the start, whose pull policy decides). */
  images?: readonly WorkloadSpec[];
}

export interface TaskExitNotice {
  workloadId: string;
  containerId: string;
  exitCode: number;
}

/** The events of a WorkloadRunner and their arguments. */
export interface RunnerEvents {
  'task-exit': [notice: TaskExitNotice];
  /** An image was pulled from a registry (layers and bytes fetched: 0 when the content store had them). */
  'image-pulled': [pulled: { reference: string; layers: number; bytes: number; ms: number }];
}

/**
 * The registry client and the pull, loaded at the first pull: with them comes undici, whose load also
 * loads Node's own (it reads globalThis.Headers), 16 ms of CPU on the host at every boot, while
 * containerd starts, for guests whose images are archives or already in containerd.
 */
async function loadRegistryCode(): Promise<{ RegistryClient: typeof RegistryClient; pullImage: typeof import('../registry/pull.js').pullImage }> {
  const [{ RegistryClient }, { pullImage }] = await Promise.all([import('../registry/client.js'), import('../registry/pull.js')]);
  return { RegistryClient, pullImage };
}

export class WorkloadRunner extends EventEmitter<RunnerEvents> {
  readonly client: ContainerdClient;
  private readonly workloads = new Map<string, Workload>();
  private readonly images = new Map<string, Promise<ResolvedImage>>();
  private readonly pulls = new Map<string, Promise<ResolvedImage>>();
  private registry: RegistryClient | undefined;
  private subscription: TaskExitSubscription | undefined;
  private readonly options: Required<Omit<WorkloadRunnerOptions, 'registries' | 'registryClient' | 'images' | 'ociRuntime' | 'shimGroup'>> & Pick<WorkloadRunnerOptions, 'ociRuntime'>;
  /** The runc shim group's annotation on the tasks' specs, when they share its server. */
  private readonly shimGroup: string | undefined;
  private readonly registries: RegistrySettings;
  private readonly registryClientOptions: RegistryClientOptions;

  private constructor(options: WorkloadRunnerOptions) {
    super();
    this.options = {
      containerdSocket: options.containerdSocket ?? defaultContainerdSocket,
      containerdState: options.containerdState ?? '/run/containerd',
      namespace: options.namespace ?? defaultWorkloadNamespace,
      dockerAccess: options.dockerAccess ?? noDockerAccess,
      fifoRoot: options.fifoRoot ?? '/run/concierge/fifo',
      runtime: options.runtime ?? options.shimGroup?.shim ?? runcShimRuntime,
      ociRuntime: options.ociRuntime,
    };
    this.shimGroup = options.runtime === undefined ? options.shimGroup?.name : undefined;
    this.registries = options.registries ?? new Map();
    this.registryClientOptions = options.registryClient ?? {};
    this.client = ContainerdClient.connect(this.options.containerdSocket, this.options.namespace);
  }

  /** One pull per reference at a time: workloads starting together share it. */
  private pull(reference: string): Promise<ResolvedImage> {
    let pending = this.pulls.get(reference);
    if (pending === undefined) {
      const started = performance.now();
      const pulling = loadRegistryCode().then(({ RegistryClient, pullImage }) => {
        this.registry ??= new RegistryClient(this.registries, this.registryClientOptions);
        return pullImage(this.client, this.registry, reference);
      });
      pending = pulling.then((r) => {
        this.emit('image-pulled', { reference, layers: r.fetchedLayers, bytes: r.fetchedBytes, ms: Math.round(performance.now() - started) });
        return r;
      });
      this.pulls.set(reference, pending);
      const forget = () => this.pulls.delete(reference);
      pending.then(forget, forget);
    }
    return pending;
  }

  /**
   * Connects, removes workloads an interrupted concierge left behind (and, through the docker-access
   * provider, what they left staged), and starts following task exits.
   */
  static async open(options: WorkloadRunnerOptions = {}): Promise<WorkloadRunner> {
    const runner = new WorkloadRunner(options);
    try {
      await runner.client.waitReady();
      // Images are not what an interrupted concierge leaves behind: archives import beside the cleanup.
      // A failure is the workload's start's to report (a failed import is not kept).
      for (const spec of options.images ?? []) if ('archive' in spec.image) runner.image(spec).catch(() => undefined);
      const live = await removeOrphanedWorkloads(runner.client, runner.options.fifoRoot);
      await runner.options.dockerAccess.releaseLeftovers?.(live);
      runner.subscription = subscribeTaskExits(runner.client, (e) => {
        const workload = runner.workloads.get(e.containerId);
        if (workload === undefined || e.processId !== e.containerId) return;
        workload.onTaskExitEvent(e.exitStatus, e.exitedAt);
      }, (err) => log.warn({ err: err.message }, 'containerd event stream broke; resubscribing'));
      return runner;
    } catch (err) {
      runner.client.close();
      throw err;
    }
  }

  /** The image of a spec (a rootfs directory stands for one with an empty config), imported once per archive (path, size and mtime) for the runner's life. */
  private image(spec: WorkloadSpec): Promise<ResolvedImage> {
    const load = async (): Promise<ResolvedImage> => {
      if ('reference' in spec.image) {
        return imageByReference(this.client, spec.image.reference, spec.image.pullPolicy, (ref) => this.pull(ref));
      }
      if ('rootfs' in spec.image) return rootfsAsImage();
      const { archive } = spec.image;
      const st = await stat(archive).catch(() => { throw new Error(`workload ${spec.id}: image archive ${archive} does not exist`); });
      const key = `${archive}\0${st.size}\0${st.mtimeMs}`;
      let cached = this.images.get(key);
      if (cached === undefined) {
        cached = importImageArchive(this.client, archive);
        this.images.set(key, cached);
        cached.catch(() => this.images.delete(key));
      }
      return cached;
    };
    return load();
  }

  /** Starts a workload; resolves once its task runs. Output is emitted by the returned Workload. */
  async start(spec: WorkloadSpec, onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void): Promise<Workload> {
    const existing = this.workloads.get(spec.id);
    if (existing !== undefined && existing.state !== 'removed' && existing.state !== 'failed') {
      throw new Error(`workload ${spec.id} is already running`);
    }
    // The image is resolved while the workload's docker socket opens: each of these asks containerd's
    // code something it has not run yet, at emulated speed.
    const t = process.hrtime.bigint();
    const image = this.image(spec).then((resolved) => ({ resolved, ms: Number(process.hrtime.bigint() - t) / 1e6 }));
    image.catch(() => undefined); // awaited by the workload's start
    try {
      return await this.startWorkload(spec, image, onOutput);
    } catch (err) {
      // containerd refused the container's id, the only way to learn of one with it without asking
      // before every start: one a dead concierge left is removed and the start made once more.
      if (!(err instanceof ContainerIdTakenError)) throw err;
      await this.refuseForeignContainer(spec.id);
      return await this.startWorkload(spec, image, onOutput);
    }
  }

  private async startWorkload(
    spec: WorkloadSpec, image: Promise<{ resolved: ResolvedImage; ms: number }>, onOutput: ((stream: 'stdout' | 'stderr', chunk: Buffer) => void) | undefined,
  ): Promise<Workload> {
    const workload = new Workload(spec, {
      client: this.client, dockerAccess: this.options.dockerAccess, containerdState: this.options.containerdState,
      fifoRoot: this.options.fifoRoot, runtime: this.options.runtime, ociRuntime: this.options.ociRuntime,
      shimGroup: this.shimGroup,
    });
    if (onOutput) workload.on('output', onOutput);
    workload.on('exit', (exit: WorkloadExit) => this.emit('task-exit', {
      workloadId: spec.id, containerId: workload.containerId, exitCode: exit.exitCode,
    } satisfies TaskExitNotice));
    this.workloads.set(spec.id, workload);
    await workload.start(image);
    return workload;
  }

  /**
   * After containerd refused the workload's id: returns once a container a dead concierge left with it
   * is removed; throws for another's container or a live concierge's workload.
   */
  private async refuseForeignContainer(id: string): Promise<void> {
    try {
      const { container } = await this.client.containers.get({ id });
      if (container?.labels[labels.workload] === undefined) {
        throw new Error(`a container named ${id} already exists in namespace ${this.client.namespace} and is not a concierge workload`);
      }
      await removeOrphanedWorkloads(this.client, this.options.fifoRoot);
      await this.client.containers.get({ id }).then(() => {
        throw new Error(`workload ${id} is already running under another concierge`);
      }, () => undefined);
    } catch (err) {
      if ((err as { code?: number }).code === 5) return; // NOT_FOUND: the id is free
      throw err;
    }
  }

  get(id: string): Workload | undefined {
    return this.workloads.get(id);
  }

  list(): WorkloadInfo[] {
    return [...this.workloads.values()].map((w) => w.info());
  }

  /** Stops every workload still running (SIGTERM, then SIGKILL after each one's stop timeout). */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.workloads.values()].map((w) => w.stop()));
  }

  async close(): Promise<void> {
    await this.stopAll();
    this.subscription?.close();
    await this.registry?.close();
    this.client.close();
  }
}

export interface RunWorkloadOptions extends WorkloadRunnerOptions {
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  signal?: AbortSignal;
}

/** Runs one workload to its end on a runner of its own: the exit status and step timings. */
export async function runWorkload(spec: WorkloadSpec, options: RunWorkloadOptions = {}): Promise<WorkloadExit & { info: WorkloadInfo }> {
  const runner = await WorkloadRunner.open(options);
  try {
    const workload = await runner.start(spec, options.onOutput);
    const stop = () => void workload.stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    const exit = await workload.wait();
    options.signal?.removeEventListener('abort', stop);
    return { ...exit, info: workload.info() };
  } finally {
    await runner.close();
  }
}
