// Synchronous on purpose: a handful of metadata calls on local filesystems take microseconds, while a
// hop through libuv's thread pool per call costs far more on a busy 2-core guest.
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { type Caller, type CallerMount } from './caller.js';
import { ProxyError } from '../errors.js';

/** Filesystems that must never be handed to a sibling: the caller's view of them is not a host path. */
const REFUSED_TYPES = new Set(['proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'mqueue', 'cgroup', 'cgroup2', 'shm', 'ramfs', 'securityfs', 'debugfs']);
const REFUSED_PREFIXES = ['/proc', '/sys', '/dev'];
const MAX_SYMLINKS = 40;

/** A caller path resolved to a host location, with no symlink left in `relative`. */
export interface ResolvedSource {
  /** The canonical path in the caller's view. */
  callerPath: string;
  /** A trusted host path (the caller's rootfs, or the source of one of its bind mounts). */
  base: string;
  /** Path below `base`, components without symlinks; '' for `base` itself. */
  relative: string;
  /** Under a read-only mount of the caller (its own `ro` binds, the guest's /etc/hosts and resolv.conf). */
  readOnly: boolean;
}

function isBind(m: CallerMount): boolean {
  return m.type === 'bind' || m.type === 'rbind' || m.options.includes('bind') || m.options.includes('rbind');
}

function within(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

/** The mount that covers a caller path (the longest destination prefix), or undefined for the rootfs. */
function coveringMount(caller: Caller, path: string): CallerMount | undefined {
  let best: CallerMount | undefined;
  for (const m of caller.mounts) {
    const dest = m.destination.replace(/\/+$/, '') || '/';
    if (dest !== '/' && within(path, dest) && (best === undefined || dest.length > best.destination.replace(/\/+$/, '').length)) best = m;
  }
  return best;
}

function isMountAncestor(caller: Caller, path: string): boolean {
  return caller.mounts.some((m) => isBind(m) && m.destination.startsWith(`${path}/`));
}

function locate(caller: Caller, components: readonly string[]): { base: string; relative: string; mount: CallerMount | undefined } {
  const path = `/${components.join('/')}`;
  const mount = coveringMount(caller, path);
  if (mount === undefined) return { base: caller.rootfs, relative: components.join('/'), mount };
  const dest = mount.destination.replace(/\/+$/, '');
  return { base: mount.source, relative: path.slice(dest.length).replace(/^\/+/, ''), mount };
}

function refuseMount(mount: CallerMount | undefined, callerPath: string, requested: string): void {
  if (mount !== undefined && (REFUSED_TYPES.has(mount.type) || !isBind(mount))) {
    throw new ProxyError(403, `bind source ${requested}: ${callerPath} is on a ${mount.type} mount of the caller and cannot be shared with a sibling`);
  }
  const prefix = REFUSED_PREFIXES.find((p) => within(callerPath, p));
  if (prefix !== undefined) {
    throw new ProxyError(403, `bind source ${requested}: ${callerPath} is under ${prefix}, which is not shared with siblings`);
  }
}

/**
 * Resolves `path` inside the caller's root as if that root were `/`: `..` stops at the root, symlinks
 * (absolute ones too) are followed inside it, and paths under the caller's bind mounts map to those
 * mounts' sources. The result is checked again when it is opened (staging.ts), without following any
 * symlink, so a component swapped after this walk makes the open fail instead of escaping.
 */
export function resolveCallerPath(caller: Caller, path: string): ResolvedSource {
  if (!path.startsWith('/')) throw new ProxyError(400, `bind source ${JSON.stringify(path)} must be an absolute path`);
  if (path.includes('\0')) throw new ProxyError(400, 'bind source contains a NUL byte');
  let pending = path.split('/');
  const resolved: string[] = [];
  let symlinks = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const { base, relative, mount } = locate(caller, resolved);
    const callerPath = `/${resolved.join('/')}`;
    refuseMount(mount, callerPath, path);
    const hostPath = relative === '' ? base : `${base}/${relative}`;
    let isLink = false;
    try {
      // A mount's own source is a trusted host path; only what lies below it is the caller's to shape.
      if (relative === '') statSync(hostPath);
      else isLink = lstatSync(hostPath).isSymbolicLink();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // runc creates the mountpoints of the caller's mounts: their parents exist in its view.
      if (code === 'ENOENT' && isMountAncestor(caller, callerPath)) continue;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new ProxyError(400, `bind source path does not exist: ${path} (create it first; concierge does not create bind sources)`);
      }
      throw new ProxyError(400, `bind source ${path} cannot be resolved: ${code ?? (err as Error).message}`);
    }
    if (!isLink) continue;
    if (++symlinks > MAX_SYMLINKS) throw new ProxyError(400, `too many levels of symbolic links in ${path}`);
    let target: string;
    try {
      target = readlinkSync(hostPath);
    } catch {
      throw new ProxyError(409, `bind source ${path} changed while it was being resolved; not bound`);
    }
    resolved.pop();
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...target.split('/'), ...pending];
  }
  const { base, relative, mount } = locate(caller, resolved);
  const callerPath = `/${resolved.join('/')}`;
  refuseMount(mount, callerPath, path);
  return { callerPath, base, relative, readOnly: mount?.options.includes('ro') ?? false };
}
