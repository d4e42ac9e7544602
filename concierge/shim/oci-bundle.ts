// An OCI bundle's config.json (what containerd writes for the task) read into the guest's instance spec:
// one workload whose root is the bundle's rootfs, shared into the guest over virtio-9p, with the
// process's args, env, cwd and numeric user as the bundle says, its host binds (bind-shares.ts) and its
// cgroup limits. The VM is the container's isolation, so the workload shares the guest's network (a guest
// NIC is not made here): a pod's containers, each a workload of the same guest, so share one network
// namespace, as a pod's containers do.
import { readFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { minMemoryBytes, resourceRanges } from '../instance/spec-workloads.js';
import { ninePOptions, type BindShares, type BundleBind } from './bind-shares.js';
import { podOf, type PodMembership } from './sandbox.js';

/** Where the guest mounts the shim's share (each container's rootfs under its id, see sandbox.ts), and its 9p tag. */
export const guestShare = '/run/concierge-shim/containers';
export const rootfsTag = 'ctr-rootfs';
/** A path of the share (relative to it) in the guest. */
export const guestShareOf = (relative: string): string => `${guestShare}/${relative}`;
/** A container's rootfs in the guest. */
export const guestRootfsOf = (containerId: string): string => guestShareOf(containerId);
/** The workload's id in the guest (a containerd id can be longer than a workload id may be). */
export const workloadId = 'task';

export interface BundleProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  terminal: boolean;
}

/** Annotations (ctr run --annotation, a pod's) that give the workload its caller-aware docker socket, and its policy. */
export const dockerAccessAnnotation = 'io.concierge.docker-access';
export const dockerPolicyAnnotation = 'io.concierge.docker-policy';

/** config.json's linux.resources, as the guest workload's resources (workload spec's names). */
export interface BundleResources {
  memoryBytes?: number;
  cpus?: number;
  cpuShares?: number;
  pids?: number;
}

export interface BundleConfig {
  process: BundleProcess;
  binds: BundleBind[];
  resources: BundleResources;
  /** From the annotations: a docker socket for the workload, and its policy ("isolated", "trusted" or a JSON object). */
  docker: { access: boolean; policy: unknown };
  hostname: string | undefined;
  /** root.path, relative to the bundle unless absolute. */
  rootPath: string;
  /** The CRI pod it belongs to (its annotations), if any. */
  pod: PodMembership | undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown, where: string): string[] => {
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) throw new Error(`${where}: expected an array of strings`);
  return v;
};
const uint = (v: unknown, where: string): number => {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${where}: expected a whole number`);
  return v;
};

/** An OCI process object (config.json's `process`, or the spec of an exec). */
export function readProcess(p: unknown, where = 'process'): BundleProcess {
  if (!isRecord(p)) throw new Error(`${where}: expected an object`);
  const args = strings(p.args, `${where}.args`);
  if (args.length === 0) throw new Error(`${where}.args: must not be empty`);
  const user = isRecord(p.user) ? p.user : {};
  return {
    args, env: p.env === undefined ? [] : strings(p.env, `${where}.env`),
    cwd: typeof p.cwd === 'string' && p.cwd !== '' ? p.cwd : '/',
    uid: uint(user.uid, `${where}.user.uid`), gid: uint(user.gid, `${where}.user.gid`),
    terminal: p.terminal === true,
  };
}

/**
 * The host binds among config.json's mounts. The other types (proc, sysfs, tmpfs, devpts, mqueue, cgroup)
 * are the container's own kernel file systems: the guest workload gets its own (its runtime spec's
 * defaults), so they are not carried over.
 */
function readBinds(mounts: unknown): BundleBind[] {
  if (mounts === undefined) return [];
  if (!Array.isArray(mounts)) throw new Error('config.json: mounts: expected an array');
  const binds: BundleBind[] = [];
  for (const [i, m] of mounts.entries()) {
    if (!isRecord(m)) throw new Error(`config.json: mounts[${i}]: expected an object`);
    const options = m.options === undefined ? [] : strings(m.options, `config.json: mounts[${i}].options`);
    if (m.type !== 'bind' && !options.includes('bind') && !options.includes('rbind')) continue;
    if (typeof m.source !== 'string' || !isAbsolute(m.source)) throw new Error(`config.json: mounts[${i}].source: expected an absolute path`);
    if (typeof m.destination !== 'string' || !isAbsolute(m.destination)) throw new Error(`config.json: mounts[${i}].destination: expected an absolute path`);
    binds.push({ source: m.source, destination: m.destination, readonly: options.includes('ro') });
  }
  return binds;
}

/** A positive number at a path of linux.resources, or undefined (absent, 0 or negative: no limit, as runc reads them). */
function positive(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`config.json: linux.resources.${where}: expected a number`);
  return v > 0 ? v : undefined;
}

function readResources(linux: unknown): BundleResources {
  const r = isRecord(linux) && isRecord(linux.resources) ? linux.resources : {};
  const memory = isRecord(r.memory) ? r.memory : {};
  const cpu = isRecord(r.cpu) ? r.cpu : {};
  const pids = isRecord(r.pids) ? r.pids : {};
  const out: BundleResources = {};
  const limit = positive(memory.limit, 'memory.limit');
  if (limit !== undefined) {
    if (limit < minMemoryBytes) throw new Error(`config.json: linux.resources.memory.limit: at least ${minMemoryBytes} bytes (6m), as docker run --memory`);
    out.memoryBytes = limit;
  }
  // Kept within the workload spec's ranges (more than the VM has is no limit either way).
  const within = (v: number, [min, max]: readonly [number, number]): number => Math.min(max, Math.max(min, v));
  const quota = positive(cpu.quota, 'cpu.quota');
  if (quota !== undefined) out.cpus = within(quota / (positive(cpu.period, 'cpu.period') ?? 100_000), resourceRanges.cpus);
  const shares = positive(cpu.shares, 'cpu.shares');
  if (shares !== undefined) out.cpuShares = within(Math.round(shares), resourceRanges.cpuShares);
  const pidsLimit = positive(pids.limit, 'pids.limit');
  if (pidsLimit !== undefined) out.pids = within(Math.round(pidsLimit), resourceRanges.pids);
  return out;
}

export function readBundleConfig(bundle: string): BundleConfig {
  const doc: unknown = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  if (!isRecord(doc)) throw new Error('config.json: expected an object');
  const root = isRecord(doc.root) ? doc.root : {};
  const annotations = isRecord(doc.annotations) ? doc.annotations : {};
  const policy = annotations[dockerPolicyAnnotation];
  return {
    process: readProcess(doc.process, 'config.json: process'),
    binds: readBinds(doc.mounts),
    resources: readResources(doc.linux),
    docker: {
      access: annotations[dockerAccessAnnotation] === 'true',
      policy: typeof policy !== 'string' || policy === '' ? undefined : policy.trimStart().startsWith('{') ? JSON.parse(policy) as unknown : policy,
    },
    hostname: typeof doc.hostname === 'string' && doc.hostname !== '' ? doc.hostname : undefined,
    rootPath: typeof root.path === 'string' && root.path !== '' ? root.path : 'rootfs',
    pod: podOf(annotations, basename(bundle)),
  };
}

/**
 * The instance spec the guest boots with: the 9p modules and mount, one workload, power off after it;
 * dockerd (without iptables or a default bridge, as the sample job has it) only for a workload with docker access.
 */
export function guestSpec(config: BundleConfig, io: { stdin: boolean; terminal: boolean }, containerId: string, binds: Omit<BindShares, 'shares'>): Record<string, unknown> {
  const p = config.process;
  return {
    ...(config.hostname === undefined ? {} : { hostname: config.hostname }),
    modules: ['virtio_pci', '9pnet_virtio', '9p', ...(config.docker.access ? ['overlay'] : [])],
    mounts: [{ source: rootfsTag, target: guestShare, type: '9p', options: ninePOptions }, ...binds.guestMounts],
    docker: config.docker.access ? { iptables: false, bridge: 'none' } : { enabled: false },
    workloads: [{
      id: workloadId, rootfs: guestRootfsOf(containerId), args: p.args, env: p.env, cwd: p.cwd, user: `${p.uid}:${p.gid}`, network: 'host', stdin: io.stdin, terminal: io.terminal,
      mounts: binds.workloadMounts, resources: workloadResources(config.resources),
      ...(config.docker.access ? { dockerAccess: true, ...(config.docker.policy === undefined ? {} : { dockerPolicy: config.docker.policy }) } : {}),
    }],
    afterWorkloads: 'poweroff',
  };
}

/** The workload spec's resources (its memory in bytes, as its parser takes them). */
export function workloadResources(r: BundleResources): Record<string, number> {
  return {
    ...(r.memoryBytes === undefined ? {} : { memory: r.memoryBytes }),
    ...(r.cpus === undefined ? {} : { cpus: r.cpus }),
    ...(r.cpuShares === undefined ? {} : { cpuShares: r.cpuShares }),
    ...(r.pids === undefined ? {} : { pids: r.pids }),
  };
}
