// A stand-in for a virtio-serial port in unit tests: the guest reads what the host wrote, a read returns
// 0 while no host is connected (as the port's driver does), and the host connects as a Duplex the way
// qemu's chardev unix socket would give it.
import { Duplex } from 'node:stream';
import type { ChannelIo } from '../../concierge/hostchannel/byte-channel.js';

export class PortStandIn implements ChannelIo {
  private queue: Buffer[] = [];
  private waiting: ((n: Buffer | null) => void) | undefined;
  private host: Duplex | undefined;

  read(buffer: Buffer): Promise<number> {
    const fill = (data: Buffer | null): number => {
      if (data === null) return 0;
      const n = data.copy(buffer, 0, 0, Math.min(data.length, buffer.length));
      if (n < data.length) this.queue.unshift(data.subarray(n));
      return n;
    };
    if (this.host === undefined) return Promise.resolve(0);
    const next = this.queue.shift();
    if (next !== undefined) return Promise.resolve(fill(next));
    return new Promise((resolve) => { this.waiting = (d) => resolve(fill(d)); });
  }

  write(data: Buffer): Promise<void> {
    this.host?.push(Buffer.from(data));
    return Promise.resolve();
  }

  private deliver(data: Buffer | null): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w !== undefined) w(data);
    else if (data !== null) this.queue.push(data);
  }

  /** The host opens the channel: a Duplex as qemu's chardev socket would give it. */
  connect(): Duplex {
    this.queue = [];
    const host: Duplex = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _e, cb) => { if (this.host === host) this.deliver(Buffer.from(chunk)); cb(); },
      destroy: (_err, cb) => { if (this.host === host) { this.host = undefined; this.deliver(null); } cb(null); },
    });
    this.host = host;
    return host;
  }
}

