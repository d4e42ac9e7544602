import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AT_FDCWD, O, PR, RESOLVE, RLIMIT, WAIT, isSysError, sys } from './index.js';

const scratch = mkdtempSync(join(tmpdir(), 'concierge-sys-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('concierge/sys errors', () => {
  it('maps errno to a Node-style error with code, syscall and path', () => {
    let caught: unknown;
    try {
      sys.mount(null, join(scratch, 'missing'), 'tmpfs', 0);
    } catch (err) {
      caught = err;
    }
    expect(isSysError(caught, 'ENOENT')).toBe(true);
    expect(caught).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'mount', path: join(scratch, 'missing') });
    expect((caught as Error).message).toMatch(/^ENOENT: no such file or directory, mount '/);
  });
});

describe('concierge/sys mkfifo', () => {
  it('makes a FIFO with the mode asked, and fails with EEXIST on an existing path', () => {
    const path = join(scratch, 'fifo');
    sys.mkfifo(path, 0o600);
    const stat = statSync(path);
    expect(stat.isFIFO()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    let caught: unknown;
    try {
      sys.mkfifo(path, 0o600);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'EEXIST', syscall: 'mkfifo', path });
  });
});

describe('concierge/sys waitid/waitpid', () => {
  it('peeks at an ended orphan without reaping it, then reaps it by pid', async () => {
    // As a subreaper this worker inherits the shell's background child when the shell exits; libuv
    // knows only the shell, so the orphan stays a zombie until reaped here.
    sys.prctl(PR.SET_CHILD_SUBREAPER, 1);
    const shell = spawn('sh', ['-c', 'sleep 0.2 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    expect(await new Promise((resolve) => shell.on('exit', resolve))).toBe(0);
    const orphan = Number(out.trim());
    let peeked = 0;
    for (let i = 0; i < 100 && peeked === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      peeked = sys.waitidPeek();
    }
    expect(peeked).toBe(orphan);
    expect(sys.waitidPeek()).toBe(orphan); // WNOWAIT: still there
    expect(sys.waitpid(orphan, WAIT.NOHANG)).toEqual({ pid: orphan, code: 0, signal: null });
    expect(() => sys.waitpid(orphan, WAIT.NOHANG)).toThrow(/ECHILD/);
    sys.prctl(PR.SET_CHILD_SUBREAPER, 0);
  });
});

describe('concierge/sys prctl and rlimits', () => {
  it('returns the result of a value-returning option', () => {
    expect(sys.prctl(PR.GET_DUMPABLE)).toBe(1);
  });
  it('lowers and restores the soft NOFILE limit', () => {
    const before = sys.getrlimit(RLIMIT.NOFILE);
    sys.setrlimit(RLIMIT.NOFILE, 512n, before.hard);
    expect(sys.getrlimit(RLIMIT.NOFILE)).toEqual({ soft: 512n, hard: before.hard });
    sys.setrlimit(RLIMIT.NOFILE, before.soft, before.hard);
    expect(sys.getrlimit(RLIMIT.NOFILE)).toEqual(before);
  });
});

describe('concierge/sys openat2', () => {
  it('resolves absolute symlinks inside the root with RESOLVE_IN_ROOT', () => {
    const root = join(scratch, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc', 'marker'), 'inside');
    symlinkSync('/etc/marker', join(root, 'link'));
    symlinkSync('../../../../../../etc/marker', join(root, 'dotdot'));
    const rootFd = openSync(root, 'r');
    try {
      for (const name of ['link', 'dotdot']) {
        const fd = sys.openat2(rootFd, name, { flags: O.RDONLY | O.CLOEXEC, resolve: RESOLVE.IN_ROOT });
        expect(readFileSync(fd, 'utf8')).toBe('inside');
        closeSync(fd);
      }
      expect(() => sys.openat2(rootFd, 'link', { flags: O.RDONLY, resolve: RESOLVE.NO_SYMLINKS })).toThrow(/ELOOP/);
      expect(() => sys.openat2(AT_FDCWD, join(root, 'link'), { flags: O.RDONLY, resolve: RESOLVE.BENEATH })).toThrow(/EXDEV/);
    } finally {
      closeSync(rootFd);
    }
  });
});

describe('concierge/sys finit_module', () => {
  it('refuses a file that is not a module with a mapped error', () => {
    const path = join(scratch, 'not-a-module.ko');
    writeFileSync(path, 'plain text');
    const fd = openSync(path, 'r');
    try {
      expect(() => sys.finitModule(fd, '', 0, path)).toThrow(/finit_module/);
    } finally {
      closeSync(fd);
    }
  });
});
