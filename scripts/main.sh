#!/usr/bin/env bash
# The main job: boot a guest microVM with concierge as PID 1 on a closed test network and run a CI job in it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
if [ -x guest-rootfs/run-sample-job.sh ]; then
  exec bash guest-rootfs/run-sample-job.sh "$@"
fi
echo "main: the guest image is not available; showing the docker CLI through concierge's proxy instead" >&2
started=$(bash scripts/daemons.sh ensure)
eval "$(bash scripts/daemons.sh env)"
sock=$(mktemp -u /tmp/concierge-main.XXXXXX.sock)
node dist/concierge.js proxy --listen "$sock" --upstream "$DOCKERD_SOCK" &
proxy=$!
# shellcheck disable=SC2086 # one word per daemon this script started
cleanup() { kill "$proxy" 2>/dev/null || true; if [ -n "$started" ]; then bash scripts/daemons.sh stop $started; fi; }
trap cleanup EXIT
for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
DOCKER_HOST=unix://$sock docker version --format 'client {{.Client.Version}} -> concierge -> dockerd {{.Server.Version}}'
