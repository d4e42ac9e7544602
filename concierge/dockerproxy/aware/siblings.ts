import type { Logger } from '../../log/logger.js';
import type { DockerdClient } from './dockerd.js';
import type { CallerRecords } from './records.js';
import type { StagingArea } from './staging.js';

/**
 * Removes everything a caller created once its task is gone: siblings (their binds point
 * into its rootfs), their staging binds, and its volumes and networks, as concierge recorded them.
 */
export async function removeCallerObjects(records: CallerRecords, dockerd: DockerdClient, staging: StagingArea, log: Logger): Promise<void> {
  let removed = 0;
  for (const id of records.containerIds()) {
    const { status } = await dockerd.call('DELETE', `/containers/${id}?force=1&v=1`);
    if (status === 204 || status === 404) {
      removed++;
      await records.removeContainer(id).done;
    }
  }
  for (const name of records.volumeNames()) {
    const { status } = await dockerd.call('DELETE', `/volumes/${encodeURIComponent(name)}?force=1`);
    if (status === 204 || status === 404) await records.removeVolume(name).done;
  }
  for (const id of records.networkIds()) {
    const { status } = await dockerd.call('DELETE', `/networks/${id}`);
    if (status === 204 || status === 404) await records.removeNetwork(id);
  }
  const released = await staging.sweep(records.callerId);
  log.info({ containers: removed, released }, 'caller siblings removed');
}
