import { connect, type Socket } from 'node:net';

/**
 * HTTP/1.1 spoken by hand over a unix socket, so the protocol checks control every byte: what
 * goes out in which write, when the client half-closes, and what framing comes back.
 */
export interface RawResponse {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  /** How the body was delimited: a transparent proxy keeps dockerd's choice. */
  framing: 'length' | 'chunked' | 'none' | 'close';
  body: Buffer;
}

export class RawConnection {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', (err) => {
      this.failure = err;
      this.ended = true;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  static open(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Half-close: no more bytes from the client, the other direction stays open. */
  endWriting(): void {
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  /** True once the server closed its side (or the connection failed). */
  get closedByServer(): boolean {
    return this.ended;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  private async waitFor<T>(take: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      if (this.ended) throw new Error(`connection ended while waiting for ${what}${this.failure ? `: ${this.failure.message}` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms (have ${JSON.stringify(this.buffered.toString('latin1').slice(0, 300))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private take(n: number): Buffer {
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** Reads one response. A 101, or `untilClose`, leaves the rest of the stream for `readToEnd`. */
  async readResponse({ timeoutMs = 30_000, bodyless = false } = {}): Promise<RawResponse> {
    const head = await this.waitFor(
      () => {
        const end = this.buffered.indexOf('\r\n\r\n');
        return end < 0 ? undefined : this.take(end + 4).toString('latin1');
      },
      timeoutMs,
      'response head',
    );
    const [statusLine = '', ...lines] = head.slice(0, -4).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const base = { statusLine, status, headers };
    if (bodyless || status === 101 || status === 204 || status === 304) return { ...base, framing: 'none', body: Buffer.alloc(0) };
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const size = await this.waitFor(
          () => {
            const end = this.buffered.indexOf('\r\n');
            return end < 0 ? undefined : parseInt(this.take(end + 2).toString('latin1'), 16);
          },
          timeoutMs,
          'chunk size',
        );
        const chunk = await this.waitFor(() => (this.buffered.length >= size + 2 ? this.take(size + 2) : undefined), timeoutMs, 'chunk');
        if (size === 0) break;
        parts.push(chunk.subarray(0, size));
      }
      return { ...base, framing: 'chunked', body: Buffer.concat(parts) };
    }
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      const body = await this.waitFor(() => (this.buffered.length >= length ? this.take(length) : undefined), timeoutMs, 'body');
      return { ...base, framing: 'length', body };
    }
    if (status === 200 && headers['content-type']?.startsWith('application/vnd.docker')) {
      return { ...base, framing: 'none', body: Buffer.alloc(0) };
    }
    return { ...base, framing: 'close', body: await this.readToEnd(timeoutMs) };
  }

  /**
   * Waits until what arrived satisfies `complete`, or the server closes, or `timeoutMs` passes; takes
   * all of it. `closed`: the server closed (or the connection failed) before it was complete.
   */
  async readUntil(complete: (received: Buffer) => boolean, timeoutMs: number): Promise<{ bytes: Buffer; closed: boolean }> {
    let closed = false;
    await this.waitFor(() => (complete(this.buffered) ? true : undefined), timeoutMs, 'a complete answer').catch(() => {
      closed = this.ended;
    });
    return { bytes: this.take(this.buffered.length), closed };
  }

  /** Everything the server sends until it closes its side. */
  async readToEnd(timeoutMs = 30_000): Promise<Buffer> {
    await this.waitFor(() => (this.ended ? true : undefined), timeoutMs, 'end of stream').catch((err: Error) => {
      if (!this.ended) throw err;
    });
    return this.take(this.buffered.length);
  }
}

/** One answer to bytes sent by `raw`, as text. */
export interface RawAnswer {
  status: number;
  /** The status line and header lines. */
  headers: string;
  body: string;
  /** The connection was closed by the other side (as opposed to our timeout). */
  closed: boolean;
}

/** True once `received` holds a head and as much body as its Content-Length says. */
function answeredByLength(received: Buffer): boolean {
  const headEnd = received.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(received.toString('latin1', 0, headEnd))?.[1];
  return length !== undefined && received.length >= headEnd + 4 + Number(length);
}

/**
 * Writes exact bytes on a fresh connection and reads one answer (to the end of its Content-Length, or
 * to the close). For bodies and framings a well-behaved client would never send.
 */
export async function raw(socketPath: string, bytes: Buffer | string, timeoutMs = 10_000): Promise<RawAnswer> {
  const connection = await RawConnection.open(socketPath);
  // The other side may answer and close before a large body is written: what it answered is kept.
  connection.write(bytes);
  const { bytes: received, closed } = await connection.readUntil(answeredByLength, timeoutMs);
  connection.close();
  const text = received.toString('utf8');
  const headEnd = text.indexOf('\r\n\r\n');
  const headers = headEnd < 0 ? text : text.slice(0, headEnd);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1] ?? 0);
  return { status, headers, body: headEnd < 0 ? '' : text.slice(headEnd + 4), closed };
}

/** A POST with a JSON text body, byte-exact, Content-Length computed unless given. */
export function rawPost(socketPath: string, path: string, body: string, contentLength?: number | string): Promise<RawAnswer> {
  const length = contentLength ?? Buffer.byteLength(body);
  return raw(socketPath, `POST ${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`);
}

/** Formats a request head (and body) the way a plain client would. */
export function requestBytes(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const all: Record<string, string> = { Host: 'docker', ...headers };
  if (body !== undefined && all['Transfer-Encoding'] === undefined) all['Content-Length'] = String(Buffer.byteLength(body));
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
}

/** Encodes pieces as an HTTP/1.1 chunked body. */
export function chunked(pieces: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const piece of pieces) {
    const b = Buffer.from(piece);
    parts.push(Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** The whole frames of Docker's multiplexed stdout/stderr stream (8-byte frame headers), and where they end. */
function dockerFrames(data: Buffer): { frames: Array<{ stream: number; payload: Buffer }>; end: number } {
  const frames: Array<{ stream: number; payload: Buffer }> = [];
  let at = 0;
  while (at + 8 <= data.length) {
    const size = data.readUInt32BE(at + 4);
    if (at + 8 + size > data.length) break;
    frames.push({ stream: data[at]!, payload: data.subarray(at + 8, at + 8 + size) });
    at += 8 + size;
  }
  return { frames, end: at };
}

/** Splits Docker's multiplexed stdout/stderr stream. */
export function demuxDockerStream(data: Buffer): { stdout: string; stderr: string; rest: number } {
  const { frames, end } = dockerFrames(data);
  const text = (stream: (n: number) => boolean): string => Buffer.concat(frames.filter((f) => stream(f.stream)).map((f) => f.payload)).toString('utf8');
  return { stdout: text((n) => n !== 2), stderr: text((n) => n === 2), rest: data.length - end };
}

/** The text of Docker's multiplexed stream, stdout and stderr together in the order written. */
export function dockerStreamText(data: Buffer): string {
  return dockerFrames(data).frames.map((f) => f.payload.toString()).join('');
}
