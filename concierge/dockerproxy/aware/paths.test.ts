import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Caller, type CallerMount, DEFAULT_POLICY } from './caller.js';
import { ProxyError } from '../errors.js';
import { resolveCallerPath } from './paths.js';

/**
 * A caller root on disk (temp dirs stand in for the rootfs overlay and the caller's bind sources):
 *   root/mydata/foobar, root/etc/hostname (the caller's own /etc), root/q/file
 *   root/abs-etc -> /etc, root/rel-etc -> ../../../../../etc, root/to-root -> /, root/p -> /q,
 *   root/loop-a <-> root/loop-b, root/to-proc -> /proc/1/root, root/to-data -> /data/inside
 *   mounts: /data (bind of dataSrc), /data/sub (bind of subSrc), /tmp (tmpfs), /proc (proc),
 *           /a/b/c (bind of deepSrc, with no /a in the root), /var/run/docker.sock (bind of a socket file)
 *   dataSrc/inside/x, dataSrc/escape -> ../../../../etc, subSrc/y, deepSrc/z
 */
let top: string;
let root: string;
let dataSrc: string;
let subSrc: string;
let deepSrc: string;
let socketSrc: string;
let caller: Caller;

function bind(destination: string, source: string): CallerMount {
  return { destination, source, type: 'bind', options: ['rbind', 'rw'] };
}

beforeAll(() => {
  top = mkdtempSync(join(tmpdir(), 'caller-paths-'));
  root = join(top, 'root');
  dataSrc = join(top, 'data-src');
  subSrc = join(top, 'sub-src');
  deepSrc = join(top, 'deep-src');
  socketSrc = join(top, 'docker.sock');
  for (const d of [root, dataSrc, subSrc, deepSrc, join(root, 'mydata'), join(root, 'etc'), join(root, 'q'), join(dataSrc, 'inside'), join(root, 'data')]) {
    mkdirSync(d, { recursive: true });
  }
  writeFileSync(join(root, 'mydata', 'foobar'), '');
  writeFileSync(join(root, 'etc', 'hostname'), 'caller\n');
  writeFileSync(join(root, 'q', 'file'), '');
  writeFileSync(join(dataSrc, 'inside', 'x'), '');
  writeFileSync(join(subSrc, 'y'), '');
  writeFileSync(join(deepSrc, 'z'), '');
  writeFileSync(socketSrc, ''); // stands in for the caller's proxy socket: only its path matters here
  symlinkSync('/etc', join(root, 'abs-etc'));
  symlinkSync('../../../../../etc', join(root, 'rel-etc'));
  symlinkSync('/', join(root, 'to-root'));
  symlinkSync('/q', join(root, 'p'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  symlinkSync('/proc/1/root', join(root, 'to-proc'));
  symlinkSync('/data/inside', join(root, 'to-data'));
  symlinkSync('/tmp', join(root, 'to-tmp'));
  symlinkSync('../../../../etc', join(dataSrc, 'escape'));
  caller = {
    id: 'paths-test',
    rootfs: root,
    mounts: [
      { destination: '/proc', source: 'proc', type: 'proc', options: [] },
      { destination: '/tmp', source: 'tmpfs', type: 'tmpfs', options: ['nosuid'] },
      bind('/data', dataSrc),
      bind('/data/sub/', subSrc),
      bind('/a/b/c', deepSrc),
      bind('/var/run/docker.sock', socketSrc),
    ],
    policy: DEFAULT_POLICY,
  };
});

afterAll(() => rmSync(top, { recursive: true, force: true }));

function resolved(path: string): string {
  const r = resolveCallerPath(caller, path);
  return r.relative === '' ? r.base : `${r.base}/${r.relative}`;
}

function refusal(path: string): ProxyError {
  try {
    resolveCallerPath(caller, path);
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error(`${path} was not refused`);
}

describe('resolveCallerPath: the caller root is /', () => {
  it('resolves the seed example into the root', () => {
    expect(resolveCallerPath(caller, '/mydata')).toEqual({ callerPath: '/mydata', base: root, relative: 'mydata', readOnly: false });
    expect(resolved('/mydata/foobar')).toBe(`${root}/mydata/foobar`);
  });

  it('stops .. at the root, in every position', () => {
    expect(resolved('/../../../mydata')).toBe(`${root}/mydata`);
    expect(resolved('/mydata/../../..')).toBe(root);
    expect(resolved('/mydata/../../etc/hostname')).toBe(`${root}/etc/hostname`);
    expect((resolveCallerPath(caller, '/..')).callerPath).toBe('/');
  });

  it('folds //, /./ and trailing slashes', () => {
    expect(resolved('//mydata//foobar')).toBe(`${root}/mydata/foobar`);
    expect(resolved('/./mydata/./')).toBe(`${root}/mydata`);
    expect(resolved('/mydata///')).toBe(`${root}/mydata`);
    expect(resolved('/')).toBe(root);
  });

  it('refuses relative paths and NUL bytes with 400', () => {
    for (const p of ['mydata', './mydata', '../mydata', '', 'mydata/../..']) expect((refusal(p)).status, p).toBe(400);
    expect((refusal('/mydata\0/x')).status).toBe(400);
  });

  it('refuses a source that does not exist (dockerd would create it as root, following symlinks)', () => {
    const err = refusal('/nonexistent/dir');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/does not exist/);
    expect((refusal('/mydata/foobar/below-a-file')).status).toBe(400);
  });

  it('follows absolute and relative symlinks inside the root, never to the host', () => {
    expect(resolved('/abs-etc')).toBe(`${root}/etc`);
    expect(resolved('/abs-etc/hostname')).toBe(`${root}/etc/hostname`);
    expect(resolved('/rel-etc/hostname')).toBe(`${root}/etc/hostname`);
    expect((resolveCallerPath(caller, '/rel-etc/hostname')).callerPath).toBe('/etc/hostname');
    // A host file that the root lacks is absent, not borrowed from the host.
    expect((refusal('/abs-etc/passwd')).status).toBe(400);
  });

  it('a symlink to / is the caller root', () => {
    expect(resolveCallerPath(caller, '/to-root')).toEqual({ callerPath: '/', base: root, relative: '', readOnly: false });
    expect(resolved('/to-root/to-root/mydata/../etc')).toBe(`${root}/etc`);
  });

  it('follows symlinked parents', () => {
    expect(resolveCallerPath(caller, '/p/file')).toEqual({ callerPath: '/q/file', base: root, relative: 'q/file', readOnly: false });
    expect(resolved('/p/../mydata')).toBe(`${root}/mydata`); // .. after a link is taken from its target
  });

  it('refuses symlink loops with 400', () => {
    const err = refusal('/loop-a');
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/symbolic links/);
    expect((refusal('/loop-b/x')).status).toBe(400);
  });
});

describe('resolveCallerPath: the caller mounts', () => {
  it('maps paths under a bind mount to its source, longest destination first', () => {
    expect(resolveCallerPath(caller, '/data/inside/x')).toEqual({ callerPath: '/data/inside/x', base: dataSrc, relative: 'inside/x', readOnly: false });
    expect(resolved('/data')).toBe(dataSrc);
    expect(resolved('/data/sub/y')).toBe(`${subSrc}/y`);
    expect(resolved('/data/sub')).toBe(subSrc);
    expect(resolved('/data/../mydata')).toBe(`${root}/mydata`);
  });

  it('does not take a name that merely starts like a mount for it', () => {
    mkdirSync(join(root, 'datax'), { recursive: true });
    expect(resolved('/datax')).toBe(`${root}/datax`);
  });

  it('follows a root symlink into a mount, and a mount symlink back through the caller view', () => {
    expect(resolved('/to-data/x')).toBe(`${dataSrc}/inside/x`);
    // dataSrc/escape -> ../../../../etc is read in the caller's view: /data/escape -> /etc of the caller.
    expect(resolved('/data/escape/hostname')).toBe(`${root}/etc/hostname`);
  });

  it('reaches a mount whose parents exist only in the caller view (runc made them)', () => {
    expect(resolved('/a/b/c/z')).toBe(`${deepSrc}/z`);
    expect(resolved('/a/b/c')).toBe(deepSrc);
  });

  it('maps the docker socket to the source of its bind (the caller proxy socket)', () => {
    expect(resolved('/var/run/docker.sock')).toBe(socketSrc);
    expect(resolved('//var/run/../run/docker.sock')).toBe(socketSrc);
  });

  it('refuses /proc, /sys and /dev (by path, through symlinks, and as mounts) with 403', () => {
    for (const p of ['/proc', '/proc/1/root', '/proc/self/root/etc', '/sys', '/sys/kernel', '/dev', '/dev/sda', '/to-proc', '/to-proc/etc', '/mydata/../proc/1/root']) {
      const err = refusal(p);
      expect(err.status, p).toBe(403);
    }
  });

  it('refuses a tmpfs mount of the caller and what lies below it', () => {
    for (const p of ['/tmp', '/tmp/x', '/to-tmp', '/to-tmp/y']) {
      const err = refusal(p);
      expect(err.status, p).toBe(403);
      expect(err.message, p).toMatch(/tmpfs/);
    }
  });
});
