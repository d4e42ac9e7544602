import type { Socket } from 'node:net';
import invariant from 'tiny-invariant';
import type { Logger } from '../log/logger.js';
import {
  type BodyFraming,
  type BodyTracker,
  findHeadEnd,
  HttpParseError,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  readWholeBody,
  type RequestHead,
  type ResponseHead,
  requestFraming,
  responseFraming,
  trackBody,
  wantsUpgrade,
} from './http1.js';
import { errorAnswer, ProxyError } from './errors.js';
import { GoChunkedBody } from './gohttp/chunked.js';
import type { DockerdHeaders } from './identity.js';
import { inSharedReadBuffer, retireReadBuffer, type Upstream, type UpstreamDialer } from './upstream.js';
import { proxyCounters, ruleOfStatus } from './counters.js';
import type { Interceptor, Outcome, Reply, RouteHandler } from './intercept.js';
import { STATUS_CODES } from 'node:http';

/**
 * One client connection paired with one dockerd connection, opened on the client's first request.
 *
 * Pairing 1:1 keeps every dockerd behaviour tied to a connection (keep-alive, `Connection: close`,
 * hijacked attach/exec streams, h2c upgrades) exactly as a direct client sees it. Bytes are forwarded
 * as they arrive; the proxy parses only heads and body framing, to know where each message ends.
 */

/**
 * Requests whose answer may hijack the connection even without an Upgrade header (raw-stream 200):
 * attach and exec start, matched on the unescaped path as dockerd's router matches them.
 */
const HIJACKING_ENDPOINT = /^(?:\/v[0-9.]+)?\/(?:containers\/[^\n]*\/attach|exec\/[^\n]*\/start)$/;

/** Client bytes held while a hijackable request waits for its answer, before the client is paused. */
const MAX_HELD_BYTES = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/** The body of a request a handler rewrote: forwarded whole with its head, nothing left to follow. */
const NO_BODY: BodyTracker = trackBody({ kind: 'none' });

/** What the proxy reads from the client next (while the connection is framed: `Life.Open`, `Life.Ending`). */
const enum Reading {
  /** A request head: the next request, or the first bytes of it. */
  Head,
  /** The body of the request just forwarded (`current`, framed by `requestBody`). */
  Body,
  /**
   * No request, until every forwarded one is answered: the last may turn the connection into a stream,
   * or the next is intercepted and its answer must not overtake theirs. The client's bytes wait.
   */
  Held,
  /** No request, while the Docker-aware layer decides an intercepted one. */
  Deciding,
  /** No request, while an answer the Docker-aware layer made streams to the client (events). */
  Replying,
}

/** What the proxy reads from dockerd next (while the connection is framed). */
const enum Answering {
  /** The head of the oldest unanswered request's answer (an incomplete one waits in `upstreamBytes`). */
  Head,
  /** That answer's body, framed by `responseBody`. */
  Body,
  /** That answer's body, which ends when dockerd closes the connection (HTTP/1.0 style). */
  BodyUntilClose,
}

/** The dockerd connection this client connection holds. */
const enum Link {
  None,
  Dialing,
  /** `upstream` is connected and can go back to the pool between requests. */
  Connected,
  /** `upstream` is connected, but dockerd closes it after the current answer (Connection: close, HTTP/1.0). */
  Closing,
}

/** The connection as a whole. */
const enum Life {
  /** Requests and answers, framed. */
  Open,
  /** The client ended its side: the requests it sent still go out, and the connection ends after their answers. */
  Ending,
  /** After a 101 or a hijack both directions are raw bytes, and half-closes are forwarded. */
  Piping,
  Closed,
}

interface PendingRequest {
  readonly method: string;
  readonly target: string;
  /** The answer may turn the connection into a raw bidirectional stream. */
  readonly mayHijack: boolean;
  /** Docker's own hijack (attach, exec start: `Upgrade: tcp` or none), as opposed to h2c or websockets. */
  readonly dockerStream: boolean;
  readonly startedAt: number;
  /** Set once the answer's head went to the client: after that, errors can only close the stream. */
  answered: boolean;
  /** Told the answer's status (for example to undo a bind staged for a create that failed). */
  onAnswer: ((status: number) => void) | undefined;
  /** Decided by the Docker-aware layer (for the counters). */
  readonly intercepted: boolean;
}

export interface ConnectionOptions {
  dial: UpstreamDialer;
  log: Logger;
  /** The Docker-aware layer; without it every request passes untouched. */
  interceptor?: Interceptor | undefined;
  /** dockerd's identity headers, learned from its answers and put on the proxy's own. */
  dockerdHeaders: DockerdHeaders;
}

export class ProxyConnection {
  private reading = Reading.Head;
  private answering = Answering.Head;
  private link = Link.None;
  private life = Life.Open;

  /** dockerd's connection while `link` is Connected or Closing; handed back to the dialer's pool when left idle. */
  private upstream: Upstream | undefined;
  private readonly debug: boolean;

  /** Client bytes not forwarded yet: an incomplete head, or requests waiting while held or deciding. */
  private clientBytes: Buffer = EMPTY;
  /** While `reading` is Body: the request whose body is being forwarded, and where that body ends. */
  private current: PendingRequest | undefined;
  private requestBody: BodyTracker | undefined;

  /** A locally made answer's body while it streams (ended early when the client goes). */
  private replyStream: AsyncIterator<Buffer> | undefined;

  /** Upstream bytes of an incomplete response head. */
  private upstreamBytes: Buffer = EMPTY;
  /** While `answering` is Body or BodyUntilClose: where the answer's body ends. */
  private responseBody: BodyTracker | undefined;
  /** Requests forwarded and not answered to their end, oldest first. */
  private readonly pending: PendingRequest[] = [];
  /** The intercepted request already told `100 Continue`. */
  private continued: RequestHead | undefined;

  constructor(
    private readonly client: Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.debug = options.log.isLevelEnabled('debug');
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('end', () => this.onClientEnd());
    client.on('error', (err) => this.close(err));
    client.on('close', () => this.close());
    // Dial at accept: the connect to dockerd then overlaps the client sending its first request.
    this.dial(true);
  }

  // ---- client → dockerd -------------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.life === Life.Piping) {
      this.forward(this.client, this.upstream!.socket, chunk);
      return;
    }
    this.clientBytes = this.clientBytes.length === 0 ? chunk : Buffer.concat([this.clientBytes, chunk]);
    this.pumpRequests();
  }

  private pumpRequests(): void {
    invariant(this.life !== Life.Piping, 'no request is read from a stream');
    while ((this.life === Life.Open || this.life === Life.Ending) && (this.reading === Reading.Head || this.reading === Reading.Body)
      && this.clientBytes.length > 0) {
      if (this.upstream === undefined) {
        this.dial();
        return;
      }
      if (this.reading === Reading.Body) {
        this.forwardRequestBody();
        continue;
      }
      const headEnd = findHeadEnd(this.clientBytes);
      if (headEnd < 0) {
        if (this.clientBytes.length > MAX_HEAD_BYTES) this.refuse(new ProxyError(431, 'request head too large'));
        return;
      }
      if (!this.startRequest(headEnd)) return;
    }
    if ((this.reading === Reading.Held || this.reading === Reading.Deciding) && this.clientBytes.length > MAX_HELD_BYTES) this.client.pause();
    if (this.life === Life.Ending) this.maybeFinish();
  }

  /** Parses one request head and forwards it; false when the loop must stop (refused, or waiting). */
  private startRequest(headEnd: number): boolean {
    let head: RequestHead;
    let framing: BodyFraming;
    try {
      head = parseRequestHead(this.clientBytes, headEnd);
      if (head.method === 'PRI' && head.version === 'HTTP/2.0') {
        throw new HttpParseError('HTTP/2 is not served on the Docker socket; use HTTP/1.1 (h2c via Upgrade is fine)', 400);
      }
      framing = requestFraming(head);
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      this.refuse(err);
      return false;
    }
    const handler = this.options.interceptor?.route(head);
    if (handler !== undefined) return this.intercept(head, framing, handler);
    return this.forwardRequest(head, this.clientBytes.subarray(0, headEnd), framing, undefined, false);
  }

  /**
   * Sends a head with as much of its body as has arrived, in one write: dockerd hijacks attach and exec
   * connections and drops what it had buffered, so a body split from its head would reach stdin.
   */
  private forwardRequest(head: RequestHead, headBytes: Buffer, framing: BodyFraming, onAnswer: PendingRequest['onAnswer'], intercepted: boolean, reframe = false): boolean {
    const body = reframe && framing.kind === 'chunked' ? new Rechunker() : trackBody(framing);
    let n: number;
    try {
      n = body.consume(this.clientBytes, head.length);
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      this.refuse(err);
      return false;
    }
    const bodyBytes = body instanceof Rechunker ? body.take(this.clientBytes) : this.clientBytes.subarray(head.length, head.length + n);
    this.forwardHead(head, n === 0 ? headBytes : Buffer.concat([headBytes, bodyBytes]), body, onAnswer, intercepted);
    this.clientBytes = this.clientBytes.subarray(head.length + n);
    if (body.done) this.endRequest();
    return true;
  }

  /** Writes a request's head (with what is there of its body) upstream: the request now awaits its answer. */
  private forwardHead(head: RequestHead, bytes: Buffer, body: BodyTracker, onAnswer: PendingRequest['onAnswer'], intercepted: boolean): void {
    invariant(this.reading === Reading.Head, 'a request starts only after the previous one is forwarded');
    invariant(this.life === Life.Open || this.life === Life.Ending, 'a request starts only on a framed connection');
    invariant(this.upstream !== undefined, 'a request is forwarded only to a connected dockerd');
    const hijacking = HIJACKING_ENDPOINT.test(head.go.url.path);
    const request: PendingRequest = {
      method: head.method,
      target: head.target,
      mayHijack: wantsUpgrade(head) || (head.method === 'POST' && hijacking),
      dockerStream: hijacking && (!wantsUpgrade(head) || head.headers.get('upgrade')!.toLowerCase() === 'tcp'),
      startedAt: this.debug ? performance.now() : 0,
      answered: false,
      onAnswer,
      intercepted,
    };
    this.pending.push(request);
    this.current = request;
    this.requestBody = body;
    this.reading = Reading.Body;
    if (closesConnection(head)) this.link = Link.Closing;
    this.forward(this.client, this.upstream.socket, bytes);
  }

  /**
   * Hands a request to the Docker-aware layer. It is decided alone: earlier answers are awaited first,
   * so a locally made answer can never overtake dockerd's. Returns false: the pump stops until decided.
   */
  private intercept(head: RequestHead, framing: BodyFraming, handler: RouteHandler): boolean {
    invariant(this.reading === Reading.Head, 'a request is intercepted only between requests');
    if (this.pending.length > 0) {
      this.reading = Reading.Held;
      return false;
    }
    let body: Buffer | undefined;
    let end = head.length;
    if (handler.maxBody > 0) {
      let whole;
      try {
        whole = readWholeBody(this.clientBytes, head.length, framing, handler.maxBody);
      } catch (err) {
        if (!(err instanceof ProxyError)) throw err;
        this.refuse(err);
        return false;
      }
      if (whole === undefined) {
        // Wait for the rest of the body; a client that waits for 100 Continue is told to send it, as Go would.
        if (head.go.expectContinue && this.clientBytes.length === head.length && this.continued !== head) {
          this.continued = head;
          this.client.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        return false;
      }
      body = whole.body;
      end = whole.end;
    }
    this.reading = Reading.Deciding;
    handler.handle(head, body).then(
      (outcome) => this.applyOutcome(head, framing, end, outcome),
      (err: Error) => {
        this.options.log.error({ err, target: head.target }, 'docker-aware handler failed');
        this.decided();
        this.refuse(new ProxyError(500, `concierge: ${err.message}`));
      },
    );
    return false;
  }

  private decided(): void {
    invariant(this.reading === Reading.Deciding, 'only a decision ends deciding');
    this.reading = Reading.Head;
  }

  private applyOutcome(head: RequestHead, framing: BodyFraming, end: number, outcome: Outcome): void {
    this.decided();
    if (this.life === Life.Closed) return;
    const bodyRead = end > head.length || framing.kind === 'none';
    if ('reply' in outcome) {
      this.reply(head, bodyRead ? end : -1, outcome.reply);
      return;
    }
    if ('status' in outcome) {
      const counters = proxyCounters();
      counters.refused(outcome.rule ?? ruleOfStatus(outcome.status));
      counters.answered('intercepted', outcome.status);
      const error = outcome.error ?? new ProxyError(outcome.status, outcome.message);
      // Go's server hangs up after refusing a request, and after any answer to a request asking it to.
      const hangUp = error.answer.kind === 'go-text' || head.go.close;
      const response = errorAnswer(error, { close: !bodyRead || hangUp, head: head.method === 'HEAD', dockerdHeaders: this.options.dockerdHeaders.lines() });
      if (hangUp) {
        this.client.end(response);
        this.close();
        return;
      }
      if (bodyRead) {
        this.client.write(response);
        this.clientBytes = this.clientBytes.subarray(end);
      } else {
        // The body was not read and cannot be skipped safely: answer and close.
        this.client.end(response);
        this.close();
        return;
      }
    } else if (this.upstream === undefined) {
      // dockerd went away while the request was being decided: dial again, then decide again.
      this.dial();
      return;
    } else {
      if (outcome.body !== undefined) {
        this.forwardHead(head, Buffer.concat([outcome.head, outcome.body]), NO_BODY, outcome.onAnswer, outcome.decided ?? true);
        this.clientBytes = this.clientBytes.subarray(end);
        this.endRequest();
      } else if (!this.forwardRequest(head, outcome.head, framing, outcome.onAnswer, outcome.decided ?? true, outcome.reframe)) {
        return;
      }
    }
    this.client.resume();
    this.pumpRequests();
  }

  /**
   * Answers with what the Docker-aware layer made or fetched, framed here: a buffer with its length, a
   * stream chunked. `end` is where the request ended in the client's bytes, or -1 when its body was not
   * read (the answer then closes the connection: the body cannot be skipped safely).
   */
  private reply(head: RequestHead, end: number, reply: Reply['reply']): void {
    const close = end < 0 || closesConnection(head);
    proxyCounters().answered('intercepted', reply.status);
    let lines = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Status'}\r\n`;
    for (const [name, value] of reply.headers) lines += `${name}: ${value}\r\n`;
    if (close) lines += 'Connection: close\r\n';
    const noBody = head.method === 'HEAD' || reply.status === 204 || reply.status === 304;
    if (Buffer.isBuffer(reply.body)) {
      lines += `Content-Length: ${reply.body.length}\r\n\r\n`;
      this.client.write(noBody ? Buffer.from(lines, 'latin1') : Buffer.concat([Buffer.from(lines, 'latin1'), reply.body]));
      this.replied(end, close);
      return;
    }
    this.client.write(Buffer.from(`${lines}Transfer-Encoding: chunked\r\n\r\n`, 'latin1'));
    const stream = reply.body[Symbol.asyncIterator]();
    this.replyStream = stream;
    this.reading = Reading.Replying;
    const next = (): void => {
      stream.next().then(
        ({ value, done }) => {
          if (this.life === Life.Closed) return;
          if (done === true) {
            this.client.write('0\r\n\r\n');
            this.replyStream = undefined;
            this.reading = Reading.Head;
            this.replied(end, close);
            return;
          }
          if (value.length > 0) this.client.write(Buffer.concat([Buffer.from(`${value.length.toString(16)}\r\n`), value, Buffer.from('\r\n')]));
          next();
        },
        (err: Error) => this.close(err),
      );
    };
    next();
  }

  private replied(end: number, close: boolean): void {
    if (close) {
      this.endClient();
      this.close();
      return;
    }
    this.clientBytes = this.clientBytes.subarray(end);
    this.client.resume();
    this.pumpRequests();
  }

  private forwardRequestBody(): void {
    const body = this.requestBody!;
    let n: number;
    try {
      n = body.consume(this.clientBytes, 0);
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      // Part of the request already went upstream: the pair cannot be resynchronized.
      this.close(err);
      return;
    }
    if (n > 0) {
      this.forward(this.client, this.upstream!.socket, body instanceof Rechunker ? body.take(this.clientBytes) : this.clientBytes.subarray(0, n));
      this.clientBytes = this.clientBytes.subarray(n);
    }
    if (body.done) this.endRequest();
  }

  /** The request is forwarded whole; the next waits for the answer when this one may hijack the connection. */
  private endRequest(): void {
    invariant(this.reading === Reading.Body && this.current !== undefined, 'only a request being forwarded ends');
    this.reading = this.current.mayHijack ? Reading.Held : Reading.Head;
    this.requestBody = undefined;
    this.current = undefined;
  }

  private onClientEnd(): void {
    if (this.life === Life.Piping) {
      // After an upgrade the half-close is the end of stdin: `exec` without -i relies on it.
      this.upstream?.socket.end();
      return;
    }
    if (this.life === Life.Closed) return;
    // Never half-close an ordinary request upstream: dockerd would cancel `wait`, `events`, logs -f.
    this.life = Life.Ending;
    this.maybeFinish();
  }

  // ---- dockerd → client -------------------------------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    const upstream = this.upstream!.socket;
    if (this.life === Life.Piping) {
      this.forward(upstream, this.client, chunk);
      return;
    }
    const buf = this.upstreamBytes.length === 0 ? chunk : Buffer.concat([this.upstreamBytes, chunk]);
    this.upstreamBytes = EMPTY;
    let pos = 0;
    let flushed = 0;
    try {
      while (pos < buf.length) {
        if (this.answering === Answering.Head) {
          const headEnd = findHeadEnd(buf.subarray(pos));
          if (headEnd < 0) {
            if (buf.length - pos > MAX_HEAD_BYTES) throw new HttpParseError('response head too large', 502);
            this.upstreamBytes = Buffer.from(buf.subarray(pos)); // out of the shared read buffer
            break;
          }
          const hijacked = this.startResponse(buf, pos, headEnd);
          pos += headEnd;
          if (hijacked) {
            this.forward(upstream, this.client, buf.subarray(flushed));
            this.startPiping();
            return;
          }
        } else {
          pos += this.responseBody!.consume(buf, pos);
        }
        if (this.responseBody?.done) {
          // The answer's last bytes go out before its end is acted on (which may end the client).
          this.forward(upstream, this.client, buf.subarray(flushed, pos));
          flushed = pos;
          this.endResponse();
        }
      }
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      this.forward(upstream, this.client, buf.subarray(flushed, pos));
      this.failPending(err.message);
      return;
    }
    if (pos > flushed) this.forward(upstream, this.client, buf.subarray(flushed, pos));
  }

  /**
   * Reads the head of the oldest request's answer at `pos` and starts its body. True when the answer
   * turns the connection into a stream (101, or dockerd's raw-stream answer to attach/exec).
   */
  private startResponse(buf: Buffer, pos: number, headLength: number): boolean {
    invariant(this.answering === Answering.Head, 'an answer starts only after the previous one ended');
    const request = this.pending[0];
    if (request === undefined) throw new HttpParseError('dockerd answered a request that was not sent', 502);
    const head = parseResponseHead(buf.subarray(pos), headLength);
    if (closesConnection(head)) this.link = Link.Closing;
    if (!this.options.dockerdHeaders.known) this.options.dockerdHeaders.learn(head.rawHeaders);
    request.answered = true;
    request.onAnswer?.(head.status);
    proxyCounters().answered(request.intercepted ? 'intercepted' : 'forwarded', head.status);
    if (this.debug) {
      const ms = Math.round((performance.now() - request.startedAt) * 10) / 10;
      this.options.log.debug({ method: request.method, target: request.target, status: head.status, ms }, 'request');
    }
    if (head.status === 101) return true;
    if (head.status < 200) return false; // interim (100 Continue): the final answer follows
    const framing = responseFraming(head, request.method);
    // dockerd's raw-stream answer to attach/exec without Upgrade: the connection is now the stream.
    if (framing.kind === 'close' && request.mayHijack) return true;
    this.responseBody = trackBody(framing);
    this.answering = framing.kind === 'close' ? Answering.BodyUntilClose : Answering.Body;
    return false;
  }

  private endResponse(): void {
    invariant(this.answering === Answering.Body, 'only a framed answer ends before dockerd closes');
    this.answering = Answering.Head;
    this.responseBody = undefined;
    this.pending.shift();
    if (this.reading === Reading.Held && this.pending.length === 0) {
      this.reading = Reading.Head;
      this.client.resume();
      this.pumpRequests();
    }
    this.maybeFinish();
  }

  /** The connection is now a stream: what the client sent while its request was held follows raw. */
  private startPiping(): void {
    // A connection refused while this answer was being read stays closed.
    if (this.life === Life.Closed) return;
    invariant(this.life === Life.Open || this.life === Life.Ending, 'only a framed connection becomes a stream');
    const clientEnded = this.life === Life.Ending;
    const dropHeldBytes = this.pending[0]!.dockerStream;
    this.life = Life.Piping;
    this.pending.length = 0;
    this.client.resume();
    if (dropHeldBytes && this.clientBytes.length > 0) {
      // dockerd discards what a client sent past an attach/exec request before its answer (Go had
      // buffered it when the connection was hijacked). Clients rely on that: dockerode writes its
      // options as an unframed body there, which must not reach the container's stdin.
      this.clientBytes = EMPTY;
    }
    const upstream = this.upstream!.socket;
    if (this.clientBytes.length > 0) {
      this.forward(this.client, upstream, this.clientBytes);
      this.clientBytes = EMPTY;
    }
    if (clientEnded) upstream.end();
  }

  private onUpstreamEnd(): void {
    if (this.life === Life.Piping) {
      this.endClient();
      return;
    }
    if (this.answering !== Answering.Head) {
      // A close-delimited body ends here; a framed one was cut short, and the client sees it cut too.
      const complete = this.answering === Answering.BodyUntilClose;
      this.dropUpstream();
      if (complete) this.endClient();
      else this.close();
      return;
    }
    if (this.pending.length > 0) {
      this.failPending('dockerd closed the connection before answering');
      return;
    }
    // dockerd closed an idle connection (after `Connection: close`, or its idle timeout): so do we.
    this.dropUpstream();
    this.endClient();
  }

  /** The upstream socket failed or closed without an orderly end. */
  private onUpstreamLost(err?: Error): void {
    if (this.life === Life.Closed) return;
    if (err !== undefined) this.options.log.warn({ err: err.message }, 'dockerd connection failed');
    if (this.life === Life.Piping) {
      // After forwarding dockerd's end, let the client drain what is already written.
      if (!this.client.writableEnded) this.close();
      return;
    }
    if (this.pending.some((r) => r.answered)) this.close();
    else if (this.pending.length > 0 || this.reading === Reading.Body) {
      this.failPending('dockerd closed the connection before answering');
    } else this.dropUpstream();
  }

  private dropUpstream(): void {
    const upstream = this.upstream!;
    this.upstream = undefined;
    this.link = Link.None;
    this.responseBody = undefined;
    this.answering = Answering.Head;
    this.pending.length = 0;
    upstream.socket.destroy();
  }

  // ---- shared -----------------------------------------------------------------------------------

  /**
   * Connects to dockerd. An eager dial (at accept) fails quietly: the error is only reported to a request,
   * which dials again (and may wait for dockerd to start).
   */
  private dial(eager = false): void {
    if (this.link === Link.Dialing) return;
    invariant(this.link === Link.None, 'dockerd is dialed only when no connection is held');
    this.link = Link.Dialing;
    if (!eager) this.client.pause();
    let upstream: Upstream | undefined;
    // Events of a socket already dropped (after a close-delimited answer) are stale: ignore them.
    const mine = (): boolean => upstream !== undefined && upstream === this.upstream;
    this.options.dial.dial({
      data: (bytes) => { if (this.life !== Life.Closed && mine()) this.onUpstreamData(bytes); },
      end: () => { if (mine()) this.onUpstreamEnd(); },
      lost: (err) => { if (mine()) this.onUpstreamLost(err); },
    }).then(
      (held) => {
        invariant(this.link === Link.Dialing, 'a dial ends only once');
        if (this.life === Life.Closed) {
          this.link = Link.None;
          this.options.dial.release(held);
          return;
        }
        upstream = held;
        this.upstream = held;
        this.link = Link.Connected;
        this.client.resume();
        this.pumpRequests();
      },
      (err: Error) => {
        this.link = Link.None;
        if (eager) {
          if (this.clientBytes.length > 0) this.dial();
          return;
        }
        this.options.log.warn({ err: err.message }, 'dockerd unreachable');
        this.refuse(new ProxyError(502, `concierge: cannot reach dockerd: ${err.message}`));
      },
    );
  }

  /** Answers the oldest unanswered request with a Docker-style error and closes, or just closes. */
  private failPending(message: string): void {
    const request = this.pending[0];
    if (request !== undefined && !request.answered) this.refuse(new ProxyError(502, `concierge: ${message}`));
    else this.close(new Error(message));
  }

  /** Answers with the error and closes: the byte stream cannot be trusted past this point. */
  private refuse(err: ProxyError): void {
    if (this.life === Life.Closed) return;
    this.options.log.warn({ status: err.status, message: err.message }, 'request refused');
    this.client.end(errorAnswer(err, { close: true, dockerdHeaders: this.options.dockerdHeaders.lines() }));
    this.life = Life.Closed;
    this.upstream?.socket.destroy();
  }

  /** After the client's end: once every request it sent is answered, the connection ends. */
  private maybeFinish(): void {
    if (this.life !== Life.Ending || this.pending.length > 0 || this.reading === Reading.Body || this.reading === Reading.Replying) return;
    // Requests the client sent before its end still go out once dockerd's connection is there.
    if (this.clientBytes.length > 0 && (this.upstream === undefined || this.reading !== Reading.Head)) return;
    this.endClient();
    // Once the read being handled is done with: bytes dockerd sent past its answer make it unfit.
    queueMicrotask(() => {
      if (this.life === Life.Closed || this.handBackUpstream()) return;
      if (this.upstream !== undefined && !this.upstream.socket.writableEnded) this.upstream.socket.end();
    });
  }

  /**
   * Gives the dockerd connection back to the dialer when it sits between requests: nothing sent that is
   * unanswered, no answer partly read, no stream, and dockerd not about to close it. True when given.
   */
  private handBackUpstream(): boolean {
    const upstream = this.upstream;
    if (upstream === undefined || this.link !== Link.Connected || (this.life !== Life.Open && this.life !== Life.Ending)
      || this.reading !== Reading.Head || this.answering !== Answering.Head || this.pending.length > 0 || this.upstreamBytes.length > 0) {
      return false;
    }
    this.upstream = undefined;
    this.link = Link.None;
    this.options.dial.release(upstream);
    return true;
  }

  /** Ending an ended socket makes Node build an error with a stack: measurable on every request. */
  private endClient(): void {
    if (!this.client.writableEnded) this.client.end();
  }

  /** Writes with backpressure: a slow reader pauses the writer's source instead of buffering. */
  private forward(from: Socket, to: Socket, bytes: Buffer): void {
    if (bytes.length === 0 || to.destroyed || to.writableEnded) return;
    const flushed = to.write(bytes);
    // A write that did not reach the kernel at once still points into the shared read buffer.
    if (to.writableLength > 0 && inSharedReadBuffer(bytes)) retireReadBuffer();
    if (!flushed && !from.isPaused()) {
      from.pause();
      to.once('drain', () => {
        // Held requests keep the client paused until their answers let them go.
        if (from !== this.client || this.life === Life.Piping || this.reading !== Reading.Held) from.resume();
      });
    }
  }

  close(err?: Error): void {
    if (this.life === Life.Closed) {
      this.upstream?.socket.destroy();
      return;
    }
    // Decided before the connection counts as closed: an idle dockerd connection goes back to the pool.
    const handedBack = err === undefined && this.handBackUpstream();
    this.life = Life.Closed;
    void this.replyStream?.return?.().catch(() => undefined);
    this.replyStream = undefined;
    if (err !== undefined && (err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') {
      this.options.log.warn({ err: err.message }, 'connection closed on error');
    }
    this.client.destroy();
    if (!handedBack) this.upstream?.socket.destroy();
  }
}

/** The message says the connection ends after it: `Connection: close`, or HTTP/1.0 without keep-alive. */
function closesConnection(head: RequestHead | ResponseHead): boolean {
  const connection = head.headers.get('connection')?.toLowerCase() ?? '';
  return /\bclose\b/.test(connection) || (head.version === 'HTTP/1.0' && !/\bkeep-alive\b/.test(connection));
}

/**
 * A chunked body forwarded in the proxy's own framing: chunks are read as Go reads them and each
 * read's data goes out as one new chunk, then the last chunk; extensions and trailers stay behind.
 */
class Rechunker implements BodyTracker {
  private readonly reader = new GoChunkedBody(true);
  private ended = false;

  get done(): boolean {
    return this.reader.done;
  }

  consume(buf: Buffer, start: number): number {
    return this.reader.consume(buf, start);
  }

  /** The re-encoded bytes of the data the last `consume` read from `buf`. */
  take(buf: Buffer): Buffer {
    const parts: Buffer[] = [];
    let size = 0;
    for (const [a, b] of this.reader.dataRanges) size += b - a;
    if (size > 0) {
      parts.push(Buffer.from(`${size.toString(16)}\r\n`, 'latin1'));
      for (const [a, b] of this.reader.dataRanges) parts.push(buf.subarray(a, b));
      parts.push(Buffer.from('\r\n', 'latin1'));
    }
    if (this.reader.done && !this.ended) {
      this.ended = true;
      parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
    }
    return Buffer.concat(parts);
  }
}
