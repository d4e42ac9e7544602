#!/usr/bin/env bash
# Boots the guest built by guest-rootfs/build.sh under qemu and exits with the guest's job exit code.
# The console (serial) streams to stdout. KVM is used when /dev/kvm works (a short probe decides),
# otherwise software emulation (TCG).
#
# Usage: guest-rootfs/boot.sh --spec <instance.json> [--cache <disk.img>] [--cache-size 2G]
#          [--memory 2048] [--cpus 2] [--cpu <qemu cpu model>] [--accel auto|kvm|tcg] [--timeout <seconds>] [--verbose]
#          [--append "<more kernel arguments>"] [--tap <tap device>]
#   --cache    a raw ext4 disk given to the guest as its first virtio disk (/dev/vda); created when
#              absent. The spec's `mounts` says where it goes (/cache).
#   --verbose  the kernel's own messages on the console too (otherwise `quiet`)
#   --tap      a virtio NIC (the guest's eth0, driver virtio_net) on this existing tap device; run
#              boot.sh inside the tap's network namespace (scripts/testnet.sh makes one)
# Exit status: the job's exit code (0-127, see README.md "exit code contract"); 124 on --timeout;
# 125 when the guest stopped without reporting one or qemu failed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/out"
spec="" tap="" cache="" cache_size=2G memory=2048 cpus=2 cpu="" accel=auto timeout=0 verbose=0 append=""
while [ $# -gt 0 ]; do
  case "$1" in
    --spec) spec="$2"; shift ;;
    --cache) cache="$2"; shift ;;
    --cache-size) cache_size="$2"; shift ;;
    --memory) memory="$2"; shift ;;
    --cpus) cpus="$2"; shift ;;
    --cpu) cpu="$2"; shift ;;
    --accel) accel="$2"; shift ;;
    --timeout) timeout="$2"; shift ;;
    --append) append="$2"; shift ;;
    --tap) tap="$2"; shift ;;
    --verbose) verbose=1 ;;
    *) echo "boot.sh: unknown argument $1 (see the usage at the top of the script)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$spec" ] && [ -r "$spec" ] || { echo "boot.sh: --spec <instance.json> is required and must be readable" >&2; exit 2; }
for f in vmlinuz initramfs; do
  [ -e "$out/$f" ] || { echo "boot.sh: $out/$f is missing: run guest-rootfs/build.sh first" >&2; exit 2; }
done
qemu=qemu-system-x86_64
command -v "$qemu" >/dev/null || { echo "boot.sh: $qemu is not installed (scripts/setup.sh installs it)" >&2; exit 2; }

# KVM only if it really runs a kernel: some hosts' /dev/kvm (a paravirtual hypervisor) opens fine but
# runs Debian's kernel at a crawl. The probe boots the kernel without a root to its panic line.
kvm_works() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
  timeout 10 "$qemu" -accel kvm -cpu host -m 256 -nodefaults -display none -serial stdio -no-reboot \
    -kernel "$out/vmlinuz" -append "console=ttyS0 panic=-1 root=/dev/nonexistent" 2>/dev/null </dev/null \
    | grep -q -m1 'Kernel panic\|VFS: Unable'
}
if [ "$accel" = auto ]; then
  if kvm_works; then accel=kvm; else accel=tcg; fi
fi
case "$accel" in
  kvm) accel_args=(-accel kvm -cpu "${cpu:-host}") ;;
  # -cpu max: Node needs instructions (SSE4.2, POPCNT) that the default qemu64 model lacks.
  tcg) accel_args=(-accel tcg,thread=multi -cpu "${cpu:-max}") ;;
  *) echo "boot.sh: --accel must be auto, kvm or tcg" >&2; exit 2 ;;
esac

disk_args=()
if [ -n "$cache" ]; then
  if [ ! -e "$cache" ]; then
    truncate -s "$cache_size" "$cache"
    mkfs.ext4 -q -F -L concierge-cache "$cache"
    echo "boot.sh: created cache disk $cache ($cache_size, ext4)" >&2
  fi
  disk_args=(-drive "file=$cache,format=raw,if=virtio,cache=unsafe")
fi

net_args=()
[ -n "$tap" ] && net_args=(-netdev "tap,id=net0,ifname=$tap,script=no,downscript=no" -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56)

kernel_args="console=ttyS0 panic=-1 mitigations=off i8042.noaux i8042.nokbd"
[ "$verbose" = 1 ] || kernel_args="$kernel_args quiet"
[ -n "$append" ] && kernel_args="$kernel_args $append"

echo "boot.sh: qemu $accel, ${memory} MB, $cpus cpus, spec $spec${cache:+, cache $cache}${tap:+, nic on $tap}" >&2
qemu_err=$(mktemp) console=$(mktemp)
trap 'rm -f "$qemu_err" "$console"' EXIT
cmd=("$qemu" "${accel_args[@]}" -machine pc -m "$memory" -smp "$cpus" -nodefaults -no-user-config
  -display none -serial stdio -monitor none -no-reboot
  -kernel "$out/vmlinuz" -initrd "$out/initramfs" -append "$kernel_args"
  -fw_cfg "name=opt/concierge/spec,file=$spec"
  -device isa-debug-exit,iobase=0xf4,iosize=0x04
  "${disk_args[@]}" "${net_args[@]}")
[ "$timeout" != 0 ] && cmd=(timeout --foreground "$timeout" "${cmd[@]}")
set +e
"${cmd[@]}" 2> >(tee "$qemu_err" >&2) | tee "$console"
status=${PIPESTATUS[0]}
set -e
wait 2>/dev/null || true

if [ "$timeout" != 0 ] && [ "$status" = 124 ]; then
  echo "boot.sh: the guest did not finish in $timeout s" >&2; exit 124
fi
# isa-debug-exit makes qemu exit with (code << 1) | 1; qemu's own failures exit 1 and say why on stderr.
if [ $((status % 2)) = 1 ] && ! grep -q "^$qemu:\|^qemu-system" "$qemu_err"; then
  code=$((status >> 1))
  echo "boot.sh: guest exit code $code" >&2
  exit "$code"
fi
# A plain power-off (qemu status 0): concierge's result line on the console says the code.
result=$(sed -n 's/.*concierge: result exit-code=\([0-9]*\).*/\1/p' "$console" | tail -1)
if [ "$status" = 0 ] && [ -n "$result" ]; then
  echo "boot.sh: guest exit code $result (from the console's result line)" >&2
  [ "$result" -gt 255 ] && result=255
  exit "$result"
fi
echo "boot.sh: the guest stopped without reporting an exit code (qemu status $status)" >&2
exit 125
