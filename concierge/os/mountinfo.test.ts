import { describe, expect, it } from 'vitest';
import { mountAt, parseMountInfo } from './mountinfo.js';

const sample = [
  '26 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '21 26 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
  '25 23 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:4 master:2 - devpts devpts rw,gid=5,mode=620,ptmxmode=666',
  '41 26 254:0 /var/lib/a\\040b /mnt/with\\040space rw,relatime - ext4 /dev/vda rw',
  '42 26 0:30 / /proc rw,relatime - tmpfs none rw',
].join('\n');

describe('mountinfo', () => {
  it('parses fields, propagation and escaped paths', () => {
    const entries = parseMountInfo(`${sample}\n`);
    expect(entries).toHaveLength(5);
    expect(entries[0]).toMatchObject({ id: 26, parent: 1, mountPoint: '/', propagation: ['shared:1'], fstype: 'ext4', source: '/dev/vda' });
    expect(entries[2]).toMatchObject({ propagation: ['shared:4', 'master:2'], superOptions: ['rw', 'gid=5', 'mode=620', 'ptmxmode=666'] });
    expect(entries[3]).toMatchObject({ root: '/var/lib/a b', mountPoint: '/mnt/with space' });
  });
  it('finds the mount on top of a stack', () => {
    expect(mountAt(parseMountInfo(sample), '/proc')?.fstype).toBe('tmpfs');
    expect(mountAt(parseMountInfo(sample), '/sys')).toBeUndefined();
  });
  it('refuses a malformed line', () => {
    expect(() => parseMountInfo('1 2 3')).toThrow(/unexpected mountinfo line/);
  });
});
