// `concierge --run-ahead`: run by the disk guest's first stage under binary translation (qemu's TCG),
// on the other vCPU while the stage finishes and init starts. The emulator translates machine code on
// its first run and keeps the translation for every process that runs the same physical page: Node's,
// V8's, libc's and the kernel's code is shared by this process and init. This runs Node's start and
// the bundle's load, then once each the native paths the boot takes first, so that init finds them
// translated. Each is small: a run ahead that also loaded init's modules and read a spec made init's
// boot steps slower, not faster (it was still running beside them).
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, write } from 'node:fs';
import { decodeLink, getLinkByName } from '../os/netlink/messages.js';
import { RouteSocket } from '../os/netlink/route-socket.js';
import { sys } from '../sys/index.js';

export function runAhead(): void {
  // V8's regular-expression compiler: a pattern run more than once is compiled to machine code. Its
  // first use took 10-20 ms of the boot step it landed in.
  for (let i = 0; i < 3; i++) 'a b  c'.split(/\s+/);
  JSON.parse(JSON.stringify({ run: 'ahead', at: [1, 2.5] }));
  // The file calls of the boot steps, on files that are there (no /proc or /sys in the first stage's
  // view of the root yet) and changing nothing.
  existsSync('/etc');
  readdirSync('/');
  mkdirSync('/', { recursive: true });
  try {
    lstatSync('/etc/hosts');
    readFileSync('/etc/hosts', 'utf8');
  } catch {
    // A root without one.
  }
  // libuv's thread pool, which the log's first line starts (an asynchronous write).
  const devNull = openSync('/dev/null', 'w');
  write(devNull, '\n', () => closeSync(devNull));
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
