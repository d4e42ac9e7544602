import { describe, expect, it } from 'vitest';
import { consoleLine } from './console-line.js';
import { EventLog, type InstanceEvent } from './event-log.js';

describe('events', () => {
  it('numbers events, keeps them for late readers (oldest dropped past capacity) and pushes them to followers', () => {
    const log = new EventLog(3, () => new Date('2026-12-06T14:00:01.234Z'));
    const followed: InstanceEvent[] = [];
    log.emit('shutdown.started', { reason: 'a' });
    const unfollow = log.follow((e) => followed.push(e));
    log.emit('shutdown.started', { reason: 'b' });
    log.emit('shutdown.started', { reason: 'c' });
    unfollow();
    log.emit('shutdown.started', { reason: 'd' });
    expect(followed.map((e) => e.seq)).toEqual([2, 3]);
    expect(log.since().map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(log.since(3)).toEqual([{ seq: 4, time: '2026-12-06T14:00:01.234Z', type: 'shutdown.started', reason: 'd' }]);
  });

  it('tells each event in one readable line', () => {
    const log = new EventLog(10, () => new Date('2026-12-06T14:00:01.234Z'));
    const lines = [
      log.emit('timeline', { name: 'boot steps done', atMs: 1309.4, steps: [{ step: 'mounts', tookMs: 2 }, { step: 'spec', tookMs: 526 }] }),
      log.emit('daemon.ready', { daemon: 'dockerd', pid: 9, startMs: 7048, restarts: 1 }),
      log.emit('image.pulled', { image: 'registry.test:5000/ci/job:1', layers: 2, bytes: 2_345_678, ms: 812 }),
      log.emit('workload.started', { workload: 'job', runtime: 'crun', pid: 167, imageMs: 20512.4, createMs: 310.2, startMs: 95 }),
      log.emit('daemon.exited', { daemon: 'dockerd', pid: 9, code: null, signal: 'SIGKILL' }),
      log.emit('workload.exited', { workload: 'job', exitCode: 137, signal: 'SIGKILL', oomKilled: true }),
      log.emit('workload.failed', { workload: 'job', error: 'image archive /x does not exist' }),
      log.emit('poweroff', { exitCode: 0, reason: 'last workload exited', shutdownMs: 172 }),
    ].map(consoleLine);
    expect(lines).toEqual([
      'concierge: 14:00:01.234 boot steps done at +1309 ms (2 steps, slowest spec 526 ms)',
      'concierge: 14:00:01.234 dockerd ready again (restart 1) in 7048 ms, pid 9',
      'concierge: 14:00:01.234 image registry.test:5000/ci/job:1 pulled: 2 layers, 2.3 MB fetched in 812 ms',
      'concierge: 14:00:01.234 workload job started by crun, pid 167 (image 20512 ms, create 310 ms)',
      'concierge: 14:00:01.234 dockerd exited (SIGKILL), pid 9',
      'concierge: 14:00:01.234 workload job exited with code 137 (SIGKILL), OOM-killed',
      'concierge: 14:00:01.234 workload job failed to start: image archive /x does not exist',
      'concierge: 14:00:01.234 power-off, exit code 0 after 172 ms of shutdown',
    ]);
  });
});
