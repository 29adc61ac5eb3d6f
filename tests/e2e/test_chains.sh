#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# User chains against nftables' own: one ruleset with jump, goto, return,
# a verdict map with a jump element and nested chains, written once for
# xct and once for nft (an inet table, its input chain jumping to the
# others), on the router's own services.  The same connections run
# through xct, then through nftables alone; each must fare alike
# (answered, refused with a RST, or dropped), and the expected outcome
# of each is checked too, so that a ruleset neither decides is no pass.
# nft also judges which nestings and loops load, beside xct rules check.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=chains
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=""
failures=0

chains_cleanup() {
	in_ns "$NS_R" nft delete table inet xctchains 2>/dev/null
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap chains_cleanup EXIT

fail_setup() {
	echo "not ok chains_setup ($*)"
	exit 1
}

check() {
	result "$1" "$2" "${@:3}"
	[ "$2" = 0 ] || failures=$((failures + 1))
}

TCP_PORTS="7001 7002 7003 7010 7011 7012 7020 7021 7030"
UDP_PORTS="7101 7102 7103"

xct_rules() {
	cat <<-EOF
		policy drop
		accept ct state established,related
		jump tcp_in tcp
		goto udp_in udp
		accept icmp type echo-request
		accept tcp dport 7003
		chain tcp_in {
		    return saddr $C4 dport 7003
		    accept dport { 7001, 7002 }
		    dport vmap { 7010 : accept, 7011 : drop, 7012 : jump deep }
		    goto rej dport 7020-7029
		}
		chain deep {
		    accept sport 40000-40999
		}
		chain rej {
		    reject dport 7021
		}
		chain udp_in {
		    accept dport 7101
		    return dport 7102
		    drop
		}
		chain unused {
		    accept
		}
	EOF
}

nft_rules() {
	cat <<-EOF
		table inet xctchains {
		    chain input {
		        type filter hook input priority 0; policy drop;
		        ct state established,related accept
		        meta l4proto tcp jump tcp_in
		        meta l4proto udp goto udp_in
		        icmp type echo-request accept
		        tcp dport 7003 accept
		    }
		    chain tcp_in {
		        ip saddr $C4 tcp dport 7003 return
		        tcp dport { 7001, 7002 } accept
		        tcp dport vmap { 7010 : accept, 7011 : drop, 7012 : jump deep }
		        tcp dport 7020-7029 goto rej
		    }
		    chain deep {
		        tcp sport 40000-40999 accept
		    }
		    chain rej {
		        tcp dport 7021 reject with tcp reset
		    }
		    chain udp_in {
		        udp dport 7101 accept
		        udp dport 7102 return
		        drop
		    }
		    chain unused {
		        accept
		    }
		}
	EOF
}

# tcp_try PORT SPORT: ok (the service answered), refused, or dropped.
tcp_try() {
	local out
	out=$(in_ns "$NS_C" socat -T 2 - "TCP:$R4C:$1,sourceport=$2,reuseaddr,connect-timeout=1" \
		</dev/null 2>&1)
	case "$out" in
	"$C4 $2") echo ok ;;
	*"Connection refused"*) echo refused ;;
	*) echo dropped ;;
	esac
}

udp_try() {
	local out
	out=$(echo x | in_ns "$NS_C" socat -T 1 - "UDP:$R4C:$1,sourceport=$2" 2>/dev/null)
	[ "$out" = "$C4 $2" ] && echo ok || echo dropped
}

# traffic BASE: every connection's outcome, "PORT/SPORT=OUTCOME" a line;
# 7012 from a source port deep accepts, and from one it does not.
traffic() {
	local base=$1 p n=0
	for p in $TCP_PORTS; do
		echo "tcp $p/$((base + n))=$(tcp_try "$p" $((base + n)))"
		n=$((n + 1))
	done
	echo "tcp 7012/41$((base % 1000 + n))=$(tcp_try 7012 "41$((base % 1000 + n))")"
	for p in $UDP_PORTS; do
		n=$((n + 1))
		echo "udp $p=$(udp_try "$p" $((base + n)))"
	done
	in_ns "$NS_C" ping -c 1 -W 1 "$R4C" >/dev/null 2>&1 && echo "ping=ok" || echo "ping=dropped"
}

outcomes() { sed -E 's#^(tcp|udp) ([0-9]+)/?[0-9]*=#\1 \2=#' <<<"$1"; }

have_xct || fail_setup "no xct binary at $XCT"
command -v nft >/dev/null || fail_setup "nft is needed as the reference"
WORK=$(mktemp -d /tmp/xct-chains.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
for p in $TCP_PORTS; do
	peer_echo_tcp "$NS_R" "TCP-LISTEN:$p"
done
for p in $UDP_PORTS; do
	peer_echo_udp "$NS_R" "$p"
done
for p in $TCP_PORTS; do
	poll 5 listening "$NS_R" tcp "$p" || fail_setup "tcp service $p"
done
for p in $UDP_PORTS; do
	poll 5 listening "$NS_R" udp "$p" || fail_setup "udp service $p"
done

xct_rules >"$WORK/rules.xct"
nft_rules >"$WORK/rules.nft"

xct_attach native >/dev/null || fail_setup "attach"
xct_r rules load "$WORK/rules.xct" >"$WORK/load.out" || fail_setup "rules load"
xct_seen=$(traffic 40100)
xct_r rules show >"$WORK/show.out"
xct_detach >/dev/null

in_ns "$NS_R" nft -f "$WORK/rules.nft" || fail_setup "nft -f"
nft_seen=$(traffic 40300)
in_ns "$NS_R" nft delete table inet xctchains

want="tcp 7001=ok
tcp 7002=ok
tcp 7003=ok
tcp 7010=ok
tcp 7011=dropped
tcp 7012=ok
tcp 7020=dropped
tcp 7021=refused
tcp 7030=dropped
tcp 7012=dropped
udp 7101=ok
udp 7102=dropped
udp 7103=dropped
ping=ok"
[ "$(outcomes "$nft_seen")" = "$want" ]
check chains_nft_reference $? "$(paste -sd' ' <<<"$nft_seen")"
[ "$(outcomes "$xct_seen")" = "$(outcomes "$nft_seen")" ]
check chains_same_outcome_as_nft $? "xct: $(paste -sd' ' <<<"$xct_seen")"
# The load counts the rules as written and as expanded.
grep -q "rules.xct: 15 rules as written, 13 expanded, 5 chains, 0 sets, loaded" "$WORK/load.out"
check chains_load_counts_expanded_rules $? "$(cat "$WORK/load.out")"
# Counters per rule as written: the accept of deep saw one connection.
grep -qE '^	accept sport 40000-40999 +# line [0-9]+: packets 1 bytes [0-9]+$' "$WORK/show.out"
check chains_counters_per_written_rule $? "$(grep sport "$WORK/show.out")"

# Depth and loops: nft accepts 15 chains nested from its base chain and
# refuses a 16th, and refuses a loop; xct rules check must agree.
nest_nft() { # N [loop]
	local i
	echo "table inet xctdepth {"
	echo "    chain input { type filter hook input priority 0; jump c1; }"
	for i in $(seq 1 "$1"); do
		if [ "$i" -lt "$1" ]; then
			echo "    chain c$i { jump c$((i + 1)); }"
		elif [ -n "${2:-}" ]; then
			echo "    chain c$i { jump c1; }"
		else
			echo "    chain c$i { accept; }"
		fi
	done
	echo "}"
}
nest_xct() { # N [loop]
	local i
	echo "jump c1"
	for i in $(seq 1 "$1"); do
		if [ "$i" -lt "$1" ]; then
			printf 'chain c%d {\njump c%d\n}\n' "$i" $((i + 1))
		elif [ -n "${2:-}" ]; then
			printf 'chain c%d {\njump c1\n}\n' "$i"
		else
			printf 'chain c%d {\naccept\n}\n' "$i"
		fi
	done
}
depth_seen=""
for c in "15" "16" "3 loop"; do
	# shellcheck disable=SC2086 # two words: N and "loop"
	nest_nft $c >"$WORK/depth.nft"
	# shellcheck disable=SC2086
	nest_xct $c >"$WORK/depth.xct"
	in_ns "$NS_R" nft -f "$WORK/depth.nft" 2>/dev/null && n=loaded || n=refused
	in_ns "$NS_R" nft delete table inet xctdepth 2>/dev/null
	"$XCT" rules check "$WORK/depth.xct" >/dev/null 2>&1 && x=loaded || x=refused
	depth_seen="$depth_seen ${c// /-}:nft=$n,xct=$x"
done
[ "$depth_seen" = " 15:nft=loaded,xct=loaded 16:nft=refused,xct=refused 3-loop:nft=refused,xct=refused" ]
check chains_depth_and_loops_as_nft $? "$depth_seen"

[ "$failures" -eq 0 ]
