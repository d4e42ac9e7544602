#!/bin/sh
# The CI job's first step, as a CI runner does it: clone the repository, then run its CI command there.
# Each step prints one "ci: <guest uptime> s: <what>" line.
# Usage: ci-checkout <repository url> <directory> <command...>
set -eu
step() { echo "ci: $(cut -d' ' -f1 /proc/uptime) s: $*"; }
repository=$1 dir=$2
shift 2
step "job started in $(hostname) ($(git --version))"
git clone -q "$repository" "$dir"
cd "$dir"
step "cloned $repository at $(git rev-parse --short HEAD) ($(git log -1 --format=%s))"
exec "$@"
