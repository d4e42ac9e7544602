import { parseArgs } from 'node:util';
import { log } from '../log/logger.js';
import { WorkloadRunner } from '../workloads/runner.js';
import { SpecError } from '../instance/spec-fields.js';
import { readSpecDocument } from '../instance/spec-source.js';
import { parseWorkloadSpec } from '../instance/spec-workloads.js';
import { runnerOptionsFromFlags } from './runner-options.js';
import { UsageError } from './usage-error.js';

const help = `usage: concierge run --spec <workload.json> [--containerd <sock>] [--containerd-state <dir>] [--docker <sock>]
Runs one workload as a containerd container in the "default" namespace, streams its stdout and stderr,
and exits with its exit code. Ctrl-C (or SIGTERM) stops it (SIGTERM, then SIGKILL after its stopTimeout)
and removes it.
  --containerd        containerd's socket (default /run/containerd/containerd.sock)
  --containerd-state  containerd's state directory (default /run/containerd)
  --docker            the docker socket bound at /var/run/docker.sock for a workload with dockerAccess`;

export async function run(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      spec: { type: 'string' },
      containerd: { type: 'string' },
      'containerd-state': { type: 'string' },
      docker: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (!values.spec) throw new UsageError(`--spec is required\n${help}`);
  let spec;
  try {
    const { document, baseDir } = readSpecDocument(values.spec);
    spec = parseWorkloadSpec(document, { baseDir });
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`concierge run: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const runner = await WorkloadRunner.open(runnerOptionsFromFlags(values));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workload: spec.id }, 'stopping the workload');
    const workload = runner.get(spec.id);
    if (workload?.state === 'running') void workload.stop(); // still starting: stopped once it runs
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const workload = await runner.start(spec, (stream, chunk) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk));
    if (stopping) void workload.stop();
    const exit = await workload.wait();
    return exit.exitCode;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await runner.close();
  }
}
