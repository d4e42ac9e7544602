#!/usr/bin/env bash
# Writes the sample job's image as a docker archive (the `docker save` format) without a daemon or a
# registry: one layer with busybox, a static docker CLI at /usr/local/bin/docker, /job/run.sh and
# /job/network.sh.
# Reproducible: fixed mtimes and owners, sorted tar. Usage: build-image.sh <out.tar>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$1"
epoch="${SOURCE_DATE_EPOCH:-1700000000}"
busybox="${BUSYBOX:-/bin/busybox}"
file -L "$busybox" | grep -q 'statically linked' || { echo "build-image.sh: $busybox is not a static busybox" >&2; exit 1; }
cli=$(bash "$here/docker-cli.sh")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/bin" "$root/usr/local/bin" "$root/job" "$root/tmp" "$root/etc"
install -m 755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
install -m 755 "$cli" "$root/usr/local/bin/docker"
install -m 755 "$here/run.sh" "$root/job/run.sh"
install -m 755 "$here/network.sh" "$root/job/network.sh"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"

tar_opts=(--sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu)
tar -C "$root" "${tar_opts[@]}" -cf "$work/layer.tar" .
layer_sha=$(sha256sum "$work/layer.tar" | cut -c1-64)
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$work/archive/$layer_sha"
mv "$work/layer.tar" "$work/archive/$layer_sha/layer.tar"
config='{"architecture":"amd64","os":"linux","created":"'"$created"'","config":{"Env":["PATH=/usr/local/bin:/bin"],"Cmd":["/job/run.sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:'"$layer_sha"'"]},"history":[{"created":"'"$created"'","created_by":"guest-rootfs/job/build-image.sh"}]}'
config_sha=$(printf '%s' "$config" | sha256sum | cut -c1-64)
printf '%s' "$config" > "$work/archive/$config_sha.json"
printf '[{"Config":"%s.json","RepoTags":["concierge-sample-job:latest"],"Layers":["%s/layer.tar"]}]' \
  "$config_sha" "$layer_sha" > "$work/archive/manifest.json"
tar -C "$work/archive" "${tar_opts[@]}" -cf "$dest.tmp" .
mv "$dest.tmp" "$dest"
echo "sample job image: $dest ($(( $(stat -c %s "$dest") / 1000000 )) MB, config sha256:$config_sha)"
