/**
 * A caller-aware docker.sock for the bench, in a process of its own so its CPU, RSS and fds are read
 * like the transparent proxy's: `startCallerSocket` for a caller whose root is a host directory (the
 * bench puts `/data` in it) and whose only mount is the socket itself at /var/run/docker.sock.
 * On SIGTERM/SIGINT it stops and removes the caller's siblings and staging binds (closeAndClean).
 * bench/lib/targets.ts bundles it with esbuild (CommonJS, as dist/concierge.js) and runs the bundle.
 * Usage: node <bundle> --listen <sock> --upstream <dockerd sock> --root <dir> --staging <dir> [--id <caller id>]
 */
import { parseArgs } from 'node:util';
import { type Caller, DEFAULT_POLICY, startCallerSocket } from '../concierge/dockerproxy/aware/index.js';

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    upstream: { type: 'string' },
    root: { type: 'string' },
    staging: { type: 'string' },
    id: { type: 'string', default: 'concierge-bench-caller' },
  },
  strict: true,
});
if (!values.listen || !values.upstream || !values.root || !values.staging) {
  process.stderr.write('usage: caller-socket.ts --listen <sock> --upstream <dockerd sock> --root <dir> --staging <dir> [--id <caller id>]\n');
  process.exit(2);
}

const caller: Caller = {
  id: values.id,
  rootfs: values.root,
  mounts: [{ destination: '/var/run/docker.sock', source: values.listen, type: 'bind', options: ['rbind', 'rw'] }],
  policy: DEFAULT_POLICY,
};

async function main(listen: string, upstream: string, stagingDir: string): Promise<void> {
  const socket = await startCallerSocket({ caller, listen, upstream, stagingDir });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await socket.closeAndClean();
}

main(values.listen, values.upstream, values.staging).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`caller socket: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
