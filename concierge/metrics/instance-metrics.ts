// The instance's metrics in the Prometheus text format (prom-client): boot steps and timeline marks,
// concierge's own RSS, daemon restarts, image pulls, and per-workload cgroup v2 figures read when scraped (the last figures
// of a workload that has ended stay, read at its exit before its cgroup went away).
import { Counter, Gauge, Registry } from 'prom-client';
import type { CgroupFigures } from '../workloads/cgroup.js';

export interface WorkloadCgroup {
  workload: string;
  /** Reads the figures now; undefined when the cgroup is gone. */
  read(): CgroupFigures | undefined;
}

const figureGauges = [
  ['concierge_workload_cpu_seconds', 'CPU time used by the workload\'s cgroup (cpu.stat usage_usec)', (f: CgroupFigures) => f.cpuUsageSeconds],
  ['concierge_workload_memory_bytes', 'Memory the workload\'s cgroup uses now (memory.current)', (f: CgroupFigures) => f.memoryCurrentBytes],
  ['concierge_workload_memory_peak_bytes', 'Most memory the workload\'s cgroup used (memory.peak)', (f: CgroupFigures) => f.memoryPeakBytes],
  ['concierge_workload_io_read_bytes', 'Bytes the workload\'s cgroup read from block devices (io.stat rbytes)', (f: CgroupFigures) => f.ioReadBytes],
  ['concierge_workload_io_write_bytes', 'Bytes the workload\'s cgroup wrote to block devices (io.stat wbytes)', (f: CgroupFigures) => f.ioWriteBytes],
  ['concierge_workload_oom_kills', 'Processes of the workload the OOM killer killed (memory.events oom_kill)', (f: CgroupFigures) => f.oomKills],
] as const;

export class InstanceMetrics {
  readonly registry = new Registry();
  readonly bootStepSeconds: Gauge<'step'>;
  readonly timelineSeconds: Gauge<'mark'>;
  readonly daemonRestarts: Counter<'daemon'>;
  readonly daemonStartSeconds: Gauge<'daemon'>;
  readonly workloadExits: Counter<'workload' | 'code'>;
  readonly workloadStepSeconds: Gauge<'workload' | 'step'>;
  private readonly imagePulls: Counter;
  private readonly imagePullLayers: Counter;
  private readonly imagePullBytes: Counter;
  private readonly imagePullSeconds: Gauge<'image'>;
  private readonly cgroups = new Map<string, WorkloadCgroup>();
  private readonly lastFigures = new Map<string, CgroupFigures>();

  constructor() {
    const registers = [this.registry];
    this.bootStepSeconds = new Gauge({ name: 'concierge_boot_step_seconds', help: 'How long each boot step took', labelNames: ['step'], registers });
    this.timelineSeconds = new Gauge({ name: 'concierge_timeline_seconds', help: 'Seconds from concierge\'s first line to each timeline mark', labelNames: ['mark'], registers });
    this.daemonRestarts = new Counter({ name: 'concierge_daemon_restarts_total', help: 'Restarts of a supervised daemon after it exited unasked', labelNames: ['daemon'], registers });
    this.daemonStartSeconds = new Gauge({ name: 'concierge_daemon_start_seconds', help: 'Seconds from spawn until the daemon answered, last start', labelNames: ['daemon'], registers });
    this.workloadExits = new Counter({ name: 'concierge_workload_exits_total', help: 'Workload exits by exit code', labelNames: ['workload', 'code'], registers });
    this.workloadStepSeconds = new Gauge({
      name: 'concierge_workload_step_seconds', help: 'How long a workload\'s start steps took (image: resolve or import, create, start)',
      labelNames: ['workload', 'step'], registers,
    });
    this.imagePulls = new Counter({ name: 'concierge_image_pulls_total', help: 'Images resolved from a registry (pulled, or found in containerd by if-not-present)', registers });
    this.imagePullLayers = new Counter({ name: 'concierge_image_pull_layers_total', help: 'Layers fetched from registries', registers });
    this.imagePullBytes = new Counter({ name: 'concierge_image_pull_bytes_total', help: 'Bytes fetched from registries', registers });
    this.imagePullSeconds = new Gauge({ name: 'concierge_image_pull_seconds', help: 'How long the last pull of each image took', labelNames: ['image'], registers });
    new Gauge({
      name: 'concierge_resident_memory_bytes', help: 'concierge\'s own resident memory (RSS), read when scraped', registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    const figures = (): Map<string, CgroupFigures> => this.readFigures();
    for (const [name, help, pick] of figureGauges) {
      new Gauge({
        name, help, labelNames: ['workload'], registers,
        collect() {
          this.reset();
          for (const [workload, f] of figures()) {
            const v = pick(f);
            if (v !== undefined) this.set({ workload }, v);
          }
        },
      });
    }
  }

  imagePulled(image: string, pulled: { layers: number; bytes: number; ms: number }): void {
    this.imagePulls.inc();
    this.imagePullLayers.inc(pulled.layers);
    this.imagePullBytes.inc(pulled.bytes);
    this.imagePullSeconds.set({ image }, pulled.ms / 1000);
  }

  addWorkload(cgroup: WorkloadCgroup): void {
    this.cgroups.set(cgroup.workload, cgroup);
  }

  /** Keeps a workload's last figures (read at its exit, before its cgroup is removed). */
  workloadEnded(workload: string): void {
    const cgroup = this.cgroups.get(workload);
    const last = cgroup?.read();
    if (last !== undefined) this.lastFigures.set(workload, last);
    this.cgroups.delete(workload);
  }

  private readFigures(): Map<string, CgroupFigures> {
    const out = new Map(this.lastFigures);
    for (const [workload, cgroup] of this.cgroups) {
      const f = cgroup.read();
      if (f !== undefined) out.set(workload, f);
    }
    return out;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
