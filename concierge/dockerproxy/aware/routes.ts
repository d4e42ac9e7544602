import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import type { RequestHead } from '../http1.js';
import { serializeHead, splitTarget } from './message.js';
import { proxyCounters } from '../counters.js';
import type { Interceptor, Outcome, RouteHandler } from '../intercept.js';
import { pluginAnswer, swarmAnswer } from './answers/not-in-swarm.js';
import { ScopedAnswers } from './answers/scoped.js';
import { AmbiguousJsonError, isObject, isString, JsonObject, JsonSyntaxError, parseJson, stringifyJson } from './gojson.js';
import { type Caller, OWNER_LABEL, Refused } from './caller.js';
import type { DockerdClient } from './dockerd.js';
import { Ownership } from './ownership.js';
import type { CallerRecords } from './records.js';
import type { StagingArea } from './staging.js';
import { TranslationContext, translateCreateBody, translateHostConfig, translateLocalDriverOptions } from './translate.js';

/** Largest JSON body the proxy parses (a create body is a few KiB; dockerd has no lower limit). */
export const MAX_JSON_BODY = 1024 * 1024;

/** Endpoints a workload never reaches: cluster and plugin management act on the whole guest. */
const SWARM_AREAS = /^\/(swarm|services|nodes|tasks|secrets|configs)(\/|$)/;
const PLUGIN_AREA = /^\/plugins(\/|$)/;
const CONTAINER_PATH = /^\/containers\/([^/]+)(\/[^?]*)?$/;
const EXEC_PATH = /^\/exec\/([^/]+)(\/[^?]*)?$/;
const VOLUME_PATH = /^\/volumes\/([^/]+)$/;
const NETWORK_PATH = /^\/networks\/([^/]+)(\/(?:connect|disconnect))?$/;

type Decide = (head: RequestHead, body: Buffer | undefined) => Outcome | Promise<Outcome>;

/**
 * The Docker-aware layer for one caller: translation of every mount-carrying body,
 * ownership scoping of ids, names, lists and events, and the privilege policy. Requests it has no
 * rule for pass untouched.
 */
export class CallerRoutes implements Interceptor {
  private readonly ownership: Ownership;
  private readonly answers: ScopedAnswers;

  constructor(
    private readonly caller: Caller,
    dockerd: DockerdClient,
    private readonly staging: StagingArea,
    private readonly records: CallerRecords,
    private readonly log: Logger,
  ) {
    this.ownership = new Ownership(caller, dockerd, records);
    this.answers = new ScopedAnswers(caller, dockerd, records, this.ownership, staging);
  }

  route(head: RequestHead): RouteHandler | undefined {
    const { path } = splitTarget(head.target);
    const m = head.method;
    if (SWARM_AREAS.test(path)) {
      return this.handler(MAX_JSON_BODY, async (h, b) =>
        this.answers.local(swarmAnswer(m, path, new URLSearchParams(splitTarget(h.target).query), b, this.caller.policy.name)));
    }
    if (PLUGIN_AREA.test(path)) {
      return this.handler(0, async (h) => this.answers.local(pluginAnswer(m, path, new URLSearchParams(splitTarget(h.target).query), this.caller.policy.name)));
    }
    if (path === '/containers/create' && m === 'POST') return this.handler(MAX_JSON_BODY, (h, b) => this.createContainer(h, b!));
    if (path === '/containers/json' && m === 'GET') return this.handler(0, (h) => this.answers.containerList(h, withOwnerFilter(h.target, this.caller.id)));
    if (path === '/containers/prune' && m === 'POST') return this.handler(0, (h) => this.answers.prune(h, withOwnerFilter(h.target, this.caller.id), 'containers'));
    if (path === '/events' && m === 'GET') return this.handler(0, (h) => this.answers.events(h));
    if (path === '/system/df' && m === 'GET') return this.handler(0, (h) => this.answers.diskUsage(h));
    if (path === '/info' && m === 'GET') return this.handler(0, (h) => this.answers.info(h));
    if (path === '/commit' && m === 'POST') return this.handler(0, (h) => this.commit(h));
    if (path === '/build' && m === 'POST') return this.handler(0, (h) => this.build(h));
    if (path === '/volumes' && m === 'GET') return this.handler(0, (h) => this.answers.volumeList(h));
    if (path === '/networks' && m === 'GET') return this.handler(0, (h) => this.answers.networkList(h));
    if (path === '/volumes/prune' && m === 'POST') return this.handler(0, (h) => this.answers.prune(h, withOwnerFilter(h.target, this.caller.id), 'volumes'));
    if (path === '/networks/prune' && m === 'POST') return this.handler(0, (h) => this.answers.prune(h, withOwnerFilter(h.target, this.caller.id), 'networks'));
    if (path === '/volumes/create' && m === 'POST') return this.handler(MAX_JSON_BODY, (h, b) => this.createVolume(h, b!));
    if (path === '/networks/create' && m === 'POST') return this.handler(MAX_JSON_BODY, (h, b) => this.createNetwork(h, b!));
    if (m === 'GET' && (path === '/images/json' || /^\/images\/.+\/json$/.test(path))) return this.handler(0, (h) => this.answers.images(h));
    if (m === 'DELETE' && /^\/containers\/[^/]+\/.+$/.test(path) && boolParam(head.target, 'link')) {
      return this.handler(0, (h) => this.removeLink(h, decodeURIComponent(path.slice('/containers/'.length))));
    }
    let match = CONTAINER_PATH.exec(path);
    if (match !== null) {
      const [, ref, rest = ''] = match;
      const withBody = rest === '/start' && m === 'POST' ? MAX_JSON_BODY : 0;
      return this.handler(withBody, (h, b) => this.container(h, decodeURIComponent(ref!), rest, b));
    }
    match = EXEC_PATH.exec(path);
    if (match !== null) {
      return this.handler(0, async (h) => {
        const id = await this.ownership.exec(decodeURIComponent(match![1]!));
        return forward(h, replacePathSegment(h.target, `/exec/${match![1]}`, `/exec/${id}`));
      });
    }
    match = VOLUME_PATH.exec(path);
    if (match !== null && (m === 'GET' || m === 'DELETE')) {
      const name = decodeURIComponent(match[1]!);
      return this.handler(0, async (h) => {
        if ((await this.ownership.volume(name)) === 'absent') throw new Refused(404, `get ${name}: no such volume`);
        if (m === 'GET') return this.answers.volume(h);
        return forward(h, h.target, undefined, (status) => {
          if (status === 204) void this.answers.forgetVolume(name);
        });
      });
    }
    match = NETWORK_PATH.exec(path);
    if (match !== null) {
      const [, ref, action] = match;
      return this.handler(action === undefined ? 0 : MAX_JSON_BODY, (h, b) => this.network(h, decodeURIComponent(ref!), action, b));
    }
    return undefined;
  }

  private handler(maxBody: number, decide: Decide): RouteHandler {
    return {
      maxBody,
      handle: async (head, body) => {
        try {
          return await decide(head, body);
        } catch (err) {
          if (err instanceof Refused) return refusal(err.status, err.message);
          if (err instanceof AmbiguousJsonError) return { ...refusal(400, `concierge: ambiguous request body: ${err.message}`), rule: 'ambiguous-body' };
          if (err instanceof JsonSyntaxError) return refusal(400, `concierge: ${err.message}`);
          throw err;
        }
      },
    };
  }

  private async createContainer(head: RequestHead, body: Buffer): Promise<Outcome> {
    const tree = parseJson(body.toString('utf8'));
    const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
    try {
      await translateCreateBody(tree, ctx);
    } catch (err) {
      await ctx.releaseAll();
      throw err;
    }
    this.logRewrites(head, ctx);
    return this.answers.createContainer(head, Buffer.from(stringifyJson(tree)), ctx.binds);
  }

  /** `DELETE /containers/{parent}/{alias}?link=1`: both the parent and the linked container are the caller's. */
  private async removeLink(head: RequestHead, linkName: string): Promise<Outcome> {
    const slash = linkName.lastIndexOf('/');
    const parent = await this.ownership.container(linkName.slice(0, slash));
    await this.ownership.container(linkName);
    // dockerd finds the link by its name, under the parent's name as dockerd holds it now.
    const { query, versionPrefix } = splitTarget(head.target);
    const name = `${parent.name.replace(/^\//, '')}/${linkName.slice(slash + 1)}`;
    return forward(head, `${versionPrefix}/containers/${name.split('/').map(encodeURIComponent).join('/')}${query === '' ? '' : `?${query}`}`);
  }

  private async container(head: RequestHead, ref: string, rest: string, body: Buffer | undefined): Promise<Outcome> {
    const { id } = await this.ownership.container(ref);
    const target = replacePathSegment(head.target, `/containers/${encodeURIComponentOnce(ref, head.target)}`, `/containers/${id}`);
    if (rest === '/start' && body !== undefined && body.length > 0) {
      // API < 1.24 carries a HostConfig on start: translated like the one on create.
      const tree = parseJson(body.toString('utf8'));
      if (tree !== null) {
        if (!isObject(tree)) throw new Refused(400, 'start body must be a HostConfig object');
        const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
        try {
          await translateHostConfig(tree, ctx, 'HostConfig');
          await ctx.createVolumes();
        } catch (err) {
          await ctx.releaseAll();
          throw err;
        }
        this.logRewrites(head, ctx);
        const binds = [...ctx.binds];
        return forward(head, target, Buffer.from(stringifyJson(tree)), (status) => {
          if (status === 204 || status === 304) void this.records.addContainer(id, binds);
          else void ctx.releaseAll();
        });
      }
    }
    if (head.method === 'GET' && rest === '/json') return this.answers.containerInspect(head, target);
    if (head.method === 'DELETE' && rest === '') {
      return forward(head, target, body, (status) => {
        if (status === 204) void this.answers.forgetContainer(id);
      });
    }
    return forward(head, target, body);
  }

  private async commit(head: RequestHead): Promise<Outcome> {
    const { path, query, versionPrefix } = splitTarget(head.target);
    const params = new URLSearchParams(query);
    const { id } = await this.ownership.container(params.get('container') ?? '');
    params.set('container', id);
    return forward(head, `${versionPrefix}${path}?${params.toString()}`);
  }

  private build(head: RequestHead): Outcome {
    const params = new URLSearchParams(splitTarget(head.target).query);
    if (params.get('networkmode') === 'host' && !this.caller.policy.hostNamespaces) {
      throw new Refused(403, `concierge: build networkmode=host is not allowed by this workload's dockerPolicy "${this.caller.policy.name}" (host namespaces are off)`);
    }
    if ((params.get('cgroupparent') ?? '') !== '' && !this.caller.policy.cgroupParent) {
      throw new Refused(403, `concierge: build cgroupparent is not allowed by this workload's dockerPolicy "${this.caller.policy.name}" (cgroup parents are off)`);
    }
    return forward(head, head.target);
  }

  private createVolume(head: RequestHead, body: Buffer): Promise<Outcome> {
    const tree = parseJson(body.length === 0 ? '{}' : body.toString('utf8'));
    if (!isObject(tree)) throw new Refused(400, 'volume create body must be a JSON object');
    const driver = tree.field('Driver');
    if (driver !== undefined && driver !== null && driver !== '' && driver !== 'local') {
      // A daemon with no plugins: dockerd's own words for a driver it cannot find.
      const name = tree.field('Name');
      const shown = isString(name) && name !== '' ? name : randomBytes(32).toString('hex');
      const plugin = isString(driver) ? driver : stringifyJson(driver);
      throw new Refused(404, `create ${shown}: error looking up volume plugin ${plugin}: plugin ${JSON.stringify(plugin)} not found`);
    }
    const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
    const options = tree.field('DriverOpts');
    if (options !== undefined && options !== null) {
      tree.setField('DriverOpts', translateLocalDriverOptions(options, ctx, 'DriverOpts'));
    }
    const given = tree.field('Labels');
    setOwnerLabel(tree, this.caller.id);
    this.logRewrites(head, ctx);
    const name = tree.field('Name');
    return this.answers.createVolume(head, Buffer.from(stringifyJson(tree)), isString(name) ? name : '', ctx, given !== undefined && given !== null);
  }

  private createNetwork(head: RequestHead, body: Buffer): Promise<Outcome> {
    const tree = parseJson(body.toString('utf8'));
    if (!isObject(tree)) throw new Refused(400, 'network create body must be a JSON object');
    setOwnerLabel(tree, this.caller.id);
    const name = tree.field('Name');
    return this.answers.createNetwork(head, Buffer.from(stringifyJson(tree)), isString(name) ? name : '');
  }

  private async network(head: RequestHead, ref: string, action: string | undefined, body: Buffer | undefined): Promise<Outcome> {
    // Shared networks (bridge, host, none) may be inspected and joined, never removed.
    const id = await this.ownership.network(ref, { sharedAllowed: head.method !== 'DELETE' });
    const target = replacePathSegment(head.target, `/networks/${encodeURIComponentOnce(ref, head.target)}`, `/networks/${id}`);
    if (action === undefined && head.method === 'GET') return this.answers.network(head, target);
    if (action === undefined && head.method === 'DELETE') {
      return forward(head, target, body, (status) => {
        if (status === 204) void this.records.removeNetwork(id);
      });
    }
    if (action === undefined) return forward(head, target, body);
    const tree = parseJson(body === undefined || body.length === 0 ? '{}' : body.toString('utf8'));
    if (!isObject(tree)) throw new Refused(400, 'network connect body must be a JSON object');
    const container = tree.field('Container');
    const { id: containerId } = await this.ownership.container(typeof container === 'string' ? container : '');
    tree.setField('Container', containerId);
    return forward(head, target, Buffer.from(stringifyJson(tree)));
  }

  private logRewrites(head: RequestHead, ctx: TranslationContext): void {
    for (const r of ctx.rewrites) {
      proxyCounters().bindTranslated();
      this.log.info({ target: head.target, field: r.field, from: r.from, to: r.to }, 'bind translated');
    }
  }
}

function refusal(status: number, message: string): Outcome {
  return { status, message };
}

/** Forwards with a new target and, when given, a new body (with a fresh Content-Length). */
function forward(head: RequestHead, target: string, body?: Buffer, onAnswer?: (status: number) => void): Outcome {
  const headers = head.rawHeaders.filter(([name]) => {
    const n = name.toLowerCase();
    return body === undefined || (n !== 'content-length' && n !== 'transfer-encoding');
  });
  if (body !== undefined) headers.push(['Content-Length', String(body.length)]);
  return { head: serializeHead(`${head.method} ${target} ${head.version}`, headers), body, onAnswer };
}

function replacePathSegment(target: string, from: string, to: string): string {
  const at = target.indexOf(from);
  if (at < 0) throw new Refused(400, 'malformed request path');
  return target.slice(0, at) + to + target.slice(at + from.length);
}

/** The id segment as it appears in the raw target (encoded or not). */
function encodeURIComponentOnce(ref: string, target: string): string {
  const encoded = encodeURIComponent(ref);
  return target.includes(`/${encoded}`) ? encoded : ref;
}

function setOwnerLabel(tree: JsonObject, owner: string): void {
  const labels = tree.field('Labels');
  if (labels !== undefined && labels !== null && !isObject(labels)) throw new Refused(400, 'Labels must be an object');
  const out = isObject(labels) ? labels : new JsonObject();
  out.set(OWNER_LABEL, owner);
  tree.setField('Labels', out);
}

/** A query parameter read as httputils.BoolValue reads it. */
function boolParam(target: string, name: string): boolean {
  const v = new URLSearchParams(splitTarget(target).query).get(name);
  if (v === null) return false;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** Adds `label=<owner>=<id>` to a request's `filters` (both the map and the legacy list forms). */
export function withOwnerFilter(target: string, ownerId: string): string {
  const { versionPrefix, path, query } = splitTarget(target);
  const params = new URLSearchParams(query);
  let filters: Record<string, unknown> = {};
  const raw = params.get('filters');
  if (raw !== null && raw !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Refused(400, 'invalid filters: not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Refused(400, 'invalid filters');
    filters = parsed as Record<string, unknown>;
  }
  // A client's own owner label stays: label filters must all match, so it can only narrow the answer.
  // dockerd reads filters either all in the map form ({"label": {"a=b": true}}) or all in the legacy
  // list form ({"label": ["a=b"]}); a mix is an error, so the owner filter follows the client's form.
  const owner = `${OWNER_LABEL}=${ownerId}`;
  const legacy = Object.values(filters).some((v) => Array.isArray(v));
  const label = filters.label;
  if (legacy) {
    const list = Array.isArray(label) ? label.map(String) : typeof label === 'object' && label !== null ? Object.keys(label) : [];
    filters.label = [...list, owner];
  } else {
    const map: Record<string, boolean> = typeof label === 'object' && label !== null ? { ...(label as Record<string, boolean>) } : {};
    map[owner] = true;
    filters.label = map;
  }
  params.set('filters', JSON.stringify(filters));
  return `${versionPrefix}${path}?${params.toString()}`;
}

