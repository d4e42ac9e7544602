// What the job's task create runs, started or run once as containerd answers, while concierge's first
// requests to it resolve the job's image and open its docker socket.
// The runc shim: containerd starts a task's shim by running the shim's `start` command, which starts
// the shim again as the long-lived server and answers its address: two Go programs started one after
// the other on the create's path. The workloads' tasks share one server (runcShimGroupAnnotation),
// started here by the same `start` command as containerd runs it; the create's `start` then finds it
// listening and only answers its address. Under TCG the create took 609 against 688 ms, containerd's
// readiness to the job's first output 1.38 against 1.49 s (medians of 8 alternated boots).
// runc, when it is the OCI runtime, runs once (`--version`): its start-up code is then translated.
// crun is not run: a small C program, where each run costs concierge a fork (15-75 ms under TCG).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../log/logger.js';
import { runcShimGroupAnnotation } from '../workloads/oci-runtime.js';

export interface RuncShimGroup {
  /** The group's value of the annotation. */
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

function startRuncShimGroup(g: RuncShimGroup): void {
  mkdirSync(g.dir, { recursive: true, mode: 0o700 });
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
