import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REGISTERED_ROUTES } from '../../concierge/dockerproxy/aware/dockerd-routes.js';

/**
 * The Go reference (reference.go) built from Debian's golang-go and gorilla/mux sources, offline, into
 * a temp dir, and run on a unix socket. It answers each request with what a dockerd handler sees.
 */
export interface GoReading {
  status: number;
  /** The handler's view, when a handler ran (status 200). */
  seen?: {
    route: string;
    method: string;
    vars: Record<string, string>;
    form: Record<string, string[]>;
    formError: string;
    body: string;
    bodyError: string;
    close: boolean;
  };
  /** The raw answer (head and body) otherwise. */
  text: string;
}

const DEBUG_ROUTES = ['/debug/vars', '/debug/pprof/', '/debug/pprof/cmdline', '/debug/pprof/profile', '/debug/pprof/symbol', '/debug/pprof/trace', '/debug/pprof/{name}'];

export class GoReference {
  private constructor(
    private readonly dir: string,
    private readonly child: ChildProcess,
    readonly socket: string,
  ) {}

  static async start(): Promise<GoReference> {
    const dir = mkdtempSync(join(tmpdir(), 'gohttp-ref-'));
    const source = new URL('./reference.go', import.meta.url).pathname;
    execFileSync('go', ['build', '-o', join(dir, 'ref'), source], {
      env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '', GOCACHE: join(dir, 'cache'), GOPROXY: 'off' },
      stdio: 'pipe',
    });
    const routes = join(dir, 'routes.json');
    writeFileSync(routes, JSON.stringify([...REGISTERED_ROUTES, ...DEBUG_ROUTES.map((p) => `ANY ${p}`)]));
    const socket = join(dir, 'ref.sock');
    const child = spawn(join(dir, 'ref'), [socket, routes], { stdio: 'inherit' });
    for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
    return new GoReference(dir, child, socket);
  }

  /** Sends raw bytes, half-closes, and reads the first answer. */
  read(bytes: Buffer): Promise<GoReading> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.socket);
      let got = Buffer.alloc(0);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('reference did not answer'));
      }, 5000);
      sock.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
      sock.on('error', () => undefined);
      sock.on('close', () => {
        clearTimeout(timer);
        // Interim answers (100 Continue) come first; the final one is what counts.
        const text = got.toString('latin1').replace(/^(HTTP\/1\.[01] 1\d\d [^\r]*\r\n\r\n)+/, '');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
        const encoded = /\r\nX-Seen: ([A-Za-z0-9+/=]+)\r\n/.exec(text)?.[1];
        let seen: GoReading['seen'];
        if (encoded !== undefined) {
          try {
            const raw = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as NonNullable<GoReading['seen']>;
            const vars: Record<string, string> = {};
            for (const [k, v] of Object.entries(raw.vars)) vars[k] = Buffer.from(v, 'base64').toString('latin1');
            const form: Record<string, string[]> = {};
            for (const [k, vs] of Object.entries(raw.form)) form[Buffer.from(k, 'base64').toString('latin1')] = vs.map((v) => Buffer.from(v, 'base64').toString('latin1'));
            seen = { ...raw, vars, form, body: Buffer.from(raw.body, 'base64').toString('latin1') };
          } catch {
            seen = undefined;
          }
        }
        resolve({ status, seen, text });
      });
      sock.write(bytes);
      sock.end();
    });
  }

  stop(): void {
    this.child.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
