// `start`: containerd runs it in the bundle directory and reads one line, the shim's ttrpc address. A
// shim already serving this bundle is answered with its address, and so is a pod member's start with the
// address of its sandbox's shim (runc's shim groups a pod the same way), so that containerd creates the
// member's task in the sandbox's VM; otherwise the server is started as a detached process of its own (it
// outlives this one), its logs going to the bundle's `log` FIFO that containerd reads, and its address is
// written to the bundle's `address` file once it accepts connections.
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { podOfBundle, servingBundle } from './sandbox.js';
import { shimSocket, shimStateDir } from './shim-paths.js';

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** The bundle's log FIFO for writing (containerd holds it open), or none outside containerd. */
function openLog(bundle: string): number | 'ignore' {
  try {
    return openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return 'ignore';
  }
}

/** Starts (or finds) the shim server; resolves with its address. `serverCommand` runs `serve` with the same flags. */
export async function startShim(bundle: string, serverCommand: { file: string; args: string[] }): Promise<string> {
  const pod = podOfBundle(bundle);
  const serving = servingBundle(bundle, pod);
  const socket = shimSocket(serving);
  const address = `unix://${socket}`;
  if (serving !== bundle && !(await accepts(socket))) {
    throw new Error(`the shim of pod sandbox ${pod!.sandboxId} is not running: a pod's sandbox container is created before its other containers`);
  }
  if (!(await accepts(socket))) {
    mkdirSync(shimStateDir(bundle), { recursive: true });
    const log = openLog(bundle);
    const child = spawn(serverCommand.file, serverCommand.args, { cwd: bundle, detached: true, stdio: ['ignore', 'ignore', log] });
    child.unref();
    if (typeof log === 'number') closeSync(log);
    const exited = new Promise<string>((resolve) => child.once('exit', (c, s) => resolve(`the shim server exited (${s ?? c}) before serving`)));
    let ok = false;
    for (let i = 0; i < 400 && !ok; i++) {
      const early = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 50, undefined))]);
      if (early !== undefined) throw new Error(early);
      ok = await accepts(socket);
    }
    if (!ok) throw new Error(`the shim server did not listen on ${socket} within 20 s`);
  }
  const tmp = join(bundle, '.address');
  writeFileSync(tmp, address);
  renameSync(tmp, join(bundle, 'address'));
  return address;
}
