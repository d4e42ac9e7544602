import { STATUS_CODES } from 'node:http';
import { dockerdHeaderLines } from './identity.js';

/** A complete HTTP/1.1 response carrying Docker's error shape, `{"message": "..."}`. */
export function jsonErrorResponse(status: number, message: string, opts: { close: boolean; head?: boolean }): Buffer {
  const body = `${JSON.stringify({ message })}\n`;
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    dockerdHeaderLines() +
    'Content-Type: application/json\r\n' +
    `Date: ${new Date().toUTCString()}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (opts.close ? 'Connection: close\r\n' : '') +
    '\r\n';
  // An answer to HEAD announces its length but carries no body (the next bytes are the next answer).
  return Buffer.from(opts.head === true ? head : head + body);
}
