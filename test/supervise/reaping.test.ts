import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInstance, zombiesOf, type RunningInstance } from './harness.js';

// tini's reaping stages as the model: children started through child_process double-fork orphans
// that re-parent to PID 1 and exit; PID 1 must reap every orphan while libuv still reaps (and
// reports) its own children.
const children = 50;
const orphansEach = 20;

describe('PID 1 reaping', () => {
  let instance: RunningInstance;
  beforeAll(async () => {
    instance = await startInstance({
      spec: { docker: { enabled: false } },
      env: { CONCIERGE_TEST_ORPHANS: `${children}x${orphansEach}` },
    });
  });
  afterAll(async () => instance?.stop());

  it('fires every child_process exit event with the right code while orphans are reaped', async () => {
    const line = await instance.waitFor((l) => l.json?.testHook === 'orphans', 'the orphan test hook to finish', 120_000);
    expect(line.json).toMatchObject({ children, orphans: children * orphansEach, exitEvents: children });
  });

  it(`leaves no zombie of ${children * orphansEach} double-forked orphans`, async () => {
    // Orphans sleep up to 40 ms before exiting; wait until none is left, then look for zombies.
    let zombies = zombiesOf(instance.hostPid);
    for (let i = 0; i < 100 && zombies.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      zombies = zombiesOf(instance.hostPid);
    }
    expect(zombies).toEqual([]);
  });
});
