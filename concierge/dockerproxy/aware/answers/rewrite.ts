import { OWNER_LABEL, STAGING_LABEL } from '../caller.js';
import { isObject, isString, type JsonObject, type JsonValue } from '../gojson.js';
import type { CallerRecords } from '../records.js';

/**
 * Turns dockerd's answers into the answers of a dockerd that holds only the caller's objects, at the
 * caller's own paths: staging paths become the paths the caller named, concierge's labels go, and
 * objects that are not the caller's are left out. Each function changes its tree in place.
 */
const OURS = [OWNER_LABEL, STAGING_LABEL];

function objectAt(tree: JsonValue | undefined, ...path: string[]): JsonObject | undefined {
  let at = tree;
  for (const key of path) {
    if (!isObject(at)) return undefined;
    at = at.get(key);
  }
  return isObject(at) ? at : undefined;
}

function arrayAt(tree: JsonObject, key: string): JsonValue[] | undefined {
  const v = tree.get(key);
  return Array.isArray(v) ? v : undefined;
}

/** Removes concierge's labels from a labels map (and nothing else). */
export function stripLabels(labels: JsonObject | undefined): void {
  if (labels === undefined) return;
  const before = labels.entries.length;
  for (let i = labels.entries.length - 1; i >= 0; i--) if (OURS.includes(labels.entries[i]![0])) labels.entries.splice(i, 1);
  if (labels.entries.length !== before) labels.changed();
}

export function stripAttributeLabels(attributes: Record<string, string> | undefined): void {
  if (attributes !== undefined) for (const k of OURS) delete attributes[k];
}

export class AnswerRewriter {
  constructor(private readonly records: CallerRecords) {}

  /** A path the proxy staged, as the caller named it (other paths are left as they are). */
  private callerPath(path: string): string {
    return this.records.callerPathOf(path) ?? path;
  }

  /** `src:dst[:mode]` with a staged source becomes the caller's `src:dst[:mode]`. */
  private bind(bind: string): string {
    const colon = bind.indexOf(':');
    if (colon < 0) return bind;
    const source = bind.slice(0, colon);
    const mapped = this.records.callerPathOf(source);
    return mapped === undefined ? bind : `${mapped}${bind.slice(colon)}`;
  }

  private mountSources(mounts: JsonValue[] | undefined): void {
    for (const m of mounts ?? []) {
      if (!isObject(m)) continue;
      const source = m.get('Source');
      if (isString(source)) m.set('Source', this.callerPath(source));
    }
  }

  /** GET /containers/{id}/json */
  containerInspect(tree: JsonValue): void {
    if (!isObject(tree)) return;
    stripLabels(objectAt(tree, 'Config', 'Labels'));
    const hc = objectAt(tree, 'HostConfig');
    if (hc !== undefined) {
      const binds = arrayAt(hc, 'Binds');
      if (binds !== undefined) hc.set('Binds', binds.map((b) => (isString(b) ? this.bind(b) : b)));
      this.mountSources(arrayAt(hc, 'Mounts'));
    }
    this.mountSources(arrayAt(tree, 'Mounts'));
  }

  /** One entry of GET /containers/json (and of /system/df's Containers). */
  containerSummary(tree: JsonValue): void {
    if (!isObject(tree)) return;
    stripLabels(objectAt(tree, 'Labels'));
    this.mountSources(arrayAt(tree, 'Mounts'));
  }

  ownsContainer(tree: JsonValue): boolean {
    const id = isObject(tree) ? tree.get('Id') : undefined;
    return isString(id) && this.records.hasContainer(id);
  }

  /** A volume (inspect, list entry, create answer): labels, and a staged `device` option. */
  volume(tree: JsonValue): void {
    if (!isObject(tree)) return;
    const labels = objectAt(tree, 'Labels');
    stripLabels(labels);
    const name = tree.get('Name');
    // Created without labels, a volume's labels are null in dockerd's answers; the owner label made them {}.
    if (labels !== undefined && labels.entries.length === 0 && isString(name) && this.records.isUnlabelledVolume(name)) tree.set('Labels', null);
    const options = objectAt(tree, 'Options');
    const device = options?.get('device');
    if (options !== undefined && isString(device)) options.set('device', this.callerPath(device));
  }

  ownsVolume(tree: JsonValue): boolean {
    const name = isObject(tree) ? tree.get('Name') : undefined;
    return isString(name) && this.records.hasVolume(name);
  }

  /** GET /volumes: only the caller's volumes. */
  volumeList(tree: JsonValue): void {
    if (!isObject(tree)) return;
    const list = arrayAt(tree, 'Volumes');
    if (list === undefined) return;
    const kept = list.filter((v) => this.ownsVolume(v));
    for (const v of kept) this.volume(v);
    tree.set('Volumes', kept);
  }

  /** A network (inspect or list entry): labels, and only the caller's containers on it. */
  network(tree: JsonValue): void {
    if (!isObject(tree)) return;
    stripLabels(objectAt(tree, 'Labels'));
    const containers = objectAt(tree, 'Containers');
    if (containers === undefined) return;
    const before = containers.entries.length;
    for (let i = containers.entries.length - 1; i >= 0; i--) {
      if (!this.records.hasContainer(containers.entries[i]![0])) containers.entries.splice(i, 1);
    }
    if (containers.entries.length !== before) containers.changed();
  }

  /** An image (inspect or list entry): concierge's labels copied in by `commit` or a build go. */
  image(tree: JsonValue): void {
    if (!isObject(tree)) return;
    stripLabels(objectAt(tree, 'Labels'));
    stripLabels(objectAt(tree, 'Config', 'Labels'));
    stripLabels(objectAt(tree, 'ContainerConfig', 'Labels'));
  }

  /** GET /system/df: the caller's containers and volumes; images are shared, without concierge's labels. */
  diskUsage(tree: JsonValue): void {
    if (!isObject(tree)) return;
    const containers = arrayAt(tree, 'Containers');
    if (containers !== undefined) {
      const kept = containers.filter((c) => this.ownsContainer(c));
      for (const c of kept) this.containerSummary(c);
      tree.set('Containers', kept);
    }
    const volumes = arrayAt(tree, 'Volumes');
    if (volumes !== undefined) {
      const kept = volumes.filter((v) => this.ownsVolume(v));
      for (const v of kept) this.volume(v);
      tree.set('Volumes', kept);
    }
    for (const image of arrayAt(tree, 'Images') ?? []) this.image(image);
  }
}
