#!/bin/sh
# The project's CI: build the app image FROM the registry's busybox, push it, bring the compose project
# up (front calls web by name; the job calls front's published port), then remove everything.
# Each step prints one "ci: <guest uptime> s: <what>" line; any failure exits non-zero.
set -eu
step() { echo "ci: $(cut -d' ' -f1 /proc/uptime) s: $*"; }
# Quiet commands, whose output is shown when they fail.
quiet() { out=$("$@" 2>&1) || { status=$?; echo "$out" >&2; echo "ci: FAILED ($status): $*" >&2; exit "$status"; }; }
registry=registry.test:5000
export APP_IMAGE="$registry/ci/app:$(git rev-parse --short HEAD)"

echo "$CI_REGISTRY_PASSWORD" | quiet docker login -u "$CI_REGISTRY_USER" --password-stdin "$registry"
step "logged in to $registry as $CI_REGISTRY_USER"
quiet docker build -t "$APP_IMAGE" .
step "built $APP_IMAGE FROM $(sed -n 's/^FROM //p' Dockerfile)"
quiet docker push "$APP_IMAGE"
step "pushed $APP_IMAGE"

quiet docker-compose -p ci up -d
# One Python start less (slow under emulation): the project's services and network from the docker CLI.
project=label=com.docker.compose.project=ci
step "compose up: services $(docker ps --filter "$project" --format '{{.Label "com.docker.compose.service"}}' | sort | tr '\n' ' ')on network $(docker network ls --filter "$project" --format '{{.Name}}')"
answer=""
for _ in $(seq 1 30); do answer=$(wget -qO- http://127.0.0.1:8088/cgi-bin/greet 2>/dev/null) && break; sleep 1; done
[ "$answer" = "front asked web: $(cat www/hello.txt)" ] || { echo "ci: FAILED: the published port answered '$answer'" >&2; exit 1; }
step "published port 8088 answered: $answer"

quiet docker-compose -p ci down --rmi all --volumes
quiet docker rmi "$registry/ci/busybox:1"
left=$(docker ps -aq; docker network ls -q --filter "$project"; docker images -q)
[ -z "$left" ] || { echo "ci: FAILED: left behind: $left" >&2; exit 1; }
quiet docker logout "$registry"
step "removed everything: no container, network or image left"
