import { type IncomingMessage, request } from 'node:http';
import type { DockerdHeaders } from '../identity.js';

/** A small client for the calls the Docker-aware layer makes to dockerd itself (inspect, list, remove). */
export class DockerdClient {
  constructor(
    private readonly socketPath: string,
    /** Where dockerd's identity headers are learned, for answers the caller socket makes itself. */
    readonly dockerdHeaders?: DockerdHeaders,
  ) {}

  /** One call; a string body is sent as it is, anything else as JSON. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': payload.length },
        },
        (res) => {
          if (this.dockerdHeaders !== undefined && !this.dockerdHeaders.known) this.dockerdHeaders.learn(pairs(res.rawHeaders));
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: unknown;
            try {
              json = text.length > 0 ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** One call whose answer is handed back as dockerd gave it: status, header pairs and raw body. */
  send(method: string, path: string, opts: { body?: Buffer; headers?: Record<string, string> } = {}): Promise<RawDockerdAnswer> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path, headers: { ...opts.headers, ...(opts.body === undefined ? {} : { 'Content-Length': String(opts.body.length) }) } }, (res) => {
        if (this.dockerdHeaders !== undefined && !this.dockerdHeaders.known) this.dockerdHeaders.learn(pairs(res.rawHeaders));
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: pairs(res.rawHeaders), body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** A streamed answer (events): the response once its head arrived, and a way to end it early. */
  stream(method: string, path: string): Promise<{ res: IncomingMessage; headers: Array<[string, string]>; abort: () => void }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path }, (res) => {
        resolve({ res, headers: pairs(res.rawHeaders), abort: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  }

  async inspectContainer(ref: string): Promise<{ Id: string; Name?: string; Config?: { Labels?: Record<string, string> | null } } | undefined> {
    const { status, json } = await this.call('GET', `/containers/${encodeURIComponent(ref)}/json`);
    if (status === 404) return undefined;
    if (status !== 200) throw new Error(`dockerd: inspect ${ref}: ${status} ${messageOf(json)}`);
    return json as { Id: string; Config?: { Labels?: Record<string, string> } };
  }

  async inspectExec(id: string): Promise<{ ContainerID: string } | undefined> {
    const { status, json } = await this.call('GET', `/exec/${encodeURIComponent(id)}/json`);
    if (status === 404) return undefined;
    if (status !== 200) throw new Error(`dockerd: exec inspect ${id}: ${status} ${messageOf(json)}`);
    return json as { ContainerID: string };
  }

  async inspectVolume(name: string): Promise<{ Name: string; Labels?: Record<string, string> | null } | undefined> {
    const { status, json } = await this.call('GET', `/volumes/${encodeURIComponent(name)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new Error(`dockerd: volume inspect ${name}: ${status} ${messageOf(json)}`);
    return json as { Name: string; Labels?: Record<string, string> };
  }

  async inspectNetwork(ref: string): Promise<{ Id: string; Name: string; Labels?: Record<string, string> | null } | undefined> {
    const { status, json } = await this.call('GET', `/networks/${encodeURIComponent(ref)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new Error(`dockerd: network inspect ${ref}: ${status} ${messageOf(json)}`);
    return json as { Id: string; Name: string; Labels?: Record<string, string> };
  }
}

export interface RawDockerdAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
}

export function messageOf(json: unknown, text = ''): string {
  return typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string'
    ? (json as { message: string }).message
    : text || String(json);
}

function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}
