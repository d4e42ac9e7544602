import { randomBytes } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import { ProxyError } from '../errors.js';
import { MAX_FORM_BODY } from '../gohttp/form.js';
import { firstValue, type Values } from '../gohttp/url.js';
import type { RequestHead } from '../http1.js';
import { proxyCounters } from '../counters.js';
import type { Interceptor, Outcome, RouteHandler } from '../intercept.js';
import { pluginAnswer, swarmAnswer } from './answers/not-in-swarm.js';
import { ScopedAnswers } from './answers/scoped.js';
import { AmbiguousJsonError, isObject, isString, JsonObject, parseJson, stringifyJson } from './gojson.js';
import { type Caller, OWNER_LABEL } from './caller.js';
import { callerBuildId, CallerSessions, vetBuildOptions } from './build-options.js';
import type { DockerdClient } from './dockerd.js';
import { readFiltersObject } from './filters.js';
import { refusal } from './policy.js';
import { checkExecCreate, checkNetworkCreate, checkNetworkingConfig } from './references.js';
import { Ownership } from './ownership.js';
import type { CallerRecords } from './records.js';
import { type DockerRequest, firstValues, forwardHead, handlerPath, pageNotFound, readRequest, withForm } from './request.js';
import type { StagingArea } from './staging.js';
import { TranslationContext, translateCreateBody, translateHostConfig, translateLocalDriverOptions } from './translate.js';

/** Largest JSON body the proxy parses (a create body is a few KiB; dockerd has no lower limit). */
export const MAX_JSON_BODY = 1024 * 1024;

/** Endpoints answered as a dockerd outside a swarm and without plugins answers them. */
const SWARM_AREAS = /^\/(swarm|services|nodes|tasks|secrets|configs)(\/|$)/;
const PLUGIN_AREA = /^\/plugins(\/|$)/;

type Decide = (request: DockerRequest, body: Buffer | undefined) => Promise<Outcome>;

/** Routes whose parameters and body are shared state, not a caller's objects: forwarded as read. */
const SHARED_ROUTES = new Set([
  'OPTIONS /{anyroute:.*}', 'GET /_ping', 'HEAD /_ping', 'GET /version', 'POST /auth',
  'GET /images/search', 'GET /images/get', 'GET /images/{name:.*}/get', 'GET /images/{name:.*}/history',
  'POST /images/load', 'POST /images/create', 'POST /images/{name:.*}/push', 'POST /images/{name:.*}/tag',
  'POST /images/prune', 'DELETE /images/{name:.*}', 'GET /distribution/{name:.*}/json',
  'POST /build/prune',
]);

/**
 * The Docker-aware layer for one caller: translation of every mount-carrying body, ownership scoping
 * of ids, names, lists and events, answers as the caller's own dockerd would give them, and the
 * privilege policy. Every request is read once, as dockerd reads it (request.ts), decided on that
 * reading, and forwarded as a request rebuilt from it. What matches no dockerd route is answered as
 * dockerd answers it and never forwarded; so are the debug routes.
 */
export class CallerRoutes implements Interceptor {
  private readonly ownership: Ownership;
  private readonly answers: ScopedAnswers;
  private readonly sessions = new CallerSessions();

  constructor(
    private readonly caller: Caller,
    private readonly dockerd: DockerdClient,
    private readonly staging: StagingArea,
    private readonly records: CallerRecords,
    private readonly log: Logger,
    /** dockerd's BuildKit grants `network.host` (its default, unless concierge wrote its builder configuration). */
    private readonly builderGrantsHostNetwork = true,
  ) {
    this.ownership = new Ownership(caller, dockerd, records);
    this.answers = new ScopedAnswers(caller, dockerd, records, this.ownership, staging);
  }

  route(head: RequestHead): RouteHandler {
    try {
      return this.decideRoute(head);
    } catch (err) {
      // Nothing a client sends may throw out of the data path: the request is answered, not forwarded.
      if (err instanceof ProxyError) return answer(err);
      this.log.error({ err, target: head.target }, 'request routing failed');
      return answer(new ProxyError(500, 'concierge: the request could not be routed'));
    }
  }

  private decideRoute(head: RequestHead): RouteHandler {
    const reading = readRequest(head);
    if (reading.kind === 'answer') return answer(reading.error);
    const request = reading.request;
    const key = request.key;
    // dockerd's debug routes (command line, memory, CPU profiles) are not served to workloads.
    if (request.route.method === undefined) return answer(pageNotFound(''));
    const path = request.route.template;
    const formBody = request.form === undefined ? MAX_FORM_BODY : 0;
    const handle = (maxBody: number, decide: Decide) => this.handler(request, Math.max(maxBody, formBody), decide);
    const policy = this.caller.policy.name;
    if (SWARM_AREAS.test(path)) {
      return handle(MAX_JSON_BODY, (r, b) => this.answers.local(swarmAnswer(r.method, handlerPath(r), firstValues(r.form), b, policy)));
    }
    if (PLUGIN_AREA.test(path)) return handle(0, (r) => this.answers.local(pluginAnswer(r.method, handlerPath(r), firstValues(r.form), policy)));
    if (path.includes('/checkpoints')) return handle(0, (r) => this.checkpoints(r));
    if (SHARED_ROUTES.has(key)) return handle(0, (r) => Promise.resolve(forward(r)));
    const owned = (r: DockerRequest) => ({ form: withOwnerFilter(r.form, this.caller.id) });
    // The caller's prune filters, narrowed to an owner no object has (an unguessable one): dockerd reads them and deletes nothing.
    const pruneCheck = (r: DockerRequest) => ({ form: withOwnerFilter(r.form, `${this.caller.id}/${randomBytes(16).toString('hex')}`) });
    switch (key) {
      case 'POST /containers/create':
        return handle(MAX_JSON_BODY, (r, b) => this.createContainer(r, b!));
      case 'GET /containers/json':
        return handle(0, (r) => this.answers.containerList(r, owned(r)));
      case 'POST /containers/prune':
        return handle(0, (r) => this.answers.prune(r, pruneCheck(r), 'containers'));
      case 'POST /volumes/prune':
        return handle(0, (r) => this.answers.prune(r, pruneCheck(r), 'volumes'));
      case 'POST /networks/prune':
        return handle(0, (r) => this.answers.prune(r, pruneCheck(r), 'networks'));
      case 'GET /events':
        return handle(0, (r) => this.answers.events(r));
      case 'GET /system/df':
        return handle(0, (r) => this.answers.diskUsage(r));
      case 'GET /info':
        return handle(0, (r) => this.answers.info(r));
      case 'GET /volumes':
        return handle(0, (r) => this.answers.volumeList(r));
      case 'GET /networks':
      case 'GET /networks/':
        return handle(0, (r) => this.answers.networkList(r));
      case 'GET /images/json':
      case 'GET /images/{name:.*}/json':
        return handle(0, (r) => this.answers.images(r));
      case 'POST /commit':
        return handle(0, (r) => this.commit(r));
      case 'POST /build':
        return handle(0, async (r) => forward(r, { form: await vetBuildOptions(r.form, this.caller, this.ownership, this.sessions) }));
      case 'POST /build/cancel':
        return handle(0, (r) => Promise.resolve(forward(r, { form: withValue(r.form, 'id', callerBuildId(this.caller.id, firstValue(r.form, 'id'))) })));
      case 'POST /session':
        return handle(0, (r) => Promise.resolve(this.session(r)));
      case 'POST /grpc':
        // BuildKit's control API, unread inside its h2c stream: a Solve may ask for `network.host`, which
        // only dockerd's own builder configuration can then refuse.
        if (this.builderGrantsHostNetwork && !this.caller.policy.hostNamespaces) {
          return answer(refusal(this.caller.policy, 'POST /grpc', "dockerd's builder grants network.host here and host namespaces are off"));
        }
        return handle(0, (r) => Promise.resolve(forward(r)));
      case 'POST /volumes/create':
        return handle(MAX_JSON_BODY, (r, b) => this.createVolume(r, b!));
      case 'POST /networks/create':
        return handle(MAX_JSON_BODY, (r, b) => this.createNetwork(r, b!));
      case 'GET /volumes/{name:.*}':
      case 'DELETE /volumes/{name:.*}':
        return handle(0, async (r) => {
          const name = r.vars.name!;
          if ((await this.ownership.volume(name)) === 'absent') throw new ProxyError(404, `get ${name}: no such volume`);
          if (r.method === 'GET') return this.answers.volume(r);
          return forward(r, {}, (status) => {
            if (status === 204) void this.answers.forgetVolume(name);
          });
        });
      case 'GET /exec/{id:.*}/json':
      case 'POST /exec/{name:.*}/start':
      case 'POST /exec/{name:.*}/resize':
        return handle(0, async (r) => {
          const v = r.vars.id === undefined ? 'name' : 'id';
          const id = await this.ownership.exec(r.vars[v]!);
          return forward(r, { vars: { ...r.vars, [v]: id } });
        });
      case 'POST /containers/{name:.*}/exec':
        return handle(MAX_JSON_BODY, (r, b) => this.createExec(r, b));
    }
    if (path.startsWith('/containers/{name')) {
      const withBody = key === 'POST /containers/{name:.*}/start' ? MAX_JSON_BODY : 0;
      return handle(withBody, (r, b) => this.container(r, b));
    }
    if (path.startsWith('/networks/{id')) {
      const action = /\/(connect|disconnect)$/.exec(path)?.[1];
      return handle(action === undefined ? 0 : MAX_JSON_BODY, (r, b) => this.network(r, action, b));
    }
    // A dockerd route this layer has no rule for: refused rather than forwarded unexamined.
    return answer(new ProxyError(403, `concierge: ${request.method} ${path} is not available to workloads`));
  }

  private handler(request: Omit<DockerRequest, 'form'> & { form: Values | undefined }, maxBody: number, decide: Decide): RouteHandler {
    return {
      maxBody,
      handle: async (_head, body) => {
        try {
          let complete: DockerRequest;
          let rest = body;
          if (request.form === undefined) {
            // The body was a form: ParseForm consumed it; nothing of it is forwarded.
            complete = withForm(request, body ?? Buffer.alloc(0));
            rest = undefined;
          } else complete = { ...request, form: request.form };
          return await decide(complete, rest);
        } catch (err) {
          if (err instanceof ProxyError) {
            return { status: err.status, message: err.message, error: err, ...(err instanceof AmbiguousJsonError ? { rule: 'ambiguous-body' as const } : {}) };
          }
          throw err;
        }
      },
    };
  }

  private async createContainer(r: DockerRequest, body: Buffer): Promise<Outcome> {
    const tree = parseJson(body.toString('utf8'));
    const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
    try {
      await translateCreateBody(tree, ctx);
      if (isObject(tree)) await checkNetworkingConfig(tree, this.caller, this.ownership);
    } catch (err) {
      await ctx.releaseAll();
      throw err;
    }
    this.logRewrites(r, ctx);
    return this.answers.createContainer(r, Buffer.from(stringifyJson(tree)), ctx.binds);
  }

  /** `DELETE /containers/{parent}/{alias}?link=1`: both the parent and the linked container are the caller's. */
  private async removeLink(r: DockerRequest, linkName: string): Promise<Outcome> {
    const slash = linkName.lastIndexOf('/');
    const parent = await this.ownership.container(linkName.slice(0, slash));
    await this.ownership.container(linkName);
    // dockerd finds the link by its name, under the parent's name as dockerd holds it now.
    return forward(r, { vars: { ...r.vars, name: `${parent.name.replace(/^\//, '')}/${linkName.slice(slash + 1)}` } });
  }

  private async container(r: DockerRequest, body: Buffer | undefined): Promise<Outcome> {
    const ref = r.vars.name!;
    if (r.key === 'DELETE /containers/{name:.*}' && ref.includes('/') && boolValue(firstValue(r.form, 'link'))) return this.removeLink(r, ref);
    const { id } = await this.ownership.container(ref);
    const vars = { ...r.vars, name: id };
    if (r.key === 'POST /containers/{name:.*}/start' && body !== undefined && body.length > 0) {
      // API < 1.24 carries a HostConfig on start: translated like the one on create.
      const tree = parseJson(body.toString('utf8'));
      if (tree !== null) {
        if (!isObject(tree)) throw new ProxyError(400, 'start body must be a HostConfig object');
        const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
        try {
          await translateHostConfig(tree, ctx, 'HostConfig');
          await ctx.createVolumes();
        } catch (err) {
          await ctx.releaseAll();
          throw err;
        }
        this.logRewrites(r, ctx);
        const binds = [...ctx.binds];
        return forward(r, { vars, body: Buffer.from(stringifyJson(tree)) }, (status) => {
          if (status === 204 || status === 304) void this.records.addContainer(id, binds);
          else void ctx.releaseAll();
        });
      }
    }
    if (r.key === 'GET /containers/{name:.*}/json') return this.answers.containerInspect(r, { vars });
    if (r.key === 'DELETE /containers/{name:.*}') {
      return forward(r, { vars }, (status) => {
        if (status === 204) void this.answers.forgetContainer(id);
      });
    }
    return forward(r, { vars, body });
  }

  /** Exec creation obeys the container policy: a privileged exec is a privileged container. */
  private async createExec(r: DockerRequest, body: Buffer | undefined): Promise<Outcome> {
    const { id } = await this.ownership.container(r.vars.name!);
    const tree = parseJson(body === undefined || body.length === 0 ? 'null' : body.toString('utf8'));
    checkExecCreate(tree, this.caller.policy);
    return forward(r, { vars: { ...r.vars, name: id }, body: body === undefined ? undefined : Buffer.from(stringifyJson(tree)) });
  }

  /**
   * Checkpoint routes are experimental: a dockerd not started experimental answers them itself (501, or
   * its version middleware's 400) without reading anything, so they are forwarded as read. An
   * experimental dockerd would checkpoint any container: refused there.
   */
  private async checkpoints(r: DockerRequest): Promise<Outcome> {
    const version = await this.dockerd.call('GET', '/version');
    if (isExperimental(version.json)) throw new ProxyError(403, 'concierge: checkpoints are not available to workloads');
    return forward(r);
  }

  private async commit(r: DockerRequest): Promise<Outcome> {
    const { id } = await this.ownership.container(firstValue(r.form, 'container'));
    return forward(r, { form: withValue(r.form, 'container', id) });
  }

  /** A BuildKit session: the caller's once dockerd takes it (dockerd refuses an id it already holds). */
  private session(r: DockerRequest): Outcome {
    const id = r.head.go.header.get('X-Docker-Expose-Session-Uuid')?.[0] ?? '';
    return forward(r, {}, (status) => {
      if (status === 101) this.sessions.add(id);
    });
  }

  private createVolume(r: DockerRequest, body: Buffer): Promise<Outcome> {
    const tree = parseJson(body.length === 0 ? '{}' : body.toString('utf8'));
    if (!isObject(tree)) throw new ProxyError(400, 'volume create body must be a JSON object');
    const driver = tree.field('Driver');
    if (driver !== undefined && driver !== null && driver !== '' && driver !== 'local') {
      // A daemon with no plugins: dockerd's own words for a driver it cannot find.
      const name = tree.field('Name');
      const shown = isString(name) && name !== '' ? name : randomBytes(32).toString('hex');
      const plugin = isString(driver) ? driver : stringifyJson(driver);
      throw new ProxyError(404, `create ${shown}: error looking up volume plugin ${plugin}: plugin ${JSON.stringify(plugin)} not found`);
    }
    const ctx = new TranslationContext(this.caller, this.staging, this.ownership);
    const options = tree.field('DriverOpts');
    if (options !== undefined && options !== null) {
      tree.setField('DriverOpts', translateLocalDriverOptions(options, ctx, 'DriverOpts'));
    }
    const given = tree.field('Labels');
    setOwnerLabel(tree, this.caller.id);
    this.logRewrites(r, ctx);
    const name = tree.field('Name');
    return this.answers.createVolume(r, Buffer.from(stringifyJson(tree)), isString(name) ? name : '', ctx, given !== undefined && given !== null);
  }

  private createNetwork(r: DockerRequest, body: Buffer): Promise<Outcome> {
    const tree = parseJson(body.toString('utf8'));
    if (!isObject(tree)) throw new ProxyError(400, 'network create body must be a JSON object');
    checkNetworkCreate(tree, this.caller.policy);
    setOwnerLabel(tree, this.caller.id);
    const name = tree.field('Name');
    return this.answers.createNetwork(r, Buffer.from(stringifyJson(tree)), isString(name) ? name : '');
  }

  private async network(r: DockerRequest, action: string | undefined, body: Buffer | undefined): Promise<Outcome> {
    // Shared networks (bridge, host, none) may be inspected and joined, never removed.
    const id = await this.ownership.network(r.vars.id!, { sharedAllowed: r.method !== 'DELETE' });
    const vars = { ...r.vars, id };
    if (action === undefined && r.method === 'GET') return this.answers.network(r, { vars });
    if (action === undefined && r.method === 'DELETE') {
      return forward(r, { vars }, (status) => {
        if (status === 204) void this.records.removeNetwork(id);
      });
    }
    if (action === undefined) return forward(r, { vars });
    const tree = parseJson(body === undefined || body.length === 0 ? '{}' : body.toString('utf8'));
    if (!isObject(tree)) throw new ProxyError(400, 'network connect body must be a JSON object');
    const container = tree.field('Container');
    const { id: containerId } = await this.ownership.container(typeof container === 'string' ? container : '');
    tree.setField('Container', containerId);
    return forward(r, { vars, body: Buffer.from(stringifyJson(tree)) });
  }

  private logRewrites(r: DockerRequest, ctx: TranslationContext): void {
    for (const rw of ctx.rewrites) {
      proxyCounters().bindTranslated();
      this.log.info({ route: r.key, field: rw.field, from: rw.from, to: rw.to }, 'bind translated');
    }
  }
}

/** A handler that answers without forwarding. */
function answer(error: ProxyError): RouteHandler {
  return { maxBody: 0, handle: () => Promise.resolve({ status: error.status, message: error.message, error }) };
}

/** The request as read, rebuilt with the handler's decisions; a client body not read here follows re-framed. */
function forward(r: DockerRequest, parts: { vars?: Record<string, string>; form?: Values; body?: Buffer | undefined } = {}, onAnswer?: (status: number) => void): Outcome {
  const decided = parts.vars !== undefined || parts.form !== undefined || parts.body !== undefined || onAnswer !== undefined;
  return { head: forwardHead(r, parts), body: parts.body ?? (r.bodyIsForm ? Buffer.alloc(0) : undefined), onAnswer, reframe: true, decided };
}

function withValue(form: Values, key: string, value: string): Values {
  const out = new Map(form);
  out.set(key, [value]);
  return out;
}

function setOwnerLabel(tree: JsonObject, owner: string): void {
  const labels = tree.field('Labels');
  if (labels !== undefined && labels !== null && !isObject(labels)) throw new ProxyError(400, 'Labels must be an object');
  const out = isObject(labels) ? labels : new JsonObject();
  out.set(OWNER_LABEL, owner);
  tree.setField('Labels', out);
}

/** `GET /version`'s `Experimental` (omitted when false). */
function isExperimental(version: unknown): boolean {
  return typeof version === 'object' && version !== null && 'Experimental' in version && version.Experimental === true;
}

/** A parameter read as httputils.BoolValue reads it. */
function boolValue(v: string): boolean {
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/**
 * Adds `label=<owner>=<id>` to a request's `filters` (both the map and the legacy list forms). dockerd
 * reads the first `filters` value only; the result carries exactly one.
 */
export function withOwnerFilter(form: Values, ownerId: string): Values {
  const filters = readFiltersObject(form);
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
  return withValue(form, 'filters', Buffer.from(JSON.stringify(filters), 'utf8').toString('latin1'));
}
