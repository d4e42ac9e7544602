import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchOomKills } from './oom-watch.js';

describe('a workload\'s OOM kills', () => {
  it('are reported as memory.events\' oom_kill rises, not for other changes, and not after close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oom-watch-'));
    const events = join(dir, 'memory.events');
    const counts = (oomKill: number, max: number): string => `low 0\nhigh 0\nmax ${max}\noom ${oomKill}\noom_kill ${oomKill}\n`;
    writeFileSync(events, counts(1, 0)); // one kill before the watch began is not reported
    const seen: number[] = [];
    const watch = watchOomKills(dir, (n) => seen.push(n));
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));
    try {
      writeFileSync(events, counts(1, 5));
      await settle();
      expect(seen).toEqual([]);
      writeFileSync(events, counts(2, 5));
      await settle();
      expect(seen).toEqual([2]);
      watch.close();
      writeFileSync(events, counts(3, 5));
      await settle();
      expect(seen).toEqual([2]);
    } finally {
      watch.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('of a cgroup without memory.events: nothing to watch, no failure', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oom-watch-'));
    try {
      expect(() => watchOomKills(join(dir, 'gone'), () => undefined).close()).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
