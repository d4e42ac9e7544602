import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBootFilePartsIn, runPureBootParts } from '../boot/pure-parts.js';
import { Timeline } from '../boot/timeline.js';
import { log } from '../log/logger.js';
import { parseSpecText } from '../instance/spec-source.js';
import { Instance, loadServicesCode, loadWorkloadsCode } from '../supervise/instance.js';

/** A spec as a CI platform's guest has one: its validators are compiled by reading it (compileInitPath). */
const ciGuestSpec = {
  hostname: 'ci-guest',
  modules: ['virtio_net', 'overlay'],
  network: { interfaces: [{ name: 'eth0', addresses: ['10.88.0.2/24'], gateway: '10.88.0.1', mtu: 1400, routes: [{ to: '10.89.0.0/16', via: '10.88.0.1' }] }], dns: ['10.88.0.1'], search: ['test'] },
  mounts: [{ source: '/dev/vda', target: '/cache', type: 'ext4', options: ['noatime'] }],
  sysctls: { 'net.ipv4.ip_forward': '1' },
  containerd: { root: '/cache/containerd' },
  docker: { iptables: false, bridge: 'none', dataRoot: '/cache/docker' },
  registries: { 'registry.test:5000': { username: 'ci', password: 'ci', mirrors: ['mirror.test'] } },
  workloads: [{ id: 'job', image: 'registry.test:5000/ci/job:1', args: ['./ci.sh'], env: { CI: 'true' }, dockerAccess: true }],
  afterWorkloads: 'poweroff',
};

/**
 * Compiles, without booting anything, what the init otherwise compiles while it boots: the services'
 * and the workloads' code (loaded once containerd is spawned), the spec's validators, the boot steps'
 * pure parts and their file parts on a scratch directory. For the build's code cache
 * (scripts/sea-code-cache.cjs), which keeps what was compiled by then. The file parts took the steps
 * as PID 1 in a namespace from 5.62 to 4.60 ms (medians of 20 alternated boots).
 */
export async function compileInitPath(): Promise<void> {
  await Promise.all([loadServicesCode(), loadWorkloadsCode()]);
  runPureBootParts(parseSpecText(JSON.stringify(ciGuestSpec), 'code cache', '/'));
  const scratch = mkdtempSync(join(tmpdir(), 'concierge-code-cache-'));
  try {
    runBootFilePartsIn(scratch, JSON.stringify(ciGuestSpec));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Runs the spec's workload path (the docker proxy, containerd's client, an archive's import, the
 * job's caller-aware socket, its task's start and removal) against `socket`, where the build's code
 * cache script serves a stand-in containerd (scripts/sea-code-cache.cjs), with no dockerd. Their
 * functions, compiled at each boot once containerd answers, on the job's critical path, are then in
 * the cache: under emulation, containerd's readiness to the job's container create went from 1.29 to
 * 0.88 s (medians of 3 alternated boots).
 */
export async function compileWorkloadPath(socket: string, dir: string, archive: string): Promise<void> {
  const spec = parseSpecText(JSON.stringify({
    runDir: `${dir}/run`,
    containerd: { socket, state: `${dir}/state`, root: `${dir}/root` },
    docker: { socket: `${dir}/dockerd.sock`, proxySocket: `${dir}/docker.sock`, iptables: false, bridge: 'none' },
    workloads: [{ id: 'code-cache', image: archive, args: ['/bin/true'], env: ['CI=true'], dockerAccess: true }],
  }), 'code cache', '/');
  const { startWorkloads } = await loadWorkloadsCode();
  let failed: Error | undefined;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => { ended = resolve; });
  const running = await startWorkloads(spec, new Timeline(), {
    started: () => undefined, exited: () => undefined, pulled: () => undefined,
    failed: (_id, err) => { failed = err; },
    done: () => ended(),
  });
  await done;
  await running.stop();
  if (failed !== undefined) throw failed;
}

const help = `usage: concierge init [--spec <instance.json>]
Runs concierge as the guest's init (PID 1): boots the system from the instance spec, supervises
containerd and dockerd, runs the spec's workloads, reaps orphans, and powers off at the end.
Started automatically when concierge is PID 1. Without --spec the spec is looked for on the kernel
command line (concierge.spec=<path>), in qemu fw_cfg (opt/concierge/spec), then in
/etc/concierge/instance.json.`;

/** The kernel starts init with almost no environment. */
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function run(args: string[]): Promise<number | undefined> {
  // Lenient: the kernel hands init the command-line words it does not know; they are only noted.
  const { values, positionals, tokens } = parseArgs({
    args,
    options: { spec: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (values.help === true) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  process.env.PATH ??= defaultPath;
  const timeline = new Timeline();
  const ignored = [...positionals, ...tokens.flatMap((t) => (t.kind === 'option' && t.name !== 'spec' ? [t.rawName] : []))];
  log.info(
    { node: process.version, sinceProcessStartMs: Math.round(timeline.origin), ...(ignored.length > 0 ? { ignoredArgs: ignored } : {}) },
    'concierge init starting',
  );
  const spec = typeof values.spec === 'string' ? values.spec : undefined;
  new Instance(timeline, spec).start();
  // Never resolves: the instance ends the process (or the machine) itself.
  return new Promise<number | undefined>(() => undefined);
}
