import { STATUS_CODES } from 'node:http';

/**
 * The one error of the proxy: anything refused, malformed or failed that the client is answered for.
 * It maps to an answer in one place (`errorAnswer`): Docker's `{"message": ...}` JSON, or, for a
 * request Go's HTTP server itself refuses before dockerd's handlers run, Go's plain-text answer.
 */
export class ProxyError extends Error {
  override name = 'ProxyError';
  constructor(
    readonly status: number,
    message: string,
    readonly answer: { kind: 'json' } | { kind: 'go-text'; text: string } | { kind: 'text'; text: string } = { kind: 'json' },
  ) {
    super(message);
  }
}

export interface AnswerOptions {
  /** Close the connection after the answer. */
  close: boolean;
  /** An answer to HEAD announces its length but carries no body (the next bytes are the next answer). */
  head?: boolean;
  /** dockerd's identity headers ("Name: value\r\n"...), so a local answer looks like one of dockerd's. */
  dockerdHeaders?: string;
}

/** The bytes of the answer to `err`. */
export function errorAnswer(err: ProxyError, opts: AnswerOptions): Buffer {
  const a = err.answer;
  if (a.kind === 'go-text') {
    // Exactly what Go's server writes before hanging up: no Date, no Content-Length, dockerd's middleware never ran.
    const [code, ...rest] = a.text.split(' ');
    return Buffer.from(`HTTP/1.1 ${code} ${rest.join(' ')}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${a.text}`, 'latin1');
  }
  const body = a.kind === 'json' ? `${JSON.stringify({ message: err.message })}\n` : `${a.text}\n`;
  const contentType = a.kind === 'json' ? 'application/json' : 'text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff';
  const head =
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n` +
    (opts.dockerdHeaders ?? '') +
    `Content-Type: ${contentType}\r\n` +
    `Date: ${new Date().toUTCString()}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (opts.close ? 'Connection: close\r\n' : '') +
    '\r\n';
  return Buffer.from(opts.head === true ? head : head + body);
}

/** A JSON error answer from a status and message (the data path's refusals). */
export function jsonErrorResponse(status: number, message: string, opts: AnswerOptions): Buffer {
  return errorAnswer(new ProxyError(status, message), opts);
}
