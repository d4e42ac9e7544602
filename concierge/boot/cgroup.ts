import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../log/logger.js';
import { done, skipped, type StepResult } from './step.js';

export const cgroupRoot = '/sys/fs/cgroup';
/** concierge's leaf: processes may live only in leaves once a non-root cgroup delegates controllers. */
export const initCgroup = 'init';

/** This process's cgroup v2 path inside its cgroup namespace ("/" or "/init"). */
export function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? '/' : line.slice(3);
}

export interface CgroupFacts {
  /** The hierarchy's real root (no `cgroup.type`), which may hold processes and delegate at once. */
  realRoot: boolean;
  inLeaf: boolean;
  offered: string[];
  enabled: string[];
}

/**
 * What the cgroups step does. Every controller offered is enabled for the children. concierge moves into
 * the leaf /init only when it must: below the real root (a cgroup namespace's root) a cgroup that still
 * holds a process cannot delegate, and a move waits for an RCU grace period in the kernel (about 16 ms
 * here, far more under TCG), so it is not done where nothing is delegated or the real root allows both.
 */
export function cgroupPlan(facts: CgroupFacts): { moveToLeaf: boolean; enable: string[] } {
  const enable = facts.offered.filter((c) => !facts.enabled.includes(c));
  return { moveToLeaf: enable.length > 0 && !facts.realRoot && !facts.inLeaf, enable };
}

/** A hierarchy offering no controllers (a hybrid host, v1 holding them) is tolerated: logged, no error. */
export function setUpCgroups(root = cgroupRoot): StepResult {
  if (!existsSync(join(root, 'cgroup.controllers'))) return skipped(`no cgroup v2 at ${root}`);
  const facts: CgroupFacts = {
    realRoot: !existsSync(join(root, 'cgroup.type')),
    inLeaf: ownCgroup() === `/${initCgroup}`,
    offered: words(join(root, 'cgroup.controllers')),
    enabled: words(join(root, 'cgroup.subtree_control')),
  };
  if (facts.offered.length === 0) {
    log.warn({ root }, 'cgroup v2 offers no controllers here (hybrid layout: v1 holds them); continuing without');
    return skipped('no controllers offered');
  }
  const plan = cgroupPlan(facts);
  const actions: string[] = [];
  if (plan.moveToLeaf) {
    mkdirSync(join(root, initCgroup), { recursive: true });
    writeFileSync(join(root, initCgroup, 'cgroup.procs'), String(process.pid));
    actions.push(`moved to /${initCgroup}`);
  }
  if (plan.enable.length > 0) {
    writeFileSync(join(root, 'cgroup.subtree_control'), plan.enable.map((c) => `+${c}`).join(' '));
    actions.push(`enabled ${plan.enable.join(' ')}`);
  }
  return actions.length === 0 ? skipped('already set up') : done(actions.join(', '));
}

function words(path: string): string[] {
  return readFileSync(path, 'utf8').split(/\s+/).filter((w) => w !== '');
}
