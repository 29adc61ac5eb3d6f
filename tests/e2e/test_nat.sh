#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Source NAT through the router, with real clients and servers.
#
#   client  (10.231.1.2) --+
#   client2 (10.231.3.2) --+-- router (masquerade oif veth-r-s) -- server (10.231.2.2)
#   client3 (10.231.4.2) --+
#
# The server drops everything from the clients' own addresses: a
# connection only gets through translated, and the server's listeners
# print the peer address they accepted, which must be the router's.
#
#   1. TCP, UDP and ping from three clients behind masquerade; TCP over
#      IPv6 too;
#   2. two clients with the same source port: one keeps it, the other
#      gets another, and both work; the server's port unreachable for a
#      datagram of each comes back through the NAT to the right socket;
#   3. `xct ct list` shows the reply tuples conntrack would (--src-nat,
#      --dst-nat, --any-nat filter them); `xct rules show` lists the NAT
#      rule;
#   4. the oracle: the same traffic through nf_nat's masquerade in the same
#      router, and `conntrack -L`'s reply tuples equal xct's; so do the
#      NEW events of `xct ct events` and `conntrack -E` (the translated
#      reply tuple, decided after the event's entry was made);
#   5. snat to one address and a range of 4 ports: four connections to
#      one server port get the four ports, a fifth fails with nat_no_tuple
#      counted, the four stay up;
#   6. a translated connection keeps working after the rules are cleared,
#      and its binding goes with its entry (`xct ct delete`);
#   7. masquerade random / fully-random translate a free port too, and
#      snat to a range gives one client one address for every server
#      with persistent and several without: through xct and, the same
#      checks, through nf_nat.
# Each check prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_C2="xct-c2-$TAG"
NS_C3="xct-c3-$TAG"
C2=10.231.3.2
R4C2=10.231.3.1
C3=10.231.4.2
R4C3=10.231.4.1
P_TCP=7001
P_UDP=7002
P_HOLD=7003
P_TCP6=7004
WORK=""
EV_PID=""
# The connections check_clients makes, and xct's tuples of them.
MINE='sport=4[01]00[1-3] |id=70[1-3]$'
XCT_TUPLES=""
XCT_EV_TUPLES=""""

nat_cleanup() {
	kill_in_ns "$NS_C" "$NS_C2" "$NS_C3" "$NS_S"
	ip netns del "$NS_C2" 2>/dev/null
	ip netns del "$NS_C3" 2>/dev/null
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap nat_cleanup EXIT

fail_setup() {
	echo "not ok nat_setup ($*)"
	exit 1
}

# add_client NS VETH RVETH ADDR ROUTER_ADDR: one more client on its own link.
add_client() {
	local ns=$1 veth=$2 rveth=$3 addr=$4 raddr=$5
	ip netns add "$ns" || return 1
	ip link add "$veth" netns "$ns" type veth peer name "$rveth" netns "$NS_R" || return 1
	in_ns "$ns" ip link set lo up &&
		in_ns "$ns" ip addr add "$addr/24" dev "$veth" &&
		in_ns "$ns" ip link set "$veth" up &&
		in_ns "$NS_R" ip addr add "$raddr/24" dev "$rveth" &&
		in_ns "$NS_R" ip link set "$rveth" up &&
		in_ns "$ns" ip route add default via "$raddr" || return 1
	poll 10 in_ns "$ns" ping -c 1 -W 1 "$raddr"
}

# The server takes nothing from the clients' own addresses.
server_wants_router() {
	in_ns "$NS_S" nft -f - <<-EOF
		table inet natcheck {
			chain in {
				type filter hook input priority 0; policy accept;
				iifname "veth-s" ip saddr != $R4S counter drop
				iifname "veth-s" ip6 saddr != $R6S meta l4proto tcp counter drop
			}
		}
	EOF
}

# Listeners that answer with the peer they accepted: "ADDR PORT".
start_servers() {
	peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_TCP"
	peer_echo_udp "$NS_S" "$P_UDP"
	peer_echo_tcp "$NS_S" "TCP6-LISTEN:$P_TCP6"
	# Connections that stay open until the client goes.
	peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_HOLD" "cat >/dev/null"
	poll 5 listening "$NS_S" tcp "$P_TCP" &&
		poll 5 listening "$NS_S" udp "$P_UDP" &&
		poll 5 listening "$NS_S" tcp "$P_TCP6"
}

# tcp_peer NS SPORT: what the server saw of a TCP connection from NS.
tcp_peer() {
	tcp_peer_of "$1" "$S4:$P_TCP" "$2"
}

# The same for UDP; the answer is waited for up to 5 s, for a slow fork
# of the server's listener.
udp_peer() {
	udp_peer_of "$1" "$S4:$P_UDP" "$2"
}

# Checks ---------------------------------------------------------------

check_clients() {
	local ns sport=40001 out bad=""
	for ns in "$NS_C" "$NS_C2" "$NS_C3"; do
		out=$(tcp_peer "$ns" "$sport")
		[ "$out" = "$R4S $sport" ] || bad="$bad tcp:$ns:'$out'"
		out=$(udp_peer "$ns" $((sport + 1000)))
		[ "$out" = "$R4S $((sport + 1000))" ] || bad="$bad udp:$ns:'$out'"
		in_ns "$ns" ping -c 2 -i 0.2 -W 2 -e $((sport - 40000 + 700)) "$S4" >/dev/null ||
			bad="$bad ping:$ns"
		sport=$((sport + 1))
	done
	result nat_masquerade_clients "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
}

# refused NS SPORT: a datagram from NS to a closed port of the server is
# answered by port unreachable, which must come back through the NAT to
# the sending socket (connect() and recv(): ECONNREFUSED).
refused() {
	udp_refused "$1" "$S4" 7009 "$2"
}

# IPv6 masquerade (NAT66): the server sees the router's address.
check_ipv6() {
	local out
	out=$(in_ns "$NS_C" socat -T 3 - "TCP6:[$S6]:$P_TCP6,sourceport=47001,connect-timeout=3" \
		</dev/null 2>/dev/null)
	# socat writes the address in full, in brackets.
	"$PYTHON" -c 'import ipaddress, sys; a, p = sys.argv[1].split(); sys.exit(not (ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(sys.argv[2]) and p == "47001"))' \
		"$out" "$R6S" 2>/dev/null
	result nat_ipv6_masquerade $? "server saw '$out'"
}

# ICMP errors through the NAT, to the right client: two clients on one
# source port, the second translated to another port, each gets its own.
check_icmp_errors() {
	local a b
	refused "$NS_C" 46001
	a=$?
	refused "$NS_C2" 46001
	b=$?
	result nat_icmp_error_to_client "$a" "exit $a"
	result nat_icmp_error_to_translated_port "$b" "exit $b"
}

# The running NAT rules are listed after the filter rules.
check_rules_show() {
	xct_r rules show 2>/dev/null | grep -q "^masquerade oif veth-r-s .*# line 1: NAT$" &&
		xct_r -j rules show 2>/dev/null |
		"$PYTHON" -c 'import json, sys; r = json.load(sys.stdin); sys.exit(not [x for x in r if x.get("nat") and x["rule"] == "masquerade oif veth-r-s"])'
	result nat_rules_show $?
}

check_same_port() {
	local a b
	a=$(tcp_peer "$NS_C" 42000)
	b=$(tcp_peer "$NS_C2" 42000)
	# One keeps its port (whichever came first), the other gets another.
	if [ "$a" = "$R4S 42000" ] && [ "${b% *}" = "$R4S" ] && [ "${b#* }" != 42000 ]; then
		result nat_port_clash 0
	else
		result nat_port_clash 1 "first '$a', second '$b'"
	fi
}

check_ct_list() {
	local ok
	has_tuples nat_ct_list_reply "$S4" "$(xct_r ct list -f ipv4 --src-nat 2>/dev/null)" \
		"tcp src=$C4 dst=$S4 sport=40001 dport=$P_TCP -> src=$S4 dst=$R4S sport=$P_TCP dport=40001" \
		"udp src=$C2 dst=$S4 sport=41002 dport=$P_UDP -> src=$S4 dst=$R4S sport=$P_UDP dport=41002" \
		"icmp src=$C3 dst=$S4 type=8 code=0 id=703 -> src=$S4 dst=$R4S type=0 code=0 id=703"
	[ -n "$(xct_r ct list --dst-nat 2>/dev/null)" ] && ok=1 || ok=0
	result nat_ct_list_dst_nat_empty "$ok"
	[ "$(xct_r ct list --any-nat 2>/dev/null | wc -l)" = "$(xct_r ct list --src-nat 2>/dev/null | wc -l)" ]
	result nat_ct_list_any_nat $?
	# Connections the router itself makes are not translated.
	in_ns "$NS_R" ping -c 1 -W 1 "$S4" >/dev/null
	xct_r ct list -p icmp -s "$R4S" 2>/dev/null | grep -q "dst=$R4S" &&
		! xct_r ct list -p icmp -s "$R4S" --src-nat 2>/dev/null | grep -q .
	result nat_ct_list_untranslated $?
}

# new_tuples FILE: the tuples of check_clients' connections in the NEW
# events of xct ct events or conntrack -E.
new_tuples() {
	sed -E 's/^ *\[NEW\] //' "$1" | tuples_to "$S4" | grep -E "$MINE"
}

# A NEW shows the reply tuple ct list shows, the translated one.
check_events() {
	same_tuples nat_events_new_translated 9 "$XCT_EV_TUPLES" "$XCT_TUPLES" "ct list"
}

# conntrack -E has shown a ping of the router's own.  Each try is a new
# connection (a new identifier): one made before conntrack -E listened
# would never be announced.
PROBE_ID=9000
ct_events_ready() {
	PROBE_ID=$((PROBE_ID + 1))
	in_ns "$NS_R" ping -c 1 -W 1 -e "$PROBE_ID" "$S4" >/dev/null 2>&1
	grep -q "id=9[0-9][0-9][0-9] " "$WORK/nf_events"
}

# The same traffic through nf_nat; its reply tuples must equal xct's, in
# the table and in the NEW events.
check_oracle() {
	local xct_t nf_t nf_ev ct_pid ready=0
	xct_t=$XCT_TUPLES
	xct_r detach --all >/dev/null 2>&1
	XCT_ATTACHED=0
	in_ns "$NS_R" nft -f - <<-'EOF' || { result nat_oracle 1 "nft masquerade"; return; }
		table ip xctnat {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "veth-r-s" masquerade
			}
		}
	EOF
	ip netns exec "$NS_R" conntrack -E -e NEW -f ipv4 >"$WORK/nf_events" 2>/dev/null &
	ct_pid=$!
	BG_PIDS+=("$ct_pid")
	poll 10 ct_events_ready || ready=1
	check_clients >/dev/null
	nf_t=$(ct_r -L -f ipv4 2>/dev/null | tuples_to "$S4" | grep -E "$MINE")
	# Its events are written as they come: the connections' are there.
	poll 5 sh -c "[ \$(grep -c 'id=70[1-3]' '$WORK/nf_events') -ge 3 ]"
	stop_reader "$ct_pid"
	nf_ev=$(new_tuples "$WORK/nf_events")
	if [ "$ready" = 0 ]; then
		same_tuples nat_events_oracle 9 "$XCT_EV_TUPLES" "$nf_ev" "conntrack -E"
	else
		result nat_events_oracle 1 "conntrack -E was not ready"
	fi
	# Three clients, three protocols.
	same_tuples nat_oracle_reply_tuples 9 "$xct_t" "$nf_t"
	in_ns "$NS_R" nft delete table ip xctnat
	ct_r -F >/dev/null 2>&1
}

# snat to a range of 4 ports: a fifth connection cannot be translated.
check_exhaustion() {
	local i out ok=0 before after peers=""
	cat >"$WORK/snat.xct" <<-EOF
		snat to $R4S:20000-20003 oif veth-r-s tcp
	EOF
	xct_r rules load "$WORK/snat.xct" >/dev/null || { result nat_snat_range 1 load; return; }
	# Four long-lived connections hold the four ports.
	for i in 1 2 3 4; do
		ip netns exec "$NS_C" socat "TCP:$S4:$P_HOLD,sourceport=$((43000 + i))" \
			SYSTEM:"head -n 1 >$WORK/hold$i; cat >/dev/null" 2>/dev/null &
		BG_PIDS+=($!)
	done
	for i in 1 2 3 4; do
		poll 5 test -s "$WORK/hold$i" || ok=1
		peers="$peers $(cat "$WORK/hold$i")"
	done
	for i in 20000 20001 20002 20003; do
		echo "$peers" | grep -q "$R4S $i" || ok=1
	done
	result nat_snat_range "$ok" "$peers"
	before=$(xct_r ct stats --reasons 2>/dev/null | awk '$1 == "nat_no_tuple" {print $2}')
	# A fifth to the same server port finds no free tuple.
	out=$(in_ns "$NS_C" socat -T 3 - "TCP:$S4:$P_HOLD,sourceport=43010,connect-timeout=3" \
		</dev/null 2>/dev/null)
	after=$(xct_r ct stats --reasons 2>/dev/null | awk '$1 == "nat_no_tuple" {print $2}')
	[ -z "$out" ] && [ "${after:-0}" -gt "${before:-0}" ]
	result nat_exhausted_counted $? "out '$out' nat_no_tuple ${before:-?} -> ${after:-?}"
	[ "$(xct_r ct list -p tcp --src-nat 2>/dev/null | grep -c "dport=2000[0-3] ")" -ge 4 ]
	result nat_exhausted_existing_kept $?
}

# The flags of a source translation, through xct (MODE_TOOL=xct) or nf_nat
# (nft): nat_modes_apply XCT_RULE NFT_RULE loads the rule of the one in use.
MODE_TOOL=xct
SNAT_RANGE=10.231.2.200-10.231.2.203
nat_modes_apply() {
	if [ "$MODE_TOOL" = xct ]; then
		echo "$1" >"$WORK/mode.xct" && xct_r rules load "$WORK/mode.xct" >/dev/null
		return
	fi
	in_ns "$NS_R" nft delete table ip xctmode 2>/dev/null
	in_ns "$NS_R" nft -f - <<-EOF
		table ip xctmode {
			chain post {
				type nat hook postrouting priority srcnat; policy accept;
				$2
			}
		}
	EOF
}

# random and fully-random translate the port even when the connection's
# own is free; without them it is kept (check_clear, check_clients).
# Three flows each: a random port equal to the original is 1 in 64,512.
check_port_modes() {
	local mode sport out bad=""
	for mode in random fully-random; do
		nat_modes_apply "masquerade oif veth-r-s $mode" "oifname \"veth-r-s\" masquerade $mode" ||
			{ bad="$bad load:$mode"; continue; }
		for sport in 45101 45102 45103; do
			[ "$MODE_TOOL" = nft ] && sport=$((sport + 100))
			[ "$mode" = random ] && sport=$((sport + 10))
			out=$(udp_peer "$NS_C" "$sport")
			case $out in
			"$R4S $sport" | "") bad="$bad $mode:$sport:'$out'" ;;
			"$R4S "*) ;;
			*) bad="$bad $mode:$sport:'$out'" ;;
			esac
		done
	done
	result "nat_${MODE_TOOL}_random_ports_translated" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"
}

# snat to a range of four addresses: without persistent one client reaches
# sixteen server addresses from several of them (nf_nat hashes the source
# with the destination); with persistent from one.
check_addr_modes() {
	local flags i out seen n
	for flags in persistent random; do
		nat_modes_apply "snat to $SNAT_RANGE $flags oif veth-r-s tcp" \
			"oifname \"veth-r-s\" meta l4proto tcp snat to $SNAT_RANGE $flags" ||
			{ result "nat_${MODE_TOOL}_snat_$flags" 1 load; continue; }
		seen=""
		for i in $(seq 31 46); do
			out=$(tcp_peer_of "$NS_C" "10.231.2.$i:$P_TCP" $((46000 + i)))
			seen="$seen ${out% *}"
		done
		n=$(tr ' ' '\n' <<<"$seen" | grep -c '^10\.231\.2\.20[0-3]$')
		out=$(tr ' ' '\n' <<<"$seen" | grep . | sort -u | wc -l)
		if [ "$flags" = persistent ]; then
			[ "$n" = 16 ] && [ "$out" = 1 ]
		else
			[ "$n" = 16 ] && [ "$out" -gt 1 ]
		fi
		result "nat_${MODE_TOOL}_snat_$flags" $? "$n of 16 from the range, $out addresses:$seen"
		[ "$MODE_TOOL" = xct ] && xct_r ct flush >/dev/null 2>&1
		[ "$MODE_TOOL" = nft ] && ct_r -F >/dev/null 2>&1
	done
}

# The addresses the address checks need: the range on the router, sixteen
# more on the server, whose filter lets the range through.
nat_modes_setup() {
	local i
	for i in 200 201 202 203; do
		in_ns "$NS_R" ip addr add "10.231.2.$i/32" dev veth-r-s || return 1
	done
	for i in $(seq 31 46); do
		in_ns "$NS_S" ip addr add "10.231.2.$i/32" dev veth-s || return 1
	done
	in_ns "$NS_S" nft insert rule inet natcheck in ip saddr "$SNAT_RANGE" accept
}

check_clear() {
	local ok=0
	# A UDP flow translated under the rules, then the rules cleared.
	xct_r rules load "$WORK/masq.xct" >/dev/null || ok=1
	[ "$(udp_peer "$NS_C" 45000)" = "$R4S 45000" ] || ok=1
	xct_r rules clear >/dev/null || ok=1
	[ "$(udp_peer "$NS_C" 45000)" = "$R4S 45000" ] || ok=1
	result nat_survives_rules_clear "$ok"
	xct_r ct delete -p udp --sport 45000 >/dev/null 2>&1
	! xct_r ct list -p udp --sport 45000 --src-nat 2>/dev/null | grep -q .
	result nat_binding_deleted_with_entry $?
}

# Main -----------------------------------------------------------------

[ "${NAT_FUNCTIONS_ONLY:-0}" = 1 ] && return 0
setup_topology || fail_setup topology
add_client "$NS_C2" veth-c2 veth-r-c2 "$C2" "$R4C2" || fail_setup client2
add_client "$NS_C3" veth-c3 veth-r-c3 "$C3" "$R4C3" || fail_setup client3
server_wants_router || fail_setup "server filter"
start_servers || fail_setup servers
mount_pin_fs || fail_setup bpffs
WORK=$(mktemp -d /tmp/xct-nat.XXXXXX) || fail_setup workdir
xct_attach native || fail_setup attach
xct_r attach --mode native veth-r-c2 veth-r-c3 >/dev/null || fail_setup "attach clients"
echo "masquerade oif veth-r-s" >"$WORK/masq.xct"
xct_r rules load "$WORK/masq.xct" >/dev/null || fail_setup "rules load"

start_reader "$WORK/xct_events" "$WORK/xct_events.err" -e NEW -f ipv4 ||
	fail_setup "events reader"
check_clients
XCT_TUPLES=$(xct_r ct list -f ipv4 --src-nat 2>/dev/null | tuples_to "$S4" | grep -E "$MINE")
stop_reader "$EV_PID"
XCT_EV_TUPLES=$(new_tuples "$WORK/xct_events")
check_events
check_rules_show
check_same_port
check_ipv6
check_icmp_errors
check_ct_list
check_exhaustion
nat_modes_setup || fail_setup "addresses for the NAT flags"
check_port_modes
check_addr_modes
check_clear
check_oracle
# The same flags through nf_nat (check_oracle detached xct).
MODE_TOOL=nft
check_port_modes
check_addr_modes
in_ns "$NS_R" nft delete table ip xctmode 2>/dev/null
