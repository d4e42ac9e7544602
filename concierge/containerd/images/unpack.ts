// Unpacks image layers into snapshots named by chain id: Prepare an active snapshot on the parent chain,
// apply the layer with the diff service, Commit it under the chain id. Layers already unpacked are skipped.
import { randomBytes } from 'node:crypto';
import type { ContainerdClient } from '../client.js';
import { ignoreNotFound, isAlreadyExists, isNotFound } from '../errors.js';
import { leaseResource } from '../content.js';
import { chainIds } from './digest.js';

export interface LayerToUnpack {
  digest: string;
  mediaType: string;
  size: number;
}

export async function snapshotExists(client: ContainerdClient, snapshotter: string, key: string): Promise<boolean> {
  try {
    await client.snapshots.stat({ snapshotter, key });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Returns the chain id of the top layer: the parent of a container's snapshot. */
export async function unpackLayers(client: ContainerdClient, snapshotter: string, layers: readonly LayerToUnpack[],
  diffIds: readonly string[]): Promise<string> {
  const chain = chainIds(diffIds);
  for (const [i, layer] of layers.entries()) await unpackLayer(client, snapshotter, layer, diffIds[i]!, chain[i]!, i === 0 ? '' : chain[i - 1]!);
  const top = chain.at(-1);
  if (top === undefined) throw new Error('image has no layers');
  return top;
}

/**
 * Unpacks one layer onto its parent chain (already unpacked) as the snapshot `chainId`; nothing to do when
 * that snapshot exists. A pull calls it per layer as soon as the layer's blob is in the content store.
 */
export async function unpackLayer(client: ContainerdClient, snapshotter: string, layer: LayerToUnpack, diffId: string,
  chainId: string, parent: string): Promise<void> {
  if (await snapshotExists(client, snapshotter, chainId)) {
    await leaseResource(client, chainId, `snapshots/${snapshotter}`);
    return;
  }
  const key = `extract-${randomBytes(6).toString('hex')} ${chainId}`;
  const { mounts } = await client.snapshots.prepare({ snapshotter, key, parent });
  try {
    const { applied } = await client.diff.apply({
      diff: { mediaType: layer.mediaType, digest: layer.digest, size: BigInt(layer.size) },
      mounts,
    });
    if (applied?.digest !== diffId) {
      throw new Error(`layer ${layer.digest}: unpacked to ${applied?.digest ?? 'nothing'}, the config says ${diffId} (corrupt image?)`);
    }
    try {
      await client.snapshots.commit({ snapshotter, name: chainId, key });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err; // unpacked meanwhile by someone else: theirs is as good
      await ignoreNotFound(client.snapshots.remove({ snapshotter, key }));
    }
  } catch (err) {
    await ignoreNotFound(client.snapshots.remove({ snapshotter, key })).catch(() => undefined);
    throw err;
  }
}
