import { type ChildProcess, spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../concierge/dockerproxy/aware/caller.js';
import { ProxyError } from '../../concierge/dockerproxy/errors.js';
import { resolveCallerPath } from '../../concierge/dockerproxy/aware/paths.js';
import { StagingArea } from '../../concierge/dockerproxy/aware/staging.js';
import { MNT, sys } from '../../concierge/sys/index.js';
import {
  api,
  containerOutput,
  dockerdSocket,
  importBusyboxWithDocker,
  mountsUnder,
  removeEverythingMarked,
  removeImage,
  runMarker,
  startTestCaller,
  type TestCaller,
  unmountAllUnder,
} from './harness.js';

/**
 * The check-then-use race. A process in the caller (here: a child process writing into the
 * caller's root) flips a path between a directory and a symlink, as fast as it can, while binds of
 * that path are resolved and staged.
 *
 * Interpretation: the proxy resolves a caller path by walking it (lstat per component, following
 * symlinks inside the root), then opens the result again with openat2(RESOLVE_BENEATH|NO_SYMLINKS)
 * and binds that fd. Whatever the flipper does between the two steps, one try may end only in:
 *  - a refusal (the path vanished: 400; it changed between walk and open: 409), or
 *  - a staged bind whose device and inode are one of the caller's own objects: the flipped directory,
 *    or what the symlink names inside the caller root (the root itself for `/`, the caller's own
 *    /etc for `../../../etc`).
 * A staged bind that is a symlink, or that shows the host's /etc (or /), is an escape: whatever uses
 * the staging path (runc mounting it for a sibling) follows that symlink from the host's root.
 *
 * The flip is rename-based (dir → aside, link → in place, and back), so the path is also briefly
 * absent: that only adds refusals.
 */
const marker = runMarker();
const image = `${marker}-busybox:latest`;
let dir: string;
let root: string;
const flippers: ChildProcess[] = [];

/** A child process that flips <root>/<name> between a directory and a symlink to `target` until killed. */
function startFlipper(rootDir: string, name: string, target: string): ChildProcess {
  const script = `
    const fs = require('node:fs');
    const p = ${JSON.stringify(join(rootDir, name))};
    fs.symlinkSync(${JSON.stringify(target)}, p + '.link');
    for (;;) {
      try { fs.renameSync(p, p + '.dir'); fs.renameSync(p + '.link', p); } catch {}
      try { fs.renameSync(p, p + '.link'); fs.renameSync(p + '.dir', p); } catch {}
    }`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  flippers.push(child);
  return child;
}

function stopFlippers(): void {
  for (const child of flippers.splice(0)) child.kill('SIGKILL');
}

const hostEtc = statSync('/etc');
const hostRoot = statSync('/');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), `${marker}-`));
  root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'hostname'), 'caller\n');
  mkdirSync(join(root, 'inner')); // /flip-root/inner while flip-root is the link to /
  for (const name of ['flip-root', 'flip-etc']) {
    mkdirSync(join(root, name, 'inner'), { recursive: true });
    writeFileSync(join(root, name, 'inside-flip-dir'), '');
  }
  writeFileSync(join(root, 'etc', 'inner'), ''); // /flip-etc/inner while flip-etc is the link to /etc
});

afterAll(() => {
  stopFlippers();
  unmountAllUnder(dir);
  rmSync(dir, { recursive: true, force: true });
});

describe('flip a bind source between a directory and a symlink while it is staged', () => {
  it('10,000 resolve+stage tries never bind a symlink, the host /etc or the host /', () => {
    const caller = { id: `${marker}-race`, rootfs: root, mounts: [], policy: DEFAULT_POLICY };
    const staging = new StagingArea(join(dir, 'staging'));
    // The objects a staged bind may be, per path tried (dev:ino).
    const key = (s: { dev: number; ino: number }) => `${s.dev}:${s.ino}`;
    const allowed = new Map<string, Set<string>>([
      ['/flip-root', new Set([key(statSync(join(root, 'flip-root'))), key(statSync(root))])],
      ['/flip-root/inner', new Set([key(statSync(join(root, 'flip-root', 'inner'))), key(statSync(join(root, 'inner')))])],
      ['/flip-etc', new Set([key(statSync(join(root, 'flip-etc'))), key(statSync(join(root, 'etc')))])],
      ['/flip-etc/inner', new Set([key(statSync(join(root, 'flip-etc', 'inner'))), key(statSync(join(root, 'etc', 'inner')))])],
    ]);
    startFlipper(root, 'flip-root', '/');
    startFlipper(root, 'flip-etc', '../../../../../../../../etc');
    const outcomes: Record<string, number> = {};
    const escapes: string[] = [];
    const paths = [...allowed.keys()];
    for (let i = 0; i < 10_000; i++) {
      const path = paths[i % paths.length]!;
      let staged: string;
      try {
        staged = staging.stage(caller.id, resolveCallerPath(caller, path));
      } catch (err) {
        // A flip may only ever end in a refusal; anything else would reach the client as a 500.
        const outcome = err instanceof ProxyError ? `refused ${err.status}` : `failed: ${(err as Error).message.replace(/'[^']*'/g, "'…'")}`;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        continue;
      }
      const link = lstatSync(staged);
      let seen: string;
      if (link.isSymbolicLink()) {
        const followed = statSync(staged, { throwIfNoEntry: false });
        seen = `a symlink${followed && key(followed) === key(hostEtc) ? ' to the host /etc' : followed && key(followed) === key(hostRoot) ? ' to the host /' : ''}`;
      } else if (key(link) === key(hostEtc) || key(link) === key(hostRoot)) {
        seen = 'the host itself';
      } else if (allowed.get(path)!.has(key(link))) {
        seen = 'ok';
      } else {
        seen = `an unknown object ${key(link)}`;
      }
      outcomes[seen === 'ok' ? 'staged in the root' : 'escaped'] = (outcomes[seen === 'ok' ? 'staged in the root' : 'escaped'] ?? 0) + 1;
      if (seen !== 'ok' && escapes.length < 5) escapes.push(`try ${i} ${path}: staged ${seen}`);
      // Never staging.release here: umount2 without UMOUNT_NOFOLLOW would follow a staged symlink.
      sys.umount2(staged, MNT.DETACH | MNT.UMOUNT_NOFOLLOW);
      if (lstatSync(staged).isDirectory()) rmdirSync(staged);
      else unlinkSync(staged);
    }
    stopFlippers();
    console.log(`race: 10,000 tries: ${JSON.stringify(outcomes)}${escapes.length > 0 ? `; first escapes: ${escapes.join("; ")}` : ""}`);
    expect.soft(escapes, JSON.stringify(outcomes)).toEqual([]);
    expect.soft(Object.keys(outcomes).filter((o) => o.startsWith('failed')), 'tries that failed instead of being refused').toEqual([]);
    // The race was real: both outcomes happened.
    expect(outcomes['staged in the root'] ?? 0).toBeGreaterThan(0);
    expect((outcomes['refused 409'] ?? 0) + (outcomes['refused 400'] ?? 0)).toBeGreaterThan(0);
  });
});

describe('real siblings binding a flipping path', () => {
  let a: TestCaller;

  beforeAll(async () => {
    await importBusyboxWithDocker(image);
    a = await startTestCaller(dir, `${marker}-sib`);
    mkdirSync(join(a.root, 'etc'), { recursive: true });
    writeFileSync(join(a.root, 'etc', 'caller-etc-file'), '');
    mkdirSync(join(a.root, 'flip'));
    writeFileSync(join(a.root, 'flip', 'inside-flip-dir'), '');
  });

  afterAll(async () => {
    stopFlippers();
    // Staging binds are unmounted here without following symlinks before the proxy's own cleanup runs.
    unmountAllUnder(a.stagingDir);
    await a.closeAndClean();
    await removeEverythingMarked(marker);
    await removeImage(image);
  });

  /**
   * The link is relative (`../../../etc` through ..): inside the caller root it names the caller's own
   * /etc, but followed from a staging path it would reach the host's /etc.
   */
  it('100 creates+runs through the socket list only the flipped directory or the caller /etc', async () => {
    startFlipper(a.root, 'flip', '../../../../../../../../etc');
    const allowedListings = [['inside-flip-dir'], ['caller-etc-file']].map((l) => JSON.stringify(l));
    const outcomes: Record<string, number> = {};
    const escapes: string[] = [];
    const runs = 100;
    let next = 0;
    const worker = async () => {
      while (next < runs) {
        next++;
        const created = await api(a.socket, 'POST', '/containers/create', {
          Image: image,
          Cmd: ['ls', '/b'],
          HostConfig: { Binds: ['/flip:/b:ro'], NetworkMode: 'none' },
        });
        if (created.status !== 201) {
          const message = String((created.json as { message?: string } | undefined)?.message).replace(/\/tmp\/\S+/g, '<path>').slice(0, 90);
          const outcome = `refused ${created.status} (${message})`;
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          continue;
        }
        const id = (created.json as { Id: string }).Id;
        try {
          const started = await api(a.socket, 'POST', `/containers/${id}/start`);
          if (started.status !== 204) {
            outcomes[`start ${started.status}`] = (outcomes[`start ${started.status}`] ?? 0) + 1;
            continue;
          }
          await api(a.socket, 'POST', `/containers/${id}/wait`);
          const listing = JSON.stringify((await containerOutput(a.socket, id)).split('\n').filter(Boolean).sort());
          if (allowedListings.includes(listing)) outcomes['ran in the root'] = (outcomes['ran in the root'] ?? 0) + 1;
          else {
            outcomes.escaped = (outcomes.escaped ?? 0) + 1;
            if (escapes.length < 3) escapes.push(`sibling listed ${listing.slice(0, 200)}`);
          }
        } finally {
          // Straight at dockerd: the proxy's release path follows staged symlinks (see above).
          await api(dockerdSocket(), 'DELETE', `/containers/${id}?force=1`);
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    stopFlippers();
    console.log(`race: ${runs} sibling runs: ${JSON.stringify(outcomes)}`);
    expect.soft(escapes, JSON.stringify(outcomes)).toEqual([]);
    expect.soft(Object.keys(outcomes).filter((o) => /^(refused|start) 5/.test(o)), 'creates answered 5xx instead of 4xx').toEqual([]);
    expect(outcomes['ran in the root'] ?? 0).toBeGreaterThan(0);
    // Siblings were removed straight at dockerd, not through the socket: their staging binds are still
    // released, on dockerd's destroy events.
    for (let i = 0; i < 50 && mountsUnder(a.stagingDir).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(mountsUnder(a.stagingDir)).toEqual([]);
  });
});
