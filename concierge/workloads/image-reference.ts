// A workload image named by reference, made ready as its pull policy says: taken from containerd when
// there (unless "always"), pulled from its registry otherwise (unless "never").
import type { ContainerdClient } from '../containerd/client.js';
import type { ResolvedImage } from '../containerd/images/import.js';
import { ImageNotFoundError, resolveImage } from '../containerd/images/resolve.js';
import { parseReference } from '../registry/reference.js';
import type { PullPolicy } from '../instance/spec-workloads.js';

export async function imageByReference(client: ContainerdClient, reference: string, policy: PullPolicy,
  pull: (reference: string) => Promise<ResolvedImage>): Promise<ResolvedImage> {
  if (policy === 'always') return pull(reference);
  // The name as written first (images recorded by other clients keep theirs), then as containerd names it.
  const names = [...new Set([reference, parseReference(reference).name])];
  for (const name of names) {
    try {
      return await resolveImage(client, name);
    } catch (err) {
      if (!(err instanceof ImageNotFoundError)) throw err;
    }
  }
  if (policy === 'never') {
    throw new ImageNotFoundError(`image ${reference} is not in containerd (namespace ${client.namespace}) and its pullPolicy is "never"`);
  }
  return pull(reference);
}
