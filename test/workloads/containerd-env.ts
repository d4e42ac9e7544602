// The real containerd (and dockerd) the tests use: scripts/daemons.sh exports their sockets.
import { ContainerdClient } from '../../concierge/containerd/client.js';
import { callerSocketAccess, callerSocketDefaults } from '../../concierge/supervise/docker-access.js';

export function containerdSocket(): string {
  const sock = process.env.CONTAINERD_SOCK;
  if (!sock) throw new Error('CONTAINERD_SOCK is not set: eval "$(bash scripts/daemons.sh env)" first');
  return sock;
}

export function dockerdSocket(): string {
  const sock = process.env.DOCKERD_SOCK;
  if (!sock) throw new Error('DOCKERD_SOCK is not set: eval "$(bash scripts/daemons.sh env)" first');
  return sock;
}

export function connect(namespace = 'default'): ContainerdClient {
  return ContainerdClient.connect(containerdSocket(), namespace);
}

/** Everything concierge could leave behind in a namespace, to compare before and after. */
export async function inventory(client: ContainerdClient): Promise<Record<string, string[]>> {
  const snapshots: string[] = [];
  for await (const page of client.snapshots.list({ snapshotter: 'overlayfs' })) snapshots.push(...page.info.map((i) => i.name));
  return {
    containers: (await client.containers.list({})).containers.map((c) => c.id).sort(),
    tasks: (await client.tasks.list({})).tasks.map((t) => t.id).sort(),
    snapshots: snapshots.sort(),
    leases: (await client.leases.list({})).leases.map((l) => l.id).sort(),
  };
}

/** Runner options for the test daemons: their state directory, and FIFOs under a directory of the test's. */
export function runnerOptions(fifoRoot: string) {
  const root = process.env.CONCIERGE_TEST_ROOT ?? '/run/concierge-test';
  return {
    containerdSocket: containerdSocket(),
    containerdState: `${root}/containerd/state`,
    dockerAccess: callerSocketAccess(callerSocketDefaults(dockerdSocket())),
    fifoRoot,
  };
}
