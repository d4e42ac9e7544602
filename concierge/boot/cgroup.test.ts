import { describe, expect, it } from 'vitest';
import { cgroupPlan } from './cgroup.js';

describe('cgroupPlan', () => {
  const offered = ['cpu', 'io', 'memory', 'pids'];

  it('enables every offered controller at the real root without moving (the root may hold processes)', () => {
    expect(cgroupPlan({ realRoot: true, inLeaf: false, offered, enabled: [] })).toEqual({ moveToLeaf: false, enable: offered });
  });

  it('moves into the leaf first below the real root (a cgroup namespace), where a cgroup with processes cannot delegate', () => {
    expect(cgroupPlan({ realRoot: false, inLeaf: false, offered, enabled: ['cpu'] })).toEqual({ moveToLeaf: true, enable: ['io', 'memory', 'pids'] });
  });

  it('does not move when nothing is left to delegate or it is in the leaf already', () => {
    expect(cgroupPlan({ realRoot: false, inLeaf: false, offered, enabled: offered })).toEqual({ moveToLeaf: false, enable: [] });
    expect(cgroupPlan({ realRoot: false, inLeaf: false, offered: [], enabled: [] })).toEqual({ moveToLeaf: false, enable: [] });
    expect(cgroupPlan({ realRoot: false, inLeaf: true, offered, enabled: [] })).toEqual({ moveToLeaf: false, enable: offered });
  });
});
