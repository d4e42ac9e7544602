import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A stand-in for dockerd's socket that the test can take away: a byte relay on `path` to the real
 * dockerd. `stop()` drops every open connection mid-stream and removes the socket file, as a dockerd
 * that dies does; `start()` brings it back.
 */
export class UpstreamRelay {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly target: string,
  ) {}

  async start(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer({ allowHalfOpen: true }, (client) => {
      const upstream = connect({ path: this.target, allowHalfOpen: true });
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('close', () => this.open.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, resolve);
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.open) s.destroy();
    this.open.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

/**
 * A socket file nobody accepts on (bound, never listening): what a crashed dockerd leaves behind.
 * Connecting to it fails with ECONNREFUSED rather than ENOENT.
 */
export async function staleSocket(path: string): Promise<{ remove(): Promise<void> }> {
  rmSync(path, { force: true });
  const child: ChildProcess = spawn(
    'python3',
    ['-c', 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); print("bound", flush=True); time.sleep(600)', path],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`stale socket helper exited with ${code}`)));
  });
  return {
    async remove() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      if (existsSync(path)) rmSync(path, { force: true });
    },
  };
}
