#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct on a router between a client and a server, with real traffic:
#
#   client (10.77.1.2, fd77:1::2) -- router [xct] -- server (10.77.2.2, fd77:2::2)
#
# Everything lives in network namespaces with names unique to this run (the
# interfaces too: they are made inside them) and a private BPF filesystem, so the demo neither sees nor disturbs an xct
# running on the host, and it removes everything it made when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

XCT=${XCT:-$PWD/build/xct}
ID="$$-$RANDOM"
C="xct-demo-c-$ID" R="xct-demo-r-$ID" S="xct-demo-s-$ID"
STATE=$(mktemp -d /tmp/xct-demo.XXXXXX)
PIN="$STATE/bpf/xct"

cleanup() {
	set +e
	ip netns exec "$R" "$XCT" --pin-path "$PIN" detach --all >/dev/null 2>&1
	for ns in "$C" "$R" "$S"; do ip netns del "$ns" 2>/dev/null; done
	umount "$STATE/bpf" 2>/dev/null
	rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces, BPF)" >&2; exit 1; }

mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf"

for ns in "$C" "$R" "$S"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
# Each veth is made inside its namespaces, never on the host: its names
# exist only there, so that any number of demos can run at once.
ip -n "$C" link add xd-c type veth peer name xd-rc netns "$R"
ip -n "$S" link add xd-s type veth peer name xd-rs netns "$R"

ip -n "$C" addr add 10.77.1.2/24 dev xd-c
ip -n "$C" addr add fd77:1::2/64 dev xd-c nodad
ip -n "$R" addr add 10.77.1.1/24 dev xd-rc
ip -n "$R" addr add fd77:1::1/64 dev xd-rc nodad
ip -n "$R" addr add 10.77.2.1/24 dev xd-rs
ip -n "$R" addr add fd77:2::1/64 dev xd-rs nodad
ip -n "$S" addr add 10.77.2.2/24 dev xd-s
ip -n "$S" addr add fd77:2::2/64 dev xd-s nodad
for pair in "$C xd-c" "$R xd-rc" "$R xd-rs" "$S xd-s"; do
	set -- $pair
	ip -n "$1" link set "$2" up
done
ip -n "$C" route add default via 10.77.1.1
ip -n "$C" -6 route add default via fd77:1::1
ip -n "$S" route add default via 10.77.2.1
ip -n "$S" -6 route add default via fd77:2::1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

echo "# xct attach xd-rc xd-rs   (on the router)"
ip netns exec "$R" "$XCT" --pin-path "$PIN" attach xd-rc xd-rs
echo

# A TCP service and a UDP echo on the server.
ip netns exec "$S" socat -u TCP-LISTEN:8080,reuseaddr,fork OPEN:/dev/null &
ip netns exec "$S" socat UDP6-RECVFROM:5353,fork EXEC:cat &
ip netns exec "$S" socat TCP6-LISTEN:8443,reuseaddr,fork OPEN:/dev/null &
for port in 8080 8443; do
	for _ in $(seq 50); do
		ip netns exec "$S" ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.1
	done
done

echo "# traffic: ping, a TCP transfer over IPv4, a UDP query and a TCP transfer over IPv6"
ip netns exec "$C" ping -c 3 -i 0.2 -q 10.77.2.2 | tail -n 2
head -c 200000 /dev/urandom | ip netns exec "$C" socat -u - TCP:10.77.2.2:8080
echo "hello" | ip netns exec "$C" socat -t 1 - UDP6:[fd77:2::2]:5353
head -c 50000 /dev/urandom | ip netns exec "$C" socat -u - TCP6:[fd77:2::2]:8443
# A connection left open, so that the table shows ESTABLISHED too.
ip netns exec "$C" socat -u EXEC:"sleep 30" TCP:10.77.2.2:8080 &
for _ in $(seq 50); do
	ip netns exec "$R" "$XCT" --pin-path "$PIN" ct list -p tcp --state ESTABLISHED 2>/dev/null |
		grep -q . && break
	sleep 0.1
done
echo

echo "# xct status"
ip netns exec "$R" "$XCT" --pin-path "$PIN" status
echo
echo "# xct ct list"
ip netns exec "$R" "$XCT" --pin-path "$PIN" ct list
echo
echo "# xct ct stats"
ip netns exec "$R" "$XCT" --pin-path "$PIN" ct stats
echo
echo "# xct ct stats --reasons"
ip netns exec "$R" "$XCT" --pin-path "$PIN" ct stats --reasons
echo

# The same router as a firewall: the services above stay open, new
# connections to anything else are refused or dropped, and the open
# connection carries on across the load.
cat >"$STATE/rules.xct" <<'EOF_RULES'
set services { 8080, 8443 }
policy drop
accept ct state established,related
drop ct state invalid
accept tcp dport @services
accept udp dport 5353
accept icmp type echo-request
accept icmpv6 type echo-request
reject tcp dport 25
EOF_RULES
echo "# cat rules.xct"
cat "$STATE/rules.xct"
echo "# xct rules load rules.xct"
ip netns exec "$R" "$XCT" --pin-path "$PIN" rules load "$STATE/rules.xct"
echo
echo "# traffic: TCP to 8080 (accepted), to 25 (rejected), to 9 (dropped)"
head -c 100000 /dev/urandom | ip netns exec "$C" socat -u - TCP:10.77.2.2:8080 && echo "8080: sent"
ip netns exec "$C" socat -u /dev/null TCP:10.77.2.2:25 2>&1 | sed 's/.*E /25: /' || true
ip netns exec "$C" socat -u /dev/null TCP:10.77.2.2:9,connect-timeout=1 2>&1 |
	sed 's/.*E /9: /' || true
echo
echo "# xct rules show"
ip netns exec "$R" "$XCT" --pin-path "$PIN" rules show
echo
echo "# a bad rules file is refused, and the running rules stay"
printf 'policy drop\naccept tcp dport 80,443\n' >"$STATE/bad.xct"
ip netns exec "$R" "$XCT" --pin-path "$PIN" rules load "$STATE/bad.xct" || true
kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true
