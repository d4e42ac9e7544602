#!/usr/bin/env bash
# Writes the tools layer of the CI job's image (it goes on top of a busybox layer): the docker CLI,
# git, Debian's docker-compose (Python 3.11 with its modules), the shared libraries all of them need,
# and /usr/local/bin/ci-checkout. Taken from this machine's installed Debian packages (scripts/setup.sh
# installs git and docker-compose), with their mtimes kept: Python checks its cached bytecode against
# them, and recompiling compose's modules at every command is slow under emulation.
# Usage: build-job-layer.sh <out.tar>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
list="$work/files"

# docker-compose and the Python packages it needs (its Depends, followed), as dpkg lists them.
python_packages() {
  local -A seen=()
  local todo=(docker-compose) p d
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    echo "$p"
    for d in $(dpkg-query -W -f='${Depends},${Pre-Depends}\n' "$p" | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//; s/ //g'); do
      case "$d" in python3*|libpython3*) dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'ok installed' && todo+=("$d") ;; esac
    done
  done
}
for p in $(python_packages); do dpkg -L "$p"; done \
  | grep -Ev '^/usr/share/(doc|man|lintian|bug|locale)(/|$)|^/\.$' \
  | grep -Ev '^/usr/lib/python3\.11/(test|pydoc_data|lib2to3|idlelib|tkinter|ensurepip)(/|$)' > "$list"
# Their compiled bytecode (made when the packages were installed, so dpkg does not list it).
grep -E '^/usr/lib/python3(\.11)?/' "$list" | while read -r d; do
  if [ -d "$d" ] && [ ! -L "$d" ] && [ -d "$d/__pycache__" ]; then echo "$d/__pycache__"; find "$d/__pycache__" -name '*.cpython-311.pyc'; fi
done >> "$list"
# git: enough to clone (the exec path's own git runs index-pack), and its templates.
{ echo /usr/bin/git; echo /usr/lib/git-core; find /usr/share/git-core/templates; } >> "$list"

# The docker CLI: the static one job/docker-cli.sh finds, else Debian's (docker.io), with its libraries.
cli=$(bash "$here/../job/docker-cli.sh" 2>/dev/null) || cli=/usr/bin/docker

# Shared libraries: what every ELF file above needs, as the loader here resolves it.
{ echo "$cli"; grep -v '^/usr/lib/python3' "$list"; } | while read -r f; do if [ -f "$f" ] && [ ! -L "$f" ]; then echo "$f"; fi; done > "$work/candidates"
find /usr/lib/python3.11/lib-dynload /usr/lib/python3/dist-packages -name '*.so' 2>/dev/null | grep -Fxf "$list" >> "$work/candidates" || true
while read -r f; do
  head -c4 "$f" | grep -q 'ELF' || continue
  # A static binary (the docker CLI) makes ldd fail: it needs nothing.
  { ldd "$f" 2>/dev/null || true; } | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}'
done < "$work/candidates" | sort -u > "$work/libs"
# Each library by its resolved file, with the soname link beside it.
while read -r l; do echo "$l"; readlink -f "$l"; done < "$work/libs" >> "$list"

# The tree: paths under /lib are /usr/lib's (the image has no /lib); /lib64 keeps the loader.
root="$work/root"
mkdir -p "$root/usr/local/bin" "$root/usr/lib/x86_64-linux-gnu" "$root/lib64"
LC_ALL=C sort -u "$list" | sed 's,^/,,' > "$list.sorted"
tar -C / --no-recursion -cf - -T "$list.sorted" 2>"$work/tar.err" \
  | tar -C "$root" --transform 's,^lib/,usr/lib/,S' -xf - || { cat "$work/tar.err" >&2; exit 1; }
# Symlinks dpkg made absolute (the loader's /lib64 entry) resolve through /lib.
ln -s usr/lib "$root/lib"
ln -s ../../bin/git "$root/usr/lib/git-core/git"
install -m 755 "$cli" "$root/usr/local/bin/docker"
install -m 755 "$here/ci-checkout.sh" "$root/usr/local/bin/ci-checkout"
tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu -cf "$dest.tmp" .
mv "$dest.tmp" "$dest"
echo "ci job tools layer: $dest ($(( $(stat -c %s "$dest") / 1000000 )) MB)" >&2
