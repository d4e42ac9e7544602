import type { IncomingMessage } from 'node:http';
import { OWNER_LABEL } from '../caller.js';
import { isObject, isString, parseJson, type JsonObject } from '../gojson.js';
import type { CallerRecords } from '../records.js';
import { encodeGoJson } from './gojson-encode.js';
import { stripLabels } from './rewrite.js';

/**
 * dockerd's event stream as the caller's dockerd would send it (`visible`), without concierge's labels
 * in the actor's attributes.
 * Each event is one line of JSON; lines are re-encoded only when they change.
 */
export async function* scopedEvents(res: IncomingMessage, callerId: string, records: CallerRecords): AsyncGenerator<Buffer> {
  let pending = '';
  for await (const chunk of res) {
    pending += (chunk as Buffer).toString('utf8');
    let out = '';
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      const event = parseJson(line);
      if (!isObject(event) || !visible(event, callerId, records)) continue;
      stripLabels(attributesOf(event));
      out += encodeGoJson(event);
    }
    if (out !== '') yield Buffer.from(out);
  }
}

function attributesOf(event: JsonObject): JsonObject | undefined {
  const actor = event.get('Actor');
  const attributes = isObject(actor) ? actor.get('Attributes') : undefined;
  return isObject(attributes) ? attributes : undefined;
}

/**
 * Whether the caller's own dockerd would send the event: its containers, volumes and networks by the
 * records; images, the build cache and the daemon are shared (images/json lists every image,
 * /build/prune and /info are dockerd's own), so their events go to every caller; plugins and swarm
 * objects a daemon without plugins outside a swarm never has.
 */
function visible(event: JsonObject, callerId: string, records: CallerRecords): boolean {
  const type = event.get('Type');
  const actor = event.get('Actor');
  const id = isObject(actor) ? actor.get('ID') : undefined;
  if (!isString(id)) return false;
  const attributes = attributesOf(event);
  const attribute = (k: string): string | undefined => {
    const v = attributes?.get(k);
    return isString(v) ? v : undefined;
  };
  switch (type) {
    case 'container':
      // A create's event can come before the answer that records the container: the owner label,
      // which concierge set on every create, counts only while one of this caller's creates is under way.
      // A prune's event (no actor) is of concierge's filter check: the caller's prune removes one by one.
      return records.hasContainer(id) || records.wasForgotten(id) || (id !== '' && records.createsUnderWay && attribute(OWNER_LABEL) === callerId);
    case 'volume':
      return id !== '' && (records.hasVolume(id) || records.wasForgotten(id) || records.isBeingCreated(id));
    case 'network': {
      if (id === '') return false;
      if (records.hasNetwork(id) || records.wasForgotten(id) || records.isBeingCreated(attribute('name') ?? '')) return true;
      const container = attribute('container');
      return container !== undefined && records.hasContainer(container);
    }
    case 'image':
    case 'builder':
    case 'daemon':
      return true;
    default:
      return false;
  }
}
