// qemu as the VMM of `concierge vm`: the command line for a guest with the kernel and initramfs, an
// optional read-only root disk, the config drive, an optional cache disk, optional virtio-9p shares, the
// host channel (a virtio-serial port named concierge.0 on a
// chardev unix socket qemu serves), optional NICs, and isa-debug-exit; KVM when it really runs the
// kernel, software emulation (TCG) otherwise.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

export type Accel = 'kvm' | 'tcg';

/** A NIC on a tap device the caller made (no user-mode networking: nothing routes out by itself). */
export interface NicOption {
  tap: string;
  mac?: string;
}

export interface QemuOptions {
  qemu?: string;
  kernel: string;
  initrd: string;
  accel: Accel;
  /** -cpu model; default host (KVM) or max (TCG: Node needs SSE4.2 and POPCNT, which qemu64 lacks). */
  cpu?: string;
  memoryMb: number;
  cpus: number;
  /** The config drive image (instance spec), a read-only virtio disk. */
  specDrive?: string;
  /** The spec file also (or only) through fw_cfg opt/concierge/spec. */
  fwCfgSpec?: string;
  /** A raw disk for /cache, the first virtio disk (/dev/vda). */
  cacheDisk?: string;
  /**
   * The root filesystem image (erofs), read-only, the last virtio disk: the initramfs is then a first
   * stage that mounts the `root=` the command line names. Last, so the cache disk and the config drive
   * keep their names with or without it.
   */
  rootDisk?: string;
  /** Where qemu serves the host channel's chardev. */
  channelSocket: string;
  nics?: NicOption[];
  /**
   * Host directories shared with the guest over virtio-9p, mounted there by their tag. Passthrough
   * security: files keep the guest's owners and modes on the host (qemu runs as root here).
   */
  shares?: { tag: string; path: string; readonly?: boolean }[];
  /** Kernel messages on the console too (otherwise `quiet`). */
  verbose?: boolean;
  append?: string;
}

export const portName = 'concierge.0';

/** Virtio disks are named in the order they are given: vda, vdb, ... */
function diskName(index: number): string {
  return `vd${String.fromCharCode(97 + index)}`;
}

export function kernelCommandLine(o: QemuOptions): string {
  // acpi=noirq: PCI interrupt routing from the BIOS's table instead of ACPI. On the pc machine the
  // kernel runs the DSDT's _PRT method (a loop that builds 128 entries) for every PCI device it
  // enables; under emulation that took 150-900 ms per virtio device (virtio_pci's load 0.4-1.3 s,
  // 15-70 ms without). Virtio devices interrupt by MSI-X either way.
  // cryptomgr.notests: the kernel's self-tests of every crypto algorithm it registered, run before
  // /init (crypto_algapi_init): 238-356 ms under emulation, 7-10 ms without.
  const words = ['console=ttyS0', 'panic=-1', 'mitigations=off', 'acpi=noirq', 'i8042.noaux', 'i8042.nokbd', 'cryptomgr.notests'];
  // cgroup.memory=nokmem under emulation only: the first memory cgroup below the root (runc's, for
  // the first container) turns kernel-memory accounting on by patching the kernel's code in place
  // (a static key). Under multi-threaded TCG (qemu 7.2) that patching hung both vCPUs in 2 of 72 boots
  // (soft lockups in kmem_cache_alloc and __alloc_pages). Without it, slab memory is not charged to
  // containers; a KVM guest keeps the kernel's default.
  // concierge.tcg=1: the guest runs under binary translation, where a program's first run pays for
  // translating its code and a later run of the same file reuses that; the disk root's first stage
  // then runs concierge once ahead of init (init/disk-first-stage.sh).
  if (o.accel === 'tcg') words.push('cgroup.memory=nokmem', 'concierge.tcg=1');
  if (o.verbose !== true) words.push('quiet');
  // The config drive's device name only: the spec (and any secret in it) never goes on the command line.
  if (o.specDrive !== undefined) words.push(`concierge.specdrive=${diskName(o.cacheDisk === undefined ? 0 : 1)}`);
  if (o.rootDisk !== undefined) words.push(`root=/dev/${diskName((o.cacheDisk === undefined ? 0 : 1) + (o.specDrive === undefined ? 0 : 1))}`, 'rootfstype=erofs', 'ro');
  if (o.append !== undefined && o.append !== '') words.push(o.append);
  return words.join(' ');
}

const macPattern = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
const tapPattern = /^[a-zA-Z0-9_.-]{1,15}$/;

/**
 * Under TCG, every CPU feature qemu emulates but ERMS and FSRM ("fast rep movsb/stosb"). qemu 7.2 runs a
 * `rep movsb`/`rep stosb` one byte per pass through its translated block; with ERMS the guest kernel
 * clears every page it allocates with `rep stosb` and glibc copies and sets anything over a few KB
 * with them. Without it the kernel clears and copies with unrolled loops and glibc with vector ones:
 * the job's first output at 5.72 against 6.13 s, its end at 14.4 against 15.6 s (6 alternated boots).
 */
export const tcgCpu = 'max,erms=off,fsrm=off';

export function qemuArgs(o: QemuOptions): string[] {
  const accel = o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', o.cpu ?? 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', o.cpu ?? tcgCpu];
  const args = [
    ...accel, '-machine', 'pc', '-m', String(o.memoryMb), '-smp', String(o.cpus),
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    '-kernel', o.kernel, '-initrd', o.initrd, '-append', kernelCommandLine(o),
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
  if (o.cacheDisk !== undefined) args.push('-drive', `file=${o.cacheDisk},format=raw,if=virtio,cache=unsafe`);
  if (o.specDrive !== undefined) args.push('-drive', `file=${o.specDrive},format=raw,if=virtio,readonly=on`);
  if (o.rootDisk !== undefined) args.push('-drive', `file=${o.rootDisk},format=raw,if=virtio,readonly=on`);
  if (o.fwCfgSpec !== undefined) args.push('-fw_cfg', `name=opt/concierge/spec,file=${o.fwCfgSpec}`);
  args.push(
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=hostchannel,path=${o.channelSocket},server=on,wait=off`,
    '-device', `virtserialport,bus=vser0.0,chardev=hostchannel,name=${portName}`,
  );
  for (const [i, share] of (o.shares ?? []).entries()) {
    if (!/^[a-zA-Z0-9_-]{1,31}$/.test(share.tag) || share.path.includes(',')) throw new Error(`share ${i}: tag ${JSON.stringify(share.tag)} or path unusable on qemu's command line`);
    args.push('-fsdev', `local,id=fs${i},path=${share.path},security_model=passthrough${share.readonly === true ? ',readonly=on' : ''}`,
      '-device', `virtio-9p-pci,fsdev=fs${i},mount_tag=${share.tag}`);
  }
  for (const [i, nic] of (o.nics ?? []).entries()) {
    if (!tapPattern.test(nic.tap)) throw new Error(`nic ${i}: tap device name ${JSON.stringify(nic.tap)} is not an interface name`);
    if (nic.mac !== undefined && !macPattern.test(nic.mac)) throw new Error(`nic ${i}: ${JSON.stringify(nic.mac)} is not a MAC address`);
    args.push('-netdev', `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=net${i}${nic.mac === undefined ? '' : `,mac=${nic.mac}`}`);
  }
  return args;
}

/** `tap=<name>[,mac=<mac>]`. */
export function parseNic(text: string): NicOption {
  const fields = new Map(text.split(',').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
  const tap = fields.get('tap');
  for (const key of fields.keys()) if (key !== 'tap' && key !== 'mac') throw new Error(`--nic: unknown field ${JSON.stringify(key)} (tap=<name>[,mac=<mac>])`);
  if (tap === undefined || tap === '') throw new Error('--nic: tap=<name> is required');
  const mac = fields.get('mac');
  return mac === undefined ? { tap } : { tap, mac };
}

/**
 * KVM only if it really runs a kernel: some hosts' /dev/kvm (a paravirtual hypervisor) opens but runs a
 * stock kernel at a crawl. The probe boots the kernel without a root to its panic line within 10 s.
 */
export async function kvmRunsKernel(kernel: string, qemu = 'qemu-system-x86_64'): Promise<boolean> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const child = spawn(qemu, ['-accel', 'kvm', '-cpu', 'host', '-m', '256', '-nodefaults', '-display', 'none', '-serial', 'stdio',
    '-no-reboot', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1 root=/dev/nonexistent'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    let seen = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 10_000);
    child.stdout.on('data', (c: Buffer) => {
      seen = (seen + c.toString()).slice(-4096);
      if (/Kernel panic|VFS: Unable/.test(seen)) done(true);
    });
    child.once('exit', () => done(/Kernel panic|VFS: Unable/.test(seen)));
  });
}

/**
 * What qemu's exit status says: isa-debug-exit makes it exit with (code << 1) | 1; qemu's own failures
 * exit 1 and print an error, so an odd status counts only when qemu printed none.
 */
export function guestCodeFromStatus(status: number | null, qemuPrintedError: boolean): number | undefined {
  if (status === null || status % 2 !== 1 || qemuPrintedError) return undefined;
  return status >> 1;
}

/** The code in concierge's console result line (`concierge: result exit-code=N reason=...`). */
export function guestCodeFromConsole(console: string): number | undefined {
  const all = [...console.matchAll(/concierge: result exit-code=(\d+)/g)];
  const last = all.at(-1);
  return last === undefined ? undefined : Number(last[1]);
}
