#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# conntrackd -> xct with real TCP connections: an nf_conntrack firewall
# (namespace B) running Debian's conntrackd forwards long-lived TCP
# connections between the client and the server of lib.sh; its conntrackd
# syncs (NOTRACK, UDP) to xctd on the router, where xct runs with `policy
# drop` and `accept ct state established,related`.  The client's and the
# server's routes to each other then move from B to the router, as a
# failover moves the gateway, and each connection must go on there: frames
# both ways every 20 ms, each checked by a reader on the other side
# (ha_traffic.py: its sequence number, its bytes, their CRC-32).
#
#   1. The control: the connections reached xctd's cache, which is flushed
#      before the move: xct drops their packets by its policy and no frame
#      gets through.
#   2. xct sync commit after the move: the same kind of connections go on
#      through xct, both ways, every frame checked.
#   3. --sync-commit-on-receive: the connections are in xct's table as
#      they arrive, without a commit, and go on through xct after the
#      move; a DESTROY on B (conntrack -D) takes its connection out of
#      xct's table.
#   4. State Accept { ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP }
#      against conntrackd's: one TCP connection through B, whose conntrackd
#      has that filter, and one through xct, whose xctd has
#      --sync-state-accept with the same states, each from its SYN to its
#      DESTROY in TIME_WAIT: the sync link's capture has the same messages
#      of each sender (a CT_NEW and a CT_UPD taken alike), in the same
#      order, with the same states; and xctd's carry both window scales,
#      which conntrackd takes (nothing malformed);
#   5. --sync-commit-on-receive needs --sync-peer.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=hasyncctd
CTD_TEST=ha_sync_from_ctd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ctd_lib.sh"

TRAFFIC=$E2E_DIR/ha_traffic.py
# B's data links: to the client (K_C on B, C2 on the client), to the
# server (K_S, S2).
K_C=10.231.11.1
C2=10.231.11.2
K_S=10.231.12.1
S2=10.231.12.2
PORT=7100
STREAMS=3

traffic() { "$PYTHON" "$TRAFFIC" "$@"; }
# The state files of the streams called NAME, both directions.
files() { echo "$WORK/$1-cli.json $WORK/$1-srv.json"; }
report() { traffic report "$2" $(files "$1"); }

# start_streams NAME PORT: STREAMS connections on PORT, frames flowing
# both ways; their pids in STREAM_PIDS_NAME.
start_streams() {
	local pids=()
	ip netns exec "$NS_S" "$PYTHON" "$TRAFFIC" server "$2" "$WORK/$1-srv.json" \
		2>"$WORK/$1-srv.err" &
	pids+=($!)
	poll 10 listening "$NS_S" tcp "$2" || return 1
	ip netns exec "$NS_C" "$PYTHON" "$TRAFFIC" streams "$S4" "$2" "$STREAMS" \
		"$WORK/$1-cli.json" 2>"$WORK/$1-cli.err" &
	pids+=($!)
	BG_PIDS+=("${pids[@]}")
	eval "STREAM_PIDS_$1=(${pids[*]})"
	# shellcheck disable=SC2046
	poll 10 traffic progressed "$(printf '0 %.0s' $(seq $((2 * STREAMS))))" 20 $(files "$1")
}
stop_streams() {
	local p
	eval "set -- \${STREAM_PIDS_$1[@]}"
	for p in "$@"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# progressed_by NAME N TIMEOUT: every connection, both ways, N more frames.
progressed_by() {
	local base
	# shellcheck disable=SC2046
	base=$(traffic frames $(files "$1"))
	# shellcheck disable=SC2046
	poll "$3" traffic progressed "$base" "$2" $(files "$1")
}

# The client's and the server's routes to each other: through B, or (the
# more specific routes gone) through the router, their default gateway.
via_b() {
	in_ns "$NS_C" ip route replace "$S4/32" via "$K_C" dev c2 src "$C4" &&
		in_ns "$NS_S" ip route replace "$C4/32" via "$K_S" dev s2 src "$S4"
}
via_xct() {
	in_ns "$NS_C" ip route del "$S4/32" && in_ns "$NS_S" ip route del "$C4/32"
}

# The packets xct's policy dropped (the first line of rules show).
policy_drops() {
	xct_r -j rules show | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[0]["packets"])'
}
drops_rose() { [ "$(policy_drops)" -ge "$1" ]; }

# TCP connections to PORT in xct's table, ESTABLISHED.
# quiet_second NAME: no frame of the streams NAME, either way, for a second.
quiet_second() {
	local b
	# shellcheck disable=SC2046
	b=$(traffic frames $(files "$1"))
	sleep 1
	# shellcheck disable=SC2046
	traffic stalled "$b" $(files "$1")
}
xct_established() { xct_r ct list -p tcp --dport "$1" 2>/dev/null | grep -c " ESTABLISHED "; }
xct_established_are() { [ "$(xct_established "$1")" = "$2" ]; }
# TCP connections to PORT in conntrackd's internal cache (B's own).
ctd_internal() { ctd -i 2>/dev/null | grep -c "dport=$1 "; }
# xctd's external cache holds at least N connections.
cached_at_least() { stat_ge cache.entries "$1"; }

ctd_setup
# B's data links and its forwarding, with conntrack (the ct expression
# loads it) accepting everything: the connections start there.
ip link add c2 netns "$NS_C" type veth peer name k-c netns "$NS_B" &&
	ip link add s2 netns "$NS_S" type veth peer name k-s netns "$NS_B" ||
	fail_setup "B's links"
in_ns "$NS_C" ip addr add "$C2/24" dev c2 &&
	in_ns "$NS_B" ip addr add "$K_C/24" dev k-c &&
	in_ns "$NS_S" ip addr add "$S2/24" dev s2 &&
	in_ns "$NS_B" ip addr add "$K_S/24" dev k-s &&
	in_ns "$NS_C" ip link set c2 up && in_ns "$NS_B" ip link set k-c up &&
	in_ns "$NS_S" ip link set s2 up && in_ns "$NS_B" ip link set k-s up ||
	fail_setup "B's addresses"
in_ns "$NS_B" sysctl -qw net.ipv4.ip_forward=1 &&
	in_ns "$NS_B" ip route add "$C4/32" via "$C2" dev k-c &&
	in_ns "$NS_B" ip route add "$S4/32" via "$S2" dev k-s || fail_setup "B's routes"
in_ns "$NS_B" nft -f - <<-'EOF' || fail_setup "B's nftables"
	table ip xct_fw_b {
		chain forward {
			type filter hook forward priority 0; policy accept;
			ct state invalid counter
		}
	}
EOF
via_b || fail_setup "routes through B"
poll 10 in_ns "$NS_C" ping -c 1 -W 1 "$S4" || fail_setup "no path through B"
in_ns "$NS_B" conntrack -L -p icmp 2>/dev/null | grep -q "src=$C4 dst=$S4" ||
	fail_setup "B does not track: $(in_ns "$NS_B" conntrack -L 2>&1)"
# Only the test's connections from here: the caches count them.
in_ns "$NS_B" conntrack -F >/dev/null 2>&1

# xct on the router: established connections only.
cat >"$WORK/rules.xct" <<-'EOF'
	policy drop
	accept ct state established,related
	accept icmp
EOF
xct_r rules load "$WORK/rules.xct" >"$WORK/rules.out" 2>&1 || fail_setup "rules: $(cat "$WORK/rules.out")"

ctd_conf NOTRACK >"$WORK/ctd.conf"
ctd_start
start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" --sync-peer "$SYNC_B:$SYNC_PORT" \
	--sync-listen "$SYNC_R:$SYNC_PORT" || fail_setup "xctd: $(cat "$WORK/xctd.log")"

# ---- 1. The control: the cache flushed, the connections die at xct ----
start_streams nosync $PORT || fail_setup "streams through B: $(cat "$WORK"/nosync-*.err)"
poll 10 cached_at_least $STREAMS ||
	fail_setup "xctd's cache has $(stat cache.entries) connections, B $(ctd_internal $PORT)"
xs sync flush >/dev/null && stat_is cache.entries 0 || fail_setup "flush"
drops=$(policy_drops)
via_xct || fail_setup "routes through xct"
out=$(xs sync commit 2>&1)
grep -q "^committed 0 of 0 connections" <<<"$out"
check ha_sync_from_ctd_nosync_commit_finds_nothing $? "$out"
# TCP retransmits what is in flight: xct's policy drops it, and not one
# frame gets through.
poll 20 drops_rose $((drops + 5))
rose=$?
# A second without a frame: polled for, since a reader on a loaded machine
# may still take frames that reached its socket before the move.
poll 10 quiet_second nosync
stalled=$?
[ "$rose" = 0 ] && [ "$stalled" = 0 ] && [ "$(xct_established $PORT)" = 0 ]
check ha_sync_from_ctd_nosync_connections_dropped $? "policy drops $drops then $(policy_drops), stalled: $stalled; $(report nosync 0)"
stop_streams nosync
via_b || fail_setup "routes back through B"

# ---- 2. xct sync commit: the connections go on through xct ----
cached0=$(stat cache.entries)
start_streams commit $((PORT + 1)) || fail_setup "streams through B: $(cat "$WORK"/commit-*.err)"
poll 10 cached_at_least $((cached0 + STREAMS))
check ha_sync_from_ctd_tcp_in_cache $? "xctd's cache $(stat cache.entries), B's conntrackd $(ctd_internal $((PORT + 1)))"
[ "$(xct_established $((PORT + 1)))" = 0 ]
check ha_sync_from_ctd_tcp_not_in_table_before_commit $? "$(xct_r ct list -p tcp 2>&1)"
since=$(traffic now)
via_xct || fail_setup "routes through xct"
out=$(xs -j sync commit 2>&1)
"$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)["commit"]
assert r["committed"] >= int(sys.argv[1]) and r["liberal"] >= int(sys.argv[1]), r' \
	$STREAMS <<<"$out"
check ha_sync_from_ctd_commit $? "$out"
xct_established_are $((PORT + 1)) $STREAMS
check ha_sync_from_ctd_committed_established $? "$(xct_r ct list -p tcp 2>&1)"
progressed_by commit 50 20
check ha_sync_from_ctd_tcp_goes_on_through_xct $? "$(report commit "$since")"
report commit "$since" | grep "longest gap of any"
# Through xct indeed: B sees none of it now.
b_pkts() { in_ns "$NS_B" ip -s -j link show k-c | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
b0=$(b_pkts)
progressed_by commit 20 10
[ "$(b_pkts)" -le $((b0 + 5)) ]
check ha_sync_from_ctd_traffic_left_b $? "B received $b0 then $(b_pkts) packets from the client"
stop_streams commit
via_b || fail_setup "routes back through B"

# ---- 3. Commit on receive ----
kill "$XCTD_PID" 2>/dev/null
wait "$XCTD_PID" 2>/dev/null
start_xctd "$WORK/run/xctd.sock" "$WORK/xctd2.log" --sync-peer "$SYNC_B:$SYNC_PORT" \
	--sync-listen "$SYNC_R:$SYNC_PORT" --sync-commit-on-receive ||
	fail_setup "xctd: $(cat "$WORK/xctd2.log")"
grep -q "sync: the peer's connections committed as they arrive" "$WORK/xctd2.log"
check ha_sync_from_ctd_on_receive_logged $? "$(cat "$WORK/xctd2.log")"
start_streams direct $((PORT + 2)) || fail_setup "streams through B: $(cat "$WORK"/direct-*.err)"
poll 10 xct_established_are $((PORT + 2)) $STREAMS && stat_is commits.requests 0 &&
	stat_ge commit_on_receive.inserted $STREAMS
check ha_sync_from_ctd_on_receive_in_table_without_commit $? "$(xct_r ct list -p tcp --dport $((PORT + 2)) 2>&1); $(xs sync stats 2>&1)"
since=$(traffic now)
via_xct || fail_setup "routes through xct"
progressed_by direct 50 20
check ha_sync_from_ctd_on_receive_tcp_goes_on_through_xct $? "$(report direct "$since")"
# B's DESTROY of one of them takes it out of xct's table.
sport=$(xct_r ct list -p tcp --dport $((PORT + 2)) 2>/dev/null | grep -oE 'sport=[0-9]+' | head -1)
sport=${sport#sport=}
deleted0=$(stat commit_on_receive.deleted)
in_ns "$NS_B" conntrack -D -p tcp --sport "$sport" --dport $((PORT + 2)) >/dev/null 2>&1
gone() { [ -z "$(xct_r ct list -p tcp --sport "$sport" --dport $((PORT + 2)) 2>/dev/null)" ]; }
poll 10 gone && stat_ge commit_on_receive.deleted $((deleted0 + 1)) &&
	xct_established_are $((PORT + 2)) $((STREAMS - 1))
check ha_sync_from_ctd_on_receive_destroy_removes $? "sport $sport: $(xct_r ct list -p tcp --dport $((PORT + 2)) 2>&1); $(xs sync stats 2>&1)"
stop_streams direct

# ---- 4. State Accept, as conntrackd's ----
ACCEPT="ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT"
ctd_stop
ctd_conf NOTRACK udp "State Accept { $ACCEPT for TCP }" >"$WORK/ctd.conf"
ctd_start
kill "$XCTD_PID" 2>/dev/null
wait "$XCTD_PID" 2>/dev/null
start_xctd "$WORK/run/xctd.sock" "$WORK/xctd3.log" --sync-peer "$SYNC_B:$SYNC_PORT" \
	--sync-listen "$SYNC_R:$SYNC_PORT" --sync-state-accept "${ACCEPT// /,}" ||
	fail_setup "xctd: $(cat "$WORK/xctd3.log")"
# New connections through xct from the client, for the one of this part.
cat >"$WORK/rules2.xct" <<-'EOF'
	policy drop
	accept ct state established,related
	accept icmp
	accept iif veth-r-c tcp flags & (fin|syn|rst|ack) == syn ct state new
EOF
xct_r rules load "$WORK/rules2.xct" >"$WORK/rules.out" 2>&1 || fail_setup "rules: $(cat "$WORK/rules.out")"
# A connection's life in steps half a second apart, so that neither
# sender sees two changes at once: data, the client's FIN (FIN_WAIT, then
# CLOSE_WAIT when the server ACKs it), the server's (LAST_ACK, then
# TIME_WAIT with the client's ACK).
LIFE_PORT=$((PORT + 3))
ip netns exec "$NS_S" "$PYTHON" -c '
import socket, sys, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(4)
while True:
    c, _ = l.accept()
    while c.recv(100):
        pass
    time.sleep(0.5)
    c.close()' $LIFE_PORT 2>/dev/null &
BG_PIDS+=($!)
poll 10 listening "$NS_S" tcp $LIFE_PORT || fail_setup "lifecycle server"
# life SPORT: one connection from the client's port SPORT.
life() {
	ip netns exec "$NS_C" "$PYTHON" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), source_address=("0.0.0.0", int(sys.argv[3])))
time.sleep(0.5)
s.sendall(b"hi")
time.sleep(0.5)
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
assert s.recv(10) == b""
time.sleep(0.5)
s.close()' "$S4" $LIFE_PORT "$1"
}
ip netns exec "$NS_R" tcpdump -i sync0 -n -U -w "$WORK/sync.pcap" udp port $SYNC_PORT \
	2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
BG_PIDS+=($TCPDUMP_PID)
poll 10 grep -q "listening on" "$WORK/tcpdump.err" || fail_setup "tcpdump: $(cat "$WORK/tcpdump.err")"
via_b || fail_setup "routes through B"
life 45001 || fail_setup "the connection through B"
in_ns "$NS_B" conntrack -D -p tcp --sport 45001 >/dev/null 2>&1 || fail_setup "conntrack -D"
via_xct || fail_setup "routes through xct"
life 45002 || fail_setup "the connection through xct: $(xct_r ct list -p tcp 2>&1)"
xct_r ct delete -p tcp --sport 45002 >/dev/null 2>&1 || fail_setup "xct ct delete"
# Both DESTROYs on the wire, then the capture's end.
seq_of() { "$PYTHON" "$E2E_DIR/ctsync_seq.py" "$WORK/sync.pcap" "$1" "$2"; }
sync_sent() { [ "$(seq_of "$1" "$2" | tail -1)" = "DEL TIME_WAIT" ]; }
poll 5 sync_sent "$SYNC_B" 45001 && poll 5 sync_sent "$SYNC_R" 45002
kill -INT "$TCPDUMP_PID" 2>/dev/null
wait "$TCPDUMP_PID" 2>/dev/null
ctd_seq=$(seq_of "$SYNC_B" 45001 | tr '\n' ',')
xct_seq=$(seq_of "$SYNC_R" 45002 | tr '\n' ',')
[ -n "$ctd_seq" ] && [ "$ctd_seq" = "$xct_seq" ]
check ha_sync_from_ctd_state_accept_as_conntrackd $? "conntrackd sent: $ctd_seq xctd sent: $xct_seq"
log "conntrackd and xctd sent: $xct_seq"
[ "$(stat sent.filtered_state)" -ge 3 ]
check ha_sync_from_ctd_state_accept_counted $? "$(xs sync stats 2>&1)"
# xctd saw the handshake: each of its messages carries both window scales
# (the client's and the server's SYN options: the same kernel's), which
# conntrackd takes: none malformed.
ws_seq=$("$PYTHON" "$E2E_DIR/ctsync_seq.py" --wscale "$WORK/sync.pcap" "$SYNC_R" 45002 | tr '\n' ',')
# (conntrackd -s network has a line of them per direction.)
malformed=$(ctd -s network 2>/dev/null | grep -oE 'Malformed messages:[[:space:]]*[0-9]+' |
	awk '{ n += $NF } END { print n + 0 }')
ws=${ws_seq%%,*}
ws=${ws##* }
[[ "$ws" =~ ^([0-9]|1[0-4])/([0-9]|1[0-4])$ ]] &&
	[ "$ws_seq" = "DATA ESTABLISHED $ws,DATA CLOSE_WAIT $ws,DATA TIME_WAIT $ws,DEL TIME_WAIT $ws," ] &&
	[ "$malformed" = 0 ]
check ha_sync_from_ctd_window_scales_sent_and_taken $? "xctd sent: $ws_seq; conntrackd's malformed: ${malformed:-?}"

# ---- 5. Options ----
usage_exits_2 ha_sync_from_ctd_bad_options "$XCTD" "--sync-commit-on-receive"

[ "$failures" = 0 ]
