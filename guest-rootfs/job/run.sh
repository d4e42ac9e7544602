#!/bin/sh
# The sample CI job: it runs in its own container with docker access (/var/run/docker.sock).
# It makes a file in its own filesystem, builds an image with `docker build`, starts a sibling from
# it with a bind mount of that file's folder, checks the sibling read the same bytes, and exits.
set -eu
dir="${JOB_DIR:-/work}"
echo "job: start on $(hostname)"
mkdir -p "$dir"
echo "made by the job in its own filesystem, pid $$" > "$dir/greeting.txt"

ctx=$(mktemp -d)
cp /bin/busybox "$ctx/busybox"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && echo 'built inside the guest' > /built.txt"]
DOCKERFILE
echo "job: docker build"
docker build -q -t concierge-sample-built:latest "$ctx"

# One sibling (containers are slow to start under emulation): it says what the build put in the
# image, then reads the job's file through the bind mount.
echo "job: sibling with a bind mount of $dir"
out=$(docker run --rm -v "$dir":/from-job:ro concierge-sample-built:latest sh -c 'cat /built.txt /from-job/greeting.txt')
echo "job: built image says: $(echo "$out" | head -1)"
seen=$(echo "$out" | tail -n +2)
if [ "$seen" != "$(cat "$dir/greeting.txt")" ]; then
  echo "job: FAILED: the sibling read '$seen'"
  exit 1
fi
echo "job: sibling read back: $seen"
echo "job: done"
