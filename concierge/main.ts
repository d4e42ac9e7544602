import { basename } from 'node:path';
import { commands } from './cli/commands.js';
import { log } from './log/logger.js';
import { UsageError } from './cli/usage-error.js';

const usage = `usage: concierge <command> [options]
commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`).join('\n')}`;

/** For the build's code cache (scripts/sea-code-cache.cjs): cli/init.ts's compileInitPath. */
export async function compileInitPath(): Promise<void> {
  await (await import('./cli/init.js')).compileInitPath();
}

/** For the build's code cache: cli/init.ts's compileWorkloadPath. */
export async function compileWorkloadPath(socket: string, dir: string, archive: string): Promise<void> {
  await (await import('./cli/init.js')).compileWorkloadPath(socket, dir, archive);
}

async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (name === '--run-ahead') {
    (await import('./cli/run-ahead.js')).runAhead();
    return 0;
  }
  const command = name === undefined ? undefined : commands[name];
  if (command === undefined) {
    process.stderr.write(`${usage}\n`);
    return name === undefined || name === '--help' || name === '-h' ? 0 : 2;
  }
  return (await command.load()).run(rest);
}

// As PID 1 concierge is the init, whatever words the kernel passed along; run by containerd under the
// shim's name (a link to this binary), it is the shim.
const argv = process.argv.slice(2);
const asShim = basename(process.argv0) === 'containerd-shim-concierge-v1';
main(process.pid === 1 && argv[0] !== 'init' ? ['init', ...argv] : asShim ? ['shim', ...argv] : argv).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`concierge: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    log.fatal({ err }, 'concierge failed');
    process.exitCode = 1;
  },
);
