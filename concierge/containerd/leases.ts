import { randomBytes } from 'node:crypto';
import type { ContainerdClient } from './client.js';
import { ignoreNotFound } from './errors.js';

export interface LeaseOptions {
  /** Lease id prefix; a random suffix keeps concurrent users apart. */
  prefix?: string;
  /** containerd drops an expired lease by itself: a backstop if we die while holding it. */
  expireAfterMs?: number;
  labels?: Record<string, string>;
}

/**
 * Runs `body` with a client whose calls carry a new lease, then deletes the lease. On failure the lease is
 * deleted with a synchronous GC, so what the body made and nothing referenced is removed before we return.
 */
export async function withLease<T>(client: ContainerdClient, body: (leased: ContainerdClient) => Promise<T>,
  options: LeaseOptions = {}): Promise<T> {
  const id = `${options.prefix ?? 'concierge'}-${randomBytes(6).toString('hex')}`;
  const expire = new Date(Date.now() + (options.expireAfterMs ?? 3_600_000)).toISOString();
  await client.leases.create({ id, labels: { 'containerd.io/gc.expire': expire, ...options.labels } });
  let ok = false;
  try {
    const result = await body(client.withLease(id));
    ok = true;
    return result;
  } finally {
    await ignoreNotFound(client.leases.delete({ id, sync: !ok }));
  }
}
