import { connect as http2Connect, constants } from 'node:http2';
import { connect, type Socket } from 'node:net';

/** What a gRPC call over an upgraded connection came back with. */
export interface GrpcCallResult {
  upgradeStatusLine: string;
  status: number | undefined;
  contentType: string | undefined;
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  /** The response messages, gRPC length prefixes included. */
  body: Buffer;
}

/**
 * Does what buildx does against dockerd's `/grpc`: an HTTP/1.1 request upgraded to h2c, then
 * HTTP/2 with gRPC on the same connection. One unary call with an empty request message.
 */
export async function grpcCallOverUpgrade(socketPath: string, upgradePath: string, method: string): Promise<GrpcCallResult> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  socket.write(`POST ${upgradePath} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n`);
  const { statusLine, rest } = await new Promise<{ statusLine: string; rest: Buffer }>((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ statusLine: seen.subarray(0, seen.indexOf('\r\n')).toString('latin1'), rest: seen.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => reject(new Error(`connection ended before the upgrade answer: ${seen.toString('latin1')}`)));
  });
  if (!statusLine.includes(' 101 ')) {
    socket.destroy();
    return { upgradeStatusLine: statusLine, status: undefined, contentType: undefined, grpcStatus: undefined, grpcMessage: undefined, body: Buffer.alloc(0) };
  }
  socket.removeAllListeners('end');
  if (rest.length > 0) socket.unshift(rest);
  const session = http2Connect('http://docker', { createConnection: () => socket });
  try {
    return await new Promise<GrpcCallResult>((resolve, reject) => {
      session.once('error', reject);
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: method,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let status: number | undefined;
      let contentType: string | undefined;
      const parts: Buffer[] = [];
      stream.on('response', (headers) => {
        status = Number(headers[constants.HTTP2_HEADER_STATUS]);
        contentType = headers['content-type'];
      });
      let trailers: Record<string, unknown> = {};
      stream.on('trailers', (t: Record<string, unknown>) => {
        trailers = t;
      });
      // A trailers-only answer (an error) carries grpc-status in the headers.
      stream.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) trailers = headers;
      });
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('error', reject);
      stream.on('end', () =>
        resolve({
          upgradeStatusLine: statusLine,
          status,
          contentType,
          grpcStatus: trailers['grpc-status'] as string | undefined,
          grpcMessage: trailers['grpc-message'] as string | undefined,
          body: Buffer.concat(parts),
        }),
      );
      // An empty request message: flag 0, length 0.
      stream.end(Buffer.alloc(5));
    });
  } finally {
    session.destroy();
    socket.destroy();
  }
}
