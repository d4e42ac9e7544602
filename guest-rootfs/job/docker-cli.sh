#!/usr/bin/env bash
# Prints the path of a statically linked docker CLI for images that have no C library (busybox):
# $DOCKER_CLI, else /usr/local/bin/docker, stripped into guest-rootfs/out/. Fails clearly otherwise.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/out"
src="${DOCKER_CLI:-/usr/local/bin/docker}"
if [ ! -x "$src" ]; then
  echo "docker-cli.sh: no docker CLI at $src (set DOCKER_CLI to a statically linked one)" >&2; exit 1
fi
if ! file -L "$src" | grep -q 'statically linked'; then
  echo "docker-cli.sh: $src is not statically linked: $(file -L "$src")" >&2; exit 1
fi
mkdir -p "$out"
if [ ! -e "$out/docker-cli" ] || [ "$src" -nt "$out/docker-cli" ]; then
  strip -o "$out/docker-cli.tmp" "$src" && mv "$out/docker-cli.tmp" "$out/docker-cli"
fi
echo "$out/docker-cli"
