import { runCommand } from '../../lib/run-command.js';

export const docker28 = '/usr/local/bin/docker';
export const docker20 = '/usr/bin/docker';

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
