// What the job's task create runs, started or run once as containerd answers, while concierge's first
// requests to it resolve the job's image and open its docker socket.
// The runc shim: containerd starts a task's shim by running the shim's `start` command, which starts
// the shim again as the long-lived server and answers its address: two Go programs started one after
// the other on the create's path. The workloads' tasks share one server (runcShimGroupAnnotation),
// started here by the same `start` command as containerd runs it; the create's `start` then finds it
// listening and only answers its address. Under TCG the create took 609 against 688 ms, containerd's
// readiness to the job's first output 1.38 against 1.49 s (medians of 8 alternated boots).
// That answer still cost a Go start on the create's path, so containerd runs the group's tasks' shim
// through a shell script here (a runtime given as a path, which containerd 1.6 runs as the shim
// binary): while the group's server listens, it answers a task's `start` as the runc shim would; every
// other call, and a `start` without the server, is the runc shim's own.
// runc, when it is the OCI runtime, runs once (`--version`): its start-up code is then translated.
// crun is not run: a small C program, where each run costs concierge a fork (15-75 ms under TCG).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import invariant from 'tiny-invariant';
import { log } from '../log/logger.js';
import { runcShimGroupAnnotation } from '../workloads/oci-runtime.js';

export interface RuncShimGroup {
  /** The group's value of the annotation: letters, digits, `.`, `_` and `-`. */
  group: string;
  /** The server's working directory, as a task's bundle is for its own shim: its config.json names the group; its `log` gets the server's log. */
  dir: string;
  /** containerd's gRPC socket as its config names it: with the namespace and the group, it makes the server's socket address. */
  containerdSocket: string;
  namespace: string;
}

/**
 * Starts the server of `shimGroup` (when given) and runs runc once (when `ociRuntime` is undefined,
 * the shim's default). Failures are logged only: the first task's create then starts the server.
 */
export function warmRuntime(ociRuntime: string | undefined, shimGroup: RuncShimGroup | undefined): void {
  if (shimGroup !== undefined) startRuncShimGroup(shimGroup);
  if (ociRuntime === undefined) {
    spawn('runc', ['--version'], { stdio: 'ignore' }).on('error', (err) => log.warn({ command: 'runc', err: err.message }, 'runtime binary did not run'));
  }
}

/** What containerd runs as the shim of the group's tasks: the script startRuncShimGroup writes. */
export function runcShimGroupShim(g: Pick<RuncShimGroup, 'dir'>): string {
  return join(g.dir, 'containerd-shim-runc-v2');
}

const shellWord = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The group's shim. containerd runs `<shim> -namespace <ns> -address <socket> -publish-binary <bin>
 * -id <id> [-debug] start` in the task's bundle and reads the address from its output. The runc shim
 * answers a grouped task's `start` by writing the group server's address to the bundle's `address`
 * and printing it, when the server's socket accepts; here a listening socket at that address in
 * /proc/net/unix stands for that (the address file is the server's start's, in the group's directory).
 * Only builtins and one grep: each program started costs tens of ms under TCG.
 */
export function runcShimGroupScript(g: RuncShimGroup): string {
  invariant(/^[\w.-]+$/.test(g.group), `runc shim group name ${g.group}`);
  const address = join(g.dir, 'address');
  return [
    '#!/bin/sh',
    `# The runc shim for the tasks of runc shim group ${g.group}, written by concierge (supervise/warm-runtime.ts):`,
    '# a task\'s `start` is answered from the group\'s running server; anything else is the runc shim\'s.',
    'for last; do :; done',
    `if [ "$last" = start ] && [ "$1 $3" = '-namespace -address' ] && [ "$2" = ${shellWord(g.namespace)} ] && [ "$4" = ${shellWord(g.containerdSocket)} ]; then`,
    `  address=; { read -r address || :; } 2>/dev/null < ${shellWord(address)}`,
    '  case $address in',
    '    unix:///*) if grep -qF " ${address#unix://}" /proc/net/unix 2>/dev/null; then printf %s "$address" > address && printf %s "$address" && exit 0; fi ;;',
    '  esac',
    'fi',
    'exec containerd-shim-runc-v2 "$@"',
    '',
  ].join('\n');
}

function startRuncShimGroup(g: RuncShimGroup): void {
  mkdirSync(g.dir, { recursive: true, mode: 0o700 });
  writeFileSync(runcShimGroupShim(g), runcShimGroupScript(g), { mode: 0o755 });
  writeFileSync(join(g.dir, 'config.json'), JSON.stringify({ annotations: { [runcShimGroupAnnotation]: g.group } }));
  // The server opens its bundle's `log` for writing (containerd makes it a FIFO it reads); a file here.
  writeFileSync(join(g.dir, 'log'), '');
  const started = performance.now();
  const args = ['-namespace', g.namespace, '-address', g.containerdSocket, '-publish-binary', 'containerd', '-id', g.group, 'start'];
  // The environment containerd gives a shim: its own (PATH only, daemons.ts), GOMAXPROCS=2 and its
  // ttrpc address, where the server publishes the tasks' events.
  const env = { PATH: process.env.PATH, GOMAXPROCS: '2', TTRPC_ADDRESS: `${g.containerdSocket}.ttrpc` };
  const child = spawn('containerd-shim-runc-v2', args, { cwd: g.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('error', (err) => log.warn({ group: g.group, err: err.message }, 'runc shim server not started ahead'));
  child.on('close', (code) => {
    if (code === 0) log.info({ group: g.group, address: stdout.trim(), ms: Math.round(performance.now() - started) }, 'runc shim server started ahead');
    else log.warn({ group: g.group, code, err: stderr.trim() }, 'runc shim server not started ahead');
  });
}
