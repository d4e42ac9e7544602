/**
 * A chunked request body followed as Go 1.19's server reads it (net/http/internal's chunkedReader and
 * the body's trailer read): a chunk-size line ends at LF, its trailing spaces, tabs and CRs are
 * dropped and everything from the first ';' is an ignored extension; the rest must be hex (an empty
 * size is the last chunk). Chunk data is followed by exactly CRLF. The trailer accepted here is a
 * strict subset of Go's (CRLF lines `name: value`, then CRLF): anything else is refused rather than
 * risk ending the body somewhere dockerd does not.
 */
import { ProxyError } from '../errors.js';

/** Go's chunk-line limit: the line with its LF must be shorter than this. */
const MAX_LINE = 4096;
/** 13 hex digits (2^52): a larger chunk is refused (Go allows 16). */
const MAX_SIZE_DIGITS = 13;
const MAX_TRAILER_BYTES = 4096;

const enum State {
  SizeLine,
  Data,
  DataCR,
  DataLF,
  TrailerLineStart,
  TrailerLine,
  TrailerLF,
  FinalLF,
  Done,
}

function malformed(why: string): ProxyError {
  return new ProxyError(400, `malformed chunked encoding: ${why}`);
}

const TRAILER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `name: value` with a token name and no control byte but tab in the value. */
function validTrailerLine(line: string): boolean {
  const colon = line.indexOf(':');
  if (colon <= 0 || !TRAILER_NAME.test(line.slice(0, colon))) return false;
  for (let i = colon + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** Follows a chunked body across reads; each `consume` returns how many bytes from `start` are body. */
export class GoChunkedBody {
  private state = State.SizeLine;
  private line = '';
  private remaining = 0;
  private trailerBytes = 0;
  /** Each chunk's data as [start, end) of the buffer given to the last `consume`, when kept (for decoding). */
  readonly dataRanges: Array<[number, number]> = [];

  constructor(private readonly keepRanges = false) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  consume(buf: Buffer, start: number): number {
    if (this.keepRanges) this.dataRanges.length = 0;
    let i = start;
    const end = buf.length;
    while (i < end && this.state !== State.Done) {
      if (this.state === State.Data) {
        const n = Math.min(this.remaining, end - i);
        if (this.keepRanges) this.dataRanges.push([i, i + n]);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.state = State.DataCR;
        continue;
      }
      const c = buf[i++]!;
      switch (this.state) {
        case State.SizeLine:
          if (c !== 0x0a) {
            this.line += String.fromCharCode(c);
            if (this.line.length >= MAX_LINE - 1) throw malformed('chunk line too long');
            // Before any extension only hex digits then trailing spaces can make a size: anything else is
            // refused now, as Go refuses it once the line ends (which a client may never send).
            if (!this.line.includes(';') && !/^[0-9A-Fa-f]*[ \t\r]*$/.test(this.line)) throw malformed('invalid byte in chunk length');
            break;
          }
          this.remaining = chunkSize(this.line);
          this.line = '';
          this.state = this.remaining === 0 ? State.TrailerLineStart : State.Data;
          break;
        case State.DataCR:
          if (c !== 0x0d) throw malformed('chunk data not followed by CRLF');
          this.state = State.DataLF;
          break;
        case State.DataLF:
          if (c !== 0x0a) throw malformed('chunk data not followed by CRLF');
          this.state = State.SizeLine;
          break;
        case State.TrailerLineStart:
          if (c === 0x0d) {
            this.state = State.FinalLF;
            break;
          }
          this.state = State.TrailerLine;
          this.line = String.fromCharCode(c);
          break;
        case State.TrailerLine:
          if (++this.trailerBytes > MAX_TRAILER_BYTES) throw malformed('trailer too long');
          if (c === 0x0d) {
            if (!validTrailerLine(this.line)) throw malformed('trailer line');
            this.line = '';
            this.state = State.TrailerLF;
          } else if (c === 0x0a) throw malformed('trailer line ends in a bare LF');
          else this.line += String.fromCharCode(c);
          break;
        case State.TrailerLF:
          if (c !== 0x0a) throw malformed('trailer line ends in a bare CR');
          this.state = State.TrailerLineStart;
          break;
        case State.FinalLF:
          if (c !== 0x0a) throw malformed('end of chunked body');
          this.state = State.Done;
          break;
      }
    }
    return i - start;
  }
}

/** The size on a chunk line (without its LF), as Go reads it. */
export function chunkSize(rawLine: string): number {
  const trimmed = rawLine.replace(/[ \t\r\n]+$/, '');
  const semi = trimmed.indexOf(';');
  const digits = semi < 0 ? trimmed : trimmed.slice(0, semi);
  if (!/^[0-9A-Fa-f]*$/.test(digits)) throw malformed('invalid byte in chunk length');
  if (digits.length > MAX_SIZE_DIGITS) throw malformed('chunk length too large');
  return digits === '' ? 0 : parseInt(digits, 16);
}

/**
 * Reads a whole chunked body from `buf` at `start`: its decoded bytes and where it ends, or undefined
 * when more bytes are needed. Throws ProxyError when malformed, or a 413 past `max` decoded bytes.
 */
export function readChunkedBody(buf: Buffer, start: number, max: number): { body: Buffer; end: number } | undefined {
  const reader = new GoChunkedBody(true);
  const n = reader.consume(buf, start);
  let size = 0;
  for (const [a, b] of reader.dataRanges) size += b - a;
  if (size > max) throw new ProxyError(413, `request body larger than the ${max} bytes this endpoint accepts`);
  if (!reader.done) return undefined;
  return { body: Buffer.concat(reader.dataRanges.map(([a, b]) => buf.subarray(a, b))), end: start + n };
}
