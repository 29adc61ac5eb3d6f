#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Hairpin NAT: a client on the inner server's own network reaches the
# server through the router's forwarded port.
#
#   client (10.231.1.2) -- router (10.231.1.1: dnat 8080 -> 10.231.2.2:7080)
#                                  (10.231.2.1) --+-- br0: server (10.231.2.2)
#                                                 +-- inside client (10.231.2.5)
#
# The server and the inside client share a bridge with the router's inside
# interface.  The inside client connects to the router's public address;
# the router forwards the connection to the server, back out of the
# interface it came in by, and masquerades it (a rule on the inner tuple),
# so that the server answers the router rather than the client directly,
# which would drop an answer from the server's own address.
#
#   1. TCP and UDP from the inside client reach the server, which sees the
#      router's inside address, and the answers come back from the public
#      address; in XDP (native) and TC modes;
#   2. the outside client's connections are forwarded and not masqueraded
#      (the server sees its address);
#   3. `xct ct list` shows the inside client's connection with both
#      translations, as conntrack does (reply from the server to the
#      router), under --src-nat and --dst-nat, with both JSON status bits;
#   4. the oracle: the same traffic through nftables' dnat and masquerade
#      in the router, and `conntrack -L`'s tuples equal xct's;
#   5. flushing the table frees every binding and claim.
# Each check prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_H="xct-h-$TAG"
H4=10.231.2.5
P_PUB_TCP=8080
P_PUB_UDP=8053
P_TCP=7080
P_UDP=7053
WORK=""

hairpin_cleanup() {
	kill_in_ns "$NS_C" "$NS_S" "$NS_H"
	ip netns del "$NS_H" 2>/dev/null
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap hairpin_cleanup EXIT

fail_setup() {
	echo "not ok hairpin_setup ($*)"
	exit 1
}

# The server's address moves from its veth to a bridge that the inside
# client joins.
setup_lan() {
	ip netns add "$NS_H" || return 1
	in_ns "$NS_H" ip link set lo up || return 1
	in_ns "$NS_S" ip link add br0 type bridge &&
		in_ns "$NS_S" ip addr flush dev veth-s &&
		in_ns "$NS_S" ip link set veth-s master br0 &&
		in_ns "$NS_S" ip link set br0 up &&
		in_ns "$NS_S" ip addr add "$S4/24" dev br0 &&
		in_ns "$NS_S" ip route add default via "$R4S" || return 1
	ip link add veth-h netns "$NS_H" type veth peer name veth-s-h netns "$NS_S" || return 1
	in_ns "$NS_S" ip link set veth-s-h master br0 &&
		in_ns "$NS_S" ip link set veth-s-h up &&
		in_ns "$NS_H" ip addr add "$H4/24" dev veth-h &&
		in_ns "$NS_H" ip link set veth-h up &&
		in_ns "$NS_H" ip route add default via "$R4S" || return 1
	poll 10 in_ns "$NS_H" ping -c 1 -W 1 "$S4" &&
		poll 10 in_ns "$NS_H" ping -c 1 -W 1 "$R4C" &&
		poll 10 in_ns "$NS_C" ping -c 1 -W 1 "$S4"
}

start_servers() {
	peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_TCP"
	peer_echo_udp "$NS_S" "$P_UDP"
	poll 5 listening "$NS_S" tcp "$P_TCP" &&
		poll 5 listening "$NS_S" udp "$P_UDP"
}

# What the server saw of a connection from NS to the public port.
tcp_peer() {
	tcp_peer_of "$1" "$R4C:$P_PUB_TCP" "$2"
}

udp_peer() {
	udp_peer_of "$1" "$R4C:$P_PUB_UDP" "$2"
}

# check_hairpin MODE SPORT: the inside client's connections reach the
# server as the router's; the outside client's as its own.
check_hairpin() {
	local mode=$1 sport=$2 out
	out=$(tcp_peer "$NS_H" "$sport")
	[ "$out" = "$R4S $sport" ]
	result "hairpin_tcp_$mode" $? "server saw '$out'"
	out=$(udp_peer "$NS_H" $((sport + 1)))
	[ "$out" = "$R4S $((sport + 1))" ]
	result "hairpin_udp_$mode" $? "server saw '$out'"
	out=$(tcp_peer "$NS_C" $((sport + 2)))
	[ "$out" = "$C4 $((sport + 2))" ]
	result "hairpin_outside_not_masqueraded_$mode" $? "server saw '$out'"
}

check_ct_list() {
	has_tuples hairpin_ct_list_reply "$R4C" "$(xct_r ct list -f ipv4 2>/dev/null)" \
		"tcp src=$H4 dst=$R4C sport=41001 dport=$P_PUB_TCP -> src=$S4 dst=$R4S sport=$P_TCP dport=41001" \
		"udp src=$H4 dst=$R4C sport=41002 dport=$P_PUB_UDP -> src=$S4 dst=$R4S sport=$P_UDP dport=41002" \
		"tcp src=$C4 dst=$R4C sport=41003 dport=$P_PUB_TCP -> src=$S4 dst=$C4 sport=$P_TCP dport=41003"
	xct_r ct list -p tcp --src-nat -s "$H4" 2>/dev/null | grep -q "dport=$P_PUB_TCP" &&
		xct_r ct list -p tcp --dst-nat -s "$H4" 2>/dev/null | grep -q "dport=$P_PUB_TCP" &&
		! xct_r ct list -p tcp --src-nat -s "$C4" 2>/dev/null | grep -q .
	result hairpin_ct_list_filters $?
	xct_r -j ct list -p tcp -s "$H4" 2>/dev/null | grep -q '"SRC_NAT","DST_NAT"'
	result hairpin_ct_list_status $? "$(xct_r -j ct list -p tcp -s "$H4" 2>/dev/null)"
}

# Entries in a pinned map of xct's.
map_entries() {
	bpftool -j map dump pinned "$XCT_PIN/$1" 2>/dev/null |
		"$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

check_flush_frees() {
	local before after_n after_r
	before="$(map_entries xct_nat) $(map_entries xct_nat_rev)"
	xct_r ct flush >/dev/null 2>&1
	after_n=$(map_entries xct_nat)
	after_r=$(map_entries xct_nat_rev)
	# Three connections: the outside one has one binding and claim, each
	# hairpin one two of each.
	[ "$before" = "5 5" ] && [ "$after_n" = 0 ] && [ "$after_r" = 0 ]
	result hairpin_flush_frees_bindings $? "before: $before, after: $after_n $after_r"
}

# The same traffic through nf_nat; its tuples must equal xct's.
check_oracle() {
	local xct_t=$1 nf_t
	in_ns "$NS_R" nft -f - <<-EOF || { result hairpin_oracle_tuples 1 "nft"; return; }
		table ip xcthairpin {
			chain pre {
				type nat hook prerouting priority dstnat; policy accept;
				ip daddr $R4C tcp dport $P_PUB_TCP dnat to $S4:$P_TCP
				ip daddr $R4C udp dport $P_PUB_UDP dnat to $S4:$P_UDP
			}
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "veth-r-s" ip saddr 10.231.2.0/24 ip daddr $S4 masquerade
			}
		}
	EOF
	check_hairpin nf_nat 41001 >/dev/null
	nf_t=$(ct_r -L -f ipv4 2>/dev/null | tuples_to "$R4C")
	same_tuples hairpin_oracle_tuples 3 "$xct_t" "$nf_t"
	in_ns "$NS_R" nft delete table ip xcthairpin
	ct_r -F >/dev/null 2>&1
}

# Main -----------------------------------------------------------------

setup_topology || fail_setup topology
setup_lan || fail_setup lan
start_servers || fail_setup servers
mount_pin_fs || fail_setup bpffs
WORK=$(mktemp -d /tmp/xct-hairpin.XXXXXX) || fail_setup workdir
cat >"$WORK/hairpin.xct" <<EOF
dnat to $S4:$P_TCP tcp daddr $R4C dport $P_PUB_TCP
dnat to $S4:$P_UDP udp daddr $R4C dport $P_PUB_UDP
masquerade oif veth-r-s ip saddr 10.231.2.0/24 daddr $S4
EOF

XCT_TUPLES=""
for mode in native tc; do
	xct_attach "$mode" || fail_setup "attach $mode"
	xct_r rules load "$WORK/hairpin.xct" >/dev/null || fail_setup "rules load"
	if [ "$mode" = native ]; then
		check_hairpin "$mode" 41001
		XCT_TUPLES=$(xct_r ct list -f ipv4 2>/dev/null | tuples_to "$R4C")
		check_ct_list
		check_flush_frees
	else
		check_hairpin "$mode" 42001
	fi
	xct_detach || fail_setup detach
done
check_oracle "$XCT_TUPLES"
