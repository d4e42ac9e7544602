import { describe, expect, it, vi } from 'vitest';
import { log } from '../log/logger.js';
import { Timeline } from './timeline.js';

describe('Timeline', () => {
  it('tells the steps run since the previous event in that event\'s line, then forgets them', () => {
    const info = vi.spyOn(log, 'info').mockImplementation(() => undefined);
    try {
      const timeline = new Timeline();
      expect(timeline.step('first', () => 1, (n) => ({ done: `n=${n}` }))).toBe(1);
      timeline.step('second', () => 'x');
      timeline.mark('boot steps done', { stepsMs: 1 });
      timeline.mark('containerd spawned');
      const [boot, spawned] = info.mock.calls.map((c) => c[0] as Record<string, unknown>);
      expect(boot).toMatchObject({ timeline: 'boot steps done', stepsMs: 1 });
      expect((boot!.steps as { step: string; done?: string }[]).map((s) => [s.step, s.done])).toEqual([['first', 'n=1'], ['second', undefined]]);
      expect(spawned).toMatchObject({ timeline: 'containerd spawned' });
      expect(spawned).not.toHaveProperty('steps');
    } finally {
      info.mockRestore();
    }
  });

  it('names a failing step in its error, unless the error already names itself', () => {
    const timeline = new Timeline();
    expect(() => timeline.step('mounts', () => { throw new Error('EPERM'); })).toThrow(/^boot step mounts: EPERM$/);
    expect(() => timeline.step('spec', () => { throw new Error('instance spec from x: bad'); }, () => ({}), true)).toThrow(/^instance spec from x: bad$/);
  });
});
