import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { log } from '../log/logger.js';
import { untilExists } from './readiness.js';

export interface DaemonDefinition {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Its stdout and stderr are appended here (the console gets concierge's lines only). */
  logPath: string;
  /** One readiness probe: true when the daemon answers. */
  probe(): Promise<boolean>;
  /**
   * A file the daemon makes just before it answers (its socket): probes wait for it to appear. Under
   * emulation, a connect every 10 ms from the spawn on took CPU from the daemon's own start.
   */
  readyFile?: string;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs: number;
}

export type DaemonState = 'idle' | 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped';

const probeIntervalMs = 10;
/** The longest wait for the ready file between two probes. */
const readyFileWaitMs = 250;
const firstBackoffMs = 100;
const maxBackoffMs = 5000;
/** A run this long counts as healthy: the next failure starts the backoff over. */
const healthyRunMs = 10_000;

/** The events of a SupervisedDaemon and their arguments. */
export interface DaemonEvents {
  ready: [info: { pid: number; startMs: number; restarts: number }];
  exit: [info: { pid: number; code: number | null; signal: NodeJS.Signals | null }];
  stopped: [];
}

/**
 * A daemon kept running: spawned, probed until it answers ("ready"), restarted with exponential
 * backoff when it dies unasked, stopped with SIGTERM then SIGKILL.
 */
export class SupervisedDaemon extends EventEmitter<DaemonEvents> {
  state: DaemonState = 'idle';
  restarts = 0;
  private child: ChildProcess | undefined;
  private failures = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly definition: DaemonDefinition) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.state !== 'idle' && this.state !== 'backoff') return;
    const d = this.definition;
    const output = openSync(d.logPath, 'a');
    const started = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(d.command, d.args, { env: d.env, stdio: ['ignore', output, output] });
    } finally {
      closeSync(output);
    }
    this.child = child;
    this.state = 'starting';
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.onExit(child, started, code, signal);
        resolve();
      });
    });
    child.once('error', (err) => log.error({ daemon: d.name, err: err.message }, 'daemon did not start'));
    void this.waitReady(child, started);
  }

  /** Resolves when the daemon answers (again, after a restart). */
  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onReady = (): void => {
        this.off('stopped', onStopped);
        resolve();
      };
      const onStopped = (): void => {
        this.off('ready', onReady);
        reject(new Error(`${this.definition.name} was stopped before it answered`));
      };
      this.once('ready', onReady);
      this.once('stopped', onStopped);
    });
  }

  private async waitReady(child: ChildProcess, started: number): Promise<void> {
    const { readyFile } = this.definition;
    while (this.child === child && this.state === 'starting') {
      if (readyFile !== undefined) await untilExists(readyFile, readyFileWaitMs);
      if (this.child !== child || this.state !== 'starting') return;
      if (await this.definition.probe()) {
        if (this.child !== child || this.state !== 'starting') return;
        this.state = 'ready';
        const startMs = Math.round(performance.now() - started);
        log.info({ daemon: this.definition.name, pid: child.pid, startMs, restarts: this.restarts }, `${this.definition.name} ready`);
        this.emit('ready', { pid: child.pid ?? 0, startMs, restarts: this.restarts });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
    }
  }

  private onExit(child: ChildProcess, started: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    const name = this.definition.name;
    this.emit('exit', { pid: child.pid ?? 0, code, signal });
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.failures = performance.now() - started > healthyRunMs ? 1 : this.failures + 1;
    const delay = Math.min(firstBackoffMs * 2 ** (this.failures - 1), maxBackoffMs);
    log.warn({ daemon: name, pid: child.pid, code, signal, restartInMs: delay }, `${name} exited; restarting`);
    this.state = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.restarts++;
      this.start();
    }, delay);
  }

  /** SIGTERM, SIGKILL after the timeout; resolves once it has exited. */
  async stop(): Promise<void> {
    clearTimeout(this.backoffTimer);
    const child = this.child;
    const running = child !== undefined && child.exitCode === null && child.signalCode === null;
    this.state = 'stopping';
    if (running) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => {
        log.warn({ daemon: this.definition.name, timeoutMs: this.definition.stopTimeoutMs }, 'daemon ignored SIGTERM; SIGKILL');
        child.kill('SIGKILL');
      }, this.definition.stopTimeoutMs);
      await this.exited;
      clearTimeout(killer);
    }
    this.state = 'stopped';
    this.emit('stopped');
  }
}
