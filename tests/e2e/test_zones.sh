#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Conntrack zones with real traffic, nf_conntrack as the oracle.  Two
# clients with the same address reach the router through two interfaces,
# veth-za in zone 1 and veth-zb in zone 2, and send the same UDP 5-tuple
# (twice from A, once from B).  nf_conntrack, told the zones by nft's
# `ct zone set` at prerouting, and xct, attached with --zone, must each
# hold two connections of that tuple, one per zone, with the packets
# each zone saw; conntrack -L -w and xct ct list -w must show the same.
# Then what the zone reaches: xct status, ct get -w, ct save and restore,
# delete -w.
#
#   client A (veth-ca) ---- (veth-za, zone 1) router (veth-zb, zone 2) ---- (veth-cb) client B
#   10.231.5.2/24            10.231.5.1/24           10.231.5.1/24             10.231.5.2/24
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=zones
source "$(dirname "$0")/lib.sh"

fail_setup() {
	echo "not ok zones_setup ($*)"
	exit 1
}

setup() {
	ip netns add "$NS_C" && ip netns add "$NS_R" && ip netns add "$NS_S" || return 1
	ip link add veth-ca netns "$NS_C" type veth peer name veth-za netns "$NS_R" || return 1
	ip link add veth-cb netns "$NS_S" type veth peer name veth-zb netns "$NS_R" || return 1
	in_ns "$NS_C" ip addr add 10.231.5.2/24 dev veth-ca &&
		in_ns "$NS_S" ip addr add 10.231.5.2/24 dev veth-cb &&
		in_ns "$NS_R" ip addr add 10.231.5.1/24 dev veth-za &&
		in_ns "$NS_R" ip addr add 10.231.5.1/24 dev veth-zb noprefixroute || return 1
	local ns
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		in_ns "$ns" ip link set lo up || return 1
	done
	in_ns "$NS_C" ip link set veth-ca up && in_ns "$NS_S" ip link set veth-cb up &&
		in_ns "$NS_R" ip link set veth-za up && in_ns "$NS_R" ip link set veth-zb up ||
		return 1
	# Nothing listens: the router answers port unreachable, by veth-za.
	in_ns "$NS_R" nft -f - <<-'EOF2' || return 1
		table inet xctzones {
			chain pre {
				type filter hook prerouting priority raw; policy accept;
				iifname "veth-za" ct zone set 1
				iifname "veth-zb" ct zone set 2
			}
		}
	EOF2
	in_ns "$NS_R" sysctl -qw net.netfilter.nf_conntrack_acct=1 || return 1
	# B's datagrams come in by an interface the route back does not use.
	in_ns "$NS_R" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth-zb.rp_filter=0 ||
		return 1
	mount_pin_fs || return 1
	xct_r attach --mode native veth-za --zone 1 >/dev/null &&
		xct_r attach --mode native veth-zb --zone 2 >/dev/null || return 1
	XCT_ATTACHED=1
}

# send NS: one datagram 10.231.5.2:5000 -> 10.231.5.1:7000.
send() {
	in_ns "$1" "$PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.231.5.2", 5000))
s.sendto(b"zone", ("10.231.5.1", 7000))'
}

# Each tool's lines for the tuple, normalised to what both print alike:
# the tuples, the counters, the zone.
norm() {
	grep 'dport=7000' | sed -E -e 's/^[^=]* src=/src=/' -e 's/ (mark|use|id)=[0-9]+//g' \
		-e 's/ \[UNREPLIED\]//' | sort
}
lines_k() { ct_r -L "$@" 2>/dev/null | norm; }
lines_x() { xct_r ct list "$@" 2>/dev/null | norm; }
zone_count_is() { [ "$(lines_x -w "$1" | grep -c "packets=$2 ")" = 1 ]; }

setup || fail_setup "namespaces, nft or attach"
poll 5 in_ns "$NS_C" ping -c 1 -W 1 10.231.5.1 || fail_setup "client A cannot reach the router"

send "$NS_C" && send "$NS_C" && send "$NS_S" || fail_setup "send"
poll 3 zone_count_is 1 2
poll 3 zone_count_is 2 1

# t NAME CMD...: CMD's exit status is the result.
t() {
	local name=$1
	shift
	"$@"
	check "$name" $?
}
# same_as WHAT A B: A = B, or both shown.
same_as() {
	[ "$2" = "$3" ] && return 0
	echo "#   $1: conntrack:" $2 "| xct:" $3
	return 1
}

k_all=$(lines_k)
x_all=$(lines_x)
t "zones: xct holds the tuple twice, one per zone" test "$(grep -c . <<<"$x_all")" = 2
t "zones: nf_conntrack holds it twice too" test "$(grep -c . <<<"$k_all")" = 2
t "zones: ct list matches conntrack -L (tuples, packets, zone=)" same_as list "$k_all" "$x_all"
for z in 1 2; do
	t "zones: ct list -w $z matches conntrack -L -w $z" \
		same_as "-w $z" "$(lines_k -w $z)" "$(lines_x -w $z)"
done
t "zones: zone 1 saw two packets, zone 2 one" \
	test "$(lines_x -w 1 | grep -Eo '^[^ ]* [^ ]* [^ ]* [^ ]* packets=[0-9]+|zone=[0-9]+$' | xargs)" = \
	"src=10.231.5.2 dst=10.231.5.1 sport=5000 dport=7000 packets=2 zone=1"
t "zones: zone 0 holds nothing, as in nf_conntrack" \
	test -z "$(lines_x -w 0)" -a -z "$(lines_k -w 0)"

# Where interfaces are listed.
status=$(xct_r status)
t "zones: status shows each interface's zone" \
	grep -q "veth-za (.*, zone 1" <<<"$status"
t "zones: status shows zone 2 too" grep -q "veth-zb (.*, zone 2" <<<"$status"
t "zones: status -j has the zones" "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
assert sorted(i["zone"] for i in d["interfaces"]) == [1, 2]' <<<"$(xct_r -j status)"

# get looks in one zone: 0 without -w, as conntrack -G does.
get=(-p udp -s 10.231.5.2 -d 10.231.5.1 --sport 5000 --dport 7000)
xct_r ct get "${get[@]}" >/dev/null 2>&1
t "zones: ct get without -w finds nothing (zone 0)" test $? = 1
t "zones: ct get -w 2 finds zone 2's" \
	grep -q "packets=1 .*zone=2" <<<"$(xct_r ct get "${get[@]}" -w 2 2>/dev/null)"

# Saved and restored with their zones.
saved=$(xct_r ct save - 2>/dev/null)
t "zones: ct save writes zone= outside zone 0" test "$(grep -Ec '^ipv4 17 .* zone=[12] ' <<<"$saved")" = 2
xct_r ct flush >/dev/null 2>&1
xct_r ct restore - <<<"$saved" >/dev/null 2>&1
t "zones: ct restore brings both back in their zones" same_as restore "$x_all" "$(lines_x)"

# delete -w takes one zone's connection, as conntrack -D -w does.
ct_r -D -w 1 >/dev/null 2>&1
xct_r ct delete -w 1 >/dev/null 2>&1
t "zones: ct delete -w 1 leaves zone 2's, as conntrack -D -w 1" \
	same_as delete "$(lines_k)" "$(lines_x)"
t "zones: zone 2's is still there" test -n "$(lines_x -w 2)"

# xct up: [interface] zone = N, and a changed zone re-attaches.
WORK=$(mktemp -d /tmp/xct-zones.XXXXXX)
trap 'e2e_cleanup; rm -rf "$WORK"' EXIT
conf="$WORK/xct.conf"
rules="$WORK/rules.xct"
echo "policy accept" >"$rules"
write_conf() {
	printf 'pin-path = %s\nrules = %s\n[interface veth-za]\nzone = 1\n[interface veth-zb]\nzone = %s\n' \
		"$XCT_PIN" "$rules" "$1" >"$conf"
}
xct_r detach --all >/dev/null 2>&1
write_conf 2
in_ns "$NS_R" "$XCT" up --config "$conf" >/dev/null 2>&1
t "zones: xct up attaches in the file's zones" \
	grep -q "veth-zb (.*, zone 2" <<<"$(xct_r status)"
write_conf 4
in_ns "$NS_R" "$XCT" up --config "$conf" >/dev/null 2>&1
t "zones: xct up moves an interface to its new zone" \
	grep -q "veth-zb (.*, zone 4" <<<"$(xct_r status)"
send "$NS_S"
t "zones: its next connection is in the new zone" poll 3 zone_count_is 4 1
write_conf 70000
out=$(in_ns "$NS_R" "$XCT" up --config "$conf" 2>&1)
t "zones: a bad zone in the file is refused at FILE:LINE:COLUMN" \
	grep -q "xct.conf:6:8: '70000' is not a zone" <<<"$out"

# A zone outside 0..65535 is bad usage.
xct_r attach veth-za --zone 65536 >/dev/null 2>&1
t "zones: attach --zone 65536 exits 2" test $? = 2

exit "$((failures > 0))"
