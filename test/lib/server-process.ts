import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A process that serves the Docker API on a unix socket (concierge, or a proxy the bench compares it
 * with), started and waited for: the one "spawn it and wait for its socket" of the tests and the bench.
 */
export interface ServerProcess {
  readonly pid: number | undefined;
  /** What it wrote (stdout and stderr), or where: for failure messages. */
  readonly output: () => string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it is gone. */
  readonly stop: () => Promise<void>;
}

export interface ServerOptions {
  /** The socket it serves. */
  listen: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Its output goes to this file (kept after it stops) instead of memory. */
  logPath?: string;
  /** Wait until the socket answers `/_ping` (the default), or only until it exists (an upstream that is meant to be down). */
  waitForPing?: boolean;
  timeoutMs?: number;
}

export async function startServerProcess(command: string, args: readonly string[], options: ServerOptions): Promise<ServerProcess> {
  const { listen, logPath, waitForPing = true, timeoutMs = 15_000 } = options;
  const logFd = logPath === undefined ? undefined : openSync(logPath, 'w');
  const child: ChildProcess = spawn(command, args, {
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
    env: { ...process.env, ...options.env },
  });
  if (logFd !== undefined) closeSync(logFd);
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  const output = (): string => (logPath === undefined ? Buffer.concat(chunks).toString('utf8') : `see ${logPath}`);
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(killer);
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${command} exited during start (${child.exitCode ?? child.signalCode}): ${output()}`);
    if (existsSync(listen) && (!waitForPing || (await pings(listen)))) return { pid: child.pid, output, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not serve ${listen} within ${timeoutMs} ms: ${output()}`);
    }
    await sleep(50);
  }
}

/** True when a Docker API answers `/_ping` with OK on the socket. */
export function pings(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 && body === 'OK'));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
