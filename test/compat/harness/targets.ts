import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

/**
 * One way of reaching dockerd. Both targets of a run use names of the same length (`compat-d<run>`
 * and `compat-p<run>`), so table layouts line up and one normalizer maps both to `compat-<run>`.
 */
export interface Target {
  key: 'd' | 'p';
  label: 'direct' | 'proxy';
  socket: string;
  dockerHost: string;
  /** A scratch directory of this target's own (`/tmp/compat-<key><run>`). */
  dir: string;
  /** `compat-<key><run>-<suffix>`: every container, network, volume and image a scenario makes. */
  name(suffix: string): string;
  /** The environment a docker client needs to reach this target (and nothing from the user's config). */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
}

export interface CompatRun {
  runId: string;
  direct: Target;
  proxy: Target;
  targets: readonly [Target, Target];
  proxyProcess: ProxyProcess;
  /** Strings that differ between the two targets by construction, and what they normalize to. */
  aliases: ReadonlyArray<readonly [string, string]>;
  stop(): Promise<void>;
}

export function dockerdSocket(): string {
  const socket = process.env.DOCKERD_SOCK;
  if (!socket) throw new Error('DOCKERD_SOCK is not set: eval "$(bash scripts/daemons.sh env)"');
  return socket;
}

function makeTarget(key: 'd' | 'p', runId: string, socket: string): Target {
  const tag = `compat-${key}${runId}`;
  const dir = join(tmpdir(), tag);
  mkdirSync(dir, { recursive: true });
  const dockerConfig = join(dir, '.docker');
  mkdirSync(dockerConfig, { recursive: true });
  return {
    key,
    label: key === 'd' ? 'direct' : 'proxy',
    socket,
    dockerHost: `unix://${socket}`,
    dir,
    name: (suffix) => `${tag}-${suffix}`,
    env: (extra = {}) => ({
      PATH: process.env.PATH,
      HOME: dir,
      LANG: 'C.UTF-8',
      DOCKER_HOST: `unix://${socket}`,
      DOCKER_CONFIG: dockerConfig,
      ...extra,
    }),
  };
}

/** Starts the proxy under test in front of the daemons' dockerd and describes both targets. */
export async function startCompatRun(): Promise<CompatRun> {
  const runId = randomBytes(3).toString('hex');
  const upstream = dockerdSocket();
  const direct = makeTarget('d', runId, upstream);
  const proxySocket = join(tmpdir(), `compat-${runId}.sock`);
  const proxyProcess = await startProxyProcess(proxySocket, upstream);
  const proxy = makeTarget('p', runId, proxySocket);
  return {
    runId,
    direct,
    proxy,
    targets: [direct, proxy],
    proxyProcess,
    aliases: [
      [`compat-d${runId}`, 'compat-<run>'],
      [`compat-p${runId}`, 'compat-<run>'],
      // docker-compose strips the dash from project names it derives itself.
      [`compatd${runId}`, 'compat<run>'],
      [`compatp${runId}`, 'compat<run>'],
      [upstream, '<docker.sock>'],
      [proxySocket, '<docker.sock>'],
    ],
    async stop() {
      await proxyProcess.stop();
      rmSync(proxySocket, { force: true });
      for (const t of [direct, proxy]) rmSync(t.dir, { recursive: true, force: true });
    },
  };
}
