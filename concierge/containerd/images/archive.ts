// Reads an image out of a `docker save` archive or an OCI image layout archive into one shape: the
// manifest, config and layer blobs to put in the content store, and the names the archive gives it.
import type { Readable } from 'node:stream';
import { checkDigest, sha256, sha256Stream } from './digest.js';
import { isIndex, isManifest, isSupportedLayer, mediaTypes } from './media-types.js';
import { normalizeReference } from './reference.js';
import type { TarIndex, TarMember } from './tar-index.js';

export interface BlobSource {
  digest: string;
  mediaType: string;
  size: number;
  open(): Readable;
}

export interface ArchiveImage {
  format: 'docker' | 'oci';
  names: string[];
  manifest: { digest: string; mediaType: string; bytes: Buffer };
  config: { digest: string; mediaType: string; bytes: Buffer };
  layers: BlobSource[];
  /** Digests of the uncompressed layers, from the config: what the snapshots are named after. */
  diffIds: string[];
}

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: expected a JSON object`);
  return value as Json;
}
function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a JSON array`);
  return value;
}
function string(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${what}: expected a non-empty string`);
  return value;
}

export function configDiffIds(config: Buffer, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.toString('utf8'));
  } catch {
    throw new Error(`${what}: image config is not valid JSON`);
  }
  const rootfs = object(object(parsed, what).rootfs, `${what}: rootfs`);
  return array(rootfs.diff_ids, `${what}: rootfs.diff_ids`).map((d, i) => checkDigest(d, `${what}: diff_ids[${i}]`));
}

export async function readArchive(tar: TarIndex, platform: { os: string; architecture: string }): Promise<ArchiveImage> {
  // A `docker save` of Docker 25+ is both: prefer manifest.json, which carries the repository tags.
  if (tar.get('manifest.json')) return readDockerArchive(tar);
  if (tar.get('index.json') && tar.get('oci-layout')) return readOciLayout(tar, platform);
  throw new Error(`${tar.path}: not an image archive (neither a docker save manifest.json nor an OCI index.json + oci-layout)`);
}

async function isGzip(tar: TarIndex, member: TarMember): Promise<boolean> {
  if (member.size < 2) return false;
  const head = await tar.read(member, 2);
  return head[0] === 0x1f && head[1] === 0x8b;
}

async function readDockerArchive(tar: TarIndex): Promise<ArchiveImage> {
  const entries = array(await tar.readJson('manifest.json'), 'manifest.json');
  if (entries.length === 0) throw new Error(`${tar.path}: manifest.json lists no image`);
  const entry = object(entries[0], 'manifest.json[0]');
  const configBytes = await tar.read(tar.require(string(entry.Config, 'manifest.json[0].Config')));
  const diffIds = configDiffIds(configBytes, `${tar.path}: config`);
  const layerNames = array(entry.Layers, 'manifest.json[0].Layers').map((l, i) => string(l, `Layers[${i}]`));
  if (layerNames.length !== diffIds.length) {
    throw new Error(`${tar.path}: manifest.json names ${layerNames.length} layers, the config ${diffIds.length}`);
  }
  const layers: BlobSource[] = [];
  for (const [i, name] of layerNames.entries()) {
    const member = tar.require(name);
    const gzip = await isGzip(tar, member);
    // An uncompressed layer's digest is its diff id (the content store checks it on commit); a compressed
    // one must be hashed to be named.
    const digest = gzip ? (await sha256Stream(tar.stream(member))).digest : diffIds[i]!;
    layers.push({
      digest, size: member.size, mediaType: gzip ? mediaTypes.dockerLayerGzip : mediaTypes.dockerLayer,
      open: () => tar.stream(member),
    });
  }
  const config = { digest: sha256(configBytes), mediaType: mediaTypes.dockerConfig, bytes: configBytes };
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: mediaTypes.dockerManifest,
    config: { mediaType: config.mediaType, size: configBytes.length, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  }));
  const repoTags = entry.RepoTags === null || entry.RepoTags === undefined ? [] : array(entry.RepoTags, 'RepoTags');
  return {
    format: 'docker',
    names: repoTags.map((t, i) => normalizeReference(string(t, `RepoTags[${i}]`))),
    manifest: { digest: sha256(manifestBytes), mediaType: mediaTypes.dockerManifest, bytes: manifestBytes },
    config, layers, diffIds,
  };
}

function blobPath(digest: string): string {
  const [alg, hex] = digest.split(':');
  return `blobs/${alg}/${hex}`;
}

interface Descriptor { mediaType: string; digest: string; size: number; annotations: Record<string, string>; platform?: Json }

function descriptor(value: unknown, what: string): Descriptor {
  const d = object(value, what);
  const size = d.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new Error(`${what}: bad size`);
  const annotations = d.annotations === undefined ? {} : object(d.annotations, `${what}.annotations`) as Record<string, string>;
  return {
    mediaType: string(d.mediaType, `${what}.mediaType`), digest: checkDigest(d.digest, `${what}.digest`), size, annotations,
    ...(d.platform === undefined ? {} : { platform: object(d.platform, `${what}.platform`) }),
  };
}

async function readBlob(tar: TarIndex, d: Descriptor): Promise<Buffer> {
  const member = tar.require(blobPath(d.digest));
  const bytes = await tar.read(member);
  if (bytes.length !== d.size || sha256(bytes) !== d.digest) throw new Error(`${tar.path}: blob ${d.digest} is corrupt (digest or size mismatch)`);
  return bytes;
}

function refName(annotations: Record<string, string>): string | undefined {
  const full = annotations['io.containerd.image.name'];
  if (full) return normalizeReference(full);
  const ref = annotations['org.opencontainers.image.ref.name'];
  // A bare tag ("latest") names no repository: such an image is named by the caller.
  return ref && /[/:@]/.test(ref) ? normalizeReference(ref) : undefined;
}

async function readOciLayout(tar: TarIndex, platform: { os: string; architecture: string }): Promise<ArchiveImage> {
  const index = object(await tar.readJson('index.json'), 'index.json');
  let candidates = array(index.manifests, 'index.json manifests').map((m, i) => descriptor(m, `index.json manifests[${i}]`));
  const names = new Set<string>();
  for (let depth = 0; ; depth++) {
    if (candidates.length === 0) throw new Error(`${tar.path}: index.json lists no manifest`);
    for (const c of candidates) { const n = refName(c.annotations); if (n) names.add(n); }
    const matching = candidates.filter((c) => c.platform === undefined
      || (c.platform.os === platform.os && c.platform.architecture === platform.architecture));
    const chosen = matching[0];
    if (chosen === undefined) throw new Error(`${tar.path}: no manifest for ${platform.os}/${platform.architecture}`);
    if (isManifest(chosen.mediaType)) {
      const manifestBytes = await readBlob(tar, chosen);
      const manifest = object(JSON.parse(manifestBytes.toString('utf8')), `manifest ${chosen.digest}`);
      const configDesc = descriptor(manifest.config, 'manifest config');
      const configBytes = await readBlob(tar, configDesc);
      const diffIds = configDiffIds(configBytes, `${tar.path}: config`);
      const layers = array(manifest.layers, 'manifest layers').map((l, i) => descriptor(l, `manifest layers[${i}]`));
      if (layers.length !== diffIds.length) throw new Error(`${tar.path}: manifest has ${layers.length} layers, config ${diffIds.length}`);
      return {
        format: 'oci',
        names: [...names],
        manifest: { digest: chosen.digest, mediaType: chosen.mediaType, bytes: manifestBytes },
        config: { digest: configDesc.digest, mediaType: configDesc.mediaType, bytes: configBytes },
        layers: layers.map((l) => {
          if (!isSupportedLayer(l.mediaType)) throw new Error(`${tar.path}: layer ${l.digest} has unsupported media type ${l.mediaType}`);
          const member = tar.require(blobPath(l.digest));
          if (member.size !== l.size) throw new Error(`${tar.path}: layer ${l.digest} is ${member.size} bytes, manifest says ${l.size}`);
          return { digest: l.digest, mediaType: l.mediaType, size: l.size, open: () => tar.stream(member) };
        }),
        diffIds,
      };
    }
    if (!isIndex(chosen.mediaType) || depth > 4) throw new Error(`${tar.path}: unsupported media type ${chosen.mediaType}`);
    const nested = object(JSON.parse((await readBlob(tar, chosen)).toString('utf8')), `index ${chosen.digest}`);
    candidates = array(nested.manifests, `index ${chosen.digest} manifests`).map((m, i) => descriptor(m, `manifests[${i}]`));
  }
}
