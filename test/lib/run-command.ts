import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';

/** What a finished command left behind: the things the suite compares between targets. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes written to stdin, then stdin is closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /** A file streamed to stdin (for inputs too large to hold in a string). */
  inputFile?: string;
  /**
   * Write this to stdin but leave stdin open until the command exits: `docker attach` ends its
   * stream as soon as its stdin ends, before the container could answer.
   */
  inputKeptOpen?: string;
  /** The command is killed after this long; a hang is an outcome, not a stuck suite. */
  timeoutMs?: number;
}

/** A command left running in the background (logs -f, events, an attached run). */
export interface RunningCommand {
  child: ChildProcess;
  /** Resolves once stdout (so far) matches, rejects if the command ends first. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stdoutSoFar(): string;
  done: Promise<CommandResult>;
}

const defaultTimeoutMs = 60_000;

export function startCommand(argv: readonly string[], options: CommandOptions = {}): RunningCommand {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('startCommand: empty argv');
  const hasInput = options.input !== undefined || options.inputFile !== undefined || options.inputKeptOpen !== undefined;
  const child = spawn(file, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: [hasInput ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    for (const wake of waiters) wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (child.stdin !== null) {
    // A command that exits without reading all its input makes the pipe fail; that is its business.
    child.stdin.on('error', () => {});
    if (options.inputFile !== undefined) createReadStream(options.inputFile).pipe(child.stdin);
    else if (options.inputKeptOpen !== undefined) child.stdin.write(options.inputKeptOpen);
    else child.stdin.end(options.input);
  }

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? defaultTimeoutMs);

  const done = new Promise<CommandResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin?.destroy();
      for (const wake of waiters) wake();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
      });
    });
  });

  let finished = false;
  void done.then(
    () => (finished = true),
    () => (finished = true),
  );
  const stdoutSoFar = () => Buffer.concat(stdout).toString('utf8');

  const waitForStdout = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(stdoutSoFar())) finish();
        else if (finished || child.exitCode !== null || child.signalCode !== null) {
          finish(new Error(`${argv.join(' ')} ended before its output matched ${pattern}: ${stdoutSoFar()}`));
        }
      };
      const deadline = setTimeout(
        () => finish(new Error(`${argv.join(' ')}: no output matching ${pattern} in ${timeoutMs} ms: ${stdoutSoFar()}`)),
        timeoutMs,
      );
      const finish = (err?: Error) => {
        clearTimeout(deadline);
        waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      waiters.add(check);
      check();
    });

  return { child, waitForStdout, stdoutSoFar, done };
}

export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return startCommand(argv, options).done;
}

/** Quotes argv for `sh -c` (used to run a command under `script`, which takes one string). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}
