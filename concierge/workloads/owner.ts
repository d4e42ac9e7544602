// Which concierge process owns a container, written as a label, so a later concierge can tell what an
// interrupted one left behind (the owner is gone) from what a live one is running.
import { readFileSync } from 'node:fs';
import { readProcess } from '../os/processes.js';

export const labels = {
  workload: 'io.concierge.workload',
  owner: 'io.concierge.owner',
} as const;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

/** boot id / pid / start time: unique across reboots and pid reuse. */
export function ownerId(pid = process.pid): string {
  return `${bootId()}/${pid}/${readProcess(pid)?.startTime ?? '0'}`;
}

export function isOwnerAlive(owner: string): boolean {
  const [boot, pid] = owner.split('/');
  if (boot !== bootId() || pid === undefined || !/^\d+$/.test(pid)) return false;
  return ownerId(Number(pid)) === owner;
}
