import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../log/logger.js';
import { done, skipped, type StepResult } from './step.js';

export const cgroupRoot = '/sys/fs/cgroup';
/** concierge's leaf: processes may live only in leaves once the root delegates controllers. */
export const initCgroup = 'init';

/** This process's cgroup v2 path inside its cgroup namespace ("/" or "/init"). */
export function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? '/' : line.slice(3);
}

/**
 * concierge moves into the leaf /init, then every controller the root offers is enabled for its
 * children (in that order: a cgroup below the real root that still holds a process cannot delegate).
 * A hierarchy offering no controllers (a hybrid host, v1 holding them) is tolerated: logged, no error.
 */
export function setUpCgroups(root = cgroupRoot): StepResult {
  if (!existsSync(join(root, 'cgroup.controllers'))) return skipped(`no cgroup v2 at ${root}`);
  const actions: string[] = [];
  if (ownCgroup() !== `/${initCgroup}`) {
    mkdirSync(join(root, initCgroup), { recursive: true });
    writeFileSync(join(root, initCgroup, 'cgroup.procs'), String(process.pid));
    actions.push(`moved to /${initCgroup}`);
  }
  const offered = words(join(root, 'cgroup.controllers'));
  const enabled = new Set(words(join(root, 'cgroup.subtree_control')));
  const missing = offered.filter((c) => !enabled.has(c));
  if (offered.length === 0) {
    log.warn({ root }, 'cgroup v2 offers no controllers here (hybrid layout: v1 holds them); continuing without');
    actions.push('no controllers offered');
  } else if (missing.length > 0) {
    writeFileSync(join(root, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
    actions.push(`enabled ${missing.join(' ')}`);
  }
  return actions.length === 0 ? skipped('already set up') : done(actions.join(', '));
}

function words(path: string): string[] {
  return readFileSync(path, 'utf8').split(/\s+/).filter((w) => w !== '');
}
