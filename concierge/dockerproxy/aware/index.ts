// dockerproxy/aware/: the Docker-aware layer for one caller (its socket is its identity): routes, translation, staging, ownership.
import { log as rootLog, type Logger } from '../../log/logger.js';
import { DockerdHeaders } from '../identity.js';
import { type RunningProxy, startProxy } from '../server.js';
import type { Caller } from './caller.js';
import { DockerdClient } from './dockerd.js';
import { CallerRoutes } from './routes.js';
import { removeCallerObjects } from './siblings.js';
import { StagingArea } from './staging.js';
import { watchSiblingDestroys } from './destroy-watch.js';
import { CallerRecords } from './records.js';

export { type Caller, type CallerMount, DEFAULT_POLICY, OWNER_LABEL, type PrivilegePolicy } from './caller.js';
export { StagingArea } from './staging.js';

export interface CallerSocketOptions {
  caller: Caller;
  /** Host path of this caller's socket (bind-mounted into it at /var/run/docker.sock). */
  listen: string;
  upstream: string;
  /** Directory for staging binds (one subdirectory per caller). */
  stagingDir: string;
  /** Directory for the callers' records (one file per caller); default: `records` beside stagingDir. */
  recordsDir?: string;
  upstreamWaitMs?: number;
  /**
   * Settles once dockerd answers, where the starter knows it (PID 1 starts dockerd after the job's
   * task is created): the socket's own first calls to dockerd (its answer headers, the destroy watch)
   * wait for it rather than failing and retrying against a socket not there yet, on the thread the
   * job's start needs. By default they start at once.
   */
  upstreamReady?: Promise<unknown>;
  /** dockerd's BuildKit grants `network.host`: its default; false only where concierge configured it without. */
  builderGrantsHostNetwork?: boolean;
  log?: Logger;
}

export interface CallerSocket extends RunningProxy {
  /** Stops serving and removes the caller's siblings, volumes, networks and staging binds. */
  closeAndClean(): Promise<void>;
}

/** One caller's docker.sock: the transparent proxy plus the Docker-aware layer for that caller. */
export async function startCallerSocket(options: CallerSocketOptions): Promise<CallerSocket> {
  const log = (options.log ?? rootLog).child({ caller: options.caller.id });
  const dockerdHeaders = new DockerdHeaders();
  const dockerd = new DockerdClient(options.upstream, dockerdHeaders);
  const staging = new StagingArea(options.stagingDir);
  const recordsDir = options.recordsDir ?? `${options.stagingDir.replace(/\/+$/, '').replace(/\/[^/]*$/, '')}/records`;
  const records = CallerRecords.load(`${recordsDir}/${options.caller.id}.json`, options.caller.id);
  // A restarted concierge: what the records name must still exist; binds of siblings gone meanwhile go.
  const gone = await records.verify(dockerd).catch((err: Error) => {
    log.warn({ err: err.message }, 'caller records not verified against dockerd');
    return [];
  });
  for (const p of gone) await staging.release(p);
  const routes = new CallerRoutes(options.caller, dockerd, staging, records, log, options.builderGrantsHostNetwork ?? true);
  const proxy = await startProxy({
    listen: options.listen,
    upstream: options.upstream,
    upstreamWaitMs: options.upstreamWaitMs,
    interceptor: routes,
    dockerdHeaders,
    mode: 0o666,
    log,
  });
  // Learn dockerd's answer headers first, so even a first refusal looks like one of dockerd's answers.
  const upstreamReady = (options.upstreamReady ?? Promise.resolve()).catch(() => undefined);
  void upstreamReady.then(() => dockerd.call('GET', '/_ping')).catch(() => undefined);
  const destroys = watchSiblingDestroys(options.upstream, records, staging, log, upstreamReady);
  return {
    listen: proxy.listen,
    close: async () => {
      destroys.stop();
      await proxy.close();
    },
    closeAndClean: async () => {
      destroys.stop();
      await proxy.close();
      await removeCallerObjects(records, dockerd, staging, log);
    },
  };
}
