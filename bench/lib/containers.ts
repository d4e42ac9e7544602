import type http from 'node:http';
import { API, call, json } from './http.js';
import { IMAGE, LABEL } from './image.js';

/** Container calls the scenarios share, all through the target under test. */

export interface CreateOptions {
  cmd: string[];
  /** `none` keeps a large stdout out of dockerd's log files (attach), json-file keeps it (logs). */
  logDriver?: 'none' | 'json-file';
  attachStdout?: boolean;
  /** HostConfig.Binds (`source:destination`). */
  binds?: string[];
}

export async function createContainer(sock: string, agent: http.Agent | false, options: CreateOptions): Promise<string> {
  const spec = {
    Image: IMAGE,
    Cmd: options.cmd,
    Labels: { [LABEL]: '1' },
    AttachStdout: options.attachStdout ?? false,
    AttachStderr: options.attachStdout ?? false,
    HostConfig: {
      NetworkMode: 'none',
      LogConfig: { Type: options.logDriver ?? 'json-file', Config: {} },
      ...(options.binds === undefined ? {} : { Binds: options.binds }),
    },
  };
  const created = await call<{ Id: string }>(sock, { method: 'POST', path: `${API}/containers/create`, agent, ...json(spec) });
  return created.Id;
}

export async function startContainer(sock: string, agent: http.Agent | false, id: string): Promise<void> {
  await call(sock, { method: 'POST', path: `${API}/containers/${id}/start`, agent }, [204, 304]);
}

/** Resolves with the exit code once the container is not running (at once if it already exited). */
export async function waitContainer(sock: string, agent: http.Agent | false, id: string, timeoutMs = 120_000): Promise<number> {
  const answer = await call<{ StatusCode: number }>(sock, { method: 'POST', path: `${API}/containers/${id}/wait?condition=not-running`, agent, timeoutMs });
  return answer.StatusCode;
}

export async function removeContainer(sock: string, agent: http.Agent | false, id: string): Promise<void> {
  await call(sock, { method: 'DELETE', path: `${API}/containers/${id}?force=1&v=1`, agent, timeoutMs: 60_000 }, [204, 404]);
}

/**
 * Removes a container in a scenario's `finally` without hiding the scenario's own error: a failed
 * removal is reported on stderr and left to the run's final sweep (by label).
 */
export async function removeQuietly(sock: string, agent: http.Agent | false, id: string): Promise<void> {
  try {
    await removeContainer(sock, agent, id);
  } catch (err) {
    process.stderr.write(`[bench] could not remove ${id.slice(0, 12)} now (${(err as Error).message}); the final sweep retries\n`);
  }
}
