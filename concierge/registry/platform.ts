// Picks the manifest for one platform out of an index, as containerd's default matcher does for
// linux/amd64: os and architecture must match; an entry without a platform matches anything.
import type { Descriptor, Platform } from './manifest.js';

export function selectPlatform(manifests: readonly Descriptor[], platform: Platform): Descriptor | undefined {
  return manifests.find((m) => m.platform === undefined
    || (m.platform.os === platform.os && m.platform.architecture === platform.architecture
      && (platform.variant === undefined || m.platform.variant === undefined || m.platform.variant === platform.variant)));
}

export function describePlatforms(manifests: readonly Descriptor[]): string {
  const names = manifests.map((m) => (m.platform === undefined ? 'unknown'
    : [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/')));
  return names.length === 0 ? 'none' : [...new Set(names)].join(', ');
}
