import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeConfigDrive, findConfigDrive, readConfigDrive, readHeader, specDriveFromCmdline } from './config-drive.js';

describe('config drive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-config-drive-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips a spec through the drive image, in whole 4 KiB blocks', () => {
    const json = JSON.stringify({ hostname: 'vm', workloads: [{ id: 'jöb', image: 'x', env: { TOKEN: 'secret' } }] });
    const image = encodeConfigDrive(json);
    expect(image.length % 4096).toBe(0);
    const path = join(dir, 'drive.img');
    writeFileSync(path, image);
    expect(readConfigDrive(path)).toBe(json);
  });

  it('reads a spec longer than the first block', () => {
    const json = JSON.stringify({ sysctls: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`net.core.k${i}`, String(i)])) });
    const path = join(dir, 'big.img');
    writeFileSync(path, encodeConfigDrive(json));
    expect(json.length).toBeGreaterThan(8192);
    expect(readConfigDrive(path)).toBe(json);
  });

  it('finds no spec on a disk without the header (an ext4 cache disk, zeros, a lying length)', () => {
    expect(readHeader(Buffer.alloc(4096))).toBeUndefined();
    expect(readHeader(Buffer.from('CONCIERGE-SPEC 1 abc\n{}'))).toBeUndefined();
    expect(readHeader(Buffer.from('CONCIERGE-SPEC 1 99999999999\n{}'))).toBeUndefined();
    expect(readHeader(Buffer.from('CONCIERGE-SPEC 2 2\n{}'))).toBeUndefined();
    const truncated = join(dir, 'truncated.img');
    writeFileSync(truncated, 'CONCIERGE-SPEC 1 100\n{"a":');
    expect(() => readConfigDrive(truncated)).toThrow(/ends 95 bytes before its spec does/);
  });

  it('is found by its header among the virtio disks, or named on the kernel command line', () => {
    const sys = join(dir, 'sys-block');
    const dev = join(dir, 'dev');
    for (const d of ['vda', 'vdb', 'sda']) mkdirSync(join(sys, d), { recursive: true });
    mkdirSync(dev);
    writeFileSync(join(dev, 'vda'), Buffer.alloc(8192));
    writeFileSync(join(dev, 'vdb'), encodeConfigDrive('{"hostname":"found"}'));
    expect(findConfigDrive(sys, dev)).toEqual({ device: join(dev, 'vdb'), text: '{"hostname":"found"}' });
    expect(specDriveFromCmdline('console=ttyS0 concierge.specdrive=vdb quiet')).toBe('/dev/vdb');
    expect(specDriveFromCmdline('concierge.specdrive=/dev/vdc')).toBe('/dev/vdc');
    expect(specDriveFromCmdline('console=ttyS0')).toBeUndefined();
  });
});
