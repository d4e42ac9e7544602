// `concierge --run-ahead`: run by the disk guest's first stage under binary translation (qemu's TCG),
// on the other vCPU while the stage finishes and init starts. The emulator translates machine code on
// its first run and keeps the translation for every process that runs the same physical page: Node's,
// V8's, libc's and the kernel's code is shared by this process and init. This runs Node's start and
// the bundle's load, and once each the native paths the boot takes first, so that init finds them
// translated: those needing only Node before the bundle's load (scripts/sea-main.cjs), the rest here.
// Each is small: a run ahead that also loaded init's modules and read a spec made init's boot steps
// slower, not faster (it was still running beside them).
import { decodeLink, getLinkByName } from '../os/netlink/messages.js';
import { RouteSocket } from '../os/netlink/route-socket.js';
import { sys } from '../sys/index.js';

export function runAhead(): void {
  // The syscall addon: written out and loaded, and a failing call's error (the reaper's first call).
  try {
    sys.waitidPeek();
  } catch {
    // ECHILD: no children.
  }
  // Netlink: the network step's requests, here one that only reads.
  const socket = new RouteSocket();
  try {
    const [lo] = socket.request(getLinkByName(socket.nextSeq(), 'lo'), 'find interface lo');
    if (lo !== undefined) decodeLink(lo);
  } finally {
    socket.close();
  }
}
