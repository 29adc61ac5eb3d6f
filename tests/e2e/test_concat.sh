#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Concatenations against nftables' own: one ruleset with a named set of
# ipv4_addr . inet_service tuples, one of ipv6_addr . inet_service, a set
# of port pairs (tcp sport . tcp dport), an anonymous set with '!=' and a
# verdict map keyed by a concatenation, written once for xct and once for
# nft (an inet table's input chain), on the router's own services.  The
# same connections run through xct, then through nftables alone, before
# and after a tuple is added and another deleted at run time (xct set
# add|del, nft add|delete element); each must fare alike (answered,
# refused with a RST, or dropped), and the expected outcome of each is
# checked too, so that a ruleset neither decides is no pass.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=concat
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=""
failures=0

concat_cleanup() {
	in_ns "$NS_R" nft delete table inet xctconcat 2>/dev/null
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap concat_cleanup EXIT

fail_setup() {
	echo "not ok concat_setup ($*)"
	exit 1
}

check() {
	result "$1" "$2" "${@:3}"
	[ "$2" = 0 ] || failures=$((failures + 1))
}

TCP_PORTS="7201 7202 7203 7204 7205 7206 7207"

xct_rules() {
	cat <<-EOF
		set allowed { type ipv4_addr . inet_service; elements = { $C4 . 7201, $C4 . 7202 } }
		set allowed6 { type ipv6_addr . inet_service; elements = { $C6 . 7201 } }
		set pairs { type inet_service . inet_service; elements = { 41001 . 7203 } }
		policy drop
		accept ct state established,related
		accept ip saddr . tcp dport @allowed
		accept ip6 saddr . tcp dport @allowed6
		accept tcp sport . tcp dport @pairs
		drop ip saddr . tcp dport != { $C4 . 7204, $C4 . 7205 } tcp dport 7204-7206
		ip saddr . tcp dport vmap { $C4 . 7204 : accept, $C4 . 7205 : reject }
		accept icmp type echo-request
	EOF
}

nft_rules() {
	cat <<-EOF
		table inet xctconcat {
		    set allowed { type ipv4_addr . inet_service; elements = { $C4 . 7201, $C4 . 7202 }; }
		    set allowed6 { type ipv6_addr . inet_service; elements = { $C6 . 7201 }; }
		    set pairs { type inet_service . inet_service; elements = { 41001 . 7203 }; }
		    chain rej {
		        reject with tcp reset
		    }
		    chain input {
		        type filter hook input priority 0; policy drop;
		        ct state established,related accept
		        ip saddr . tcp dport @allowed accept
		        ip6 saddr . tcp dport @allowed6 accept
		        tcp sport . tcp dport @pairs accept
		        ip saddr . tcp dport != { $C4 . 7204, $C4 . 7205 } tcp dport 7204-7206 drop
		        ip saddr . tcp dport vmap { $C4 . 7204 : accept, $C4 . 7205 : jump rej }
		        icmp type echo-request accept
		    }
		}
	EOF
}

# tcp_try ADDR PORT SPORT: ok (the service answered), refused, or dropped.
tcp_try() {
	local out peer=$1
	case "$1" in *:*) peer="[$1]" ;; esac
	out=$(in_ns "$NS_C" socat -T 2 - "TCP:$peer:$2,sourceport=$3,reuseaddr,connect-timeout=1" \
		</dev/null 2>&1)
	case "$out" in
	*" $3") echo ok ;;
	*"Connection refused"*) echo refused ;;
	*) echo dropped ;;
	esac
}

# traffic BASE: each connection's outcome, a line each; 7203 from the
# source port of the pair and from another one.
traffic() {
	local base=$1 p n=0
	for p in 7201 7202 7204 7205 7206; do
		echo "tcp $p=$(tcp_try "$R4C" "$p" $((base + n)))"
		n=$((n + 1))
	done
	echo "tcp 7203/pair=$(tcp_try "$R4C" 7203 41001)"
	echo "tcp 7203/other=$(tcp_try "$R4C" 7203 $((base + n)))"
	echo "tcp6 7201=$(tcp_try "$R6C" 7201 $((base + n + 1)))"
}

# after BASE: once 7207 is added and 7202 deleted.
after() {
	echo "tcp 7207=$(tcp_try "$R4C" 7207 "$1")"
	echo "tcp 7202=$(tcp_try "$R4C" 7202 $(($1 + 1)))"
	echo "tcp 7201=$(tcp_try "$R4C" 7201 $(($1 + 2)))"
}

have_xct || fail_setup "no xct binary at $XCT"
command -v nft >/dev/null || fail_setup "nft is needed as the reference"
WORK=$(mktemp -d /tmp/xct-concat.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
for p in $TCP_PORTS; do
	peer_echo_tcp "$NS_R" "TCP6-LISTEN:$p,ipv6only=0"
done
for p in $TCP_PORTS; do
	poll 5 listening "$NS_R" tcp "$p" || fail_setup "tcp service $p"
done

xct_rules >"$WORK/rules.xct"
nft_rules >"$WORK/rules.nft"

xct_attach native >/dev/null || fail_setup "attach"
xct_r rules load "$WORK/rules.xct" >"$WORK/load.out" || fail_setup "rules load"
xct_seen=$(traffic 42100)
xct_r set add allowed "$C4 . 7207" >/dev/null && xct_r set del allowed "{ $C4 . 7202 }" >/dev/null
check concat_xct_set_add_del $? "$(xct_r set list allowed | paste -sd' ')"
xct_after=$(after 42200)
xct_r set list allowed >"$WORK/list.out"
xct_r rules show >"$WORK/show.out"
xct_detach >/dev/null

in_ns "$NS_R" nft -f "$WORK/rules.nft" || fail_setup "nft -f"
nft_seen=$(traffic 42300)
in_ns "$NS_R" nft add element inet xctconcat allowed "{ $C4 . 7207 }" &&
	in_ns "$NS_R" nft delete element inet xctconcat allowed "{ $C4 . 7202 }" ||
	fail_setup "nft elements"
nft_after=$(after 42400)
in_ns "$NS_R" nft delete table inet xctconcat

want="tcp 7201=ok
tcp 7202=ok
tcp 7204=ok
tcp 7205=refused
tcp 7206=dropped
tcp 7203/pair=ok
tcp 7203/other=dropped
tcp6 7201=ok"
want_after="tcp 7207=ok
tcp 7202=dropped
tcp 7201=ok"
[ "$nft_seen" = "$want" ] && [ "$nft_after" = "$want_after" ]
check concat_nft_reference $? "$(paste -sd' ' <<<"$nft_seen $nft_after")"
[ "$xct_seen" = "$nft_seen" ]
check concat_same_outcome_as_nft $? "xct: $(paste -sd' ' <<<"$xct_seen")"
[ "$xct_after" = "$nft_after" ]
check concat_set_changes_as_nft $? "xct: $(paste -sd' ' <<<"$xct_after")"
# What the running set holds, as xct set list and rules show say it.
[ "$(cat "$WORK/list.out")" = "$C4 . 7201
$C4 . 7207" ]
check concat_set_list $? "$(paste -sd' ' "$WORK/list.out")"
grep -qx "set allowed { type ipv4_addr . inet_service; elements = { $C4 . 7201, $C4 . 7207 } }" \
	"$WORK/show.out"
check concat_rules_show_set $? "$(grep '^set allowed' "$WORK/show.out")"

[ "$failures" -eq 0 ]
