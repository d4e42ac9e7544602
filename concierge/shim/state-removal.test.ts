// Root: binds host directories into a share as a pod member's are, and removes the state around them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shareBind, shareDir, unshareAll } from './sandbox.js';
import { mountsUnder, removeShimState, removeUnmounted } from './state-removal.js';

describe('a pod member\'s bound directories in the share, and the state\'s removal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shim-state-removal-test-'));
  const stateDir = join(dir, 'state');
  afterAll(() => {
    unshareAll(stateDir);
    if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  });

  it('binds ro (writes refused) and rw (writes reach the host); removal unmounts first and never deletes through a mount', () => {
    const ro = join(dir, 'host-ro');
    const rw = join(dir, 'host-rw');
    for (const d of [ro, rw]) mkdirSync(d);
    writeFileSync(join(ro, 'f'), 'host-ro\n');
    writeFileSync(join(rw, 'f'), 'host-rw\n');
    expect(shareBind(stateDir, 'web', 0, ro, true)).toBe('.binds/web/0');
    expect(shareBind(stateDir, 'web', 1, rw, false)).toBe('.binds/web/1');
    const share = shareDir(stateDir);
    expect(readFileSync(join(share, '.binds/web/0/f'), 'utf8')).toBe('host-ro\n');
    expect(() => writeFileSync(join(share, '.binds/web/0/g'), 'x')).toThrow(/EROFS/);
    writeFileSync(join(share, '.binds/web/1/g'), 'from-the-member\n');
    expect(readFileSync(join(rw, 'g'), 'utf8')).toBe('from-the-member\n');

    expect(mountsUnder(stateDir)).toHaveLength(2);
    expect(() => removeUnmounted(stateDir)).toThrow(/not removing .*state: still mounted in it: .*\.binds\/web\/0/);
    expect(readFileSync(join(ro, 'f'), 'utf8')).toBe('host-ro\n');
    removeShimState(stateDir);
    expect(existsSync(stateDir)).toBe(false);
    expect(mountsUnder(dir)).toEqual([]);
    expect(readFileSync(join(ro, 'f'), 'utf8')).toBe('host-ro\n');
    expect(readFileSync(join(rw, 'g'), 'utf8')).toBe('from-the-member\n');
    removeShimState(stateDir); // again, as `delete` after a Shutdown: nothing left is fine
  });
});
