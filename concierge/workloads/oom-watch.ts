// A running workload's OOM kills as they happen: the kernel marks its cgroup's memory.events modified
// (an inotify event) when a count changes, and a rise of `oom_kill` is a process of the workload killed
// by the OOM killer, whether or not the workload's own process was the one (it may live on).
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { oomKills } from './cgroup.js';

export interface OomWatch {
  close(): void;
}

/** Calls `onKill` with the cgroup's OOM kill count each time it rises, until closed or the cgroup goes. */
export function watchOomKills(dir: string, onKill: (oomKills: number) => void): OomWatch {
  let seen = oomKills(dir);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(join(dir, 'memory.events'), { persistent: false }, () => {
      const now = oomKills(dir);
      if (now > seen) {
        seen = now;
        onKill(now);
      }
    });
    watcher.on('error', () => watcher?.close()); // the cgroup was removed
  } catch {
    // No memory controller for this cgroup: no OOM kills to see.
  }
  return { close: () => watcher?.close() };
}
