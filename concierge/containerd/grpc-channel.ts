// gRPC's client side over one HTTP/2 connection to containerd's unix socket: node:http2 carries the
// streams; the protocol's own parts are few and written here (a 5-byte prefix per message, the call's
// status in trailers, the timeout header). Why not @grpc/grpc-js: its channel, resolver, load
// balancer, retry and filter layers are 590 KB of bundle that a unix socket to one server does not
// need, and every layer runs for the first time on the job's critical path in each boot (under TCG
// the first calls spent ~0.3 s of profiled time in them; on the host its load took 22 ms).
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as connectUnix } from 'node:net';

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const Status = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

const statusNames = new Map<number, string>(Object.entries(Status).map(([name, code]) => [code, name]));
export const statusName = (code: number): string => statusNames.get(code) ?? String(code);

/** A call's end other than OK: its code and the server's message (or ours, for local failures). */
export class CallError extends Error {
  constructor(readonly code: StatusCode, readonly details: string) {
    super(`${statusName(code)}: ${details}`);
  }
}

export interface ChannelOptions {
  /** Largest message accepted from the server, in bytes. */
  maxReceiveBytes: number;
}

export interface StartOptions {
  headers: Readonly<Record<string, string>>;
  /** Milliseconds until the call ends with DEADLINE_EXCEEDED (also sent as grpc-timeout). */
  timeoutMs?: number;
}

/** One call: messages out (encoded), messages in, and how it ended. */
export interface Call {
  /** Sends one encoded message. */
  send(message: Uint8Array): void;
  /** Half-closes: no more messages from us. */
  end(): void;
  /** Ends the call from our side with CANCELLED. */
  cancel(): void;
  /** Each message from the server, in order; `pause`/`resume` hold further reads. */
  onMessage(listener: (message: Buffer) => void): void;
  pause(): void;
  resume(): void;
  /** Resolves when the call ends with OK; rejects with a CallError otherwise. */
  readonly done: Promise<void>;
}

// HTTP statuses in place of a gRPC answer, mapped as gRPC's http-grpc-status-mapping.md says.
function codeOfHttpStatus(status: number): StatusCode {
  switch (status) {
    case 400: return Status.INTERNAL;
    case 401: return Status.UNAUTHENTICATED;
    case 403: return Status.PERMISSION_DENIED;
    case 404: return Status.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return Status.UNAVAILABLE;
    default: return Status.UNKNOWN;
  }
}

// grpc-message is percent-encoded (PROTOCOL-HTTP2.md); a malformed escape is left as it came.
function decodeGrpcMessage(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : value ?? '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The status a response's headers (trailers, or a trailers-only answer) carry, if any. */
function statusOf(headers: IncomingHttpHeaders): { code: StatusCode; details: string } | undefined {
  const raw = headers['grpc-status'];
  if (raw === undefined) return undefined;
  const code = Number(raw);
  return {
    code: (statusNames.has(code) ? code : Status.UNKNOWN) as StatusCode,
    details: decodeGrpcMessage(headers['grpc-message']),
  };
}

export class GrpcChannel {
  private session: ClientHttp2Session | undefined;
  private closed = false;

  constructor(readonly socketPath: string, private readonly options: ChannelOptions) {}

  /** The connection, made on first use and again after it broke (containerd restarted). */
  private connection(): ClientHttp2Session {
    if (this.closed) throw new CallError(Status.UNAVAILABLE, 'channel closed');
    if (this.session !== undefined && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect('http://localhost', { createConnection: () => connectUnix(this.socketPath) });
    const forget = (): void => { if (this.session === session) this.session = undefined; };
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    this.session = session;
    return session;
  }

  /** Resolves once the socket accepts an HTTP/2 connection, retrying until `timeoutMs` has passed. */
  async waitForReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = this.connection();
      const failure = await new Promise<Error | undefined>((resolve) => {
        if (session.connecting === false && !session.destroyed) return resolve(undefined);
        session.once('connect', () => resolve(undefined));
        session.once('error', (err: Error) => resolve(err));
        session.once('close', () => resolve(new Error('the connection closed before it was made')));
      });
      if (failure === undefined) return;
      if (Date.now() >= deadline) throw failure;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Starts a call to `path` (`/package.Service/Method`). */
  start(path: string, options: StartOptions): Call {
    let stream: ClientHttp2Stream;
    let status: { code: StatusCode; details: string } | undefined;
    let settle!: (err: CallError | undefined) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err === undefined ? resolve() : reject(err));
    });
    // A local end (cancel, deadline, a bad message) is the call's status unless the server's came first.
    let ended = false;
    const finish = (code: StatusCode, details: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      settle(code === Status.OK ? undefined : new CallError(code, details));
    };
    const abort = (code: StatusCode, details: string): void => {
      finish(code, details);
      if (stream !== undefined && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    };
    const timer = options.timeoutMs === undefined ? undefined
      : setTimeout(() => abort(Status.DEADLINE_EXCEEDED, 'deadline exceeded'), options.timeoutMs);
    try {
      stream = this.connection().request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
        ...(options.timeoutMs === undefined ? {} : { 'grpc-timeout': `${Math.max(1, Math.ceil(options.timeoutMs))}m` }),
        ...options.headers,
      });
    } catch (err) {
      finish(Status.UNAVAILABLE, (err as Error).message);
      return { send() {}, end() {}, cancel() {}, onMessage() {}, pause() {}, resume() {}, done };
    }

    const maxReceiveBytes = this.options.maxReceiveBytes;
    let listener: ((message: Buffer) => void) | undefined;
    const early: Buffer[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    stream.on('response', (headers) => {
      const httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
      status = statusOf(headers); // a trailers-only answer
      if (httpStatus !== 200 && status === undefined) abort(codeOfHttpStatus(httpStatus), `HTTP status ${httpStatus}`);
    });
    stream.on('trailers', (trailers: IncomingHttpHeaders) => { status = statusOf(trailers) ?? status; });
    stream.on('data', (chunk: Buffer) => {
      pending.push(chunk);
      pendingBytes += chunk.length;
      // A message comes whole or split across frames: joined once all its bytes are here.
      while (!ended && pendingBytes >= 5) {
        if (pending[0]!.length < 5) pending = [Buffer.concat(pending, pendingBytes)];
        const head = pending[0]!;
        if (head[0] !== 0) return abort(Status.INTERNAL, 'compressed message, none asked for');
        const length = head.readUInt32BE(1);
        if (length > maxReceiveBytes) return abort(Status.RESOURCE_EXHAUSTED, `message of ${length} bytes over the limit of ${maxReceiveBytes}`);
        if (pendingBytes < 5 + length) return;
        const all = pending.length === 1 ? head : Buffer.concat(pending, pendingBytes);
        const rest = all.subarray(5 + length);
        pending = rest.length === 0 ? [] : [rest];
        pendingBytes = rest.length;
        const message = all.subarray(5, 5 + length);
        if (listener === undefined) early.push(message);
        else listener(message);
      }
    });
    stream.on('close', () => {
      if (status !== undefined) finish(status.code, status.details);
      else if (stream.rstCode !== undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        finish(stream.rstCode === constants.NGHTTP2_CANCEL ? Status.CANCELLED : Status.INTERNAL, `stream reset (code ${stream.rstCode})`);
      } else finish(Status.UNKNOWN, 'the server ended the call without a status');
    });
    stream.on('error', (err: Error) => finish(Status.UNAVAILABLE, err.message));
    return {
      send(message) {
        const prefix = Buffer.allocUnsafe(5);
        prefix[0] = 0;
        prefix.writeUInt32BE(message.byteLength, 1);
        stream.write(prefix);
        stream.write(message);
      },
      end: () => { if (!stream.writableEnded) stream.end(); },
      cancel: () => abort(Status.CANCELLED, 'cancelled'),
      onMessage(l) {
        listener = l;
        for (const m of early.splice(0)) l(m);
      },
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      done,
    };
  }

  /** Closes the connection once its calls have ended; later calls fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    this.session?.close();
  }
}
