#!/bin/sh
# A busybox stand-in for `concierge init`, kept as a debugging aid for the image and the boot path
# (guest-rootfs/build.sh --init=shell). It does in shell what concierge does properly: mounts, modules,
# the instance spec, containerd, dockerd, the workload, and a power-off that carries the workload's
# exit code to the host through isa-debug-exit (see guest-rootfs/README.md for the contract).
# Unlike concierge it runs the workload through dockerd with the plain socket, so the workload's
# /work is a guest folder bind-mounted at the same path (a sibling's `-v /work:...` then coincides).
export PATH=/usr/sbin:/usr/bin
exec </dev/console >/dev/console 2>&1

say() { up=$(cut -d' ' -f1 /proc/uptime 2>/dev/null); echo "init: [${up:-?}] $*"; }
# The byte goes to port 0xf4 (qemu exits with (byte << 1) | 1); codes above 127 cannot survive that.
power_off() {
  code=$1
  [ "$code" -gt 127 ] && code=127
  say "power off, exit code $1"
  sync
  printf "\\$(printf %03o "$code")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  poweroff -f
  sleep 1000
}
fail() { say "error: $*"; stop_daemons; power_off 125; }
stop_daemons() {
  [ -n "${dockerd_pid:-}" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid"
  [ -n "${containerd_pid:-}" ] && kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid"
  dockerd_pid="" containerd_pid=""
  for m in $cache_targets; do umount "$m" || umount -l "$m"; done
  cache_targets=""
}
cache_targets=""

mount -t proc proc /proc
say "stand-in init started"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=666,newinstance devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount --make-rshared /
# cgroup v2: this shell moves to a leaf, then every controller is enabled at the root.
mkdir -p /sys/fs/cgroup/init && echo $$ > /sys/fs/cgroup/init/cgroup.procs
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
say "mounted"

# fw_cfg first: the spec may be there. The spec's modules come after it, with their dependencies.
insmod "$(grep /qemu_fw_cfg.ko /etc/concierge/modules)" || say "insmod qemu_fw_cfg failed"

# The instance spec: kernel command line, then fw_cfg, then the rootfs.
spec=$(sed -n 's/.*concierge\.spec=\([^ ]*\).*/\1/p' /proc/cmdline)
[ -z "$spec" ] && spec=/sys/firmware/qemu_fw_cfg/by_name/opt/concierge/spec/raw
[ -e "$spec" ] || spec=/etc/concierge/instance.json
[ -e "$spec" ] || fail "no instance spec (kernel command line concierge.spec=, fw_cfg opt/concierge/spec, /etc/concierge/instance.json)"
err=$(awk -f /usr/share/concierge/json-flatten.awk "$spec" 2>&1 > /run/spec.flat) || fail "bad instance spec $spec: $err"
get() { awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' /run/spec.flat; }
image=$(get workloads.0.image)
[ -n "$image" ] || fail "bad instance spec $spec: workloads[0].image is missing"
[ -n "$(get workloads.0.args.0)" ] || fail "bad instance spec $spec: workloads[0].args is missing or empty"
say "instance spec read from $spec"

i=0; while m=$(get "modules.$i") && [ -n "$m" ]; do modprobe "$m" || fail "kernel module $m did not load"; i=$((i + 1)); done
say "modules loaded"

hostname "$(get hostname || echo guest)"
ip link set lo up
sed -n 's/^sysctls\.\([^=]*\)=\(.*\)/\1 \2/p' /run/spec.flat | while read -r key val; do
  echo "$val" > "/proc/sys/$(echo "$key" | tr . /)" || say "sysctl $key failed"
done
# dockerd needs these whatever the spec says.
echo 1 > /proc/sys/net/ipv4/ip_forward

containerd_root=/var/lib/containerd docker_root=/var/lib/docker
i=0
while dev=$(get "mounts.$i.source") && [ -n "$dev" ]; do
  target=$(get "mounts.$i.target")
  mkdir -p "$target"
  # Its driver may still be probing (the first stage loads the virtio drivers in the background).
  n=0; case "$dev" in /dev/*) while [ ! -b "$dev" ] && [ "$n" -lt 500 ]; do usleep 10000; n=$((n + 1)); done ;; esac
  mount -t "$(get "mounts.$i.type")" "$dev" "$target" || fail "mount $dev on $target failed"
  cache_targets="$target $cache_targets"
  say "mounted $dev on $target"
  i=$((i + 1))
done

v=$(get containerd.root) && [ -n "$v" ] && containerd_root=$v
v=$(get docker.dataRoot) && [ -n "$v" ] && docker_root=$v
mkdir -p /run/containerd "$containerd_root"
containerd --root "$containerd_root" --state /run/containerd --address /run/containerd/containerd.sock \
  > /run/containerd.log 2>&1 &
containerd_pid=$!
n=0; until [ -S /run/containerd/containerd.sock ]; do
  n=$((n + 1)); [ $n -gt 600 ] && { cat /run/containerd.log; fail "containerd did not start"; }; sleep 0.05
done
say "containerd ready"

iptables=$(get docker.iptables); [ -z "$iptables" ] && iptables=false
bridge=$(get docker.bridge); [ -n "$bridge" ] && set -- --bridge="$bridge"
# The whole root is an initramfs: runc cannot pivot_root out of it.
DOCKER_RAMDISK=true dockerd --containerd /run/containerd/containerd.sock --data-root "$docker_root" \
  --exec-root /run/docker --pidfile /run/docker.pid --host unix:///var/run/docker.sock \
  --iptables="$iptables" "$@" > /run/dockerd.log 2>&1 &
dockerd_pid=$!
n=0; until docker version > /dev/null 2>&1; do
  n=$((n + 1)); [ $n -gt 600 ] && { tail -20 /run/dockerd.log; fail "dockerd did not start"; }; sleep 0.1
done
say "dockerd ready"

case "$image" in
  /*) ref=$(docker load -i "$image" | sed -n 's/^Loaded image: //p' | head -1)
      [ -n "$ref" ] || fail "docker load of $image gave no image" ;;
  *) ref=$image ;;
esac
set --
i=0; while v=$(get "workloads.0.env.$i") && [ -n "$v" ]; do set -- "$@" -e "$v"; i=$((i + 1)); done
v=$(get workloads.0.cwd) && [ -n "$v" ] && set -- "$@" -w "$v"
v=$(get workloads.0.user) && [ -n "$v" ] && set -- "$@" -u "$v"
[ "$(get workloads.0.dockerAccess)" = true ] && set -- "$@" -v /var/run/docker.sock:/var/run/docker.sock
mkdir -p /work
set -- "$@" -v /work:/work "$ref"
i=0; while v=$(get "workloads.0.args.$i") && [ -n "$v" ]; do set -- "$@" "$v"; i=$((i + 1)); done
name=$(get workloads.0.id); [ -z "$name" ] && name=job
say "workload $name starting"
docker run --name "$name" --rm "$@"
code=$?
say "workload $name exited with code $code"
stop_daemons
say "daemons stopped"
power_off "$code"
