// Where a shim keeps what it makes for one bundle: a short directory under /run (unix socket paths are
// limited to 108 bytes, which bundle paths can exceed) named by a hash of the bundle path, so the
// `delete` of a crashed shim finds it from the bundle alone. The guest image is found beside the binary
// (the repository's guest-rootfs/out) unless CONCIERGE_GUEST_KERNEL, CONCIERGE_GUEST_INITRD and
// CONCIERGE_GUEST_ROOT say; a root disk (build.sh --root=disk) is the root.erofs beside the initramfs.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { GuestImage } from './guest-vm.js';

export const shimRunRoot = process.env.CONCIERGE_SHIM_ROOT ?? '/run/concierge-shim';

export function shimStateDir(bundle: string): string {
  return join(shimRunRoot, createHash('sha256').update(bundle).digest('hex').slice(0, 16));
}

export function shimSocket(bundle: string): string {
  return join(shimStateDir(bundle), 'shim.sock');
}

export function guestImage(): GuestImage {
  const out = join(dirname(process.execPath), '..', 'guest-rootfs', 'out');
  const initrd = process.env.CONCIERGE_GUEST_INITRD ?? join(out, 'initramfs');
  const besideInitrd = join(dirname(initrd), 'root.erofs');
  const rootDisk = process.env.CONCIERGE_GUEST_ROOT ?? (existsSync(besideInitrd) ? besideInitrd : undefined);
  return {
    kernel: process.env.CONCIERGE_GUEST_KERNEL ?? join(out, 'vmlinux'),
    initrd,
    ...(rootDisk === undefined ? {} : { rootDisk }),
  };
}
