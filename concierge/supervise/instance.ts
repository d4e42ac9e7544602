import { performance } from 'node:perf_hooks';
import { boot } from '../boot/boot.js';
import { SpecError, type InstanceSpec } from '../instance/spec.js';
import type { Timeline } from '../boot/timeline.js';
import { log } from '../log/logger.js';
import { PR, sys } from '../sys/index.js';
import { childRegistry } from './child-registry.js';
import type { SupervisedDaemon } from './daemon.js';
import { containerdDaemon, dockerdDaemon } from './daemons.js';
import { disableCtrlAltDelAndCheckMachineInit } from './machine.js';
import { Reaper } from './reaper.js';
import { endMachine, openExitPort, killRemaining, runSteps, unmountAll } from './shutdown.js';
import { runTestHooks } from './test-hooks.js';
import { startWorkloads, type RunningWorkloads } from './workloads.js';

/** Exit codes of the instance when no workload result decides it. */
export const exitCodes = { ok: 0, bootFailed: 1, badSpec: 2, uncaught: 70 } as const;

/**
 * concierge as init (brief 3): boot, containerd, then dockerd and the workloads in parallel, all
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
  private shuttingDown = false;
  private rebootAtEnd = false;

  constructor(private readonly timeline: Timeline, private readonly specPath: string | undefined) {}

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
      this.spec = boot(this.timeline, this.specPath).spec;
    } catch (err) {
      const badSpec = err instanceof SpecError;
      void this.shutdown(`${badSpec ? 'bad instance spec' : 'boot failed'}: ${(err as Error).message}`, badSpec ? exitCodes.badSpec : exitCodes.bootFailed);
      return;
    }
    runTestHooks();
    this.startServices(this.spec);
  }

  private installHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGPWR'] as const) {
      process.on(signal, () => void this.shutdown(`signal ${signal}`, exitCodes.ok));
    }
    process.on('SIGHUP', () => log.info('SIGHUP ignored'));
    process.on('uncaughtException', (err) => void this.shutdown(`uncaught error: ${err.stack ?? err.message}`, exitCodes.uncaught));
    process.on('unhandledRejection', (err) => void this.shutdown(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, exitCodes.uncaught));
  }

  private startServices(spec: InstanceSpec): void {
    const containerd = containerdDaemon(spec);
    this.containerd = containerd;
    containerd.on('ready', ({ restarts }) => {
      if (restarts === 0) this.timeline.mark('containerd ready');
    });
    this.timeline.mark('containerd spawned');
    containerd.start();
    if (spec.docker.enabled) {
      const dockerd = dockerdDaemon(spec);
      this.dockerd = dockerd;
      dockerd.on('ready', ({ restarts }) => {
        if (restarts === 0) this.timeline.mark('dockerd ready');
      });
    }
    // The job does not wait for dockerd (brief 3): workloads start once containerd answers, dockerd
    // comes up beside them; the proxy holds requests until it answers.
    containerd.whenReady().then(async () => {
      if (this.shuttingDown) return;
      this.dockerd?.start();
      this.workloads = await startWorkloads(spec, this.timeline, (code) => this.onWorkloadsDone(spec, code));
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

  /** The one way out. Later calls (a second signal, an error during shutdown) are logged only. */
  async shutdown(reason: string, code: number): Promise<void> {
    if (this.shuttingDown) {
      log.warn({ reason }, 'already shutting down');
      return;
    }
    this.shuttingDown = true;
    const started = performance.now();
    log.info({ reason, exitCode: code }, `shutdown: ${reason.split('\n')[0] ?? reason}`);
    const workloadTimeoutMs = (this.spec?.shutdown.workloadTimeoutMs ?? 10_000) + 5_000;
    const daemonTimeoutMs = (this.spec?.shutdown.daemonTimeoutMs ?? 10_000) + 5_000;
    const exitPort = this.machineInit && !this.rebootAtEnd ? openExitPort() : undefined;
    await runSteps([
      { name: 'workloads stopped', run: () => this.workloads?.stop(), timeoutMs: workloadTimeoutMs },
      { name: 'dockerd stopped', run: () => this.dockerd?.stop(), timeoutMs: daemonTimeoutMs },
      { name: 'containerd stopped', run: () => this.containerd?.stop(), timeoutMs: daemonTimeoutMs },
      { name: 'remaining processes ended', run: () => killRemaining(2000) },
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
}
