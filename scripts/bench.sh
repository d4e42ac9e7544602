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

# A plain assignment: a daemon that does not answer fails this script (ensure names it and its log).
started=$(bash scripts/daemons.sh ensure)
# shellcheck disable=SC2086 # one word per daemon this script started
cleanup() { if [ -n "$started" ]; then bash scripts/daemons.sh stop $started; fi; }
trap cleanup EXIT
eval "$(bash scripts/daemons.sh env)"
export DOCKERD_SOCK CONCIERGE_TEST_ROOT
npx tsx bench/run.ts "${args[@]}"
