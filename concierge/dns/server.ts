// The DNS cache's sockets: UDP and TCP on one address and port, both answered by one resolver.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { log } from '../log/logger.js';
import type { CachingResolver } from './resolver.js';

/** A TCP client idle this long is disconnected (RFC 7766 suggests seconds, not minutes). */
const tcpIdleMs = 10_000;

export interface DnsServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on `address`:`port` (0: a free port, the same for UDP and TCP). */
export async function listenDns(resolver: CachingResolver, address: string, port = 53): Promise<DnsServer> {
  for (let attempt = 0; ; attempt++) {
    const udp = await bindUdp(resolver, address, port);
    const bound = udp.address().port;
    try {
      const tcp = await listenTcp(resolver, address, bound);
      log.info({ address, port: bound }, `dns: cache listening on ${isIPv6(address) ? `[${address}]` : address}:${bound} (udp, tcp)`);
      return {
        address,
        port: bound,
        close: () => new Promise<void>((resolve) => {
          udp.close();
          tcp.close(() => resolve());
        }),
      };
    } catch (err) {
      udp.close();
      // A free UDP port may be taken for TCP by someone else: try another, when any port would do.
      if (port !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

function bindUdp(resolver: CachingResolver, address: string, port: number): Promise<UdpSocket> {
  const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
  socket.on('message', (msg, from) => {
    void resolver.resolve(msg, 'udp').then((answer) => {
      if (answer !== undefined) socket.send(answer, from.port, from.address);
    });
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      // A send to a client gone away must not end the process.
      socket.on('error', (err) => log.warn({ err: err.message }, 'dns: udp socket error'));
      resolve(socket);
    });
  });
}

function listenTcp(resolver: CachingResolver, address: string, port: number): Promise<Server> {
  const server = createServer((socket) => serveTcpClient(resolver, socket));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** A TCP client may send several length-prefixed queries, pipelined; answers go back as they come. */
function serveTcpClient(resolver: CachingResolver, socket: Socket): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.setTimeout(tcpIdleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) break;
      const query = buffered.subarray(2, 2 + length);
      buffered = buffered.subarray(2 + length);
      void resolver.resolve(Buffer.from(query), 'tcp').then((answer) => {
        if (answer === undefined || socket.destroyed) return;
        const framed = Buffer.alloc(2 + answer.length);
        framed.writeUInt16BE(answer.length, 0);
        answer.copy(framed, 2);
        socket.write(framed);
      });
    }
  });
}
