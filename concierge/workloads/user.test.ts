import { describe, expect, it } from 'vitest';
import { needsLookup, resolveUser, UserLookupError } from './user.js';

const passwd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
runner:x:1001:121:GitHub runner:/home/runner:/bin/bash
broken line
nogroup-user:x:1500:1500::/home/n:/bin/sh
`;
const group = `root:x:0:
wheel:x:10:root
docker:x:121:
sudo:x:27:runner,other
adm:x:4:syslog,runner
staff:x:50:
`;

describe('resolveUser', () => {
  it('is root for an empty user, without reading the files', () => {
    expect(resolveUser('', {})).toEqual({ uid: 0, gid: 0 });
    expect(needsLookup('')).toBe(false);
    expect(needsLookup('1000:1000')).toBe(false);
    expect(needsLookup('1000')).toBe(true);
    expect(needsLookup('runner')).toBe(true);
  });

  it('resolves a name to its uid, primary gid and the groups listing it', () => {
    expect(resolveUser('runner', { passwd, group })).toEqual({ uid: 1001, gid: 121, additionalGids: [27, 4] });
    expect(resolveUser('root', { passwd, group })).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
  });

  it('takes a numeric user as a uid, with the passwd entry when there is one and gid 0 when not', () => {
    expect(resolveUser('1001', { passwd, group })).toEqual({ uid: 1001, gid: 121, additionalGids: [27, 4] });
    expect(resolveUser('4242', { passwd, group })).toEqual({ uid: 4242, gid: 0 });
    expect(resolveUser('4242', {})).toEqual({ uid: 4242, gid: 0 });
  });

  it('lets an explicit group replace the primary gid, with no supplementary groups', () => {
    expect(resolveUser('runner:staff', { passwd, group })).toEqual({ uid: 1001, gid: 50 });
    expect(resolveUser('runner:777', { passwd, group })).toEqual({ uid: 1001, gid: 777 });
    expect(resolveUser('1001:docker', { passwd, group })).toEqual({ uid: 1001, gid: 121 });
    expect(resolveUser('9:9', {})).toEqual({ uid: 9, gid: 9 });
  });

  it('refuses names the image does not have, and malformed or out-of-range users', () => {
    expect(() => resolveUser('ghost', { passwd, group })).toThrow(/unable to find user ghost/);
    expect(() => resolveUser('runner', {})).toThrow(UserLookupError);
    expect(() => resolveUser('runner:ghosts', { passwd, group })).toThrow(/unable to find group ghosts/);
    expect(() => resolveUser(':1', {})).toThrow(/not user\[:group\]/);
    expect(() => resolveUser('1:2:3', {})).toThrow(/not user\[:group\]/);
    expect(() => resolveUser('4294967296', {})).toThrow(/out of range/);
  });
});
