#!/usr/bin/busybox sh
# /init, the kernel's first process in the initramfs: makes the root a mount that can be pivoted
# away from, then becomes /sbin/init (concierge, or the stand-in) as PID 1.
# The initramfs root ("rootfs") is the one mount runc's pivot_root refuses (EINVAL): it has no parent.
# A bind mount of it moved over / and chrooted into has one, so containers start with pivot_root, as
# on a disk root, and no file is copied. Costs a few milliseconds.
/usr/bin/busybox mount --bind / /mnt
cd /mnt
/usr/bin/busybox mount --move . /
exec /usr/bin/busybox chroot . /sbin/init "$@"
