import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const builtCli = join(repoRoot, 'dist', 'concierge.js');

/** A `concierge proxy` child process: the shipped CLI, so the suite tests the code path users run. */
export interface ProxyProcess {
  socket: string;
  /** The proxy's own output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node dist/concierge.js proxy --listen <socket> --upstream <upstream>` and waits until it
 * answers `/_ping` (unless `waitForPing` is false, for an upstream that is meant to be down).
 * COMPAT_PROXY=socat swaps in a plain socat relay: only for checking the harness itself.
 */
export async function startProxyProcess(
  socket: string,
  upstream: string,
  { waitForPing = true }: { waitForPing?: boolean } = {},
): Promise<ProxyProcess> {
  let child: ChildProcess;
  if (process.env.COMPAT_PROXY === 'socat') {
    // -t: after one direction ends, keep the other open (socat closes both after 0.5 s by default).
    child = spawn('socat', ['-t', '600', `UNIX-LISTEN:${socket},fork,unlink-early`, `UNIX-CONNECT:${upstream}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else {
    if (!existsSync(builtCli)) throw new Error(`${builtCli} is missing: run \`npm run build\` first`);
    child = spawn(process.execPath, [builtCli, 'proxy', '--listen', socket, '--upstream', upstream], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CONCIERGE_LOG_LEVEL: process.env.CONCIERGE_LOG_LEVEL ?? 'warn' },
    });
  }
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c));
  const output = () => Buffer.concat(chunks).toString('utf8');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
  };

  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}: ${output()}`);
    if (existsSync(socket) && (!waitForPing || (await pings(socket)))) return { socket, output, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`proxy did not serve ${socket} within 10 s: ${output()}`);
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
