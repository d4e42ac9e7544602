import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../../test/lib/server-process.js';

/** Something that serves the Docker API on a unix socket: dockerd itself or a proxy in front of it. */
export interface Target {
  /** Short name used in tables: direct, haproxy, concierge, concierge-js. */
  readonly name: string;
  readonly socketPath: string;
  /** The proxy process (none for direct dockerd). */
  readonly pid: number | undefined;
  /**
   * Set on a caller-aware socket (bench/caller-socket.ts): the host directory that is the caller's `/`.
   * Bind sources sent to it are paths in that root; scenarios run on it only when they ask for it.
   */
  readonly callerRoot?: string;
  stop(): Promise<void>;
}

export function direct(dockerdSock: string): Target {
  return { name: 'direct', socketPath: dockerdSock, pid: undefined, stop: async () => {} };
}

/**
 * HAProxy configured like the most used Docker socket proxy (Tecnativa's docker-socket-proxy): HTTP
 * mode, `option http-server-close` (keep-alive towards the client, one dockerd connection per request),
 * its 10 minute client/server timeouts, and `timeout tunnel` for upgraded attach/exec streams. Its
 * access rules are left out and per-request logging is off, as it is for concierge: the engines are
 * compared, not their policies.
 */
export function haproxyConfig(listen: string, upstream: string): string {
  return `global
    maxconn 4000

defaults
    mode http
    option http-server-close
    option redispatch
    retries 3
    timeout http-request 10s
    timeout queue 1m
    timeout connect 10s
    timeout client 10m
    timeout server 10m
    timeout http-keep-alive 10s
    timeout tunnel 1h
    maxconn 3000

frontend docker
    bind ${listen} mode 660
    default_backend dockerd

backend dockerd
    server dockerd ${upstream}
`;
}

export async function haproxy(dir: string, dockerdSock: string): Promise<Target> {
  const listen = join(dir, 'haproxy.sock');
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(listen, dockerdSock));
  // -db: stay in the foreground so the bench owns (and stops) exactly this process.
  return startProcess('haproxy', 'haproxy', ['-db', '-f', config], listen, join(dir, 'haproxy.log'));
}

export async function concierge(name: string, command: string, prefixArgs: string[], dir: string, dockerdSock: string, env: NodeJS.ProcessEnv = {}): Promise<Target> {
  const listen = join(dir, `${name}.sock`);
  return startProcess(name, command, [...prefixArgs, 'proxy', '--listen', listen, '--upstream', dockerdSock], listen, join(dir, `${name}.log`), env);
}

/**
 * A caller-aware socket (`startCallerSocket`) for a caller whose root is `callerRoot`, its staging binds
 * under `stagingDir`: `script` (bench/caller-socket.ts) bundled by esbuild the way dist/concierge.js is
 * (CommonJS, target node20), run on `node` (with `nodeArgs`, e.g. --cpu-prof), so its memory is the
 * concierge code's and no loader's.
 */
export async function callerSocket(
  name: string,
  node: string,
  script: string,
  addon: string,
  dir: string,
  dockerdSock: string,
  callerRoot: string,
  stagingDir: string,
  nodeArgs: string[] = [],
): Promise<Target> {
  const listen = join(dir, `${name}.sock`);
  const bundle = join(dir, `${name}.cjs`);
  await build({ entryPoints: [script], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' });
  const args = [...nodeArgs, bundle, '--listen', listen, '--upstream', dockerdSock, '--root', callerRoot, '--staging', stagingDir];
  const env = { CONCIERGE_SYS_ADDON: addon };
  return { ...(await startProcess(name, node, args, listen, join(dir, `${name}.log`), env)), callerRoot };
}

/** A bare Node passthrough (bench/floor/node-pipe.mjs): the floor cost of forwarding bytes in Node. */
export async function nodeFloor(name: string, node: string, script: string, mode: 'pipe' | 'onread', dir: string, dockerdSock: string): Promise<Target> {
  const listen = join(dir, `${name}.sock`);
  return startProcess(name, node, [script, listen, dockerdSock, mode], listen, join(dir, `${name}.log`));
}

/**
 * Drops a program file's pages from the page cache, so it is mapped as a deployed binary is. A file
 * the build has just written sits in the cache in large folios, and each fault maps a whole folio:
 * the same idle `concierge proxy` then shows 72 MB of RSS instead of 54 (measured: 17 MB more of
 * node's text and rodata resident, with the same number of page faults). Pages another process maps
 * stay; a program without a path (found on PATH) is left as it is.
 */
function dropFromPageCache(program: string): void {
  if (!program.includes('/')) return;
  execFileSync('dd', [`if=${program}`, 'iflag=nocache', 'count=0', 'status=none']);
}

async function startProcess(name: string, command: string, args: string[], listen: string, logPath: string, env: NodeJS.ProcessEnv = {}): Promise<Target> {
  dropFromPageCache(command);
  const server = await startServerProcess(command, args, { listen, logPath, env });
  return { name, socketPath: listen, pid: server.pid, stop: server.stop };
}
