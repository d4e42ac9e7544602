import { runCommand, shellQuote, startCommand, type CommandOptions, type CommandResult, type RunningCommand } from '../../lib/run-command.js';
import type { Target } from './targets.js';

export interface CliOptions extends Omit<CommandOptions, 'env'> {
  /** Extra environment on top of the target's (DOCKER_BUILDKIT, ...). */
  env?: NodeJS.ProcessEnv;
}

/** A docker CLI binary bound to nothing: each call says which target it talks to. */
export interface DockerCli {
  bin: string;
  run(target: Target, args: readonly string[], options?: CliOptions): Promise<CommandResult>;
  start(target: Target, args: readonly string[], options?: CliOptions): RunningCommand;
  /** Runs under a pseudo-terminal (util-linux `script`), for `-t`; `script -e` passes the exit code on. */
  runInTerminal(target: Target, args: readonly string[], options?: CliOptions): Promise<CommandResult>;
}

export function dockerCli(bin: string): DockerCli {
  const envOf = (target: Target, options: CliOptions) => target.env(options.env);
  return {
    bin,
    run: (target, args, options = {}) => runCommand([bin, ...args], { ...options, env: envOf(target, options) }),
    start: (target, args, options = {}) => startCommand([bin, ...args], { ...options, env: envOf(target, options) }),
    runInTerminal: (target, args, options = {}) =>
      runCommand(['script', '-qec', shellQuote([bin, ...args]), '/dev/null'], { ...options, env: envOf(target, options) }),
  };
}
