import { parseArgs } from 'node:util';
import { Timeline } from '../boot/timeline.js';
import { log } from '../log/logger.js';
import { Instance } from '../supervise/instance.js';

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
