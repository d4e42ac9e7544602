// The OCI runtime spec of a workload: containerd's own defaults for a Linux container (the ones `ctr run`
// gets: namespaces, capabilities, masked and read-only paths, default mounts, cgroups path, devices),
// then the image config, then the workload spec on top.
import type { ImageRuntimeConfig } from '../containerd/images/image-config.js';
import type { WorkloadSpec } from '../instance/spec-workloads.js';
import { cgroupsPath } from './cgroup.js';
import type { ProcessUser } from './user.js';

export const runtimeSpecTypeUrl = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: ProcessUser;
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  annotations?: Record<string, string>;
  mounts: OciMount[];
  linux: {
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number };
      cpu?: { quota?: number; period?: number; shares?: number };
      pids?: { limit: number };
    };
    cgroupsPath: string;
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

const cpuPeriodUs = 100_000;

const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const defaultCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  ];
}

/** Image env first, then the workload's: a later KEY replaces an earlier one in place. */
export function mergeEnv(...lists: string[][]): string[] {
  const byKey = new Map<string, string>();
  for (const list of lists) for (const entry of list) byKey.set(entry.slice(0, entry.indexOf('=')), entry);
  if (!byKey.has('PATH')) byKey.set('PATH', defaultPath);
  return [...byKey.values()];
}

export interface RuntimeSpecContext {
  namespace: string;
  containerId: string;
  /** Host path of the docker socket bound at /var/run/docker.sock, when the workload has dockerAccess. */
  dockerSocket?: string;
  /** The process user, resolved from the workload's or the image's user string (user.ts). */
  user: ProcessUser;
}

export function buildRuntimeSpec(workload: WorkloadSpec, image: ImageRuntimeConfig, ctx: RuntimeSpecContext): RuntimeSpec {
  const args = workload.args ?? [...image.entrypoint, ...image.cmd];
  if (args.length === 0) throw new Error(`workload ${workload.id}: no args, and the image has no entrypoint or cmd`);
  const caps = [...defaultCapabilities];
  const hostNetwork = workload.network === 'host';
  const namespaces = ['pid', 'ipc', 'uts', 'mount', ...(hostNetwork ? [] : ['network'])].map((type) => ({ type }));
  const mounts = defaultMounts();
  if (hostNetwork) {
    // As `ctr run --net-host`: the host's name resolution comes with the host's network.
    mounts.push(
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
    );
  }
  for (const m of workload.mounts) {
    mounts.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw'] });
  }
  if (ctx.dockerSocket !== undefined) {
    mounts.push({ destination: '/var/run/docker.sock', type: 'bind', source: ctx.dockerSocket, options: ['rbind', 'rw'] });
  }
  const r = workload.resources;
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: workload.terminal,
      user: ctx.user,
      args,
      env: mergeEnv(image.env, workload.env),
      cwd: workload.cwd ?? (image.workingDir || '/'),
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    ...(hostNetwork ? {} : { hostname: workload.id }),
    mounts,
    linux: {
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        ...(r.memoryBytes === undefined ? {} : { memory: { limit: r.memoryBytes } }),
        ...(r.cpus === undefined && r.cpuShares === undefined ? {} : {
          cpu: {
            // As docker run --cpus: a quota per 100 ms period.
            ...(r.cpus === undefined ? {} : { quota: Math.round(r.cpus * cpuPeriodUs), period: cpuPeriodUs }),
            ...(r.cpuShares === undefined ? {} : { shares: r.cpuShares }),
          },
        }),
        ...(r.pids === undefined ? {} : { pids: { limit: r.pids } }),
      },
      cgroupsPath: cgroupsPath(ctx.namespace, ctx.containerId),
      namespaces,
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
