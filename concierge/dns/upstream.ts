// Asking the spec's DNS servers: UDP first, TCP when the UDP answer is truncated (or the client
// came over TCP), each server in turn until one answers within the time left.
import { createSocket } from 'node:dgram';
import { isIPv6, Socket } from 'node:net';
import { parse } from './message.js';

export interface UpstreamServer {
  address: string;
  port: number;
}

export class UpstreamTimeout extends Error {}

export const serverName = (s: UpstreamServer): string => (isIPv6(s.address) ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`);

/** A message is the answer to a query when it is a response with the query's id and question. */
function answers(query: Buffer, answer: Buffer): boolean {
  if (answer.length < 12 || answer.readUInt16BE(0) !== query.readUInt16BE(0) || (answer[2]! & 0x80) === 0) return false;
  // The question section starts at byte 12 in both; an answer carrying no question is not ours.
  const q = parse(query)?.questions?.[0];
  const a = parse(answer)?.questions?.[0];
  return q === undefined || (a !== undefined && a.name.toLowerCase() === q.name.toLowerCase() && a.type === q.type);
}

/** One UDP exchange; a fresh socket (a random source port) per question, closed after. */
export function askUdp(server: UpstreamServer, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new UpstreamTimeout(`no UDP answer from ${serverName(server)} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (result: Buffer | Error): void => {
      clearTimeout(timer);
      socket.close();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    socket.on('message', (msg, from) => {
      // Anything else arriving on the port (late, spoofed, another server's) is ignored.
      if (from.address === server.address && from.port === server.port && answers(query, msg)) finish(msg);
    });
    socket.on('error', finish);
    socket.send(query, server.port, server.address);
  });
}

/** One TCP exchange: a two-byte length before each message (RFC 1035 4.2.2). */
export function askTcp(server: UpstreamServer, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new UpstreamTimeout(`no TCP answer from ${serverName(server)} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (result: Buffer | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      const msg = received.subarray(2, 2 + length);
      finish(answers(query, msg) ? msg : new Error(`${serverName(server)} answered another question over TCP`));
    });
    socket.on('error', finish);
    socket.on('end', () => finish(new Error(`${serverName(server)} closed the TCP connection without an answer`)));
    const framed = Buffer.alloc(2 + query.length);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    socket.connect(server.port, server.address, () => socket.write(framed));
  });
}

export interface UpstreamAnswer {
  bytes: Buffer;
  server: UpstreamServer;
  overTcp: boolean;
}

/**
 * Asks the servers in turn (each gets an equal share of `timeoutMs`), over UDP unless `tcp`, and
 * again over TCP on the same server when its UDP answer is truncated. Rejects with every server's
 * failure when none answered.
 */
export async function ask(servers: UpstreamServer[], query: Buffer, options: { timeoutMs: number; tcp: boolean }): Promise<UpstreamAnswer> {
  if (servers.length === 0) throw new Error('no upstream DNS servers');
  const share = Math.max(1, Math.floor(options.timeoutMs / servers.length));
  const failures: string[] = [];
  for (const server of servers) {
    const deadline = performance.now() + share;
    try {
      if (!options.tcp) {
        const bytes = await askUdp(server, query, share);
        if ((bytes[2]! & 0x02) === 0) return { bytes, server, overTcp: false };
      }
      const left = Math.max(1, Math.round(deadline - performance.now()));
      return { bytes: await askTcp(server, query, left), server, overTcp: true };
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new UpstreamTimeout(failures.join('; '));
}
