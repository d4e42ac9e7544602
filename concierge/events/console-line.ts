// One readable line per event for people watching a console: time, what happened, the figure that
// matters. The guest's console and `concierge vm` on the host print the same lines.
import type { InstanceEvent } from './event-log.js';

function what(e: InstanceEvent): string {
  switch (e.type) {
    case 'timeline': {
      const slowest = [...(e.steps ?? [])].sort((a, b) => b.tookMs - a.tookMs)[0];
      return `${e.name} at +${Math.round(e.atMs)} ms${slowest === undefined ? '' : ` (${e.steps?.length ?? 0} steps, slowest ${slowest.step} ${Math.round(slowest.tookMs)} ms)`}`;
    }
    case 'daemon.ready':
      return `${e.daemon} ${e.restarts === 0 ? 'ready' : `ready again (restart ${e.restarts})`} in ${e.startMs} ms, pid ${e.pid}`;
    case 'daemon.exited':
      return `${e.daemon} exited (${e.signal ?? `code ${e.code ?? '?'}`}), pid ${e.pid}`;
    case 'image.pulled':
      return `image ${e.image} pulled: ${e.layers} layers, ${(e.bytes / 1e6).toFixed(1)} MB fetched in ${e.ms} ms`;
    case 'workload.started':
      return `workload ${e.workload} started by ${e.runtime}, pid ${e.pid} (image ${Math.round(e.imageMs)} ms, create ${Math.round(e.createMs)} ms)`;
    case 'workload.failed':
      return `workload ${e.workload} failed to start: ${e.error}`;
    case 'workload.oom':
      return `workload ${e.workload}: a process was killed by the OOM killer (${e.oomKills} so far)`;
    case 'workload.exited':
      return `workload ${e.workload} exited with code ${e.exitCode}${e.signal === null ? '' : ` (${e.signal})`}${e.oomKilled ? ', OOM-killed' : ''}`;
    case 'shutdown.started':
      return `shutdown: ${e.reason}`;
    case 'poweroff':
      return `power-off, exit code ${e.exitCode} after ${e.shutdownMs} ms of shutdown`;
  }
}

/** `concierge: 12:00:01.234 workload job exited with code 0` (UTC time of day). */
export function consoleLine(event: InstanceEvent): string {
  return `concierge: ${event.time.slice(11, 23)} ${what(event)}`;
}
