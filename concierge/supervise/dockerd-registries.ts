// The instance spec's registries as dockerd takes them: mirrors for Docker Hub (dockerd mirrors no other
// registry), insecure registries for those served over plain HTTP, and each CA in certs.d/<host>/ca.crt,
// where dockerd and its BuildKit look for a registry's certificates. Credentials are not dockerd's: a
// job's docker client logs in itself.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistriesSpec } from '../instance/spec-registries.js';

/** Where dockerd 20.10 reads registry certificates (fixed, not a flag). */
export const dockerCertsDir = '/etc/docker/certs.d';

export function dockerdRegistryArgs(registries: RegistriesSpec): string[] {
  const args: string[] = [];
  for (const mirror of registries.get('docker.io')?.mirrors ?? []) args.push('--registry-mirror', mirror);
  for (const [host, entry] of registries) if (entry.insecure) args.push('--insecure-registry', host);
  return args;
}

/** Writes certs.d/<host>/ca.crt for every registry with a CA; returns the hosts written. */
export function writeDockerCerts(registries: RegistriesSpec, certsDir = dockerCertsDir): string[] {
  const written: string[] = [];
  for (const [host, entry] of registries) {
    if (entry.ca === undefined) continue;
    const dir = join(certsDir, host);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ca.crt'), entry.ca.endsWith('\n') ? entry.ca : `${entry.ca}\n`);
    written.push(host);
  }
  return written;
}
