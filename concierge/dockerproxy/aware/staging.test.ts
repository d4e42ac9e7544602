import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Caller, DEFAULT_POLICY } from './caller.js';
import { ProxyError } from '../errors.js';
import { MNT, sys } from '../../sys/index.js';
import { resolveCallerPath } from './paths.js';
import { StagingArea } from './staging.js';

/** Real bind mounts in the test's mount namespace (root needed), all under a temp dir removed after. */
let top: string;
let root: string;
let staging: StagingArea;
let caller: Caller;

function mountPoints(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((p) => p.startsWith(top));
}

beforeAll(() => {
  top = mkdtempSync(join(tmpdir(), 'caller-staging-'));
  root = join(top, 'root');
  mkdirSync(join(root, 'mydata', 'deeper'), { recursive: true });
  writeFileSync(join(root, 'mydata', 'foobar'), 'from the caller');
  staging = new StagingArea(join(top, 'staging'));
  caller = { id: 'staging-test', rootfs: root, mounts: [], policy: DEFAULT_POLICY };
});

/**
 * Unmounts without following symlinks: a staged symlink (the bug the flip test looks for) followed by
 * umount2 would unmount its target, which for a link to / is the host's root mount.
 */
function unmountAllUnder(prefix: string): void {
  for (const p of mountPoints().filter((m) => m.startsWith(prefix)).sort().reverse()) sys.umount2(p, MNT.DETACH | MNT.UMOUNT_NOFOLLOW);
}

afterAll(async () => {
  unmountAllUnder(top);
  await staging.sweep();
  expect(mountPoints()).toEqual([]);
  rmSync(top, { recursive: true, force: true });
});

describe('StagingArea', () => {
  it('binds a directory: the staged path is the same inode, and writes go through to the caller', async () => {
    const staged = staging.stage(caller.id, resolveCallerPath(caller, '/mydata'));
    expect(staged.startsWith(`${staging.dir}/${caller.id}/`)).toBe(true);
    const a = statSync(staged);
    const b = statSync(join(root, 'mydata'));
    expect([a.dev, a.ino]).toEqual([b.dev, b.ino]);
    expect(readdirSync(staged).sort()).toEqual(['deeper', 'foobar']);
    writeFileSync(join(staged, 'written-by-sibling'), 'hi');
    expect(readFileSync(join(root, 'mydata', 'written-by-sibling'), 'utf8')).toBe('hi');
    expect(mountPoints()).toContain(staged);
    await staging.release(staged);
    expect(mountPoints()).not.toContain(staged);
    expect(existsSync(staged)).toBe(false);
    expect(existsSync(join(root, 'mydata', 'foobar'))).toBe(true); // release never deletes the caller's files
  });

  it('binds a file', async () => {
    const staged = staging.stage(caller.id, resolveCallerPath(caller, '/mydata/foobar'));
    expect(readFileSync(staged, 'utf8')).toBe('from the caller');
    expect(statSync(staged).ino).toBe(statSync(join(root, 'mydata', 'foobar')).ino);
    await staging.release(staged);
    expect(existsSync(staged)).toBe(false);
  });

  it('refuses with 409 when a checked component became a symlink before the open', () => {
    const resolved = resolveCallerPath(caller, '/mydata/deeper');
    // The swap: mydata is now a symlink to / (the host's, if anything followed it).
    renameSync(join(root, 'mydata'), join(root, 'mydata.real'));
    symlinkSync('/', join(root, 'mydata'));
    try {
      const before = mountPoints().length;
      let err: unknown;
      try {
        staging.stage(caller.id, resolved);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProxyError);
      expect((err as ProxyError).status).toBe(409);
      expect(mountPoints().length).toBe(before);
    } finally {
      rmSync(join(root, 'mydata'));
      renameSync(join(root, 'mydata.real'), join(root, 'mydata'));
    }
  });

  it('refuses a source whose last component became a symlink', () => {
    // openat2 with O_PATH|O_NOFOLLOW opens a trailing symlink itself instead of failing; a bind of that
    // fd is a mount of the symlink, which anything using the staged path (runc, umount2) follows from
    // its own root: the host's /etc here.
    mkdirSync(join(root, 'flip'));
    const resolved = resolveCallerPath(caller, '/flip');
    rmSync(join(root, 'flip'), { recursive: true });
    symlinkSync('/etc', join(root, 'flip'));
    let outcome: unknown;
    try {
      const staged = staging.stage('staging-flip', resolved);
      outcome = { staged, isSymlink: lstatSync(staged).isSymbolicLink(), sees: readdirSync(staged).includes('debian_version') };
    } catch (e) {
      outcome = e;
    }
    if (!(outcome instanceof ProxyError)) expect.fail(`staged instead of refused: ${JSON.stringify(outcome)}`);
    expect(outcome.status).toBe(409);
  });

  it('never releases a path outside its directory', async () => {
    const outside = join(top, 'outside');
    mkdirSync(outside);
    await staging.release(outside);
    expect(existsSync(outside)).toBe(true);
  });

  it('sweeps one caller, leaving the others', async () => {
    const other: Caller = { ...caller, id: 'staging-other' };
    const mine = [staging.stage(caller.id, resolveCallerPath(caller, '/mydata')), staging.stage(caller.id, resolveCallerPath(caller, '/mydata/foobar'))];
    const theirs = staging.stage(other.id, resolveCallerPath(other, '/mydata'));
    expect(await staging.sweep(caller.id)).toBe(2);
    for (const p of mine) expect(mountPoints()).not.toContain(p);
    expect(existsSync(`${staging.dir}/${caller.id}`)).toBe(false);
    expect(mountPoints()).toContain(theirs);
    expect(await staging.sweep(other.id)).toBe(1);
    expect(mountPoints()).not.toContain(theirs);
  });
});
