#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# iifname, wildcards and interfaces created after the load, with real
# traffic through the router, and nftables' forward chain as the oracle:
#
#   1. rules naming "vx*" and "vx-late", which does not exist yet, load;
#      the client's connections through veth-r-c meet only the policy;
#   2. a second client behind a veth "vx-late" created after the load and
#      attached then: the rules for its name and for "vx*" apply to it from
#      its first connection, and not to the first client;
#   3. a reload with the interface there gives it the same class;
#   4. the same rules in nftables (xct detached) decide the same
#      connections the same way.
# Each check prints its own ok / not ok line.
set -u
NS_PREFIX=ifn
source "$(dirname "$0")/lib.sh"

NS_L="xct-l-$TAG" # the client behind the interface created later
L4=10.231.3.2
R4L=10.231.3.1
P_WILD=7400 # accept iifname "vx*"
P_NAME=7401 # accept iifname "vx-late"
P_NEG=7402  # accept iifname != "vx*"
P_NONE=7403 # policy drop
failures=0
WORK=""

cleanup_more() {
	ip netns del "$NS_L" 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap 'cleanup_more; e2e_cleanup' EXIT

fail_setup() {
	echo "not ok iface_names_setup ($*)"
	exit 1
}

# connects NS PORT: "ok" when a TCP connection to the server's PORT is
# established within 2 s, "no" otherwise.
connects() {
	if tcp_peer_of "$1" "$S4:$2" 0 | grep -q .; then echo ok; else echo no; fi
}

# outcomes: the four ports from both clients, one word each.  The eight
# connections run at once: each blocked one waits out its timeout, and one
# after another those waits would add up.
outcomes() {
	local p pids=()
	for p in $P_WILD $P_NAME $P_NEG $P_NONE; do
		connects "$NS_C" "$p" >"$WORK/out.c.$p" &
		pids+=($!)
		connects "$NS_L" "$p" >"$WORK/out.l.$p" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for p in $P_WILD $P_NAME $P_NEG $P_NONE; do
		printf '%s:c=%s,l=%s ' "$p" "$(cat "$WORK/out.c.$p")" "$(cat "$WORK/out.l.$p")"
	done
}

[ "$(id -u)" = 0 ] || fail_setup "needs root"
have_xct || fail_setup "no $XCT: run make"
command -v socat >/dev/null || fail_setup "no socat"
command -v nft >/dev/null || fail_setup "no nft"
WORK=$(mktemp -d /tmp/xct-ifn.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
for p in $P_WILD $P_NAME $P_NEG $P_NONE; do
	peer_echo_tcp "$NS_S" "TCP-LISTEN:$p"
done
for p in $P_WILD $P_NAME $P_NEG $P_NONE; do
	poll 5 listening "$NS_S" tcp "$p" || fail_setup "listener $p"
done
ip netns add "$NS_L" || fail_setup "netns"
in_ns "$NS_L" ip link set lo up || fail_setup "lo"

cat >"$WORK/rules" <<EOF
policy drop
accept ct state established,related
accept iifname "vx*" tcp dport $P_WILD
accept iifname "vx-late" tcp dport $P_NAME
accept iifname != "vx*" tcp dport $P_NEG
EOF

# 1. Loads with no vx interface; the first client meets the rules it should.
xct_attach native || fail_setup "attach"
out=$(xct_r rules load "$WORK/rules" 2>&1)
check rules_naming_missing_interfaces_load $? "$out"
connects "$NS_C" $P_WILD >"$WORK/out.wild" &
pid_wild=$!
connects "$NS_C" $P_NEG >"$WORK/out.neg" &
wait "$pid_wild" $!
got=$(cat "$WORK/out.wild")$(cat "$WORK/out.neg")
check iifname_wildcard_not_for_other_names "$([ "$got" = nook ]; echo $?)" "got $got, want 'no' then 'ok'"

# 2. The interface appears after the load and is attached.
ip link add vx-late netns "$NS_R" type veth peer name vx-peer netns "$NS_L" ||
	fail_setup "veth"
in_ns "$NS_R" ip addr add "$R4L/24" dev vx-late &&
	in_ns "$NS_L" ip addr add "$L4/24" dev vx-peer &&
	in_ns "$NS_R" ip link set vx-late up &&
	in_ns "$NS_L" ip link set vx-peer up &&
	in_ns "$NS_L" ip route add default via "$R4L" || fail_setup "addresses"
in_ns "$NS_S" ip route add 10.231.3.0/24 via "$R4S" 2>/dev/null
xct_r attach --mode native vx-late >/dev/null || fail_setup "attach vx-late"
poll 5 in_ns "$NS_R" ping -c 1 -W 1 "$L4" || fail_setup "vx-late link"
want="$P_WILD:c=no,l=ok $P_NAME:c=no,l=ok $P_NEG:c=ok,l=no $P_NONE:c=no,l=no "
got=$(outcomes)
check iface_created_after_the_load_gets_its_rules "$([ "$got" = "$want" ]; echo $?)" \
	"got '$got', want '$want'"

# 3. A reload with vx-late there: the same.
xct_r rules load "$WORK/rules" >/dev/null || fail_setup "reload"
got=$(outcomes)
check reload_gives_the_existing_interface_the_same_class "$([ "$got" = "$want" ]; echo $?)" \
	"got '$got', want '$want'"

# 4. nftables on the same traffic, xct detached.
xct_detach >/dev/null || fail_setup "detach"
in_ns "$NS_R" nft -f - <<EOF || fail_setup "nft"
table inet xctifn {
	chain forward_filter {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "vx*" tcp dport $P_WILD accept
		iifname "vx-late" tcp dport $P_NAME accept
		iifname != "vx*" tcp dport $P_NEG accept
	}
}
EOF
nft_got=$(outcomes)
check nftables_decides_the_same "$([ "$nft_got" = "$got" ]; echo $?)" \
	"nftables '$nft_got', xct '$got'"
in_ns "$NS_R" nft delete table inet xctifn

echo "# $failures failed"
[ "$failures" = 0 ]
