// A guest's files read into the host's page cache before its boot. This machine's proactive reclaim
// (DAMON `pageout` of pages idle for a dozen aggregation intervals) drops parts of them between boots:
// fincore found 80 of a 136 MB initramfs and 48 of a 63 MB kernel cached after a round of boots. qemu
// reads the kernel and initramfs whole at its start and the root disk on demand; from the host's disk,
// a boot took seconds longer at random. Read first, every boot starts from the same host state.
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function readIntoHostCache(dir: string): void {
  const buffer = Buffer.allocUnsafe(4 << 20);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const fd = openSync(path, 'r');
    try {
      while (readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}
