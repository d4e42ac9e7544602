// A DNS client for tests and benchmarks: one question over UDP or TCP, the answer decoded.
import { createSocket } from 'node:dgram';
import { Socket } from 'node:net';
import * as packet from 'dns-packet';

export interface DnsQuestionOptions {
  tcp?: boolean;
  /** Send an EDNS OPT record with this UDP payload size. */
  edns?: number;
  timeoutMs?: number;
  id?: number;
}

export function queryBytes(name: string, type: packet.RecordType, options: DnsQuestionOptions = {}): Buffer {
  return packet.encode({
    type: 'query',
    id: options.id ?? 4242,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    additionals: options.edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: options.edns, flags: 0 } as packet.OptAnswer],
  });
}

/** The raw answer to raw query bytes. */
export function exchange(server: { address: string; port: number }, query: Buffer, options: DnsQuestionOptions = {}): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no DNS answer from ${server.address}:${server.port} in ${timeoutMs} ms`)), timeoutMs);
    let close = (): void => undefined;
    const done = (result: Buffer | Error): void => {
      clearTimeout(timer);
      close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    if (options.tcp === true) {
      const socket = new Socket();
      close = () => socket.destroy();
      let got = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) done(got.subarray(2, 2 + got.readUInt16BE(0)));
      });
      socket.on('error', done);
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      socket.connect(server.port, server.address, () => socket.write(framed));
    } else {
      const socket = createSocket('udp4');
      close = () => socket.close();
      socket.on('message', (m) => done(m));
      socket.on('error', done);
      socket.send(query, server.port, server.address);
    }
  });
}

export async function ask(server: { address: string; port: number }, name: string, type: packet.RecordType, options: DnsQuestionOptions = {}): Promise<packet.DecodedPacket & { rcode: string; size: number }> {
  const bytes = await exchange(server, queryBytes(name, type, options), options);
  return Object.assign(packet.decode(bytes) as packet.DecodedPacket & { rcode: string }, { size: bytes.length });
}
