// Which concierge process owns a container, written as a label, so a later concierge can tell what an
// interrupted one left behind (the owner is gone) from what a live one is running.
import { readFileSync } from 'node:fs';

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

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the command name, which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** boot id / pid / start time: unique across reboots and pid reuse. */
export function ownerId(pid = process.pid): string {
  return `${bootId()}/${pid}/${startTime(pid) ?? '0'}`;
}

export function isOwnerAlive(owner: string): boolean {
  const [boot, pid] = owner.split('/');
  if (boot !== bootId() || pid === undefined || !/^\d+$/.test(pid)) return false;
  return ownerId(Number(pid)) === owner;
}
