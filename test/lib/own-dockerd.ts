// A dockerd of the test's own, as scripts/daemons.sh starts one (the test containerd, its own root,
// exec root and socket, --iptables=false) with the test's extra flags, on a bridge of its own that the
// test makes and removes (a dockerd started with --bridge=none in this network namespace deletes docker0,
// the shared dockerd's bridge); optionally in a mount namespace of its own where the test's directory is
// bind-mounted over /etc/docker (what this dockerd reads there, a registry test's certs.d, is the
// test's), so the machine's /etc/docker and the shared dockerd are left alone, and where names the test
// gives are added to /etc/hosts (a registry named like the guest's, not loopback, which BuildKit would
// reach over plain HTTP).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerdClient } from '../../concierge/containerd/client.js';
import { ignoreNotFound } from '../../concierge/containerd/errors.js';

export interface OwnDockerd {
  socket: string;
  stop(): Promise<void>;
}

/**
 * `etcDocker` (and `hosts`) start it in a mount namespace of its own; without them it shares the
 * machine's, which a dockerd that runs containers needs: the root it mounts for a container must be
 * where the test containerd's runc looks.
 */
export async function startOwnDockerd(options: { etcDocker?: string; dataRoot: string; runDir: string; containerdSocket: string;
  namespace: string; args: string[]; hosts?: Record<string, string> }): Promise<OwnDockerd> {
  for (const d of [options.etcDocker, options.dataRoot, options.runDir]) if (d !== undefined) mkdirSync(d, { recursive: true });
  const socket = join(options.runDir, 'docker.sock');
  const bridge = `crb${process.pid % 100000}`;
  execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
  // A /24 no interface holds yet (two such dockerds may run at once, from two test files).
  const taken = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  const subnet = [...Array(250).keys()].map((i) => (process.pid + i) % 250).find((x) => !taken.includes(` 10.213.${x}.`));
  if (subnet === undefined) throw new Error('no free 10.213.x.0/24 for a test dockerd\'s bridge');
  execFileSync('ip', ['addr', 'add', `10.213.${subnet}.1/24`, 'dev', bridge]);
  execFileSync('ip', ['link', 'set', bridge, 'up']);
  const removeBridge = () => { try { execFileSync('ip', ['link', 'del', bridge]); } catch { /* already gone */ } };
  const hostsFile = join(options.runDir, 'hosts');
  writeFileSync(hostsFile, `${readFileSync('/etc/hosts', 'utf8')}\n${Object.entries(options.hosts ?? {}).map(([name, ip]) => `${ip} ${name}`).join('\n')}\n`);
  const dockerd = ['dockerd', '--containerd', options.containerdSocket, '--containerd-namespace', options.namespace,
    '--containerd-plugins-namespace', `${options.namespace}-plugins`, '-H', `unix://${socket}`, '--data-root', options.dataRoot,
    '--exec-root', join(options.runDir, 'exec'), '--pidfile', join(options.runDir, 'dockerd.pid'),
    `--bridge=${bridge}`, '--iptables=false', '--ip-masq=false', ...options.args];
  // unshare execs sh, which execs dockerd: the child's pid is dockerd's.
  const child: ChildProcess = options.etcDocker === undefined
    ? spawn(dockerd[0]!, dockerd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c',
      'mount --bind "$0" /etc/docker && mount --bind "$1" /etc/hosts && shift && exec "$@"', options.etcDocker, hostsFile, ...dockerd], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) { removeBridge(); throw new Error(`dockerd exited: ${stderr}`); }
    if (existsSync(socket)) break;
    if (i > 300) { child.kill('SIGKILL'); removeBridge(); throw new Error(`dockerd did not make ${socket}: ${stderr}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    socket,
    stop: async () => {
      if (child.exitCode !== null) { removeBridge(); return; }
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await closed;
      clearTimeout(killer);
      removeBridge();
    },
  };
}

/**
 * After the dockerd stopped: releases the leases it kept in its containerd namespaces (one per image it
 * held, and what a failed test left), runs containerd's garbage collection, and deletes the namespaces.
 */
export async function removeDockerdNamespaces(containerdSocket: string, namespace: string): Promise<void> {
  const client = ContainerdClient.connect(containerdSocket, namespace);
  try {
    for (const ns of [namespace, `${namespace}-plugins`]) {
      const scoped = client.withNamespace(ns);
      for (const lease of (await scoped.leases.list({})).leases) await ignoreNotFound(scoped.leases.delete({ id: lease.id }));
      // A lease deleted with sync runs containerd's garbage collection now: the blobs dockerd left unreferenced go.
      await scoped.leases.create({ id: `gc-${namespace}` });
      await scoped.leases.delete({ id: `gc-${namespace}`, sync: true });
      await ignoreNotFound(scoped.namespaces.delete({ name: ns }));
    }
  } finally {
    client.close();
  }
}
