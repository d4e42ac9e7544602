// A workload whose root is a directory of the guest as it is (a container runtime shim's bundle rootfs,
// shared into the guest): it has no image, so it stands in as one with an empty config and no layers;
// the workload then makes no snapshot and points the runtime spec's root at the directory.
import type { ResolvedImage } from '../containerd/images/import.js';

export function rootfsAsImage(): Promise<ResolvedImage> {
  return Promise.resolve({
    name: '', manifestDigest: '', configDigest: '', chainId: '', snapshotter: '',
    config: { env: [], entrypoint: [], cmd: [], workingDir: '', user: '', os: 'linux', architecture: '' },
  });
}
