#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts a containerd and a dockerd of its
# own (unless the ones under $CONCIERGE_TEST_ROOT already run), runs every test, stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
npx tsc --noEmit

started=0
if ! eval "$(bash scripts/daemons.sh env)" || ! curl -sf --unix-socket "$DOCKERD_SOCK" http://d/_ping >/dev/null 2>&1; then
  eval "$(bash scripts/daemons.sh start)"
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then bash scripts/daemons.sh stop; fi; }
trap cleanup EXIT

CONCIERGE_LOG_LEVEL=${CONCIERGE_LOG_LEVEL:-warn} npx vitest run "$@"
