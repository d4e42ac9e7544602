import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIoStat, parseKeyed, readCgroupStats } from './cgroup.js';

describe('cgroup v2 files', () => {
  it('reads keyed files (memory.events, cpu.stat) and sums io.stat over devices', () => {
    const events = parseKeyed('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    expect(events.get('oom_kill')).toBe(1);
    expect(events.get('max')).toBe(12);
    expect(parseIoStat('254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n254:16 rbytes=100 wbytes=0 rios=1 wios=0\n'))
      .toEqual({ read: 4196, write: 8192 });
    expect(parseIoStat('')).toEqual({ read: 0, write: 0 });
  });

  it('reads a cgroup\'s stats files as the kernel names them, "max" kept, missing files left out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgroup-stats-'));
    try {
      expect(readCgroupStats(dir)).toBeUndefined(); // no cpu.stat: the cgroup is gone
      const files = {
        'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n', 'memory.current': '4096\n', 'memory.max': 'max\n',
        'memory.stat': 'anon 1024\nfile 2048\n', 'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n', 'pids.current': '2\n', 'pids.max': '64\n',
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      expect(readCgroupStats(dir)).toEqual({
        'cpu.stat': { usage_usec: 1500, user_usec: 1000, system_usec: 500 }, 'memory.current': 4096, 'memory.max': 'max',
        'memory.stat': { anon: 1024, file: 2048 }, 'memory.events': { low: 0, high: 0, max: 3, oom: 1, oom_kill: 1 }, 'pids.current': 2, 'pids.max': 64,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
