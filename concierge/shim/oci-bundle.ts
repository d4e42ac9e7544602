// An OCI bundle's config.json (what containerd writes for the task) read into the guest's instance spec:
// one workload whose root is the bundle's rootfs, shared into the guest over virtio-9p, with the
// process's args, env, cwd and numeric user as the bundle says. The VM is the container's isolation, so
// the workload shares the guest's network (a guest NIC is not made here): a pod's containers, each a
// workload of the same guest, so share one network namespace, as a pod's containers do.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { podOf, type PodMembership } from './sandbox.js';

/** Where the guest mounts the shim's share (each container's rootfs under its id, see sandbox.ts), and its 9p tag. */
export const guestShare = '/run/concierge-shim/containers';
export const rootfsTag = 'ctr-rootfs';
/** A container's rootfs in the guest. */
export const guestRootfsOf = (containerId: string): string => `${guestShare}/${containerId}`;
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

export interface BundleConfig {
  process: BundleProcess;
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

export function readBundleConfig(bundle: string): BundleConfig {
  const doc: unknown = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  if (!isRecord(doc)) throw new Error('config.json: expected an object');
  const root = isRecord(doc.root) ? doc.root : {};
  const annotations = isRecord(doc.annotations) ? doc.annotations : {};
  const policy = annotations[dockerPolicyAnnotation];
  return {
    process: readProcess(doc.process, 'config.json: process'),
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
export function guestSpec(config: BundleConfig, io: { stdin: boolean; terminal: boolean }, containerId: string): Record<string, unknown> {
  const p = config.process;
  return {
    ...(config.hostname === undefined ? {} : { hostname: config.hostname }),
    modules: ['virtio_pci', '9pnet_virtio', '9p', ...(config.docker.access ? ['overlay'] : [])],
    mounts: [{ source: rootfsTag, target: guestShare, type: '9p', options: ['trans=virtio', 'version=9p2000.L', 'msize=524288'] }],
    docker: config.docker.access ? { iptables: false, bridge: 'none' } : { enabled: false },
    workloads: [{
      id: workloadId, rootfs: guestRootfsOf(containerId), args: p.args, env: p.env, cwd: p.cwd, user: `${p.uid}:${p.gid}`, network: 'host', stdin: io.stdin, terminal: io.terminal,
      ...(config.docker.access ? { dockerAccess: true, ...(config.docker.policy === undefined ? {} : { dockerPolicy: config.docker.policy }) } : {}),
    }],
    afterWorkloads: 'poweroff',
  };
}
