import type { Logger } from '../../log/logger.js';
import { type Caller, OWNER_LABEL, STAGING_LABEL } from './caller.js';
import type { DockerdClient } from './dockerd.js';
import type { StagingArea } from './staging.js';

interface Labeled {
  Id?: string;
  Name?: string;
  Labels?: Record<string, string> | null;
}

/**
 * Removes everything a caller created once its task is gone: siblings (their binds point
 * into its rootfs), their staging binds, and its volumes and networks.
 */
export async function removeCallerObjects(caller: Caller, dockerd: DockerdClient, staging: StagingArea, log: Logger): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${OWNER_LABEL}=${caller.id}`] }));
  const containers = await dockerd.call('GET', `/containers/json?all=1&filters=${filters}`);
  let removed = 0;
  for (const c of (containers.json as Labeled[] | undefined) ?? []) {
    const { status } = await dockerd.call('DELETE', `/containers/${c.Id}?force=1&v=1`);
    if (status === 204 || status === 404) removed++;
  }
  const volumes = await dockerd.call('GET', `/volumes?filters=${filters}`);
  for (const v of ((volumes.json as { Volumes?: Labeled[] } | undefined)?.Volumes ?? [])) {
    await dockerd.call('DELETE', `/volumes/${encodeURIComponent(v.Name ?? '')}?force=1`);
  }
  const networks = await dockerd.call('GET', `/networks?filters=${filters}`);
  for (const n of (networks.json as Labeled[] | undefined) ?? []) await dockerd.call('DELETE', `/networks/${n.Id}`);
  const released = await staging.sweep(caller.id);
  log.info({ containers: removed, released }, 'caller siblings removed');
}

/** Staging binds listed on a container or volume's labels. */
export function stagingOf(labels: Record<string, string> | null | undefined): string[] {
  const list = labels?.[STAGING_LABEL];
  return list === undefined || list === '' ? [] : list.split(',');
}
