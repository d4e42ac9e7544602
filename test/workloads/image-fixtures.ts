// Test images for containerd: layers (test/lib/busybox.ts) wrapped as a `docker save` archive or an OCI
// image layout archive, written by the tests themselves (no registry is reachable).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { busyboxLayer, fileEntries } from '../lib/busybox.js';
import { tar, type TarEntry } from '../lib/tar.js';

export { busyboxLayer, tar };

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer carrying one more file, e.g. the static docker CLI. */
export function fileLayer(path: string, data: Buffer, mode = 0o755): Buffer {
  return tar(fileEntries(path, data, mode));
}

export interface ImageOptions {
  gzip?: boolean;
  cmd?: string[];
  /** The config's User (Dockerfile USER). */
  user?: string;
}

function imageConfig(diffIds: string[], options: ImageOptions): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux',
    config: { Env: ['PATH=/usr/local/bin:/bin', 'FROM_IMAGE=yes'], Cmd: options.cmd ?? ['sh'], WorkingDir: '/', ...(options.user === undefined ? {} : { User: options.user }) },
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

/** An OCI image layout archive; gzip: layers as tar+gzip. */
export function ociArchive(layers: Buffer[], refName: string, options: ImageOptions = {}): Buffer {
  const config = imageConfig(layers.map(sha), options);
  const stored = layers.map((l) => (options.gzip ? gzipSync(l) : l));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: stored.map((l) => ({
      mediaType: options.gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
      digest: sha(l), size: l.length,
    })),
  }));
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
