import { parseArgs } from 'node:util';
import { startProxy } from '../dockerproxy/index.js';
import { log } from '../log/logger.js';
import { UsageError } from './usage-error.js';

const help = `usage: concierge proxy --listen <unix socket> --upstream <dockerd unix socket> [--upstream-wait <ms>]
Serves the Docker Engine API on --listen and forwards it, untouched, to dockerd.`;

export async function run(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: 'string' },
      upstream: { type: 'string' },
      'upstream-wait': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  if (!values.listen || !values.upstream) throw new UsageError(`--listen and --upstream are required\n${help}`);
  const waitMs = Number(values['upstream-wait']);
  if (!Number.isInteger(waitMs) || waitMs < 0) throw new UsageError('--upstream-wait must be a whole number of ms');
  const proxy = await startProxy({ listen: values.listen, upstream: values.upstream, upstreamWaitMs: waitMs });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'docker proxy stopping');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await proxy.close();
  return 0;
}
