import { log } from '../log/logger.js';
import { WAIT, isSysError, sys } from '../sys/index.js';
import type { ChildRegistry } from './child-registry.js';
import { listProcesses } from '../os/processes.js';

/** The pids of zombie children of `parent`, from /proc/<pid>/stat. */
export function zombieChildren(parent: number): number[] {
  return listProcesses().filter((p) => p.state === 'Z' && p.ppid === parent).map((p) => p.pid);
}

/**
 * Reaps orphans re-parented to this process (PID 1 or a subreaper), never Node's own children
 * (brief 3): peek with waitid(WNOWAIT) and reap by pid what is not registered. When a registered
 * child stands first in line, /proc is scanned to reach the zombies behind it, and a retry is
 * scheduled for after libuv has reaped it. Woken by SIGCHLD (process.on: an addon's sigaction would
 * be replaced by libuv's), with a timer as a backstop for coalesced or lost signals.
 */
export class Reaper {
  reaped = 0;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly registry: ChildRegistry, private readonly backstopMs = 1000) {}

  start(): void {
    process.on('SIGCHLD', this.reap);
    this.timer = setInterval(this.reap, this.backstopMs);
    this.timer.unref();
    this.reap();
  }

  stop(): void {
    process.off('SIGCHLD', this.reap);
    clearInterval(this.timer);
    clearTimeout(this.retry);
  }

  readonly reap = (): void => {
    try {
      for (;;) {
        let pid: number;
        try {
          pid = sys.waitidPeek();
        } catch (err) {
          if (isSysError(err, 'ECHILD')) return;
          throw err;
        }
        if (pid === 0) return;
        if (this.registry.has(pid)) {
          this.reapBehind();
          return;
        }
        this.reapOne(pid);
      }
    } catch (err) {
      log.error({ err }, 'reaper failed');
    }
  };

  private reapOne(pid: number): void {
    try {
      if (sys.waitpid(pid, WAIT.NOHANG) !== null) this.reaped++;
    } catch (err) {
      if (!isSysError(err, 'ECHILD')) throw err; // reaped by someone else meanwhile
    }
  }

  private reapBehind(): void {
    for (const pid of zombieChildren(process.pid)) if (!this.registry.has(pid)) this.reapOne(pid);
    if (this.retry === undefined) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.reap();
      }, 10);
      this.retry.unref();
    }
  }
}
