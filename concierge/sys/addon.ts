import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as sea from 'node:sea';

/** The functions of sys.c, as the addon exports them (raw: errors carry `errno` and `syscall` only). */
export interface NativeSys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  reboot(cmd: number): void;
  sethostname(name: string): void;
  waitidPeek(): number;
  waitpid(pid: number, options: number): [pid: number, status: number];
  prctl(option: number, arg2: number, arg3: number): number;
  setrlimit(resource: number, soft: bigint, hard: bigint): void;
  getrlimit(resource: number): [soft: bigint, hard: bigint];
  finitModule(fd: number, params: string, flags: number): void;
  netlinkOpen(protocol: number): number;
  netlinkSend(fd: number, message: Buffer): number;
  netlinkRecv(fd: number, into: Buffer, flags: number): number;
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  openTree(dirfd: number, path: string, flags: number): number;
  moveMount(fromDirfd: number, fromPath: string, toDirfd: number, toPath: string, flags: number): void;
  mkfifo(path: string, mode: number): void;
  sync(): void;
  vsockSocket(): number;
  vsockBind(fd: number, cid: number, port: number): void;
  listen(fd: number, backlog: number): void;
  accept(fd: number, flags: number): number;
  socketpair(): [number, number];
}

const assetName = 'concierge_sys.node';
const builtPath = join('build', 'Release', assetName);

/**
 * Loads the addon: from the single-executable binary's assets (written to a file first, since
 * dlopen needs a path: the first writable of a few directories, `/` included because a fresh
 * initramfs has nothing else mounted yet; unlinked once mapped), or else from build/Release beside
 * the checkout the code runs from.
 */
export function loadAddon(): NativeSys {
  const module = { exports: {} as NativeSys };
  const override = process.env.CONCIERGE_SYS_ADDON;
  if (override !== undefined) {
    process.dlopen(module, override);
  } else if (sea.isSea()) {
    dlopenAsset(module);
  } else {
    process.dlopen(module, locateBuilt());
  }
  return module.exports;
}

function dlopenAsset(module: { exports: NativeSys }): void {
  const bytes = new Uint8Array(sea.getRawAsset(assetName));
  const failures: string[] = [];
  for (const dir of [process.env.CONCIERGE_RUNTIME_DIR, '/run', tmpdir(), '/dev/shm', '/']) {
    if (dir === undefined) continue;
    const path = join(dir, `.concierge_sys.${process.pid}.node`);
    try {
      writeFileSync(path, bytes, { mode: 0o500 });
    } catch (err) {
      failures.push(`${dir}: ${(err as Error).message}`);
      continue;
    }
    try {
      process.dlopen(module, path);
      return;
    } finally {
      unlinkSync(path);
    }
  }
  throw new Error(`cannot write the syscall addon anywhere to load it (${failures.join('; ')})`);
}

function locateBuilt(): string {
  // The bundle runs as dist/concierge.js, tests and tsx run from the checkout: look upwards from both.
  const starts = [process.argv[1] === undefined ? undefined : dirname(resolve(process.argv[1])), process.cwd()];
  if (typeof __dirname === 'string') starts.unshift(__dirname);
  for (const start of starts) {
    for (let dir = start; dir !== undefined; dir = dirname(dir) === dir ? undefined : dirname(dir)) {
      const candidate = join(dir, builtPath);
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new Error(`syscall addon ${builtPath} not found: run \`npm run build\` (or set CONCIERGE_SYS_ADDON)`);
}
