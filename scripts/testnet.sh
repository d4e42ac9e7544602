#!/usr/bin/env bash
# A closed test network: a network namespace holding a bridge, a tap device for qemu on that bridge
# and the "test host" address on the bridge. The namespace has no other interface and no route out,
# so nothing the guest or the test host sends can leave it. The test host's services (dnsmasq, an
# HTTP server, a registry) run inside the namespace: `ip netns exec <name> <command>`; so does qemu
# (`-netdev tap,id=net0,ifname=<tap>,script=no,downscript=no -device virtio-net-pci,netdev=net0`).
#
# Usage: testnet.sh up <name> [<host address/prefix>]   (default 10.88.0.1/24; prints name=value lines)
#        testnet.sh peer <name> <peer>   a namespace <peer> whose eth0 is a veth on the bridge (a guest
#                                        without qemu: host-side tests of what concierge does with eth0)
#        testnet.sh down <name> [<peer>...]   (removes the namespaces and all in them; no error if absent)
# Names: letters, digits and - _ . (at most 64); the tests put their branch name and pid in it.
set -euo pipefail
bridge=br0 tap=tap0
usage() { echo "usage: testnet.sh up <name> [<address/prefix>] | down <name>" >&2; exit 2; }
[ $# -ge 2 ] || usage
name=$2
[[ "$name" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || { echo "testnet.sh: bad namespace name '$name'" >&2; exit 2; }

case "$1" in
  up)
    host=${3:-10.88.0.1/24}
    ip netns add "$name"
    # Anything failing from here leaves nothing behind.
    trap 'ip netns delete "$name" 2>/dev/null || true' ERR
    ip -n "$name" link set lo up
    ip -n "$name" link add "$bridge" type bridge
    ip -n "$name" tuntap add dev "$tap" mode tap
    ip -n "$name" link set "$tap" master "$bridge"
    ip -n "$name" addr add "$host" dev "$bridge"
    ip -n "$name" link set "$tap" up
    ip -n "$name" link set "$bridge" up
    echo "netns=$name"
    echo "bridge=$bridge"
    echo "tap=$tap"
    echo "host=$host"
    ;;
  peer)
    peer=${3:?peer namespace name}
    [[ "$peer" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || { echo "testnet.sh: bad namespace name '$peer'" >&2; exit 2; }
    ip netns add "$peer"
    trap 'ip netns delete "$peer" 2>/dev/null || true' ERR
    # Both ends are made inside the test namespace (no interface ever appears in the caller's).
    port=vp$(ip -n "$name" -o link | wc -l)
    ip -n "$name" link add "$port" type veth peer name eth0 netns "$peer"
    ip -n "$name" link set "$port" master "$bridge" up
    echo "peer=$peer"
    ;;
  down)
    # Deleting a namespace removes its interfaces; processes still inside keep only their sockets.
    for ns in "${@:3}" "$name"; do ip netns delete "$ns" 2>/dev/null || true; done
    ;;
  *) usage ;;
esac
