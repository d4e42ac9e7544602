// supervise/: composition root of PID 1; boots, supervises containerd and dockerd, runs the workloads, reaps, shuts down.
import { performance } from 'node:perf_hooks';
import { boot } from '../boot/boot.js';
import { SpecError, type InstanceSpec } from '../instance/spec.js';
import type { Timeline } from '../boot/timeline.js';
import type { DnsServer } from '../dns/server.js';
import { consoleLine } from '../events/console-line.js';
import { EventLog, type InstanceEvent } from '../events/event-log.js';
import { log } from '../log/logger.js';
import type { InstanceMetrics } from '../metrics/instance-metrics.js';
import { readCgroupFigures } from '../workloads/cgroup.js';
import { watchOomKills, type OomWatch } from '../workloads/oom-watch.js';
import { PR, sys } from '../sys/index.js';
import { childRegistry } from './child-registry.js';
import type { SupervisedDaemon } from './daemon.js';
import { containerdDaemon, dockerdDaemon } from './daemons.js';
import { disableCtrlAltDelAndCheckMachineInit } from './machine.js';
import { Reaper } from './reaper.js';
import { endMachine, openExitPort, killRemaining, runSteps, unmountAll } from './shutdown.js';
import type { ControlServers } from './control.js';
import type { RunningWorkloads } from './workloads.js';

/** The workloads' code (the containerd client, the caller-aware proxy), loaded once containerd is spawned. */
export const loadWorkloadsCode = (): Promise<typeof import('./workloads.js')> => import('./workloads.js');
/** The metrics, the control API and the DNS cache (services.ts), loaded once containerd is spawned. */
export const loadServicesCode = (): Promise<typeof import('./services.js')> => import('./services.js');

/** Exit codes of the instance when no workload result decides it. */
export const exitCodes = { ok: 0, bootFailed: 1, badSpec: 2, uncaught: 70 } as const;

/**
 * concierge as init: boot, containerd, then dockerd and the workloads in parallel, all
 * supervised; one orderly shutdown for every way the instance ends (signal, uncaught error, last
 * workload done, boot failure), ending in power-off, or in an exit with the recorded code when this
 * is not the machine's init (a test's pid namespace).
 */
export class Instance {
  private readonly reaper = new Reaper(childRegistry);
  private machineInit = false;
  private spec: InstanceSpec | undefined;
  private containerd: SupervisedDaemon | undefined;
  private dockerd: SupervisedDaemon | undefined;
  private workloads: RunningWorkloads | undefined;
  /** The OOM kills of each running workload, reported as `workload.oom` events. */
  private readonly oomWatches = new Map<string, OomWatch>();
  private dnsCache: Promise<DnsServer | undefined> | undefined;
  private shuttingDown = false;
  private rebootAtEnd = false;
  private shutdownReason: string | undefined;
  private result: { exitCode: number; reason: string } | undefined;
  private specOrigin: string | undefined;
  private control: ControlServers | undefined;
  readonly events = new EventLog();
  /** Made once the services' code is loaded; what is recorded before waits for it. */
  private metrics: InstanceMetrics | undefined;
  private readonly metricsWaiting: ((metrics: InstanceMetrics) => void)[] = [];
  /** The console's event lines, as the spec says; events before it is read wait for it. */
  private consoleFormat: 'text' | 'json' | undefined;
  private consolePending: InstanceEvent[] = [];

  constructor(private readonly timeline: Timeline, private readonly specPath: string | undefined) {
    this.events.follow((e) => this.toConsole(e));
    timeline.onMark = (mark) => {
      this.withMetrics((m) => {
        for (const s of mark.steps) m.bootStepSeconds.set({ step: s.step }, s.tookMs / 1000);
        m.timelineSeconds.set({ mark: mark.name }, mark.atMs / 1000);
      });
      this.events.emit('timeline', { name: mark.name, atMs: mark.atMs, ...(mark.steps.length > 0 ? { steps: mark.steps.map((s) => ({ step: s.step, tookMs: s.tookMs })) } : {}) });
    };
  }

  private withMetrics(record: (metrics: InstanceMetrics) => void): void {
    if (this.metrics !== undefined) record(this.metrics);
    else this.metricsWaiting.push(record);
  }

  private toConsole(e: InstanceEvent): void {
    if (this.consoleFormat === undefined) this.consolePending.push(e);
    else process.stderr.write(this.consoleFormat === 'json' ? `${JSON.stringify(e)}\n` : `${consoleLine(e)}\n`);
  }

  /** Decides the console's format (readable text when no spec could be read) and prints what waited. */
  private setConsoleFormat(format: 'text' | 'json'): void {
    if (this.consoleFormat !== undefined) return;
    this.consoleFormat = format;
    for (const e of this.consolePending.splice(0)) this.toConsole(e);
  }

  /** Starts everything; returns at once. The process then lives until shutdown ends it. */
  start(): void {
    childRegistry.install();
    this.installHandlers();
    this.reaper.start();
    // PID 1 already receives orphans; anyone else must ask for them.
    if (process.pid !== 1) sys.prctl(PR.SET_CHILD_SUBREAPER, 1);
    // Never exit for want of work: PID 1's end is the shutdown's decision.
    setInterval(() => undefined, 1 << 30);
    try {
      this.machineInit = disableCtrlAltDelAndCheckMachineInit();
      const booted = boot(this.timeline, this.specPath);
      this.spec = booted.spec;
      this.specOrigin = booted.specOrigin;
      // A machine's console is for people: events, one line each; concierge's own log keeps to warnings
      // there unless asked (a pid namespace's init, as in tests, keeps its whole log).
      if (this.machineInit && process.env.CONCIERGE_LOG_LEVEL === undefined) log.level = 'warn';
    } catch (err) {
      const badSpec = err instanceof SpecError;
      void this.shutdown(`${badSpec ? 'bad instance spec' : 'boot failed'}: ${(err as Error).message}`, badSpec ? exitCodes.badSpec : exitCodes.bootFailed);
      return;
    }
    // containerd is spawned before the boot's events are written out: its start is on the job's path.
    this.startServices(this.spec);
    this.setConsoleFormat(this.spec.console);
  }

  private installHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGPWR'] as const) {
      process.on(signal, () => void this.shutdown(`signal ${signal}`, exitCodes.ok));
    }
    process.on('SIGHUP', () => log.info('SIGHUP ignored'));
    process.on('uncaughtException', (err) => void this.shutdown(`uncaught error: ${err.stack ?? err.message}`, exitCodes.uncaught));
    process.on('unhandledRejection', (err) => void this.shutdown(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, exitCodes.uncaught));
  }

  /** The daemon's readiness and unasked exits as events and metrics; its first readiness as a timeline mark. */
  private watchDaemon(daemon: SupervisedDaemon): void {
    const name = daemon.definition.name;
    daemon.on('ready', ({ pid, startMs, restarts }) => {
      if (restarts === 0) this.timeline.mark(`${name} ready`);
      this.withMetrics((m) => {
        if (restarts > 0) m.daemonRestarts.inc({ daemon: name });
        m.daemonStartSeconds.set({ daemon: name }, startMs / 1000);
      });
      this.events.emit('daemon.ready', { daemon: name, pid, startMs, restarts });
    });
    daemon.on('exit', ({ pid, code, signal }) => {
      if (daemon.state !== 'stopping' && daemon.state !== 'stopped') this.events.emit('daemon.exited', { daemon: name, pid, code, signal });
    });
  }

  private startServices(spec: InstanceSpec): void {
    // containerd first: its start under emulation is seconds of the job's critical path; nothing
    // below is its input.
    const containerd = containerdDaemon(spec);
    this.containerd = containerd;
    this.watchDaemon(containerd);
    this.timeline.mark('containerd spawned');
    containerd.start();
    const services = loadServicesCode();
    // The DNS cache before dockerd and the workloads, which resolve through it (binding takes a moment).
    this.dnsCache = services.then((s) => s.startDnsCache(spec));
    this.dnsCache.then((server) => {
      if (server !== undefined) this.timeline.mark('dns cache listening', { address: server.address, port: server.port });
    }, (err: unknown) => {
      if (!this.shuttingDown) void this.shutdown(`start failed: dns cache: ${(err as Error).message}`, exitCodes.bootFailed);
    });
    void services.then((s) => {
      const metrics = s.instanceMetrics(spec);
      this.metrics = metrics;
      for (const record of this.metricsWaiting.splice(0)) record(metrics);
      return s.serveControl(`${spec.runDir}/control.sock`, [
        s.instanceRoutes({ status: () => this.status(), shutdown: (reason) => this.requestShutdown(reason) }, this.events, metrics),
        (req, res, url, parts) => {
          if (parts[0] !== 'workloads') return Promise.resolve(false);
          if (this.workloads === undefined) {
            res.writeHead(503, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ message: 'workloads are not running yet (containerd is starting)' }));
            return Promise.resolve(true);
          }
          return this.workloads.routes.handle(req, res, url, parts);
        },
      ], spec.hostChannel.vsockPort);
    }).then((c) => { this.control = c; }, (err: Error) => log.error({ err: err.message }, 'control API did not start'));
    // The workloads' code (the containerd client, the caller-aware proxy) is loaded while containerd
    // starts, not before the boot: under emulation that is seconds of the critical path.
    const workloadsCode = loadWorkloadsCode();
    if (spec.docker.enabled) {
      const dockerd = dockerdDaemon(spec);
      this.dockerd = dockerd;
      this.watchDaemon(dockerd);
    }
    // The job waits for neither dockerd nor competes with it: dockerd starts once the workloads'
    // tasks are created (or failed), so its start does not take the vCPUs their creation needs; the
    // proxy holds requests until it answers.
    let dockerdStarted = false;
    const startDockerd = (): void => {
      if (dockerdStarted || this.shuttingDown) return;
      dockerdStarted = true;
      this.dockerd?.start();
    };
    let starting = spec.workloads.length;
    const oneStarted = (): void => { if (--starting <= 0) startDockerd(); };
    containerd.whenReady().then(async () => {
      if (this.shuttingDown) return;
      if (spec.workloads.length === 0) startDockerd();
      const { startWorkloads } = await workloadsCode;
      // Registry names resolve through the DNS cache: it listens before the first pull.
      await this.dnsCache;
      this.workloads = await startWorkloads(spec, this.timeline, {
        started: (w) => {
          oneStarted();
          this.withMetrics((m) => m.addWorkload({ workload: w.spec.id, read: () => readCgroupFigures(w.cgroupDir) }));
          this.oomWatches.set(w.spec.id, watchOomKills(w.cgroupDir, (oomKills) => this.events.emit('workload.oom', { workload: w.spec.id, oomKills })));
          const t = w.timings;
          this.withMetrics((m) => { for (const [step, ms] of Object.entries(t)) m.workloadStepSeconds.set({ workload: w.spec.id, step }, ms / 1000); });
          this.events.emit('workload.started', { workload: w.spec.id, runtime: w.ociRuntime, pid: w.pid ?? 0, imageMs: t.image ?? 0, createMs: t.create ?? 0, startMs: t.start ?? 0 });
        },
        exited: (w, exit) => {
          this.oomWatches.get(w.spec.id)?.close();
          this.oomWatches.delete(w.spec.id);
          this.withMetrics((m) => {
            m.workloadEnded(w.spec.id);
            m.workloadExits.inc({ workload: w.spec.id, code: String(exit.exitCode) });
          });
          this.events.emit('workload.exited', { workload: w.spec.id, exitCode: exit.exitCode, signal: exit.signal, oomKilled: exit.oomKilled });
        },
        failed: (id, err) => {
          oneStarted();
          this.events.emit('workload.failed', { workload: id, error: err.message });
        },
        pulled: (image, figures) => {
          this.withMetrics((m) => m.imagePulled(image, figures));
          this.events.emit('image.pulled', { image, ...figures });
        },
        done: (code) => this.onWorkloadsDone(spec, code),
      }, { dockerdReady: this.dockerd?.whenReady().catch(() => undefined), shareRuncShim: true });
    }).catch((err: unknown) => {
      if (!this.shuttingDown) void this.shutdown(`start failed: ${(err as Error).message}`, exitCodes.bootFailed);
    });
  }

  private onWorkloadsDone(spec: InstanceSpec, lastExitCode: number): void {
    if (spec.afterWorkloads === 'stay') {
      log.info({ exitCode: lastExitCode }, 'last workload exited; staying up (afterWorkloads "stay")');
      return;
    }
    this.rebootAtEnd = spec.afterWorkloads === 'reboot';
    void this.shutdown('last workload exited', lastExitCode);
  }

  /** What the control API's GET /status answers. */
  private status(): unknown {
    return {
      state: this.result !== undefined ? 'ended' : this.shuttingDown ? 'shutting down' : this.workloads === undefined ? 'booting' : 'running',
      specOrigin: this.specOrigin ?? null,
      timeline: this.timeline.marks.map((m) => ({ name: m.name, atMs: m.atMs, ...m.fields, ...(m.steps.length > 0 ? { steps: m.steps } : {}) })),
      daemons: [this.containerd, this.dockerd].flatMap((d) => (d === undefined ? [] : [{
        name: d.definition.name, state: d.state, pid: d.pid ?? null, restarts: d.restarts,
      }])),
      workloads: this.workloads?.routes === undefined ? [] : this.workloadList(),
      shutdown: this.shutdownReason === undefined ? null : { reason: this.shutdownReason },
      result: this.result ?? null,
    };
  }

  private workloadList(): unknown[] {
    const list = this.workloads?.routes.list() ?? [];
    return list.map((w) => ({
      id: w.workloadId, state: w.state, pid: w.pid ?? null, exitCode: w.exitCode ?? null, signal: w.signal, oomKilled: w.oomKilled, timings: w.timings,
    }));
  }

  /** A shutdown the host asked for: the result is then the code the workloads ended with. */
  private requestShutdown(reason: string): boolean {
    if (this.shuttingDown) return false;
    void this.shutdown(`host request: ${reason}`, () => this.workloads?.lastExitCode ?? exitCodes.ok);
    return true;
  }

  /**
   * The one way out. Later calls (a second signal, an error during shutdown) are logged only. `code`
   * may be decided once the workloads have stopped.
   */
  async shutdown(reason: string, exitCode: number | (() => number)): Promise<void> {
    if (this.shuttingDown) {
      log.warn({ reason }, 'already shutting down');
      return;
    }
    this.shuttingDown = true;
    this.setConsoleFormat('text');
    this.shutdownReason = reason.split('\n')[0] ?? reason;
    const started = performance.now();
    log.info({ reason }, `shutdown: ${this.shutdownReason}`);
    this.events.emit('shutdown.started', { reason: this.shutdownReason });
    const workloadTimeoutMs = (this.spec?.shutdown.workloadTimeoutMs ?? 10_000) + 5_000;
    const daemonTimeoutMs = (this.spec?.shutdown.daemonTimeoutMs ?? 10_000) + 5_000;
    const exitPort = this.machineInit && !this.rebootAtEnd ? openExitPort() : undefined;
    let code = typeof exitCode === 'number' ? exitCode : exitCodes.ok;
    await runSteps([
      { name: 'workloads stopped', run: () => this.workloads?.stop(), timeoutMs: workloadTimeoutMs },
      { name: 'result decided', run: () => { code = typeof exitCode === 'number' ? exitCode : exitCode(); } },
      { name: 'dockerd stopped', run: () => this.dockerd?.stop(), timeoutMs: daemonTimeoutMs },
      { name: 'containerd stopped', run: () => this.containerd?.stop(), timeoutMs: daemonTimeoutMs },
      { name: 'dns cache closed', run: async () => (await this.dnsCache?.catch(() => undefined))?.close(), timeoutMs: 2000 },
      { name: 'remaining processes ended', run: () => killRemaining(2000) },
      { name: 'control API closed', run: () => this.tellHostAndClose(code, started) },
      { name: 'reaper stopped', run: () => this.reaper.stop() },
      { name: 'synced', run: () => { process.chdir('/'); sys.sync(); } },
      { name: 'unmounted', run: () => log.info(unmountAll(), 'unmount summary') },
      { name: 'synced after unmount', run: () => sys.sync() },
    ]);
    // The instance's result, one stable line for the host reading the console.
    process.stderr.write(`concierge: result exit-code=${code} reason=${JSON.stringify(reason.split('\n')[0])} shutdown-ms=${Math.round(performance.now() - started)}\n`);
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    if (this.machineInit) {
      try {
        endMachine(this.rebootAtEnd, exitPort, code);
      } catch (err) {
        log.fatal({ err }, 'reboot(2) failed; halting here');
      }
      // PID 1 must never exit (the kernel would panic): wait for the power to go.
      return;
    }
    process.exit(code);
  }

  /**
   * The last event (power-off, with the result) goes out to the host before the channel closes: the
   * host's reader gets the exit code from it. A connected host is given a moment for the bytes to leave.
   */
  private async tellHostAndClose(code: number, started: number): Promise<void> {
    const reason = this.shutdownReason ?? '';
    this.result = { exitCode: code, reason };
    this.events.emit('poweroff', { exitCode: code, reason, shutdownMs: Math.round(performance.now() - started) });
    if (this.control?.hostConnected === true) await new Promise((resolve) => setTimeout(resolve, hostFlushMs));
    await this.control?.close();
  }
}

/** Time for the last event to reach a connected host before the channel closes. */
const hostFlushMs = 300;
