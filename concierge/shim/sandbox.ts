// A pod: containers with one CRI sandbox id share the VM of the sandbox's container, as Kata's shim has
// it. containerd 1.6 names the pod in the OCI annotations (io.kubernetes.cri.sandbox-id, and
// io.kubernetes.cri.container-type "sandbox" or "container"); its bundles are siblings named by container
// id, and the sandbox's id is the pod's, so a member's `start` finds the sandbox's shim from its own bundle.
//
// How a member's rootfs reaches a guest that is already running: a virtio-9p share cannot be added after
// boot (qemu hot-plugs a virtio-9p-pci device only over an fsdev given on its command line, and QMP has no
// command that adds an fsdev), and sharing the bundles' parent directory would show the guest every
// container of the namespace. So the VM boots with ONE share, a directory the shim owns, and each
// container's rootfs (the sandbox's too) is bind-mounted into it under its container id: the guest sees a
// member's rootfs appear there (9p walks the host's paths as they are now, mounts included). A member's
// bound host directories come the same way, bound under `.binds/<container id>/<index>` (a name no
// container id has: containerd's begin with a letter or digit). What is bound there is only ever
// unmounted and its empty mount point removed (rmdir, never a recursive removal): removing the state must
// not reach into a container's rootfs or a host directory.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isSysError, MS, sys } from '../sys/index.js';
import { detachMount } from './host-rootfs.js';

export const sandboxIdAnnotation = 'io.kubernetes.cri.sandbox-id';
export const containerTypeAnnotation = 'io.kubernetes.cri.container-type';

export interface PodMembership {
  sandboxId: string;
  /** The sandbox's own container (CRI's pause container): it boots the pod's VM. */
  isSandbox: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The pod a container belongs to, from its annotations; none without a sandbox id. */
export function podOf(annotations: Record<string, unknown>, containerId: string): PodMembership | undefined {
  const sandboxId = annotations[sandboxIdAnnotation];
  if (typeof sandboxId !== 'string' || sandboxId === '') return undefined;
  return { sandboxId, isSandbox: annotations[containerTypeAnnotation] === 'sandbox' || sandboxId === containerId };
}

/** The pod of a bundle's container (its config.json's annotations; none when it cannot be read). */
export function podOfBundle(bundle: string): PodMembership | undefined {
  try {
    const doc: unknown = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    return isRecord(doc) && isRecord(doc.annotations) ? podOf(doc.annotations, basename(bundle)) : undefined;
  } catch {
    return undefined;
  }
}

/** The bundle of the container whose shim serves this one: the sandbox's for a pod's member, else its own. */
export function servingBundle(bundle: string, pod: PodMembership | undefined): string {
  return pod === undefined || pod.isSandbox ? bundle : join(dirname(bundle), pod.sandboxId);
}

/** The directory shared into the guest, holding each container's rootfs under its container id. */
export function shareDir(stateDir: string): string {
  return join(stateDir, 'containers');
}

/** A member's workload id in the guest (at most 63 characters; CRI's container ids are 64). */
export function memberWorkloadId(containerId: string): string {
  return `c-${createHash('sha256').update(containerId).digest('hex').slice(0, 16)}`;
}

/** Binds a container's rootfs (mounted on the host) into the share under its id. */
export function shareRootfs(stateDir: string, containerId: string, rootfs: string): void {
  const target = join(shareDir(stateDir), containerId);
  mkdirSync(target, { recursive: true });
  sys.mount(rootfs, target, null, MS.BIND, null);
}

/** Unmounts a bind of the share and removes its mount point; one already gone is fine (cleanup runs again after a crash). */
function unbind(target: string): void {
  detachMount(target);
  // rmdir: a mount point still mounted (EBUSY) or not empty is an error, never removed through.
  try {
    rmdirSync(target);
  } catch (err) {
    if (!isSysError(err, 'ENOENT')) throw err;
  }
}

/** Removes a container's rootfs bind from the share. */
export function unshareRootfs(stateDir: string, containerId: string): void {
  unbind(join(shareDir(stateDir), containerId));
}

const bindsDir = '.binds';

/**
 * Binds a member's bound host directory into the share (read-only when the bind is: a bind mount takes
 * the flag only by a remount); the answer is its path relative to the share.
 */
export function shareBind(stateDir: string, containerId: string, index: number, source: string, readonly: boolean): string {
  const relative = join(bindsDir, containerId, String(index));
  const target = join(shareDir(stateDir), relative);
  mkdirSync(target, { recursive: true });
  sys.mount(source, target, null, MS.BIND, null);
  if (readonly) {
    try {
      sys.mount(null, target, null, MS.REMOUNT | MS.BIND | MS.RDONLY, null);
    } catch (err) {
      unbind(target);
      throw err;
    }
  }
  return relative;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (isSysError(err, 'ENOENT')) return [];
    throw err;
  }
}

/** Removes a container's bound directories from the share. */
export function unshareBinds(stateDir: string, containerId: string): void {
  const dir = join(shareDir(stateDir), bindsDir, containerId);
  for (const index of entries(dir)) unbind(join(dir, index));
  unbind(dir);
}

/** Every bind left in the share (a crashed shim's), before its state directory is removed. */
export function unshareAll(stateDir: string): void {
  for (const id of entries(join(shareDir(stateDir), bindsDir))) unshareBinds(stateDir, id);
  for (const id of entries(shareDir(stateDir))) {
    if (id === bindsDir) unbind(join(shareDir(stateDir), bindsDir));
    else unshareRootfs(stateDir, id);
  }
}
