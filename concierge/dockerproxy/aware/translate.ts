import { fromPlain, isObject, isString, JsonObject, type JsonValue, showJson } from './gojson.js';
import { type Caller, OWNER_LABEL, STAGING_LABEL } from './caller.js';
import { ProxyError } from '../errors.js';
import type { StagedBind } from './records.js';
import type { Ownership } from './ownership.js';
import { resolveCallerPath } from './paths.js';
import { enforcePolicy } from './policy.js';
import type { StagingArea } from './staging.js';

/** HostConfig's JSON field names (HostConfig and its embedded Resources), as of API 1.41. */
const HOST_CONFIG_FIELDS = [
  'Binds', 'ContainerIDFile', 'LogConfig', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove',
  'VolumeDriver', 'VolumesFrom', 'CapAdd', 'CapDrop', 'CgroupnsMode', 'Dns', 'DnsOptions', 'DnsSearch',
  'ExtraHosts', 'GroupAdd', 'IpcMode', 'Cgroup', 'Links', 'OomScoreAdj', 'PidMode', 'Privileged',
  'PublishAllPorts', 'ReadonlyRootfs', 'SecurityOpt', 'StorageOpt', 'Tmpfs', 'UTSMode', 'UsernsMode',
  'ShmSize', 'Sysctls', 'Runtime', 'ConsoleSize', 'Isolation', 'Mounts', 'MaskedPaths', 'ReadonlyPaths', 'Init',
  'CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice', 'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota',
  'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules',
  'DeviceRequests', 'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'MemorySwap', 'MemorySwappiness',
  'OomKillDisable', 'PidsLimit', 'Ulimits', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth',
] as const;

/** One rewrite, for the log line that records each translated path. */
export interface Rewrite {
  field: string;
  from: string;
  to: string;
}

/** What a translation needs and what it leaves behind. */
export class TranslationContext {
  readonly rewrites: Rewrite[] = [];
  /** Staging binds made for this request: released if the request fails. */
  readonly staged: string[] = [];
  /** The same, with the path the caller named (answers carry it again). */
  readonly binds: StagedBind[] = [];
  /** Staging paths of read-only sources: their binds are made read-only too. */
  readonly readOnly = new Set<string>();
  /** Named volumes to create as the caller's, once the whole request has passed every check. */
  readonly volumesToCreate = new Map<string, JsonObject | undefined>();

  constructor(
    readonly caller: Caller,
    readonly staging: StagingArea,
    readonly ownership: Ownership,
  ) {}

  /** Resolves a caller path and binds it to a staging path; returns the staging path. */
  stagePath(field: string, path: string): string {
    const resolved = resolveCallerPath(this.caller, path);
    const staged = this.staging.stage(this.caller.id, resolved);
    this.staged.push(staged);
    this.binds.push({ staging: staged, callerPath: path });
    if (resolved.readOnly) this.readOnly.add(staged);
    this.rewrites.push({ field, from: path, to: `${resolved.base}${resolved.relative === '' ? '' : `/${resolved.relative}`} via ${staged}` });
    return staged;
  }

  /** Creates the volumes the request named; called only after every check passed. */
  async createVolumes(): Promise<void> {
    for (const [name, driverConfig] of this.volumesToCreate) {
      this.rewrites.push({ field: 'volume', from: name, to: `created for ${this.caller.id}` });
      await this.ownership.createVolume(name, driverConfig);
    }
    this.volumesToCreate.clear();
  }

  async releaseAll(): Promise<void> {
    this.binds.splice(0);
    for (const path of this.staged.splice(0)) await this.staging.release(path);
  }
}

/**
 * Translates a container create body in place: every mount-carrying field is rewritten to
 * staging paths, references to other containers must be the caller's own, the privilege policy is
 * enforced, and the owner label is set (a client's own owner label is overwritten, not trusted).
 */
export async function translateCreateBody(body: JsonValue, ctx: TranslationContext): Promise<void> {
  if (!isObject(body)) throw new ProxyError(400, 'container create body must be a JSON object');
  const hostConfig = hoistLegacyHostConfig(body);
  if (hostConfig !== undefined) await translateHostConfig(hostConfig, ctx, 'HostConfig');
  await ctx.createVolumes();
  const labels = body.field('Labels');
  const owned = isObject(labels) ? labels : new JsonObject();
  if (labels !== undefined && labels !== null && !isObject(labels)) throw new ProxyError(400, 'Labels must be an object');
  // The owner label narrows lists and prunes; what the caller owns is in concierge's records.
  owned.set(OWNER_LABEL, ctx.caller.id);
  if (owned.get(STAGING_LABEL) !== undefined) {
    owned.entries.splice(owned.keys().indexOf(STAGING_LABEL), 1);
    owned.changed();
  }
  body.setField('Labels', owned);
}

/**
 * Old clients put HostConfig's fields at the top level of the create body; dockerd still reads them
 * there when `HostConfig` is absent. They are moved into `HostConfig` so one translation covers both;
 * with both present dockerd merges some of them, which is refused as ambiguous.
 */
function hoistLegacyHostConfig(body: JsonObject): JsonObject | undefined {
  const inner = body.field('HostConfig');
  if (inner !== undefined && inner !== null && !isObject(inner)) throw new ProxyError(400, 'HostConfig must be an object');
  const legacy = HOST_CONFIG_FIELDS.map((f) => [f, body.fieldIndex(f)] as const).filter(([, i]) => i >= 0);
  if (legacy.length === 0) return inner ?? undefined;
  if (isObject(inner)) {
    throw new ProxyError(400, `concierge: HostConfig fields at the top level of the body (${legacy.map(([f]) => f).join(', ')}) as well as a HostConfig object are ambiguous`);
  }
  const hoisted = new JsonObject();
  for (const [field] of legacy) {
    hoisted.entries.push([field, body.field(field)!]);
    body.deleteField(field);
  }
  body.setField('HostConfig', hoisted);
  return hoisted;
}

export async function translateHostConfig(hc: JsonObject, ctx: TranslationContext, where: string): Promise<void> {
  enforcePolicy(hc, ctx.caller.policy);
  const binds = hc.field('Binds');
  if (binds !== undefined && binds !== null) {
    if (!Array.isArray(binds)) throw new ProxyError(400, `${where}.Binds must be an array of strings`);
    const out: JsonValue[] = [];
    for (const bind of binds) {
      if (!isString(bind)) throw new ProxyError(400, `${where}.Binds must be an array of strings`);
      out.push(await translateBind(bind, ctx, `${where}.Binds`));
    }
    hc.setField('Binds', out);
  }
  const mounts = hc.field('Mounts');
  if (mounts !== undefined && mounts !== null) {
    if (!Array.isArray(mounts)) throw new ProxyError(400, `${where}.Mounts must be an array`);
    for (const m of mounts) await translateMount(m, ctx, `${where}.Mounts`);
  }
  const volumeDriver = hc.field('VolumeDriver');
  if (volumeDriver !== undefined && volumeDriver !== null && volumeDriver !== '' && volumeDriver !== 'local') {
    throw new ProxyError(403, `concierge: ${where}.VolumeDriver ${showJson(volumeDriver)} is not allowed; only local volumes`);
  }
  const volumesFrom = hc.field('VolumesFrom');
  if (Array.isArray(volumesFrom)) {
    const out: JsonValue[] = [];
    for (const entry of volumesFrom) {
      if (!isString(entry)) throw new ProxyError(400, `${where}.VolumesFrom must be an array of strings`);
      const [ref, mode] = splitOnce(entry, ':');
      const { id } = await ctx.ownership.container(ref);
      out.push(mode === undefined ? id : `${id}:${mode}`);
    }
    hc.setField('VolumesFrom', out);
  }
  for (const field of ['NetworkMode', 'PidMode', 'IpcMode', 'Cgroup']) {
    const mode = hc.field(field);
    if (isString(mode) && mode.startsWith('container:')) {
      const { id } = await ctx.ownership.container(mode.slice('container:'.length));
      hc.setField(field, `container:${id}`);
    }
  }
  const links = hc.field('Links');
  if (Array.isArray(links)) {
    for (const link of links) {
      if (!isString(link)) throw new ProxyError(400, `${where}.Links must be an array of strings`);
      await ctx.ownership.container(splitOnce(link.replace(/^\//, ''), ':')[0]);
    }
  }
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/** `src:dst[:mode]`: a host path is translated, a volume name must be the caller's, `dst` alone is anonymous. */
async function translateBind(bind: string, ctx: TranslationContext, field: string): Promise<string> {
  const parts = bind.split(':');
  if (parts.length === 1) return bind;
  if (parts.length > 3) throw new ProxyError(400, `invalid volume specification: '${bind}'`);
  const [source, ...rest] = parts as [string, ...string[]];
  if (source.startsWith('/')) {
    const staged = ctx.stagePath(field, source);
    if (!ctx.readOnly.has(staged)) return [staged, ...rest].join(':');
    // dockerd's mode is a comma list (rw|ro, propagation, z/Z, nocopy): read-only replaces rw.
    const modes = (rest[1] ?? '').split(',').filter((m) => m !== '' && m !== 'rw' && m !== 'ro');
    return [staged, rest[0]!, ['ro', ...modes].join(',')].join(':');
  }
  await claimVolume(source, ctx);
  return bind;
}

/** dockerd's rule for local volume names. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A named volume used by a sibling: the caller's own, or made the caller's once the request passes. */
async function claimVolume(name: string, ctx: TranslationContext, driverConfig?: JsonObject): Promise<void> {
  if (!VOLUME_NAME.test(name)) {
    throw new ProxyError(400, `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  if ((await ctx.ownership.volume(name)) === 'absent') ctx.volumesToCreate.set(name, driverConfig);
}

async function translateMount(m: JsonValue, ctx: TranslationContext, field: string): Promise<void> {
  if (!isObject(m)) throw new ProxyError(400, `${field} entries must be objects`);
  const type = m.field('Type');
  const source = m.field('Source');
  switch (type) {
    case 'bind': {
      if (!isString(source)) throw new ProxyError(400, `${field}: a bind mount needs a Source path`);
      const staged = ctx.stagePath(`${field}.Source`, source);
      m.setField('Source', staged);
      if (ctx.readOnly.has(staged)) m.setField('ReadOnly', true);
      return;
    }
    case 'volume': {
      const options = m.field('VolumeOptions');
      const driverConfig = isObject(options) ? options.field('DriverConfig') : undefined;
      if (isObject(driverConfig)) {
        translateDriverConfig(driverConfig, ctx, `${field}.VolumeOptions.DriverConfig`);
      }
      if (isString(source) && source !== '') {
        await claimVolume(source, ctx, isObject(driverConfig) && driverConfig.entries.length > 0 ? driverConfig : undefined);
      }
      return;
    }
    case 'tmpfs':
      if (source !== undefined && source !== null && source !== '') throw new ProxyError(400, `${field}: a tmpfs mount takes no Source`);
      return;
    default:
      throw new ProxyError(403, `concierge: ${field} of type ${JSON.stringify(type ?? null)} is not allowed`);
  }
}

function translateDriverConfig(dc: JsonObject, ctx: TranslationContext, field: string): void {
  const name = dc.field('Name');
  if (name !== undefined && name !== null && name !== '' && name !== 'local') {
    throw new ProxyError(403, `concierge: ${field}.Name ${showJson(name)} is not allowed; only the local driver`);
  }
  const options = dc.field('Options');
  if (options !== undefined && options !== null) dc.setField('Options', translateLocalDriverOptions(options, ctx, `${field}.Options`));
}

/**
 * The local volume driver mounts whatever `type`/`device`/`o` say, as root: only a bind of a path in
 * the caller's root is allowed, and its device is translated like any bind source.
 */
export function translateLocalDriverOptions(options: JsonValue, ctx: TranslationContext, field: string): JsonValue {
  if (!isObject(options)) throw new ProxyError(400, `${field} must be an object`);
  if (options.entries.length === 0) return options;
  const type = options.get('type');
  const o = options.get('o');
  const device = options.get('device');
  const known = new Set(['type', 'o', 'device']);
  const unknown = options.keys().filter((k) => !known.has(k));
  if (unknown.length > 0) throw new ProxyError(403, `concierge: ${field} ${unknown.join(', ')} is not allowed`);
  const bindFlags = isString(o) ? o.split(',') : [];
  if (type !== 'none' || !(bindFlags.includes('bind') || bindFlags.includes('rbind')) || !isString(device)) {
    throw new ProxyError(403, `concierge: ${field}: only local volumes of type=none with o=bind and a device path are allowed (got type=${showJson(type)})`);
  }
  const translated = ctx.stagePath(`${field}.device`, device);
  const flags = ctx.readOnly.has(translated) ? ['ro', ...bindFlags.filter((f) => f !== 'rw' && f !== 'ro')].join(',') : o;
  return fromPlain({ type: 'none', o: flags, device: translated });
}
