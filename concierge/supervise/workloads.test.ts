import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { validateSpec } from '../instance/spec.js';
import { Timeline } from '../boot/timeline.js';
import type { WorkloadSpec } from '../instance/spec-workloads.js';

/** A workload whose exit and removal the test decides. */
class FakeWorkload extends EventEmitter {
  exit: { exitCode: number } | undefined;
  private endNow!: (exit: { exitCode: number }) => void;
  private removeNow!: (err?: Error) => void;
  private readonly exited = new Promise<{ exitCode: number }>((resolve) => { this.endNow = resolve; });
  private readonly removed = new Promise<void>((resolve, reject) => { this.removeNow = (err) => (err === undefined ? resolve() : reject(err)); });
  constructor(readonly spec: WorkloadSpec) { super(); }
  ended(): Promise<{ exitCode: number }> { return this.exited; }
  async wait(): Promise<{ exitCode: number }> {
    const exit = await this.exited;
    await this.removed;
    return exit;
  }
  end(exitCode: number): void {
    this.exit = { exitCode };
    this.endNow(this.exit);
    this.emit('exit', this.exit);
  }
  remove(err?: Error): void {
    this.removeNow(err);
    this.emit('removed');
  }
}

const started = new Map<string, FakeWorkload>();
vi.mock('../workloads/runner.js', () => ({
  WorkloadRunner: {
    open: () => Promise.resolve(Object.assign(new EventEmitter(), {
      start: (spec: WorkloadSpec) => {
        const workload = new FakeWorkload(spec);
        started.set(spec.id, workload);
        return Promise.resolve(workload);
      },
      close: () => Promise.resolve(),
    })),
  },
}));
vi.mock('./warm-runtime.js', () => ({ warmRuntime: () => undefined }));

const { startWorkloads } = await import('./workloads.js');

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function startTwo(): Promise<{ running: Awaited<ReturnType<typeof startWorkloads>>; done: () => number | undefined; probe: FakeWorkload; long: FakeWorkload }> {
  const spec = validateSpec({
    docker: { enabled: false },
    workloads: [{ id: 'probe', image: '/i.tar', args: ['true'] }, { id: 'long', image: '/i.tar', args: ['true'] }],
  });
  let done: number | undefined;
  const failed: string[] = [];
  const running = await startWorkloads(spec, new Timeline(), {
    started: () => undefined, exited: () => undefined, failed: (id) => failed.push(id), pulled: () => undefined,
    done: (code) => { done = code; },
  });
  await tick();
  return { running, done: () => (failed.length > 0 ? -1 : done), probe: started.get('probe')!, long: started.get('long')! };
}

describe('the spec workloads\' result', () => {
  it('is the code of the workload that exited last, whatever order their removals end in', async () => {
    const { running, done, probe, long } = await startTwo();
    probe.end(137);
    await tick();
    expect(running.lastExitCode).toBe(137);
    long.end(143);
    await tick();
    expect(running.lastExitCode).toBe(143);
    // The first to exit is the last removed (its output drained last): the result stays with the later exit.
    long.remove();
    await tick();
    expect(done()).toBeUndefined();
    probe.remove();
    await tick();
    expect(done()).toBe(143);
  });

  it('keeps a workload\'s code when its removal fails (logged, not a failed workload)', async () => {
    const { done, probe, long } = await startTwo();
    probe.end(3);
    long.end(4);
    await tick();
    long.remove(new Error('task delete: deadline exceeded'));
    probe.remove();
    await tick();
    expect(done()).toBe(4);
  });
});
