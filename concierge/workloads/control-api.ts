// The workload part of the control API (HTTP/JSON), served by `concierge serve` on a unix socket and by
// the init beside its own routes (supervise/control-routes.ts), also over the host channel.
//   GET  /workloads                      list (info of each, including exited ones)
//   POST /workloads                      run the workload spec in the body -> 201 info
//   GET  /workloads/{id}                 info
//   POST /workloads/{id}/wait            waits for the exit -> {"exitCode": n}
//   POST /workloads/{id}/signal?signal=  sends a signal (name or number, default TERM) -> 204
//   POST /workloads/{id}/stdin           the request body is the task's stdin; its end closes it -> 204
//   POST /workloads/{id}/resize?width=&height=  the size of its terminal (a workload with terminal) -> 204
//   POST /workloads/{id}/stop            SIGTERM, SIGKILL after the stop timeout, removal -> {"exitCode": n}
//   GET  /workloads/{id}/logs?stream=stdout|stderr&from=<byte>&follow=1   output as raw bytes
//   GET  /workloads/{id}/stats           its cgroup v2 files (memory.current, memory.max, memory.stat,
//                                        memory.events, cpu.stat, pids.current, pids.max) -> {"<file>": ...}
// Errors are {"message": "..."} with a 4xx or 5xx status.
import { constants } from 'node:os';
import { pipeline } from 'node:stream/promises';
import {
  dispatch, HttpError, listenUnix, readJson, send, wantsFollow, type ControlHandler, type ControlResponse,
} from '../control/http.js';
import { ImageNotFoundError } from '../containerd/images/resolve.js';
import { RegistryError } from '../registry/errors.js';
import { log } from '../log/logger.js';
import { readCgroupStats } from './cgroup.js';
import { OutputLog, sliceFrom, type OutputChunk } from './output-log.js';
import type { WorkloadRunner } from './runner.js';
import { SpecError } from '../instance/spec-fields.js';
import { parseWorkloadSpec, type WorkloadSpec } from '../instance/spec-workloads.js';
import { UserLookupError } from './user.js';
import type { Workload } from './workload.js';

function signalNumber(value: string | null): number {
  if (value === null || value === '') return constants.signals.SIGTERM;
  if (/^\d+$/.test(value) && Number(value) > 0 && Number(value) < 65) return Number(value);
  const name = (value.startsWith('SIG') ? value : `SIG${value}`).toUpperCase() as keyof typeof constants.signals;
  const n = constants.signals[name];
  if (n === undefined) throw new HttpError(400, `unknown signal ${JSON.stringify(value)}`);
  return n;
}

/**
 * A workload's output as the logs endpoint answers it: `stream` picks one, `from` a byte offset in it
 * (where a reader that reconnects stopped), `follow` keeps the answer open until the workload is removed.
 */
export function streamOutput(res: ControlResponse, url: URL, output: OutputLog | undefined): void {
  const only = url.searchParams.get('stream');
  if (only !== null && only !== 'stdout' && only !== 'stderr') throw new HttpError(400, 'stream must be stdout or stderr');
  const fromText = url.searchParams.get('from');
  if (fromText !== null && (only === null || !/^\d{1,15}$/.test(fromText))) {
    throw new HttpError(400, 'from must be a byte offset, with stream set');
  }
  const from = fromText === null ? 0 : Number(fromText);
  const write = (c: OutputChunk): void => {
    if (only !== null && c.stream !== only) return;
    const data = sliceFrom(c, from);
    if (data !== undefined) res.write(data);
  };
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
  for (const c of output?.snapshot() ?? []) write(c);
  if (!wantsFollow(url) || output === undefined || output.isEnded) {
    res.end();
    return;
  }
  const unfollow = output.follow({ write, end: () => res.end() });
  res.once('close', unfollow);
}

export interface WorkloadRoutes {
  /** Starts a workload with its output recorded for the logs endpoint. */
  start: (spec: WorkloadSpec) => Promise<Workload>;
  list: () => ReturnType<WorkloadRunner['list']>;
  handle: ControlHandler;
}

export interface WorkloadRoutesOptions {
  baseDir?: string;
  onOutput?: (id: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Each workload started, the spec's and those POSTed later alike. */
  onStarted?: (workload: Workload) => void;
}

/** The /workloads routes over a runner: run, list, wait, signal, stop, logs. */
export function workloadRoutes(runner: WorkloadRunner, options: WorkloadRoutesOptions = {}): WorkloadRoutes {
  const logs = new Map<string, OutputLog>();

  const start = async (spec: WorkloadSpec): Promise<Workload> => {
    const output = new OutputLog();
    logs.set(spec.id, output);
    try {
      const workload = await runner.start(spec, (stream, chunk) => {
        output.append(stream, chunk);
        options.onOutput?.(spec.id, stream, chunk);
      });
      workload.once('removed', () => output.end());
      options.onStarted?.(workload);
      // Removal follows the exit: nothing stays in containerd once a workload has ended.
      workload.wait().catch((err: Error) => log.error({ workload: spec.id, err: err.message }, 'removal failed'));
      return workload;
    } catch (err) {
      output.end();
      // What the request named and the image lacks is the client's to fix, as dockerd answers it.
      if (err instanceof ImageNotFoundError) throw new HttpError(404, err.message);
      // A pull that failed: what the registry lacks is the client's to fix, the rest is the registry's (a gateway's 502).
      if (err instanceof RegistryError) throw new HttpError(err.reason === 'not-found' || err.reason === 'platform' ? 404 : 502, err.message);
      if (err instanceof UserLookupError) throw new HttpError(400, err.message);
      throw err;
    }
  };

  const workloadOf = (id: string): Workload => {
    const w = runner.get(id);
    if (w === undefined) throw new HttpError(404, `no such workload: ${id}`);
    return w;
  };

  const handle: ControlHandler = async (req, res, url, parts) => {
    const method = req.method ?? 'GET';
    if (parts[0] !== 'workloads' || parts.length > 3) return false;
    if (parts.length === 1) {
      if (method === 'GET') {
        send(res, 200, runner.list());
        return true;
      }
      if (method === 'POST') {
        let spec;
        try {
          spec = parseWorkloadSpec(await readJson(req), { ...(options.baseDir ? { baseDir: options.baseDir } : {}) });
        } catch (err) {
          if (err instanceof SpecError) throw new HttpError(400, err.message);
          throw err;
        }
        const existing = runner.get(spec.id);
        if (existing && existing.state !== 'removed' && existing.state !== 'failed') throw new HttpError(409, `workload ${spec.id} is already running`);
        const workload = await start(spec);
        send(res, 201, workload.info());
        return true;
      }
      throw new HttpError(405, `${method} is not allowed on /workloads`);
    }
    const workload = workloadOf(parts[1]!);
    const action = parts[2];
    if (action === undefined && method === 'GET') send(res, 200, workload.info());
    else if (action === 'wait' && method === 'POST') send(res, 200, { exitCode: (await workload.wait()).exitCode });
    else if (action === 'stop' && method === 'POST') send(res, 200, { exitCode: (await workload.stop())?.exitCode ?? null });
    else if (action === 'signal' && method === 'POST') {
      if (workload.state !== 'running' && workload.state !== 'stopping') throw new HttpError(409, `workload ${workload.spec.id} is ${workload.state}`);
      await workload.signal(signalNumber(url.searchParams.get('signal')));
      send(res, 204);
    } else if (action === 'stdin' && method === 'POST') {
      const stdin = workload.stdin;
      if (stdin === undefined) throw new HttpError(409, `workload ${workload.spec.id} has no stdin (its spec's stdin is false)`);
      await pipeline(req, stdin);
      send(res, 204);
    } else if (action === 'resize' && method === 'POST') {
      const [width, height] = ['width', 'height'].map((k) => Number(url.searchParams.get(k)));
      if (!workload.spec.terminal) throw new HttpError(409, `workload ${workload.spec.id} has no terminal`);
      if (!Number.isInteger(width) || !Number.isInteger(height) || width! < 0 || height! < 0 || width! > 65535 || height! > 65535) {
        throw new HttpError(400, 'width and height: expected whole numbers up to 65535');
      }
      await workload.resize(width!, height!);
      send(res, 204);
    } else if (action === 'logs' && method === 'GET') streamOutput(res, url, logs.get(workload.spec.id));
    else if (action === 'stats' && method === 'GET') {
      const stats = workload.state === 'running' || workload.state === 'stopping' ? readCgroupStats(workload.cgroupDir) : undefined;
      if (stats === undefined) throw new HttpError(409, `workload ${workload.spec.id} is ${workload.state}: it has no cgroup`);
      send(res, 200, stats);
    }
    else return false;
    return true;
  };

  return { start, handle, list: () => runner.list() };
}

export interface ControlApi {
  /** Starts a workload with its output recorded for the logs endpoint. */
  start(spec: WorkloadSpec): Promise<Workload>;
  close(): Promise<void>;
}

/** `concierge serve`'s control API: the workload routes on a unix socket. */
export async function startControlApi(runner: WorkloadRunner, socketPath: string, options: WorkloadRoutesOptions = {}): Promise<ControlApi> {
  const routes = workloadRoutes(runner, options);
  const server = await listenUnix(socketPath, dispatch([routes.handle]));
  log.info({ socket: socketPath }, 'control API listening');
  return { start: routes.start, close: () => server.close() };
}
