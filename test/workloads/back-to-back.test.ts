// 50 workloads run one after the other leave no container, task, snapshot, lease or fd behind; the
// time of each lifecycle step is printed (no assertion on it).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImageArchive } from '../../concierge/containerd/images/import.js';
import { WorkloadRunner } from '../../concierge/workloads/runner.js';
import { parseWorkloadSpec } from '../../concierge/instance/spec-workloads.js';
import type { StepTimings } from '../../concierge/workloads/workload.js';
import { busyboxLayer, ociArchive, writeArchive } from './image-fixtures.js';
import { connect, inventory, runnerOptions } from './containerd-env.js';

const dir = mkdtempSync(join(tmpdir(), 'concierge-b2b-'));
const archive = join(dir, 'busybox.tar');
const client = connect();
let runner: WorkloadRunner;
const importMs: number[] = [];

beforeAll(async () => {
  // A layer of its own (a unique file), so the first import is a real one and the second a repeat.
  writeArchive(archive, ociArchive([busyboxLayer([{ name: 'etc/run-id', data: Buffer.from(`${Date.now()}\n`) }])], `test.local/b2b:${process.pid}`));
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    await importImageArchive(client, archive);
    importMs.push(performance.now() - t);
  }
  runner = await WorkloadRunner.open(runnerOptions(join(dir, 'fifo')));
});
afterAll(async () => {
  await runner?.close();
  await client.images.delete({ name: `test.local/b2b:${process.pid}`, sync: true }).catch(() => undefined);
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

const fdCount = () => readdirSync('/proc/self/fd').length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function runOne(i: number): Promise<{ exitCode: number; out: string; timings: StepTimings }> {
  let out = '';
  const w = await runner.start(parseWorkloadSpec({ id: 'b2b', image: archive, args: ['sh', '-c', `echo run-${i}; exit ${i % 4}`] }),
    (stream, chunk) => { if (stream === 'stdout') out += chunk.toString(); });
  const exit = await w.wait();
  return { exitCode: exit.exitCode, out, timings: w.info().timings };
}

describe('50 workloads back to back', () => {
  it('leave no containers, tasks, snapshots, leases or fds behind', async () => {
    await runOne(-1); // warm-up: the first run opens the event stream's and the channel's fds for good
    const before = await inventory(client);
    const fdsBefore = fdCount();
    const timings: StepTimings[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await runOne(i);
      expect(r.out).toBe(`run-${i}\n`);
      expect(r.exitCode).toBe(i % 4);
      timings.push(r.timings);
    }
    expect(await inventory(client)).toEqual(before);
    expect(fdCount()).toBe(fdsBefore);
    const step = (k: keyof StepTimings) => median(timings.map((t) => t[k] ?? NaN)).toFixed(1);
    console.log(`lifecycle step medians over 50 runs (ms): image lookup ${step('image')}, create ${step('create')}, `
      + `start ${step('start')}, wait ${step('wait')}, delete ${step('delete')}; `
      + `archive import first ${importMs[0]!.toFixed(1)}, repeat ${importMs[1]!.toFixed(1)}`);
  });
});
