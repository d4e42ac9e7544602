#!/usr/bin/env bash
# Boots the guest built by guest-rootfs/build.sh: a thin caller of `concierge vm` (concierge/cli/vm.ts),
# which runs qemu with the spec on a config drive and the host channel, streams the job's output to
# stdout/stderr and the guest's events to stderr, and exits with the job's exit code.
#
# Usage: guest-rootfs/boot.sh --spec <instance.json> [concierge vm options: --cache <disk.img>,
#          --control <sock>, --console <file|->, --spec-via drive|fw_cfg|both, --nic tap=<name>,
#          --accel auto|kvm|tcg, --memory, --cpus, --cpu, --timeout <s>, --verbose, --append "..."]
#   --image <dir>   boot the vmlinux, initramfs and root.erofs (if any) in <dir> (build.sh --dest) instead of out/
#   --tap <device>  shorthand for --nic tap=<device>,mac=52:54:00:12:34:56 (the guest's eth0); run boot.sh
#                   inside the tap's network namespace (scripts/testnet.sh makes one)
# Exit status: the job's exit code; 124 on --timeout; 125 when the guest reported none.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/out"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --image) out="$2"; shift 2 ;;
    --tap) args+=(--nic "tap=$2,mac=52:54:00:12:34:56"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
for f in vmlinux initramfs; do
  [ -e "$out/$f" ] || { echo "boot.sh: $out/$f is missing: run guest-rootfs/build.sh first" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "boot.sh: qemu-system-x86_64 is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
concierge=("$here/../dist/concierge")
[ -e "$here/../dist/concierge.js" ] && command -v node >/dev/null && concierge=(node "$here/../dist/concierge.js")
# A guest built with its root on a disk (build.sh --root=disk, the default) has root.erofs beside them.
root=()
[ -e "$out/root.erofs" ] && root=(--root "$out/root.erofs")
exec "${concierge[@]}" vm --kernel "$out/vmlinux" --initrd "$out/initramfs" "${root[@]}" "${args[@]}"
