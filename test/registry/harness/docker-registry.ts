// Debian's docker-registry (distribution 2.8) on a loopback port of its own, with its own storage, over
// TLS and, when given users, htpasswd basic auth. Started and stopped by the test that uses it. With a
// test network it serves on the test host's address instead, inside that network's namespace; started
// again on the same directory it serves what was pushed to it before.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { TestNet } from '../../lib/testnet.js';
import { freePort } from './ports.js';
import type { TestTls } from './tls.js';

export interface RunningRegistry {
  /** `127.0.0.1:<port>`, as references and the registries settings write it. */
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startDockerRegistry(dir: string, tls: TestTls, users: Record<string, string> = {},
  net?: TestNet): Promise<RunningRegistry> {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const address = net?.hostAddress ?? '127.0.0.1';
  const port = net === undefined ? await freePort() : 5000;
  const lines = [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', `  filesystem:`, `    rootdirectory: ${join(dir, 'storage')}`, '  delete:', '    enabled: true',
    'http:', `  addr: ${address}:${port}`, '  tls:', `    certificate: ${tls.certPath}`, `    key: ${tls.keyPath}`,
  ];
  if (Object.keys(users).length > 0) {
    const htpasswd = Object.entries(users)
      .map(([user, password]) => execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim()).join('\n');
    writeFileSync(join(dir, 'htpasswd'), `${htpasswd}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: concierge-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const args = ['serve', join(dir, 'config.yml')];
  const child: ChildProcess = net === undefined
    ? spawn('/usr/bin/docker-registry', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    : net.spawn('/usr/bin/docker-registry', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    if (net === undefined ? await accepts(port) : await net.run('bash', ['-c', `echo > /dev/tcp/${address}/${port}`]).then(() => true, () => false)) break;
    if (i > 100) throw new Error(`docker-registry did not listen on ${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `${address}:${port}`,
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
