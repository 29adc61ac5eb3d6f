#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct ct events against conntrack -E on more traffic shapes, on the router
# of lib.sh where both trackers see the same packets: web fetches (curl
# from python's http.server, both families), refused connections (a RST
# answers the SYN), a connection reset once established that then times
# out in CLOSE, a UDP exchange, a UDP datagram and a ping that expire, and
# connections through masquerade, compared with nftables' masquerade.
# For each connection, xct's lines must be conntrack's.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ct_events_lib.sh"

ct_events_setup
# UDP and ICMP time out after 10 s in both trackers, as TCP's CLOSE does,
# rather than nf_conntrack's 30 s: the expiries below are awaited, and the
# trackers' lines compare the same with any value they share.
for t in nf_conntrack_udp_timeout nf_conntrack_icmp_timeout; do
	in_ns "$NS_R" sysctl -qw "net.netfilter.$t=10" || fail_setup "sysctl $t"
	xct_r set-timeout "$t" 10 >/dev/null || fail_setup "xct set-timeout $t"
done

# ---- Web fetches, refused, reset, expiry ----
WEB4=8000
WEB6=8006
CLOSED=5009
ip netns exec "$NS_S" taskset -c 0 "$PYTHON" -m http.server --bind 0.0.0.0 --directory "$WORK" $WEB4 >/dev/null 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_S" taskset -c 0 "$PYTHON" -m http.server --bind "$S6" --directory "$WORK" $WEB6 >/dev/null 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_S" socat UDP4-RECVFROM:5002,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 sh -c "ip netns exec $NS_S ss -lnt | grep -q ':$WEB4 ' && ip netns exec $NS_S ss -lnt | grep -q ':$WEB6 ' && ip netns exec $NS_S ss -lnu | grep -q ':5002 '" ||
	fail_setup "web and UDP servers"
flush_both
XOUT=$WORK/shapes.out
COUT=$WORK/ct-shapes.out
start_readers || fail_setup "readers not ready for the traffic shapes"
# What expires first, so that the waits overlap.
echo hi | in_ns "$NS_C" socat -T 1 - "UDP4:$S4:5002,sourceport=21001" >/dev/null 2>&1
echo hi | in_ns "$NS_C" socat -T 0.2 - "UDP4:$S4:9,sourceport=21002" >/dev/null 2>&1
in_ns "$NS_C" ping -c 1 -W 1 -e 4242 "$S4" >/dev/null 2>&1
# Established, then reset by the client (SO_LINGER 0): CLOSE, 10 s.
in_ns "$NS_C" "$PYTHON" - "$S4" "$PORT" <<-'EOF'
	import socket, struct, sys
	s = socket.socket()
	s.bind(("0.0.0.0", 21003))
	s.connect((sys.argv[1], int(sys.argv[2])))
	s.sendall(b"hello\n")
	s.recv(16)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
	s.close()
	EOF
ok_reset=$?
# Refused, both families.
in_ns "$NS_C" socat -T 1 - "TCP4:$S4:$CLOSED,sourceport=21004" </dev/null >/dev/null 2>&1
in_ns "$NS_C" socat -T 1 - "TCP6:[$S6]:$CLOSED,sourceport=21005" </dev/null >/dev/null 2>&1
# Six web fetches a family.  The server closes first and curl at once:
# the two FINs cross the router together, and on two CPUs the two
# trackers could each see them in another order (and conntrack -E then
# repeats a state).  Client and server on one CPU send them in turn, so
# the router sees one order.
ok_web=0
for i in 1 2 3 4 5 6; do
	in_ns "$NS_C" taskset -c 0 curl -s -o /dev/null --local-port $((21010 + i)) "http://$S4:$WEB4/" || ok_web=1
	in_ns "$NS_C" taskset -c 0 curl -s -o /dev/null --local-port $((21020 + i)) "http://[$S6]:$WEB6/" || ok_web=1
done
web_done() {
	[ "$(grep -c 'UPDATE.*TIME_WAIT.*dport=800[06] ' "$COUT")" -ge 12 ] &&
		[ "$(grep -c 'UPDATE.*TIME_WAIT.*dport=800[06] ' "$XOUT")" -ge 12 ]
}
poll 10 web_done
ok_tw=$?
xct_r ct delete -p tcp --dport $WEB4 >/dev/null 2>&1
xct_r ct delete -p tcp --dport $WEB6 >/dev/null 2>&1
ct_r -D -p tcp --dport $WEB4 >/dev/null 2>&1
ct_r -D -p tcp --dport $WEB6 -f ipv6 >/dev/null 2>&1
web_destroyed() {
	[ "$(grep -c 'DESTROY.*dport=800[06] ' "$COUT")" -ge 12 ] &&
		[ "$(grep -c 'DESTROY.*dport=800[06] ' "$XOUT")" -ge 12 ]
}
poll 10 web_destroyed
result ct_events_web_fetches_ran "$([ "$ok_web$ok_tw$?" = 000 ] && echo 0 || echo 1)" "curl $ok_web, TIME_WAIT $ok_tw"
for i in 1 2 3 4 5 6; do
	same_shape "ct_events_web_ipv4_fetch_$i" "sport=$((21010 + i)) "
	same_shape "ct_events_web_ipv6_fetch_$i" "sport=$((21020 + i)) "
done
poll 20 destroyed "sport=21004 " && poll 5 destroyed "sport=21005 "
same_shape ct_events_refused_ipv4 "sport=21004 "
same_shape ct_events_refused_ipv6 "sport=21005 "
# ---- Translated connections (masquerade) against nf_nat's ----
# The same TCP echo and UDP exchange through xct's masquerade (while the
# expiries above are awaited), then, with xct detached, through
# nftables' masquerade: xct's lines (the translated reply tuple, the NEW's
# full timeout) must be conntrack's, the client's port aside.
# nat_traffic OUT TCP-PORT UDP-PORT: a TCP echo and a UDP exchange, until
# OUT shows the first in TIME_WAIT and the second answered.
nat_traffic() {
	# The same conversation every time: the client closes only once its
	# echo is back, and the server after it, so that the two runs (xct's
	# and nf_nat's) see their FINs in the same order.
	in_ns "$NS_C" timeout 10 "$PYTHON" - "$S4" "$PORT" "$2" <<-'PY' >/dev/null 2>&1
		import socket, sys
		s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5,
		                             source_address=("", int(sys.argv[3])))
		s.sendall(b"hello\n")
		got = b""
		while not got.endswith(b"\n"):
		    got += s.recv(64)
		s.shutdown(socket.SHUT_WR)
		while s.recv(64):
		    pass
		s.close()
	PY
	echo hi | in_ns "$NS_C" socat -T 1 - "UDP4:$S4:5002,sourceport=$3" >/dev/null 2>&1
	poll 10 sh -c "grep 'sport=$2 ' '$1' | grep -q TIME_WAIT && grep 'sport=$3 ' '$1' | grep -q UPDATE"
}
# nat_lines FILE PORT...: the connections' lines, the client's ports as P.
nat_lines() {
	local f=$1 p
	shift
	for p in "$@"; do
		shape_lines "$f" "sport=$p " | sed "s/=$p /=P /g; s/=$p\$/=P/"
	done
}
printf 'masquerade oif veth-r-s\n' >"$WORK/nat.xct"
xct_r rules load "$WORK/nat.xct" >/dev/null 2>&1
ok_load=$?
nat_traffic "$XOUT" 21040 21041
ok_x=$?
xct_r ct delete -p tcp --sport 21040 >/dev/null 2>&1
xct_r ct delete -p udp --sport 21041 >/dev/null 2>&1
poll 10 sh -c "[ \$(grep -c 'DESTROY.*sport=2104[01] ' '$XOUT') -ge 2 ]"
ok_xd=$?

# The collector sweeps at most every 16 s: an expiry may be announced
# that much after it.
poll 60 destroyed "sport=21001 " && poll 20 destroyed "sport=21002 " &&
	poll 20 destroyed "id=4242 " && poll 20 destroyed "sport=21003 "
result ct_events_expiries_announced "$([ "$ok_reset$?" = 00 ] && echo 0 || echo 1)"
same_shape ct_events_reset_then_timed_out "sport=21003 "
same_shape ct_events_udp_exchange_expires "sport=21001 "
same_shape ct_events_udp_unreplied_expires "sport=21002 "
same_shape ct_events_icmp_expires "id=4242 "
stop_reader "$EV_PID"

# nf_nat's masquerade, conntrack -E still reading.
xct_r rules clear >/dev/null 2>&1
xct_r detach --all >/dev/null 2>&1
XCT_ATTACHED=0
in_ns "$NS_R" nft -f - <<-'EOF'
	table ip xctnat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "veth-r-s" masquerade
		}
	}
EOF
ok_nft=$?
nat_traffic "$COUT" 21042 21043
ok_c=$?
ct_r -D -p tcp --orig-port-src 21042 >/dev/null 2>&1
ct_r -D -p udp --orig-port-src 21043 >/dev/null 2>&1
poll 10 sh -c "[ \$(grep -c 'DESTROY.*sport=2104[23] ' '$COUT') -ge 2 ]"
ok_cd=$?
stop_reader "$CT_PID"
x=$(nat_lines "$XOUT" 21040 21041)
c=$(nat_lines "$COUT" 21042 21043)
result ct_events_masquerade_lines_equal_conntrack \
	"$([ "$ok_load$ok_x$ok_xd$ok_nft$ok_c$ok_cd" = 000000 ] && [ -n "$x" ] && [ "$x" = "$c" ] && grep -q "NEW.* 120 SYN_SENT .*dst=$R4S " <<<"$x" && echo 0 || echo 1)" \
	"steps $ok_load$ok_x$ok_xd$ok_nft$ok_c$ok_cd" "xct: $(echo "$x" | tr '\n' '|')" "conntrack: $(echo "$c" | tr '\n' '|')"
