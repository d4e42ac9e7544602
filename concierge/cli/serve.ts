import { parseArgs } from 'node:util';
import { log } from '../log/logger.js';
import { startControlApi } from '../workloads/control-api.js';
import { lastExitCode } from '../workloads/last-exit.js';
import { WorkloadRunner } from '../workloads/runner.js';
import { SpecError, optional, recordAt } from '../instance/spec-fields.js';
import { registriesAt, type RegistriesSpec } from '../instance/spec-registries.js';
import { workloadDidNotStartExitCode } from '../workloads/exit-codes.js';
import { readSpecDocument } from '../instance/spec-source.js';
import { parseInstanceWorkloads } from '../instance/spec-workloads.js';
import { runnerOptionsFromFlags } from './runner-options.js';
import { UsageError } from './usage-error.js';

const help = `usage: concierge serve --spec <instance.json> --control <sock> [--containerd <sock>] [--containerd-state <dir>]
                       [--docker <sock>] [--exit-with-workloads]
Runs the workloads of an instance spec and serves a control API (HTTP/JSON) on the --control unix socket:
run, list, wait, signal, stop and logs of workloads. SIGINT or SIGTERM stops every workload and exits.
  --exit-with-workloads  exit, with the exit code of the workload that ended last, once every workload of the spec has ended`;

export async function run(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      spec: { type: 'string' },
      control: { type: 'string' },
      containerd: { type: 'string' },
      'containerd-state': { type: 'string' },
      docker: { type: 'string' },
      'exit-with-workloads': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (!values.spec || !values.control) throw new UsageError(`--spec and --control are required\n${help}`);
  let specs;
  let baseDir: string;
  let registries: RegistriesSpec | undefined;
  try {
    const file = readSpecDocument(values.spec);
    baseDir = file.baseDir;
    specs = parseInstanceWorkloads(file.document, { baseDir });
    registries = optional(recordAt(file.document, 'spec').registries, (v) => registriesAt(v, 'spec.registries'));
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`concierge serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const runner = await WorkloadRunner.open({ ...runnerOptionsFromFlags(values), ...(registries === undefined ? {} : { registries }) });
  const api = await startControlApi(runner, values.control, { baseDir });
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => { finish = resolve; });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'concierge serve stopping');
    finish(0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = await Promise.allSettled(specs.map((spec) => api.start(spec)));
  for (const [i, result] of started.entries()) {
    if (result.status === 'rejected') log.error({ workload: specs[i]!.id, err: (result.reason as Error).message }, 'workload did not start');
  }
  if (values['exit-with-workloads']) {
    // The code in the order the workloads exit; the end once each is removed (its output read to the end).
    const code = lastExitCode(started.map(async (r) => (r.status === 'rejected' ? workloadDidNotStartExitCode : (await r.value.ended()).exitCode)));
    const removed = started.map((r) => (r.status === 'rejected' ? undefined : r.value.wait().catch(() => undefined)));
    void Promise.all([code, ...removed]).then(([last]) => finish(last));
  }
  const code = await finished;
  await api.close();
  await runner.close();
  return code;
}
