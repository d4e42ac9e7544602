import { type Caller, OWNER_LABEL, Refused } from './caller.js';
import { type DockerdClient, messageOf } from './dockerd.js';
import { isObject, isString, type JsonObject } from './gojson.js';

/** Networks every container may name; they belong to no caller. */
const SHARED_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

/**
 * Resolves names and short ids to full ids before ownership is checked, so a name cannot point at
 * another container between the check and the use: the request is forwarded with the full id.
 * Anything the caller does not own is reported as absent, exactly as dockerd words it.
 */
export class Ownership {
  constructor(
    private readonly caller: Caller,
    private readonly dockerd: DockerdClient,
  ) {}

  private owns(labels: Record<string, string> | null | undefined): boolean {
    return labels?.[OWNER_LABEL] === this.caller.id;
  }

  async container(ref: string): Promise<{ id: string; labels: Record<string, string> }> {
    const found = ref === '' ? undefined : await this.dockerd.inspectContainer(ref);
    if (found === undefined || !this.owns(found.Config?.Labels)) throw new Refused(404, `No such container: ${ref}`);
    return { id: found.Id, labels: found.Config?.Labels ?? {} };
  }

  async exec(id: string): Promise<string> {
    const found = await this.dockerd.inspectExec(id);
    if (found !== undefined) {
      const owner = await this.dockerd.inspectContainer(found.ContainerID);
      if (owner !== undefined && this.owns(owner.Config?.Labels)) return id;
    }
    throw new Refused(404, `No such exec instance: ${id}`);
  }

  /** A named volume the caller may use; absent ones are reported so the caller can create them. */
  async volume(name: string): Promise<'owned' | 'absent'> {
    const found = await this.dockerd.inspectVolume(name);
    if (found === undefined) return 'absent';
    if (!this.owns(found.Labels)) throw new Refused(404, `get ${name}: no such volume`);
    return 'owned';
  }

  async network(ref: string, opts: { sharedAllowed: boolean }): Promise<string> {
    const found = await this.dockerd.inspectNetwork(ref);
    if (found !== undefined && (this.owns(found.Labels) || (opts.sharedAllowed && SHARED_NETWORKS.has(found.Name)))) {
      return found.Id;
    }
    throw new Refused(404, `network ${ref} not found`);
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
    if (status !== 201 && status !== 200) throw new Refused(status >= 400 && status < 600 ? status : 500, messageOf(json));
  }
}
