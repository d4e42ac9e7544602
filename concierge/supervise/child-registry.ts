import { ChildProcess } from 'node:child_process';

/**
 * The pids Node itself spawned (every child_process API goes through ChildProcess#spawn): libuv reaps
 * those with waitpid(pid), so the reaper must leave them alone or their `exit` events never fire.
 * A pid is registered synchronously after spawn returns, before any reaper callback can run, and
 * removed once Node has seen it exit.
 */
export class ChildRegistry {
  private readonly pids = new Set<number>();
  private installed = false;

  has(pid: number): boolean {
    return this.pids.has(pid);
  }

  get size(): number {
    return this.pids.size;
  }

  install(): void {
    if (this.installed) return;
    this.installed = true;
    const pids = this.pids;
    // ChildProcess#spawn is internal API (not in the type declarations), hence the cast.
    const proto = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, options: unknown) => unknown };
    const original = proto.spawn;
    proto.spawn = function spawn(this: ChildProcess, options: unknown): unknown {
      const result = original.call(this, options);
      const pid = this.pid;
      if (pid !== undefined) {
        pids.add(pid);
        this.once('exit', () => pids.delete(pid));
      }
      return result;
    };
  }
}

/** The process-wide registry (one patch of ChildProcess, one set of pids). */
export const childRegistry = new ChildRegistry();
