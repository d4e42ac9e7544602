// A byte channel to the host that the host can close and reopen (a virtio-serial port, or a stand-in in
// tests), turned into one Duplex per host session: bytes after the host closed never reach a later
// session, and a session its user destroyed (bad bytes from the host) is replaced by a fresh one when
// the next bytes arrive.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { log } from '../log/logger.js';

/** The raw channel: a read resolving 0 means the host is not (or no longer) connected. */
export interface ChannelIo {
  read(buffer: Buffer): Promise<number>;
  write(data: Buffer): Promise<void>;
}

class SessionStream extends Duplex {
  /** The host left: what this session still writes goes nowhere. */
  hostGone = false;
  private wantMore: (() => void) | undefined;

  constructor(private readonly io: ChannelIo, private readonly onGone: (s: SessionStream) => void) {
    super({ allowHalfOpen: false });
  }

  /** Resolves when the reader asks for more (after a push returned false). */
  waitForDemand(): Promise<void> {
    return new Promise((resolve) => { this.wantMore = resolve; });
  }

  override _read(): void {
    const resume = this.wantMore;
    this.wantMore = undefined;
    resume?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.hostGone) {
      callback();
      return;
    }
    this.io.write(chunk).then(() => callback(), (err: Error) => callback(err));
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.hostGone = true;
    this.onGone(this);
    this._read();
    callback(err);
  }
}

export class HostChannel extends EventEmitter<{ session: [stream: Duplex] }> {
  private current: SessionStream | undefined;
  private closed = false;
  /** Sessions started so far (for the log and tests). */
  sessions = 0;

  /** `idleRetryMs`: how long to wait before reading again while no host is connected. */
  constructor(private readonly io: ChannelIo, private readonly idleRetryMs = 200, private readonly chunkSize = 64 * 1024) {
    super();
  }

  start(): void {
    void this.readLoop().catch((err: Error) => log.error({ err: err.message }, 'host channel: reading failed; channel closed'));
  }

  close(): void {
    this.closed = true;
    this.current?.destroy();
  }

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      const buffer = Buffer.allocUnsafe(this.chunkSize);
      const n = await this.io.read(buffer);
      if (this.closed) return;
      if (n === 0) {
        this.endSession();
        await new Promise((resolve) => setTimeout(resolve, this.idleRetryMs));
        continue;
      }
      const session = this.current ?? this.newSession();
      if (!session.push(buffer.subarray(0, n)) && !session.destroyed) await session.waitForDemand();
    }
  }

  private newSession(): SessionStream {
    const session = new SessionStream(this.io, (s) => {
      if (this.current === s) this.current = undefined;
    });
    this.current = session;
    this.sessions++;
    log.info({ session: this.sessions }, 'host channel: host connected');
    this.emit('session', session);
    return session;
  }

  /** The host closed its end: the session ends here, and its late writes are dropped. */
  private endSession(): void {
    const session = this.current;
    if (session === undefined) return;
    this.current = undefined;
    session.hostGone = true;
    session.push(null);
    session.destroy();
    log.info({ session: this.sessions }, 'host channel: host disconnected');
  }
}
