import { API, call } from './http.js';

/** The bench's busybox image (test/lib/busybox.ts imports it) and the sweep of what the bench made. */

export const IMAGE_REPO = 'concierge-bench/busybox';
export const IMAGE = `${IMAGE_REPO}:latest`;
/** Label on everything the bench creates, so cleanup finds it even after a crash. */
export const LABEL = 'concierge-bench';

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
