#!/usr/bin/env bash
# Starts (or stops) a containerd and a dockerd wired to it, with state and sockets of their own
# under $CONCIERGE_TEST_ROOT, so a daemon that already runs on the machine is never touched.
# Usage: daemons.sh ensure | stop [containerd] [dockerd] | env | start
#   ensure  makes both answer, starting what does not run; prints the names of those it started and
#           exits non-zero, naming the daemon and its log, when one does not answer. Scripts use
#           `started=$(bash scripts/daemons.sh ensure)` (a failure stops them) and `stop $started`.
#   stop    stops the named daemons (default both) that this script started (pid files under the root).
#   env     prints the exports of the sockets; start: ensure, then env (for a shell by hand).
set -euo pipefail
root=${CONCIERGE_TEST_ROOT:-/run/concierge-test}
data=${CONCIERGE_TEST_DATA:-/var/lib/concierge-test}
ctr_sock=$root/containerd/containerd.sock
dockerd_sock=$root/docker.sock

print_env() {
  echo "export CONTAINERD_SOCK=$ctr_sock DOCKERD_SOCK=$dockerd_sock CONCIERGE_TEST_ROOT=$root CONCIERGE_TEST_DATA=$data"
}

answers_containerd() { [ -S "$ctr_sock" ] && timeout 5 ctr --connect-timeout 2s -a "$ctr_sock" version >/dev/null 2>&1; }
answers_dockerd() { [ -S "$dockerd_sock" ] && curl -sf --max-time 5 --unix-socket "$dockerd_sock" http://d/_ping >/dev/null 2>&1; }
running() { [ -f "$root/$1.pid" ] && kill -0 "$(cat "$root/$1.pid")" 2>/dev/null; }

fail() { # name why
  echo "daemons.sh: $1 $2; its log: $root/$1.log" >&2
  [ -f "$root/$1.log" ] && tail -20 "$root/$1.log" >&2
  return 1
}

wait_answer() { # name: until it answers on its socket (30 s), or fail naming it and its log
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    "answers_$1" && return 0
    running "$1" || { fail "$1" "exited during start"; return 1; }
    sleep 0.1
  done
  fail "$1" "does not answer on its socket after 30 s"
}

launch_containerd() {
  mkdir -p "$root/containerd" "$data"
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
}

launch_dockerd() {
  # --iptables=false: dockerd spends seconds on iptables at start; tests need no NAT.
  dockerd --containerd "$ctr_sock" -H "unix://$dockerd_sock" \
    --data-root "$data/docker" --exec-root "$root/docker-exec" --pidfile "$root/dockerd.pid.file" \
    --iptables=false --ip-masq=false --userland-proxy=false \
    >"$root/dockerd.log" 2>&1 &
  echo $! >"$root/dockerd.pid"
}

# Makes both daemons answer: one that answers is left alone; one that runs (its pid is alive) but does
# not answer gets the start's time, never a second copy; one that does not run is started. Prints the
# names of those it started (for `stop`). Fails naming the daemon and its log when one does not answer,
# after stopping what it started itself.
ensure() {
  local started=() name
  mkdir -p "$root"
  for name in containerd dockerd; do
    "answers_$name" && continue
    if ! running "$name"; then
      "launch_$name"
      started+=("$name")
    fi
    if ! wait_answer "$name"; then
      [ ${#started[@]} -eq 0 ] || stop "${started[@]}"
      return 1
    fi
  done
  [ ${#started[@]} -eq 0 ] || printf '%s\n' "${started[@]}"
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

stop() { # [names]: the daemons to stop (default both); only ever those this machinery started
  local names=("$@")
  [ ${#names[@]} -gt 0 ] || names=(containerd dockerd)
  # Containers left running hold shims; dockerd stops its own, then containerd's are killed with it.
  if [[ " ${names[*]} " == *" dockerd "* ]]; then stop_one dockerd; fi
  [[ " ${names[*]} " == *" containerd "* ]] || return 0
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

cmd=${1:-}
shift || true
case "$cmd" in
  ensure) ensure ;;
  start) ensure >/dev/null; print_env ;;
  stop) stop "$@" ;;
  env) print_env ;;
  *) echo "usage: $0 ensure|start|stop [containerd] [dockerd]|env" >&2; exit 2 ;;
esac
