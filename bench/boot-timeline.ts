// Boot timeline of the guest microVM, from the host's view of the console: each mark is the time the
// line arrived, counted from the start of qemu. Boots the sample job (guest-rootfs/specs) with an
// already-built guest (guest-rootfs/build.sh; --build builds it first).
// Usage: npx tsx bench/boot-timeline.ts [--build] [--cached] [--runs N]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootGuest, buildGuest, initKind, sampleSpec, scratchDir, type Boot } from '../test/guest/vm.js';

const { values } = parseArgs({
  options: { build: { type: 'boolean' }, cached: { type: 'boolean' }, runs: { type: 'string', default: '1' } },
});

/** Console marks, in boot order; both concierge's lines and the stand-in's are recognised. */
const marks: { name: string; pattern: RegExp }[] = [
  { name: 'VMM start', pattern: /^concierge vm: qemu / },
  { name: 'first init line', pattern: /concierge init starting|stand-in init started/ },
  { name: 'containerd ready', pattern: /containerd ready at \+|^init: .*containerd ready/ },
  { name: 'dockerd ready', pattern: /dockerd ready at \+|^init: .*dockerd ready/ },
  { name: 'job first output', pattern: /^job: / },
  { name: 'job done', pattern: /^job: done/ },
  { name: 'result line', pattern: /^concierge: result |power-off, exit code|^init: .*power off/ },
  { name: 'power-off (qemu exited)', pattern: /^concierge vm: guest exit code|^concierge vm: the guest stopped/ },
];

function timeline(boot: Boot): { name: string; ms: number | undefined }[] {
  const start = boot.lines.find((l) => marks[0]!.pattern.test(l.text))?.ms ?? 0;
  return marks.map(({ name, pattern }) => {
    const line = boot.lines.find((l) => pattern.test(l.text));
    return { name, ms: line === undefined ? undefined : line.ms - start };
  });
}

/** concierge's own view: ms from its process start to its first line, and its timeline marks. */
function guestView(boot: Boot): string[] {
  const out: string[] = [];
  for (const { text } of boot.lines) {
    if (!text.startsWith('{')) continue;
    try {
      const j = JSON.parse(text) as { sinceProcessStartMs?: number; timeline?: string; atMs?: number; steps?: { step: string; tookMs: number }[] };
      if (j.sinceProcessStartMs !== undefined) out.push(`  node start to first line: ${j.sinceProcessStartMs} ms`);
      if (j.timeline !== undefined && j.atMs !== undefined) {
        for (const s of j.steps ?? []) out.push(`           step ${s.step} took ${s.tookMs.toFixed(1)} ms`);
        out.push(`  +${j.atMs.toFixed(0).padStart(7)} ms  ${j.timeline}`);
      }
    } catch {
      // Not a log line.
    }
  }
  return out;
}

if (values.build === true) console.log(await buildGuest());
const dir = scratchDir();
const runs = Number(values.runs);
console.log(`guest boot timeline, init ${initKind}, ${values.cached === true ? 'with a fresh cache disk' : 'no cache disk'}, ${runs} run(s); ms from qemu start, as the host saw the console`);
for (let run = 1; run <= runs; run++) {
  const boot = await bootGuest({
    spec: sampleSpec(values.cached === true ? 'sample-job-cached.json' : 'sample-job.json'),
    cacheDisk: values.cached === true ? join(dir, `cache-${run}.img`) : undefined,
    // The console too: concierge's first line and JSON log lines are only there.
    args: ['--console', '-'],
  });
  console.log(`run ${run}: exit code ${boot.code}`);
  let previous = 0;
  for (const { name, ms } of timeline(boot)) {
    if (ms === undefined) {
      console.log(`  ${name.padEnd(26)}       -`);
      continue;
    }
    console.log(`  ${name.padEnd(26)} ${(ms / 1000).toFixed(1).padStart(6)} s  (+${((ms - previous) / 1000).toFixed(1)} s)`);
    previous = ms;
  }
  const inside = guestView(boot);
  if (inside.length > 0) console.log(`  concierge's own timeline (ms after its code started):\n${inside.join('\n')}`);
}
rmSync(dir, { recursive: true, force: true });
