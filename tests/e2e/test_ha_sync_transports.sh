#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xctd's sync over TCP and multicast, against a real conntrackd (Debian's,
# configured with the same transport) on a backup firewall, and against a
# second xct node (xct attached to the backup's sync0, its own xctd).  For
# each transport:
#
#   1. xct -> conntrackd: a ping and a UDP flow through the router appear
#      in conntrackd's external cache (-e) with their tuples;
#   2. conntrackd -> xct: a connection of the backup's nf_conntrack reaches
#      xctd's cache, and xct sync commit puts it into xct's table,
#      ESTABLISHED;
#   3. TCP (FTFW): conntrackd killed, xctd counts its connection's end and
#      the peer's; conntrackd started again, both connections come back
#      (counted), xctd asks the new conntrackd for its table, and later
#      events go both ways: a new flow through the
#      router reaches the new conntrackd's cache, a new connection of the
#      backup xctd's cache; the stream lost nothing and /metrics counts
#      the connections as xct sync stats does; xctd restarted, conntrackd
#      connects to it again and its resync brings conntrackd's table;
#   4. xct <-> xct: the router's flows reach the backup xctd's cache and
#      its table after a commit; a ping the backup's xct tracks on the
#      sync link reaches the router xctd's cache and its table; TCP: the
#      backup's xctd restarted, the router reconnects and answers its
#      resync;
#   5. multicast: xctd joins the group on sync0, no datagram of its own
#      comes back to it (loopback off) while conntrackd's come in, and it
#      sends with TTL 1;
#   6. IPv6 multicast (ff02::3780 on sync0) and UDP bound to the
#      interface, between the two xct nodes; an interface that is not
#      there stops xctd with a message;
#   7. bad transport options exit 2.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=hasynctr
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CTD_TEST=ha_sync_transports
source "$(dirname "${BASH_SOURCE[0]}")/ctd_lib.sh"

# A second pair of addresses on the sync link, for traffic the backup's
# xct tracks (the sync addresses themselves are ignored by its xctd).
PING_R=10.231.8.1
PING_B=10.231.8.2
SYNC_GROUP=225.0.0.50
METRICS_PORT=9468
XCTD_B_PID=""

# The backup's own xct, beside the lib's clean-up.
ctd_cleanup_more() {
	[ -n "$PIN_ROOT" ] && ip netns exec "$NS_B" "$XCT" --pin-path "$PIN_ROOT/b" detach --all \
		>/dev/null 2>&1
}

xb() { ip netns exec "$NS_B" "$XCT" --pin-path "$PIN_ROOT/b" --socket "$WORK/b.sock" "$@"; }
bstat() { xb -j sync stats 2>/dev/null | jget "$@"; }
bstat_ge() { [ "$(bstat "$1")" -ge "$2" ] 2>/dev/null; }

in_external() { ctd -e 2>/dev/null | grep -qE -- "$1"; }

# start_ctd TRANSPORT MODE: conntrackd on the backup, until it answers.
start_ctd() {
	ctd_conf "$2" "$1" >"$WORK/ctd.conf"
	rm -f "$WORK/ctd.lock" "$WORK/ctd.ctl"
	ip netns exec "$NS_B" conntrackd -C "$WORK/ctd.conf" >"$WORK/ctd.out" 2>&1 &
	CTD_PID=$!
	poll 10 ctd -s
}
stop_ctd() {
	[ -n "$CTD_PID" ] || return 0
	kill "$CTD_PID" 2>/dev/null
	wait "$CTD_PID" 2>/dev/null
	CTD_PID=""
}

# The router's xctd with the link arguments given.
start_a() {
	start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" "$@" &&
		poll 10 grep -q "syncing connections with" "$WORK/xctd.log"
}
stop_a() {
	kill "$XCTD_PID" 2>/dev/null
	wait "$XCTD_PID" 2>/dev/null
}

# The backup's xctd, over its own xct.
start_b() {
	: >"$WORK/b.log"
	ip netns exec "$NS_B" "$XCTD" --foreground --pin-path "$PIN_ROOT/b" --socket "$WORK/b.sock" \
		--sync-ignore-address "$SYNC_R" --sync-ignore-address "$SYNC_B" "$@" \
		2>>"$WORK/b.log" &
	XCTD_B_PID=$!
	poll 10 grep -q "syncing connections with" "$WORK/b.log"
}
stop_b() {
	kill "$XCTD_B_PID" 2>/dev/null
	wait "$XCTD_B_PID" 2>/dev/null
}

# A UDP flow from the client to the server's discard port, source port $1.
udp_flow() {
	in_ns "$NS_C" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.sendto(b"x", (sys.argv[1], 9))' "$S4" "$1"
}
xct_has_udp() { xct_r ct list -p udp --sport "$1" 2>/dev/null | grep -q "dport=9"; }

# backup_conn SPORT: an ESTABLISHED TCP connection in the backup's nf_conntrack.
backup_conn() {
	in_ns "$NS_B" conntrack -I -p tcp -s "$C4" -d "$S4" --sport "$1" --dport 7005 \
		--state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600 >/dev/null 2>&1
}
xct_has_tcp() {
	xct_r ct list -p tcp --sport "$1" 2>/dev/null | grep -q "ESTABLISHED"
}

setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
xct_attach native || fail_setup "xct attach"
WORK=$(mktemp -d /tmp/xct-hasynctr.XXXXXX) || fail_setup "work dir"
chmod 700 "$WORK"
mkdir -p "$WORK/run" && chmod 700 "$WORK/run"

ip netns add "$NS_B" || fail_setup "backup namespace"
ip link add sync0 netns "$NS_R" type veth peer name sync0 netns "$NS_B" || fail_setup "sync link"
in_ns "$NS_R" ip addr add "$SYNC_R/24" dev sync0 &&
	in_ns "$NS_R" ip addr add "$PING_R/24" dev sync0 &&
	in_ns "$NS_B" ip addr add "$SYNC_B/24" dev sync0 &&
	in_ns "$NS_B" ip addr add "$PING_B/24" dev sync0 &&
	in_ns "$NS_R" ip link set sync0 up &&
	in_ns "$NS_B" ip link set sync0 up &&
	in_ns "$NS_B" ip link set lo up || fail_setup "sync link addresses"
poll 10 in_ns "$NS_R" ping -c 1 -W 1 "$SYNC_B" || fail_setup "sync link does not pass"

# ---- TCP, FTFW, against conntrackd ----
start_ctd tcp FTFW || fail_setup "conntrackd (TCP): $(cat "$WORK/ctd.out" "$WORK/ctd.log" 2>/dev/null)"
start_a --sync-transport tcp --sync-peer "$SYNC_B:$SYNC_PORT" --sync-listen "$SYNC_R:$SYNC_PORT" \
	--sync-mode ftfw --metrics-listen "127.0.0.1:$METRICS_PORT" ||
	fail_setup "xctd (TCP): $(cat "$WORK/xctd.log")"
poll 10 stat_is link.connected true && poll 10 stat_is link.peer_connected true
check ha_sync_tcp_both_connections_up $? "$(xs sync stats 2>&1)"
stat_is transport tcp
check ha_sync_tcp_stats_name_the_transport $? "$(xs sync stats 2>&1 | head -2)"
poll 10 stat_is ftfw.hello_answered true
check ha_sync_tcp_ftfw_hello_answered $? "$(xs sync stats 2>&1)"

# 1. xct -> conntrackd
in_ns "$NS_C" ping -c 1 -W 2 "$S4" >/dev/null && udp_flow 42001 && poll 5 xct_has_udp 42001 ||
	fail_setup "flows through the router: $(xct_r ct list 2>&1)"
poll 10 in_external "^icmp +1 src=$C4 dst=$S4 type=8 code=0 id=[0-9]+ " &&
	poll 10 in_external "^udp +17 src=$C4 dst=$S4 sport=42001 dport=9 "
check ha_sync_tcp_conntrackd_gets_the_flows $? "$(ctd -e 2>&1 | head -5); $(xs sync stats 2>&1)"

# 2. conntrackd -> xct, then a commit
cache0=$(stat cache.entries)
backup_conn 43001 || fail_setup "conntrack -I"
poll 10 stat_ge cache.entries $((cache0 + 1)) && xs sync commit >/dev/null && poll 5 xct_has_tcp 43001
check ha_sync_tcp_xctd_gets_conntrackds_connection $? "$(xs sync stats 2>&1); $(xct_r ct list -p tcp 2>&1)"

# 3. conntrackd restarted: the link comes back, later events go both ways
stop_ctd
poll 10 stat_is link.peer_connected false && poll 10 stat_ge link.closes 1
check ha_sync_tcp_peer_gone_counted $? "$(xs sync stats 2>&1)"
start_ctd tcp FTFW || fail_setup "conntrackd again: $(cat "$WORK/ctd.out" 2>/dev/null)"
poll 15 stat_ge link.accepts 2 && poll 15 stat_is link.connected true &&
	stat_ge link.connects 2 && stat_ge link.disconnects 1
check ha_sync_tcp_link_back_after_restart $? "$(xs sync stats 2>&1)"
# Each connection of the peer's brings a resync request: what it sent
# while it could not reach xctd is lost.
poll 5 stat_is sent.resync 2
check ha_sync_tcp_resync_per_peer_connection $? "$(xs sync stats 2>&1)"
grep -q "the sync connection to $SYNC_B:$SYNC_PORT ended: reconnecting" "$WORK/xctd.log" &&
	grep -q "the sync peer $SYNC_B:$SYNC_PORT connected" "$WORK/xctd.log"
check ha_sync_tcp_reconnect_logged $? "$(grep sync "$WORK/xctd.log" | tail -n 5)"
udp_flow 42002 && poll 5 xct_has_udp 42002 || fail_setup "flow after the restart"
poll 10 in_external "^udp +17 src=$C4 dst=$S4 sport=42002 dport=9 "
check ha_sync_tcp_events_reach_the_restarted_peer $? "$(ctd -e 2>&1 | head -5); $(xs sync stats 2>&1)"
cache0=$(stat cache.entries)
backup_conn 43002 || fail_setup "conntrack -I after the restart"
poll 10 stat_ge cache.entries $((cache0 + 1)) && xs sync commit >/dev/null && poll 5 xct_has_tcp 43002
check ha_sync_tcp_restarted_peers_events_reach_xctd $? "$(xs sync stats 2>&1)"
stat_is link.dropped 0 && stat_is link.bad_framing 0 && stat_is malformed.truncated 0 &&
	stat_is malformed.version 0 && stat_is malformed.attr_unknown 0
check ha_sync_tcp_stream_clean $? "$(xs sync stats 2>&1)"
scrape=$(in_ns "$NS_R" curl -s --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics")
grep -qx 'xct_sync_tcp_connected 1' <<<"$scrape" &&
	grep -qx 'xct_sync_tcp_peer_connected 1' <<<"$scrape" &&
	grep -qx "xct_sync_tcp_connects_total $(stat link.connects)" <<<"$scrape" &&
	grep -qx "xct_sync_tcp_disconnects_total $(stat link.disconnects)" <<<"$scrape" &&
	grep -qx "xct_sync_tcp_accepts_total $(stat link.accepts)" <<<"$scrape" &&
	grep -qx "xct_sync_tcp_closes_total $(stat link.closes)" <<<"$scrape"
check ha_sync_tcp_metrics $? "$(grep xct_sync_tcp <<<"$scrape")"
# xctd restarted: conntrackd connects to the new one, which gets its
# table back through the resync it asks for first.
backup_n=$(in_ns "$NS_B" conntrack -L -p tcp --dport 7005 2>/dev/null | grep -c .)
stop_a
start_a --sync-transport tcp --sync-peer "$SYNC_B:$SYNC_PORT" --sync-listen "$SYNC_R:$SYNC_PORT" \
	--sync-mode ftfw || fail_setup "xctd (TCP) again: $(cat "$WORK/xctd.log")"
poll 15 stat_is link.peer_connected true && poll 15 stat_is link.connected true &&
	poll 15 stat_ge cache.entries "$backup_n"
check ha_sync_tcp_restarted_xctd_gets_conntrackds_table $? "backup has $backup_n; $(xs sync stats 2>&1)"
stop_a
stop_ctd

# ---- TCP, xct <-> xct ----
PIN_B="$PIN_ROOT/b"
xb attach --mode native sync0 >"$WORK/attach-b.out" 2>&1 || fail_setup "xct on the backup: $(cat "$WORK/attach-b.out")"
start_a --sync-transport tcp --sync-peer "$SYNC_B:$SYNC_PORT" --sync-listen "$SYNC_R:$SYNC_PORT" \
	--sync-mode ftfw || fail_setup "xctd (TCP, xct peer): $(cat "$WORK/xctd.log")"
start_b --sync-transport tcp --sync-peer "$SYNC_R:$SYNC_PORT" --sync-listen "$SYNC_B:$SYNC_PORT" \
	--sync-mode ftfw || fail_setup "backup xctd: $(cat "$WORK/b.log")"
poll 10 stat_is link.connected true && poll 10 stat_is link.peer_connected true &&
	poll 10 stat_is ftfw.hello_answered true
check ha_sync_tcp_xct_pair_connected $? "$(xs sync stats 2>&1); $(xb sync stats 2>&1)"
udp_flow 42003 && poll 5 xct_has_udp 42003 || fail_setup "flow (xct pair)"
poll 10 bstat_ge cache.entries 1 && xb sync commit >/dev/null &&
	poll 5 sh -c "ip netns exec $NS_B $XCT --pin-path $PIN_B ct list -p udp --sport 42003 | grep -q 'dport=9'"
check ha_sync_tcp_xct_to_xct $? "$(xb sync stats 2>&1); $(xb ct list 2>&1 | head -5)"
in_ns "$NS_R" ping -c 1 -W 2 -I "$PING_R" "$PING_B" >/dev/null || fail_setup "ping on the sync link"
poll 10 sh -c "ip netns exec $NS_R $XCT --pin-path $XCT_PIN --socket $WORK/run/xctd.sock -j sync stats | grep -q '\"entries\":[1-9]'" &&
	xs sync commit >/dev/null &&
	poll 5 sh -c "ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct list -p icmp | grep -q 'src=$PING_R dst=$PING_B'"
check ha_sync_tcp_xct_from_xct $? "$(xs sync stats 2>&1); $(xct_r ct list -p icmp 2>&1)"
# The backup's xctd restarted: the router reconnects to it, accepts its
# new connection in place of the old, and answers its resync over them.
stop_b
start_b --sync-transport tcp --sync-peer "$SYNC_R:$SYNC_PORT" --sync-listen "$SYNC_B:$SYNC_PORT" \
	--sync-mode ftfw || fail_setup "backup xctd again: $(cat "$WORK/b.log")"
poll 15 stat_ge link.accepts 2 && poll 15 stat_ge link.connects 2 && stat_ge link.disconnects 1 &&
	poll 15 bstat_ge cache.entries 1
check ha_sync_tcp_xct_peer_restart_resyncs $? "$(xb sync stats 2>&1); $(xs sync stats 2>&1)"
stop_b
stop_a

# ---- Multicast, NOTRACK, against conntrackd ----
start_ctd multicast NOTRACK ||
	fail_setup "conntrackd (multicast): $(cat "$WORK/ctd.out" "$WORK/ctd.log" 2>/dev/null)"
start_a --sync-multicast "$SYNC_GROUP:$SYNC_PORT" --sync-interface sync0 ||
	fail_setup "xctd (multicast): $(cat "$WORK/xctd.log")"
stat_is transport multicast
check ha_sync_mcast_stats_name_the_transport $? "$(xs sync stats 2>&1 | head -2)"
in_ns "$NS_R" ip maddr show dev sync0 | grep -q "$SYNC_GROUP"
check ha_sync_mcast_joined_on_the_interface $? "$(in_ns "$NS_R" ip maddr show dev sync0)"
in_ns "$NS_C" ping -c 1 -W 2 "$S4" >/dev/null && udp_flow 42011 && poll 5 xct_has_udp 42011 ||
	fail_setup "flows through the router (multicast)"
poll 10 in_external "^udp +17 src=$C4 dst=$S4 sport=42011 dport=9 " &&
	poll 10 in_external "^icmp +1 src=$C4 dst=$S4 type=8 "
check ha_sync_mcast_conntrackd_gets_the_flows $? "$(ctd -e 2>&1 | head -5); $(xs sync stats 2>&1)"
cache0=$(stat cache.entries)
backup_conn 43011 || fail_setup "conntrack -I (multicast)"
poll 10 stat_ge cache.entries $((cache0 + 1)) && xs sync commit >/dev/null && poll 5 xct_has_tcp 43011
check ha_sync_mcast_xctd_gets_conntrackds_connection $? "$(xs sync stats 2>&1)"
# Loopback off: none of xctd's datagrams came back to it; conntrackd's did.
poll 5 stat_ge received.alive 1 && stat_is link.own_datagrams 0 && stat_is sequence.before 0
check ha_sync_mcast_no_own_datagrams $? "$(xs sync stats 2>&1)"
# TTL 1, as conntrackd: the datagrams xctd sends to the group.
in_ns "$NS_B" timeout 5 tcpdump -c 1 -ni sync0 -v "udp and dst $SYNC_GROUP and src $SYNC_R" \
	>"$WORK/mcast.cap" 2>/dev/null
grep -q "ttl 1," "$WORK/mcast.cap"
check ha_sync_mcast_ttl_1 $? "$(cat "$WORK/mcast.cap")"
stop_a
stop_ctd

# ---- Multicast, xct <-> xct ----
start_a --sync-multicast "$SYNC_GROUP:$SYNC_PORT" --sync-interface sync0 --sync-mode ftfw ||
	fail_setup "xctd (multicast, xct peer): $(cat "$WORK/xctd.log")"
start_b --sync-multicast "$SYNC_GROUP:$SYNC_PORT" --sync-interface sync0 --sync-mode ftfw ||
	fail_setup "backup xctd (multicast): $(cat "$WORK/b.log")"
poll 10 stat_is ftfw.hello_answered true
check ha_sync_mcast_xct_pair_hello $? "$(xs sync stats 2>&1)"
udp_flow 42012 && poll 5 xct_has_udp 42012 || fail_setup "flow (multicast xct pair)"
poll 10 sh -c "ip netns exec $NS_B $XCT --pin-path $PIN_B --socket $WORK/b.sock sync commit >/dev/null; ip netns exec $NS_B $XCT --pin-path $PIN_B ct list -p udp --sport 42012 | grep -q 'dport=9'"
check ha_sync_mcast_xct_to_xct $? "$(xb sync stats 2>&1)"
in_ns "$NS_R" ping -c 1 -W 2 -I "$PING_R" "$PING_B" >/dev/null || fail_setup "ping on the sync link (multicast)"
poll 10 sh -c "ip netns exec $NS_R $XCT --pin-path $XCT_PIN --socket $WORK/run/xctd.sock sync commit >/dev/null; ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct list -p icmp | grep -q 'src=$PING_R dst=$PING_B'"
check ha_sync_mcast_xct_from_xct $? "$(xs sync stats 2>&1)"
stat_is link.own_datagrams 0 && [ "$(bstat link.own_datagrams)" = 0 ]
check ha_sync_mcast_xct_pair_no_own_datagrams $? "$(xs sync stats 2>&1)"
stop_b
stop_a

# ---- IPv6 multicast, and UDP bound to the interface, xct <-> xct ----
poll 10 sh -c "ip -n $NS_B -6 addr show dev sync0 scope link | grep -q 'inet6' && ! ip -n $NS_B -6 addr show dev sync0 | grep -q tentative" ||
	fail_setup "no link-local address on the backup's sync0"
poll 10 sh -c "! ip -n $NS_R -6 addr show dev sync0 | grep -q tentative" || fail_setup "tentative address"
start_a --sync-multicast "[ff02::3780]:$SYNC_PORT" --sync-interface sync0 ||
	fail_setup "xctd (IPv6 multicast): $(cat "$WORK/xctd.log")"
start_b --sync-multicast "[ff02::3780]:$SYNC_PORT" --sync-interface sync0 ||
	fail_setup "backup xctd (IPv6 multicast): $(cat "$WORK/b.log")"
udp_flow 42021 && poll 5 xct_has_udp 42021 || fail_setup "flow (IPv6 multicast)"
poll 10 sh -c "ip netns exec $NS_B $XCT --pin-path $PIN_B --socket $WORK/b.sock sync commit >/dev/null; ip netns exec $NS_B $XCT --pin-path $PIN_B ct list -p udp --sport 42021 | grep -q 'dport=9'"
check ha_sync_mcast6_xct_to_xct $? "$(xb sync stats 2>&1)"
stat_is link.own_datagrams 0 && [ "$(bstat link.own_datagrams)" = 0 ] && stat_ge received.messages 1
check ha_sync_mcast6_peer_heard_no_own_datagrams $? "$(xs sync stats 2>&1)"
stop_b
stop_a
start_a --sync-peer "$SYNC_B:$SYNC_PORT" --sync-listen "$SYNC_R:$SYNC_PORT" --sync-interface sync0 ||
	fail_setup "xctd (UDP on sync0): $(cat "$WORK/xctd.log")"
start_b --sync-peer "$SYNC_R:$SYNC_PORT" --sync-listen "$SYNC_B:$SYNC_PORT" --sync-interface sync0 ||
	fail_setup "backup xctd (UDP on sync0): $(cat "$WORK/b.log")"
udp_flow 42022 && poll 5 xct_has_udp 42022 || fail_setup "flow (UDP on sync0)"
poll 10 sh -c "ip netns exec $NS_B $XCT --pin-path $PIN_B --socket $WORK/b.sock sync commit >/dev/null; ip netns exec $NS_B $XCT --pin-path $PIN_B ct list -p udp --sport 42022 | grep -q 'dport=9'"
check ha_sync_udp_bound_to_the_interface $? "$(xb sync stats 2>&1)"
stop_b
stop_a
# An interface that is not there: a runtime error, named.
expect ha_sync_transports_missing_interface 1 "cannot bind the sync socket to nosuch0" \
	ip netns exec "$NS_R" "$XCTD" --foreground --pin-path "$XCT_PIN" --socket "$WORK/run/x.sock" \
	--sync-peer "$SYNC_B:$SYNC_PORT" --sync-interface nosuch0
expect ha_sync_transports_missing_mcast_interface 1 "cannot use nosuch0 for the sync" \
	ip netns exec "$NS_R" "$XCTD" --foreground --pin-path "$XCT_PIN" --socket "$WORK/run/x.sock" \
	--sync-multicast "$SYNC_GROUP:$SYNC_PORT" --sync-interface nosuch0

# ---- Options ----
usage_exits_2 ha_sync_transports_bad_options "$XCTD" \
	"--sync-peer 10.0.0.1:3780 --sync-transport sctp" \
	"--sync-transport tcp" \
	"--sync-transport multicast --sync-peer 10.0.0.1:3780" \
	"--sync-multicast 10.0.0.1:3780 --sync-interface sync0" \
	"--sync-multicast 225.0.0.50 --sync-interface sync0" \
	"--sync-multicast 225.0.0.50:3780" \
	"--sync-multicast 225.0.0.50:3780 --sync-interface sync0 --sync-peer 10.0.0.1:3780" \
	"--sync-multicast 225.0.0.50:3780 --sync-interface sync0 --sync-transport tcp" \
	"--sync-multicast 225.0.0.50:3780 --sync-interface sync0 --sync-listen 10.0.0.2:3780" \
	"--sync-peer 10.0.0.1:3780 --sync-interface a/b" \
	"--sync-interface sync0"
printf '[sync]\nmulticast = 225.0.0.50:3780\n' >"$WORK/bad.conf"
expect ha_sync_transports_bad_conf 2 "bad.conf:2:1: 'multicast' in \[sync\] needs an 'interface'" \
	"$XCTD" --config "$WORK/bad.conf"

[ "$failures" = 0 ]
