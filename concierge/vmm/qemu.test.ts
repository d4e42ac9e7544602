import { describe, expect, it } from 'vitest';
import { guestCodeFromConsole, guestCodeFromStatus, kernelCommandLine, parseNic, qemuArgs, type QemuOptions } from './qemu.js';

const base: QemuOptions = {
  kernel: '/k', initrd: '/i', accel: 'tcg', memoryMb: 2048, cpus: 2, channelSocket: '/tmp/ch.sock', specDrive: '/tmp/spec.img',
};

const after = (args: string[], flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));

describe('qemu launcher', () => {
  it('gives the guest its config drive, host channel port and exit device, and names only the drive on the kernel command line', () => {
    const args = qemuArgs(base);
    expect(after(args, '-accel')).toEqual(['tcg,thread=multi']);
    expect(after(args, '-cpu')).toEqual(['max,erms=off,fsrm=off']);
    expect(after(args, '-drive')).toEqual(['file=/tmp/spec.img,format=raw,if=virtio,readonly=on']);
    expect(after(args, '-chardev')).toEqual(['socket,id=hostchannel,path=/tmp/ch.sock,server=on,wait=off']);
    expect(after(args, '-device')).toEqual([
      'isa-debug-exit,iobase=0xf4,iosize=0x04', 'virtio-serial-pci,id=vser0', 'virtserialport,bus=vser0.0,chardev=hostchannel,name=concierge.0',
    ]);
    expect(after(args, '-append')).toEqual(['console=ttyS0 panic=-1 mitigations=off acpi=noirq i8042.noaux i8042.nokbd cryptomgr.notests cgroup.memory=nokmem concierge.tcg=1 quiet concierge.specdrive=vda']);
    expect(args).not.toContain('-fw_cfg');
  });

  it('shares host directories over virtio-9p by tag, and refuses what would break qemu\'s option syntax', () => {
    const args = qemuArgs({ ...base, shares: [{ tag: 'rootfs', path: '/b/rootfs' }] });
    expect(after(args, '-fsdev')).toEqual(['local,id=fs0,path=/b/rootfs,security_model=passthrough']);
    expect(after(args, '-device')).toContain('virtio-9p-pci,fsdev=fs0,mount_tag=rootfs');
    expect(() => qemuArgs({ ...base, shares: [{ tag: 'rootfs', path: '/a,b' }] })).toThrow(/unusable/);
    expect(after(qemuArgs({ ...base, shares: [{ tag: 'ro', path: '/b/ro', readonly: true }] }), '-fsdev')).toEqual(['local,id=fs0,path=/b/ro,security_model=passthrough,readonly=on']);
  });

  it('puts the cache disk first (/dev/vda), the config drive after it, fw_cfg and NICs when asked, KVM with -cpu host', () => {
    const args = qemuArgs({ ...base, accel: 'kvm', cacheDisk: '/c.img', fwCfgSpec: '/s.json', nics: [{ tap: 'tap-hc0', mac: '52:54:00:12:34:56' }], verbose: true });
    expect(after(args, '-accel')).toEqual(['kvm']);
    expect(after(args, '-cpu')).toEqual(['host']);
    expect(after(args, '-drive')).toEqual(['file=/c.img,format=raw,if=virtio,cache=unsafe', 'file=/tmp/spec.img,format=raw,if=virtio,readonly=on']);
    expect(kernelCommandLine({ ...base, cacheDisk: '/c.img', verbose: true })).toBe('console=ttyS0 panic=-1 mitigations=off acpi=noirq i8042.noaux i8042.nokbd cryptomgr.notests cgroup.memory=nokmem concierge.tcg=1 concierge.specdrive=vdb');
    // A KVM guest keeps kernel-memory accounting (the TCG lockup's workaround is emulation's only), and
    // its first stage runs nothing ahead of init (nothing is translated).
    expect(kernelCommandLine({ ...base, accel: 'kvm' })).not.toMatch(/nokmem|concierge\.tcg/);
    expect(after(args, '-fw_cfg')).toEqual(['name=opt/concierge/spec,file=/s.json']);
    expect(after(args, '-netdev')).toEqual(['tap,id=net0,ifname=tap-hc0,script=no,downscript=no']);
    expect(after(args, '-device')).toContain('virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56');
    expect(() => qemuArgs({ ...base, nics: [{ tap: 'a,b' }] })).toThrow(/not an interface name/);
    expect(() => qemuArgs({ ...base, nics: [{ tap: 't', mac: 'nope' }] })).toThrow(/not a MAC/);
  });

  it('puts the root disk last, read-only, and names it root= on the kernel command line, with or without the cache disk', () => {
    const args = qemuArgs({ ...base, cacheDisk: '/c.img', rootDisk: '/root.erofs' });
    expect(after(args, '-drive')).toEqual([
      'file=/c.img,format=raw,if=virtio,cache=unsafe', 'file=/tmp/spec.img,format=raw,if=virtio,readonly=on', 'file=/root.erofs,format=raw,if=virtio,readonly=on',
    ]);
    expect(after(args, '-append')[0]).toMatch(/ concierge\.specdrive=vdb root=\/dev\/vdc rootfstype=erofs ro$/);
    expect(kernelCommandLine({ ...base, rootDisk: '/root.erofs' })).toMatch(/ concierge\.specdrive=vda root=\/dev\/vdb rootfstype=erofs ro$/);
  });

  it('reads --nic and the guest\'s code from qemu\'s status or the console', () => {
    expect(parseNic('tap=tap0')).toEqual({ tap: 'tap0' });
    expect(parseNic('tap=tap0,mac=52:54:00:00:00:01')).toEqual({ tap: 'tap0', mac: '52:54:00:00:00:01' });
    expect(() => parseNic('mac=52:54:00:00:00:01')).toThrow(/tap=<name> is required/);
    expect(() => parseNic('tap=t,model=e1000')).toThrow(/unknown field "model"/);
    expect(guestCodeFromStatus((7 << 1) | 1, false)).toBe(7);
    expect(guestCodeFromStatus(1, true)).toBeUndefined();
    expect(guestCodeFromStatus(0, false)).toBeUndefined();
    expect(guestCodeFromConsole('x\nconcierge: result exit-code=3 reason="a"\nconcierge: result exit-code=300 reason="b"\n')).toBe(300);
    expect(guestCodeFromConsole('nothing')).toBeUndefined();
  });
});
