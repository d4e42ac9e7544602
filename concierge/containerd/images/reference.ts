/**
 * The full name containerd and docker use for a short reference: `busybox` -> `docker.io/library/busybox:latest`,
 * `me/app:1` -> `docker.io/me/app:1`; names with a registry host (a dot, a colon or localhost first) are kept.
 */
export function normalizeReference(ref: string): string {
  if (ref === '' || /\s/.test(ref)) throw new Error(`invalid image reference ${JSON.stringify(ref)}`);
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  const hasHost = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let name = hasHost ? ref : slash === -1 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !lastPart.includes('@')) name += ':latest';
  return name;
}
