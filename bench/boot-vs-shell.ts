// concierge as the guest's init against the busybox shell stand-in (build.sh --init=shell), side by
// side in one run: builds both guests from the same packages, alternates their boots of the sample job
// (TCG; the spec on the config drive and in fw_cfg, where the stand-in reads it), prints each boot's
// marks as the host saw them from qemu's start, the medians, and the ratio of the job's first output
// (concierge / stand-in; the goal is at most 0.5). Each boot's files are read into the host's page
// cache first (lib/host-cache.ts), and one uncounted boot starts the run.
// Usage: npx tsx bench/boot-vs-shell.ts [--runs 3] [--no-build] [--variants concierge,shell]
//   --variants  the guests compared, each <init>[/<root>] (build.sh --init and --root, root "disk" by
//               default, as build.sh's), e.g. concierge,shell,concierge/initramfs,shell/initramfs to
//               measure a root format too; each concierge variant's ratio is to the shell variant of the same root
//   --no-build  boot the guests the previous run built (guest-rootfs/out/bench-<init>-<root>)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootGuest, repoRoot, sampleSpec, type Boot } from '../test/guest/vm.js';
import { guestView, timeline } from './lib/guest-marks.js';
import { readIntoHostCache } from './lib/host-cache.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'no-build': { type: 'boolean' }, variants: { type: 'string', default: 'concierge,shell' } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: expected a positive whole number');

interface Variant { name: string; init: 'concierge' | 'shell'; root: 'disk' | 'initramfs'; dir: string }
const variants: Variant[] = values.variants.split(',').map((name) => {
  const [init, root = 'disk'] = name.split('/');
  if ((init !== 'concierge' && init !== 'shell') || (root !== 'disk' && root !== 'initramfs')) {
    throw new Error(`--variants: ${name}: expected <concierge|shell>[/<disk|initramfs>]`);
  }
  return { name, init, root, dir: join(repoRoot, 'guest-rootfs/out', `bench-${init}-${root}`) };
});
/** The marks compared; the ratio is taken on the job's first output. */
const compared = ['first stage done', 'first init line', 'containerd ready', 'job first output', 'power-off (qemu exited)'];
const ratioMark = 'job first output';

async function build(v: Variant): Promise<void> {
  const child = spawn('bash', [join(repoRoot, 'guest-rootfs/build.sh'), `--init=${v.init}`, `--root=${v.root}`, `--dest=${v.dir}`], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`build.sh for ${v.name} failed (${code}):\n${output}`);
  console.log(`${v.name}: ${output.split('\n').find((l) => l.startsWith('guest: ')) ?? 'built'}`);
}

if (values['no-build'] !== true) for (const v of variants) await build(v);
for (const v of variants) if (!existsSync(join(v.dir, 'vmlinux'))) throw new Error(`${v.dir} has no guest: run without --no-build`);

const seconds = (ms: number | undefined): string => (ms === undefined ? '     -' : (ms / 1000).toFixed(1).padStart(6));
const results = new Map<string, Map<string, number[]>>(variants.map((v) => [v.name, new Map(compared.map((m) => [m, []]))]));

console.log(`boot of the sample job, ${variants.map((v) => v.name).join(' vs ')}, ${runs} alternated run(s) each, TCG; s from qemu's start`);
// One boot first, not counted: a run's first qemu start was the slowest of the run whatever its guest
// (the first stage done at 3.1-3.2 s against 2.0-2.3 s), and the first guest is always the same one.
const bootVariant = (v: Variant): Promise<Boot> => {
  readIntoHostCache(v.dir);
  return bootGuest({ spec: sampleSpec(), args: ['--image', v.dir, '--console', '-', '--spec-via', 'both'] });
};
await bootVariant(variants[0]!);
for (let run = 1; run <= runs; run++) {
  // Alternate which goes first, so none always boots on a machine another just warmed or loaded.
  const order = run % 2 === 1 ? variants : [...variants].reverse();
  for (const v of order) {
    const boot = await bootVariant(v);
    const marks = timeline(boot).filter((m) => compared.includes(m.name));
    console.log(`run ${run} ${v.name.padEnd(20)} exit ${boot.code}: ${marks.map((m) => `${m.name} ${seconds(m.ms).trim()}`).join(', ')}`);
    if (boot.code !== 0) console.log(boot.output.split('\n').slice(-30).join('\n'));
    for (const m of marks) if (m.ms !== undefined) results.get(v.name)!.get(m.name)!.push(m.ms);
    if (v.init === 'concierge') {
      const inside = guestView(boot);
      if (inside.length > 0) console.log(inside.join('\n'));
      const events = boot.lines.filter((l) => /^concierge: \S+ (workload \S+ started|containerd ready in|dockerd ready in)/.test(l.text));
      for (const e of new Set(events.map((l) => l.text))) console.log(`  ${e}`);
    }
  }
}

console.log(`\n${'mark'.padEnd(26)} ${variants.map((v) => v.name.padStart(22)).join(' ')}   (median, min-max, s)`);
const cell = (xs: number[]): string => (xs.length === 0 ? '-' : `${seconds(median(xs))} (${seconds(Math.min(...xs)).trim()}-${seconds(Math.max(...xs)).trim()})`);
for (const m of compared) console.log(`${m.padEnd(26)} ${variants.map((v) => cell(results.get(v.name)!.get(m)!).padStart(22)).join(' ')}`);
for (const v of variants) {
  // The stand-in follows the image format: each concierge guest is compared with the one on its root.
  const reference = variants.find((r) => r.init === 'shell' && r.root === v.root);
  if (v.init !== 'concierge' || reference === undefined) continue;
  const c = results.get(v.name)!.get(ratioMark)!;
  const s = results.get(reference.name)!.get(ratioMark)!;
  if (c.length === 0 || s.length === 0) continue;
  console.log(`ratio, job's first output, ${v.name} / ${reference.name} (medians): ${(median(c) / median(s)).toFixed(2)} (goal <= 0.50)`);
}
