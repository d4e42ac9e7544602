/**
 * dockerd 20.10's routes, matched as its gorilla/mux router matches them: in registration order, each
 * route first under `/v{version:[0-9.]+}` then bare, on the unescaped path, `{name}` as `[^/]+` and
 * `{name:pattern}` as that pattern. The debug routes answer every method and have no version prefix;
 * `/v{version}/...` that matches nothing else is dockerd's "page not found" with the version known.
 * Paths are byte strings (one char per byte); Go's `.` is every character but LF, so `.` is `[^\n]`.
 */

/** The routers in the order dockerd 20.10 registers them, each with its routes in order. */
const ROUTE_TABLE = [
  // checkpoint (before container, so the checkpoint DELETE is not masked by the container's)
  'GET /containers/{name:.*}/checkpoints', 'POST /containers/{name:.*}/checkpoints', 'DELETE /containers/{name}/checkpoints/{checkpoint}',
  // container
  'HEAD /containers/{name:.*}/archive', 'GET /containers/json', 'GET /containers/{name:.*}/export', 'GET /containers/{name:.*}/changes',
  'GET /containers/{name:.*}/json', 'GET /containers/{name:.*}/top', 'GET /containers/{name:.*}/logs', 'GET /containers/{name:.*}/stats',
  'GET /containers/{name:.*}/attach/ws', 'GET /exec/{id:.*}/json', 'GET /containers/{name:.*}/archive', 'POST /containers/create',
  'POST /containers/{name:.*}/kill', 'POST /containers/{name:.*}/pause', 'POST /containers/{name:.*}/unpause', 'POST /containers/{name:.*}/restart',
  'POST /containers/{name:.*}/start', 'POST /containers/{name:.*}/stop', 'POST /containers/{name:.*}/wait', 'POST /containers/{name:.*}/resize',
  'POST /containers/{name:.*}/attach', 'POST /containers/{name:.*}/copy', 'POST /containers/{name:.*}/exec', 'POST /exec/{name:.*}/start',
  'POST /exec/{name:.*}/resize', 'POST /containers/{name:.*}/rename', 'POST /containers/{name:.*}/update', 'POST /containers/prune',
  'POST /commit', 'PUT /containers/{name:.*}/archive', 'DELETE /containers/{name:.*}',
  // image
  'GET /images/json', 'GET /images/search', 'GET /images/get', 'GET /images/{name:.*}/get', 'GET /images/{name:.*}/history',
  'GET /images/{name:.*}/json', 'POST /images/load', 'POST /images/create', 'POST /images/{name:.*}/push', 'POST /images/{name:.*}/tag',
  'POST /images/prune', 'DELETE /images/{name:.*}',
  // system
  'OPTIONS /{anyroute:.*}', 'GET /_ping', 'HEAD /_ping', 'GET /events', 'GET /info', 'GET /version', 'GET /system/df', 'POST /auth',
  // volume
  'GET /volumes', 'GET /volumes/{name:.*}', 'POST /volumes/create', 'POST /volumes/prune', 'DELETE /volumes/{name:.*}',
  // build, session
  'POST /build', 'POST /build/prune', 'POST /build/cancel', 'POST /session',
  // swarm
  'POST /swarm/init', 'POST /swarm/join', 'POST /swarm/leave', 'GET /swarm', 'GET /swarm/unlockkey', 'POST /swarm/update', 'POST /swarm/unlock',
  'GET /services', 'GET /services/{id}', 'POST /services/create', 'POST /services/{id}/update', 'DELETE /services/{id}', 'GET /services/{id}/logs',
  'GET /nodes', 'GET /nodes/{id}', 'DELETE /nodes/{id}', 'POST /nodes/{id}/update', 'GET /tasks', 'GET /tasks/{id}', 'GET /tasks/{id}/logs',
  'GET /secrets', 'POST /secrets/create', 'DELETE /secrets/{id}', 'GET /secrets/{id}', 'POST /secrets/{id}/update',
  'GET /configs', 'POST /configs/create', 'DELETE /configs/{id}', 'GET /configs/{id}', 'POST /configs/{id}/update',
  // plugin
  'GET /plugins', 'GET /plugins/{name:.*}/json', 'GET /plugins/privileges', 'DELETE /plugins/{name:.*}', 'POST /plugins/{name:.*}/enable',
  'POST /plugins/{name:.*}/disable', 'POST /plugins/pull', 'POST /plugins/{name:.*}/push', 'POST /plugins/{name:.*}/upgrade',
  'POST /plugins/{name:.*}/set', 'POST /plugins/create',
  // distribution, grpc (BuildKit), network
  'GET /distribution/{name:.*}/json', 'POST /grpc',
  'GET /networks', 'GET /networks/', 'GET /networks/{id:.+}', 'POST /networks/create', 'POST /networks/{id:.*}/connect',
  'POST /networks/{id:.*}/disconnect', 'POST /networks/prune', 'DELETE /networks/{id:.*}',
] as const;

/** dockerd's debug routes: any method, no version prefix. */
const DEBUG_TABLE = ['/debug/vars', '/debug/pprof/', '/debug/pprof/cmdline', '/debug/pprof/profile', '/debug/pprof/symbol', '/debug/pprof/trace', '/debug/pprof/{name}'] as const;

export type RouteKey = (typeof ROUTE_TABLE)[number];

export interface CompiledRoute {
  /** `METHOD template`, e.g. `GET /containers/{name:.*}/json` (undefined method: any). */
  readonly key: string;
  readonly method: string | undefined;
  readonly template: string;
  readonly versioned: boolean;
  readonly regex: RegExp;
  readonly varNames: readonly string[];
}

const VERSION_VAR = '{version:[0-9.]+}';

function compile(method: string | undefined, template: string, versioned: boolean): CompiledRoute {
  const full = versioned ? `/v${VERSION_VAR}${template}` : template;
  const varNames: string[] = [];
  let source = '^';
  let pos = 0;
  for (const m of full.matchAll(/\{([a-z]+)(?::([^}]*))?\}/g)) {
    source += escapeRegex(full.slice(pos, m.index));
    varNames.push(m[1]!);
    // Go's '.' is any character but LF (JavaScript's also excludes CR and U+2028/9).
    source += `(${goPattern(m[2] ?? '[^/]+')})`;
    pos = m.index + m[0].length;
  }
  source += `${escapeRegex(full.slice(pos))}$`;
  return { key: method === undefined ? template : `${method} ${template}`, method, template, versioned, regex: new RegExp(source), varNames };
}

/** The variable patterns dockerd uses, in JavaScript: Go's `.` is any character but LF. */
function goPattern(p: string): string {
  if (p === '.*') return '[^\\n]*';
  if (p === '.+') return '[^\\n]+';
  return p;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const ROUTES: readonly CompiledRoute[] = [
  ...ROUTE_TABLE.flatMap((entry) => {
    const [method, template] = entry.split(' ') as [string, string];
    return [compile(method, template, true), compile(method, template, false)];
  }),
  ...DEBUG_TABLE.map((template) => compile(undefined, template, false)),
];
const CATCH_ALL = compile(undefined, '/{path:.*}', true);

export type RouteMatch =
  | { kind: 'route'; route: CompiledRoute; vars: Record<string, string>; version: string }
  /** No route: dockerd answers 404 "page not found" (as text for API versions up to 1.23). */
  | { kind: 'not-found'; version: string }
  /** gorilla/mux redirects a path that is not clean (`//`, `.`, `..`) with 301 to its clean form. */
  | { kind: 'redirect'; cleanPath: string };

/** Matches an unescaped path (byte string) as dockerd's router does. */
export function matchRoute(method: string, path: string): RouteMatch {
  const clean = cleanPath(path);
  if (clean !== path) return { kind: 'redirect', cleanPath: clean };
  for (const route of ROUTES) {
    if (route.method !== undefined && route.method !== method) continue;
    const m = route.regex.exec(path);
    if (m === null) continue;
    const vars: Record<string, string> = {};
    route.varNames.forEach((name, i) => (vars[name] = m[i + 1]!));
    return { kind: 'route', route, vars, version: vars.version ?? '' };
  }
  const m = CATCH_ALL.regex.exec(path);
  return { kind: 'not-found', version: m === null ? '' : m[1]! };
}

/** The path a route's template gives for `vars` (escaped for a request target). */
export function buildPath(route: CompiledRoute, vars: Record<string, string>, escape: (s: string) => string): string {
  const full = route.versioned ? `/v${VERSION_VAR}${route.template}` : route.template;
  return full.replace(/\{([a-z]+)(?::[^}]*)?\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`route ${route.key}: no value for {${name}}`);
    return escape(value);
  });
}

/** gorilla/mux's cleanPath: path.Clean, keeping a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const rooted = p.startsWith('/') ? p : `/${p}`;
  const out: string[] = [];
  for (const seg of rooted.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let np = `/${out.join('/')}`;
  if (rooted.endsWith('/') && np !== '/') np += '/';
  return np;
}

/** dockerd answers "page not found" as JSON from API 1.24 on (and with no version), as text before. */
export function jsonErrorsAt(version: string): boolean {
  return version === '' || compareVersions(version, '1.23') > 0;
}

/** docker's versions.compare: dot-separated numbers, a missing or non-numeric part is 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = goAtoi(pa[i]);
    const y = goAtoi(pb[i]);
    if (x !== y) return x > y ? 1 : -1;
  }
  return 0;
}

function goAtoi(s: string | undefined): number {
  return s !== undefined && /^[+-]?[0-9]{1,15}$/.test(s) ? Number(s) : 0;
}

/** Every route template dockerd registers (for a test that compares with dockerd's source). */
export const REGISTERED_ROUTES: readonly string[] = ROUTE_TABLE;
