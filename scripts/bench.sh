#!/usr/bin/env bash
# The proxy benchmark (bench/README.md): direct dockerd vs HAProxy vs concierge, in one interleaved run.
# Installs what is missing, builds, uses the test daemons (starting a pair of its own if none runs and
# stopping it after), then runs bench/run.ts. Arguments go to bench/run.ts; --no-build skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
  if [ "$a" = --no-build ]; then build=0; else args+=("$a"); fi
done
bash scripts/setup.sh
if [ "$build" = 1 ]; then npm run --silent build; fi

started=0
if ! eval "$(bash scripts/daemons.sh env)" || ! curl -sf --unix-socket "$DOCKERD_SOCK" http://d/_ping >/dev/null 2>&1; then
  eval "$(bash scripts/daemons.sh start)"
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then bash scripts/daemons.sh stop; fi; }
trap cleanup EXIT
export DOCKERD_SOCK CONCIERGE_TEST_ROOT
npx tsx bench/run.ts "${args[@]}"
