import type { Logger } from '../../log/logger.js';
import type { RequestHead } from '../http1.js';
import { serializeHead, splitTarget } from './message.js';
import { proxyCounters } from '../counters.js';
import type { Interceptor, Outcome, RouteHandler } from '../intercept.js';
import { AmbiguousJsonError, isObject, JsonObject, JsonSyntaxError, parseJson, showJson, stringifyJson } from './gojson.js';
import { type Caller, OWNER_LABEL, Refused, STAGING_LABEL } from './caller.js';
import type { DockerdClient } from './dockerd.js';
import { Ownership } from './ownership.js';
import type { StagingArea } from './staging.js';
import { TranslationContext, translateCreateBody, translateHostConfig, translateLocalDriverOptions } from './translate.js';

/** Largest JSON body the proxy parses (a create body is a few KiB; dockerd has no lower limit). */
export const MAX_JSON_BODY = 1024 * 1024;

/** Endpoints a workload never reaches: cluster and plugin management act on the whole guest. */
const REFUSED_AREAS = /^\/(swarm|services|nodes|tasks|secrets|configs|plugins)(\/|$)/;
const CONTAINER_PATH = /^\/containers\/([^/]+)(\/[^?]*)?$/;
const EXEC_PATH = /^\/exec\/([^/]+)(\/[^?]*)?$/;
const VOLUME_PATH = /^\/volumes\/([^/]+)$/;
const NETWORK_PATH = /^\/networks\/([^/]+)(\/(?:connect|disconnect))?$/;

type Decide = (head: RequestHead, body: Buffer | undefined) => Outcome | Promise<Outcome>;

/**
 * The Docker-aware layer for one caller (brief 4.4-4.10): translation of every mount-carrying body,
 * ownership scoping of ids, names, lists and events, and the privilege policy. Requests it has no
 * rule for pass untouched.
 */
export class CallerRoutes implements Interceptor {
  private readonly ownership: Ownership;

  constructor(
    private readonly caller: Caller,
    dockerd: DockerdClient,
    private readonly staging: StagingArea,
    private readonly log: Logger,
  ) {
    this.ownership = new Ownership(caller, dockerd);
  }

  route(head: RequestHead): RouteHandler | undefined {
    const { path } = splitTarget(head.target);
    const m = head.method;
    if (REFUSED_AREAS.test(path)) {
      // A lookup answers "not found" (the CLI's `inspect` tries plugins last); anything else is refused.
      const lookup = m === 'GET' && path.split('/').length > 2;
      return this.handler(0, () =>
        lookup ? refusal(404, `${path.split('/')[2]}: not found`) : refusal(403, `concierge: ${path.split('/')[1]} is not available to workloads`));
    }
    if (path === '/containers/create' && m === 'POST') return this.handler(MAX_JSON_BODY, (h, b) => this.createContainer(h, b!));
    if ((path === '/containers/json' && m === 'GET') || (path === '/containers/prune' && m === 'POST')) return this.scopedList();
    if (path === '/events' && m === 'GET') return this.scopedList();
    if (path === '/commit' && m === 'POST') return this.handler(0, (h) => this.commit(h));
    if (path === '/build' && m === 'POST') return this.handler(0, (h) => this.build(h));
    if (path === '/volumes' || path === '/volumes/prune' || path === '/networks' || path === '/networks/prune') return this.scopedList();
    if (path === '/volumes/create' && m === 'POST') return this.handler(MAX_JSON_BODY, (h, b) => this.createVolume(h, b!));
    if (path === '/networks/create' && m === 'POST') return this.handler(MAX_JSON_BODY, (h, b) => this.createNetwork(h, b!));
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
        return forward(h, h.target);
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

  /** Lists, prunes and events see only what the caller owns: the owner label joins the filters. */
  private scopedList(): RouteHandler {
    return this.handler(0, (h) => forward(h, withOwnerFilter(h.target, this.caller.id)));
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
    const staged = [...ctx.staged];
    return forward(head, head.target, Buffer.from(stringifyJson(tree)), (status) => {
      if (status !== 201) for (const p of staged) void this.staging.release(p);
    });
  }

  private async container(head: RequestHead, ref: string, rest: string, body: Buffer | undefined): Promise<Outcome> {
    const { id, labels } = await this.ownership.container(ref);
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
        return forward(head, target, Buffer.from(stringifyJson(tree)));
      }
    }
    if (head.method === 'DELETE' && rest === '') {
      return forward(head, target, body, (status) => {
        if (status === 204) void this.releaseStaging(labels);
      });
    }
    return forward(head, target, body);
  }

  async releaseStaging(labels: Record<string, string> | undefined): Promise<void> {
    const list = labels?.[STAGING_LABEL];
    if (list === undefined || list === '') return;
    for (const p of list.split(',')) await this.staging.release(p);
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
      throw new Refused(403, 'concierge: build networkmode=host is not allowed for this workload (host namespaces are off)');
    }
    if ((params.get('cgroupparent') ?? '') !== '' && !this.caller.policy.cgroupParent) {
      throw new Refused(403, 'concierge: build cgroupparent is not allowed for this workload');
    }
    return forward(head, head.target);
  }

  private createVolume(head: RequestHead, body: Buffer): Outcome {
    const tree = parseJson(body.length === 0 ? '{}' : body.toString('utf8'));
    if (!isObject(tree)) throw new Refused(400, 'volume create body must be a JSON object');
    const driver = tree.field('Driver');
    if (driver !== undefined && driver !== null && driver !== '' && driver !== 'local') {
      throw new Refused(403, `concierge: volume driver ${showJson(driver)} is not allowed; only local volumes`);
    }
    const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
    const options = tree.field('DriverOpts');
    if (options !== undefined && options !== null) {
      tree.setField('DriverOpts', translateLocalDriverOptions(options, ctx, 'DriverOpts'));
    }
    setOwnerLabel(tree, this.caller.id, ctx.staged);
    this.logRewrites(head, ctx);
    return forward(head, head.target, Buffer.from(stringifyJson(tree)), (status) => {
      if (status !== 201) void ctx.releaseAll();
    });
  }

  private createNetwork(head: RequestHead, body: Buffer): Outcome {
    const tree = parseJson(body.toString('utf8'));
    if (!isObject(tree)) throw new Refused(400, 'network create body must be a JSON object');
    setOwnerLabel(tree, this.caller.id, []);
    return forward(head, head.target, Buffer.from(stringifyJson(tree)));
  }

  private async network(head: RequestHead, ref: string, action: string | undefined, body: Buffer | undefined): Promise<Outcome> {
    // Shared networks (bridge, host, none) may be inspected and joined, never removed.
    const id = await this.ownership.network(ref, { sharedAllowed: head.method !== 'DELETE' });
    const target = replacePathSegment(head.target, `/networks/${encodeURIComponentOnce(ref, head.target)}`, `/networks/${id}`);
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

function setOwnerLabel(tree: JsonObject, owner: string, staged: string[]): void {
  const labels = tree.field('Labels');
  if (labels !== undefined && labels !== null && !isObject(labels)) throw new Refused(400, 'Labels must be an object');
  const out = isObject(labels) ? labels : new JsonObject();
  out.set(OWNER_LABEL, owner);
  if (staged.length > 0) out.set(STAGING_LABEL, staged.join(','));
  tree.setField('Labels', out);
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

