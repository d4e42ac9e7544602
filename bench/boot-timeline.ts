// Boot timeline of the guest microVM, from the host's view of the console: each mark is the time the
// line arrived, counted from the start of qemu. Boots the sample job (guest-rootfs/specs) with an
// already-built guest (guest-rootfs/build.sh; --build builds it first).
// Usage: npx tsx bench/boot-timeline.ts [--build] [--cached] [--runs N]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootGuest, buildGuest, initKind, sampleSpec, scratchDir } from '../test/guest/vm.js';
import { guestView, timeline } from './lib/guest-marks.js';

const { values } = parseArgs({
  options: { build: { type: 'boolean' }, cached: { type: 'boolean' }, runs: { type: 'string', default: '1' } },
});

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
