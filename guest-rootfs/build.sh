#!/usr/bin/env bash
# Builds the guest from Debian packages only: out/vmlinux (Debian's kernel, as its uncompressed ELF) and
# out/root.erofs (the whole root, read-only: /sbin/init, containerd, runc, dockerd, iptables, the
# modules of modules.list, the sample job's image, containerd's state with that image unpacked) with
# out/initramfs (a small first stage that mounts it), or with --root=initramfs out/initramfs holding
# that root. Reproducible: packages are pinned by what out/debs holds (see out/manifest.txt), every file gets
# the same mtime, the filesystem and the cpio are written in a fixed order with fixed timestamps and UUID.
#
# Usage: guest-rootfs/build.sh [--init=concierge|shell] [--root=disk|initramfs] [--compress=lz4|zstd|gzip|none] [--dest=<dir>]
#   --init=concierge  /sbin/init is dist/concierge (built by `npm run build` if missing); the default
#   --init=shell      /sbin/init is init/shell-init.sh, a busybox stand-in kept as a debugging aid
#   --root=disk       the root on a read-only erofs disk image (root.erofs) behind a first-stage
#                     initramfs (init/disk-first-stage.sh), as Firecracker and cloud-hypervisor boot; the
#                     default: the job starts sooner and the root stays out of guest memory (README.md)
#   --root=initramfs  the whole root in the initramfs, unpacked by the kernel before /init
#   --compress        of the initramfs: lz4 (the default) unpacks in the guest kernel about as fast as
#                     no compression and far faster than zstd or gzip under emulation
#   --dest            where the bootable files go (vmlinux, initramfs, root.erofs, init-kind); default out/
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$here/out"
init=concierge
root_kind=disk
compress=lz4
dest=""
for arg in "$@"; do
  case "$arg" in
    --init=concierge|--init=shell) init="${arg#--init=}" ;;
    --compress=lz4|--compress=zstd|--compress=gzip|--compress=none) compress="${arg#--compress=}" ;;
    --root=disk|--root=initramfs) root_kind="${arg#--root=}" ;;
    --dest=?*) dest=$(realpath -m -- "${arg#--dest=}") ;;  # the packing runs inside the root: a relative path would land in it
    *) echo "build.sh: unknown argument $arg (see the usage at the top of the script)" >&2; exit 2 ;;
  esac
done
# One fixed time for every file: the image must not change with the day it was built.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
started=$(date +%s%N)
step() { echo "build: $(( ($(date +%s%N) - started) / 1000000 )) ms: $*" >&2; }

debs="$out/debs" pkgroot="$out/pkgroot" rootfs="$out/rootfs"
mkdir -p "$debs"

# --- 1. fetch the packages (kept in out/debs; a package already there is not fetched again) -------
packages=()
while read -r p; do
  [ -z "$p" ] && continue
  if [ "$p" = linux-image-amd64 ]; then
    # The metapackage only points at the current kernel package: take that one.
    p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [ -z "$p" ]; then apt-get update -qq; p=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
  fi
  packages+=("$p")
done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$here/packages.list")

to_fetch=()
for p in "${packages[@]}"; do
  ls "$debs/${p}_"*.deb >/dev/null 2>&1 || to_fetch+=("$p")
done
if [ ${#to_fetch[@]} -gt 0 ]; then
  step "fetching ${#to_fetch[@]} packages"
  (cd "$debs" && { apt-get download -qq "${to_fetch[@]}" 2>/dev/null || { apt-get update -qq && apt-get download -qq "${to_fetch[@]}"; }; })
fi

# --- 2. extract them into one scratch tree (kept while the same package files are used) ------------
: > "$out/manifest.txt.tmp"
debfiles=()
for p in "${packages[@]}"; do
  deb=$(ls "$debs/${p}_"*.deb | LC_ALL=C sort | tail -1)
  debfiles+=("$deb")
  echo "$(basename "$deb") $(sha256sum "$deb" | cut -c1-64)" >> "$out/manifest.txt.tmp"
done
if ! cmp -s "$out/manifest.txt.tmp" "$pkgroot.manifest" 2>/dev/null; then
  rm -rf "$pkgroot" "$pkgroot.manifest" && mkdir -p "$pkgroot"
  for deb in "${debfiles[@]}"; do dpkg-deb -x "$deb" "$pkgroot"; done
  cp "$out/manifest.txt.tmp" "$pkgroot.manifest"
  step "extracted ${#packages[@]} packages"
fi
kver=$(ls "$pkgroot/lib/modules" | head -1)

# --- 3. assemble the root ------------------------------------------------------------------------
rm -rf "$rootfs" && mkdir -p "$rootfs"
cd "$rootfs"
mkdir -p usr/bin usr/sbin usr/lib/x86_64-linux-gnu usr/lib64 etc/concierge dev proc sys run tmp root \
  var/lib var/run-placeholder cache usr/share/concierge/images
rmdir var/run-placeholder
ln -s usr/bin bin && ln -s usr/sbin sbin && ln -s usr/lib lib && ln -s usr/lib64 lib64
ln -s ../run var/run
# With the root in the initramfs, the kernel runs its /init: a first stage that makes / pivotable,
# then /sbin/init. On a disk, the first stage is an initramfs of its own (below).
if [ "$root_kind" = initramfs ]; then install -m 755 "$here/init/first-stage.sh" init; mkdir -p mnt; fi
chmod 1777 tmp
# Node (concierge) needs fds 0-2 and /dev/null before anything mounts devtmpfs.
mknod -m 600 dev/console c 5 1
mknod -m 666 dev/null c 1 3

# Paths in the packages are pre-usrmerge (/lib, /sbin): map them into /usr.
usr_path() { case "$1" in /usr/*) echo "$1" ;; /lib/*|/lib64/*|/bin/*|/sbin/*) echo "/usr$1" ;; *) echo "$1" ;; esac; }

while read -r line; do
  [ -z "$line" ] && continue
  if [[ "$line" == *" -> "* ]]; then
    link="${line%% -> *}" target="${line##* -> }"
    ln -sfn "$target" "$rootfs$(usr_path "$link")"
  elif [[ "$line" == */ ]]; then
    mkdir -p "$rootfs$(usr_path "$line")"
    cp -a "$pkgroot$line." "$rootfs$(usr_path "$line")"
  else
    install -D -m 755 "$pkgroot$line" "$rootfs$(usr_path "$line")"
  fi
done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$here/files.list")

# busybox: a shell and tools for debugging (and the stand-in init), with a link per applet that
# does not shadow a real binary.
install -m 755 "$pkgroot/bin/busybox" usr/bin/busybox
for applet in $("$pkgroot/bin/busybox" --list); do
  [ -e "usr/bin/$applet" ] || [ -e "usr/sbin/$applet" ] || ln -s busybox "usr/bin/$applet"
done

case "$init" in
  concierge)
    [ -x "$repo/dist/concierge" ] || (cd "$repo" && npm run --silent build)
    install -m 755 "$repo/dist/concierge" usr/bin/concierge
    ln -s ../bin/concierge usr/sbin/init ;;
  shell)
    install -m 755 "$here/init/shell-init.sh" usr/sbin/init
    install -m 644 "$here/init/json-flatten.awk" usr/share/concierge/json-flatten.awk
    # The stand-in drives dockerd with the docker CLI; concierge does not need one.
    install -m 755 "$(bash "$here/job/docker-cli.sh")" usr/bin/docker ;;
esac

# Shared libraries: the closure of every ELF's DT_NEEDED, looked up in the extracted packages.
needed_of() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
find_lib() {
  local d
  for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64 usr/lib64; do
    [ -e "$pkgroot/$d/$1" ] && { echo "$pkgroot/$d/$1"; return; }
  done
  return 1
}
queue=$(find usr -type f -name '*' ! -name '*.tar' ! -name '*.awk')
declare -A have=()
while [ -n "$queue" ]; do
  next=""
  for f in $queue; do
    for lib in $(needed_of "$f"); do
      [ -n "${have[$lib]:-}" ] && continue
      have[$lib]=1
      src=$(find_lib "$lib") || { echo "build: $f needs $lib, which no package in packages.list has" >&2; exit 1; }
      cp -L "$src" "usr/lib/x86_64-linux-gnu/$lib"
      next="$next usr/lib/x86_64-linux-gnu/$lib"
    done
  done
  queue="$next"
done
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 usr/lib64/ld-linux-x86-64.so.2
[ -e usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ] || cp -L "$(find_lib ld-linux-x86-64.so.2)" usr/lib/x86_64-linux-gnu/
step "root assembled (${#have[@]} shared libraries)"

# Kernel modules: those of modules.list with their dependencies (read from each module's .modinfo),
# written to /etc/concierge/modules in load order, and modules.dep for modprobe-style loaders.
moddir="lib/modules/$kver"
declare -A modpath=() loaded=() moddeps=()
while read -r name ko; do
  name=${name%.ko}; modpath[${name//-/_}]="$ko"
done < <(cd "$pkgroot" && find "$moddir" -name '*.ko' -printf '%f %p\n')
deps_of() { echo "${moddeps[$1]}"; }
: > etc/concierge/modules
add_module() {
  local m=${1//-/_} d
  [ -n "${loaded[$m]:-}" ] && return
  [ -n "${modpath[$m]:-}" ] || { echo "build: module $m is not in $kver (built into the kernel?)" >&2; exit 1; }
  loaded[$m]=1
  moddeps[$m]=$(tr '\0' '\n' < "$pkgroot/${modpath[$m]}" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
  for d in ${moddeps[$m]}; do add_module "$d"; done
  install -D -m 644 "$pkgroot/${modpath[$m]}" "usr/${modpath[$m]}"
  echo "/${modpath[$m]}" >> etc/concierge/modules
}
while read -r m; do [ -n "$m" ] && add_module "$m"; done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$here/modules.list")
# modules.dep as depmod writes it: each module's whole dependency closure, the deepest last (loaders
# insert the list from its end). Paths are relative to /lib/modules/<release>.
closure() {  # load order of $1's dependencies, deepest first
  local d
  for d in $(deps_of "$1"); do d=${d//-/_}; closure "$d"; echo "$d"; done
}
while read -r ko; do
  name=${ko##*/}; name=${name%.ko}; name=${name//-/_}
  deps=$(closure "$name" | awk '!seen[$0]++' | tac)
  line="${ko#/lib/modules/$kver/}:"
  for d in $deps; do line="$line ${modpath[$d]#lib/modules/$kver/}"; done
  echo "$line"
done < etc/concierge/modules > "usr/$moddir/modules.dep"
cp "$pkgroot/$moddir/modules.builtin" "usr/$moddir/modules.builtin"
# The drivers of the devices every `concierge vm` guest has (the config drive, the host channel) and
# overlay (the image's containerd snapshots are overlayfs ones), in load order: the initramfs's /init
# loads them in the background while /sbin/init starts.
early() { local m; for m in "$@"; do closure "$m"; echo "$m"; done | awk '!seen[$0]++' | while read -r m; do echo "/${modpath[$m]}"; done; }
early virtio_pci virtio_blk virtio_console overlay > etc/concierge/early-modules
echo "$kver" > etc/concierge/kernel-release
step "${#loaded[@]} kernel modules"

# /etc: what dockerd, containerd and runc read.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\ndocker:x:999:\nnogroup:x:65534:\n' > etc/group
printf 'hosts: files dns\n' > etc/nsswitch.conf
printf '127.0.0.1 localhost\n::1 localhost\n' > etc/hosts
: > etc/resolv.conf
echo guest > etc/hostname

# The sample job's image, carried as a docker archive the instance spec points at.
bash "$here/job/build-image.sh" "$out/sample-job.tar" >&2
install -m 644 "$out/sample-job.tar" usr/share/concierge/images/sample-job.tar

# containerd's state with that image already imported and unpacked (/var/lib/containerd, copied to the
# guest's /var/lib tmpfs by the first stage): a boot finds it and imports nothing. Made by the guest's
# own containerd with concierge's own import, as a workload's archive would be imported.
seed_containerd() {
  local tmp pid n
  tmp=$(mktemp -d)
  printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]\n' > "$tmp/config.toml"
  "$pkgroot/usr/bin/containerd" --config "$tmp/config.toml" --root "$rootfs/var/lib/containerd" --state "$tmp/state" \
    --address "$tmp/containerd.sock" > "$tmp/containerd.log" 2>&1 &
  pid=$!
  n=0; until [ -S "$tmp/containerd.sock" ]; do
    n=$((n + 1)); [ $n -gt 200 ] && { cat "$tmp/containerd.log" >&2; kill "$pid"; echo "build: containerd did not start" >&2; exit 1; }
    sleep 0.05
  done
  "$repo/dist/concierge" pull --containerd "$tmp/containerd.sock" "$rootfs/usr/share/concierge/images/sample-job.tar" >&2 \
    || { kill "$pid"; echo "build: the sample job's image did not import" >&2; exit 1; }
  # The layers' blobs go once unpacked (as containerd's CRI does with discard_unpacked_layers): the
  # snapshot is what runs, and the first stage then copies half as much. A pull of the same layer
  # writes it again.
  local ctr=("$pkgroot/usr/bin/ctr" -a "$tmp/containerd.sock" -n default) layers
  layers=$("${ctr[@]}" content ls | grep -o 'containerd\.io/gc\.ref\.content\.l\.[0-9]*=sha256:[0-9a-f]*' | sed 's/.*=//' | sort -u)
  [ -n "$layers" ] && "${ctr[@]}" content rm $layers >/dev/null
  kill "$pid"; wait "$pid" || true
  rm -rf "$tmp"
  # containerd forgets them at once but removes the files in a later collection: they go here.
  for l in $layers; do rm -f "$rootfs/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256/${l#sha256:}"; done
  # On a disk root, the unpacked snapshots stay on the read-only root, outside /var/lib: the first stage copies only
  # the rest (the databases, a few KB) and binds each snapshot's files where containerd looks for
  # them. Committed snapshots are only ever read (lower layers of the containers' overlays).
  local snapshots="$rootfs/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots" fs
  [ "$root_kind" = disk ] || return 0
  mkdir -p "$rootfs/usr/share/concierge/containerd-snapshots"
  for fs in "$snapshots"/*/fs; do
    [ -d "$fs" ] || continue
    n=$(basename "$(dirname "$fs")")
    mv "$fs" "$rootfs/usr/share/concierge/containerd-snapshots/$n"
    mkdir "$fs"
  done
}
[ -x "$repo/dist/concierge" ] || (cd "$repo" && npm run --silent build)
seed_containerd
step "containerd seeded with the sample job's image"

# --- 4. pack ------------------------------------------------------------------------------------
dest="${dest:-$out}"
mkdir -p "$dest"
rm -f "$dest"/initramfs "$dest"/initramfs.cpio* "$dest/root.erofs"
case "$compress" in
  # -l: the legacy frame format, the only one the kernel's initramfs loader reads.
  lz4) packer=(lz4 -l -9 -q -c) ;;
  zstd) packer=(zstd -q -T0 -10 -c) ;;
  gzip) packer=(gzip -9 -n -c) ;;
  none) packer=(cat) ;;
esac
cpio_of() {  # the sorted, reproducible, compressed cpio of the current directory
  find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  find . -mindepth 1 | LC_ALL=C sort | cpio --quiet --reproducible -o -H newc -R 0:0 | "${packer[@]}"
}
if [ "$root_kind" = initramfs ]; then
  cpio_of > "$dest/initramfs.tmp"
else
  # The root: erofs, uncompressed (the guest reads only the pages it touches, with no decompression),
  # every file root's, a fixed timestamp and UUID.
  find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  mkfs.erofs --quiet --all-root -x-1 -T"$SOURCE_DATE_EPOCH" -U 6e7a6a9c-1d3f-4c1b-9a57-636f6e636965 \
    "$dest/root.erofs.tmp" "$rootfs"
  mv "$dest/root.erofs.tmp" "$dest/root.erofs"
  # The first stage: busybox, its script, and the modules that mount the root (dependencies first).
  first="$out/first-stage"
  rm -rf "$first" && mkdir -p "$first"/{bin,dev,proc,sys,lower,rw,newroot,etc}
  install -m 755 "$pkgroot/bin/busybox" "$first/bin/busybox"
  install -m 755 "$here/init/disk-first-stage.sh" "$first/init"
  mknod -m 600 "$first/dev/console" c 5 1
  mknod -m 666 "$first/dev/null" c 1 3
  declare -A staged=()
  stage_module() {
    local m=${1//-/_} d
    [ -n "${staged[$m]:-}" ] && return
    staged[$m]=1
    for d in $(tr '\0' '\n' < "$pkgroot/${modpath[$m]}" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do stage_module "$d"; done
    install -D -m 644 "$pkgroot/${modpath[$m]}" "$first/${modpath[$m]}"
    echo "/${modpath[$m]}" >> "$first/etc/first-stage-modules"
  }
  # crc32c_generic first: libcrc32c (erofs needs it) fails to start without a crc32c, and insmod
  # does not follow softdeps.
  for m in virtio_pci virtio_blk crc32c_generic erofs overlay; do stage_module "$m"; done
  (cd "$first" && cpio_of) > "$dest/initramfs.tmp"
fi
mv "$dest/initramfs.tmp" "$dest/initramfs"
# The kernel as the ELF inside Debian's bzImage: qemu (and Firecracker, cloud-hypervisor) boot it at its
# PVH entry point (Debian builds CONFIG_PVH), so the bzImage's own xz decompression, ~4 s of every boot
# under emulation, is done once here.
bzimage="$pkgroot/boot/vmlinuz-$kver"
xz_at=$(LC_ALL=C grep -m1 -obUaP '\xFD7zXZ\x00' "$bzimage" | cut -d: -f1)
[ -n "$xz_at" ] || { echo "build: $bzimage holds no xz stream (Debian's kernels are xz-compressed)" >&2; exit 1; }
# (xz stops at the stream's end: fed by process substitution so the feeder's SIGPIPE is no error here)
xz -dc --single-stream < <(tail -c "+$((xz_at + 1))" "$bzimage") > "$dest/vmlinux.tmp"
[ "$(head -c 4 "$dest/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { echo "build: the xz stream in $bzimage is not an ELF kernel" >&2; exit 1; }
mv "$dest/vmlinux.tmp" "$dest/vmlinux"
rm -f "$dest/vmlinuz"
echo "$init" > "$dest/init-kind"
{
  echo "# guest built with --init=$init --root=$root_kind --compress=$compress, kernel $kver, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  LC_ALL=C sort "$out/manifest.txt.tmp"
} > "$out/manifest.txt"
rm -f "$out/manifest.txt.tmp"
step "packed"

mb() { awk -v b="$1" 'BEGIN{printf "%.1f MB", b/1e6}'; }
root_bytes=$(du -sb --apparent-size "$rootfs" | cut -f1)
disk=""
[ -e "$dest/root.erofs" ] && disk=", root.erofs $(mb "$(stat -c %s "$dest/root.erofs")") sha256 $(sha256sum "$dest/root.erofs" | cut -c1-16)"
echo "guest: kernel $(mb "$(stat -c %s "$dest/vmlinux")"), root $(mb "$root_bytes") in $(find "$rootfs" | wc -l) files, initramfs ($compress) $(mb "$(stat -c %s "$dest/initramfs")") sha256 $(sha256sum "$dest/initramfs" | cut -c1-16)$disk, init=$init"
echo "largest files:"
(cd "$rootfs" && find . -type f -size +1M -printf '%s %p\n' | sort -rn | head -8 | awk '{printf "  %7.1f MB  %s\n", $1/1e6, $2}')
