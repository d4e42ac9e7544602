import { mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCommand } from '../../lib/run-command.js';

export const docker28 = '/usr/local/bin/docker';
export const docker20 = '/usr/bin/docker';

/**
 * Imports a busybox image made from the machine's static busybox (no registry is reachable):
 * `/bin/busybox` plus one symlink per applet in `/bin`, with PATH set because `docker import`
 * leaves the config empty.
 */
export async function buildBusyboxImage(dockerHost: string, reference: string): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'compat-rootfs-'));
  try {
    for (const dir of ['bin', 'tmp', 'etc', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(root, dir));
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    // The `busybox` applet is the binary itself; a symlink would replace it with a loop.
    for (const applet of applets) if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
    const tarball = join(root, '..', `${root.split('/').pop()}.tar`);
    execFileSync('tar', ['-C', root, '-cf', tarball, '.']);
    try {
      const result = await runCommand(
        [docker28, 'import', '--change', 'ENV PATH=/bin', '--change', 'CMD ["sh"]', tarball, reference],
        { env: { PATH: process.env.PATH, DOCKER_HOST: dockerHost } },
      );
      if (result.code !== 0) throw new Error(`docker import failed: ${result.stderr}`);
    } finally {
      rmSync(tarball, { force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Removes every container, network, volume and image whose name carries `marker`, straight at
 * dockerd (never through the proxy, so cleanup works even when the proxy is broken).
 */
export async function removeEverythingNamed(dockerHost: string, marker: string): Promise<void> {
  const env = { PATH: process.env.PATH, DOCKER_HOST: dockerHost };
  const lines = async (argv: string[]) =>
    (await runCommand([docker28, ...argv], { env })).stdout.split('\n').filter((l) => l.includes(marker));
  const containers = (await lines(['ps', '-a', '--format', '{{.ID}} {{.Names}}'])).map((l) => l.split(' ')[0]!);
  if (containers.length) await runCommand([docker28, 'rm', '-f', '-v', ...containers], { env });
  const networks = await lines(['network', 'ls', '--format', '{{.Name}}']);
  if (networks.length) await runCommand([docker28, 'network', 'rm', ...networks], { env });
  const volumes = await lines(['volume', 'ls', '--format', '{{.Name}}']);
  if (volumes.length) await runCommand([docker28, 'volume', 'rm', '-f', ...volumes], { env });
  const images = await lines(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  if (images.length) await runCommand([docker28, 'rmi', '-f', ...images], { env });
}
