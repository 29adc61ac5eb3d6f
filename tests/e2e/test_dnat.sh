#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Destination NAT (port forwarding) through the router, with a real client
# and server.
#
#   client (10.231.1.2) -- router (10.231.1.1: dnat 8080 -> 10.231.2.2:80)
#                                                   -- server (10.231.2.2)
#
# The client connects to the router's own address on forwarded ports; the
# server's listeners print the peer they accepted, which must be the
# client's real address, and the client's sockets (connected to the
# router's address) only accept answers that come back from it.
#
#   1. TCP, UDP and ping forwarded, in XDP (native) and TC modes; TCP
#      over IPv6;
#   2. `xct ct list --dst-nat` shows the connection as conntrack does
#      (orig dst = the router's address, reply src = the server's), and
#      --src-nat does not;
#   3. the oracle: the same traffic through nftables' dnat in the router,
#      and `conntrack -L`'s tuples equal xct's;
#   4. the inner server's port unreachable for a forwarded datagram comes
#      back to the client's socket (translated back at egress);
#   5. a forwarded connection keeps working after the rules are cleared;
#   6. dnat to a set of two backends (a second address on the server):
#      many connections reach both, each transfer comes back intact.
# Each check prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P_PUB_TCP=8080
P_PUB_UDP=8053
P_TCP=7080
P_UDP=7053
P_PUB_CLOSED=8055
P_CLOSED=7055 # nothing listens: the server answers port unreachable
P_TCP6=7081   # forwarded with its own port
P_PUB_LB=8090 # forwarded to one of two backends
P_LB=7090
S4B=10.231.2.3 # the server's second address: the second backend
WORK=""

dnat_cleanup() {
	kill_in_ns "$NS_C" "$NS_S"
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap dnat_cleanup EXIT

fail_setup() {
	echo "not ok dnat_setup ($*)"
	exit 1
}

start_servers() {
	peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_TCP"
	peer_echo_udp "$NS_S" "$P_UDP"
	peer_echo_tcp "$NS_S" "TCP6-LISTEN:$P_TCP6"
	# Each backend names itself, then echoes what it is sent.
	local a
	for a in "$S4" "$S4B"; do
		ip netns exec "$NS_S" socat TCP-LISTEN:$P_LB,bind=$a,fork,reuseaddr \
			SYSTEM:"echo $a; cat" 2>/dev/null &
		BG_PIDS+=($!)
	done
	poll 5 in_ns "$NS_S" sh -c "ss -ltn | grep -q '$S4B:$P_LB '" &&
		poll 5 in_ns "$NS_S" sh -c "ss -ltn | grep -q '$S4:$P_LB '" &&
		poll 5 listening "$NS_S" tcp "$P_TCP6" &&
		poll 5 listening "$NS_S" tcp "$P_TCP" &&
		poll 5 listening "$NS_S" udp "$P_UDP"
}

# What the server saw of a connection to the router's forwarded port.
tcp_peer() {
	tcp_peer_of "$NS_C" "$R4C:$P_PUB_TCP" "$1"
}

# A connected UDP socket: it takes answers from the router's address only.
udp_peer() {
	udp_peer_of "$NS_C" "$R4C:$P_PUB_UDP" "$1"
}

# check_forward MODE SPORT: TCP and UDP reach the server, which sees the
# client's own address, and the answers come back.
check_forward() {
	local mode=$1 sport=$2 out
	out=$(tcp_peer "$sport")
	[ "$out" = "$C4 $sport" ]
	result "dnat_tcp_forward_$mode" $? "server saw '$out'"
	out=$(udp_peer $((sport + 1)))
	[ "$out" = "$C4 $((sport + 1))" ]
	result "dnat_udp_forward_$mode" $? "server saw '$out'"
	# IPv6: the router's address on the client's side, forwarded to the
	# server's; socat writes the peer in full, in brackets.
	out=$(in_ns "$NS_C" socat -T 3 - \
		"TCP6:[$R6C]:$P_TCP6,sourceport=$((sport + 2)),reuseaddr,connect-timeout=3" \
		</dev/null 2>/dev/null)
	"$PYTHON" -c 'import ipaddress, sys; a, p = sys.argv[1].split(); sys.exit(not (ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(sys.argv[2]) and p == sys.argv[3]))' \
		"$out" "$C6" "$((sport + 2))" 2>/dev/null
	result "dnat_tcp6_forward_$mode" $? "server saw '$out'"
	# Echo requests to the router's address are answered by the server,
	# the answers coming from the router's address.
	out=$(in_ns "$NS_C" ping -c 2 -i 0.2 -W 2 -e $((sport - 40000 + 700)) "$R4C" 2>&1)
	[ "$(echo "$out" | grep -c "bytes from $R4C:")" = 2 ] && ! echo "$out" | grep -q "from $S4"
	result "dnat_ping_forward_$mode" $? "$out"
}

check_ct_list() {
	has_tuples dnat_ct_list_reply "$R4C" "$(xct_r ct list -f ipv4 --dst-nat 2>/dev/null)" \
		"tcp src=$C4 dst=$R4C sport=41001 dport=$P_PUB_TCP -> src=$S4 dst=$C4 sport=$P_TCP dport=41001" \
		"udp src=$C4 dst=$R4C sport=41002 dport=$P_PUB_UDP -> src=$S4 dst=$C4 sport=$P_UDP dport=41002" \
		"icmp src=$C4 dst=$R4C type=8 code=0 id=1701 -> src=$S4 dst=$C4 type=0 code=0 id=1701"
	! xct_r ct list -f ipv4 --src-nat 2>/dev/null | grep -q "dst=$R4C"
	result dnat_ct_list_src_nat_empty $?
	xct_r -j ct list -p tcp --dst-nat 2>/dev/null | grep -q '"DST_NAT"'
	result dnat_ct_list_status $?
	# The replies were tracked under the connection: it saw them (ASSURED),
	# and no connection of the server's own tuple exists.
	xct_r ct list -p tcp --dst-nat --sport 41001 2>/dev/null | grep -q "ASSURED" &&
		! xct_r ct list -f ipv4 -s "$S4" 2>/dev/null | grep -q .
	result dnat_reply_tracked_under_connection $? "$(xct_r ct list -f ipv4 2>/dev/null)"
}

# A connected UDP socket to a forwarded port whose inner port is closed
# must see ECONNREFUSED: the error only reaches it translated back.
check_icmp_error() {
	udp_refused "$NS_C" "$R4C" "$P_PUB_CLOSED" 46001
	local rc=$?
	# Forwarded (not refused by the router itself): the server answered.
	xct_r ct list -p udp --dst-nat --sport 46001 2>/dev/null | tuples_to "$R4C" |
		grep -qxF "udp src=$C4 dst=$R4C sport=46001 dport=$P_PUB_CLOSED -> src=$S4 dst=$C4 sport=$P_CLOSED dport=46001"
	result "dnat_icmp_error_to_client_$1" $((rc | $?)) "exit $rc"
}

# Many connections to the balanced port: every one is answered by one of
# the two backends with the 200 kB it sent, intact, and both backends
# answer some.
check_backends() {
	local out
	out=$(in_ns "$NS_C" "$PYTHON" -c '
import os, socket, sys
addr, port, backends = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
seen = dict((b, 0) for b in backends)
bad = 0
for i in range(40):
    data = os.urandom(200000)
    s = socket.create_connection((addr, port), timeout=5)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    name, _, body = got.partition(b"\n")
    name = name.decode(errors="replace")
    if name not in seen or body != data:
        bad += 1
        continue
    seen[name] += 1
print(" ".join("%s=%d" % (b, seen[b]) for b in backends), "bad=%d" % bad)
sys.exit(0 if bad == 0 and all(seen.values()) else 1)
' "$R4C" "$P_PUB_LB" "$S4" "$S4B" 2>&1)
	result "dnat_backends_spread_intact_$1" $? "$out"
}

check_rules_show() {
	xct_r rules show 2>/dev/null | grep -q "^dnat to $S4:$P_TCP iif veth-r-c tcp dport $P_PUB_TCP .*NAT$"
	result dnat_rules_show $?
	xct_r rules show 2>/dev/null |
		grep -q "^dnat to { $S4:$P_LB, $S4B:$P_LB } iif veth-r-c tcp dport $P_PUB_LB .*NAT$"
	result dnat_rules_show_backends $? "$(xct_r rules show 2>/dev/null | grep '{')"
}

check_clear() {
	local ok=0
	[ "$(udp_peer 45000)" = "$C4 45000" ] || ok=1
	xct_r rules clear >/dev/null || ok=1
	[ "$(udp_peer 45000)" = "$C4 45000" ] || ok=1
	result dnat_survives_rules_clear "$ok"
	# And with no rule, a new connection is not forwarded.
	[ -z "$(udp_peer 45010)" ]
	result dnat_none_without_rule $?
}

# The same traffic through nf_nat's dnat; its tuples must equal xct's.
check_oracle() {
	local xct_t=$1 nf_t
	in_ns "$NS_R" nft -f - <<-EOF || { result dnat_oracle_tuples 1 "nft dnat"; return; }
		table ip xctdnat {
			chain pre {
				type nat hook prerouting priority dstnat; policy accept;
				iifname "veth-r-c" tcp dport $P_PUB_TCP dnat to $S4:$P_TCP
				iifname "veth-r-c" udp dport $P_PUB_UDP dnat to $S4:$P_UDP
				iifname "veth-r-c" ip daddr $R4C icmp type echo-request dnat to $S4
			}
		}
	EOF
	check_forward nf_nat 41001 >/dev/null
	nf_t=$(ct_r -L -f ipv4 2>/dev/null | tuples_to "$R4C")
	same_tuples dnat_oracle_tuples 3 "$xct_t" "$nf_t"
	in_ns "$NS_R" nft delete table ip xctdnat
	ct_r -F >/dev/null 2>&1
}

# Main -----------------------------------------------------------------

setup_topology || fail_setup topology
in_ns "$NS_S" ip addr add "$S4B/24" dev veth-s || fail_setup "second address"
start_servers || fail_setup servers
mount_pin_fs || fail_setup bpffs
WORK=$(mktemp -d /tmp/xct-dnat.XXXXXX) || fail_setup workdir
cat >"$WORK/dnat.xct" <<EOF
dnat to $S4:$P_TCP iif veth-r-c tcp dport $P_PUB_TCP
dnat to $S4:$P_UDP iif veth-r-c udp dport $P_PUB_UDP
dnat to $S4:$P_CLOSED iif veth-r-c udp dport $P_PUB_CLOSED
dnat to $S6 iif veth-r-c ip6 daddr $R6C tcp dport $P_TCP6
dnat to $S4 iif veth-r-c daddr $R4C icmp
dnat to { $S4:$P_LB, $S4B:$P_LB } iif veth-r-c tcp dport $P_PUB_LB
EOF

XCT_TUPLES=""
for mode in native tc; do
	xct_attach "$mode" || fail_setup "attach $mode"
	xct_r rules load "$WORK/dnat.xct" >/dev/null || fail_setup "rules load"
	if [ "$mode" = native ]; then
		check_forward "$mode" 41001
		XCT_TUPLES=$(xct_r ct list -f ipv4 --dst-nat 2>/dev/null | tuples_to "$R4C")
		check_ct_list
		check_rules_show
		check_icmp_error "$mode"
		check_backends "$mode"
	else
		check_forward "$mode" 42001
		check_icmp_error "$mode"
		check_backends "$mode"
		check_clear
	fi
	xct_detach || fail_setup detach
done
check_oracle "$XCT_TUPLES"
