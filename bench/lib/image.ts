import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { API, call, request } from './http.js';
import { END, header, padding } from '../../test/lib/tar.js';

/** The bench's busybox image, made locally from busybox-static (no registry is reachable). */

export const IMAGE_REPO = 'concierge-bench/busybox';
export const IMAGE = `${IMAGE_REPO}:latest`;
/** Label on everything the bench creates, so cleanup finds it even after a crash. */
export const LABEL = 'concierge-bench';

function rootfsTar(busyboxPath: string): Buffer {
  const busybox = readFileSync(busyboxPath);
  const applets = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && s !== 'busybox');
  const parts: Buffer[] = [];
  for (const dir of ['bin/', 'etc/', 'proc/', 'sys/', 'dev/']) parts.push(header({ name: dir, type: 'dir', mode: 0o755 }));
  parts.push(header({ name: 'tmp/', type: 'dir', mode: 0o1777 }));
  parts.push(header({ name: 'bin/busybox', type: 'file', mode: 0o755, size: busybox.length }), busybox, padding(busybox.length));
  for (const applet of applets) parts.push(header({ name: `bin/${applet}`, type: 'symlink', mode: 0o777, linkname: 'busybox' }));
  parts.push(END);
  return Buffer.concat(parts);
}

/** `docker import` of a busybox rootfs with PATH set, through the API of `dockerdSock`. */
export async function importBusybox(dockerdSock: string, busyboxPath = '/bin/busybox'): Promise<void> {
  const query = new URLSearchParams({ fromSrc: '-', repo: IMAGE_REPO, tag: 'latest', changes: 'ENV PATH=/bin' });
  const answer = await request(dockerdSock, {
    method: 'POST',
    path: `${API}/images/create?${query}`,
    headers: { 'Content-Type': 'application/x-tar' },
    body: rootfsTar(busyboxPath),
    agent: false,
    timeoutMs: 60_000,
  });
  const text = answer.body.toString();
  if (answer.status !== 200 || /"error"/.test(text)) throw new Error(`image import failed: ${answer.status} ${text.slice(0, 300)}`);
}

/** Not forced: an image still used by a container would only be untagged and left behind. */
export async function removeImage(dockerdSock: string): Promise<void> {
  await call(dockerdSock, { method: 'DELETE', path: `${API}/images/${encodeURIComponent(IMAGE)}`, agent: false, timeoutMs: 60_000 }, [200, 404]);
}

/** Removes every container carrying the bench's label (left by this run or a crashed one). */
export async function removeBenchContainers(dockerdSock: string): Promise<number> {
  const filters = encodeURIComponent(JSON.stringify({ label: [LABEL] }));
  const list = await call<Array<{ Id: string }>>(dockerdSock, { path: `${API}/containers/json?all=1&filters=${filters}`, agent: false, timeoutMs: 60_000 });
  await Promise.all(
    list.map((c) => call(dockerdSock, { method: 'DELETE', path: `${API}/containers/${c.Id}?force=1&v=1`, agent: false, timeoutMs: 120_000 }, [204, 404])),
  );
  return list.length;
}

/** The final sweep: containers first (retried, dockerd can be slow on a loaded machine), then the image. */
export async function sweep(dockerdSock: string): Promise<string> {
  let removed = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      removed += await removeBenchContainers(dockerdSock);
      await removeImage(dockerdSock);
      return `${removed} containers and the image removed`;
    } catch (err) {
      process.stderr.write(`[bench] cleanup attempt ${attempt}: ${(err as Error).message}\n`);
    }
  }
  return `cleanup incomplete: remove containers labelled ${LABEL} and the image ${IMAGE} by hand`;
}
