#!/usr/bin/env bash
# Starts (or stops) a containerd and a dockerd wired to it, with state and sockets of their own
# under $CONCIERGE_TEST_ROOT, so a daemon that already runs on the machine is never touched.
# Usage: daemons.sh start|stop|env
set -euo pipefail
root=${CONCIERGE_TEST_ROOT:-/run/concierge-test}
data=${CONCIERGE_TEST_DATA:-/var/lib/concierge-test}
ctr_sock=$root/containerd/containerd.sock
dockerd_sock=$root/docker.sock

print_env() {
  echo "export CONTAINERD_SOCK=$ctr_sock DOCKERD_SOCK=$dockerd_sock CONCIERGE_TEST_ROOT=$root CONCIERGE_TEST_DATA=$data"
}

wait_for_socket() { # path pid name
  for _ in $(seq 1 300); do
    [ -S "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "$3 exited during start; see $root/$3.log" >&2; tail -20 "$root/$3.log" >&2; return 1; }
    sleep 0.1
  done
  echo "$3 did not create $1 in 30s" >&2; return 1
}

start() {
  mkdir -p "$root/containerd" "$data"
  if [ -f "$root/containerd.pid" ] && kill -0 "$(cat "$root/containerd.pid")" 2>/dev/null; then
    echo "daemons already running under $root" >&2; return 0
  fi
  cat > "$root/containerd.toml" <<TOML
version = 2
root = "$data/containerd"
state = "$root/containerd/state"
[grpc]
  address = "$ctr_sock"
[ttrpc]
  address = "$ctr_sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
TOML
  containerd --config "$root/containerd.toml" >"$root/containerd.log" 2>&1 &
  echo $! >"$root/containerd.pid"
  wait_for_socket "$ctr_sock" "$(cat "$root/containerd.pid")" containerd
  # --iptables=false: dockerd spends seconds on iptables at start (brief 3); tests need no NAT.
  dockerd --containerd "$ctr_sock" -H "unix://$dockerd_sock" \
    --data-root "$data/docker" --exec-root "$root/docker-exec" --pidfile "$root/dockerd.pid.file" \
    --iptables=false --ip-masq=false --userland-proxy=false \
    >"$root/dockerd.log" 2>&1 &
  echo $! >"$root/dockerd.pid"
  wait_for_socket "$dockerd_sock" "$(cat "$root/dockerd.pid")" dockerd
  for _ in $(seq 1 300); do
    curl -sf --unix-socket "$dockerd_sock" http://d/_ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "dockerd does not answer /_ping" >&2; return 1
}

stop_one() { # name
  local pidfile="$root/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop() {
  # Containers left running hold shims; dockerd stops its own, then containerd's are killed with it.
  stop_one dockerd
  if [ -S "$ctr_sock" ] && command -v ctr >/dev/null; then
    for ns in $(ctr -a "$ctr_sock" namespaces ls -q 2>/dev/null); do
      for t in $(ctr -a "$ctr_sock" -n "$ns" tasks ls -q 2>/dev/null); do ctr -a "$ctr_sock" -n "$ns" tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    done
  fi
  stop_one containerd
  # Shims outlive containerd by design; remove only those serving our state directory.
  pkill -KILL -f "containerd-shim.*-address $ctr_sock" 2>/dev/null || true
  # awk, not grep: grep exits 1 when nothing is mounted, and pipefail would make that a failed stop.
  awk -v root="$root" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

case "${1:-}" in
  start) start; print_env ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
