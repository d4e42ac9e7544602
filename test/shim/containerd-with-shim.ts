// A containerd of the test's own with the concierge runtime (io.containerd.concierge.v1): the shim is
// dist/concierge linked as containerd-shim-concierge-v1 in a directory put first on containerd's PATH.
// Its state, sockets and images are the test's, removed with it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxLayer, dockerCliEntries } from '../lib/busybox.js';
import { runCommand, type CommandResult } from '../lib/run-command.js';
import { dockerArchive, writeArchive } from '../workloads/image-fixtures.js';

export const repoRoot = new URL('../..', import.meta.url).pathname;
export const runtime = 'io.containerd.concierge.v1';

export interface TestContainerd {
  dir: string;
  socket: string;
  state: string;
  /** Where the shims keep their state (CONCIERGE_SHIM_ROOT). */
  shims: string;
  /** containerd's log so far (the shims' logs reach it through their bundles' log FIFOs). */
  log(): string;
  ctr(args: string[], options?: { timeoutMs?: number; input?: string }): Promise<CommandResult>;
  /** The shim's state directory and the task's rootfs on the host, for a container id (default namespace). */
  paths(id: string): { stateDir: string; rootfs: string };
  /** Pids of this test's qemu processes or shim servers (their command lines name the test's directory). */
  processes(kind: 'qemu' | 'shim'): number[];
  /** Imports a busybox image under `name` (with the static docker CLI too when asked); fails with ctr's error. */
  importBusybox(name: string, options?: { dockerCli?: boolean }): Promise<void>;
  /** Whether `ctr task ls` shows the task STOPPED. */
  taskStopped(id: string): Promise<boolean>;
  /** Polls until `done` holds (a guest boot under TCG takes a minute or two), then fails with containerd's log. */
  until(done: () => boolean | Promise<boolean>, what: string): Promise<void>;
  /** Stops containerd and removes the test's tree; resolves to the number of shim servers that had outlived their tasks (counted, then killed). */
  stop(): Promise<number>;
}

export async function startContainerd(): Promise<TestContainerd> {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-shim-test-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(join(repoRoot, 'dist/concierge'), join(bin, 'containerd-shim-concierge-v1'));
  const socket = join(dir, 'containerd.sock');
  const state = join(dir, 'state');
  writeFileSync(join(dir, 'containerd.toml'), [
    'version = 2', `root = "${join(dir, 'root')}"`, `state = "${state}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${socket}"`, '[ttrpc]', `  address = "${socket}.ttrpc"`,
    '[debug]', '  address = ""', '[metrics]', '  address = ""', '',
  ].join('\n'));
  const shims = join(dir, 'shims');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, CONCIERGE_SHIM_ROOT: shims };
  const daemon: ChildProcess = spawn('containerd', ['--config', join(dir, 'containerd.toml')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-64 * 1024); });
  const ctr = (args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<CommandResult> =>
    runCommand(['ctr', '-a', socket, ...args], { timeoutMs: options.timeoutMs ?? 60_000, ...(options.input === undefined ? {} : { input: options.input }) });
  for (let i = 0; ; i++) {
    if (existsSync(socket) && spawnSync('ctr', ['-a', socket, 'version'], { timeout: 5000 }).status === 0) break;
    if (i > 100 || daemon.exitCode !== null) throw new Error(`containerd did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const processes = (kind: 'qemu' | 'shim'): number[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmdline.includes(`${dir}/`) && (kind === 'qemu' ? cmdline.startsWith('qemu-system') : cmdline.includes('\0shim\0'));
    } catch {
      return false;
    }
  }).map(Number);
  return {
    dir, socket, state, shims, ctr, log: () => log, processes,
    importBusybox: async (name, options = {}) => {
      const layer = options.dockerCli === true ? busyboxLayer(dockerCliEntries()) : busyboxLayer();
      const archive = writeArchive(join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.tar`), dockerArchive([layer], name));
      const imported = await ctr(['images', 'import', archive]);
      if (imported.code !== 0) throw new Error(`ctr images import ${name}: ${imported.stderr}`);
    },
    taskStopped: async (id) => new RegExp(`^${id}\\s+\\d+\\s+STOPPED`, 'm').test((await ctr(['task', 'ls'])).stdout),
    paths: (id) => {
      const bundle = join(state, 'io.containerd.runtime.v2.task/default', id);
      return { stateDir: join(shims, createHash('sha256').update(bundle).digest('hex').slice(0, 16)), rootfs: join(bundle, 'rootfs') };
    },
    until: async (done, what) => {
      for (let i = 0; i < 600; i++) {
        if (await done()) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`timed out waiting for ${what}\n${log.slice(-4000)}`);
    },
    stop: async () => {
      const states = existsSync(shims) ? readdirSync(shims) : [];
      const pidIn = (state: string, file: string): number | undefined => {
        try {
          return Number(readFileSync(join(shims, state, file), 'utf8'));
        } catch {
          return undefined; // gone already, or never written
        }
      };
      // Shim servers of tasks still there (a failed test's) are not counted; any other one outlived its
      // task's Shutdown (a defect): counted before anything is killed, after a moment to finish exiting.
      const ofLiveTasks = new Set(states.map((s) => pidIn(s, 'shim.pid')));
      let leftover = processes('shim').filter((pid) => !ofLiveTasks.has(pid));
      for (let i = 0; i < 50 && leftover.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        leftover = processes('shim').filter((pid) => !ofLiveTasks.has(pid));
      }
      // A failed test may leave tasks running: their VMs and shims outlive containerd, so they go first.
      for (const state of states) {
        for (const file of ['qemu.pid', 'shim.pid']) {
          const pid = pidIn(state, file);
          try {
            // Only while that pid is still ours: its command line names this test's directory.
            if (pid !== undefined && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
      for (const pid of leftover) process.kill(pid, 'SIGKILL');
      if (leftover.length > 0) process.stderr.write(`test/shim: ${String(leftover.length)} shim server(s) outlived their tasks; killed\n`);
      // Mounts left by a failed test (a task's rootfs) would keep the tree from going.
      spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
      rmSync(dir, { recursive: true, force: true });
      return leftover.length;
    },
  };
}
