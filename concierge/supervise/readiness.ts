import { existsSync, watch, type FSWatcher } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname } from 'node:path';

/**
 * Resolves once `path` exists (an inotify watch of its directory), or after `limitMs` (a watch can
 * miss, or the directory be replaced): the caller probes either way.
 */
export function untilExists(path: string, limitMs: number): Promise<void> {
  if (existsSync(path)) return Promise.resolve();
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    const done = (): void => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, limitMs);
    try {
      watcher = watch(dirname(path), (_event, name) => { if (name === basename(path)) done(); });
      watcher.on('error', done);
    } catch {
      done();
      return;
    }
    // Made between the first look and the watch.
    if (existsSync(path)) done();
  });
}

/** True once something accepts connections on the unix socket (containerd's gRPC listener). */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True once dockerd answers GET /_ping with 200 on its socket. */
export function dockerAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    // Loaded at dockerd's first probe, not before containerd's spawn (29 ms of the boot under emulation).
    const req = process.getBuiltinModule('node:http').request({ socketPath: path, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}
