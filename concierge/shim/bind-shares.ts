// config.json's bind mounts of host files and directories, brought into the guest: each directory is a
// virtio-9p share of its own (read-only at qemu when the bind is), mounted in the guest and bound from
// there into the workload, so writes to a read-write one reach the host as with runc. A bound file (CRI
// binds /etc/hosts, /etc/resolv.conf, /etc/hostname that way) is copied into one share of the shim's
// state instead, under the task's workload id: 9p shares directories, and sharing the file's directory
// would show the guest its neighbours; the container's writes to such a file stay in the copy.
// A pod member's task comes to a VM already running, and a 9p share cannot be added after boot: its
// files' copies go into the files share (the VM has it from boot, as 9p walks the host's paths as they
// are now), a bound directory of its is refused.
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Where the guest mounts the shares of bound directories and the copies of bound files. */
const guestBinds = '/run/concierge-shim/binds';
const guestFiles = '/run/concierge-shim/bind-files';
const filesTag = 'ctr-bind-files';
export const ninePOptions = ['trans=virtio', 'version=9p2000.L', 'msize=524288'];

/** A bind mount of a host file or directory (config.json's `mounts` of type bind, or with a bind option). */
export interface BundleBind {
  source: string;
  destination: string;
  readonly: boolean;
}

export interface BindShares {
  /** Host directories qemu shares. */
  shares: { tag: string; path: string; readonly: boolean }[];
  /** The instance spec's mounts of those shares in the guest. */
  guestMounts: { source: string; target: string; type: '9p'; options: string[] }[];
  /** The workload's bind mounts, from the guest's mounts of the shares. */
  workloadMounts: { source: string; target: string; readonly: boolean }[];
}

/** The share of bound files' copies, which the VM gets at boot whether or not its first task has any. */
export function filesShare(filesRoot: string): Pick<BindShares, 'shares' | 'guestMounts'> {
  mkdirSync(filesRoot, { recursive: true });
  return {
    shares: [{ tag: filesTag, path: filesRoot, readonly: false }],
    guestMounts: [{ source: filesTag, target: guestFiles, type: '9p', options: ninePOptions }],
  };
}

/**
 * Plans the shares for a task's binds, copying bound files into `filesRoot`/`workload` (made afresh).
 * For a task added to a running VM, `intoShare` brings each bound directory into the VM's share and
 * answers the guest's path of it.
 */
export function bindShares(binds: BundleBind[], filesRoot: string, workload: string,
  intoShare?: (index: number, bind: BundleBind) => string): BindShares {
  const out: BindShares = { shares: [], guestMounts: [], workloadMounts: [] };
  const filesDir = join(filesRoot, workload);
  rmSync(filesDir, { recursive: true, force: true });
  for (const [i, bind] of binds.entries()) {
    let directory: boolean;
    try {
      directory = statSync(bind.source).isDirectory();
    } catch (err) {
      throw new Error(`mount ${bind.destination}: its source ${bind.source} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (directory && intoShare !== undefined) {
      out.workloadMounts.push({ source: intoShare(i, bind), target: bind.destination, readonly: bind.readonly });
    } else if (directory) {
      const tag = `ctr-bind-${i}`;
      out.shares.push({ tag, path: bind.source, readonly: bind.readonly });
      out.guestMounts.push({ source: tag, target: `${guestBinds}/${i}`, type: '9p', options: ninePOptions });
      out.workloadMounts.push({ source: `${guestBinds}/${i}`, target: bind.destination, readonly: bind.readonly });
    } else {
      mkdirSync(join(filesDir, String(i)), { recursive: true });
      copyFileSync(bind.source, join(filesDir, String(i), basename(bind.source)));
      out.workloadMounts.push({ source: `${guestFiles}/${workload}/${i}/${basename(bind.source)}`, target: bind.destination, readonly: bind.readonly });
    }
  }
  return out;
}
