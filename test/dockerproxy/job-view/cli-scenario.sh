#!/bin/sh
# One scenario for the docker CLIs (28.x and 20.10) and docker-compose, run twice: on the host straight at
# dockerd, and inside a job against its own socket. $SCRATCH is a directory of the job's own filesystem
# (the same path on the host for the direct run), $M the run's marker, $IMG a busybox image.
# Prints "### <section>" lines, each followed by what the clients read back.
set -e
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH/a" "$SCRATCH/site"
echo from-scratch > "$SCRATCH/a/f"
sec() { echo "### $1"; }
for v in 28 20; do
  if [ "$v" = 28 ]; then D=/usr/local/bin/docker; else D=/usr/bin/docker; fi
  n="$M-cli$v"
  $D volume create --label "v=$v" "$n-vol" >/dev/null
  $D network create --label "n=$v" "$n-net" >/dev/null
  $D create --name "$n" --label "app=$v" -v "$SCRATCH/a:/data:ro" --mount "type=bind,source=$SCRATCH/site,target=/site" \
    -v "$n-vol:/vol" --network "$n-net" "$IMG" sleep 120 >/dev/null
  $D start "$n" >/dev/null
  sec "cli$v container"; $D inspect "$n"
  sec "cli$v volume"; $D volume inspect "$n-vol"
  sec "cli$v network"; $D network inspect "$n-net"
  sec "cli$v ps"; $D ps -a --filter "label=app=$v" --format '{{.Names}} {{.Labels}}'
  # dockerd lists a container's mounts in no fixed order: one a line, sorted.
  sec "cli$v ps mounts"; $D ps -a --filter "label=app=$v" --format '{{.Mounts}}' | tr , '\n' | sort
  sec "cli$v volume ls"; $D volume ls --filter "label=v=$v" --format '{{.Name}} {{.Labels}}'
  sec "cli$v network ls"; $D network ls --filter "label=n=$v" --format '{{.Name}} {{.Labels}}'
  sec "cli$v read"; $D exec "$n" cat /data/f
  sec "cli$v write"; $D exec "$n" sh -c 'echo from-sibling > /site/g'; cat "$SCRATCH/site/g"
  $D rm -f "$n" >/dev/null
  $D volume rm "$n-vol" >/dev/null
  $D network rm "$n-net" >/dev/null
done
cd "$SCRATCH"
cat > docker-compose.yml <<YAML
version: "2.4"
services:
  web:
    image: $IMG
    command: sleep 120
    labels: {app: compose}
    volumes: ["./site:/site:ro", "data:/data"]
volumes:
  data:
    labels: {v: compose}
networks:
  default:
    labels: {n: compose}
YAML
p="$M-compose"
docker-compose -p "$p" up -d 2>/dev/null
sec "compose container"; docker inspect "${p}_web_1"
sec "compose volume"; docker volume inspect "${p}_data"
sec "compose network"; docker network inspect "${p}_default"
# compose reads the container back to decide whether to recreate it: the same answer, nothing to do.
sec "compose up again"; docker-compose -p "$p" up -d 2>&1
docker-compose -p "$p" down -v 2>/dev/null
sec "done"
