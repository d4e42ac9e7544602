import { OWNER_LABEL, STAGING_LABEL } from '../../../concierge/dockerproxy/aware/caller.js';

/**
 * The caller socket labels everything a workload creates with its owner and, for
 * containers with translated binds, their staging paths: that is the point of it, so those two
 * labels are taken out of a caller outcome before it is compared with the direct one. Only the
 * exact values this run's caller must have are taken out; an owner label naming anyone else, or a
 * staging path outside the run's staging area, stays and shows as a difference.
 */
export function withoutOwnerLabels<T>(outcome: T, owner: { id: string; stagingDir: string }): T {
  return strip(outcome, owner);
}

function strip<T>(value: T, owner: { id: string; stagingDir: string }): T {
  if (Array.isArray(value)) return (value as unknown[]).map((v) => strip(v, owner)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === OWNER_LABEL && v === owner.id) continue;
    if (key === STAGING_LABEL && typeof v === 'string' && v.split(',').every((p) => p.startsWith(`${owner.stagingDir}/${owner.id}/`))) continue;
    out[key] = strip(v, owner);
  }
  return out as T;
}
