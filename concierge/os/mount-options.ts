import { MS } from '../sys/index.js';

const optionFlags: Record<string, { set: number } | { clear: number }> = {
  ro: { set: MS.RDONLY },
  rw: { clear: MS.RDONLY },
  nosuid: { set: MS.NOSUID },
  nodev: { set: MS.NODEV },
  noexec: { set: MS.NOEXEC },
  noatime: { set: MS.NOATIME },
  relatime: { set: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME },
  bind: { set: MS.BIND },
  rbind: { set: MS.BIND | MS.REC },
};

/** mount(8)-style options split into mount(2) flags and the filesystem's own data string. */
export function splitOptions(options: string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = optionFlags[o];
    if (f === undefined) data.push(o);
    else if ('set' in f) flags |= f.set;
    else flags &= ~f.clear;
  }
  return { flags, data: data.join(',') };
}
