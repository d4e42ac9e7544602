// instance/: the instance spec the host gives the guest, read and validated (this file: the whole document).
// The instance spec: the host's one JSON document for this guest (network, mounts, daemons, workloads,
// shutdown), validated into a typed value. Every field is read by spec-fields.ts; errors name the field.
import { parseIp, parsePrefix, type IpAddress, type IpPrefix } from '../os/netlink/ip-address.js';
import {
  SpecError, arrayAt, booleanAt, integerAt, isFields, objectAt, oneOf, optional, parsedAt, pathAt, recordAt, stringAt, type Fields,
} from './spec-fields.js';
import { registriesAt, type RegistriesSpec } from './spec-registries.js';
import { workloadsAt, type WorkloadSpec } from './spec-workloads.js';

export { SpecError };

export interface RouteSpec {
  to: IpPrefix;
  via?: IpAddress;
}

export interface InterfaceSpec {
  name: string;
  addresses: IpPrefix[];
  gateway?: IpAddress;
  mtu?: number;
  routes: RouteSpec[];
}

export interface MountSpec {
  source: string;
  target: string;
  type: string;
  /** mount(8)-style options; flags (ro, noatime...) are split from filesystem data by the boot. */
  options: string[];
}

export interface RlimitSpec {
  soft: bigint;
  hard: bigint;
}

export interface ContainerdSpec {
  root: string;
  state: string;
  socket: string;
  /** Extra command-line arguments. */
  args: string[];
}

export interface DockerSpec {
  enabled: boolean;
  dataRoot: string;
  execRoot: string;
  /** dockerd's own socket (the proxy serves workloads; this one is concierge's upstream). */
  socket: string;
  /** Where the transparent Docker API proxy serves the guest; each workload with dockerAccess gets a caller-aware socket of its own instead. */
  proxySocket: string;
  /** dockerd spends seconds on iptables at start: off unless the spec asks. */
  iptables: boolean;
  /** The default bridge: a name, "none", or absent for dockerd's docker0. */
  bridge?: string;
  args: string[];
  env: Record<string, string>;
}

export interface InstanceSpec {
  hostname?: string;
  network: { interfaces: InterfaceSpec[]; dns: IpAddress[]; search: string[] };
  sysctls: Record<string, string>;
  rlimits: Record<string, RlimitSpec>;
  modules: string[];
  mounts: MountSpec[];
  containerd: ContainerdSpec;
  docker: DockerSpec;
  /** Per registry host: credentials, CA, plain HTTP, mirrors (concierge's pulls and dockerd's configuration). */
  registries: RegistriesSpec;
  workloads: WorkloadSpec[];
  /** What the instance does when its last workload exits: power off (the CI default), reboot, or stay up. */
  afterWorkloads: 'poweroff' | 'reboot' | 'stay';
  shutdown: { workloadTimeoutMs: number; daemonTimeoutMs: number };
  /** Directory for concierge's own runtime files (daemon logs, configs). */
  runDir: string;
  /** The console's event lines: readable text for people (the default) or JSON lines for machines. */
  console: 'text' | 'json';
  /** The control API for the host: always on the virtio-serial port concierge.0 when there is one; on a vsock port when set. */
  hostChannel: { vsockPort?: number };
}

const hostnamePattern = /^(?=.{1,64}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const ifnamePattern = /^[a-zA-Z0-9_.-]{1,15}$/;
const sysctlPattern = /^[a-z0-9_]+([./][a-zA-Z0-9_-]+)+$/;
const modulePattern = /^[a-zA-Z0-9_-]{1,64}$/;
export const rlimitNames = ['nofile', 'nproc', 'core', 'memlock', 'stack'] as const;
const maxRlimit = 2n ** 63n;

export const topLevelFields = [
  'hostname', 'network', 'sysctls', 'rlimits', 'modules', 'mounts', 'containerd', 'docker', 'registries', 'workloads',
  'afterWorkloads', 'shutdown', 'runDir', 'console', 'hostChannel',
] as const;

/** Validates a parsed JSON document; `baseDir` resolves relative paths inside workloads. */
export function validateSpec(input: unknown, baseDir = '/'): InstanceSpec {
  const spec = objectAt(input, 'spec', topLevelFields);
  const runDir = optional(spec.runDir, (v) => pathAt(v, 'spec.runDir')) ?? '/run/concierge';
  const afterWorkloads = optional(spec.afterWorkloads, (v) => oneOf(v, 'spec.afterWorkloads', ['poweroff', 'reboot', 'stay'] as const)) ?? 'poweroff';
  return {
    hostname: optional(spec.hostname, (v) => stringAt(v, 'spec.hostname', hostnamePattern)),
    network: network(spec.network),
    sysctls: sysctls(spec.sysctls),
    rlimits: rlimits(spec.rlimits),
    modules: optional(spec.modules, (v) => arrayAt(v, 'spec.modules', (m, w) => stringAt(m, w, modulePattern))) ?? [],
    mounts: optional(spec.mounts, (v) => arrayAt(v, 'spec.mounts', mount)) ?? [],
    containerd: containerd(spec.containerd),
    docker: docker(spec.docker),
    registries: optional(spec.registries, (v) => registriesAt(v, 'spec.registries')) ?? new Map(),
    workloads: optional(spec.workloads, (v) => workloadsAt(v, 'spec.workloads', baseDir)) ?? [],
    afterWorkloads,
    shutdown: shutdown(spec.shutdown),
    runDir,
    console: optional(spec.console, (v) => oneOf(v, 'spec.console', ['text', 'json'] as const)) ?? 'text',
    hostChannel: hostChannel(spec.hostChannel),
  };
}

function hostChannel(value: unknown): InstanceSpec['hostChannel'] {
  if (value === undefined) return {};
  const h = objectAt(value, 'spec.hostChannel', ['vsockPort']);
  const vsockPort = optional(h.vsockPort, (v) => integerAt(v, 'spec.hostChannel.vsockPort', 1, 0xfffffffe));
  return vsockPort === undefined ? {} : { vsockPort };
}

function network(value: unknown): InstanceSpec['network'] {
  if (value === undefined) return { interfaces: [], dns: [], search: [] };
  const n = objectAt(value, 'spec.network', ['interfaces', 'dns', 'search']);
  const interfaces = optional(n.interfaces, (v) => arrayAt(v, 'spec.network.interfaces', networkInterface)) ?? [];
  const names = new Set<string>();
  for (const i of interfaces) {
    if (names.has(i.name)) throw new SpecError(`spec.network.interfaces: "${i.name}" is named twice`);
    names.add(i.name);
  }
  return {
    interfaces,
    dns: optional(n.dns, (v) => arrayAt(v, 'spec.network.dns', (d, w) => parsedAt(d, w, parseIp))) ?? [],
    search: optional(n.search, (v) => arrayAt(v, 'spec.network.search', (s, w) => stringAt(s, w, hostnamePattern))) ?? [],
  };
}

function networkInterface(value: unknown, where: string): InterfaceSpec {
  const i = objectAt(value, where, ['name', 'addresses', 'gateway', 'mtu', 'routes']);
  const addresses = optional(i.addresses, (v) => arrayAt(v, `${where}.addresses`, (a, w) => parsedAt(a, w, parsePrefix))) ?? [];
  const gateway = optional(i.gateway, (v) => parsedAt(v, `${where}.gateway`, parseIp));
  if (gateway !== undefined && !addresses.some((a) => a.family === gateway.family)) {
    throw new SpecError(`${where}.gateway: no IPv${gateway.family} address on this interface to reach it from`);
  }
  return {
    name: stringAt(i.name, `${where}.name`, ifnamePattern),
    addresses,
    gateway,
    mtu: optional(i.mtu, (v) => integerAt(v, `${where}.mtu`, 68, 65535)),
    routes: optional(i.routes, (v) => arrayAt(v, `${where}.routes`, route)) ?? [],
  };
}

function route(value: unknown, where: string): RouteSpec {
  const r = objectAt(value, where, ['to', 'via']);
  const to = parsedAt(r.to, `${where}.to`, parsePrefix);
  const via = optional(r.via, (v) => parsedAt(v, `${where}.via`, parseIp));
  if (via !== undefined && via.family !== to.family) throw new SpecError(`${where}.via: not the family of ${to.text}`);
  return via === undefined ? { to } : { to, via };
}

function sysctls(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const s = recordAt(value, 'spec.sysctls');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(s)) {
    const where = `spec.sysctls["${key}"]`;
    if (!sysctlPattern.test(key) || key.includes('..')) throw new SpecError(`${where}: not a sysctl name (like net.ipv4.ip_forward)`);
    if (typeof v === 'number' && Number.isInteger(v)) out[key] = String(v);
    else out[key] = stringAt(v, where);
  }
  return out;
}

function rlimitValue(value: unknown, where: string): bigint {
  if (value === 'unlimited') return 2n ** 64n - 1n;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SpecError(`${where}: expected a non-negative integer or "unlimited"`);
  }
  const n = BigInt(value);
  if (n >= maxRlimit) throw new SpecError(`${where}: too large`);
  return n;
}

function rlimits(value: unknown): Record<string, RlimitSpec> {
  if (value === undefined) return {};
  const r = objectAt(value, 'spec.rlimits', rlimitNames);
  const out: Record<string, RlimitSpec> = {};
  for (const [name, v] of Object.entries(r)) {
    const where = `spec.rlimits.${name}`;
    const l = isFields(v) ? objectAt(v, where, ['soft', 'hard']) : { soft: v, hard: v };
    const limit = { soft: rlimitValue(l.soft, `${where}.soft`), hard: rlimitValue(l.hard, `${where}.hard`) };
    if (limit.soft > limit.hard) throw new SpecError(`${where}: soft is above hard`);
    out[name] = limit;
  }
  return out;
}

function mount(value: unknown, where: string): MountSpec {
  const m = objectAt(value, where, ['source', 'target', 'type', 'options']);
  const target = pathAt(m.target, `${where}.target`);
  if (target === '/') throw new SpecError(`${where}.target: cannot mount over /`);
  return {
    source: stringAt(m.source, `${where}.source`),
    target,
    type: stringAt(m.type, `${where}.type`, /^[a-z0-9_.]+$/),
    options: optional(m.options, (v) => arrayAt(v, `${where}.options`, (o, w) => stringAt(o, w, /^[^,]+$/))) ?? [],
  };
}

function stringList(value: unknown, where: string): string[] {
  return optional(value, (v) => arrayAt(v, where, (s, w) => stringAt(s, w))) ?? [];
}

function containerd(value: unknown): ContainerdSpec {
  const c: Fields = value === undefined ? {} : objectAt(value, 'spec.containerd', ['root', 'state', 'socket', 'args']);
  return {
    root: optional(c.root, (v) => pathAt(v, 'spec.containerd.root')) ?? '/var/lib/containerd',
    state: optional(c.state, (v) => pathAt(v, 'spec.containerd.state')) ?? '/run/containerd',
    socket: optional(c.socket, (v) => pathAt(v, 'spec.containerd.socket')) ?? '/run/containerd/containerd.sock',
    args: stringList(c.args, 'spec.containerd.args'),
  };
}

function docker(value: unknown): DockerSpec {
  const d: Fields = value === undefined ? {} : objectAt(value, 'spec.docker', ['enabled', 'dataRoot', 'execRoot', 'socket', 'proxySocket', 'iptables', 'bridge', 'args', 'env']);
  const env: Record<string, string> = {};
  if (d.env !== undefined) {
    for (const [k, v] of Object.entries(recordAt(d.env, 'spec.docker.env'))) {
      env[stringAt(k, 'spec.docker.env', /^[A-Za-z_][A-Za-z0-9_]*$/)] = stringAt(v, `spec.docker.env.${k}`);
    }
  }
  return {
    enabled: optional(d.enabled, (v) => booleanAt(v, 'spec.docker.enabled')) ?? true,
    dataRoot: optional(d.dataRoot, (v) => pathAt(v, 'spec.docker.dataRoot')) ?? '/var/lib/docker',
    execRoot: optional(d.execRoot, (v) => pathAt(v, 'spec.docker.execRoot')) ?? '/run/docker',
    socket: optional(d.socket, (v) => pathAt(v, 'spec.docker.socket')) ?? '/run/concierge/dockerd.sock',
    proxySocket: optional(d.proxySocket, (v) => pathAt(v, 'spec.docker.proxySocket')) ?? '/run/docker.sock',
    iptables: optional(d.iptables, (v) => booleanAt(v, 'spec.docker.iptables')) ?? false,
    bridge: optional(d.bridge, (v) => stringAt(v, 'spec.docker.bridge', /^[a-zA-Z0-9_.-]{1,15}$/)),
    args: dockerdArgsOf(d.args),
    env,
  };
}

/** dockerd's configuration file is concierge's to write (its builder's entitlements follow the workloads' policies). */
function dockerdArgsOf(value: unknown): string[] {
  const args = stringList(value, 'spec.docker.args');
  if (args.some((a) => a === '--config-file' || a.startsWith('--config-file='))) {
    throw new SpecError("spec.docker.args: --config-file is concierge's to write (dockerd's builder follows the workloads' dockerPolicy)");
  }
  return args;
}

function shutdown(value: unknown): InstanceSpec['shutdown'] {
  const s: Fields = value === undefined ? {} : objectAt(value, 'spec.shutdown', ['workloadTimeoutMs', 'daemonTimeoutMs']);
  return {
    workloadTimeoutMs: optional(s.workloadTimeoutMs, (v) => integerAt(v, 'spec.shutdown.workloadTimeoutMs', 0, 3_600_000)) ?? 10_000,
    daemonTimeoutMs: optional(s.daemonTimeoutMs, (v) => integerAt(v, 'spec.shutdown.daemonTimeoutMs', 0, 3_600_000)) ?? 10_000,
  };
}
