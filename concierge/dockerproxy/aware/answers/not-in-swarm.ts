import { ProxyError } from '../../errors.js';

/**
 * Swarm-mode and plugin endpoints answered as a dockerd 20.10 that is not part of a swarm and has no
 * plugins answers them (api/server/router/swarm and plugin, daemon/cluster/errors.go): nothing reaches
 * dockerd. Joining or making a swarm, and installing a plugin, act on the whole guest: those are policy
 * refusals (403), the one answer no dockerd would give.
 */
const NOT_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const NOT_IN_SWARM = 'This node is not part of a swarm';

export interface LocalAnswer {
  status: number;
  /** A JSON value answered as dockerd writes it, or an error message. */
  json?: unknown;
  message?: string;
}

const UPDATE = /^\/(swarm|services|nodes|secrets|configs)(?:\/[^/]+)?\/update$/;
const LOGS = /^\/(services|tasks)\/[^/]+\/logs$/;
const BODY_FIRST = new Set(['/swarm/update', '/swarm/unlock', '/services/create', '/secrets/create', '/configs/create']);

/** The answer for a path under /swarm, /services, /nodes, /tasks, /secrets or /configs. */
export function swarmAnswer(method: string, path: string, query: URLSearchParams, body: Buffer | undefined, policyName: string): LocalAnswer {
  if (method === 'POST' && (path === '/swarm/init' || path === '/swarm/join')) {
    throw new ProxyError(403, `concierge: ${path} is not allowed for this workload (dockerPolicy ${policyName}: swarm mode acts on the whole guest)`);
  }
  if (method === 'POST' && path === '/swarm/leave') return { status: 503, message: NOT_IN_SWARM };
  const hasBody = method === 'POST' && (BODY_FIRST.has(path) || UPDATE.test(path));
  // These handlers decode their JSON body before anything else; an empty one is Go's io.EOF.
  if (hasBody && (body === undefined || body.toString().trim() === '')) return { status: 400, message: 'got EOF while reading request body' };
  const update = UPDATE.exec(path);
  if (method === 'POST' && update !== null) {
    const kind = { swarm: 'swarm', services: 'service', nodes: 'node', secrets: 'secret', configs: 'config' }[update[1]!]!;
    const raw = query.get('version') ?? '';
    const why = parseUintError(raw);
    if (why !== undefined) return { status: 400, message: `invalid ${kind} version '${raw}': strconv.ParseUint: parsing ${goQuote(raw)}: ${why}` };
  }
  if (method === 'GET' && LOGS.test(path) && !(boolValue(query.get('stdout')) || boolValue(query.get('stderr')))) {
    return { status: 500, message: 'Bad parameters: you must choose at least one stream' };
  }
  return { status: 503, message: NOT_MANAGER };
}

/** The answer for a path under /plugins: a daemon with no plugins. */
export function pluginAnswer(method: string, path: string, query: URLSearchParams, policyName: string): LocalAnswer {
  if (method === 'GET' && path === '/plugins') return { status: 200, json: [] };
  if (method === 'GET' && path === '/plugins/privileges') return { status: 200, json: [] };
  if (method === 'POST' && (path === '/plugins/pull' || path === '/plugins/create' || /^\/plugins\/.+\/upgrade$/.test(path))) {
    throw new ProxyError(403, `concierge: ${path} is not allowed for this workload (dockerPolicy ${policyName}: plugins act on the whole guest)`);
  }
  const m = /^\/plugins\/(.+?)(?:\/(json|enable|disable|push|set))?$/.exec(path);
  if (m !== null && m[2] === 'enable') {
    // The enable handler reads its timeout before it looks the plugin up.
    const timeout = query.get('timeout') ?? '';
    if (!/^[+-]?[0-9]+$/.test(timeout)) return { status: 500, message: `strconv.Atoi: parsing ${goQuote(timeout)}: invalid syntax` };
  }
  if (m !== null) return { status: 404, message: `plugin ${goQuote(m[1]!)} not found` };
  return { status: 404, message: 'page not found' };
}

/** httputils.BoolValue: anything but "", "0", "no", "false", "none" (any case) is true. */
function boolValue(v: string | null): boolean {
  if (v === null) return false;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** Why Go's strconv.ParseUint(s, 10, 64) fails, or undefined when it does not. */
function parseUintError(s: string): string | undefined {
  if (!/^[0-9]+$/.test(s)) return 'invalid syntax';
  return BigInt(s) > 18446744073709551615n ? 'value out of range' : undefined;
}

/** Go's %q of a string (strconv.Quote) for the printable ASCII names that reach these messages. */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
