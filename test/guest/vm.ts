// Builds the guest image once and boots it under qemu through guest-rootfs/boot.sh (concierge vm),
// collecting what it prints. Software emulation on these machines: a boot takes minutes, so tests share boots.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestNet } from '../lib/testnet.js';

export const repoRoot = new URL('../..', import.meta.url).pathname;
const guestDir = join(repoRoot, 'guest-rootfs');

/** Which /sbin/init the tests boot: concierge (the default) or the busybox stand-in. */
export const initKind: 'concierge' | 'shell' = process.env.CONCIERGE_GUEST_INIT === 'shell' ? 'shell' : 'concierge';

/** What a guest that rejects its spec reports: concierge's exitCodes.badSpec, the stand-in's 125. */
export const badSpecExitCode = initKind === 'concierge' ? 2 : 125;

/**
 * Builds guest-rootfs/out (reproducible, so rebuilding is always safe); throws with the build's output.
 * Asynchronous: a test worker blocked for minutes misses its runner's heartbeats.
 */
export async function buildGuest(): Promise<string> {
  const child = spawn('bash', [join(guestDir, 'build.sh'), `--init=${initKind}`], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`guest build failed (${code}):\n${output}`);
  return output;
}

export interface Boot {
  /** boot.sh's (concierge vm's) exit status: the job's exit code. */
  code: number | null;
  /** Everything it printed: the job's output, the guest's events, and its own lines. */
  output: string;
  /** The same as lines with the host's ms since boot.sh was started. */
  lines: { ms: number; text: string }[];
}

export interface BootOptions {
  /** The instance spec (an object is written as JSON; a string is written as is). */
  spec: unknown;
  cacheDisk?: string;
  timeoutSeconds?: number;
  /** A NIC on this test network's tap; qemu then runs inside its namespace. */
  net?: TestNet;
  /** More `concierge vm` arguments (--control, --spec-via, --console...). */
  args?: string[];
  /** qemu's accelerator: tcg (the default: this machine's KVM crawls with Debian's kernel) or auto. */
  accel?: 'tcg' | 'auto';
  /** Called with each line as it arrives. */
  onLine?: (text: string) => void;
}

export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'concierge-guest-'));
}

/** A running boot: its process, what it printed so far, and its end. */
export interface RunningBoot {
  child: ChildProcess;
  lines: Boot['lines'];
  /** Resolves once a line matching `pattern` was printed (rejects when the boot ends first). */
  waitFor(pattern: RegExp): Promise<string>;
  done: Promise<Boot>;
}

export function startGuest(options: BootOptions): RunningBoot {
  const dir = scratchDir();
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, typeof options.spec === 'string' ? options.spec : JSON.stringify(options.spec, null, 2));
  const args = [join(guestDir, 'boot.sh'), '--spec', specPath, '--accel', options.accel ?? 'tcg', '--timeout', String(options.timeoutSeconds ?? 540), ...(options.args ?? [])];
  if (options.cacheDisk !== undefined) args.push('--cache', options.cacheDisk);
  if (options.net !== undefined) args.push('--tap', options.net.tap);
  const [command, ...rest] = options.net === undefined ? ['bash', ...args] : options.net.command('bash', args);
  const started = performance.now();
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Boot['lines'] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  let output = '';
  const pending = { stdout: '', stderr: '' };
  const take = (name: 'stdout' | 'stderr') => (chunk: Buffer): void => {
    const text = chunk.toString();
    output += text;
    pending[name] += text;
    let nl: number;
    while ((nl = pending[name].indexOf('\n')) >= 0) {
      const line = pending[name].slice(0, nl).replace(/\r$/, '');
      lines.push({ ms: performance.now() - started, text: line });
      options.onLine?.(line);
      pending[name] = pending[name].slice(nl + 1);
      for (const w of waiters) if (w.pattern.test(line)) { waiters.delete(w); w.resolve(line); }
    }
  };
  child.stdout.on('data', take('stdout'));
  child.stderr.on('data', take('stderr'));
  const done = new Promise<Boot>((resolve) => child.on('close', (code) => {
    for (const name of ['stdout', 'stderr'] as const) if (pending[name] !== '') lines.push({ ms: performance.now() - started, text: pending[name] });
    rmSync(dir, { recursive: true, force: true });
    resolve({ code, output, lines });
  }));
  const waitFor = (pattern: RegExp): Promise<string> => {
    const seen = lines.find((l) => pattern.test(l.text));
    if (seen !== undefined) return Promise.resolve(seen.text);
    return new Promise((resolve, reject) => {
      waiters.add({ pattern, resolve });
      void done.then(() => reject(new Error(`the boot ended before a line matched ${pattern}`)));
    });
  };
  return { child, lines, waitFor, done };
}

export async function bootGuest(options: BootOptions): Promise<Boot> {
  return startGuest(options).done;
}

/** The sample job's instance spec from guest-rootfs/specs, optionally changed. */
export function sampleSpec(name = 'sample-job.json'): Record<string, unknown> & { workloads: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(join(guestDir, 'specs', name), 'utf8')) as Record<string, unknown> & { workloads: Record<string, unknown>[] };
}
