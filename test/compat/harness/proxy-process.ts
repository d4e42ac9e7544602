import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServerProcess } from '../../lib/server-process.js';

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
  if (process.env.COMPAT_PROXY === 'socat') {
    // -t: after one direction ends, keep the other open (socat closes both after 0.5 s by default).
    const relay = await startServerProcess('socat', ['-t', '600', `UNIX-LISTEN:${socket},fork,unlink-early`, `UNIX-CONNECT:${upstream}`], { listen: socket, waitForPing, timeoutMs: 10_000 });
    return { socket, output: relay.output, stop: relay.stop };
  }
  if (!existsSync(builtCli)) throw new Error(`${builtCli} is missing: run \`npm run build\` first`);
  const proxy = await startServerProcess(process.execPath, [builtCli, 'proxy', '--listen', socket, '--upstream', upstream], {
    listen: socket,
    waitForPing,
    timeoutMs: 10_000,
    env: { CONCIERGE_LOG_LEVEL: process.env.CONCIERGE_LOG_LEVEL ?? 'warn' },
  });
  return { socket, output: proxy.output, stop: proxy.stop };
}
