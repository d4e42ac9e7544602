#!/usr/bin/busybox sh
# /init, the kernel's first process in the initramfs: makes the root a mount that can be pivoted
# away from, then becomes /sbin/init (concierge, or the stand-in) as PID 1.
# The initramfs root ("rootfs") is the one mount runc's pivot_root refuses (EINVAL): it has no parent.
# A bind mount of it moved over / and chrooted into has one, so containers start with pivot_root, as
# on a disk root, and no file is copied. Costs a few milliseconds.
# The drivers of the VMM's devices and overlay (etc/concierge/early-modules: the config drive's, the
# host channel's, containerd's snapshots') are loaded on another vCPU while Node starts, which takes one vCPU for 1-2 s under
# emulation; init finds them loaded (it waits for one still in its init) instead of loading them in
# its boot steps. A failure here is init's to find and report.
/usr/bin/busybox sh -c 'for m in $(/usr/bin/busybox cat /etc/concierge/early-modules); do /usr/bin/busybox insmod "$m"; done' </dev/null >/dev/null 2>&1 &
/usr/bin/busybox mount --bind / /mnt
cd /mnt
/usr/bin/busybox mount --move . /
exec /usr/bin/busybox chroot . /sbin/init "$@"
