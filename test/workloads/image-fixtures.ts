// Test images for containerd: layers (test/lib/busybox.ts) wrapped as a `docker save` archive or an OCI
// image layout archive, written by the tests themselves (no registry is reachable).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { busyboxLayer, fileEntries } from '../lib/busybox.js';
import { tar, type TarEntry } from '../lib/tar.js';

export { busyboxLayer, tar };

export const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer carrying one more file, e.g. the static docker CLI. */
export function fileLayer(path: string, data: Buffer, mode = 0o755): Buffer {
  return tar(fileEntries(path, data, mode));
}

export interface ImageOptions {
  gzip?: boolean;
  cmd?: string[];
  /** The config's User (Dockerfile USER). */
  user?: string;
  /** The config's architecture (default: this machine's). */
  architecture?: string;
  /** The config's Env (default: PATH=/usr/local/bin:/bin and FROM_IMAGE=yes). */
  env?: string[];
}

function imageConfig(diffIds: string[], options: ImageOptions): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: options.architecture ?? (process.arch === 'x64' ? 'amd64' : process.arch), os: 'linux',
    config: { Env: options.env ?? ['PATH=/usr/local/bin:/bin', 'FROM_IMAGE=yes'], Cmd: options.cmd ?? ['sh'], WorkingDir: '/', ...(options.user === undefined ? {} : { User: options.user }) },
    rootfs: { type: 'layers', diff_ids: diffIds },
  }));
}

/** A `docker save`-shaped archive (manifest.json + <id>/layer.tar); gzip: store the layers compressed. */
export function dockerArchive(layers: Buffer[], repoTag: string, options: ImageOptions = {}): Buffer {
  const config = imageConfig(layers.map(sha), options);
  const configName = `${sha(config).slice(7)}.json`;
  const stored = layers.map((l) => (options.gzip ? gzipSync(l) : l));
  const layerNames = stored.map((l) => `${sha(l).slice(7)}/layer.tar`);
  return tar([
    ...stored.flatMap((l, i): TarEntry[] => [{ name: layerNames[i]!.split('/')[0]! + '/', type: 'dir' }, { name: layerNames[i]!, data: l }]),
    { name: configName, data: config },
    { name: 'manifest.json', data: Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layerNames }])) },
  ]);
}

/** The blobs of an image as a registry serves them: manifest, config and (stored) layers, with their digests. */
export interface ImageBlobs {
  manifest: Buffer;
  manifestMediaType: string;
  config: Buffer;
  layers: Buffer[];
}

/** An image's blobs; `docker`: Docker schema2 media types instead of OCI's. */
export function imageBlobs(layers: Buffer[], options: ImageOptions & { docker?: boolean } = {}): ImageBlobs {
  const config = imageConfig(layers.map(sha), options);
  const stored = layers.map((l) => (options.gzip ? gzipSync(l) : l));
  const types = options.docker
    ? { manifest: 'application/vnd.docker.distribution.manifest.v2+json', config: 'application/vnd.docker.container.image.v1+json',
      layer: options.gzip ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.docker.image.rootfs.diff.tar' }
    : { manifest: 'application/vnd.oci.image.manifest.v1+json', config: 'application/vnd.oci.image.config.v1+json',
      layer: options.gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar' };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: types.manifest,
    config: { mediaType: types.config, digest: sha(config), size: config.length },
    layers: stored.map((l) => ({ mediaType: types.layer, digest: sha(l), size: l.length })),
  }));
  return { manifest, manifestMediaType: types.manifest, config, layers: stored };
}

/** An OCI image layout archive; gzip: layers as tar+gzip. */
export function ociArchive(layers: Buffer[], refName: string, options: ImageOptions = {}): Buffer {
  const { manifest, config, layers: stored } = imageBlobs(layers, options);
  const index = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length,
      annotations: { 'io.containerd.image.name': refName, 'org.opencontainers.image.ref.name': 'latest' },
    }],
  };
  const blob = (b: Buffer): TarEntry => ({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b });
  return tar([
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: 'blobs/', type: 'dir' }, { name: 'blobs/sha256/', type: 'dir' },
    ...stored.map(blob), blob(config), blob(manifest),
    { name: 'index.json', data: Buffer.from(JSON.stringify(index)) },
  ]);
}

export function writeArchive(path: string, archive: Buffer): string {
  writeFileSync(path, archive);
  return path;
}
