// Pushes images to a registry with the distribution API (monolithic blob uploads, manifest PUT), as the
// test's own client: what a `docker push` would leave there.
import { Pool } from 'undici';
import { sha, type ImageBlobs } from '../../workloads/image-fixtures.js';

export interface PushTarget {
  host: string;
  ca?: string;
  username?: string;
  password?: string;
  /** Plain HTTP (stand-in registries). */
  insecure?: boolean;
}

export class RegistryPusher {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;

  constructor(private readonly target: PushTarget) {
    this.pool = new Pool(`${target.insecure ? 'http' : 'https'}://${target.host}`, { connect: target.ca === undefined ? {} : { ca: target.ca } });
    this.headers = target.username === undefined ? {}
      : { authorization: `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}` };
  }

  async blob(repository: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const head = await this.pool.request({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, headers: this.headers });
    await head.body.dump();
    if (head.statusCode === 200) return digest;
    const start = await this.pool.request({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, headers: this.headers });
    await start.body.dump();
    const location = start.headers.location;
    if (start.statusCode !== 202 || typeof location !== 'string') throw new Error(`upload start: ${start.statusCode}`);
    const url = new URL(location, 'http://registry');
    url.searchParams.set('digest', digest);
    const put = await this.pool.request({
      method: 'PUT', path: `${url.pathname}${url.search}`, body: data,
      headers: { ...this.headers, 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
    });
    const text = await put.body.text();
    if (put.statusCode !== 201) throw new Error(`upload ${digest}: ${put.statusCode} ${text}`);
    return digest;
  }

  async manifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const put = await this.pool.request({
      method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, body: bytes,
      headers: { ...this.headers, 'content-type': mediaType },
    });
    const text = await put.body.text();
    if (put.statusCode !== 201) throw new Error(`manifest ${repository}:${reference}: ${put.statusCode} ${text}`);
    return sha(bytes);
  }

  /** The image's blobs and its manifest; tagged when `tag` is given. Returns the manifest digest. */
  async image(repository: string, image: ImageBlobs, tag?: string): Promise<string> {
    for (const layer of image.layers) await this.blob(repository, layer);
    await this.blob(repository, image.config);
    return this.manifest(repository, tag ?? sha(image.manifest), image.manifestMediaType, image.manifest);
  }

  /** An index (OCI, or a Docker manifest list) over images already pushed, for their platforms. */
  async index(repository: string, tag: string, entries: { image: ImageBlobs; architecture: string }[], docker = false): Promise<string> {
    const mediaType = docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : 'application/vnd.oci.image.index.v1+json';
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType,
      manifests: entries.map((e) => ({
        mediaType: e.image.manifestMediaType, digest: sha(e.image.manifest), size: e.image.manifest.length,
        platform: { os: 'linux', architecture: e.architecture },
      })),
    }));
    return this.manifest(repository, tag, mediaType, bytes);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
