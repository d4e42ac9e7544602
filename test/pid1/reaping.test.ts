import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenNamed, startInstance, zombiesOf, type RunningInstance } from './harness.js';

// tini's reaping stages as the model. From inside (the test-only entry point init-entry.ts): children
// started through child_process double-fork orphans that re-parent to PID 1 and exit; PID 1 must reap
// every orphan while libuv still reaps (and reports) its own children. From outside: a process that
// enters concierge's pid namespace double-forks orphans, which re-parent to concierge.
const children = 50;
const orphansEach = 20;
const outsideOrphans = 1000;

describe('PID 1 reaping', () => {
  let instance: RunningInstance;
  beforeAll(async () => {
    instance = await startInstance({
      spec: { docker: { enabled: false } },
      testEntry: ['--children', `${children}x${orphansEach}`],
    });
  });
  afterAll(async () => instance?.stop());

  it('fires every child_process exit event with the right code while orphans are reaped', async () => {
    const line = await instance.waitFor((l) => l.json?.testEntry === 'children', 'the children of the test entry to exit', 120_000);
    expect(line.json).toMatchObject({ children, orphans: children * orphansEach, exitEvents: children });
  });

  it(`leaves no zombie of ${outsideOrphans} orphans double-forked from outside`, async () => {
    // The shell nsenter starts is in concierge's pid namespace; each `( sleep & )` leaves a sleep
    // whose parent is gone, so the kernel hands it to the namespace's init: concierge.
    execFileSync('nsenter', ['--target', String(instance.hostPid), '--pid', '--', 'sh', '-c',
      `i=0; while [ $i -lt ${outsideOrphans} ]; do (sleep 0.$((i % 5 + 3)) &); i=$((i+1)); done`]);
    expect(childrenNamed(instance.hostPid, 'sleep').length).toBeGreaterThan(0);
    // Orphans sleep up to 0.7 s before exiting; wait until none is left, then look for zombies.
    let zombies = zombiesOf(instance.hostPid);
    for (let i = 0; i < 100 && (zombies.length > 0 || childrenNamed(instance.hostPid, 'sleep').length > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      zombies = zombiesOf(instance.hostPid);
    }
    expect(childrenNamed(instance.hostPid, 'sleep')).toEqual([]);
    expect(zombies).toEqual([]);
  });
});
