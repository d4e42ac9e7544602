// Finds an image already in containerd by name and makes sure its layers are unpacked for a snapshotter.
import type { ContainerdClient } from '../client.js';
import { isNotFound } from '../errors.js';
import { labelBlob, readBlob } from '../content.js';
import { withLease } from '../leases.js';
import { configDiffIds } from './archive.js';
import { chainIds } from './digest.js';
import { parseImageConfig } from './image-config.js';
import { defaultSnapshotter, type ResolvedImage } from './import.js';
import { isIndex, isManifest } from './media-types.js';
import { hostPlatform } from './platform.js';
import { snapshotExists, unpackLayers } from './unpack.js';

interface Desc { mediaType: string; digest: string; size: number; platform?: { os?: string; architecture?: string } }

/** The image named is not in containerd's store (and no archive was given to import it). */
export class ImageNotFoundError extends Error {
  override name = 'ImageNotFoundError';
}

export async function resolveImage(client: ContainerdClient, name: string, snapshotter = defaultSnapshotter): Promise<ResolvedImage> {
  let target: Desc;
  try {
    const { image } = await client.images.get({ name });
    if (!image?.target) throw new Error(`image ${name} has no target`);
    target = { mediaType: image.target.mediaType, digest: image.target.digest, size: Number(image.target.size) };
  } catch (err) {
    if (isNotFound(err)) throw new ImageNotFoundError(`image ${name} is not in containerd (namespace ${client.namespace}); give an archive path to import it`);
    throw err;
  }
  for (let depth = 0; isIndex(target.mediaType); depth++) {
    const index = JSON.parse((await readBlob(client, target.digest)).toString('utf8')) as { manifests?: Desc[] };
    const chosen = (index.manifests ?? []).find((m) => m.platform === undefined
      || (m.platform.os === hostPlatform.os && m.platform.architecture === hostPlatform.architecture));
    if (chosen === undefined || depth > 4) throw new Error(`image ${name} has no manifest for ${hostPlatform.os}/${hostPlatform.architecture}`);
    target = chosen;
  }
  if (!isManifest(target.mediaType)) throw new Error(`image ${name}: unsupported media type ${target.mediaType}`);
  const manifest = JSON.parse((await readBlob(client, target.digest)).toString('utf8')) as { config: Desc; layers: Desc[] };
  const configBytes = await readBlob(client, manifest.config.digest);
  const diffIds = configDiffIds(configBytes, `image ${name}`);
  const chainId = chainIds(diffIds).at(-1);
  if (chainId === undefined) throw new Error(`image ${name} has no layers`);
  if (!(await snapshotExists(client, snapshotter, chainId))) {
    await withLease(client, async (leased) => {
      const top = await unpackLayers(leased, snapshotter, manifest.layers.map((l) => ({ ...l, size: Number(l.size) })), diffIds);
      await labelBlob(leased, manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: top });
    }, { prefix: 'concierge-unpack' });
  }
  return {
    name, manifestDigest: target.digest, configDigest: manifest.config.digest,
    config: parseImageConfig(configBytes), chainId, snapshotter,
  };
}
