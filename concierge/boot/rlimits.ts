import { readFileSync } from 'node:fs';
import { RLIMIT, isSysError, sys } from '../sys/index.js';
import type { RlimitSpec } from '../instance/spec.js';
import { done, skipped, type StepResult } from './step.js';

const resources: Record<string, number> = {
  nofile: RLIMIT.NOFILE,
  nproc: RLIMIT.NPROC,
  core: RLIMIT.CORE,
  memlock: RLIMIT.MEMLOCK,
  stack: RLIMIT.STACK,
};

/**
 * PID 1's limits are every daemon's and container's starting point: containerd and dockerd want many
 * open files (the kernel's nr_open is the ceiling). The spec's values win.
 */
export function defaultRlimits(): Record<string, RlimitSpec> {
  const nrOpen = BigInt(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
  const nofile = nrOpen < 1048576n ? nrOpen : 1048576n;
  return { nofile: { soft: nofile, hard: nofile } };
}

/**
 * Sets each limit that differs. `wanted` are the spec's and fail loudly; `defaults` are concierge's
 * wishes: where raising the hard limit is not permitted (no CAP_SYS_RESOURCE, as on some build
 * machines), they settle for the current hard limit.
 */
export function applyRlimits(wanted: Record<string, RlimitSpec>, defaults: Record<string, RlimitSpec> = {}): StepResult {
  const changed: string[] = [];
  for (const [name, limit] of Object.entries({ ...defaults, ...wanted })) {
    const resource = resources[name];
    if (resource === undefined) throw new Error(`unknown rlimit ${name}`);
    const current = sys.getrlimit(resource);
    if (current.soft === limit.soft && current.hard === limit.hard) continue;
    try {
      sys.setrlimit(resource, limit.soft, limit.hard);
      changed.push(`${name}=${limit.soft}:${limit.hard}`);
    } catch (err) {
      if (name in wanted || !isSysError(err, 'EPERM') || limit.hard <= current.hard) throw err;
      const soft = limit.soft < current.hard ? limit.soft : current.hard;
      if (soft === current.soft) continue;
      sys.setrlimit(resource, soft, current.hard);
      changed.push(`${name}=${soft}:${current.hard} (hard limit not raisable)`);
    }
  }
  return changed.length === 0 ? skipped('all set') : done(changed.join(' '));
}
