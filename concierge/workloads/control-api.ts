// The control API of `concierge serve`: HTTP/JSON on a unix socket, so tests and the host drive workloads.
//   GET  /workloads                      list (info of each, including exited ones)
//   POST /workloads                      run the workload spec in the body -> 201 info
//   GET  /workloads/{id}                 info
//   POST /workloads/{id}/wait            waits for the exit -> {"exitCode": n}
//   POST /workloads/{id}/signal?signal=  sends a signal (name or number, default TERM) -> 204
//   POST /workloads/{id}/stop            SIGTERM, SIGKILL after the stop timeout, removal -> {"exitCode": n}
//   GET  /workloads/{id}/logs?stream=stdout|stderr&follow=1   output as raw bytes
// Errors are {"message": "..."} with a 4xx or 5xx status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { constants } from 'node:os';
import { rmSync } from 'node:fs';
import { ImageNotFoundError } from '../containerd/images/resolve.js';
import { RegistryError } from '../registry/errors.js';
import { log } from '../log/logger.js';
import { OutputLog } from './output-log.js';
import type { WorkloadRunner } from './runner.js';
import { SpecError } from '../instance/spec-fields.js';
import { parseWorkloadSpec } from '../instance/spec-workloads.js';
import { UserLookupError } from './user.js';
import type { Workload } from './workload.js';

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const maxBody = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) throw new HttpError(413, `body larger than ${maxBody} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function signalNumber(value: string | null): number {
  if (value === null || value === '') return constants.signals.SIGTERM;
  if (/^\d+$/.test(value) && Number(value) > 0 && Number(value) < 65) return Number(value);
  const name = (value.startsWith('SIG') ? value : `SIG${value}`).toUpperCase() as keyof typeof constants.signals;
  const n = constants.signals[name];
  if (n === undefined) throw new HttpError(400, `unknown signal ${JSON.stringify(value)}`);
  return n;
}

export interface ControlApi {
  /** Starts a workload with its output recorded for the logs endpoint. */
  start(spec: ReturnType<typeof parseWorkloadSpec>): Promise<Workload>;
  close(): Promise<void>;
}

export async function startControlApi(runner: WorkloadRunner, socketPath: string,
  options: { baseDir?: string; onOutput?: (id: string, stream: 'stdout' | 'stderr', chunk: Buffer) => void } = {}): Promise<ControlApi> {
  const logs = new Map<string, OutputLog>();

  const start = async (spec: ReturnType<typeof parseWorkloadSpec>): Promise<Workload> => {
    const output = new OutputLog();
    logs.set(spec.id, output);
    try {
      const workload = await runner.start(spec, (stream, chunk) => {
        output.append(stream, chunk);
        options.onOutput?.(spec.id, stream, chunk);
      });
      workload.once('removed', () => output.end());
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

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://concierge');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (parts[0] !== 'workloads' || parts.length > 3) throw new HttpError(404, `no such endpoint: ${method} ${url.pathname}`);
    if (parts.length === 1) {
      if (method === 'GET') return send(res, 200, runner.list());
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
        return send(res, 201, workload.info());
      }
      throw new HttpError(405, `${method} is not allowed on /workloads`);
    }
    const workload = workloadOf(parts[1]!);
    const action = parts[2];
    if (action === undefined && method === 'GET') return send(res, 200, workload.info());
    if (action === 'wait' && method === 'POST') return send(res, 200, { exitCode: (await workload.wait()).exitCode });
    if (action === 'stop' && method === 'POST') return send(res, 200, { exitCode: (await workload.stop())?.exitCode ?? null });
    if (action === 'signal' && method === 'POST') {
      if (workload.state !== 'running' && workload.state !== 'stopping') throw new HttpError(409, `workload ${workload.spec.id} is ${workload.state}`);
      await workload.signal(signalNumber(url.searchParams.get('signal')));
      return send(res, 204);
    }
    if (action === 'logs' && method === 'GET') {
      const output = logs.get(workload.spec.id);
      const only = url.searchParams.get('stream');
      if (only !== null && only !== 'stdout' && only !== 'stderr') throw new HttpError(400, 'stream must be stdout or stderr');
      const wanted = (stream: string) => only === null || stream === only;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      for (const c of output?.snapshot() ?? []) if (wanted(c.stream)) res.write(c.data);
      if (!url.searchParams.has('follow') || output === undefined || output.isEnded) {
        res.end();
        return;
      }
      const unfollow = output.follow({ write: (c) => { if (wanted(c.stream)) res.write(c.data); }, end: () => res.end() });
      res.on('close', unfollow);
      return;
    }
    throw new HttpError(404, `no such endpoint: ${method} ${url.pathname}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status >= 500) log.error({ err: err.message, url: req.url }, 'control API request failed');
      if (!res.headersSent) send(res, status, { message: err.message });
      else res.destroy();
    });
  });
  // No request timeout: wait and followed logs last as long as the workload.
  server.requestTimeout = 0;
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  log.info({ socket: socketPath }, 'control API listening');
  return {
    start,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      rmSync(socketPath, { force: true });
    }),
  };
}
