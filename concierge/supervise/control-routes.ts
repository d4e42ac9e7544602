// The instance's own control routes, beside the workload routes (workloads/control-api.ts):
//   GET  /status                 boot timeline, daemons, workloads, shutdown and result
//   GET  /events[?since=N][&follow=1]   events as JSON lines, oldest first; follow keeps the stream open
//   GET  /metrics                Prometheus text format
//   POST /shutdown               {"reason": "..."}: orderly shutdown -> 202 {"reason": "..."}
// Errors are {"message": "..."} with a 4xx or 5xx status.
import { HttpError, readJson, send, wantsFollow, type ControlHandler } from '../control/http.js';
import type { EventLog, InstanceEvent } from '../events/event-log.js';
import type { InstanceMetrics } from '../metrics/instance-metrics.js';

export interface InstanceControl {
  status(): unknown;
  /** Starts the orderly shutdown (a later call while one runs changes nothing); false when already under way. */
  shutdown(reason: string): boolean;
}

const maxReason = 500;

export function instanceRoutes(instance: InstanceControl, events: EventLog, metrics: InstanceMetrics): ControlHandler {
  return async (req, res, url, parts) => {
    const method = req.method ?? 'GET';
    if (parts.length !== 1) return false;
    const [name] = parts;
    if (name === 'status' && method === 'GET') send(res, 200, instance.status());
    else if (name === 'metrics' && method === 'GET') {
      const text = await metrics.text();
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    } else if (name === 'events' && method === 'GET') {
      const sinceText = url.searchParams.get('since') ?? '0';
      if (!/^\d{1,15}$/.test(sinceText)) throw new HttpError(400, 'since must be an event sequence number');
      const line = (e: InstanceEvent): string => `${JSON.stringify(e)}\n`;
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      let last = Number(sinceText);
      for (const e of events.since(last)) {
        res.write(line(e));
        last = e.seq;
      }
      if (!wantsFollow(url)) {
        res.end();
        return true;
      }
      const unfollow = events.follow((e) => {
        if (e.seq > last) res.write(line(e));
      });
      res.once('close', unfollow);
    } else if (name === 'shutdown' && method === 'POST') {
      const body = await readJson(req);
      let reason = 'requested over the control API';
      if (body !== undefined) {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body: expected {"reason": "..."}');
        const r = (body as Record<string, unknown>).reason;
        if (r !== undefined && (typeof r !== 'string' || r.length > maxReason || r.includes('\n'))) {
          throw new HttpError(400, `reason: expected one line of at most ${maxReason} characters`);
        }
        if (typeof r === 'string' && r !== '') reason = r;
      }
      const started = instance.shutdown(reason);
      if (!started) throw new HttpError(409, 'the instance is already shutting down');
      send(res, 202, { reason });
    } else return false;
    return true;
  };
}
