import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerdSocket } from '../../lib/daemons.js';
import { startCallerWorkload, type CallerWorkload } from './caller-workload.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

export type TargetKey = 'd' | 'p' | 'c';
export type TargetLabel = 'direct' | 'proxy' | 'caller';

const labels: Record<TargetKey, TargetLabel> = { d: 'direct', p: 'proxy', c: 'caller' };

/**
 * One way of reaching dockerd: straight, through the transparent proxy, or through a workload's
 * caller-aware socket. Every target of a run uses names of the same length (`compat-d<run>`,
 * `compat-p<run>`, `compat-c<run>`), so table layouts line up and one normalizer maps them all to
 * `compat-<run>`.
 */
export interface Target {
  key: TargetKey;
  label: TargetLabel;
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
  /** The caller socket of a running workload whose id is `compat-c<run>` (see caller-workload.ts). */
  caller: Target;
  callerWorkload: CallerWorkload;
  targets: readonly [Target, Target, Target];
  proxyProcess: ProxyProcess;
  /** Strings that differ between the targets by construction, and what they normalize to. */
  aliases: ReadonlyArray<readonly [string, string]>;
  stop(): Promise<void>;
}

function makeTarget(key: TargetKey, runId: string, socket: string): Target {
  const tag = `compat-${key}${runId}`;
  const dir = join(tmpdir(), tag);
  mkdirSync(dir, { recursive: true });
  const dockerConfig = join(dir, '.docker');
  mkdirSync(dockerConfig, { recursive: true });
  return {
    key,
    label: labels[key],
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

/**
 * Starts the proxy under test in front of the daemons' dockerd, and a workload whose caller socket
 * is the third target, and describes all three.
 */
export async function startCompatRun(): Promise<CompatRun> {
  const runId = randomBytes(3).toString('hex');
  const upstream = dockerdSocket();
  const direct = makeTarget('d', runId, upstream);
  const proxySocket = join(tmpdir(), `compat-${runId}.sock`);
  const proxyProcess = await startProxyProcess(proxySocket, upstream);
  const proxy = makeTarget('p', runId, proxySocket);
  const callerDir = join(tmpdir(), `compat-c${runId}`);
  let callerWorkload: CallerWorkload;
  try {
    mkdirSync(callerDir, { recursive: true });
    // The workload id is the owner label on everything it creates: named like the run's objects.
    callerWorkload = await startCallerWorkload({
      id: `compat-c${runId}`,
      sharedDir: callerDir,
      workDir: join(tmpdir(), `compat-${runId}-workload`),
      dockerd: upstream,
    });
  } catch (err) {
    await proxyProcess.stop();
    throw err;
  }
  const caller = makeTarget('c', runId, callerWorkload.socket);
  const targets = [direct, proxy, caller] as const;
  return {
    runId,
    direct,
    proxy,
    caller,
    callerWorkload,
    targets,
    proxyProcess,
    aliases: [
      ...targets.map((t) => [`compat-${t.key}${runId}`, 'compat-<run>'] as const),
      // docker-compose strips the dash from project names it derives itself.
      ...targets.map((t) => [`compat${t.key}${runId}`, 'compat<run>'] as const),
      ...targets.map((t) => [t.socket, '<docker.sock>'] as const),
    ],
    async stop() {
      await callerWorkload.stop();
      await proxyProcess.stop();
      rmSync(proxySocket, { force: true });
      for (const t of targets) rmSync(t.dir, { recursive: true, force: true });
    },
  };
}
