// The workloads of the instance spec (and the body of the control API's POST /workloads, and the file
// of `concierge run`): validated into typed values by the same field readers as the rest of the spec.
import { resolve } from 'node:path';
import { type DockerPolicy, ISOLATED, parseDockerPolicy } from './docker-policy.js';
import {
  SpecError, arrayAt, booleanAt, isFields, numberAt, objectAt, oneOf, optional, pathAt, recordAt, stringAt,
} from './spec-fields.js';

/** When a referenced image is pulled: every start, only when containerd lacks it (default), or never. */
export type PullPolicy = 'always' | 'if-not-present' | 'never';

export interface BindMount {
  source: string;
  target: string;
  readonly: boolean;
}

export interface WorkloadSpec {
  id: string;
  /**
   * An archive path (absolute after validation), an image reference pulled as `pullPolicy` says, or a
   * directory of the guest used as the container's root as it is (`rootfs`: a container runtime shim
   * hands the guest a bundle's rootfs that way; no image, no snapshot, and `args` are required).
   */
  image: { archive: string } | { reference: string; pullPolicy: PullPolicy } | { rootfs: string };
  /** The process; by default the image's entrypoint and cmd. */
  args?: string[];
  /** KEY=value entries, added to (and overriding) the image's. */
  env: string[];
  cwd?: string;
  /** As docker run --user: "user", "uid", "user:group" or "uid:gid"; names resolve in the image's /etc/passwd and /etc/group. */
  user?: string;
  mounts: BindMount[];
  network: 'host' | 'none';
  /** The task gets a stdin FIFO, written through the control API's POST /workloads/{id}/stdin. */
  stdin: boolean;
  /** The process gets a terminal: its output (stdout and stderr both) comes on stdout, resized through POST /workloads/{id}/resize. */
  terminal: boolean;
  dockerAccess: boolean;
  /** What siblings made through the docker socket may ask for (default "isolated"). */
  dockerPolicy: DockerPolicy;
  /** Seconds between SIGTERM and SIGKILL when the workload is stopped. */
  stopTimeout: number;
  /**
   * Limits of its cgroup: memory in bytes (memory.max), CPUs as docker run --cpus (cpu.max), CPU shares as
   * docker run --cpu-shares (cpu.weight), processes (pids.max).
   */
  resources: { memoryBytes?: number; cpus?: number; cpuShares?: number; pids?: number };
}

const idPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const userPattern = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}\$?(:[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63})?$/;
const fields = ['id', 'image', 'rootfs', 'pullPolicy', 'args', 'env', 'cwd', 'user', 'mounts', 'network', 'stdin', 'terminal', 'dockerAccess', 'dockerPolicy', 'stopTimeout', 'resources'] as const;

/** docker run's floor for --memory: below it a container cannot even start its runtime. */
export const minMemoryBytes = 6 * 1024 * 1024;
const memoryUnits: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes from a number or a docker-style size ("512m", "1g", "65536k"). */
export function memoryAt(value: unknown, where: string): number {
  let bytes: number;
  if (typeof value === 'number') bytes = value;
  else {
    const m = typeof value === 'string' ? /^(\d{1,15})([bkmg]?)$/i.exec(value) : null;
    if (m === null) throw new SpecError(`${where}: expected bytes or a size like "512m" or "1g"`);
    bytes = Number(m[1]) * memoryUnits[m[2]!.toLowerCase()]!;
  }
  if (!Number.isSafeInteger(bytes) || bytes < minMemoryBytes) throw new SpecError(`${where}: must be a whole number of bytes, at least 6m`);
  return bytes;
}

/** The ranges of a workload's resources, [min, max]; shares as runc takes them (it maps them onto cgroup v2's cpu.weight 1-10000). */
export const resourceRanges = { cpus: [0.01, 1024], cpuShares: [2, 262_144], pids: [1, 4_194_304] } as const;

function resources(value: unknown, where: string): WorkloadSpec['resources'] {
  const r = objectAt(value, where, ['memory', 'cpus', 'cpuShares', 'pids']);
  const out: WorkloadSpec['resources'] = {};
  if (r.memory !== undefined) out.memoryBytes = memoryAt(r.memory, `${where}.memory`);
  if (r.cpus !== undefined) out.cpus = numberAt(r.cpus, `${where}.cpus`, ...resourceRanges.cpus);
  if (r.cpuShares !== undefined) out.cpuShares = wholeAt(r.cpuShares, `${where}.cpuShares`, ...resourceRanges.cpuShares);
  if (r.pids !== undefined) out.pids = wholeAt(r.pids, `${where}.pids`, ...resourceRanges.pids);
  return out;
}

function wholeAt(value: unknown, where: string, min: number, max: number): number {
  const n = numberAt(value, where, min, max);
  if (!Number.isInteger(n)) throw new SpecError(`${where}: expected a whole number`);
  return n;
}

/** An image value naming a file: absolute or explicitly relative ("./", "../"), or ending in .tar / .tar.gz. */
export function isArchivePath(image: string): boolean {
  return image.startsWith('/') || image.startsWith('./') || image.startsWith('../') || /\.(tar|tar\.gz|tgz)$/.test(image);
}

/**
 * Validates one workload. `baseDir` resolves relative paths (the directory of the spec file); `where`
 * names it in messages ("spec.workloads[2]"), which then name the field after the id
 * ("spec.workloads[2] (job): network: ..."; "workload job: network: ..." for a workload alone).
 */
export function parseWorkloadSpec(input: unknown, options: { baseDir?: string; where?: string } = {}): WorkloadSpec {
  const where = options.where ?? 'workload';
  const baseDir = options.baseDir ?? process.cwd();
  const o = objectAt(input, where, fields);
  if (typeof o.id !== 'string' || !idPattern.test(o.id)) {
    throw new SpecError(`${where}.id: expected 1-63 characters of letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
  // The field path first (it is what a spec author searches for), then the id.
  const at = where === 'workload' ? `workload ${o.id}` : `${where} (${o.id})`;
  const pullPolicy = optional(o.pullPolicy, (v) => oneOf(v, `${at}: pullPolicy`, ['always', 'if-not-present', 'never'] as const));
  let source: WorkloadSpec['image'];
  if (o.rootfs !== undefined) {
    if (o.image !== undefined) throw new SpecError(`${at}: rootfs: give either image or rootfs, not both`);
    if (pullPolicy !== undefined) throw new SpecError(`${at}: pullPolicy: applies to an image reference, not a rootfs`);
    if (o.args === undefined) throw new SpecError(`${at}: args: required with rootfs (there is no image command)`);
    source = { rootfs: pathAt(o.rootfs, `${at}: rootfs`) };
  } else {
    if (typeof o.image !== 'string' || o.image === '') throw new SpecError(`${at}: image: expected an archive path or an image reference`);
    const image = stringAt(o.image, `${at}: image`);
    const archive = isArchivePath(image);
    if (archive && pullPolicy !== undefined) throw new SpecError(`${at}: pullPolicy: applies to an image reference, not an archive path`);
    source = archive ? { archive: resolve(baseDir, image) } : { reference: image, pullPolicy: pullPolicy ?? 'if-not-present' };
  }
  const spec: WorkloadSpec = {
    id: o.id,
    image: source,
    env: optional(o.env, (v) => env(v, `${at}: env`)) ?? [],
    mounts: optional(o.mounts, (v) => arrayAt(v, `${at}: mounts`, (m, w) => bindMount(m, w, baseDir))) ?? [],
    network: optional(o.network, (v) => oneOf(v, `${at}: network`, ['host', 'none'] as const)) ?? 'none',
    stdin: optional(o.stdin, (v) => booleanAt(v, `${at}: stdin`)) ?? false,
    terminal: optional(o.terminal, (v) => booleanAt(v, `${at}: terminal`)) ?? false,
    dockerAccess: optional(o.dockerAccess, (v) => booleanAt(v, `${at}: dockerAccess`)) ?? false,
    dockerPolicy: optional(o.dockerPolicy, (v) => parseDockerPolicy(v, `${at}: dockerPolicy`)) ?? ISOLATED,
    stopTimeout: optional(o.stopTimeout, (v) => numberAt(v, `${at}: stopTimeout`, 0, 3600)) ?? 10,
    resources: optional(o.resources, (v) => resources(v, `${at}: resources`)) ?? {},
  };
  if (o.args !== undefined) {
    spec.args = arrayAt(o.args, `${at}: args`, (a, w) => stringAt(a, w));
    if (spec.args.length === 0) throw new SpecError(`${at}: args: must not be empty (leave it out to use the image's command)`);
  }
  if (o.cwd !== undefined) spec.cwd = pathAt(o.cwd, `${at}: cwd`);
  if (o.user !== undefined) {
    if (typeof o.user !== 'string' || !userPattern.test(o.user)) {
      throw new SpecError(`${at}: user: expected "user", "uid", "user:group" or "uid:gid" (as docker run --user)`);
    }
    spec.user = o.user;
  }
  if (spec.dockerAccess && spec.mounts.some((m) => m.target === '/var/run/docker.sock')) {
    throw new SpecError(`${at}: mounts: /var/run/docker.sock is provided by dockerAccess`);
  }
  return spec;
}

/** An array of "KEY=value", or an object of strings. */
function env(value: unknown, where: string): string[] {
  const entries = isFields(value)
    ? Object.entries(recordAt(value, where)).map(([k, v]) => `${k}=${stringAt(v, `${where}.${k}`)}`)
    : arrayAt(value, where, (e, w) => stringAt(e, w));
  for (const e of entries) if (!/^[^=\0]+=/.test(e)) throw new SpecError(`${where}: "${e}" is not KEY=value`);
  return entries;
}

function bindMount(value: unknown, where: string, baseDir: string): BindMount {
  const m = objectAt(value, where, ['type', 'source', 'target', 'readonly']);
  if (m.type !== undefined && m.type !== 'bind') throw new SpecError(`${where}: type: only "bind" is supported`);
  return {
    source: pathAt(typeof m.source === 'string' ? resolve(baseDir, m.source) : m.source, `${where}.source`),
    target: pathAt(m.target, `${where}.target`),
    readonly: optional(m.readonly, (v) => booleanAt(v, `${where}: readonly`)) ?? false,
  };
}

/** A list of workloads (the instance spec's `workloads`); ids are unique. */
export function workloadsAt(value: unknown, where: string, baseDir: string): WorkloadSpec[] {
  const specs = arrayAt(value, where, (w, at) => parseWorkloadSpec(w, { baseDir, where: at }));
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.id)) throw new SpecError(`${where}: id "${s.id}" is used twice`);
    seen.add(s.id);
  }
  return specs;
}

/** The `workloads` of an instance spec; other fields belong to other parts of concierge and are ignored here. */
export function parseInstanceWorkloads(input: unknown, options: { baseDir?: string } = {}): WorkloadSpec[] {
  const spec = recordAt(input, 'spec');
  return optional(spec.workloads, (v) => workloadsAt(v, 'spec.workloads', options.baseDir ?? process.cwd())) ?? [];
}
