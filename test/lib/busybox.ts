// Images made from this machine's static /bin/busybox (no registry is reachable): one root filesystem
// layer for containerd's fixtures and for dockerd's `docker import`, made with the one ustar writer.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tar, type TarEntry } from './tar.js';

/** This machine's static docker CLI (a Go binary with no library dependencies), to put in an image. */
export const DOCKER_CLI = '/usr/local/bin/docker';

/**
 * A root filesystem layer: busybox with its applets as symlinks in /bin, /etc/passwd and /etc/group,
 * /tmp, /root, and the mount points a container gets; then `extra`.
 */
export function busyboxLayer(extra: TarEntry[] = []): Buffer {
  // The `busybox` applet is the binary itself: a symlink would replace it with a loop.
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a !== '' && a !== 'busybox');
  return tar([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: 'symlink', mode: 0o777, linkname: 'busybox' })),
    { name: 'etc/', type: 'dir' },
    { name: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n') },
    { name: 'etc/group', data: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
    { name: 'root/', type: 'dir', mode: 0o700 },
    ...['proc/', 'sys/', 'dev/', 'var/', 'var/run/'].map((name): TarEntry => ({ name, type: 'dir' })),
    ...extra,
  ]);
}

/** A file at `path` in an image, with its parent directories. */
export function fileEntries(path: string, data: Buffer, mode = 0o755): TarEntry[] {
  const dirs = path.split('/').slice(0, -1).map((_, i, all) => `${all.slice(0, i + 1).join('/')}/`);
  return [...dirs.map((name): TarEntry => ({ name, type: 'dir' })), { name: path, data, mode }];
}

/** The static docker CLI at /usr/local/bin/docker, as entries of a layer. */
export const dockerCliEntries = (): TarEntry[] => fileEntries(DOCKER_CLI.slice(1), readFileSync(DOCKER_CLI));

/**
 * `docker import` of the busybox layer (plus `extra`) as `reference`, through dockerd's API at
 * `dockerdSock`: PATH covers /usr/local/bin and /bin, and the command is `cmd` (default `sh`).
 */
export async function importBusybox(dockerdSock: string, reference: string, extra: TarEntry[] = [], cmd: readonly string[] = ['sh']): Promise<void> {
  const colon = reference.lastIndexOf(':');
  const [repo, tag] = colon > reference.lastIndexOf('/') ? [reference.slice(0, colon), reference.slice(colon + 1)] : [reference, 'latest'];
  const query = new URLSearchParams({ fromSrc: '-', repo, tag });
  for (const change of ['ENV PATH=/usr/local/bin:/bin', `CMD ${JSON.stringify(cmd)}`]) query.append('changes', change);
  const layer = busyboxLayer(extra);
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      { socketPath: dockerdSock, method: 'POST', path: `/images/create?${query.toString()}`, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': layer.length } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(120_000, () => req.destroy(new Error(`timeout importing ${reference}`)));
    req.end(layer);
  });
  if (answer.status !== 200 || /"error"/.test(answer.text)) throw new Error(`importing ${reference}: ${answer.status} ${answer.text.slice(0, 300)}`);
}
