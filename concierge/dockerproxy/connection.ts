import type { Socket } from 'node:net';
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
import { jsonErrorResponse } from './errors.js';
import { hasLearnedDockerdHeaders, learnDockerdHeaders } from './identity.js';
import { inSharedReadBuffer, retireReadBuffer, type Upstream, type UpstreamDialer } from './upstream.js';
import { proxyCounters, ruleOfStatus } from './counters.js';
import type { Interceptor, Outcome, RouteHandler } from './intercept.js';

/**
 * One client connection paired with one dockerd connection, opened on the client's first request.
 *
 * Pairing 1:1 keeps every dockerd behaviour tied to a connection (keep-alive, `Connection: close`,
 * hijacked attach/exec streams, h2c upgrades) exactly as a direct client sees it. Bytes are forwarded
 * as they arrive; the proxy parses only heads and body framing, to know where each message ends.
 */

/** Requests whose answer may hijack the connection even without an Upgrade header (raw-stream 200). */
const HIJACKING_ENDPOINT = /^(?:\/v\d+(?:\.\d+)?)?\/(?:containers\/[^/?]+\/attach|exec\/[^/?]+\/start)(?:\?|$)/;

/** Client bytes held while a hijackable request waits for its answer, before the client is paused. */
const MAX_HELD_BYTES = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

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
}

export class ProxyConnection {
  private upstream: Socket | undefined;
  /** The dockerd connection held, to hand back to the dialer's pool when it is left idle. */
  private held: Upstream | undefined;
  private dialing = false;
  private readonly debug: boolean;

  /** Client bytes not forwarded yet: an incomplete head, or bytes held behind a hijackable request. */
  private clientBytes: Buffer = EMPTY;
  private requestBody: BodyTracker | undefined;
  /** The request whose body is being forwarded. */
  private current: PendingRequest | undefined;
  /** Stop reading requests until the answer to a hijackable request says what the connection becomes. */
  private holdRequests = false;
  /** An intercepted request is being decided: requests wait behind it. */
  private deciding = false;

  /** Upstream bytes of an incomplete response head. */
  private upstreamBytes: Buffer = EMPTY;
  private responseBody: BodyTracker | undefined;
  /** The current response's body ends when dockerd closes the connection (HTTP/1.0 style). */
  private responseUntilClose = false;
  private readonly pending: PendingRequest[] = [];

  /** After a 101 or a hijack both directions are raw bytes, and half-closes are forwarded. */
  private piping = false;
  /** Client bytes held until the answer are dropped when the stream starts, as dockerd drops them. */
  private dropHeldBytes = false;
  private clientEnded = false;
  private closed = false;
  /** dockerd will close the connection after the current answer (Connection: close, HTTP/1.0). */
  private upstreamClosing = false;

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
    if (this.piping) {
      this.forward(this.client, this.upstream!, chunk);
      return;
    }
    this.clientBytes = this.clientBytes.length === 0 ? chunk : Buffer.concat([this.clientBytes, chunk]);
    this.pumpRequests();
  }

  private pumpRequests(): void {
    while (!this.closed && !this.piping && !this.holdRequests && !this.deciding && this.clientBytes.length > 0) {
      if (this.upstream === undefined) {
        this.dial();
        return;
      }
      if (this.requestBody !== undefined) {
        this.forwardRequestBody();
        continue;
      }
      const headEnd = findHeadEnd(this.clientBytes);
      if (headEnd < 0) {
        if (this.clientBytes.length > MAX_HEAD_BYTES) this.refuse(431, 'request head too large');
        return;
      }
      if (!this.startRequest(headEnd)) return;
    }
    if ((this.holdRequests || this.deciding) && this.clientBytes.length > MAX_HELD_BYTES) this.client.pause();
    if (this.clientEnded) this.maybeFinish();
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
      if (head.version !== 'HTTP/1.1' && head.version !== 'HTTP/1.0') {
        throw new HttpParseError(`unsupported HTTP version ${head.version}`, 505);
      }
      framing = requestFraming(head);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      this.refuse(err.status, err.message);
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
  private forwardRequest(head: RequestHead, headBytes: Buffer, framing: BodyFraming, onAnswer: PendingRequest['onAnswer'], intercepted: boolean): boolean {
    const body = trackBody(framing);
    let n: number;
    try {
      n = body.consume(this.clientBytes, head.length);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      this.refuse(err.status, err.message);
      return false;
    }
    const bodyBytes = this.clientBytes.subarray(head.length, head.length + n);
    this.forwardHead(head, n === 0 ? headBytes : Buffer.concat([headBytes, bodyBytes]), onAnswer, intercepted);
    this.clientBytes = this.clientBytes.subarray(head.length + n);
    this.requestBody = body;
    if (body.done) this.endRequest();
    return true;
  }

  private forwardHead(head: RequestHead, bytes: Buffer, onAnswer: PendingRequest['onAnswer'], intercepted: boolean): void {
    const request: PendingRequest = {
      method: head.method,
      target: head.target,
      mayHijack: wantsUpgrade(head) || (head.method === 'POST' && HIJACKING_ENDPOINT.test(head.target)),
      dockerStream: HIJACKING_ENDPOINT.test(head.target) && (!wantsUpgrade(head) || head.headers.get('upgrade')!.toLowerCase() === 'tcp'),
      startedAt: this.debug ? performance.now() : 0,
      answered: false,
      onAnswer,
      intercepted,
    };
    this.pending.push(request);
    this.current = request;
    if (closesConnection(head)) this.upstreamClosing = true;
    this.forward(this.client, this.upstream!, bytes);
  }

  /**
   * Hands a request to the Docker-aware layer. It is decided alone: earlier answers are awaited first,
   * so a locally made answer can never overtake dockerd's. Returns false: the pump stops until decided.
   */
  private intercept(head: RequestHead, framing: BodyFraming, handler: RouteHandler): boolean {
    if (this.pending.length > 0) {
      this.holdRequests = true;
      return false;
    }
    let body: Buffer | undefined;
    let end = head.length;
    if (handler.maxBody > 0) {
      let whole;
      try {
        whole = readWholeBody(this.clientBytes, head.length, framing, handler.maxBody);
      } catch (err) {
        if (!(err instanceof HttpParseError)) throw err;
        this.refuse(err.status, err.message);
        return false;
      }
      if (whole === undefined) return false; // wait for the rest of the body
      body = whole.body;
      end = whole.end;
    }
    this.deciding = true;
    handler.handle(head, body).then(
      (outcome) => this.applyOutcome(head, framing, end, outcome),
      (err: Error) => {
        this.options.log.error({ err, target: head.target }, 'docker-aware handler failed');
        this.deciding = false;
        this.refuse(500, `concierge: ${err.message}`);
      },
    );
    return false;
  }

  private applyOutcome(head: RequestHead, framing: BodyFraming, end: number, outcome: Outcome): void {
    this.deciding = false;
    if (this.closed) return;
    const bodyRead = end > head.length || framing.kind === 'none';
    if ('status' in outcome) {
      const counters = proxyCounters();
      counters.refused(outcome.rule ?? ruleOfStatus(outcome.status));
      counters.answered('intercepted', outcome.status);
      const response = jsonErrorResponse(outcome.status, outcome.message, { close: !bodyRead, head: head.method === 'HEAD' });
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
        this.forwardHead(head, Buffer.concat([outcome.head, outcome.body]), outcome.onAnswer, true);
        this.clientBytes = this.clientBytes.subarray(end);
        this.endRequest();
      } else if (!this.forwardRequest(head, outcome.head, framing, outcome.onAnswer, true)) {
        return;
      }
    }
    this.client.resume();
    this.pumpRequests();
  }

  private forwardRequestBody(): void {
    let n: number;
    try {
      n = this.requestBody!.consume(this.clientBytes, 0);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      // Part of the request already went upstream: the pair cannot be resynchronized.
      this.close(err);
      return;
    }
    if (n > 0) {
      this.forward(this.client, this.upstream!, this.clientBytes.subarray(0, n));
      this.clientBytes = this.clientBytes.subarray(n);
    }
    if (this.requestBody!.done) this.endRequest();
  }

  private endRequest(): void {
    if (this.current!.mayHijack) this.holdRequests = true;
    this.requestBody = undefined;
    this.current = undefined;
  }

  private onClientEnd(): void {
    if (this.piping) {
      // After an upgrade the half-close is the end of stdin: `exec` without -i relies on it.
      this.upstream?.end();
      return;
    }
    // Never half-close an ordinary request upstream: dockerd would cancel `wait`, `events`, logs -f.
    this.clientEnded = true;
    this.maybeFinish();
  }

  // ---- dockerd → client -------------------------------------------------------------------------

  private onUpstreamData(chunk: Buffer): void {
    if (this.piping) {
      this.forward(this.upstream!, this.client, chunk);
      return;
    }
    const buf = this.upstreamBytes.length === 0 ? chunk : Buffer.concat([this.upstreamBytes, chunk]);
    this.upstreamBytes = EMPTY;
    let pos = 0;
    let flushed = 0;
    try {
      while (pos < buf.length && !this.piping) {
        if (this.responseBody !== undefined) {
          pos += this.responseBody.consume(buf, pos);
        } else {
          const headEnd = findHeadEnd(buf.subarray(pos));
          if (headEnd < 0) {
            if (buf.length - pos > MAX_HEAD_BYTES) throw new HttpParseError('response head too large', 502);
            this.upstreamBytes = Buffer.from(buf.subarray(pos)); // out of the shared read buffer
            break;
          }
          pos = this.startResponse(buf, pos, headEnd);
          if (this.piping) {
            this.forward(this.upstream!, this.client, buf.subarray(flushed));
            flushed = buf.length;
            this.startPiping();
            continue;
          }
        }
        if (this.responseBody?.done) {
          // The answer's last bytes go out before its end is acted on (which may end the client).
          this.forward(this.upstream!, this.client, buf.subarray(flushed, pos));
          flushed = pos;
          this.endResponse();
        }
      }
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      this.forward(this.upstream!, this.client, buf.subarray(flushed, pos));
      this.failPending(err.message);
      return;
    }
    if (pos > flushed) this.forward(this.upstream!, this.client, buf.subarray(flushed, pos));
  }

  /** Reads a response head at `pos`; returns the position after it. */
  private startResponse(buf: Buffer, pos: number, headLength: number): number {
    const request = this.pending[0];
    if (request === undefined) throw new HttpParseError('dockerd answered a request that was not sent', 502);
    const head = parseResponseHead(buf.subarray(pos), headLength);
    if (closesConnection(head)) this.upstreamClosing = true;
    if (!hasLearnedDockerdHeaders()) learnDockerdHeaders(head.rawHeaders);
    request.answered = true;
    request.onAnswer?.(head.status);
    proxyCounters().answered(request.intercepted ? 'intercepted' : 'forwarded', head.status);
    if (this.debug) {
      const ms = Math.round((performance.now() - request.startedAt) * 10) / 10;
      this.options.log.debug({ method: request.method, target: request.target, status: head.status, ms }, 'request');
    }
    if (head.status === 101) {
      this.piping = true;
      this.dropHeldBytes = request.dockerStream;
      return pos + headLength;
    }
    if (head.status < 200) return pos + headLength; // interim (100 Continue): the final answer follows
    const framing = responseFraming(head, request.method);
    if (framing.kind === 'close' && request.mayHijack) {
      // dockerd's raw-stream answer to attach/exec without Upgrade: the connection is now the stream.
      this.piping = true;
      this.dropHeldBytes = request.dockerStream;
      return pos + headLength;
    }
    this.responseBody = trackBody(framing);
    this.responseUntilClose = framing.kind === 'close';
    return pos + headLength;
  }

  private endResponse(): void {
    this.responseBody = undefined;
    this.pending.shift();
    if (this.holdRequests && this.pending.length === 0) {
      this.holdRequests = false;
      this.client.resume();
      this.pumpRequests();
    }
    this.maybeFinish();
  }

  private startPiping(): void {
    this.pending.length = 0;
    this.holdRequests = false;
    this.client.resume();
    if (this.dropHeldBytes && this.clientBytes.length > 0) {
      // dockerd discards what a client sent past an attach/exec request before its answer (Go had
      // buffered it when the connection was hijacked). Clients rely on that: dockerode writes its
      // options as an unframed body there, which must not reach the container's stdin.
      this.clientBytes = EMPTY;
    }
    if (this.clientBytes.length > 0) {
      this.forward(this.client, this.upstream!, this.clientBytes);
      this.clientBytes = EMPTY;
    }
    if (this.clientEnded) this.upstream!.end();
  }

  private onUpstreamEnd(): void {
    if (this.piping) {
      this.endClient();
      return;
    }
    const upstream = this.upstream!;
    if (this.responseBody !== undefined) {
      // A close-delimited body ends here; a framed one was cut short, and the client sees it cut too.
      const complete = this.responseUntilClose;
      this.dropUpstream(upstream);
      if (complete) this.endClient();
      else this.close();
      return;
    }
    if (this.pending.length > 0) {
      this.failPending('dockerd closed the connection before answering');
      return;
    }
    // dockerd closed an idle connection (after `Connection: close`, or its idle timeout): so do we.
    this.dropUpstream(upstream);
    this.endClient();
  }

  /** The upstream socket failed or closed without an orderly end. */
  private onUpstreamLost(err?: Error): void {
    if (this.closed) return;
    if (err !== undefined) this.options.log.warn({ err: err.message }, 'dockerd connection failed');
    if (this.piping) {
      // After forwarding dockerd's end, let the client drain what is already written.
      if (!this.client.writableEnded) this.close();
      return;
    }
    if (this.pending.some((r) => r.answered)) this.close();
    else if (this.pending.length > 0 || this.requestBody !== undefined) {
      this.failPending('dockerd closed the connection before answering');
    } else this.dropUpstream(this.upstream!);
  }

  private dropUpstream(upstream: Socket): void {
    this.upstream = undefined;
    this.held = undefined;
    this.responseBody = undefined;
    this.pending.length = 0;
    upstream.destroy();
  }

  // ---- shared -----------------------------------------------------------------------------------

  /**
   * Connects to dockerd. An eager dial (at accept) fails quietly: the error is only reported to a request,
   * which dials again (and may wait for dockerd to start).
   */
  private dial(eager = false): void {
    if (this.dialing) return;
    this.dialing = true;
    if (!eager) this.client.pause();
    let upstream: Socket | undefined;
    // Events of a socket already dropped (after a close-delimited answer) are stale: ignore them.
    const mine = (): boolean => upstream !== undefined && upstream === this.upstream;
    this.options.dial.dial({
      data: (bytes) => { if (!this.closed && mine()) this.onUpstreamData(bytes); },
      end: () => { if (mine()) this.onUpstreamEnd(); },
      lost: (err) => { if (mine()) this.onUpstreamLost(err); },
    }).then(
      (held) => {
        this.dialing = false;
        if (this.closed) {
          this.options.dial.release(held);
          return;
        }
        upstream = held.socket;
        this.upstream = upstream;
        this.held = held;
        this.upstreamClosing = false;
        this.client.resume();
        this.pumpRequests();
      },
      (err: Error) => {
        this.dialing = false;
        if (eager) {
          if (this.clientBytes.length > 0) this.dial();
          return;
        }
        this.options.log.warn({ err: err.message }, 'dockerd unreachable');
        this.refuse(502, `concierge: cannot reach dockerd: ${err.message}`);
      },
    );
  }

  /** Answers the oldest unanswered request with a Docker-style error and closes, or just closes. */
  private failPending(message: string): void {
    const request = this.pending[0];
    if (request !== undefined && !request.answered) this.refuse(502, `concierge: ${message}`);
    else this.close(new Error(message));
  }

  /** Sends a Docker-style JSON error and closes: the byte stream cannot be trusted past this point. */
  private refuse(status: number, message: string): void {
    if (this.closed) return;
    this.options.log.warn({ status, message }, 'request refused');
    this.client.end(jsonErrorResponse(status, message, { close: true }));
    this.closed = true;
    this.upstream?.destroy();
  }

  private maybeFinish(): void {
    // Requests the client sent before its end still go out once dockerd's connection is there.
    const unsentRequests = this.clientBytes.length > 0 && (this.upstream === undefined || this.deciding || this.holdRequests);
    if (this.clientEnded && !this.piping && this.pending.length === 0 && this.requestBody === undefined && !unsentRequests) {
      this.endClient();
      // Once the read being handled is done with: bytes dockerd sent past its answer make it unfit.
      queueMicrotask(() => {
        if (!this.handBackUpstream() && this.upstream !== undefined && !this.upstream.writableEnded) this.upstream.end();
      });
    }
  }

  /**
   * Gives the dockerd connection back to the dialer when it sits between requests: nothing sent that is
   * unanswered, no answer partly read, no stream, and dockerd not about to close it. True when given.
   */
  private handBackUpstream(): boolean {
    const held = this.held;
    if (held === undefined || held.socket !== this.upstream || this.piping || this.deciding || this.upstreamClosing
      || this.pending.length > 0 || this.requestBody !== undefined || this.responseBody !== undefined || this.upstreamBytes.length > 0) {
      return false;
    }
    this.upstream = undefined;
    this.held = undefined;
    this.options.dial.release(held);
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
        if (!this.holdRequests || from !== this.client) from.resume();
      });
    }
  }

  close(err?: Error): void {
    if (this.closed) {
      this.upstream?.destroy();
      return;
    }
    this.closed = true;
    if (err !== undefined && (err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') {
      this.options.log.warn({ err: err.message }, 'connection closed on error');
    }
    this.client.destroy();
    if (err !== undefined || !this.handBackUpstream()) this.upstream?.destroy();
  }
}

/** The message says the connection ends after it: `Connection: close`, or HTTP/1.0 without keep-alive. */
function closesConnection(head: RequestHead | ResponseHead): boolean {
  const connection = head.headers.get('connection')?.toLowerCase() ?? '';
  return /\bclose\b/.test(connection) || (head.version === 'HTTP/1.0' && !/\bkeep-alive\b/.test(connection));
}
