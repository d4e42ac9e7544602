import { describe, expect, it } from 'vitest';
import { lastExitCode } from './last-exit.js';

function settleLater<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('lastExitCode', () => {
  it('is the code of the workload that ended last, not of the last one listed', async () => {
    const [a, b, c] = [settleLater<number>(), settleLater<number>(), settleLater<number>()];
    const result = lastExitCode([a.promise, b.promise, c.promise]);
    c.resolve(3);
    await Promise.resolve();
    b.resolve(5);
    await Promise.resolve();
    a.resolve(7);
    expect(await result).toBe(7);
  });

  it('counts a workload that failed as exit code 1', async () => {
    const [a, b] = [settleLater<number>(), settleLater<number>()];
    const result = lastExitCode([a.promise, b.promise]);
    a.resolve(0);
    await Promise.resolve();
    b.reject(new Error('did not start'));
    expect(await result).toBe(1);
  });

  it('waits for every workload', async () => {
    const [a, b] = [settleLater<number>(), settleLater<number>()];
    let done = false;
    const result = lastExitCode([a.promise, b.promise]).then((code) => { done = true; return code; });
    a.resolve(4);
    await new Promise((r) => setTimeout(r, 0));
    expect(done).toBe(false);
    b.resolve(6);
    expect(await result).toBe(6);
  });

  it('is 0 for no workload', async () => {
    expect(await lastExitCode([])).toBe(0);
  });
});
