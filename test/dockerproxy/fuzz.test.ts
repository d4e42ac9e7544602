import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerdClient } from '../../concierge/dockerproxy/aware/dockerd.js';
import { DEFAULT_POLICY } from '../../concierge/dockerproxy/aware/index.js';
import { CallerRecords } from '../../concierge/dockerproxy/aware/records.js';
import { CallerRoutes } from '../../concierge/dockerproxy/aware/routes.js';
import { StagingArea } from '../../concierge/dockerproxy/aware/staging.js';
import type { Interceptor } from '../../concierge/dockerproxy/intercept.js';
import { log } from '../../concierge/log/logger.js';
import { type ProxyOverStandIn, startProxyOverStandIn } from '../lib/stand-in-dockerd.js';

/**
 * Raw bytes on a caller socket in front of a stand-in dockerd that records every request it reads.
 * concierge stays up, answers or closes each connection within a bound, and dockerd's side never reads
 * a request that concierge did not decide to forward: the stand-in's requests are exactly the request
 * lines of concierge's forward decisions.
 */
let dir: string;
let routes: CallerRoutes | undefined;
let proxy: ProxyOverStandIn;
const forwarded: string[] = [];
/** What the stand-in read of the caller's requests (forwarded ones say `Host: docker`; concierge's own calls do not). */
const received = (): string[] => proxy.standIn.requests.filter((r) => r.host === 'docker').map((r) => `${r.method} ${r.target}`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'caller-fuzz-'));
  // concierge's decisions, recorded where they are made: the request line of each forwarded head.
  const recording: Interceptor = {
    route(head) {
      const handler = routes!.route(head);
      return {
        maxBody: handler.maxBody,
        handle: async (h, body) => {
          const outcome = await handler.handle(h, body);
          if ('head' in outcome) forwarded.push(outcome.head.toString('latin1').split('\r\n')[0]!.replace(/ HTTP\/1\.1$/, ''));
          return outcome;
        },
      };
    },
  };
  proxy = await startProxyOverStandIn((req) => {
    // Lookups find nothing: every ownership check refuses, everything else is a plain 200.
    const missing = /\/json$/.test(req.target) || /^\/(volumes|networks)\/[^/]+$/.test(req.target);
    return { status: missing ? 404 : 200, body: missing ? '{"message":"not found"}' : '{}', headers: ['Api-Version: 1.41'] };
  }, recording);
  const caller = { id: 'fuzz', rootfs: join(dir, 'root'), mounts: [], policy: DEFAULT_POLICY };
  routes = new CallerRoutes(caller, new DockerdClient(proxy.standIn.path), new StagingArea(join(dir, 'staging')), CallerRecords.load(join(dir, 'fuzz.json'), caller.id), log);
});

afterAll(async () => {
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the pieces with pauses between them; resolves when the connection closes or goes quiet. */
function session(pieces: Buffer[]): Promise<{ answered: boolean; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(proxy.listen);
    let answered = false;
    let timer: NodeJS.Timeout;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ answered, closed });
    };
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(() => done(false), 250);
    };
    sock.on('data', () => {
      answered = true;
      quiet();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => done(true));
    let i = 0;
    const next = () => {
      if (i >= pieces.length) {
        quiet();
        return;
      }
      sock.write(pieces[i++]!, () => setImmediate(next));
    };
    next();
  });
}

const fragments = fc.constantFrom(
  'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n', 'GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: d\r\n\r\n', 'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\n',
  'Content-Length: 2\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Type: application/x-www-form-urlencoded\r\n', 'Connection: close\r\n', '\r\n', '\n',
  '{}', '2\r\n{}\r\n0\r\n\r\n', '0;x\n\r\n', ' folded\r\n', 'GET /debug/vars HTTP/1.0\r\n\r\n', 'GET http://d/v1.41.0/containers/x/json HTTP/1.1\r\nHost: d\r\n\r\n',
  'POST /v1.41/containers/prune HTTP/1.1\r\nHost: d\r\nContent-Length: 9\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nfilters=1', 'POST /v1.41/build?networkmode=host HTTP/1.1\r\nHost: d\r\n\r\n',
  'GET /v1.41/%zz HTTP/1.1\r\nHost: d\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'GET /_ping?a;b HTTP/1.1\r\nHost: d\r\n\r\n', 'GET /v1.41/images/json HTTP/1.1\r\nHost: d\r\n\r\n',
  'GET /v1.41/version HTTP/1.1\r\nHost: d\r\n\r\n',
);
const piece = fc.oneof(
  { weight: 5, arbitrary: fragments.map((s) => Buffer.from(s, 'latin1')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
);

/** The bytes end with a complete head: something must have answered it (or closed). */
function endsARequest(pieces: Buffer[]): boolean {
  return Buffer.concat(pieces).toString('latin1').startsWith('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n');
}

describe('raw bytes on a caller socket', () => {
  it('stays up, answers or closes, and forwards nothing it did not decide to forward', async () => {
    let sessions = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 8 }), async (pieces) => {
        const started = Date.now();
        const outcome = await session(pieces);
        sessions++;
        // A bound on every session: it answered, closed, or went quiet waiting for more bytes.
        expect(Date.now() - started).toBeLessThan(5000);
        expect(outcome.answered || outcome.closed || !endsARequest(pieces)).toBe(true);
      }),
      { numRuns: 300 },
    );
    // Every request the stand-in read is one concierge decided to forward (as a multiset).
    await new Promise((r) => setTimeout(r, 200));
    const decisions = new Map<string, number>();
    for (const f of forwarded) decisions.set(f, (decisions.get(f) ?? 0) + 1);
    for (const r of received()) {
      const left = decisions.get(r) ?? 0;
      expect(left, `dockerd read ${JSON.stringify(r)} that concierge did not forward`).toBeGreaterThan(0);
      decisions.set(r, left - 1);
    }
    console.log(`fuzz: ${sessions} sessions, ${forwarded.length} forwarded, ${received().length} read by the stand-in`);
    expect(received().length).toBeGreaterThan(15);
    // Still serving.
    const ping = await session([Buffer.from('GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n')]);
    expect(ping.answered).toBe(true);
  });
});
