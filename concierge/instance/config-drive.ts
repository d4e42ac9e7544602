// The config drive: the instance spec on a small block device of its own, which every VMM can attach
// (virtio-blk), so the spec needs neither qemu's fw_cfg nor the kernel command line (where secrets
// would be readable by every process). The device holds a header line, then the JSON:
//   "CONCIERGE-SPEC 1 <length>\n" <length bytes of JSON>, zero-padded to whole 4 KiB blocks.
// The header is the drive's label: the guest finds the drive by it, or by `concierge.specdrive=<device>`.
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

const magic = 'CONCIERGE-SPEC 1 ';
const blockSize = 4096;
/** A spec larger than this is refused: it is a document of settings, not a payload. */
export const maxSpecBytes = 16 * 1024 * 1024;

/** The drive's bytes for a spec's JSON text (the host side writes them to a raw image file). */
export function encodeConfigDrive(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  if (body.length > maxSpecBytes) throw new Error(`spec is ${body.length} bytes, more than ${maxSpecBytes}`);
  const head = Buffer.from(`${magic}${body.length}\n`, 'ascii');
  const size = Math.ceil((head.length + body.length) / blockSize) * blockSize;
  const out = Buffer.alloc(size);
  head.copy(out);
  body.copy(out, head.length);
  return out;
}

/** The header's body length and where the body starts, or undefined when `first` has no header. */
export function readHeader(first: Buffer): { length: number; offset: number } | undefined {
  if (first.toString('latin1', 0, magic.length) !== magic) return undefined;
  const nl = first.indexOf(0x0a, magic.length);
  if (nl < 0 || nl > magic.length + 9) return undefined;
  const text = first.toString('ascii', magic.length, nl);
  if (!/^\d{1,9}$/.test(text) || Number(text) > maxSpecBytes) return undefined;
  return { length: Number(text), offset: nl + 1 };
}

/** The spec's JSON text from a device (or image file), or undefined when it carries no spec. */
export function readConfigDrive(device: string): string | undefined {
  const fd = openSync(device, 'r');
  try {
    const first = Buffer.alloc(blockSize);
    const got = readSync(fd, first, 0, blockSize, 0);
    const header = readHeader(first.subarray(0, got));
    if (header === undefined) return undefined;
    const body = Buffer.alloc(header.length);
    let done = 0;
    while (done < header.length) {
      const n = readSync(fd, body, done, header.length - done, header.offset + done);
      if (n === 0) throw new Error(`config drive ${device}: ends ${header.length - done} bytes before its spec does`);
      done += n;
    }
    return body.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** `concierge.specdrive=<device>` from a kernel command line. */
export function specDriveFromCmdline(cmdline: string): string | undefined {
  for (const word of cmdline.trim().split(/\s+/)) {
    if (word.startsWith('concierge.specdrive=')) {
      const device = word.slice('concierge.specdrive='.length);
      return device.startsWith('/') ? device : `/dev/${device}`;
    }
  }
  return undefined;
}

/** The first virtio disk whose first block carries the header, with its spec text. */
export function findConfigDrive(sysBlock = '/sys/block', devDir = '/dev'): { device: string; text: string } | undefined {
  if (!existsSync(sysBlock)) return undefined;
  for (const name of readdirSync(sysBlock).filter((n) => /^vd[a-z]+$/.test(n)).sort()) {
    const device = join(devDir, name);
    if (!existsSync(device)) continue;
    try {
      const text = readConfigDrive(device);
      if (text !== undefined) return { device, text };
    } catch {
      // Unreadable disk: not the config drive.
    }
  }
  return undefined;
}
