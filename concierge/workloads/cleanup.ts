// Finds what an interrupted concierge left in containerd (containers labelled with an owner process
// that no longer exists) and removes it: task, container, snapshot, FIFOs.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerdClient } from '../containerd/client.js';
import { ignoreNotFound } from '../containerd/errors.js';
import { log } from '../log/logger.js';
import { isOwnerAlive, labels } from './owner.js';

/** Removes the workloads whose owner is gone; returns the ids of the live ones (a running concierge's). */
export async function removeOrphanedWorkloads(client: ContainerdClient, fifoRoot: string): Promise<Set<string>> {
  const { containers } = await client.containers.list({ filters: [`labels."${labels.workload}"`] });
  const removed: string[] = [];
  const live = new Set<string>();
  for (const c of containers) {
    const owner = c.labels[labels.owner] ?? '';
    if (isOwnerAlive(owner)) {
      live.add(c.labels[labels.workload] ?? c.id);
      continue;
    }
    await removeContainer(client, c.id, c.snapshotter, c.snapshotKey);
    rmSync(join(fifoRoot, c.id), { recursive: true, force: true });
    removed.push(c.id);
  }
  if (removed.length > 0) log.info({ containers: removed }, 'removed workloads left by an interrupted concierge');
  return live;
}

export async function removeContainer(client: ContainerdClient, id: string, snapshotter: string, snapshotKey: string): Promise<void> {
  await ignoreNotFound(client.tasks.kill({ containerId: id, signal: 9, all: true })).catch(() => undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      await ignoreNotFound(client.tasks.delete({ containerId: id }));
      break;
    } catch (err) {
      // A task killed a moment ago may still be "running" until the shim reports its exit.
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await ignoreNotFound(client.containers.delete({ id }));
  if (snapshotKey) await ignoreNotFound(client.snapshots.remove({ snapshotter: snapshotter || 'overlayfs', key: snapshotKey }));
}
