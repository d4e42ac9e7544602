import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loaded, loadOrder, moduleName, parseModulesDep } from './modules.js';

const dep = parseModulesDep([
  'kernel/fs/overlayfs/overlay.ko:',
  'kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko kernel/net/llc/llc.ko',
  'kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko',
  'kernel/net/802/stp.ko: kernel/net/llc/llc.ko',
  'kernel/net/llc/llc.ko:',
  'kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz kernel/lib/crc16.ko.xz',
  '',
].join('\n'));

describe('kernel modules', () => {
  it('names modules as the kernel does', () => {
    expect(moduleName('kernel/fs/ext4/ext4.ko.xz')).toBe('ext4');
    expect(moduleName('kernel/drivers/virtio/virtio-pci.ko')).toBe('virtio_pci');
  });
  it('orders dependencies first, each once', () => {
    expect(loadOrder(['br_netfilter', 'bridge', 'overlay'], dep, new Set())).toEqual([
      'kernel/net/llc/llc.ko', 'kernel/net/802/stp.ko', 'kernel/net/bridge/bridge.ko', 'kernel/net/bridge/br_netfilter.ko',
      'kernel/fs/overlayfs/overlay.ko',
    ]);
    expect(loadOrder(['ext4'], dep, new Set())[3]).toBe('kernel/fs/ext4/ext4.ko.xz');
  });
  it('skips built-in modules and refuses unknown ones', () => {
    expect(loadOrder(['overlay'], dep, new Set(['overlay']))).toEqual([]);
    expect(() => loadOrder(['nope'], dep, new Set())).toThrow(/nope is not in modules.dep/);
  });
  it('counts a module as loaded once its init is done, a built-in always, an absent one never', () => {
    const sys = mkdtempSync(join(tmpdir(), 'concierge-sysmodule-'));
    try {
      for (const [name, state] of [['virtio_blk', 'coming\n'], ['overlay', 'live\n'], ['virtio_pci', undefined]] as const) {
        mkdirSync(join(sys, name));
        if (state !== undefined) writeFileSync(join(sys, name, 'initstate'), state);
      }
      expect(loaded('virtio_blk', sys)).toBe(false);
      expect(loaded('overlay', sys)).toBe(true);
      expect(loaded('virtio_pci', sys)).toBe(true);
      expect(loaded('ext4', sys)).toBe(false);
    } finally {
      rmSync(sys, { recursive: true, force: true });
    }
  });
});
