// A stand-in registry (plain HTTP on loopback) for what a real one will not do: send bytes that do not
// match their digest, stall in the middle of a layer, or ask for a bearer token from a token server
// (served here too, at /token) instead of basic auth.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sha, type ImageBlobs } from '../../workloads/image-fixtures.js';

export interface StandInOptions {
  /** Bearer token auth: the token server takes these credentials (basic) and issues a token. */
  tokenAuth?: { username: string; password: string };
  /** Digests whose bytes are sent with one byte flipped. */
  corrupt?: Set<string>;
  /** Digests of which half is sent, then nothing more (the connection stays open). */
  stall?: Set<string>;
}

export class StandInRegistry {
  private readonly blobs = new Map<string, Buffer>();
  private readonly manifests = new Map<string, { mediaType: string; bytes: Buffer }>();
  private readonly tokens = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  /** Requests seen, as "METHOD path" (token requests included). */
  readonly requests: string[] = [];
  host = '';

  constructor(private readonly options: StandInOptions = {}) {}

  add(repository: string, tag: string, image: ImageBlobs): string {
    for (const b of [...image.layers, image.config]) this.blobs.set(sha(b), b);
    const digest = sha(image.manifest);
    for (const ref of [tag, digest]) this.manifests.set(`${repository}:${ref}`, { mediaType: image.manifestMediaType, bytes: image.manifest });
    return digest;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s: Socket) => { this.sockets.add(s); s.once('close', () => this.sockets.delete(s)); });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    this.host = `127.0.0.1:${address.port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    this.requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname === '/token') return this.token(req, url, res);
    const auth = this.options.tokenAuth;
    if (auth !== undefined && !this.tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) {
      const repository = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${this.host}/token",service="stand-in",scope="repository:${repository}:pull"`,
        'content-type': 'application/json',
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (manifest !== null) {
      const found = this.manifests.get(`${manifest[1]}:${manifest[2]}`);
      if (found === undefined) return notFound(res, 'MANIFEST_UNKNOWN');
      res.writeHead(200, { 'content-type': found.mediaType, 'docker-content-digest': sha(found.bytes), 'content-length': found.bytes.length });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
      return;
    }
    const blob = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    const bytes = blob === null ? undefined : this.blobs.get(blob[1]!);
    if (blob === null || bytes === undefined) return notFound(res, 'BLOB_UNKNOWN');
    const digest = blob[1]!;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    if (this.options.stall?.has(digest)) {
      res.write(bytes.subarray(0, bytes.length >> 1)); // and nothing more
      return;
    }
    if (this.options.corrupt?.has(digest)) {
      const bad = Buffer.from(bytes);
      bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff;
      res.end(bad);
      return;
    }
    res.end(bytes);
  }

  private token(req: IncomingMessage, url: URL, res: ServerResponse): void {
    const auth = this.options.tokenAuth;
    const expected = auth === undefined ? '' : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    if (req.headers.authorization !== expected || url.searchParams.get('service') !== 'stand-in' || !url.searchParams.get('scope')) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const token = randomBytes(16).toString('hex');
    this.tokens.add(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300 }));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}

function notFound(res: ServerResponse, code: string): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ errors: [{ code, message: 'not found' }] }));
}
