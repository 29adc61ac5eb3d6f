#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The evasion suite: header tricks an attacker would try against a
# firewall, sent through two identical routers, one with xct and one with
# nftables + nf_conntrack (an inet table, forward hook), with the same
# ruleset in each:
#
#   open:   policy accept; drop tcp dport 22
#   closed: policy drop; accept ct state established,related;
#           accept tcp dport 8080
#
#   client-x (veth-c) -- (veth-r-c) router-x: xct  (veth-r-s) -- (veth-s) server-x
#   client-n (veth-c) -- (veth-r-c) router-n: nft  (veth-r-s) -- (veth-s) server-n
#
# Both chains have the addresses of lib.sh, so the two routers see the
# same packets (only the MAC addresses differ).  VLAN-tagged frames (one
# tag, QinQ, three tags) arrive on the router's port itself: this kernel
# has no 802.1Q devices (CONFIG_VLAN_8021Q off) and its bridge no VLAN
# filtering, so no router here can take tagged traffic in; the VLAN cases
# check that xct's parsing of the tags opens no way through either.
#
# evasion_run.py crafts the packets (evasion_cases.py lists the tricks and
# what each must give) and counts, at each server, the frames that arrive
# and the datagrams that reach its stack.  A case is ok when xct lets
# through nothing nftables blocks and drops nothing legitimate nftables
# passes, or where xct is deliberately stricter (docs/SECURITY.md), when
# it is as strict as it says.  Every case prints one ok / not ok line per
# mode and ruleset, followed by the reasons xct counted for it (`xct ct
# stats --reasons`).
#
# Usage: test_evasion.sh [CASE...]    (or EVASION_CASES="CASE ...");
#        EVASION_MODES="native tc" (the default) picks the modes.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CASES=${*:-${EVASION_CASES:-}}
MODES=${EVASION_MODES:-native tc}

NS_XC="xct-evc-x-$TAG" NS_XR="xct-evr-x-$TAG" NS_XS="xct-evs-x-$TAG"
NS_NC="xct-evc-n-$TAG" NS_NR="xct-evr-n-$TAG" NS_NS="xct-evs-n-$TAG"

fail_setup() {
	echo "not ok evasion_setup ($*)"
	exit 1
}

evasion_cleanup() {
	local ns
	kill_in_ns "$NS_XC" "$NS_XS" "$NS_NC" "$NS_NS"
	for ns in "$NS_NC" "$NS_NR" "$NS_NS"; do
		ip netns del "$ns" 2>/dev/null
	done
	e2e_cleanup
}
trap evasion_cleanup EXIT

# chain C R S: one client -> router -> server chain (lib.sh's topology),
# with a second server address (the target of spoofed ICMP errors) and
# segment routing headers accepted at the server.
chain() {
	# shellcheck disable=SC2034 # setup_topology reads them
	NS_C=$1 NS_R=$2 NS_S=$3
	setup_topology || return 1
	in_ns "$NS_S" ip addr add 10.231.2.3/24 dev veth-s &&
		in_ns "$NS_S" sysctl -qw net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.veth-s.seg6_enabled=1
}

NFT_OPEN="policy accept;
		ct state invalid counter
		tcp dport 22 drop"
NFT_CLOSED="policy drop;
		ct state established,related accept
		tcp dport 8080 accept"
XCT_OPEN="policy accept
drop tcp dport 22"
XCT_CLOSED="policy drop
accept ct state established,related
accept tcp dport 8080"

# rules open|closed: the ruleset in both routers, both tables empty.
rules() {
	local nft xct
	if [ "$1" = open ]; then nft=$NFT_OPEN xct=$XCT_OPEN; else nft=$NFT_CLOSED xct=$XCT_CLOSED; fi
	in_ns "$NS_NR" nft -f - <<-EOF || return 1
		table inet evasion {}
		delete table inet evasion
		table inet evasion {
			chain evfw {
				type filter hook forward priority 0; $nft
			}
		}
	EOF
	printf '%s\n' "$xct" >"$WORK/$1.xct"
	xct_r rules load "$WORK/$1.xct" >/dev/null || return 1
	in_ns "$NS_NR" conntrack -F >/dev/null 2>&1
	in_ns "$NS_NR" conntrack -F -f ipv6 >/dev/null 2>&1
	xct_r ct flush >/dev/null 2>&1
}

WORK=$(mktemp -d /tmp/xct-e2e-evasion.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; evasion_cleanup' EXIT
have_xct || fail_setup "$XCT not built"
"$PYTHON" -c 'import scapy.all' 2>/dev/null || fail_setup "python3-scapy missing"
chain "$NS_NC" "$NS_NR" "$NS_NS" || fail_setup "nftables chain"
chain "$NS_XC" "$NS_XR" "$NS_XS" || fail_setup "xct chain"
mount_pin_fs || fail_setup "bpffs for xct pins"

export EVASION_XCT="ip netns exec $NS_XR $XCT --pin-path $XCT_PIN"
run=0
rc=0
for mode in $MODES; do
	xct_attach "$mode" >/dev/null || fail_setup "xct attach --mode $mode"
	for rs in open closed; do
		rules "$rs" || fail_setup "rules $rs"
		# shellcheck disable=SC2086 # one case name per word
		"$PYTHON" "$E2E_DIR/evasion_run.py" "$rs" "$mode" "$run" \
			"$NS_XC,$NS_XR,$NS_XS" "$NS_NC,$NS_NR,$NS_NS" $CASES || rc=1
		run=$((run + 1))
	done
	xct_detach >/dev/null || fail_setup "xct detach"
done
exit $rc
