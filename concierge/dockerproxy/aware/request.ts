/**
 * One reading of a request, as dockerd has it when its handler runs: the route and variables its
 * router picks from the unescaped path, and the parameters `ParseForm` gives (a form body's values
 * before the query's). The caller socket decides on this reading only, and forwards a request built
 * from it (`forwardHead`): a canonical request line, exactly the parameters read, its own headers and
 * its own framing. dockerd can then only execute what was decided.
 */
import { ProxyError } from '../errors.js';
import { bodyType, parseForm, readsFormBody } from '../gohttp/form.js';
import { encodeQuery, escapePath, type Values } from '../gohttp/url.js';
import type { BodyFraming, RequestHead } from '../http1.js';
import { buildPath, type CompiledRoute, jsonErrorsAt, matchRoute } from './dockerd-routes.js';

export interface DockerRequest {
  readonly head: RequestHead;
  readonly method: string;
  /** `METHOD template` of the route dockerd's router picks. */
  readonly key: string;
  readonly route: CompiledRoute;
  /** The route's variables (unescaped), e.g. `name` for `/containers/{name:.*}/json`. */
  readonly vars: Record<string, string>;
  /** The API version of the path prefix ('' without one). */
  readonly version: string;
  /** `Request.Form` as ParseForm leaves it. */
  readonly form: Values;
  /** The body was a form: ParseForm consumed it, nothing of it is forwarded. */
  readonly bodyIsForm: boolean;
}

export type Reading =
  | { kind: 'request'; request: Omit<DockerRequest, 'form'> & { form: Values | undefined } }
  /** dockerd never reaches a handler: answered without forwarding. */
  | { kind: 'answer'; error: ProxyError };

/** Answers "page not found" as dockerd does (JSON from API 1.24 on, text before). */
export function pageNotFound(version: string): ProxyError {
  return jsonErrorsAt(version) ? new ProxyError(404, 'page not found') : new ProxyError(404, 'page not found', { kind: 'text', text: 'page not found' });
}

/**
 * Routes a head. The form is undefined when it needs the body (a form-urlencoded body on POST, PUT or
 * PATCH): `withForm` completes it once the body is read.
 */
export function readRequest(head: RequestHead): Reading {
  const match = matchRoute(head.method, head.go.url.path);
  if (match.kind === 'redirect') {
    return { kind: 'answer', error: new ProxyError(301, `concierge: the path is not clean; dockerd redirects it to ${match.cleanPath}`) };
  }
  if (match.kind === 'not-found') return { kind: 'answer', error: pageNotFound(match.version) };
  const type = bodyType(head.go.header);
  if (type === 'multipart' || type === 'ambiguous') {
    return { kind: 'answer', error: new ProxyError(400, 'concierge: this Content-Type is not accepted (multipart or ambiguous form parameters)') };
  }
  const bodyIsForm = type === 'form' && readsFormBody(head.method);
  const base = { head, method: head.method, key: match.route.key, route: match.route, vars: match.vars, version: match.version, bodyIsForm };
  if (bodyIsForm && head.go.body.kind !== 'none') return { kind: 'request', request: { ...base, form: undefined } };
  const form = parseForm(head.go.url.rawQuery, bodyIsForm ? '' : undefined);
  if (form.error !== undefined) return { kind: 'answer', error: new ProxyError(400, form.error) };
  return { kind: 'request', request: { ...base, form: form.values } };
}

/** Completes a reading whose form needed the body. */
export function withForm(request: Omit<DockerRequest, 'form'>, body: Buffer): DockerRequest {
  const form = parseForm(request.head.go.url.rawQuery, body.toString('latin1'));
  if (form.error !== undefined) throw new ProxyError(400, form.error);
  return { ...request, form: form.values };
}

/** Headers dockerd's handlers read; every other header stays with the client. */
const FORWARDED_HEADERS = [
  'User-Agent',
  'Content-Type',
  'X-Registry-Auth',
  'X-Registry-Config',
  // BuildKit's session (`/session`): the session id, name, key and the gRPC methods it exposes.
  'X-Docker-Expose-Session-Uuid',
  'X-Docker-Expose-Session-Name',
  'X-Docker-Expose-Session-Sharedkey',
] as const;

export interface ForwardParts {
  /** Variables after the handler's decisions (for example a full id for a name). */
  vars?: Record<string, string>;
  /** Parameters after the handler's decisions. */
  form?: Values;
  /** A body the handler read (and maybe rewrote): sent with its own Content-Length. */
  body?: Buffer;
}

/**
 * The head sent to dockerd: `METHOD <path from the route and vars>?<form> HTTP/1.1`, the headers
 * dockerd's handlers read (first values, as `Header.Get`), the upgrade and close it asked for, and a
 * framing of our own. Without `body`, the client's body follows as it was framed (none, a length, or
 * chunks, which the data path checks as Go reads them).
 */
export function forwardHead(request: DockerRequest, parts: ForwardParts = {}): Buffer {
  const go = request.head.go;
  let head = `${request.method} ${forwardTarget(request, parts)} HTTP/1.1\r\nHost: docker\r\n`;
  for (const name of FORWARDED_HEADERS) {
    const value = go.header.get(name)?.[0];
    if (value === undefined) continue;
    if (name === 'Content-Type' && request.bodyIsForm) continue;
    head += `${name}: ${value}\r\n`;
  }
  for (const method of go.header.get('X-Docker-Expose-Session-Grpc-Method') ?? []) head += `X-Docker-Expose-Session-Grpc-Method: ${method}\r\n`;
  const upgrade = go.header.get('Upgrade')?.[0];
  if (upgrade !== undefined) head += `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n`;
  else if (go.close) head += 'Connection: close\r\n';
  head += framingHeaders(request, parts.body);
  return Buffer.from(`${head}\r\n`, 'latin1');
}

/** The target of the request sent to dockerd: the path from the route and vars, and the parameters read. */
export function forwardTarget(request: DockerRequest, parts: Pick<ForwardParts, 'vars' | 'form'> = {}): string {
  const path = buildPath(request.route, parts.vars ?? request.vars, escapePath);
  const query = encodeQuery(parts.form ?? request.form);
  return `${path}${query === '' ? '' : `?${query}`}`;
}

/** The path dockerd's handler sees (unescaped, without the version prefix), for answers made here. */
export function handlerPath(request: DockerRequest): string {
  return buildPath({ ...request.route, versioned: false }, request.vars, (v) => v);
}

/** The first value of each parameter, as the handlers' `r.Form.Get` reads them. */
export function firstValues(form: Values): URLSearchParams {
  const out = new URLSearchParams();
  for (const [key, values] of form) if (values.length > 0) out.set(key, values[0]!);
  return out;
}

function framingHeaders(request: DockerRequest, body: Buffer | undefined): string {
  if (body !== undefined) return body.length > 0 || request.method === 'POST' || request.method === 'PUT' ? `Content-Length: ${body.length}\r\n` : '';
  if (request.bodyIsForm) return 'Content-Length: 0\r\n';
  const framing: BodyFraming = request.head.go.body;
  const expect = request.head.go.expectContinue ? 'Expect: 100-continue\r\n' : '';
  if (framing.kind === 'length') return `Content-Length: ${framing.length}\r\n${expect}`;
  if (framing.kind === 'chunked') return `Transfer-Encoding: chunked\r\n${expect}`;
  return '';
}
