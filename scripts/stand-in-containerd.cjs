// A stand-in containerd for the build's code cache (sea-code-cache.cjs): gRPC over HTTP/2 on a unix
// socket, answering every unary call with an empty message (protobuf's defaults) except the Gets,
// which answer NOT_FOUND (a free container id, an image not yet there), tasks' Wait a moment later,
// and the event stream held open with no event. Enough for an archive's import and a workload's
// start and removal to run through the client; it keeps no state. runWorkloadPath runs the build's
// workload path against it with an archive of its own (sea-code-cache.cjs and its test).
'use strict';
const { createHash } = require('node:crypto');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const http2 = require('node:http2');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const tarStream = require('tar-stream');

const notFound = 5;
/** A gRPC message frame of an empty message: not compressed, length 0. */
const emptyMessage = Buffer.alloc(5);

function answer(stream, path) {
  const method = path.slice(path.lastIndexOf('/') + 1);
  if (method === 'Get') {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(notFound), 'grpc-message': 'not found' }, { endStream: true });
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  if (path === '/containerd.services.events.v1.Events/Subscribe') return;
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  const send = () => stream.end(emptyMessage);
  if (method === 'Wait') setTimeout(send, 50);
  else send();
}

/** Serves on `socketPath`; resolves once listening, with the methods called (their paths) and its close. */
function serve(socketPath) {
  const server = http2.createServer();
  const streams = new Set();
  const calls = [];
  server.on('stream', (stream, headers) => {
    calls.push(headers[':path']);
    streams.add(stream);
    stream.on('close', () => streams.delete(stream));
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => { if (!stream.headersSent) answer(stream, headers[':path']); });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve({
      calls,
      close: () => new Promise((done) => {
        for (const s of streams) s.close();
        server.close(() => done());
      }),
    }));
  });
}

/** A `docker save` archive of one image with one uncompressed layer holding one file. */
async function writeDockerArchive(path) {
  const tar = (entries) => new Promise((resolve, reject) => {
    const pack = tarStream.pack();
    const chunks = [];
    pack.on('data', (c) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    for (const [name, body] of entries) pack.entry({ name }, body);
    pack.finalize();
  });
  const layer = await tar([['etc/code-cache', 'x\n']]);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/true'], Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [diffId] } });
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['concierge.local/code-cache:1'], Layers: ['layer.tar'] }]);
  writeFileSync(path, await tar([['manifest.json', manifest], ['config.json', config], ['layer.tar', layer]]));
}

/**
 * Runs `compileWorkloadPath` (the bundle's, cli/init.ts) against a stand-in served in a scratch
 * directory, with an archive of its own; resolves with the methods called, in order.
 */
async function runWorkloadPath(compileWorkloadPath) {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-code-cache-'));
  try {
    const containerd = await serve(join(dir, 'containerd.sock'));
    try {
      await writeDockerArchive(join(dir, 'image.tar'));
      await compileWorkloadPath(join(dir, 'containerd.sock'), dir, join(dir, 'image.tar'));
    } finally {
      await containerd.close();
    }
    return containerd.calls;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { runWorkloadPath };
