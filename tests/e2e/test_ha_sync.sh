#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xctd's state sync, received by a real conntrackd (Debian's, NOTRACK over
# UDP) on a backup firewall: the router of lib.sh runs xct and xctd
# --sync-peer, the backup namespace conntrackd, on a sync link of their
# own.
#
#   1. a held TCP connection, a UDP flow with its answer and a ping through
#      the router: each appears in conntrackd's external cache (-e) with
#      the tuple and the state xct tracks it with;
#   2. committed (conntrackd -c) into the backup's nf_conntrack, they have
#      the tuples xct has, a masqueraded UDP flow its translated reply
#      tuple, the TCP connection its state and its timeout;
#   2b. conntrackd restarted (an empty cache) and asking for a resync
#      (conntrackd -n): xctd sends its whole table, the cache has them all
#      again;
#   3. deleted from xct's table (their DESTROY), they leave the cache;
#   4. conntrackd counted no lost, old or malformed message (the sequence
#      numbers follow each other), xctd's ALIVEs reach it on a quiet link,
#      and xctd heard conntrackd's;
#   5. the other way: connections of the backup's nf_conntrack reach xctd's
#      external cache through conntrackd, xct sync commit puts them into
#      xct's table (TCP liberally, with the timeout conntrackd sent), a
#      second commit changes nothing, conntrackd's DESTROY takes one out
#      of the cache, and a restarted xctd asks conntrackd for the rest;
#   5b. xct sync stats counts what went over the link (the cache as large
#      as conntrackd's table, the commits, no malformed message, no gap),
#      xctd's /metrics shows the same, and xct sync resync refills a
#      flushed cache from conntrackd;
#   6. --sync-peer and --sync-listen refuse what is not ADDR:PORT.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=hasync
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ctd_lib.sh"

METRICS_PORT=9466
TCP_PORT=7001
TCP_SPORT=41001
UDP_PORT=5353
UDP_SPORT=41002
NAT_PORT=5354
NAT_SPORT=41003

sync_cleanup() {
	exec 7>&- 2>/dev/null
	ctd_cleanup
}
trap sync_cleanup EXIT

# The lines of conntrackd's external cache.
external() { ctd -e 2>/dev/null; }

# in_external PATTERN: a line of the external cache matches (ERE).
in_external() { external | grep -qE -- "$1"; }
not_in_external() { ! in_external "$1"; }

# The network counter NAME of conntrackd -s ("msg lost: 0" and so on).
ctd_stat() {
	ctd -s network 2>/dev/null | grep -oE "$1:[[:space:]]*[0-9]+" | grep -oE '[0-9]+$' | head -1
}

write_ctd_conf() {
	ctd_conf NOTRACK >"$WORK/ctd.conf"
}

# The backup and its sync link.
ctd_setup
write_ctd_conf
ctd_start

start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" --sync-peer "$SYNC_B:$SYNC_PORT" \
	--sync-listen "$SYNC_R:$SYNC_PORT" || fail_setup "xctd: $(cat "$WORK/xctd.log")"
poll 10 grep -q "syncing connections with $SYNC_B:$SYNC_PORT" "$WORK/xctd.log" ||
	fail_setup "xctd does not sync: $(cat "$WORK/xctd.log")"

# Masquerade for the NAT flow only (the others keep their addresses).
cat >"$WORK/rules.xct" <<-EOF
	masquerade oif veth-r-s udp dport $NAT_PORT
EOF
xct_r rules load "$WORK/rules.xct" >"$WORK/rules.out" 2>&1 || fail_setup "rules: $(cat "$WORK/rules.out")"

# ---- 1. Flows through the router appear in conntrackd's external cache ----
in_ns "$NS_S" socat TCP4-LISTEN:$TCP_PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
peer_echo_udp "$NS_S" $UDP_PORT
peer_echo_udp "$NS_S" $NAT_PORT
poll 5 listening "$NS_S" tcp $TCP_PORT || fail_setup "tcp server"
poll 5 listening "$NS_S" udp $UDP_PORT || fail_setup "udp server"

mkfifo "$WORK/tcp.in" || fail_setup "fifo"
in_ns "$NS_C" socat -u "PIPE:$WORK/tcp.in" "TCP4:$S4:$TCP_PORT,sourceport=$TCP_SPORT" \
	>/dev/null 2>&1 &
BG_PIDS+=($!)
exec 7<>"$WORK/tcp.in"
poll 10 sh -c "ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct list -p tcp --sport $TCP_SPORT | grep -q ESTABLISHED" ||
	fail_setup "the TCP connection is not established: $(xct_r ct list 2>&1)"
[ "$(udp_peer_of "$NS_C" "$S4:$UDP_PORT" $UDP_SPORT)" = "$C4 $UDP_SPORT" ] ||
	fail_setup "udp flow"
in_ns "$NS_C" ping -c 1 -W 2 "$S4" >/dev/null || fail_setup "ping"
nat_peer=$(udp_peer_of "$NS_C" "$S4:$NAT_PORT" $NAT_SPORT)
[ "${nat_peer% *}" = "$R4S" ] || fail_setup "masquerade: the server saw '$nat_peer'"
icmp_id=$(xct_r ct list -p icmp 2>/dev/null | grep -oE 'id=[0-9]+' | head -1)

# conntrackd -e shows the original tuple, the state and the status.
tcp_re="^tcp +6 ESTABLISHED src=$C4 dst=$S4 sport=$TCP_SPORT dport=$TCP_PORT \\[ASSURED\\] "
udp_re="^udp +17 src=$C4 dst=$S4 sport=$UDP_SPORT dport=$UDP_PORT "
icmp_re="^icmp +1 src=$C4 dst=$S4 type=8 code=0 $icmp_id "
poll 10 in_external "$tcp_re"
check ha_sync_tcp_established_in_conntrackd $? "$(external)"
poll 10 in_external "$udp_re"
check ha_sync_udp_in_conntrackd $? "$(external)"
[ -n "$icmp_id" ] && poll 10 in_external "$icmp_re"
check ha_sync_icmp_in_conntrackd $? "xct: $icmp_id; conntrackd: $(external)"

# ---- 2. Committed into the backup's kernel table ----
# conntrackd -c rebuilds each reply tuple from the original one and the
# translation: the same tuples as xct's, the masqueraded flow's reply to
# the router.
ctd -c >"$WORK/commit.out" 2>&1
check ha_sync_commit $? "$(cat "$WORK/commit.out")"
xct_tuples=$(xct_r ct list 2>/dev/null | tuples_to "$S4")
kern_tuples=$(in_ns "$NS_B" conntrack -L 2>/dev/null | tuples_to "$S4")
same_tuples ha_sync_committed_tuples_as_xct_tracks_them 4 "$xct_tuples" "$kern_tuples" \
	"nf_conntrack after conntrackd -c"
grep -qxF "udp src=$C4 dst=$S4 sport=$NAT_SPORT dport=$NAT_PORT -> src=$S4 dst=$R4S sport=$NAT_PORT dport=${nat_peer#* }" <<<"$kern_tuples"
check ha_sync_masquerade_reply_tuple $? "$kern_tuples"
# The TCP connection established and assured, its timeout the one xct
# had left (nf_conntrack's 5 days, less the seconds since).
tcp_line=$(in_ns "$NS_B" conntrack -L -p tcp --sport $TCP_SPORT 2>/dev/null)
tcp_timeout=$(awk '{print $3}' <<<"$tcp_line")
grep -q " ESTABLISHED .*\[ASSURED\]" <<<"$tcp_line" && [ "${tcp_timeout:-0}" -gt 431000 ]
check ha_sync_committed_tcp_established $? "$tcp_line"

# ---- 2b. The backup restarted: a resync brings the connections back ----
ctd_stop
ctd_start
! in_external "sport=$TCP_SPORT "
check ha_sync_restarted_backup_starts_empty $? "$(external)"
ctd -n >/dev/null 2>&1
poll 10 in_external "$tcp_re" && poll 5 in_external "$udp_re" && poll 5 in_external "$icmp_re" &&
	poll 5 in_external "sport=$NAT_SPORT "
check ha_sync_resync_refills_the_restarted_backup $? "$(external)"
grep -q "the sync peer asked for a resync: sent [4-9] connections" "$WORK/xctd.log"
check ha_sync_resync_logged $? "$(grep resync "$WORK/xctd.log")"

# ---- 3. DESTROY takes them out of the cache ----
xct_r ct delete -p tcp --sport $TCP_SPORT >/dev/null 2>&1
poll 10 not_in_external "sport=$TCP_SPORT "
check ha_sync_tcp_destroy_leaves_conntrackd $? "$(external)"
xct_r ct delete -p udp --sport $UDP_SPORT >/dev/null 2>&1
poll 10 not_in_external "sport=$UDP_SPORT "
check ha_sync_udp_destroy_leaves_conntrackd $? "$(external)"
# The others are still there.
in_external "sport=$NAT_SPORT " && in_external "$icmp_re"
check ha_sync_destroy_only_the_deleted $? "$(external)"

# ---- 4. The link: sequence numbers, keepalives ----
poll 10 grep -q "the sync peer $SYNC_B:$SYNC_PORT is alive" "$WORK/xctd.log"
check ha_sync_hears_conntrackds_alive $? "$(cat "$WORK/xctd.log")"
# On a quiet link, xctd's ALIVE every second reaches conntrackd.
pkts_recv() { ctd -s network 2>/dev/null | grep -oE '[0-9]+ Pckts recv' | grep -oE '^[0-9]+'; }
recv0=$(pkts_recv)
poll 5 sh -c "[ \$(ip netns exec $NS_B conntrackd -C $WORK/ctd.conf -s network | grep -oE '[0-9]+ Pckts recv' | grep -oE '^[0-9]+') -ge $((${recv0:-0} + 3)) ]"
check ha_sync_alive_while_idle $? "conntrackd received ${recv0:-?} then $(pkts_recv) datagrams"
stats=$(ctd -s network 2>&1)
lost=$(ctd_stat "Packets lost")
before=$(ctd_stat "Packets before")
malformed=$(ctd_stat "Malformed messages")
[ "$lost" = 0 ] && [ "$before" = 0 ] && [ "$malformed" = 0 ]
check ha_sync_sequence_without_gaps $? "$stats"

# ---- 5. conntrackd -> xctd: the backup's connections, committed ----
# Connections of the backup's nf_conntrack (put there with conntrack -I):
# conntrackd sends them, xctd keeps them in its external cache, and xct
# sync commit puts them into xct's table.  First the backup's table and
# both caches are emptied of what the commit above put there.
internal_empty() { [ -z "$(ctd -i 2>/dev/null)" ]; }
in_ns "$NS_B" conntrack -F >/dev/null 2>&1
poll 10 internal_empty
xs sync flush >/dev/null
in_ns "$NS_B" conntrack -I -p tcp -s "$C4" -d "$S4" --sport 42001 --dport 7002 \
	--state ESTABLISHED -u SEEN_REPLY,ASSURED -t 300 >/dev/null 2>&1 &&
	in_ns "$NS_B" conntrack -I -p udp -s "$C4" -d "$S4" --sport 42002 --dport 5355 \
		-u SEEN_REPLY -t 100 >/dev/null 2>&1
check ha_sync_backup_has_its_connections $? "$(in_ns "$NS_B" conntrack -L 2>&1)"

# commit_until N: one xct sync commit, adding what it committed (and of
# that, TCP relearning its windows) to committed and liberal; true once
# the cache held N connections.
committed=0
liberal=0
commits=0
commit_until() {
	local out c n l
	out=$(xs -j sync commit 2>/dev/null) || return 1
	commits=$((commits + 1))
	read -r c n l < <("$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)["commit"]
print(r["cached"], r["committed"], r["liberal"])' <<<"$out")
	committed=$((committed + n))
	liberal=$((liberal + l))
	[ "$c" = "$1" ]
}
poll 10 commit_until 2
check ha_sync_xctd_caches_conntrackds_connections $? "committed $committed"
[ "$committed" = 2 ] && [ "$liberal" = 1 ]
check ha_sync_commit_counts $? "committed $committed, liberal $liberal"
tcp_line=$(xct_r ct list -p tcp --sport 42001 2>/dev/null)
tcp_timeout=$(awk '{print $3}' <<<"$tcp_line")
grep -qE "^tcp +6 [0-9]+ ESTABLISHED src=$C4 dst=$S4 sport=42001 dport=7002 .*src=$S4 dst=$C4 sport=7002 dport=42001 .*\[ASSURED\]" <<<"$tcp_line" &&
	[ "${tcp_timeout:-0}" -le 300 ] && [ "${tcp_timeout:-0}" -gt 240 ]
check ha_sync_committed_tcp_in_xct $? "$tcp_line"
xct_r ct list -p udp --sport 42002 2>/dev/null | grep -qE "^udp +17 [0-9]+ src=$C4 dst=$S4 sport=42002 dport=5355 "
check ha_sync_committed_udp_in_xct $? "$(xct_r ct list 2>&1)"
# A second commit changes nothing: the table has them.
out=$(xs sync commit 2>&1)
grep -q "^committed 0 of 2 connections .* 2 already in the table" <<<"$out"
check ha_sync_commit_again_leaves_the_table $? "$out"
# The backup's DESTROY takes the connection out of xctd's cache.
in_ns "$NS_B" conntrack -D -p udp --sport 42002 >/dev/null 2>&1
poll 10 commit_until 1
check ha_sync_conntrackds_destroy_leaves_the_cache $? "$(xs -j sync commit 2>&1)"
# xctd restarted: its cache is empty, and its first message asks
# conntrackd for a resync, which brings the backup's TCP connection back.
kill "$XCTD_PID" 2>/dev/null
wait "$XCTD_PID" 2>/dev/null
start_xctd "$WORK/run/xctd.sock" "$WORK/xctd2.log" --sync-peer "$SYNC_B:$SYNC_PORT" \
	--sync-listen "$SYNC_R:$SYNC_PORT" --metrics-listen "127.0.0.1:$METRICS_PORT" ||
	fail_setup "xctd restart: $(cat "$WORK/xctd2.log")"
committed=0
commits=0
poll 10 commit_until 1
check ha_sync_restarted_xctd_resyncs_from_conntrackd $? "$(xs -j sync commit 2>&1)"
commits=$((commits + 1))

# ---- 5b. xct sync stats, the metrics, xct sync resync ----
ctd_entries=$(ctd -i 2>/dev/null | grep -c .)
read -r entries reqs ncommitted resyncs <<<"$(stat cache.entries commits.requests commits.committed sent.resync)"
[ "$entries" = "$ctd_entries" ] && [ "$entries" = 1 ] && [ "$reqs" = "$commits" ] &&
	[ "$ncommitted" = "$committed" ] && [ "$resyncs" = 1 ]
check ha_sync_stats_cache_and_commits $? "cache $entries (conntrackd: $ctd_entries), commits $reqs (made $commits), committed $ncommitted ($committed), resync requests $resyncs; $(xs sync stats 2>&1)"
stats_json=$(xs -j sync stats 2>&1)
"$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)
assert r["mode"] == "NOTRACK", r["mode"]
assert not any(r["malformed"].values()), r["malformed"]
assert r["sequence"] == {"lost": 0, "before": 0}, r["sequence"]
assert r["received"]["update"] + r["received"]["new"] >= 1, r["received"]
assert r["sent"]["messages"] >= r["sent"]["alive"] + r["sent"]["resync"] > 0, r["sent"]
assert r["received"]["bytes"] >= 8 * r["received"]["messages"] > 0, r["received"]
' <<<"$stats_json"
check ha_sync_stats_link_clean $? "$stats_json"
# conntrackd's ALIVE every quiet second moves the received count.
alive0=$(stat received.alive)
poll 5 sh -c "[ \$(ip netns exec $NS_R $XCT --pin-path $XCT_PIN --socket $WORK/run/xctd.sock -j sync stats | grep -oE '\"alive\":[0-9]+' | tail -1 | grep -oE '[0-9]+') -ge $((alive0 + 2)) ]"
check ha_sync_stats_count_alive $? "alive received $alive0 then $(stat received.alive)"
xs sync stats | grep -qE "^cache: +1 connections"
check ha_sync_stats_text $? "$(xs sync stats 2>&1)"
scrape=$(in_ns "$NS_R" curl -s --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics")
grep -qx "xct_sync_cache_entries 1" <<<"$scrape" &&
	grep -qx "xct_sync_commits_total $commits" <<<"$scrape" &&
	grep -qx 'xct_sync_resync_requests_total{direction="sent"} 1' <<<"$scrape" &&
	grep -qx 'xct_sync_malformed_total{cause="attr_unknown"} 0' <<<"$scrape"
check ha_sync_metrics $? "$(grep xct_sync_ <<<"$scrape")"
# A flushed cache: conntrackd sends nothing new for its idle connection
# until asked.
xs sync flush >/dev/null
[ "$(stat cache.entries commits.flushes)" = "0 1" ]
check ha_sync_stats_after_flush $? "$(stat cache.entries commits.flushes)"
out=$(xs sync resync 2>&1)
grep -q "^asked the sync peer for its table" <<<"$out"
check ha_sync_resync_command $? "$out"
cache_is() { [ "$(stat cache.entries)" = "$1" ]; }
poll 10 cache_is "$ctd_entries"
check ha_sync_resync_refills_the_cache $? "cache $(stat cache.entries), conntrackd $ctd_entries"
[ "$(stat sent.resync)" = 2 ]
check ha_sync_stats_count_resync $? "$(stat sent.resync)"
expect ha_sync_commit_without_xctd 1 "no xctd answers" \
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" --socket "$WORK/none/xctd.sock" sync commit

# ---- 6. Options ----
usage_exits_2 ha_sync_bad_options "$XCTD" "--sync-peer 10.0.0.1" "--sync-peer 10.0.0.1:0" \
	"--sync-peer host:3780" "--sync-listen 10.0.0.1:3780" \
	"--sync-peer 10.0.0.1:3780 --sync-listen [::1]:3780x"

[ "$failures" = 0 ]
