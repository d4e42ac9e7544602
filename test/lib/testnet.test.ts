import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestNet } from './testnet.js';

const namespaces = (): string => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describe('test network', () => {
  it('makes a namespace with a bridge, a tap on it and the test host address, with no route out, and removes all of it', async () => {
    const net = await createTestNet('guest-network');
    try {
      expect(namespaces()).toContain(net.name);
      const links = (await net.run('ip', ['-o', 'link'])).stdout;
      expect(links).toMatch(new RegExp(`: ${net.tap}: .*master ${net.bridge}`));
      const names = [...links.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]);
      expect(names.sort()).toEqual(['br0', 'lo', 'tap0']);
      expect((await net.run('ip', ['-o', '-4', 'addr', 'show', 'dev', net.bridge])).stdout).toContain(`inet ${net.hostAddress}/24`);
      expect((await net.run('ip', ['route'])).stdout).not.toMatch(/default/);
      // A service spawned inside answers at the test host's address, inside the namespace.
      const root = mkdtempSync(join(tmpdir(), 'testnet-'));
      writeFileSync(join(root, 'hello.txt'), 'from the test host\n');
      const server = net.spawn('busybox', ['httpd', '-f', '-p', `${net.hostAddress}:8080`, '-h', root]);
      let answer = '';
      for (let i = 0; i < 50 && answer === ''; i++) {
        answer = (await net.run('busybox', ['wget', '-qO-', `http://${net.hostAddress}:8080/hello.txt`]).catch(() => ({ stdout: '' }))).stdout;
        if (answer === '') await new Promise((r) => setTimeout(r, 100));
      }
      rmSync(root, { recursive: true });
      expect(answer).toBe('from the test host\n');
      expect(server.exitCode).toBeNull();
      expect(net.qemuArgs().join(' ')).toMatch(/^-netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=net0/);
    } finally {
      await net.remove();
    }
    expect(namespaces()).not.toContain(net.name);
  });
});
