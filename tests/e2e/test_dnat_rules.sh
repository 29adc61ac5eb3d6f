#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What the filter rules see of a dnat connection: its translated (inner)
# destination, as nftables' forward chain sees it after prerouting's dnat.
#
# The router forwards three ports of its client-side address to the
# server.  Filter rules name the public destination of one (a drop that
# must never match) and the inner destinations of all three (an accept, a
# reject, an accept for UDP); one rule on the public port alone comes after
# the reject and must never be reached.  The same traffic runs through
# xct, then through nftables (dnat at prerouting, the same rules in a
# forward chain): the connections must fare alike (the first TCP and the
# UDP exchange pass, the second TCP is refused) and every rule must count
# the packets its nft twin counts.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P_PUB_OK=8080 # forwarded to P_OK, admitted by the inner address
P_OK=7080
P_PUB_REJ=8081 # forwarded to P_REJ, refused by the inner address
P_REJ=7081
P_PUB_UDP=8053
P_UDP=7053
WORK=""
failures=0

dnat_rules_cleanup() {
	kill_in_ns "$NS_C" "$NS_S"
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap dnat_rules_cleanup EXIT

fail_setup() {
	echo "not ok dnat_rules_setup ($*)"
	exit 1
}

check() {
	result "$1" "$2" "${@:3}"
	[ "$2" = 0 ] || failures=$((failures + 1))
}

# The filter rules, one per line, in xct's words and in nft's, in the
# same order.
xct_filter() {
	cat <<-EOF
		accept ct state established,related
		drop tcp daddr $R4C dport $P_PUB_OK
		accept tcp daddr $S4 dport $P_OK
		reject tcp daddr $S4 dport $P_REJ
		accept tcp dport $P_PUB_REJ
		accept udp daddr $S4 dport $P_UDP
	EOF
}

nft_filter() {
	cat <<-EOF
		ct state established,related counter accept
		ip daddr $R4C tcp dport $P_PUB_OK counter drop
		ip daddr $S4 tcp dport $P_OK counter accept
		ip daddr $S4 tcp dport $P_REJ counter reject with tcp reset
		tcp dport $P_PUB_REJ counter accept
		ip daddr $S4 udp dport $P_UDP counter accept
	EOF
}

# traffic SPORT: what became of each connection, "ok" or "refused".
traffic() {
	local sp=$1 a b c
	a=$(tcp_peer_of "$NS_C" "$R4C:$P_PUB_OK" "$sp")
	[ "$a" = "$C4 $sp" ] && a=ok || a="failed($a)"
	if in_ns "$NS_C" socat -T 3 - "TCP:$R4C:$P_PUB_REJ,sourceport=$((sp + 1)),connect-timeout=3" \
		</dev/null 2>&1 | grep -q "Connection refused"; then
		b=refused
	else
		b=not-refused
	fi
	c=$(udp_peer_of "$NS_C" "$R4C:$P_PUB_UDP" $((sp + 2)))
	[ "$c" = "$C4 $((sp + 2))" ] && c=ok || c="failed($c)"
	echo "tcp-$P_PUB_OK=$a tcp-$P_PUB_REJ=$b udp-$P_PUB_UDP=$c"
}

# The packets each filter rule counted, in order, from xct rules show.
xct_rule_packets() {
	xct_r -j rules show | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
rules = sorted((r for r in d if not r["rule"].startswith("policy")), key=lambda r: r["line"])
print(" ".join(str(r["packets"]) for r in rules[:int(sys.argv[1])]))
' "$(xct_filter | wc -l)"
}

nft_rule_packets() {
	in_ns "$NS_R" nft list chain ip xctref forward_filter | grep -o 'packets [0-9]*' | awk '{ print $2 }' |
		paste -sd' '
}

have_xct || fail_setup "no xct binary at $XCT"
WORK=$(mktemp -d /tmp/xct-dnat-rules.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_OK"
peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_REJ"
peer_echo_udp "$NS_S" "$P_UDP"
poll 5 listening "$NS_S" tcp "$P_OK" && poll 5 listening "$NS_S" tcp "$P_REJ" &&
	poll 5 listening "$NS_S" udp "$P_UDP" || fail_setup "servers"

{
	echo "policy drop"
	xct_filter
	echo "dnat to $S4:$P_OK iif veth-r-c tcp dport $P_PUB_OK"
	echo "dnat to $S4:$P_REJ iif veth-r-c tcp dport $P_PUB_REJ"
	echo "dnat to $S4:$P_UDP iif veth-r-c udp dport $P_PUB_UDP"
} >"$WORK/rules.xct"

for mode in native tc; do
	[ "$XCT_ATTACHED" = 1 ] && xct_detach >/dev/null
	xct_attach "$mode" >/dev/null || fail_setup "attach --mode $mode"
	xct_r rules load "$WORK/rules.xct" >/dev/null || fail_setup "rules load"
	sport=$([ "$mode" = native ] && echo 42000 || echo 43000)
	xct_seen=$(traffic "$sport")
	xct_counts=$(xct_rule_packets)
	eval "xct_seen_$mode=\"\$xct_seen\" xct_counts_$mode=\"\$xct_counts\""
done
xct_detach >/dev/null

# The reference: nftables alone on the same traffic.
{
	echo "table ip xctref {"
	echo "  chain pre { type nat hook prerouting priority dstnat; policy accept;"
	echo "    iifname veth-r-c tcp dport $P_PUB_OK dnat to $S4:$P_OK"
	echo "    iifname veth-r-c tcp dport $P_PUB_REJ dnat to $S4:$P_REJ"
	echo "    iifname veth-r-c udp dport $P_PUB_UDP dnat to $S4:$P_UDP"
	echo "  }"
	echo "  chain forward_filter { type filter hook forward priority 0; policy drop;"
	nft_filter | sed 's/^/    /'
	echo "  }"
	echo "}"
} >"$WORK/ref.nft"
in_ns "$NS_R" nft -f "$WORK/ref.nft" || fail_setup "nft reference"
nft_seen=$(traffic 44000)
nft_counts=$(nft_rule_packets)

want="tcp-$P_PUB_OK=ok tcp-$P_PUB_REJ=refused udp-$P_PUB_UDP=ok"
[ "$nft_seen" = "$want" ]
check dnat_rules_nft_reference $? "nft: $nft_seen"
for mode in native tc; do
	eval "seen=\$xct_seen_$mode counts=\$xct_counts_$mode"
	[ "$seen" = "$nft_seen" ]
	check "dnat_rules_outcome_$mode" $? "xct: $seen; nft: $nft_seen"
	# Each rule counts what its nft twin counts: the public drop and the
	# public port's accept nothing, the inner destinations their new
	# connections' first packets; the established rule the rest (how many
	# TCP segments those are depends on the moment each end closes).
	[ "${counts#* }" = "${nft_counts#* }" ] && [ "${counts%% *}" -gt 0 ] &&
		[ "${nft_counts%% *}" -gt 0 ]
	check "dnat_rules_counters_$mode" $? "packets per rule, xct: $counts; nft: $nft_counts"
done

[ "$failures" -eq 0 ]
