#!/bin/sh
# The network CI job: run with `network: "host"` and docker access on a guest whose eth0 reaches a
# test host that serves DNS for the zone `test` (testhost.test) and a file over HTTP on port 8080.
# Each step prints one "net:" line; any failure exits non-zero.
#   net.sh              the job's own view: eth0, resolv.conf, a name resolved, a file fetched by name
#   net.sh docker       and dockerd's networks: a sibling on the default bridge reaches the test host
#                       by name; on a user-defined network a sibling reaches another by its name, and
#                       the job reaches that sibling's published port
set -eu
host=${TEST_HOST:-testhost.test}
echo "net: eth0 $(ip -o -4 addr show dev eth0 | awk '{print $4}') mtu $(cat /sys/class/net/eth0/mtu)"
echo "net: route $(ip route | tr '\n' ';')"
echo "net: resolv.conf $(grep nameserver /etc/resolv.conf | tr '\n' ' ')"
echo "net: $host is $(nslookup "$host" | awk '/^Address/ && !/#/ {print $2}' | tail -1)"
echo "net: fetched $(wget -qO- "http://$host:8080/hello.txt")"
[ "${1:-}" = docker ] || { echo "net: done"; exit 0; }

ctx=$(mktemp -d)
cp /bin/busybox "$ctx/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > "$ctx/Dockerfile"
docker build -q -t concierge-net-box:latest "$ctx" >/dev/null
echo "net: sibling on the default bridge fetched $(docker run --rm concierge-net-box:latest wget -qO- "http://$host:8080/hello.txt")"
docker network create concierge-net-ci >/dev/null
docker run -d --name concierge-net-web --network concierge-net-ci -p 8081:80 concierge-net-box:latest \
  sh -c 'mkdir -p /www && echo "served by the web sibling" > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
echo "net: sibling reached web by name: $(docker run --rm --network concierge-net-ci concierge-net-box:latest sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://concierge-net-web/ && exit 0; sleep 1; done; exit 1')"
echo "net: job reached the published port: $(wget -qO- http://127.0.0.1:8081/)"
docker rm -f concierge-net-web >/dev/null
docker network rm concierge-net-ci >/dev/null
echo "net: done"
