// The host channel on a virtio-serial port (virtio_console): a named port shows up as
// /sys/class/virtio-ports/vportNpM/name, its device as /dev/vportNpM (no udev here to make the
// /dev/virtio-ports/<name> link). Reads and writes block in libuv's thread pool: the port is a
// character device, which Node cannot poll. While no host is connected, a read returns 0 at once.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChannelIo } from './byte-channel.js';

export const defaultPortName = 'concierge.0';

/** The device of the port named `name`, or undefined when it is not (yet) there. */
export function findVirtioPort(name: string, sysClass = '/sys/class/virtio-ports', devDir = '/dev'): string | undefined {
  if (!existsSync(sysClass)) return undefined;
  for (const entry of readdirSync(sysClass)) {
    let portName: string;
    try {
      portName = readFileSync(join(sysClass, entry, 'name'), 'utf8').trim();
    } catch {
      continue;
    }
    if (portName === name && existsSync(join(devDir, entry))) return join(devDir, entry);
  }
  return undefined;
}

/** Waits for the port: the device announces ports and their names after the driver has loaded. */
export async function waitForVirtioPort(name: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = findVirtioPort(name);
    if (found !== undefined || performance.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The port opened for reading and writing (one opener at a time: the driver refuses a second). */
export async function openPort(device: string): Promise<ChannelIo & { handle: FileHandle }> {
  const handle = await open(device, 'r+');
  return {
    handle,
    read: async (buffer) => (await handle.read(buffer, 0, buffer.length, null)).bytesRead,
    write: async (data) => {
      let offset = 0;
      while (offset < data.length) offset += (await handle.write(data, offset, data.length - offset, null)).bytesWritten;
    },
  };
}
