// Imports an image archive (docker save or OCI layout, optionally gzip-compressed as a whole) without a
// registry: blobs into the content store, layers into snapshots, the image record last, all under one
// lease, so a failure leaves nothing behind (the lease's deletion collects what was written) and an
// image name never points at a half-imported image.
import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ContainerdClient } from '../client.js';
import { isAlreadyExists, isNotFound } from '../errors.js';
import { labelBlob, writeBlob } from '../content.js';
import { withLease } from '../leases.js';
import { readArchive, type ArchiveImage } from './archive.js';
import { chainIds } from './digest.js';
import { parseImageConfig, type ImageRuntimeConfig } from './image-config.js';
import { hostPlatform } from './platform.js';
import { TarIndex } from './tar-index.js';
import { snapshotExists, unpackLayers } from './unpack.js';

export const defaultSnapshotter = 'overlayfs';

/** An image ready to run: its snapshot chain is unpacked in `snapshotter`. */
export interface ResolvedImage {
  name: string;
  manifestDigest: string;
  configDigest: string;
  config: ImageRuntimeConfig;
  /** The chain id of the top layer: parent of a container's snapshot. */
  chainId: string;
  snapshotter: string;
}

export interface ImportOptions {
  /** The image name to create; by default the archive's first name, or one made from the manifest digest. */
  name?: string;
  snapshotter?: string;
}

export interface ImportResult extends ResolvedImage {
  /** Every name the image was recorded under. */
  names: string[];
  /** False when the image was there already and nothing was written. */
  written: boolean;
}

/** Two bytes read synchronously, as the archive's index is (tar-index.ts). */
function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** A tar index of the archive; a gzip-compressed archive is first expanded into a temporary file. */
async function openArchive(path: string): Promise<{ tar: TarIndex; dispose: () => Promise<void> }> {
  if (!isGzipFile(path)) return { tar: await TarIndex.open(path), dispose: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), 'concierge-import-'));
  try {
    const plain = join(dir, 'archive.tar');
    await pipeline(createReadStream(path), createGunzip(), createWriteStream(plain)).catch((err: Error) => {
      throw new Error(`${path}: cannot decompress (${err.message}); truncated or corrupt?`);
    });
    return { tar: await TarIndex.open(plain), dispose: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export async function importImageArchive(client: ContainerdClient, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  const snapshotter = options.snapshotter ?? defaultSnapshotter;
  const { tar, dispose } = await openArchive(path);
  try {
    const archive = await readArchive(tar, hostPlatform);
    const names = options.name !== undefined ? [options.name]
      : archive.names.length > 0 ? archive.names : [`concierge.local/archive@${archive.manifest.digest}`];
    const resolved: ResolvedImage = {
      name: names[0]!,
      manifestDigest: archive.manifest.digest,
      configDigest: archive.config.digest,
      config: parseImageConfig(archive.config.bytes),
      chainId: chainIds(archive.diffIds).at(-1) ?? '',
      snapshotter,
    };
    if (resolved.chainId === '') throw new Error(`${path}: the image has no layers`);
    if (await alreadyImported(client, names, archive.manifest.digest, snapshotter, resolved.chainId)) {
      return { ...resolved, names, written: false };
    }
    await withLease(client, (leased) => store(leased, archive, names, snapshotter), { prefix: 'concierge-import' });
    return { ...resolved, names, written: true };
  } finally {
    await dispose();
  }
}

async function alreadyImported(client: ContainerdClient, names: string[], manifestDigest: string, snapshotter: string,
  chainId: string): Promise<boolean> {
  for (const name of names) {
    try {
      const { image } = await client.images.get({ name });
      if (image?.target?.digest !== manifestDigest) return false;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
  return snapshotExists(client, snapshotter, chainId);
}

async function store(client: ContainerdClient, archive: ArchiveImage, names: string[], snapshotter: string): Promise<void> {
  for (const [i, layer] of archive.layers.entries()) {
    const compressed = layer.digest !== archive.diffIds[i];
    await writeBlob(client, {
      ...layer,
      ...(compressed ? { labels: { 'containerd.io/uncompressed': archive.diffIds[i]! } } : {}),
    });
  }
  const fromBytes = (bytes: Buffer) => () => Readable.from([bytes]);
  await writeBlob(client, { digest: archive.config.digest, size: archive.config.bytes.length, open: fromBytes(archive.config.bytes) });
  const top = await unpackLayers(client, snapshotter, archive.layers, archive.diffIds);
  // GC references: the config keeps the unpacked snapshot chain, the manifest its config and layers.
  await labelBlob(client, archive.config.digest, { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: top });
  const manifestLabels: Record<string, string> = { 'containerd.io/gc.ref.content.config': archive.config.digest };
  for (const [i, layer] of archive.layers.entries()) manifestLabels[`containerd.io/gc.ref.content.l.${i}`] = layer.digest;
  await writeBlob(client, {
    digest: archive.manifest.digest, size: archive.manifest.bytes.length, open: fromBytes(archive.manifest.bytes),
  });
  await labelBlob(client, archive.manifest.digest, manifestLabels);
  const target = { mediaType: archive.manifest.mediaType, digest: archive.manifest.digest, size: BigInt(archive.manifest.bytes.length) };
  for (const name of names) {
    try {
      await client.images.create({ image: { name, target } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await client.images.update({ image: { name, target }, updateMask: { paths: ['target'] } });
    }
  }
}
