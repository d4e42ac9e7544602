// The runc shim and, when it is the OCI runtime, runc, run once (their version) as containerd answers,
// while concierge's first requests to it resolve the job's image and open its docker socket: the job's
// task create then starts programs whose pages are in memory and, under emulation, whose start-up code
// is already translated. Under TCG the job's create took 1.54 s against 1.92 s with runc (medians of 4
// alternated boots); run at containerd's spawn instead, they slowed containerd's own start. With crun,
// the shim's run alone: create 0.49-0.52 s against 0.68-0.71 s without it (2 boots each). crun itself
// is not run: a small C program, where each run costs concierge a fork (15-75 ms under TCG).
import { spawn } from 'node:child_process';
import { log } from '../log/logger.js';

/** `ociRuntime`: the binary the shim runs, as the workloads' runtime options name it; undefined: runc. */
export function warmRuntimeBinaries(ociRuntime: string | undefined): void {
  const binaries: [string, string][] = [['containerd-shim-runc-v2', '-v']];
  if (ociRuntime === undefined) binaries.push(['runc', '--version']);
  for (const [command, arg] of binaries) {
    spawn(command, [arg], { stdio: 'ignore' }).on('error', (err) => log.warn({ command, err: err.message }, 'runtime binary did not run'));
  }
}
