// `ctr run` to the container's first output line, and to ctr's exit, for the concierge runtime (a
// microVM per container; TCG on machines without a usable KVM) against runc, on a containerd of the
// bench's own with the same busybox image. One run each unless --runs N; prints the figures and the ratio.
// Usage: npx tsx bench/shim-first-output.ts [--runs N] [--build]
import { parseArgs } from 'node:util';
import { buildGuest } from '../test/guest/vm.js';
import { startCommand } from '../test/lib/run-command.js';
import { runtime as concierge, startContainerd } from '../test/shim/containerd-with-shim.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '1' }, build: { type: 'boolean' } } });
const runs = Number(values.runs);
const image = 'concierge.bench/shim-busybox:1';

if (values.build === true) await buildGuest();
const containerd = await startContainerd();
try {
  await containerd.importBusybox(image);
  const rows: string[] = [];
  const firstMs: Record<string, number[]> = {};
  for (const runtime of ['io.containerd.runc.v2', concierge]) {
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const run = startCommand(['ctr', '-a', containerd.socket, 'run', '--runtime', runtime, '--rm', image, `bench-${i}`, 'sh', '-c', 'echo first; exit 0'], { timeoutMs: 600_000 });
      await run.waitForStdout(/first/, 600_000);
      const first = performance.now() - started;
      const result = await run.done;
      const total = performance.now() - started;
      if (result.code !== 0) throw new Error(`${runtime}: ctr run exited ${result.code}: ${result.stderr}`);
      (firstMs[runtime] ??= []).push(first);
      rows.push(`${runtime.padEnd(28)} first output ${first.toFixed(0).padStart(7)} ms   ctr exited ${total.toFixed(0).padStart(7)} ms`);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(rows.join('\n'));
  console.log(`concierge / runc, first output (median of ${runs}): ${(median(firstMs[concierge]!) / median(firstMs['io.containerd.runc.v2']!)).toFixed(1)}x`);
} finally {
  await containerd.stop();
}
