import { mkdtempSync, rmSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findHeadEnd, parseRequestHead, readWholeBody, requestFraming } from '../../concierge/dockerproxy/http1.js';
import { DockerdHeaders } from '../../concierge/dockerproxy/identity.js';
import type { Interceptor } from '../../concierge/dockerproxy/intercept.js';
import { ProxyConnection } from '../../concierge/dockerproxy/connection.js';
import { unixDialer, type UpstreamDialer } from '../../concierge/dockerproxy/upstream.js';
import { log } from '../../concierge/log/logger.js';

/**
 * A stand-in dockerd on a unix socket that speaks HTTP/1.1 by hand, as Go's server does: one request
 * at a time per connection, each answered before the next is read, pipelined bytes left waiting. It
 * records which connection carried each request and how many answers that connection had sent when
 * the request's first byte arrived, so a test can tell what a proxy held back and what it reused.
 */

export interface StandInRequest {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** Header names lower-cased (Host is not among them: Go's reading moves it to `host`). */
  readonly headers: Map<string, string>;
  readonly host: string;
  readonly body: Buffer;
  /** The stand-in's connection that carried it, numbered from 1 as accepted. */
  readonly connection: number;
  /** Answers that connection had sent when the request's first byte arrived. */
  readonly answeredBefore: number;
  /** After a hijacking answer: bytes past this request that had arrived, unread, when it was answered. */
  unreadAtAnswer: string;
  /** After a hijacking answer: the bytes the stream received after it (and echoed). */
  streamed: string;
}

export type StandInAnswer =
  | {
      status: number;
      body?: string;
      /** Extra header lines, e.g. `Connection: close`. */
      headers?: string[];
      version?: 'HTTP/1.1' | 'HTTP/1.0';
      /** Content-Length to announce when it differs from the body's: a longer one leaves the answer cut short. */
      length?: number;
      /** Close the connection after the answer (as Go does; it does so too after a closing request). */
      close?: boolean;
    }
  /** The connection becomes a stream that echoes what it gets: `upgrade` answers 101, `raw` Docker's 200 raw stream. */
  | { stream: 'upgrade' | 'raw' };

export type StandInHandler = (request: StandInRequest) => StandInAnswer | Promise<StandInAnswer>;

export interface StandInDockerd {
  readonly path: string;
  /** Every request read, in order. */
  readonly requests: StandInRequest[];
  /** The targets of the requests answered, in the order answered. */
  readonly answered: string[];
  /** The request for `target`; fails the test when there is none. */
  request(target: string): StandInRequest;
  /** Connections accepted so far. */
  accepted(): number;
  /** Resolves once connection `n` is closed. */
  closed(n: number): Promise<void>;
  /** Closes connection `n` at once, as a dockerd that goes away. */
  drop(n: number): void;
  close(): Promise<void>;
}

export async function startStandInDockerd(path: string, handle: StandInHandler): Promise<StandInDockerd> {
  const requests: StandInRequest[] = [];
  const answered: string[] = [];
  const sockets = new Map<number, Socket>();
  const closings = new Map<number, Promise<void>>();
  let accepted = 0;

  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    const connection = ++accepted;
    sockets.set(connection, socket);
    closings.set(connection, new Promise((resolve) => socket.once('close', () => resolve())));
    serve(socket, connection, { requests, answered }, handle);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    requests,
    answered,
    request(target) {
      const found = requests.find((r) => r.target === target);
      if (found === undefined) throw new Error(`the stand-in dockerd got no request for ${target} (got ${requests.map((r) => r.target).join(', ')})`);
      return found;
    },
    accepted: () => accepted,
    closed: (n) => closings.get(n) ?? Promise.reject(new Error(`no connection ${n}`)),
    drop: (n) => sockets.get(n)?.destroy(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets.values()) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(socket: Socket, connection: number, log: { requests: StandInRequest[]; answered: string[] }, handle: StandInHandler): void {
  let buffered: Buffer = Buffer.alloc(0);
  /** Bytes read from the front of the connection so far, and where each received chunk ended. */
  let consumed = 0;
  const arrivals: Array<{ end: number; answered: number }> = [];
  let answered = 0;
  let busy = false;
  let stream: StandInRequest | undefined;

  const answeredAt = (offset: number): number => arrivals.find((a) => a.end > offset)?.answered ?? answered;

  const next = async (): Promise<void> => {
    while (!busy && stream === undefined) {
      const headEnd = findHeadEnd(buffered);
      if (headEnd < 0) return;
      const head = parseRequestHead(buffered, headEnd);
      const whole = readWholeBody(buffered, headEnd, requestFraming(head), 64 * 1024 * 1024);
      if (whole === undefined) return;
      const request: StandInRequest = {
        method: head.method,
        target: head.target,
        version: head.version,
        headers: head.headers,
        host: head.go.host,
        body: Buffer.from(whole.body),
        connection,
        answeredBefore: answeredAt(consumed),
        unreadAtAnswer: '',
        streamed: '',
      };
      log.requests.push(request);
      buffered = buffered.subarray(whole.end);
      consumed += whole.end;
      busy = true;
      const answer = await handle(request);
      busy = false;
      if (socket.destroyed || socket.writableEnded) return;
      if ('stream' in answer) {
        socket.write(answer.stream === 'upgrade'
          ? 'HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n'
          : 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
        answered++;
        log.answered.push(request.target);
        // What Go had buffered past the request is the hijacker's; dockerd drops it. Kept to be seen.
        request.unreadAtAnswer = buffered.toString('latin1');
        buffered = Buffer.alloc(0);
        stream = request;
        return;
      }
      const body = answer.body ?? '';
      const lines = [
        `${answer.version ?? 'HTTP/1.1'} ${answer.status} ${STATUS_CODES[answer.status] ?? 'Status'}`,
        'Content-Type: text/plain',
        `Content-Length: ${answer.length ?? Buffer.byteLength(body)}`,
        ...(answer.headers ?? []),
      ];
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
      answered++;
      log.answered.push(request.target);
      if (answer.close === true || closesAfter(request)) {
        socket.end();
        return;
      }
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (stream !== undefined) {
      stream.streamed += chunk.toString('latin1');
      socket.write(chunk);
      return;
    }
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    arrivals.push({ end: consumed + buffered.length, answered });
    void next();
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
}

/** Go's server closes after answering `Connection: close`, or HTTP/1.0 without keep-alive. */
function closesAfter(request: StandInRequest): boolean {
  const connection = request.headers.get('connection')?.toLowerCase() ?? '';
  return connection.includes('close') || (request.version === 'HTTP/1.0' && !connection.includes('keep-alive'));
}

/** The proxy served over a stand-in dockerd, each in a fresh directory. */
export interface ProxyOverStandIn {
  readonly standIn: StandInDockerd;
  /** The proxy's socket. */
  readonly listen: string;
  /** For each dockerd connection handed back to the pool: the stand-in's answers up to then. */
  readonly handedBack: string[][];
  close(): Promise<void>;
}

/**
 * Serves proxy connections (as `startProxy` does) over a stand-in dockerd, through a dialer that
 * notes each connection handed back to its pool: when it happens is what a test asserts.
 */
export async function startProxyOverStandIn(handle: StandInHandler, interceptor?: Interceptor): Promise<ProxyOverStandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-stand-in-'));
  const standIn = await startStandInDockerd(join(dir, 'dockerd.sock'), handle);
  const pool = unixDialer(standIn.path, { waitMs: 0 });
  const handedBack: string[][] = [];
  const dial: UpstreamDialer = {
    dial: (handlers) => pool.dial(handlers),
    release: (upstream) => {
      handedBack.push([...standIn.answered]);
      pool.release(upstream);
    },
    close: () => pool.close(),
  };
  const clients = new Set<Socket>();
  const dockerdHeaders = new DockerdHeaders();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    new ProxyConnection(client, { dial, log: log.child({ test: 'stand-in' }), interceptor, dockerdHeaders });
  });
  const listen = join(dir, 'proxy.sock');
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  return {
    standIn,
    listen,
    handedBack,
    close: async () => {
      for (const client of clients) client.destroy();
      dial.close();
      await new Promise((resolve) => server.close(resolve));
      await standIn.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
