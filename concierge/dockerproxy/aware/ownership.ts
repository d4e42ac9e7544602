import { type Caller, OWNER_LABEL } from './caller.js';
import { ProxyError } from '../errors.js';
import { type DockerdClient, messageOf } from './dockerd.js';
import { isObject, isString, type JsonObject } from './gojson.js';
import type { CallerRecords } from './records.js';

/** Networks every container may name; they belong to no caller. */
const SHARED_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

/**
 * Resolves names and short ids to full ids before ownership is checked, so a name cannot point at
 * another container between the check and the use: the request is forwarded with the full id.
 * Anything the caller does not own is reported as absent, exactly as dockerd words it. What the caller
 * owns is what concierge recorded it creating, never what a label says.
 */
export class Ownership {
  constructor(
    private readonly caller: Caller,
    private readonly dockerd: DockerdClient,
    readonly records: CallerRecords,
  ) {}

  async container(ref: string): Promise<{ id: string; name: string }> {
    const found = ref === '' ? undefined : await this.dockerd.inspectContainer(ref);
    if (found === undefined || !this.records.hasContainer(found.Id)) throw new ProxyError(404, `No such container: ${ref}`);
    return { id: found.Id, name: found.Name ?? '' };
  }

  async exec(id: string): Promise<string> {
    const found = await this.dockerd.inspectExec(id);
    if (found !== undefined) {
      const owner = await this.dockerd.inspectContainer(found.ContainerID);
      if (owner !== undefined && this.records.hasContainer(owner.Id)) return id;
    }
    throw new ProxyError(404, `No such exec instance: ${id}`);
  }

  /** A named volume the caller may use; absent ones are reported so the caller can create them. */
  async volume(name: string): Promise<'owned' | 'absent'> {
    const found = await this.dockerd.inspectVolume(name);
    if (found === undefined) return 'absent';
    if (!this.records.hasVolume(found.Name)) throw new ProxyError(404, `get ${name}: no such volume`);
    return 'owned';
  }

  async network(ref: string, opts: { sharedAllowed: boolean }): Promise<string> {
    const found = await this.dockerd.inspectNetwork(ref);
    if (found !== undefined && (this.records.hasNetwork(found.Id) || (opts.sharedAllowed && SHARED_NETWORKS.has(found.Name)))) {
      return found.Id;
    }
    throw new ProxyError(404, `network ${ref} not found`);
  }

  /** Creates a local volume as the caller's (optionally with already translated driver options). */
  async createVolume(name: string, driverConfig?: JsonObject): Promise<void> {
    const options: Record<string, string> = {};
    const raw = driverConfig?.field('Options');
    if (isObject(raw)) for (const [k, v] of raw.entries) if (isString(v)) options[k] = v;
    const { status, json } = await this.dockerd.call('POST', '/volumes/create', {
      Name: name,
      Driver: 'local',
      DriverOpts: options,
      Labels: { [OWNER_LABEL]: this.caller.id },
    });
    if (status !== 201 && status !== 200) throw new ProxyError(status >= 400 && status < 600 ? status : 500, messageOf(json));
    // dockerd answers a create of an existing name with that volume: one another caller made meanwhile is not this one's.
    const labels = (json as { Labels?: Record<string, string> | null } | undefined)?.Labels;
    if (labels?.[OWNER_LABEL] !== this.caller.id) throw new ProxyError(409, `create ${name}: volume name is already in use`);
    await this.records.addVolume(name, [], { labelled: false });
  }

  /** Whether a network is one every container may join (bridge, host, none). */
  static isShared(name: string): boolean {
    return SHARED_NETWORKS.has(name);
  }
}
