// Checks a blob while it streams: its length may not pass the descriptor's size, and at the end its
// sha256 must be the descriptor's digest (unless its reader checks that itself, as containerd's content
// store does at commit). A mismatch fails the stream, so nothing unverified is committed.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors.js';

export class DigestVerifier extends Transform {
  private readonly hash;
  private seen = 0;

  constructor(private readonly digest: string, private readonly size: number, private readonly what: string, hashed: boolean) {
    super();
    this.hash = hashed ? createHash('sha256') : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.size) {
      done(new RegistryError('digest', `${this.what}: the registry sent more than the ${this.size} bytes its descriptor names`));
      return;
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.seen !== this.size) {
      done(new RegistryError('digest', `${this.what}: the registry sent ${this.seen} of ${this.size} bytes`));
      return;
    }
    const actual = this.hash === undefined ? this.digest : `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      done(new RegistryError('digest', digestMismatch(this.what, actual)));
      return;
    }
    done();
  }
}

export function digestMismatch(what: string, actual: string): string {
  return `${what}: the bytes do not match the digest (they hash to ${actual})`;
}
