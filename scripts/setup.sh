#!/usr/bin/env bash
# Installs what concierge's build, tests and main job need, when it is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
  containerd runc docker.io docker-compose busybox-static iptables curl haproxy socat
  golang-github-containerd-containerd-dev golang-github-containerd-cgroups-dev golang-github-gogo-protobuf-dev golang-google-genproto-dev
  protobuf-compiler libprotobuf-dev
  golang-go golang-github-gorilla-mux-dev golang-github-docker-docker-dev golang-github-containerd-ttrpc-dev
  docker-registry dnsmasq-base apache2-utils git openssl
)
# The guest microVM (guest-rootfs/): qemu, and the tools its build uses. Skipped with CONCIERGE_SKIP_GUEST=1.
guest_packages=(qemu-system-x86 cpio lz4 xz-utils zstd e2fsprogs erofs-utils binutils file)
[ "${CONCIERGE_SKIP_GUEST:-0}" = 1 ] && guest_packages=()
missing=()
for p in "${debian_packages[@]}" "${guest_packages[@]}" ${CONCIERGE_EXTRA_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  # Packages with services (docker-registry) must not start them: tests start their own, on their own ports.
  policy=/usr/sbin/policy-rc.d; had_policy=0; [ -e "$policy" ] && had_policy=1
  [ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
  trap '[ "$had_policy" = 1 ] || rm -f "$policy"' EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm 11 with omit-lockfile-registry-resolved (set on these machines) writes locks that lack other
  # platforms' optional packages, which `npm ci` then calls out of sync; `npm install` still follows the lock.
  npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
fi
