// concierge as the guest's init against the busybox shell stand-in (build.sh --init=shell), side by
// side in one run: builds both guests from the same packages, alternates their boots of the sample job
// (TCG; the spec on the config drive and in fw_cfg, where the stand-in reads it), prints each boot's marks as the host saw them from qemu's start, the medians, and the ratio of
// the job's first output (concierge / stand-in; the goal is at most 0.5).
// Usage: npx tsx bench/boot-vs-shell.ts [--runs 3] [--no-build]
//   --no-build  boot the guests the previous run built (guest-rootfs/out/bench-<init>)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootGuest, repoRoot, sampleSpec, type Boot } from '../test/guest/vm.js';
import { guestMarks, guestView, timeline } from './lib/guest-marks.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'no-build': { type: 'boolean' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: expected a positive whole number');

type Init = 'concierge' | 'shell';
const inits: Init[] = ['concierge', 'shell'];
const imageDir = (init: Init): string => join(repoRoot, 'guest-rootfs/out', `bench-${init}`);
/** The marks compared; the ratio is taken on the job's first output. */
const compared = ['first init line', 'containerd ready', 'job first output', 'power-off (qemu exited)'];
const ratioMark = 'job first output';

async function build(init: Init): Promise<void> {
  const child = spawn('bash', [join(repoRoot, 'guest-rootfs/build.sh'), `--init=${init}`, `--dest=${imageDir(init)}`], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`build.sh --init=${init} failed (${code}):\n${output}`);
  console.log(output.split('\n').find((l) => l.startsWith('guest: ')) ?? `built --init=${init}`);
}

if (values['no-build'] !== true) for (const init of inits) await build(init);
for (const init of inits) if (!existsSync(join(imageDir(init), 'vmlinuz'))) throw new Error(`${imageDir(init)} has no guest: run without --no-build`);

const seconds = (ms: number | undefined): string => (ms === undefined ? '     -' : (ms / 1000).toFixed(1).padStart(6));
const results = new Map<Init, Map<string, number[]>>(inits.map((i) => [i, new Map(compared.map((m) => [m, []]))]));

console.log(`boot of the sample job, concierge vs the shell stand-in, ${runs} alternated run(s) each, TCG; s from qemu's start`);
for (let run = 1; run <= runs; run++) {
  // Alternate which goes first, so neither always boots on a machine the other just warmed or loaded.
  const order = run % 2 === 1 ? inits : [...inits].reverse();
  for (const init of order) {
    const boot: Boot = await bootGuest({ spec: sampleSpec(), args: ['--image', imageDir(init), '--console', '-', '--spec-via', 'both'] });
    const marks = timeline(boot, guestMarks);
    console.log(`run ${run} ${init.padEnd(9)} exit ${boot.code}: ${marks.filter((m) => compared.includes(m.name)).map((m) => `${m.name} ${seconds(m.ms).trim()}`).join(', ')}`);
    if (boot.code !== 0) console.log(boot.output.split('\n').slice(-30).join('\n'));
    for (const m of marks) if (m.ms !== undefined && compared.includes(m.name)) results.get(init)!.get(m.name)!.push(m.ms);
    if (init === 'concierge') {
      const inside = guestView(boot);
      if (inside.length > 0) console.log(inside.join('\n'));
    }
  }
}

console.log(`\n${'mark'.padEnd(26)} ${'concierge'.padStart(22)} ${'shell stand-in'.padStart(22)}   (median, min-max, s)`);
const cell = (xs: number[]): string => (xs.length === 0 ? '-' : `${seconds(median(xs))} (${seconds(Math.min(...xs)).trim()}-${seconds(Math.max(...xs)).trim()})`);
for (const m of compared) console.log(`${m.padEnd(26)} ${cell(results.get('concierge')!.get(m)!).padStart(22)} ${cell(results.get('shell')!.get(m)!).padStart(22)}`);
const c = results.get('concierge')!.get(ratioMark)!;
const s = results.get('shell')!.get(ratioMark)!;
if (c.length > 0 && s.length > 0) console.log(`ratio, job's first output (median concierge / median stand-in): ${(median(c) / median(s)).toFixed(2)} (goal <= 0.50)`);
