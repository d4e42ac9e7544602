import { describe, expect, it } from 'vitest';
import { parseIoStat, parseKeyed } from './cgroup.js';

describe('cgroup v2 files', () => {
  it('reads keyed files (memory.events, cpu.stat) and sums io.stat over devices', () => {
    const events = parseKeyed('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    expect(events.get('oom_kill')).toBe(1);
    expect(events.get('max')).toBe(12);
    expect(parseIoStat('254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n254:16 rbytes=100 wbytes=0 rios=1 wios=0\n'))
      .toEqual({ read: 4196, write: 8192 });
    expect(parseIoStat('')).toEqual({ read: 0, write: 0 });
  });
});
