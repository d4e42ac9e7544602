import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guestImage } from './shim-paths.js';

describe('the guest image a shim boots', () => {
  let dir: string | undefined;
  afterEach(() => {
    vi.unstubAllEnvs();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('has the root.erofs beside the initramfs as its root disk, and none when there is none', () => {
    dir = mkdtempSync(join(tmpdir(), 'concierge-image-'));
    vi.stubEnv('CONCIERGE_GUEST_INITRD', join(dir, 'initramfs'));
    expect(guestImage().rootDisk).toBeUndefined();
    writeFileSync(join(dir, 'root.erofs'), '');
    expect(guestImage()).toMatchObject({ initrd: join(dir, 'initramfs'), rootDisk: join(dir, 'root.erofs') });
    vi.stubEnv('CONCIERGE_GUEST_ROOT', '/images/other.erofs');
    expect(guestImage().rootDisk).toBe('/images/other.erofs');
  });
});
