// The runc shim group's script as containerd runs it: a task's `start` answered from the group's
// listening server, everything else handed to the runc shim (a stand-in here that says how it was run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runcShimGroupScript, runcShimGroupShim, type RuncShimGroup } from './warm-runtime.js';

const root = mkdtempSync(join(tmpdir(), 'shim-group-'));
const group: RuncShimGroup = { group: 'concierge', dir: join(root, 'group'), containerdSocket: "/run/it's/containerd.sock", namespace: 'default' };
const bin = join(root, 'bin');
const bundle = join(root, 'bundle');
const serverSocket = join(root, 'server.sock');
const address = `unix://${serverSocket}`;
const startArgs = ['-namespace', 'default', '-address', group.containerdSocket, '-publish-binary', '/usr/bin/containerd', '-id', 'job', 'start'];
// The guest's /bin/sh is busybox's; the host's may be another shell.
const shells = ['/bin/sh', ...(spawnSync('busybox', ['true']).status === 0 ? ['busybox sh'] : [])];
let server: Server;

function runShim(shell: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const [command, ...shellArgs] = shell.split(' ');
  const run = spawnSync(command!, [...shellArgs, runcShimGroupShim(group), ...args], {
    cwd: bundle, env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8',
  });
  return { stdout: run.stdout, stderr: run.stderr, status: run.status };
}

beforeAll(async () => {
  mkdirSync(group.dir, { recursive: true });
  mkdirSync(bin);
  mkdirSync(bundle);
  writeFileSync(runcShimGroupShim(group), runcShimGroupScript(group), { mode: 0o755 });
  writeFileSync(join(bin, 'containerd-shim-runc-v2'), '#!/bin/sh\nprintf "runc shim:"; printf " %s" "$@"\n', { mode: 0o755 });
  server = createServer();
  await new Promise<void>((resolve) => server.listen(serverSocket, resolve));
});

afterAll(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

describe.each(shells)('the runc shim group script (%s)', (shell) => {
  it('hands every call to the runc shim while the group has no server address', () => {
    rmSync(join(group.dir, 'address'), { force: true });
    expect(runShim(shell, startArgs)).toEqual({ stdout: `runc shim: ${startArgs.join(' ')}`, stderr: '', status: 0 });
  });

  it("answers a task's start with the listening server's address, written to the bundle too", () => {
    writeFileSync(join(group.dir, 'address'), address);
    rmSync(join(bundle, 'address'), { force: true });
    expect(runShim(shell, startArgs)).toEqual({ stdout: address, stderr: '', status: 0 });
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(address);
    const debug = [...startArgs.slice(0, -1), '-debug', 'start'];
    expect(runShim(shell, debug).stdout).toBe(address);
  });

  it("hands the runc shim other commands, another namespace's or containerd's tasks, and a server that stopped", () => {
    writeFileSync(join(group.dir, 'address'), address);
    rmSync(join(bundle, 'address'), { force: true });
    const others = [
      [...startArgs.slice(0, -1), 'delete'],
      ['-namespace', 'moby', ...startArgs.slice(2)],
      [...startArgs.slice(0, 3), '/run/containerd/containerd.sock', ...startArgs.slice(4)],
    ];
    for (const args of others) expect(runShim(shell, args).stdout).toBe(`runc shim: ${args.join(' ')}`);
    // A server that crashed leaves its socket's file: only a listener in /proc/net/unix counts.
    const stoppedSocket = join(root, 'stopped.sock');
    writeFileSync(stoppedSocket, '');
    writeFileSync(join(group.dir, 'address'), `unix://${stoppedSocket}`);
    expect(runShim(shell, startArgs).stdout).toBe(`runc shim: ${startArgs.join(' ')}`);
    expect(existsSync(join(bundle, 'address'))).toBe(false);
  });
});
