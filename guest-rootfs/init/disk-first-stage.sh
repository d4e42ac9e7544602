#!/bin/busybox sh
# /init of the small first-stage initramfs (build.sh --root=disk): loads the block and filesystem
# modules listed in /etc/first-stage-modules, mounts the read-only root disk named by root= on the
# kernel command line (rootfstype=, default erofs) under a tmpfs overlay, gives /var/lib a tmpfs of its
# own (a copy of the image's), and hands over to /sbin/init (concierge, or the stand-in) as PID 1 with switch_root.
# The overlay makes the root writable as the initramfs root was (/etc, /work...); /var/lib is a tmpfs
# because containerd's and dockerd's overlay layers cannot have their upper directories on an overlay.
# The root is a real mount, so runc's pivot_root works in containers.
# Every command through /bin/busybox by its path: no PATH is set here, so none leaks into init's
# environment (concierge sets its own when the kernel gave none).
fail() {
  echo "first stage: $*"
  # No init to report through: the code for qemu's isa-debug-exit, as the stand-in and concierge do.
  printf '\175' | /bin/busybox dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  /bin/busybox poweroff -f
}
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t sysfs sysfs /sys
for m in $(/bin/busybox cat /etc/first-stage-modules); do /bin/busybox insmod "$m" || fail "insmod $m failed"; done
root="" fstype=erofs tcg=""
for word in $(/bin/busybox cat /proc/cmdline); do
  case "$word" in
    root=*) root="${word#root=}" ;;
    rootfstype=*) fstype="${word#rootfstype=}" ;;
    concierge.tcg=1) tcg=1 ;;
  esac
done
[ -n "$root" ] || fail "no root= on the kernel command line"
# The disk's node appears once devtmpfs hears of it, shortly after virtio_blk probed it.
n=0
until [ -b "$root" ]; do
  n=$((n + 1)); [ "$n" -gt 1000 ] && fail "$root did not appear"
  /bin/busybox usleep 5000
done
# Large reads: every request to the disk is an emulated interrupt and exit (the 128 KB default makes
# thousands of them for the binaries the boot runs).
echo 4096 > "/sys/block/${root#/dev/}/queue/read_ahead_kb" || true
/bin/busybox mount -t "$fstype" -o ro "$root" /lower || fail "mount $root ($fstype) failed"
/bin/busybox mount -t tmpfs -o mode=0755 rw /rw
/bin/busybox mkdir -p /rw/upper /rw/work
/bin/busybox mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot || fail "overlay root failed"
# Under binary translation (concierge.tcg=1 from the VMM) concierge runs once ahead of init, on the
# other vCPU, while this stage finishes: `--run-ahead` is Node's start and the bundle's load, the start
# init goes through next, and one of each native path the boot steps take first (those needing only
# Node before the bundle's load, in scripts/sea-main.cjs; the rest in cli/run-ahead.ts), whose code
# qemu has then translated (a later run of the same code reuses the translation). With `--help` (Node's
# start and the bundle's load only), Node's start to init's first line took 0.97-1.08 s against
# 1.30-1.37 s and the job's first output 7.06-7.84 s against 7.31-8.28 s (medians of two runs of 5-6
# alternated boots). Not for the stand-in, whose root has no concierge.
if [ -n "$tcg" ] && [ -x /newroot/usr/bin/concierge ]; then
  # Its stdio on the root's own /dev/null, so that this stage's /dev unmounts below.
  /bin/busybox chroot /newroot /usr/bin/concierge --run-ahead </newroot/dev/null >/newroot/dev/null 2>&1 &
fi
/bin/busybox mount -t tmpfs -o mode=0755 varlib /newroot/var/lib
# /var/lib starts as the image has it: containerd's state with the sample job's image unpacked, whose
# snapshots' files stay on the root disk (bound read-only where containerd reads them, not copied).
/bin/busybox cp -a /lower/var/lib/. /newroot/var/lib/ || fail "copying /var/lib failed"
snapshots=/newroot/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots
for fs in /lower/usr/share/concierge/containerd-snapshots/*; do
  [ -d "$fs" ] || continue
  /bin/busybox mount --bind "$fs" "$snapshots/${fs##*/}/fs" || fail "binding snapshot ${fs##*/} failed"
done
read -r up _ < /proc/uptime
echo "first stage: root $root ($fstype) mounted at ${up}s (kernel uptime), switching to /sbin/init"
# init mounts its own /proc and /dev (Node's start needs only the root's /dev/console and /dev/null).
/bin/busybox umount /proc /sys /dev
exec /bin/busybox switch_root /newroot /sbin/init "$@"
