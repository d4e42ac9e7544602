import { request } from 'node:http';
import type { Logger } from '../../log/logger.js';
import type { CallerRecords } from './records.js';
import type { StagingArea } from './staging.js';

/**
 * Releases a sibling's staging binds when dockerd destroys it, however that happens (`--rm`, a remove
 * through another path, a prune): the destroyed id is looked up in the caller's records (labels, which
 * an image can set, are not read). The watch starts once `upstreamReady` settles.
 */
export function watchSiblingDestroys(
  socketPath: string, records: CallerRecords, staging: StagingArea, log: Logger, upstreamReady: Promise<unknown>,
): { stop(): void } {
  let stopped = false;
  let current: ReturnType<typeof request> | undefined;
  const filters = JSON.stringify({ type: ['container'], event: ['destroy'] });
  const connect = (delay: number) => {
    if (stopped) return;
    let pending = '';
    current = request({ socketPath, path: `/events?filters=${encodeURIComponent(filters)}` }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          try {
            const event = JSON.parse(line) as { Actor?: { ID?: string } };
            const id = event.Actor?.ID;
            if (id !== undefined && records.hasContainer(id)) {
              const { staged } = records.removeContainer(id);
              for (const p of staged) void staging.release(p);
            }
          } catch (err) {
            log.warn({ err }, 'unreadable dockerd event');
          }
        }
      });
      res.on('end', () => setTimeout(() => connect(100), 100).unref());
    });
    current.on('error', () => setTimeout(() => connect(Math.min(delay * 2, 2000)), delay).unref());
    current.end();
  };
  void upstreamReady.then(() => connect(100));
  return {
    stop() {
      stopped = true;
      current?.destroy();
    },
  };
}
