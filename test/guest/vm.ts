// Builds the guest image once and boots it under qemu through guest-rootfs/boot.sh, collecting the
// console. Software emulation on these machines: a boot takes minutes, so tests share boots.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** boot.sh's exit status: the job's exit code (README.md, exit code contract). */
  code: number | null;
  /** Everything qemu and boot.sh printed, console included. */
  output: string;
  /** Console lines with the host's ms since boot.sh was started. */
  lines: { ms: number; text: string }[];
}

export interface BootOptions {
  /** The instance spec (an object is written as JSON; a string is written as is). */
  spec: unknown;
  cacheDisk?: string;
  timeoutSeconds?: number;
  /** A NIC on this test network's tap; qemu then runs inside its namespace. */
  net?: TestNet;
}

export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'concierge-guest-'));
}

export async function bootGuest(options: BootOptions): Promise<Boot> {
  const dir = scratchDir();
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, typeof options.spec === 'string' ? options.spec : JSON.stringify(options.spec, null, 2));
  const args = [join(guestDir, 'boot.sh'), '--spec', specPath, '--timeout', String(options.timeoutSeconds ?? 540)];
  if (options.cacheDisk !== undefined) args.push('--cache', options.cacheDisk);
  if (options.net !== undefined) args.push('--tap', options.net.tap);
  const [command, ...rest] = options.net === undefined ? ['bash', ...args] : options.net.command('bash', args);
  const started = performance.now();
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Boot['lines'] = [];
  let output = '';
  let pending = '';
  const take = (chunk: Buffer): void => {
    const text = chunk.toString();
    output += text;
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      lines.push({ ms: performance.now() - started, text: pending.slice(0, nl).replace(/\r$/, '') });
      pending = pending.slice(nl + 1);
    }
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  if (pending !== '') lines.push({ ms: performance.now() - started, text: pending });
  return { code, output, lines };
}

/** The sample job's instance spec from guest-rootfs/specs, optionally changed. */
export function sampleSpec(name = 'sample-job.json'): Record<string, unknown> & { workloads: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(join(guestDir, 'specs', name), 'utf8')) as Record<string, unknown> & { workloads: Record<string, unknown>[] };
}
