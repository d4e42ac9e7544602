// A bare byte-for-byte passthrough in Node (no HTTP at all): the floor cost of forwarding bytes with
// Node streams, to tell the proxy's own work from Node's I/O. Two ways of reading dockerd's side:
//   pipe    client.pipe(upstream) and back: Node's default read path, a new Buffer per read
//   onread  dockerd's side read with `onread` into a reused buffer (a fresh one only while the last
//           chunk is still queued for writing): no allocation, so far less GC, per read
// Usage: node bench/floor/node-pipe.mjs <listen sock> <dockerd sock> pipe|onread
import { createServer, connect } from 'node:net';
import { unlinkSync } from 'node:fs';

const [listen, upstream, mode = 'pipe'] = process.argv.slice(2);
const READ_SIZE = 64 * 1024;
try {
  unlinkSync(listen);
} catch {}

function pipeUpstream(client) {
  const up = connect({ path: upstream, allowHalfOpen: true });
  up.pipe(client);
  return up;
}

function onreadUpstream(client) {
  let buffer = Buffer.allocUnsafe(READ_SIZE);
  const up = connect({
    path: upstream,
    allowHalfOpen: true,
    onread: {
      buffer: () => buffer,
      callback(n, buf) {
        const ok = client.write(buf.subarray(0, n));
        if (client.writableLength > 0) buffer = Buffer.allocUnsafe(READ_SIZE);
        if (!ok) {
          up.pause();
          client.once('drain', () => up.resume());
        }
        return true;
      },
    },
  });
  up.on('end', () => client.end());
  return up;
}

createServer({ allowHalfOpen: true }, (client) => {
  const up = mode === 'onread' ? onreadUpstream(client) : pipeUpstream(client);
  client.pipe(up);
  client.on('error', () => up.destroy());
  up.on('error', () => client.destroy());
}).listen(listen);
process.on('SIGTERM', () => process.exit(0));
