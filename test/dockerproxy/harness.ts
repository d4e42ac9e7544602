import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { DockerdClient } from '../../concierge/dockerproxy/aware/dockerd.js';
import { type Caller, type CallerMount, DEFAULT_POLICY, OWNER_LABEL, type PrivilegePolicy, startCallerSocket } from '../../concierge/dockerproxy/aware/index.js';
import { log } from '../../concierge/log/logger.js';
import { DOCKER_CLI, dockerCliEntries, importBusybox } from '../lib/busybox.js';
import { dockerdSocket } from '../lib/daemons.js';
import { dockerStreamText, raw, rawPost, type RawAnswer } from '../lib/raw-http.js';
import { runCommand, type CommandResult } from '../lib/run-command.js';
import { mountsUnder, unmountAllUnder } from '../lib/mounts.js';

/**
 * A caller of the caller-aware socket without containerd: its "rootfs" is a temp directory and its
 * mounts are whatever a test lists. dockerd is the real one of the test daemons ($DOCKERD_SOCK).
 */

/** A short random marker for this run: every name, label and temp dir carries it. */
export function runMarker(): string {
  return `caller-${Math.random().toString(36).slice(2, 8)}`;
}

export interface ApiAnswer {
  status: number;
  json: unknown;
  text: string;
}

/** One Docker API call (dockerd directly, or a caller socket): the proxy's own small client. */
export function api(socketPath: string, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  return new DockerdClient(socketPath).call(method, path, body);
}

/** The docker CLI pointed at a socket. */
export function docker(socketPath: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand([DOCKER_CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_HOST: `unix://${socketPath}` },
    ...opts,
  });
}

/** Imports a busybox image with the static docker CLI, so a sibling can talk to the socket bound into it. */
export const importBusyboxWithDocker = (reference: string): Promise<void> => importBusybox(dockerdSocket(), reference, dockerCliEntries());

export interface TestCaller {
  caller: Caller;
  /** The caller's root on the host. */
  root: string;
  socket: string;
  stagingDir: string;
  /** Stops the socket and removes the caller's objects (the code under test). */
  closeAndClean(): Promise<void>;
  close(): Promise<void>;
}

/** A caller with a temp directory as its root and its own socket, bound at /var/run/docker.sock in its view. */
export interface TestCallerOptions {
  policy?: PrivilegePolicy;
  /** What the caller socket is told of dockerd's builder (default: dockerd's default, network.host granted). */
  builderGrantsHostNetwork?: boolean;
}

export async function startTestCaller(dir: string, id: string, extraMounts: CallerMount[] = [], options: TestCallerOptions = {}): Promise<TestCaller> {
  const root = join(dir, `${id}-root`);
  const stagingDir = join(dir, 'staging');
  const socket = join(dir, `${id}.sock`);
  mkdirSync(root, { recursive: true });
  const caller: Caller = {
    id,
    rootfs: root,
    mounts: [{ destination: '/var/run/docker.sock', source: socket, type: 'bind', options: ['rbind', 'rw'] }, ...extraMounts],
    policy: options.policy ?? DEFAULT_POLICY,
  };
  const running = await startCallerSocket({
    caller, listen: socket, upstream: dockerdSocket(), stagingDir, log: log.child({ test: 'callersocket' }),
    ...(options.builderGrantsHostNetwork === undefined ? {} : { builderGrantsHostNetwork: options.builderGrantsHostNetwork }),
  });
  return { caller, root, socket, stagingDir, closeAndClean: () => running.closeAndClean(), close: () => running.close() };
}

/**
 * A test file's scene: a scratch directory and a busybox image named after one run marker, and the
 * callers started in it. It registers the hooks that make the directory and the image before the
 * file's own hooks and tests, and that remove all of it after them: every caller closed and cleaned,
 * whatever on dockerd still carries the marker, the image, leftover staging binds, the directory.
 * Call it at the top of the file, before the file's own beforeAll.
 */
export interface CallerScene {
  readonly marker: string;
  readonly image: string;
  /** The scratch directory (there once the scene's beforeAll has run). */
  readonly dir: string;
  /** Starts a caller `<marker>-<name>` rooted in the scratch directory. */
  caller(name: string, extraMounts?: CallerMount[], options?: TestCallerOptions): Promise<TestCaller>;
}

export function useCallerScene(): CallerScene {
  const marker = runMarker();
  const image = `${marker}-busybox:latest`;
  const callers: TestCaller[] = [];
  let dir: string | undefined;
  const scratch = (): string => {
    if (dir === undefined) throw new Error('the caller scene is made in its beforeAll');
    return dir;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${marker}-`));
    await importBusyboxWithDocker(image);
  });
  afterAll(async () => {
    for (const c of callers) await c.closeAndClean();
    await removeEverythingMarked(marker);
    await removeImage(image);
    if (dir === undefined) return;
    unmountAllUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    marker,
    image,
    get dir() {
      return scratch();
    },
    async caller(name, extraMounts = [], options = {}) {
      const c = await startTestCaller(scratch(), `${marker}-${name}`, extraMounts, options);
      callers.push(c);
      return c;
    },
  };
}

export { dockerdSocket, mountsUnder, raw, rawPost, runCommand, unmountAllUnder, type RawAnswer };

/** Ids of every container on dockerd (all states), straight from dockerd. */
export async function allContainerIds(): Promise<Set<string>> {
  const { json } = await api(dockerdSocket(), 'GET', '/containers/json?all=1');
  return new Set((json as Array<{ Id: string }>).map((c) => c.Id));
}

/** Names of every volume on dockerd. */
export async function allVolumeNames(): Promise<Set<string>> {
  const { json } = await api(dockerdSocket(), 'GET', '/volumes');
  return new Set(((json as { Volumes: Array<{ Name: string }> | null }).Volumes ?? []).map((v) => v.Name));
}

/** Everything a caller owns, straight from dockerd. */
export async function ownedBy(id: string): Promise<{ containers: string[]; volumes: string[]; networks: string[] }> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${OWNER_LABEL}=${id}`] }));
  const sock = dockerdSocket();
  const c = await api(sock, 'GET', `/containers/json?all=1&filters=${filters}`);
  const v = await api(sock, 'GET', `/volumes?filters=${filters}`);
  const n = await api(sock, 'GET', `/networks?filters=${filters}`);
  return {
    containers: (c.json as Array<{ Id: string }>).map((x) => x.Id),
    volumes: ((v.json as { Volumes: Array<{ Name: string }> | null }).Volumes ?? []).map((x) => x.Name),
    networks: (n.json as Array<{ Id: string }>).map((x) => x.Id),
  };
}

/** Removes everything whose name or owner label carries the marker, straight at dockerd. */
export async function removeEverythingMarked(marker: string): Promise<void> {
  const sock = dockerdSocket();
  const containers = (await api(sock, 'GET', '/containers/json?all=1')).json as Array<{ Id: string; Names: string[]; Labels: Record<string, string> | null; Image: string }>;
  for (const c of containers) {
    if (c.Names.some((n) => n.includes(marker)) || (c.Labels?.[OWNER_LABEL] ?? '').includes(marker) || c.Image.includes(marker)) {
      await api(sock, 'DELETE', `/containers/${c.Id}?force=1&v=1`);
    }
  }
  const volumes = ((await api(sock, 'GET', '/volumes')).json as { Volumes: Array<{ Name: string; Labels: Record<string, string> | null }> | null }).Volumes ?? [];
  for (const v of volumes) {
    if (v.Name.includes(marker) || (v.Labels?.[OWNER_LABEL] ?? '').includes(marker)) await api(sock, 'DELETE', `/volumes/${encodeURIComponent(v.Name)}?force=1`);
  }
  const networks = (await api(sock, 'GET', '/networks')).json as Array<{ Id: string; Name: string; Labels: Record<string, string> | null }>;
  for (const n of networks) {
    if (n.Name.includes(marker) || (n.Labels?.[OWNER_LABEL] ?? '').includes(marker)) await api(sock, 'DELETE', `/networks/${n.Id}`);
  }
}

export async function removeImage(reference: string): Promise<void> {
  await api(dockerdSocket(), 'DELETE', `/images/${encodeURIComponent(reference)}?force=1`);
}

function apiBuffer(socketPath: string, method: string, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The output of a container that has exited (stdout and stderr together). */
export async function containerOutput(socketPath: string, id: string): Promise<string> {
  const { status, body } = await apiBuffer(socketPath, 'GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  if (status !== 200) throw new Error(`logs ${id}: ${status} ${body.toString()}`);
  return dockerStreamText(body);
}

/**
 * Creates a container through `socketPath`, starts it, waits for it, and returns its output; the
 * container is then removed straight at dockerd (so no proxy release path runs on a failed test).
 */
export async function runSibling(socketPath: string, body: Record<string, unknown>): Promise<{ created: ApiAnswer; output?: string; exit?: number }> {
  const created = await api(socketPath, 'POST', '/containers/create', body);
  if (created.status !== 201) return { created };
  const id = (created.json as { Id: string }).Id;
  try {
    const started = await api(socketPath, 'POST', `/containers/${id}/start`);
    if (started.status !== 204) throw new Error(`start: ${started.status} ${started.text}`);
    const waited = await api(socketPath, 'POST', `/containers/${id}/wait`);
    return { created, exit: (waited.json as { StatusCode: number }).StatusCode, output: await containerOutput(socketPath, id) };
  } finally {
    await api(dockerdSocket(), 'DELETE', `/containers/${id}?force=1`);
  }
}
