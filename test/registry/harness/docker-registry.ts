// Debian's docker-registry (distribution 2.8) on a loopback port of its own, with its own storage, over
// TLS and, when given users, htpasswd basic auth. Started and stopped by the test that uses it.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import type { TestTls } from './tls.js';

export interface RunningRegistry {
  /** `127.0.0.1:<port>`, as references and the registries settings write it. */
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startDockerRegistry(dir: string, tls: TestTls, users: Record<string, string> = {}): Promise<RunningRegistry> {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', `  filesystem:`, `    rootdirectory: ${join(dir, 'storage')}`, '  delete:', '    enabled: true',
    'http:', `  addr: 127.0.0.1:${port}`, '  tls:', `    certificate: ${tls.certPath}`, `    key: ${tls.keyPath}`,
  ];
  if (Object.keys(users).length > 0) {
    const htpasswd = Object.entries(users)
      .map(([user, password]) => execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim()).join('\n');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswd}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: concierge-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    if (await accepts(port)) break;
    if (i > 100) throw new Error(`docker-registry did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await closed;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
