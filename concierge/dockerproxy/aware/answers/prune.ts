import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Values } from '../../gohttp/url.js';
import { ProxyError } from '../../errors.js';
import { readFiltersObject } from '../filters.js';
import { OWNER_LABEL, STAGING_LABEL } from '../caller.js';
import type { DockerdClient } from '../dockerd.js';
import type { CallerRecords } from '../records.js';

/**
 * Prunes of what the caller's records hold, as dockerd 20.10 prunes its own objects: the caller's
 * `label`, `label!` and `until` filters read as dockerd reads them (`filters.Args`, `MatchKVList`,
 * `GetTimestamp`), against the labels the caller sees (concierge's own removed); stopped containers,
 * unused volumes without driver options, networks without endpoints; the answer in dockerd's prune
 * report shape. Labels are never what selects: a committed image carries its container's owner label
 * into containers that others create, and the anonymous volumes dockerd makes carry none.
 */
export type PruneKind = 'containers' | 'volumes' | 'networks';

/** The caller's filters, as `filters.FromJSON` reads them: a name to its set of values. */
export type PruneFilters = Map<string, string[]>;

const OURS = new Set([OWNER_LABEL, STAGING_LABEL]);

export interface PruneReport {
  deleted: string[];
  /** Bytes freed (containers' writable layers, volumes' files); networks report none. */
  reclaimed: bigint;
}

/**
 * Reads the `filters` parameter as `filters.FromJSON` does: all in the map form (`{"label":{"a=b":true}}`)
 * or all in the legacy list form (`{"label":["a=b"]}`), a null value being an empty one; anything else
 * is dockerd's 400 (read here first: the check's rewriting of the filters must not make it valid).
 */
export function readPruneFilters(form: Values): PruneFilters {
  const out: PruneFilters = new Map();
  const entries = Object.entries(readFiltersObject(form));
  if (entries.length === 0) return out;
  const mapForm = entries.every(([, v]) => v === null || (typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((b) => typeof b === 'boolean')));
  const listForm = entries.every(([, v]) => v === null || (Array.isArray(v) && v.every((x) => typeof x === 'string')));
  if (!mapForm && !listForm) throw new ProxyError(400, 'invalid filters: neither {"name":{"value":true}} nor {"name":["value"]}');
  for (const [name, values] of entries) {
    if (Array.isArray(values)) out.set(name, [...new Set(values.map((v) => String(v)))]);
    else out.set(name, values === null ? [] : Object.keys(values as Record<string, boolean>));
  }
  return out;
}

/** `Args.MatchKVList`: every `key` or `key=value` of the filter is among the labels. */
function matchKVList(filters: PruneFilters, name: string, labels: Record<string, string>): boolean {
  const values = filters.get(name) ?? [];
  if (values.length === 0) return true;
  if (Object.keys(labels).length === 0) return false;
  return values.every((value) => {
    const eq = value.indexOf('=');
    const key = eq < 0 ? value : value.slice(0, eq);
    if (!Object.hasOwn(labels, key)) return false;
    return eq < 0 || labels[key] === value.slice(eq + 1);
  });
}

/** dockerd's `matchLabels` for prunes: all of `label`, and not all of `label!` (when given). */
export function matchPruneLabels(filters: PruneFilters, labels: Record<string, string> | null | undefined): boolean {
  const seen: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!OURS.has(k)) seen[k] = v;
  if (!matchKVList(filters, 'label', seen)) return false;
  return !(filters.has('label!') && matchKVList(filters, 'label!', seen));
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's `time.ParseDuration`, in nanoseconds; undefined when the value is not a duration. */
function goDuration(value: string): number | undefined {
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/.exec(value);
  if (m === null) return value === '0' ? 0 : undefined;
  let total = 0;
  for (const part of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

/** An RFC 3339-like time as nanoseconds since the epoch (a missing zone is the local one, as dockerd's). */
export function timeNanos(value: string): bigint | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (m === null) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  let ms: number;
  if (zone === undefined) ms = new Date(...fields).getTime();
  else {
    ms = Date.UTC(...fields);
    if (zone !== 'Z' && zone !== 'z') ms -= (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

/**
 * The `until` filter as a time (nanoseconds), read as dockerd's `GetTimestamp` and `ParseTimestamps`
 * read it: a duration before now (whole seconds), a Unix time `s[.frac]`, or an RFC 3339-like time.
 * Called only after dockerd accepted the same value.
 */
export function untilNanos(value: string, now: number): bigint {
  const d = goDuration(value);
  if (d !== undefined && value !== '0') return BigInt(Math.floor((now * 1e6 - d) / 1e9)) * 1_000_000_000n;
  const t = value.includes('-') ? timeNanos(value) : undefined;
  if (t !== undefined) return t;
  const unix = /^(-?\d+)(?:\.(\d+))?$/.exec(value);
  if (unix === null) throw new ProxyError(400, `failed to parse value as time or duration: ${JSON.stringify(value)}`);
  const frac = unix[2] ?? '';
  return BigInt(unix[1]!) * 1_000_000_000n + (frac === '' ? 0n : BigInt(frac.slice(0, 9).padEnd(9, '0')));
}

/** Go's `directory.Size`: the sizes of the files under a directory, each inode once, directories not counted. */
async function directorySize(dir: string): Promise<bigint> {
  const seen = new Set<bigint>();
  let total = 0n;
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path, { bigint: true }).catch(() => undefined);
    if (st === undefined) return;
    if (st.isDirectory()) {
      for (const name of await readdir(path).catch(() => [])) await walk(join(path, name));
      return;
    }
    if (st.size === 0n || seen.has(st.ino)) return;
    seen.add(st.ino);
    total += st.size;
  };
  await walk(dir);
  return total;
}

interface Removal {
  /** Forgets a removed container or volume and releases its staging binds. */
  forgetContainer(id: string): Promise<void>;
  forgetVolume(name: string): Promise<void>;
}

/** Prunes the caller's recorded objects of one kind; `until` is in nanoseconds when given. */
export async function pruneRecorded(kind: PruneKind, filters: PruneFilters, until: bigint | undefined, dockerd: DockerdClient, records: CallerRecords, removal: Removal): Promise<PruneReport> {
  if (kind === 'containers') return pruneContainers(filters, until, dockerd, records, removal);
  if (kind === 'volumes') return pruneVolumes(filters, dockerd, records, removal);
  return pruneNetworks(filters, until, dockerd, records);
}

const created = (value: unknown): bigint | undefined => (typeof value === 'string' ? timeNanos(value) : undefined);

async function pruneContainers(filters: PruneFilters, until: bigint | undefined, dockerd: DockerdClient, records: CallerRecords, removal: Removal): Promise<PruneReport> {
  interface Seen { Id: string; Created?: string; SizeRw?: number; State?: { Running?: boolean }; Config?: { Labels?: Record<string, string> | null } }
  const candidates: Seen[] = [];
  for (const id of records.containerIds()) {
    const { status, json } = await dockerd.call('GET', `/containers/${id}/json`);
    if (status === 200) candidates.push(json as Seen);
  }
  // dockerd walks its containers newest first.
  candidates.sort((a, b) => Number((created(b.Created) ?? 0n) - (created(a.Created) ?? 0n)));
  const report: PruneReport = { deleted: [], reclaimed: 0n };
  for (const c of candidates) {
    if (c.State?.Running === true) continue;
    const at = created(c.Created);
    if (until !== undefined && at !== undefined && at > until) continue;
    if (!matchPruneLabels(filters, c.Config?.Labels)) continue;
    // The writable layer's size, computed (as dockerd's prune does) only for what goes.
    const sized = await dockerd.call('GET', `/containers/${c.Id}/json?size=1`);
    const size = sized.status === 200 ? ((sized.json as Seen).SizeRw ?? 0) : 0;
    // dockerd's prune removes without force or volumes; a container started meanwhile is left, as there.
    if ((await dockerd.call('DELETE', `/containers/${c.Id}`)).status !== 204) continue;
    await removal.forgetContainer(c.Id);
    if (size > 0) report.reclaimed += BigInt(size);
    report.deleted.push(c.Id);
  }
  return report;
}

async function pruneVolumes(filters: PruneFilters, dockerd: DockerdClient, records: CallerRecords, removal: Removal): Promise<PruneReport> {
  interface Seen { Name: string; Driver?: string; Mountpoint?: string; Options?: Record<string, string> | null; Labels?: Record<string, string> | null }
  const report: PruneReport = { deleted: [], reclaimed: 0n };
  for (const name of records.volumeNames()) {
    const { status, json } = await dockerd.call('GET', `/volumes/${encodeURIComponent(name)}`);
    if (status !== 200) continue;
    const v = json as Seen;
    // Local volumes without driver options only (dockerd leaves bind and tmpfs volumes to their owners).
    if (v.Driver !== 'local' || Object.keys(v.Options ?? {}).length > 0) continue;
    if (!matchPruneLabels(filters, v.Labels)) continue;
    const size = v.Mountpoint === undefined ? 0n : await directorySize(v.Mountpoint);
    // A volume in use answers 409 and stays, as dockerd's prune skips referenced volumes.
    if ((await dockerd.call('DELETE', `/volumes/${encodeURIComponent(name)}`)).status !== 204) continue;
    await removal.forgetVolume(name);
    report.reclaimed += size;
    report.deleted.push(v.Name);
  }
  return report;
}

async function pruneNetworks(filters: PruneFilters, until: bigint | undefined, dockerd: DockerdClient, records: CallerRecords): Promise<PruneReport> {
  interface Seen { Id: string; Name: string; Created?: string; ConfigOnly?: boolean; Labels?: Record<string, string> | null; Containers?: Record<string, unknown> | null }
  const report: PruneReport = { deleted: [], reclaimed: 0n };
  for (const id of records.networkIds()) {
    const { status, json } = await dockerd.call('GET', `/networks/${id}`);
    if (status !== 200) continue;
    const n = json as Seen;
    if (n.ConfigOnly === true) continue;
    const at = created(n.Created);
    if (until !== undefined && at !== undefined && at > until) continue;
    if (!matchPruneLabels(filters, n.Labels)) continue;
    if (Object.keys(n.Containers ?? {}).length > 0) continue;
    if ((await dockerd.call('DELETE', `/networks/${id}`)).status !== 204) continue;
    await records.removeNetwork(id);
    report.deleted.push(n.Name);
  }
  return report;
}
