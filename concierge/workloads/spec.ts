// The workload part of the instance spec (brief section 2), validated into a typed value with messages
// that name the offending field. Nothing is cast: unknown keys and wrong types are refused.
import { isAbsolute, resolve } from 'node:path';

export interface BindMount {
  source: string;
  target: string;
  readonly: boolean;
}

export interface WorkloadSpec {
  id: string;
  /** An archive path (absolute after validation) or an image reference already in containerd. */
  image: { archive: string } | { reference: string };
  /** The process; by default the image's entrypoint and cmd. */
  args?: string[];
  /** KEY=value entries, added to (and overriding) the image's. */
  env: string[];
  cwd?: string;
  /** "uid" or "uid:gid", numeric. */
  user?: string;
  mounts: BindMount[];
  network: 'host' | 'none';
  dockerAccess: boolean;
  /** Seconds between SIGTERM and SIGKILL when the workload is stopped. */
  stopTimeout: number;
  /** Limits of its cgroup: memory in bytes (memory.max), CPUs as docker run --cpus (cpu.max). */
  resources: { memoryBytes?: number; cpus?: number };
}

export class SpecError extends Error {
  override name = 'SpecError';
}

const idPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const known = new Set(['id', 'image', 'args', 'env', 'cwd', 'user', 'mounts', 'network', 'dockerAccess', 'stopTimeout', 'resources']);

/** docker run's floor for --memory: below it a container cannot even start its runtime. */
export const minMemoryBytes = 6 * 1024 * 1024;
const memoryUnits: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes from a number or a docker-style size ("512m", "1g", "65536k"). */
export function parseMemory(value: unknown, where: string): number {
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

function resources(value: unknown, where: string): WorkloadSpec['resources'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SpecError(`${where}: expected an object`);
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) if (key !== 'memory' && key !== 'cpus') throw new SpecError(`${where}: unknown field "${key}"`);
  const out: WorkloadSpec['resources'] = {};
  if (r.memory !== undefined) out.memoryBytes = parseMemory(r.memory, `${where}.memory`);
  if (r.cpus !== undefined) {
    if (typeof r.cpus !== 'number' || !Number.isFinite(r.cpus) || r.cpus < 0.01 || r.cpus > 1024) {
      throw new SpecError(`${where}.cpus: expected a number of CPUs between 0.01 and 1024`);
    }
    out.cpus = r.cpus;
  }
  return out;
}

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new SpecError(`${where}: expected an array of strings`);
  return value as string[];
}

function absolutePath(value: unknown, where: string): string {
  if (typeof value !== 'string' || !isAbsolute(value)) throw new SpecError(`${where}: expected an absolute path`);
  if (value.includes('\0')) throw new SpecError(`${where}: contains a NUL byte`);
  return value;
}

/** An image value naming a file: absolute or explicitly relative ("./", "../"), or ending in .tar / .tar.gz. */
function isArchivePath(image: string): boolean {
  return image.startsWith('/') || image.startsWith('./') || image.startsWith('../') || /\.(tar|tar\.gz|tgz)$/.test(image);
}

/**
 * Validates one workload. `baseDir` resolves relative archive paths (the directory of the spec file).
 * `where` prefixes messages (e.g. "workloads[2]").
 */
export function parseWorkloadSpec(input: unknown, options: { baseDir?: string; where?: string } = {}): WorkloadSpec {
  const where = options.where ?? 'workload';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SpecError(`${where}: expected a JSON object`);
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!known.has(key)) throw new SpecError(`${where}: unknown field "${key}"`);

  if (typeof o.id !== 'string' || !idPattern.test(o.id)) {
    throw new SpecError(`${where}.id: expected 1-63 characters of letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
  // The field path first (it is what a spec author searches for), then the id.
  const at = where === 'workload' ? `workload ${o.id}` : `${where} (${o.id})`;
  if (typeof o.image !== 'string' || o.image === '') throw new SpecError(`${at}: image: expected an archive path or an image reference`);
  const image = isArchivePath(o.image)
    ? { archive: resolve(options.baseDir ?? process.cwd(), o.image) }
    : { reference: o.image };

  const spec: WorkloadSpec = {
    id: o.id, image, env: [], mounts: [], network: 'none', dockerAccess: false, stopTimeout: 10, resources: {},
  };
  if (o.resources !== undefined) spec.resources = resources(o.resources, `${at}: resources`);
  if (o.args !== undefined) {
    spec.args = stringList(o.args, `${at}: args`);
    if (spec.args.length === 0) throw new SpecError(`${at}: args: must not be empty (leave it out to use the image's command)`);
  }
  if (o.env !== undefined) {
    if (Array.isArray(o.env)) spec.env = stringList(o.env, `${at}: env`);
    else if (typeof o.env === 'object' && o.env !== null) {
      spec.env = Object.entries(o.env).map(([k, v]) => {
        if (typeof v !== 'string') throw new SpecError(`${at}: env.${k}: expected a string`);
        return `${k}=${v}`;
      });
    } else throw new SpecError(`${at}: env: expected an array of "KEY=value" or an object`);
    for (const e of spec.env) if (!/^[^=\0]+=/.test(e) || e.includes('\0')) throw new SpecError(`${at}: env: "${e}" is not KEY=value`);
  }
  if (o.cwd !== undefined) spec.cwd = absolutePath(o.cwd, `${at}: cwd`);
  if (o.user !== undefined) {
    // Names are resolved against the image's /etc/passwd and /etc/group when the workload is created.
    if (typeof o.user !== 'string' || !/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}\$?(:[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63})?$/.test(o.user)) {
      throw new SpecError(`${at}: user: expected "user", "uid", "user:group" or "uid:gid" (as docker run --user)`);
    }
    spec.user = o.user;
  }
  if (o.mounts !== undefined) {
    if (!Array.isArray(o.mounts)) throw new SpecError(`${at}: mounts: expected an array`);
    spec.mounts = o.mounts.map((m: unknown, i) => {
      const mw = `${at}: mounts[${i}]`;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new SpecError(`${mw}: expected an object`);
      const mo = m as Record<string, unknown>;
      for (const key of Object.keys(mo)) {
        if (!['type', 'source', 'target', 'readonly'].includes(key)) throw new SpecError(`${mw}: unknown field "${key}"`);
      }
      if (mo.type !== undefined && mo.type !== 'bind') throw new SpecError(`${mw}: type: only "bind" is supported`);
      if (mo.readonly !== undefined && typeof mo.readonly !== 'boolean') throw new SpecError(`${mw}: readonly: expected a boolean`);
      return {
        source: absolutePath(typeof mo.source === 'string' ? resolve(options.baseDir ?? process.cwd(), mo.source) : mo.source, `${mw}.source`),
        target: absolutePath(mo.target, `${mw}.target`),
        readonly: mo.readonly === true,
      };
    });
  }
  if (o.network !== undefined) {
    if (o.network !== 'host' && o.network !== 'none') throw new SpecError(`${at}: network: expected "host" or "none"`);
    spec.network = o.network;
  }
  if (o.dockerAccess !== undefined) {
    if (typeof o.dockerAccess !== 'boolean') throw new SpecError(`${at}: dockerAccess: expected a boolean`);
    spec.dockerAccess = o.dockerAccess;
  }
  if (o.stopTimeout !== undefined) {
    if (typeof o.stopTimeout !== 'number' || !Number.isFinite(o.stopTimeout) || o.stopTimeout < 0 || o.stopTimeout > 3600) {
      throw new SpecError(`${at}: stopTimeout: expected seconds between 0 and 3600`);
    }
    spec.stopTimeout = o.stopTimeout;
  }
  if (spec.dockerAccess && spec.mounts.some((m) => m.target === '/var/run/docker.sock')) {
    throw new SpecError(`${at}: mounts: /var/run/docker.sock is provided by dockerAccess`);
  }
  return spec;
}

/** The `workloads` of an instance spec; other fields belong to other parts of concierge and are ignored here. */
export function parseInstanceWorkloads(input: unknown, options: { baseDir?: string } = {}): WorkloadSpec[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SpecError('instance spec: expected a JSON object');
  const list = (input as Record<string, unknown>).workloads;
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new SpecError('instance spec: workloads: expected an array');
  const specs = list.map((w, i) => parseWorkloadSpec(w, { ...options, where: `workloads[${i}]` }));
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.id)) throw new SpecError(`instance spec: workloads: id "${s.id}" is used twice`);
    seen.add(s.id);
  }
  return specs;
}
