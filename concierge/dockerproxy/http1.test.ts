import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  findHeadEnd,
  HttpParseError,
  parseRequestHead,
  parseResponseHead,
  requestFraming,
  responseFraming,
  trackBody,
} from './http1.js';

function request(text: string) {
  const buf = Buffer.from(text, 'latin1');
  return parseRequestHead(buf, findHeadEnd(buf));
}

function response(text: string) {
  const buf = Buffer.from(text, 'latin1');
  return parseResponseHead(buf, findHeadEnd(buf));
}

describe('request heads', () => {
  it('parses method, target, version and headers case-insensitively', () => {
    const head = request('POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: d\r\ncontent-LENGTH: 12\r\n\r\n');
    expect(head.method).toBe('POST');
    expect(head.target).toBe('/v1.41/containers/create?name=x');
    expect(head.headers.get('content-length')).toBe('12');
    expect(requestFraming(head)).toEqual({ kind: 'length', length: 12 });
  });

  it('refuses ambiguous framing: two lengths, length plus chunked, a non-numeric length', () => {
    const cases = [
      'POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n',
      'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    ];
    for (const text of cases) expect(() => requestFraming(request(text)), text).toThrow(HttpParseError);
  });

  it('refuses malformed lines instead of guessing', () => {
    expect(() => request('GET /\r\n\r\n')).toThrow(HttpParseError);
    expect(() => request('GET / HTTP/1.1\r\nNo colon here\r\n\r\n')).toThrow(HttpParseError);
    expect(() => request('GET / HTTP/1.1\r\n folded: header\r\n\r\n')).toThrow(HttpParseError);
  });
});

describe('response framing', () => {
  it('knows bodiless answers', () => {
    expect(responseFraming(response('HTTP/1.1 204 No Content\r\n\r\n'), 'DELETE')).toEqual({ kind: 'none' });
    expect(responseFraming(response('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'), 'HEAD')).toEqual({ kind: 'none' });
    expect(responseFraming(response('HTTP/1.1 304 Not Modified\r\n\r\n'), 'GET')).toEqual({ kind: 'none' });
  });

  it('treats an unframed 200 as close-delimited (dockerd raw streams)', () => {
    const head = response('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
    expect(responseFraming(head, 'POST')).toEqual({ kind: 'close' });
  });
});

/** Encodes a body as chunks of the given sizes, with optional extensions and trailers. */
function chunked(body: Buffer, sizes: number[], withExtension: boolean): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (const size of sizes) {
    if (pos >= body.length) break;
    const n = Math.min(size, body.length - pos);
    parts.push(Buffer.from(`${n.toString(16)}${withExtension ? ';x=y' : ''}\r\n`), body.subarray(pos, pos + n), Buffer.from('\r\n'));
    pos += n;
  }
  if (pos < body.length) {
    const rest = body.length - pos;
    parts.push(Buffer.from(`${rest.toString(16)}\r\n`), body.subarray(pos), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(withExtension ? '0\r\nX-Trailer: 1\r\n\r\n' : '0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('chunked bodies', () => {
  it('finds the exact end of a chunked body however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        fc.uint8Array({ maxLength: 20 }),
        (bodyBytes, sizes, ext, splits, trailing) => {
          const encoded = chunked(Buffer.from(bodyBytes), sizes, ext);
          const stream = Buffer.concat([encoded, Buffer.from(trailing)]);
          const tracker = trackBody({ kind: 'chunked' });
          let consumed = 0;
          let pos = 0;
          let i = 0;
          while (pos < stream.length && !tracker.done) {
            const end = Math.min(stream.length, pos + splits[i++ % splits.length]!);
            const piece = stream.subarray(pos, end);
            consumed += tracker.consume(piece, 0);
            pos = end;
          }
          expect(tracker.done).toBe(true);
          expect(consumed).toBe(encoded.length);
        },
      ),
    );
  });

  it('refuses a malformed chunk size', () => {
    const tracker = trackBody({ kind: 'chunked' });
    expect(() => tracker.consume(Buffer.from('zz\r\n'), 0)).toThrow(HttpParseError);
  });

  it('counts a length-delimited body and stops at its end', () => {
    const tracker = trackBody({ kind: 'length', length: 5 });
    expect(tracker.consume(Buffer.from('abc'), 0)).toBe(3);
    expect(tracker.consume(Buffer.from('defgh'), 0)).toBe(2);
    expect(tracker.done).toBe(true);
  });
});
