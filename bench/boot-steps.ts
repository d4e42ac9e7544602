// concierge's boot steps as PID 1 of fresh namespaces on this host (the instance of
// test/supervise/boot.test.ts: the built dist/concierge, its own root, a spec with DNS and search
// domains, dockerd off): boots it N times, prints each boot's steps and Node's start to the first line,
// then the median, min and max of each. The target is the steps' sum under 5 ms. With --compare, boots
// of another build's dist/ (a checkout's, built) alternate with this one's and both are printed.
// Usage: npx tsx bench/boot-steps.ts [--boots 10] [--compare <other checkout>/dist]   (as root)
import { parseArgs } from 'node:util';
import { startInstance } from '../test/supervise/harness.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({ options: { boots: { type: 'string', default: '10' }, compare: { type: 'string' } } });
const boots = Number(values.boots);
if (!Number.isInteger(boots) || boots < 1) throw new Error('--boots: expected a positive whole number');

const spec = { hostname: 'boot-steps-bench', network: { dns: ['192.0.2.53'], search: ['example.test'] }, docker: { enabled: false } };
const builds: { name: string; dist?: string }[] = [{ name: 'this build' }, ...(values.compare === undefined ? [] : [{ name: values.compare, dist: values.compare }])];
const figures = new Map<string, Map<string, number[]>>(builds.map((b) => [b.name, new Map()]));
const add = (build: string, name: string, ms: number): void => {
  const byStep = figures.get(build)!;
  byStep.set(name, [...(byStep.get(name) ?? []), ms]);
};

for (let i = 1; i <= boots; i++) {
  // Alternated, so the machine's load lands on both alike.
  for (const build of i % 2 === 1 ? builds : [...builds].reverse()) {
    const instance = await startInstance({ spec, env: { CONCIERGE_LOG_LEVEL: 'info' }, ...(build.dist === undefined ? {} : { dist: build.dist }) });
    try {
      const done = (await instance.waitFor((l) => l.json?.timeline === 'boot steps done', 'boot steps done')).json as { atMs: number; stepsMs: number; steps: { step: string; tookMs: number }[] };
      const start = instance.lines.find((l) => typeof l.json?.sinceProcessStartMs === 'number')?.json?.sinceProcessStartMs as number | undefined;
      if (start !== undefined) add(build.name, 'node start to first line', start);
      add(build.name, 'steps (sum)', done.stepsMs);
      // The console's "boot steps done at +N ms": the steps and what runs between them, from the first line.
      add(build.name, 'steps done at', done.atMs);
      for (const s of done.steps) add(build.name, s.step, s.tookMs);
      console.log(`boot ${i} ${build.name}: steps ${done.stepsMs.toFixed(2)} ms, node start to first line ${start ?? '-'} ms: ${done.steps.map((s) => `${s.step} ${s.tookMs.toFixed(2)}`).join(', ')}`);
    } finally {
      await instance.stop();
    }
  }
}
for (const [build, byStep] of figures) {
  console.log(`\n${build}, ms`.padEnd(27) + ` ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)}`);
  for (const [name, xs] of byStep) console.log(`${name.padEnd(26)} ${median(xs).toFixed(2).padStart(8)} ${Math.min(...xs).toFixed(2).padStart(8)} ${Math.max(...xs).toFixed(2).padStart(8)}`);
}
