import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRequest, withForm } from '../../concierge/dockerproxy/aware/request.js';
import { ProxyError } from '../../concierge/dockerproxy/errors.js';
import { readChunkedBody } from '../../concierge/dockerproxy/gohttp/chunked.js';
import { findHeadEnd, parseRequestHead } from '../../concierge/dockerproxy/http1.js';
import { GoReference, type GoReading } from './reference.js';

/**
 * concierge's one reading of a request against Go's: the reference is Go's net/http server with
 * gorilla/mux routes registered as dockerd registers them. Whatever concierge accepts, Go reads the
 * same way (route, variables, parameters, body, close); whatever Go refuses before a handler runs,
 * concierge refuses too, with Go's status.
 */

type Concierge =
  | { kind: 'accepted'; route: string; vars: Record<string, string>; form: Record<string, string[]>; body: string; close: boolean }
  | { kind: 'go-refused'; status: number; why: string }
  | { kind: 'form-error'; message: string }
  | { kind: 'not-found'; version: string }
  | { kind: 'redirect' }
  /** Refused by concierge's own strictness (never Go's reading): allowed, counted. */
  | { kind: 'stricter'; why: string }
  | { kind: 'incomplete' };

export function conciergeReading(bytes: Buffer): Concierge {
  const headEnd = findHeadEnd(bytes);
  if (headEnd < 0) return { kind: 'incomplete' };
  try {
    const head = parseRequestHead(bytes, headEnd);
    if (head.go.major !== 1) return { kind: 'stricter', why: 'not HTTP/1.x' };
    const reading = readRequest(head);
    if (reading.kind === 'answer') {
      const e = reading.error;
      if (e.status === 404) return { kind: 'not-found', version: '' };
      if (e.status === 301) return { kind: 'redirect' };
      if (e.message.startsWith('concierge:')) return { kind: 'stricter', why: e.message };
      return { kind: 'form-error', message: e.message };
    }
    let body = '';
    const framing = head.go.body;
    if (framing.kind === 'length') {
      if (bytes.length < headEnd + framing.length) return { kind: 'incomplete' };
      body = bytes.toString('latin1', headEnd, headEnd + framing.length);
    } else if (framing.kind === 'chunked') {
      const whole = readChunkedBody(bytes, headEnd, 1 << 20);
      if (whole === undefined) return { kind: 'incomplete' };
      body = whole.body.toString('latin1');
    }
    let { form } = reading.request;
    if (form === undefined) {
      form = withForm(reading.request, Buffer.from(body, 'latin1')).form;
      body = '';
    }
    return { kind: 'accepted', route: reading.request.key, vars: reading.request.vars, form: Object.fromEntries(form), body, close: head.go.close };
  } catch (err) {
    if (!(err instanceof ProxyError)) throw err;
    if (err.answer.kind === 'go-text') return { kind: 'go-refused', status: err.status, why: err.message };
    if (err.message.startsWith('malformed chunked')) return { kind: 'go-refused', status: 400, why: err.message };
    if (err.status === 400 && !err.message.startsWith('concierge:')) return { kind: 'form-error', message: err.message };
    return { kind: 'stricter', why: err.message };
  }
}

function sameAsGo(raw: Buffer, mine: Concierge, go: GoReading): void {
  const label = JSON.stringify(raw.toString('latin1'));
  switch (mine.kind) {
    case 'accepted': {
      expect(go.status, label).toBe(200);
      expect(go.seen?.formError, label).toBe('');
      expect(go.seen?.bodyError, label).toBe('');
      expect(go.seen?.route, label).toBe(mine.route);
      expect(go.seen?.vars, label).toEqual(mine.vars);
      expect(go.seen?.form, label).toEqual(mine.form);
      expect(go.seen?.body, label).toBe(mine.body);
      expect(go.seen?.close, label).toBe(mine.close);
      break;
    }
    case 'go-refused':
      // Go refused before any handler, or (a malformed chunk) its handler could not read the body.
      if (go.status === 200) expect(go.seen?.bodyError, `${label} ${mine.why}`).not.toBe('');
      else expect(go.status, `${label} ${mine.why}`).toBe(mine.status);
      break;
    case 'form-error':
      expect(go.seen?.formError, label).toBe(mine.message);
      break;
    case 'not-found':
      expect(go.seen?.route, label).toBe('not-found');
      break;
    case 'redirect':
      expect(go.status, label).toBe(301);
      break;
    case 'incomplete':
      // Go hit the end of the stream: a refusal, or a handler whose body read failed.
      if (go.status === 200) expect(`${go.seen?.bodyError}${go.seen?.formError}`, label).not.toBe('');
      break;
    case 'stricter':
      break;
  }
}

const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n');
const methods = fc.constantFrom('GET', 'POST', 'POST', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'get', 'P@ST', 'CONNECT');
const prefixes = fc.constantFrom('', '/v1.41', '/v1.41', '/v1.41.0', '/v1', '/v9.9', '/v1.23', '/vx', '/v', 'http://docker', 'HTTP://docker/v1.41', 'http://docker:2375/v1.41', 'x:');
const segments = fc.constantFrom(
  '/containers/json', '/containers/create', '/containers/abc/json', '/containers/a%2Fb/json', '/containers/%61bc/json', '/containers//json',
  '/containers/x/json/json', '/containers/%zz/json', '/containers/a%00b/start', '/containers/abc', '/_ping', '/debug/vars', '/debug/pprof/heap',
  '/build', '/networks/', '/networks', '/networks/n1', '/images/a/b/json', '/exec/e1/start', '/volumes/v%20x', '/containers/./abc/json',
  '/containers/../debug/vars', '/x', '', '/containers/ab%2e%2e/json', '/system/df', '/grpc', '/session', '/containers/a\xffb/json', '/c#d',
);
const queryKeys = fc.constantFrom('all', 'filters', 'networkmode', 't', 'a;b', '%zz', 'x+y', 'name', '%6e%61me', '');
const queryValues = fc.constantFrom('1', 'host', 'container:abc', '%7B%22label%22%3A%5B%5D%7D', 'a+b', '%', 'x;y', '', '%E2%80%A8');
const query = fc.oneof(
  fc.constant(''),
  fc.constant('?'),
  fc.array(fc.tuple(queryKeys, queryValues, fc.boolean()), { minLength: 1, maxLength: 4 }).map(
    (pairs) => `?${pairs.map(([k, v, eq]) => (eq ? `${k}=${v}` : k)).join('&')}`,
  ),
);
const versions = fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/1.5', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.10', 'http/1.1');
const headerLines = fc.constantFrom(
  'Host: docker', 'Host: docker', 'Host: docker', 'Host: a b', 'host: docker', 'Connection: close', 'Connection: keep-alive',
  'Content-Type: application/x-www-form-urlencoded', 'Content-Type: Application/X-WWW-Form-Urlencoded', 'Content-Type: application/json',
  'Content-Type: application/x-www-form-urlencoded; charset=utf-8', 'Content-Type: multipart/form-data; boundary=x',
  'Transfer-Encoding: chunked', 'Transfer-Encoding: Chunked', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked, chunked',
  'Content-Length: 5', 'Content-Length: 12', 'Content-Length:  5 ', 'Content-Length: +5', 'Content-Length: -1', 'Content-Length: 5, 5', 'Content-Length: ',
  'Content-Length: 0', 'X-Fold: a', ' folded', '\tfolded', 'Bad Name: x', ': empty', 'NoColon', 'X-Bare: a\rb', 'X-Ctl: a\x01b', 'X-High: \xe9',
  'Expect: 100-continue', 'Expect: weird', 'Trailer: X-T', 'Trailer: Content-Length', 'User-Agent: Docker-Client/20.10',
);
const bodies = fc.constantFrom(
  '', 'hello', 'networkmode=host&t=x', 'all=1;x', 'a=%zz&b=1', '5\r\nhello\r\n0\r\n\r\n', '5;ext\r\nhello\r\n0\r\n\r\n',
  '5;a\nb\r\nhello\r\n0\r\n\r\n', '5\nhello\r\n0\n\r\n', '5 \r\nhello\r\n0\r\n\r\n', '\r\n\r\n', '0\r\nX-T: 1\r\n\r\n', '0\r\n\n',
  '5\r\nhelloXX0\r\n\r\n', 'ffffffffffffffffff\r\n', '3\r\nabc\r\n0\r\n\r\nGET /_ping HTTP/1.1\r\nHost: d\r\n\r\n', 'helloGET /x HTTP/1.1\r\n\r\n',
);

const framedBodies = fc.oneof(
  fc.constant({ header: '', body: '' }),
  fc.constantFrom('networkmode=host&t=x', 'all=1', 'a=%zz&b=1', 'x;y=1', '{"a":1}', 'filters=%7B%7D&all=1&all=0').map((b) => ({ header: `Content-Length: ${b.length}`, body: b })),
  fc.constantFrom('5\r\nhello\r\n0\r\n\r\n', '14\r\nnetworkmode=host&t=x\r\n0\r\n\r\n', '3;x\r\nall\r\n0\r\n\r\n', '0\r\n\r\n').map((b) => ({ header: 'Transfer-Encoding: chunked', body: b })),
  fc.record({ header: fc.constant(''), body: bodies }),
);

const requests = fc
  .record({
    method: methods,
    prefix: prefixes,
    path: segments,
    query,
    version: fc.oneof({ weight: 6, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: versions }),
    host: fc.oneof({ weight: 8, arbitrary: fc.constant('Host: docker') }, { weight: 1, arbitrary: fc.constantFrom('', 'Host: a b', 'Host: x\r\nHost: y') }),
    contentType: fc.constantFrom('', '', 'Content-Type: application/x-www-form-urlencoded', 'Content-Type: application/json', 'Content-Type: application/x-www-form-urlencoded; charset=utf-8'),
    odd: fc.oneof({ weight: 3, arbitrary: fc.constant([] as Array<[string, string]>) }, { weight: 2, arbitrary: fc.array(fc.tuple(headerLines, eol), { maxLength: 2 }) }),
    framed: framedBodies,
    end: eol,
    first: eol,
  })
  .map((r) => {
    const lines = [r.host, r.contentType, r.framed.header].filter((l) => l !== '').map((l) => `${l}\r\n`);
    const odd = (r.odd as Array<[string, string]>).map(([h, e]) => h + e);
    return Buffer.from(`${r.method} ${r.prefix}${r.path}${r.query} ${r.version}${r.first}${[...lines, ...odd].join('')}${r.end}${r.framed.body}`, 'latin1');
  });

describe('the request reading matches Go net/http and dockerd\'s router', () => {
  let ref: GoReference;
  beforeAll(async () => {
    ref = await GoReference.start();
  });
  afterAll(() => ref?.stop());

  it('reads every generated request as Go does, or refuses it', async () => {
    const counts: Record<string, number> = {};
    const stricter = new Set<string>();
    await fc.assert(
      fc.asyncProperty(requests, async (raw) => {
        const mine = conciergeReading(raw);
        counts[mine.kind] = (counts[mine.kind] ?? 0) + 1;
        if (mine.kind === 'stricter') stricter.add(mine.why.replace(/".*"/, '"…"'));
        sameAsGo(raw, mine, await ref.read(raw));
      }),
      { numRuns: 3000 },
    );
    console.log('readings:', counts, 'refused by concierge only:', [...stricter]);
    expect(counts.accepted ?? 0).toBeGreaterThan(200);
  });
});
