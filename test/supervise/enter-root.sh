#!/bin/sh
# Runs inside fresh namespaces (unshare --fork --pid --mount ...): builds a root for the instance under
# test from the host's /usr (read-only), an overlay of the host's /etc, concierge's dist/ at
# /opt/concierge and empty /proc /sys /dev /run /tmp /var, pivots into it, and execs the command as
# PID 1. The boot's mounts then land on empty directories, as in a VM.
# Usage: enter-root.sh <base dir> <dist dir> <command> [args...]
set -eu
base=$1 dist=$2
shift 2
root=$base/root
mount --make-rprivate /
mkdir -p "$root" "$base/etc-upper" "$base/etc-work"
mount --bind "$root" "$root"
for d in proc sys dev run tmp var usr etc opt/concierge old-root; do mkdir -p "$root/$d"; done
for l in bin sbin lib lib64; do [ -e "$root/$l" ] || ln -s "usr/$l" "$root/$l"; done
mount --bind /usr "$root/usr"
mount -o remount,bind,ro "$root/usr"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$base/etc-upper,workdir=$base/etc-work" "$root/etc"
mount --bind "$dist" "$root/opt/concierge"
cd "$root"
pivot_root . old-root
# util-linux umount wants /proc, which the new root does not have yet.
/bin/busybox umount -l /old-root
exec "$@"
