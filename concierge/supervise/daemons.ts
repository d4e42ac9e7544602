import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dnsCacheAddress } from '../dns/address.js';
import type { InstanceSpec } from '../instance/spec.js';
import { mountAt, readMountInfo } from '../os/mountinfo.js';
import { dockerdConfig } from './dockerd-builder.js';
import { dockerdRegistryArgs, writeDockerCerts } from './dockerd-registries.js';
import { SupervisedDaemon } from './daemon.js';
import { dockerAnswers, socketAccepts } from './readiness.js';

const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * containerd 1.6's plugins that nothing here uses, not loaded: CRI (nothing speaks it, and it sets up
 * CNI at start), the snapshotters other than overlayfs (aufs's check runs `modprobe aufs`, a process
 * start under emulation; btrfs and zfs stat their directories; devmapper is unconfigured), `opt`
 * (creates /opt/containerd) and the restart monitor (no container carries its labels). The v1 linux
 * runtime stays: containerd 1.6's tasks service refuses to start without one.
 */
export const containerdDisabledPlugins = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.native',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.internal.v1.opt',
  'io.containerd.internal.v1.restart',
];

/** containerd's config: its own root, state and sockets from the spec, without the unused plugins. */
export function containerdConfig(spec: InstanceSpec): string {
  const c = spec.containerd;
  return [
    'version = 2',
    `root = ${JSON.stringify(c.root)}`,
    `state = ${JSON.stringify(c.state)}`,
    `disabled_plugins = ${JSON.stringify(containerdDisabledPlugins)}`,
    '[grpc]',
    `  address = ${JSON.stringify(c.socket)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${c.socket}.ttrpc`)}`,
    '',
  ].join('\n');
}

export function containerdDaemon(spec: InstanceSpec): SupervisedDaemon {
  mkdirSync(spec.runDir, { recursive: true });
  mkdirSync(dirname(spec.containerd.socket), { recursive: true });
  const config = join(spec.runDir, 'containerd.toml');
  writeFileSync(config, containerdConfig(spec));
  return new SupervisedDaemon({
    name: 'containerd',
    command: 'containerd',
    args: ['--config', config, ...spec.containerd.args],
    env: { PATH: process.env.PATH ?? defaultPath },
    logPath: join(spec.runDir, 'containerd.log'),
    probe: () => socketAccepts(spec.containerd.socket),
    readyFile: spec.containerd.socket,
    stopTimeoutMs: spec.shutdown.daemonTimeoutMs,
  });
}

/**
 * dockerd's flags: wired to our containerd (it would otherwise start its own), the cgroupfs driver
 * (no systemd here), and iptables off unless the spec asks (most of dockerd's start time);
 * without iptables, masquerading cannot be set up either.
 */
export function dockerdArgs(spec: InstanceSpec): string[] {
  const d = spec.docker;
  const args = [
    '--containerd', spec.containerd.socket,
    '-H', `unix://${d.socket}`,
    '--data-root', d.dataRoot,
    '--exec-root', d.execRoot,
    '--pidfile', join(spec.runDir, 'dockerd.pid'),
    '--config-file', dockerdConfigPath(spec),
    '--exec-opt', 'native.cgroupdriver=cgroupfs',
    `--iptables=${d.iptables}`,
  ];
  if (!d.iptables) args.push('--ip-masq=false');
  if (d.bridge !== undefined) args.push(`--bridge=${d.bridge}`);
  // Containers ask the guest's DNS cache (it is in the guest's resolv.conf too; said here so no
  // other resolver can take its place).
  if (spec.network.dns.length > 0) args.push('--dns', dnsCacheAddress);
  return [...args, ...dockerdRegistryArgs(spec.registries), ...d.args];
}

/** Where concierge writes dockerd's configuration file (dockerd-builder.ts). */
export function dockerdConfigPath(spec: InstanceSpec): string {
  return join(spec.runDir, 'dockerd.json');
}

/** runc cannot pivot_root out of an initramfs: dockerd must be told. */
export function rootIsRamdisk(): boolean {
  const root = mountAt(readMountInfo(), '/');
  return root === undefined || ['rootfs', 'ramfs', 'tmpfs'].includes(root.fstype);
}

export function dockerdDaemon(spec: InstanceSpec): SupervisedDaemon {
  mkdirSync(dirname(spec.docker.socket), { recursive: true });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? defaultPath, ...spec.docker.env };
  if (rootIsRamdisk() && env.DOCKER_RAMDISK === undefined) env.DOCKER_RAMDISK = 'true';
  writeDockerCerts(spec.registries);
  mkdirSync(spec.runDir, { recursive: true });
  writeFileSync(dockerdConfigPath(spec), dockerdConfig(spec.workloads));
  return new SupervisedDaemon({
    name: 'dockerd',
    command: 'dockerd',
    args: dockerdArgs(spec),
    env,
    logPath: join(spec.runDir, 'dockerd.log'),
    probe: () => dockerAnswers(spec.docker.socket),
    readyFile: spec.docker.socket,
    stopTimeoutMs: spec.shutdown.daemonTimeoutMs,
  });
}
