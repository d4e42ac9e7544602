// Test images made from this machine's /bin/busybox: a rootfs layer, wrapped as a `docker save` archive
// or an OCI image layout archive, written by the tests themselves (no registry is reachable).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink';
  data?: Buffer;
  mode?: number;
  linkname?: string;
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (text: string, at: number, len: number) => h.write(text, at, len, 'utf8');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0');
  if (Buffer.byteLength(entry.name) > 100) throw new Error(`fixture tar: name too long: ${entry.name}`);
  const type = entry.type ?? 'file';
  put(entry.name, 0, 100);
  put(octal(entry.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(1_700_000_000, 12), 136, 12);
  put(type === 'dir' ? '5' : type === 'symlink' ? '2' : '0', 156, 1);
  if (entry.linkname) put(entry.linkname, 157, 100);
  put('ustar\u000000', 257, 8);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
  return h;
}

export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' || e.type === undefined ? e.data ?? Buffer.alloc(0) : Buffer.alloc(0);
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A root filesystem layer: busybox with its applets as symlinks, /etc/passwd, /tmp. */
export function busyboxLayer(extra: TarEntry[] = []): Buffer {
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  return tar([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'dir' },
    { name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n') },
    { name: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
    { name: 'root/', type: 'dir', mode: 0o700 },
    ...extra,
  ]);
}

/** A layer carrying one more file, e.g. the static docker CLI. */
export function fileLayer(path: string, data: Buffer, mode = 0o755): Buffer {
  const dirs = path.split('/').slice(0, -1).map((_, i, all) => `${all.slice(0, i + 1).join('/')}/`);
  return tar([...dirs.map((d): TarEntry => ({ name: d, type: 'dir' })), { name: path, data, mode }]);
}

export interface ImageOptions {
  gzip?: boolean;
  cmd?: string[];
  /** The config's User (Dockerfile USER). */
  user?: string;
  /** The config's architecture (default: this machine's). */
  architecture?: string;
}

function imageConfig(diffIds: string[], options: ImageOptions): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: options.architecture ?? (process.arch === 'x64' ? 'amd64' : process.arch), os: 'linux',
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
