#!/usr/bin/env bash
# The main job (scripts/main.sh): builds the guest when it is missing or older than its inputs, then
# boots it with the sample CI job's instance spec. Exits with the job's exit code.
# Usage: guest-rootfs/run-sample-job.sh [boot.sh arguments, e.g. --cache /tmp/cache.img]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
stale=0
[ -e "$here/out/initramfs" ] && [ "$(cat "$here/out/init-kind" 2>/dev/null)" = concierge ] || stale=1
if [ "$stale" = 0 ] && [ -n "$(find "$here/../dist/concierge" "$here/build.sh" "$here/packages.list" "$here/files.list" \
    "$here/modules.list" "$here/init" "$here/job" -newer "$here/out/initramfs" 2>/dev/null | head -1)" ]; then
  stale=1
fi
[ "$stale" = 1 ] && bash "$here/build.sh" --init=concierge
spec="$here/specs/sample-job.json"
for a in "$@"; do [ "$a" = --cache ] && spec="$here/specs/sample-job-cached.json"; done
exec bash "$here/boot.sh" --spec "$spec" "$@"
