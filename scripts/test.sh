#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts a containerd and a dockerd of its
# own (unless the ones under $CONCIERGE_TEST_ROOT already run), runs every test, stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
npx tsc --noEmit
npm run --silent lint

# A plain assignment: a daemon that does not answer fails this script (ensure names it and its log).
started=$(bash scripts/daemons.sh ensure)
# shellcheck disable=SC2086 # one word per daemon this script started
cleanup() { if [ -n "$started" ]; then bash scripts/daemons.sh stop $started; fi; }
trap cleanup EXIT
eval "$(bash scripts/daemons.sh env)"

CONCIERGE_LOG_LEVEL=${CONCIERGE_LOG_LEVEL:-warn} npx vitest run "$@"
