import { openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { readMountInfo } from '../os/mountinfo.js';
import { log } from '../log/logger.js';
import { MNT, REBOOT, sys } from '../sys/index.js';
import { listProcesses } from '../os/processes.js';

export interface ShutdownStep {
  name: string;
  run(): Promise<unknown> | unknown;
  /** Given up on after this long (the next steps still run). */
  timeoutMs?: number;
}

/** Runs steps in order, each timed and logged; a failing or stuck step is logged and passed. */
export async function runSteps(steps: ShutdownStep[]): Promise<void> {
  for (const step of steps) {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        if (step.timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), step.timeoutMs);
      });
      const outcome = await Promise.race([Promise.resolve(step.run()), timeout]);
      const tookMs = Math.round(performance.now() - started);
      if (outcome === 'timeout') log.warn({ shutdownStep: step.name, tookMs }, `shutdown: ${step.name} timed out`);
      else log.info({ shutdownStep: step.name, tookMs }, `shutdown: ${step.name}`);
    } catch (err) {
      log.error({ shutdownStep: step.name, err }, `shutdown: ${step.name} failed`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Processes that still need to end: not PID 1, not a kernel thread (kthreadd, pid 2, and its children
 * never exit and ignore signals: counting them made every shutdown wait the whole grace period), not a
 * zombie (already ended, waiting for the reaper).
 */
function otherProcesses(): number[] {
  return listProcesses().filter((p) => p.pid !== process.pid && p.pid !== 2 && p.ppid !== 2 && p.state !== 'Z').map((p) => p.pid);
}

/**
 * PID 1 only: SIGTERM to every other process (kill(-1) spares the caller), SIGKILL to what is left
 * after `graceMs`. The reaper collects them meanwhile.
 */
export async function killRemaining(graceMs: number): Promise<number> {
  if (process.pid !== 1) return 0;
  const before = otherProcesses().length;
  if (before === 0) return 0;
  process.kill(-1, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (otherProcesses().length > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (otherProcesses().length > 0) process.kill(-1, 'SIGKILL');
  return before;
}

/**
 * Unmounts everything but `/`, last mounted first; a busy mount is detached lazily as a last resort.
 * Returns counts for the log.
 */
export function unmountAll(): { unmounted: number; detached: number; failed: string[] } {
  const mounts = readMountInfo().filter((m) => m.mountPoint !== '/').reverse();
  let unmounted = 0;
  let detached = 0;
  const failed: string[] = [];
  for (const m of mounts) {
    try {
      sys.umount2(m.mountPoint, MNT.UMOUNT_NOFOLLOW);
      unmounted++;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT') continue; // already gone with a parent
      try {
        sys.umount2(m.mountPoint, MNT.DETACH | MNT.UMOUNT_NOFOLLOW);
        detached++;
      } catch {
        failed.push(m.mountPoint);
      }
    }
  }
  return { unmounted, detached, failed };
}

/**
 * The VMM's exit device (qemu's `isa-debug-exit` at I/O port 0xf4): a byte written there ends qemu with
 * status `(byte << 1) | 1`, so the host gets the job's code without parsing the console. Opened before
 * /dev is unmounted; absent (no /dev/port, no such device) it changes nothing.
 */
export function openExitPort(): number | undefined {
  try {
    return openSync('/dev/port', 'w');
  } catch {
    return undefined;
  }
}

/** The end: report the code to the VMM, then power off or reboot. Does not return when it works. */
export function endMachine(reboot: boolean, exitPort: number | undefined, code: number): void {
  if (!reboot && exitPort !== undefined) {
    try {
      writeSync(exitPort, Buffer.of(Math.min(Math.max(code, 0), 127)), 0, 1, 0xf4);
    } catch {
      // No exit device on this port: the power-off below still ends the VM.
    }
  }
  sys.reboot(reboot ? REBOOT.RESTART : REBOOT.POWER_OFF);
}
