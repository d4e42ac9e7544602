// The distribution API for one pull's needs: manifests by tag or digest and blobs by digest, from a
// registry's mirrors first and then the registry itself, with authorization answered as challenged and
// blobs verified while they stream.
import { createHash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { Authorizer } from './auth.js';
import { RegistryError } from './errors.js';
import { manifestAccept, readManifestDocument, type Descriptor, type ImageIndex, type ImageManifest } from './manifest.js';
import { apiHost, type ImageReference } from './reference.js';
import type { RegistryHostSettings, RegistrySettings } from './settings.js';
import { readBody, Transport, transportFailure, type HttpAnswer } from './transport.js';
import { DigestVerifier } from './verify.js';

export interface RegistryClientOptions {
  /** Longest silence from a registry before a request fails as stalled (default 30 s). */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Connections per registry origin (default 8). */
  connections?: number;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  document: ImageManifest | ImageIndex;
}

interface Endpoint {
  origin: string;
  settings: RegistryHostSettings | undefined;
  mirror: boolean;
}

const manifestLimit = 4 * 1024 * 1024;
const redirectLimit = 5;
const noSettings: RegistryHostSettings = { insecure: false, mirrors: [] };

export class RegistryClient {
  private readonly transport: Transport;
  private readonly authorizer: Authorizer;

  constructor(private readonly settings: RegistrySettings, options: RegistryClientOptions = {}) {
    this.transport = new Transport({
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      connections: options.connections ?? 8,
    });
    this.authorizer = new Authorizer(this.transport);
  }

  /** Mirrors in the settings' order, then the registry; a mirror's own entry gives its CA and credentials. */
  private endpoints(host: string): Endpoint[] {
    const own = this.settings.get(host);
    const mirrors = (own?.mirrors ?? []).map((origin): Endpoint => ({ origin, settings: this.settings.get(new URL(origin).host), mirror: true }));
    const scheme = own?.insecure === true ? 'http' : 'https';
    return [...mirrors, { origin: `${scheme}://${apiHost(host)}`, settings: own, mirror: false }];
  }

  /** Tries each endpoint until one answers; the registry's own failure is the one reported. */
  private async fromEndpoints<T>(ref: ImageReference, attempt: (endpoint: Endpoint) => Promise<T>): Promise<T> {
    const failures: string[] = [];
    for (const endpoint of this.endpoints(ref.host)) {
      try {
        return await attempt(endpoint);
      } catch (err) {
        if (!endpoint.mirror || (err instanceof Error && err.name === 'AbortError')) {
          if (failures.length > 0 && err instanceof RegistryError) {
            throw new RegistryError(err.reason, `${err.message} (mirrors failed too: ${failures.join('; ')})`);
          }
          throw err;
        }
        failures.push(`${endpoint.origin}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    throw new Error('unreachable: the registry itself is always the last endpoint');
  }

  /** One request with authorization: a 401 is answered once with what its challenge asks for. */
  private async send(endpoint: Endpoint, ref: ImageReference, path: string, headers: Record<string, string>,
    signal: AbortSignal | undefined): Promise<HttpAnswer> {
    const settings = endpoint.settings ?? noSettings;
    const scope = `repository:${ref.repository}:pull`;
    const known = this.authorizer.cached(endpoint.origin, scope);
    const request = (authorization: string | undefined) => this.transport.request(endpoint.origin, settings.ca, {
      path, headers: authorization === undefined ? headers : { ...headers, authorization }, ...(signal === undefined ? {} : { signal }),
    });
    let answer = await request(known);
    if (answer.statusCode !== 401) return answer;
    const challenge = answer.headers['www-authenticate'];
    await answer.body.dump();
    const authorization = await this.authorizer.answer(endpoint.origin, scope, Array.isArray(challenge) ? challenge.join(', ') : challenge,
      settings.credentials, settings.ca, signal);
    answer = await request(authorization);
    if (answer.statusCode === 401) {
      await answer.body.dump();
      this.authorizer.forget(endpoint.origin, scope);
      throw new RegistryError('unauthorized', settings.credentials === undefined
        ? `${endpoint.origin} requires credentials and the registries settings give none`
        : `${endpoint.origin} rejected the credentials of user ${JSON.stringify(settings.credentials.username)}`);
    }
    return answer;
  }

  private async failed(answer: HttpAnswer, endpoint: Endpoint, what: string): Promise<RegistryError> {
    const detail = (await readBody(answer.body, 64 * 1024, 'an error answer').catch(() => Buffer.alloc(0))).toString('utf8');
    const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(detail)?.[1];
    const suffix = code === undefined ? `${answer.statusCode}` : `${answer.statusCode} ${code}`;
    if (answer.statusCode === 404) return new RegistryError('not-found', `${endpoint.origin} has no ${what} (${suffix})`);
    if (answer.statusCode === 403) return new RegistryError('unauthorized', `${endpoint.origin} denied access to ${what} (${suffix})`);
    return new RegistryError('protocol', `${endpoint.origin} answered ${suffix} for ${what}`);
  }

  /** The manifest or index `object` (a tag or digest) names; its digest is checked against the bytes. */
  async manifest(ref: ImageReference, object: string, signal?: AbortSignal): Promise<FetchedManifest> {
    return this.fromEndpoints(ref, async (endpoint) => {
      const what = `manifest ${ref.repository}:${object}`.replace(/:sha256:/, '@sha256:');
      const answer = await this.send(endpoint, ref, `/v2/${ref.repository}/manifests/${object}`, { accept: manifestAccept.join(', ') }, signal);
      if (answer.statusCode !== 200) throw await this.failed(answer, endpoint, what);
      const bytes = await readBody(answer.body, manifestLimit, what).catch((err: unknown) => { throw transportFailure(err, endpoint.origin); });
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const served = answer.headers['docker-content-digest'];
      if (object.startsWith('sha256:') && digest !== object) {
        throw new RegistryError('digest', `${what}: the bytes served hash to ${digest}`);
      }
      if (typeof served === 'string' && served.startsWith('sha256:') && served !== digest) {
        throw new RegistryError('digest', `${what}: the registry names it ${served}, its bytes hash to ${digest}`);
      }
      const contentType = answer.headers['content-type'];
      const mediaType = typeof contentType === 'string' ? contentType.split(';')[0]!.trim() : '';
      const document = readManifestDocument(bytes, mediaType, what);
      return { digest, mediaType: document.mediaType, bytes, document };
    });
  }

  /** A small blob (an image config), verified. */
  async smallBlob(ref: ImageReference, descriptor: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    if (descriptor.size > manifestLimit) throw new RegistryError('protocol', `blob ${descriptor.digest} is ${descriptor.size} bytes, too large for a config`);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.blob(ref, descriptor, signal)) if (Buffer.isBuffer(chunk)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /**
   * A blob's bytes as a stream that fails if they do not match the descriptor (digest and size), or if
   * the registry stops sending for longer than the idle timeout. `digestCheckedByReader`: the reader
   * checks the digest itself (containerd's content store does at commit), so hashing here would be the
   * same work twice; the size is still checked.
   */
  async blob(ref: ImageReference, descriptor: Descriptor, signal?: AbortSignal, digestCheckedByReader = false): Promise<Readable> {
    return this.fromEndpoints(ref, async (endpoint) => {
      const what = `blob ${descriptor.digest} of ${ref.repository}`;
      let answer = await this.send(endpoint, ref, `/v2/${ref.repository}/blobs/${descriptor.digest}`, {}, signal);
      let origin = endpoint.origin;
      for (let hops = 0; answer.statusCode >= 300 && answer.statusCode < 400 && answer.statusCode !== 304; hops++) {
        const location = answer.headers.location;
        await answer.body.dump();
        if (typeof location !== 'string' || hops >= redirectLimit) throw new RegistryError('protocol', `${origin}: a redirect for ${what} without a usable Location`);
        // Storage backends redirect to another origin; no registry credentials go there.
        const target = new URL(location, `${origin}/v2/${ref.repository}/blobs/${descriptor.digest}`);
        origin = target.origin;
        answer = await this.transport.request(origin, endpoint.settings?.ca, {
          path: `${target.pathname}${target.search}`, ...(signal === undefined ? {} : { signal }),
        });
      }
      if (answer.statusCode !== 200) throw await this.failed(answer, endpoint, what);
      const verifier = new DigestVerifier(descriptor.digest, descriptor.size, what, !digestCheckedByReader);
      const source = answer.body;
      // Registered before the pipeline's own: the reader sees why the registry failed (a stall, a reset).
      source.once('error', (err) => verifier.destroy(transportFailure(err, origin)));
      // A reader that stops early destroys the verifier, and the pipeline then ends the request too.
      pipeline(source, verifier, () => undefined);
      return verifier;
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
