#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xctd's FTFW mode against a real conntrackd (Debian's, Mode FTFW over
# UDP) on a backup firewall, on a sync link that loses datagrams:
#
#   1. HELLO: conntrackd answers xctd's HELLO, and each ACKs the other's
#      messages (xctd's resend queue keeps no connection: on a quiet link
#      it holds only its last ACK, as conntrackd's does, since each side
#      ACKs the other's ACK of the second before);
#   2. xct -> conntrackd: new flows through the router while the backup
#      drops every third datagram of xctd's: conntrackd NACKs the gaps,
#      xctd sends those messages again, and conntrackd's external cache
#      ends up with every flow, xctd's resend queue empty, nothing dropped
#      from it;
#   3. conntrackd -> xct: connections of the backup's nf_conntrack while
#      the router drops every third datagram of conntrackd's: xctd NACKs,
#      conntrackd resends, xctd's cache ends up with every connection, and
#      xctd's ACKs leave no connection in conntrackd's resend queue;
#   4. --sync-ignore-address: a ping to the ignored server address is not
#      sent, a ping to the other is;
#   4b. --sync-state-accept ESTABLISHED,CLOSED,TIME_WAIT,CLOSE_WAIT (as
#      conntrackd's State Accept): a TCP connection whose SYN is never
#      answered stays out of conntrackd's cache, counted as filtered by
#      state; an established one reaches it as ESTABLISHED, closed it is
#      there in TIME_WAIT, and its DESTROY (in TIME_WAIT) takes it out;
#   5. --sync-mode and --sync-state-accept refuse what they do not know.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=hasyncftfw
CTD_TEST=ha_sync_ftfw
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/ctd_lib.sh"

FLOWS=300
BACKUP_CONNS=60

# lossy NS FROM N: NS drops every Nth sync datagram from FROM.
lossy() {
	in_ns "$1" nft -f - <<-EOT
		table ip xct_sync_lossy {
			chain input { type filter hook input priority -10; ip saddr $2 udp dport $SYNC_PORT numgen inc mod $3 == 0 counter drop; }
		}
	EOT
}
dropped() { in_ns "$1" nft list table ip xct_sync_lossy 2>/dev/null | grep -oE 'packets [0-9]+' | grep -oE '[0-9]+'; }
lossless() { in_ns "$1" nft delete table ip xct_sync_lossy 2>/dev/null; }

external_flows() { ctd -e 2>/dev/null | grep -cE "^udp +17 src=$C4 dst=$S4 sport=[0-9]+ dport=9 "; }
external_flows_are() { [ "$(external_flows)" = "$1" ]; }

ctd_setup
ctd_conf FTFW >"$WORK/ctd.conf"
ctd_start

start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" --sync-peer "$SYNC_B:$SYNC_PORT" \
	--sync-listen "$SYNC_R:$SYNC_PORT" --sync-mode ftfw --sync-ignore-address "$S6" \
	--sync-ignore-address "$SYNC_R" --sync-state-accept ESTABLISHED,CLOSED,TIME_WAIT,CLOSE_WAIT ||
	fail_setup "xctd: $(cat "$WORK/xctd.log")"
poll 10 grep -q "syncing connections with $SYNC_B:$SYNC_PORT (conntrackd protocol 1, FTFW)" \
	"$WORK/xctd.log" || fail_setup "xctd does not sync: $(cat "$WORK/xctd.log")"

# ---- 1. HELLO, and ACKs both ways ----
poll 10 stat_is ftfw.hello_answered true
check ha_sync_ftfw_hello_answered $? "$(xs sync stats 2>&1)"
poll 10 stat_ge ftfw.ack_received 1 && poll 10 stat_is ftfw.resend_queue_connections 0 &&
	poll 10 stat_ge ftfw.ack_sent 1
check ha_sync_ftfw_acks_both_ways $? "$(xs sync stats 2>&1)"

# ---- 2. xct -> conntrackd, a third of xctd's datagrams lost ----
lossy "$NS_B" "$SYNC_R" 3 || fail_setup "nft loss on the backup"
flood_new_flows "$WORK" $FLOWS || fail_setup "flows through the router: $(xct_r ct count)"
poll 20 external_flows_are $FLOWS
check ha_sync_ftfw_conntrackd_gets_every_flow $? "conntrackd has $(external_flows) of $FLOWS; backup dropped $(dropped "$NS_B") datagrams; $(xs sync stats 2>&1)"
n_dropped=$(dropped "$NS_B")
[ "${n_dropped:-0}" -gt 0 ] && stat_ge ftfw.nack_received 1 && stat_ge ftfw.resent 1
check ha_sync_ftfw_loss_was_recovered_by_resends $? "dropped ${n_dropped:-?}; $(xs sync stats 2>&1)"
poll 10 stat_is ftfw.resend_queue_connections 0 && stat_is ftfw.resend_dropped 0
check ha_sync_ftfw_everything_acknowledged $? "$(xs sync stats 2>&1)"
lossless "$NS_B"

# ---- 3. conntrackd -> xct, a third of conntrackd's datagrams lost ----
lossy "$NS_R" "$SYNC_B" 3 || fail_setup "nft loss on the router"
cache0=$(stat cache.entries)
for i in $(seq 1 $BACKUP_CONNS); do
	echo "-I -p tcp -s $C4 -d $S4 --sport $((43000 + i)) --dport 7003 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600"
done >"$WORK/backup.ct"
while read -r line; do
	# shellcheck disable=SC2086
	in_ns "$NS_B" conntrack $line >/dev/null 2>&1
done <"$WORK/backup.ct"
in_ns "$NS_B" conntrack -L -p tcp --dport 7003 2>/dev/null | grep -c . >"$WORK/backup.count"
poll 20 stat_is cache.entries $((cache0 + BACKUP_CONNS))
check ha_sync_ftfw_xctd_gets_every_connection $? "cache $(stat cache.entries), want $((cache0 + BACKUP_CONNS)) (backup has $(cat "$WORK/backup.count")); router dropped $(dropped "$NS_R"); $(xs sync stats 2>&1)"
n_dropped=$(dropped "$NS_R")
[ "${n_dropped:-0}" -gt 0 ] && stat_ge ftfw.nack_sent 1
check ha_sync_ftfw_xctd_nacks_the_gaps $? "dropped ${n_dropped:-?}; $(xs sync stats 2>&1)"
lossless "$NS_R"
# xctd's ACKs empty conntrackd's resend queue of its connections.
ctd_rs_objects() { ctd -s rsqueue 2>/dev/null | grep -c "object"; }
ctd_rs_empty() { [ "$(ctd_rs_objects)" = 0 ]; }
poll 10 ctd_rs_empty
check ha_sync_ftfw_conntrackd_resend_queue_acknowledged $? "$(ctd -s rsqueue 2>&1)"

# ---- 4. Filters: the connections to an ignored address stay home ----
filtered0=$(stat sent.filtered)
in_ns "$NS_C" ping -c 1 -W 2 "$S4" >/dev/null && in_ns "$NS_C" ping -6 -c 1 -W 2 "$S6" >/dev/null ||
	fail_setup "pings"
poll 10 sh -c "ip netns exec $NS_B conntrackd -C $WORK/ctd.conf -e | grep -qE '^icmp +1 src=$C4 dst=$S4 '"
check ha_sync_ftfw_unfiltered_ping_synced $? "$(ctd -e 2>&1 | grep -v dport=)"
! ctd -e 2>/dev/null | grep -q "dst=$S6 " && [ "$(stat sent.filtered)" -gt "$filtered0" ]
check ha_sync_ftfw_ignored_address_not_synced $? "filtered $(stat sent.filtered) (before: $filtered0); $(ctd -e 2>&1 | grep -v dport=)"

# ---- 4b. State Accept ----
in_external() { ctd -e 2>/dev/null | grep -qE -- "$1"; }
not_in_external() { ! in_external "$1"; }
xct_state_is() { xct_r ct list -p tcp --sport "$1" 2>/dev/null | grep -q " $2 "; }
grep -q "sync: TCP connections sent only in ESTABLISHED, CLOSE_WAIT, TIME_WAIT, CLOSE" "$WORK/xctd.log"
check ha_sync_ftfw_state_accept_logged $? "$(grep 'sync:' "$WORK/xctd.log")"
# A SYN the server drops: xct tracks SYN_SENT, the peer hears nothing.
in_ns "$NS_S" nft -f - <<-EOT || fail_setup "nft on the server"
	table ip xct_sync_blackhole {
		chain input { type filter hook input priority 0; tcp dport 7009 drop; }
	}
EOT
fstate0=$(stat sent.filtered_state)
in_ns "$NS_C" timeout 4 socat -u /dev/null "TCP4:$S4:7009,sourceport=44009" >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 xct_state_is 44009 SYN_SENT || fail_setup "no SYN_SENT connection: $(xct_r ct list -p tcp 2>&1)"
# The ALIVE of the next quiet second has gone by: anything sent is there.
alive0=$(stat sent.alive)
poll 5 stat_ge sent.alive $((alive0 + 2))
not_in_external "sport=44009 " && [ "$(stat sent.filtered_state)" -gt "$fstate0" ]
check ha_sync_ftfw_state_accept_withholds_syn_sent $? "filtered by state $(stat sent.filtered_state) (before $fstate0); $(ctd -e 2>&1 | grep sport=44009)"
# An established connection: there as ESTABLISHED.
in_ns "$NS_S" socat TCP4-LISTEN:7008,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 listening "$NS_S" tcp 7008 || fail_setup "tcp server"
mkfifo "$WORK/tcp.in" || fail_setup "fifo"
in_ns "$NS_C" socat -u "PIPE:$WORK/tcp.in" "TCP4:$S4:7008,sourceport=44008" >/dev/null 2>&1 &
BG_PIDS+=($!)
exec 8<>"$WORK/tcp.in"
poll 5 xct_state_is 44008 ESTABLISHED || fail_setup "no ESTABLISHED connection: $(xct_r ct list -p tcp 2>&1)"
poll 10 in_external "^tcp +6 ESTABLISHED src=$C4 dst=$S4 sport=44008 dport=7008 "
check ha_sync_ftfw_state_accept_sends_established $? "$(ctd -e 2>&1 | grep sport=4400)"
# Closed by the client: its FIN_WAIT and LAST_ACK withheld, TIME_WAIT sent.
fstate0=$(stat sent.filtered_state)
exec 8>&-
poll 10 xct_state_is 44008 TIME_WAIT || fail_setup "no TIME_WAIT: $(xct_r ct list -p tcp --sport 44008 2>&1)"
poll 10 in_external "^tcp +6 TIME_WAIT src=$C4 dst=$S4 sport=44008 dport=7008 " &&
	[ "$(stat sent.filtered_state)" -gt "$fstate0" ]
check ha_sync_ftfw_state_accept_sends_time_wait $? "filtered by state $(stat sent.filtered_state) (before $fstate0); $(ctd -e 2>&1 | grep sport=4400)"
xct_r ct delete -p tcp --sport 44008 >/dev/null 2>&1
poll 10 not_in_external "sport=44008 "
check ha_sync_ftfw_state_accept_sends_destroy_in_time_wait $? "$(ctd -e 2>&1 | grep sport=4400)"
in_ns "$NS_S" nft delete table ip xct_sync_blackhole 2>/dev/null

# ---- 5. Options ----
usage_exits_2 ha_sync_ftfw_bad_options "$XCTD" "--sync-peer 10.0.0.1:3780 --sync-mode alarm" \
	"--sync-peer 10.0.0.1:3780 --sync-state-accept ESTABLISHED,LISTEN" \
	"--sync-peer 10.0.0.1:3780 --sync-state-accept ESTABLISHED," "--sync-state-accept CLOSE" \
	"--sync-mode ftfw" "--sync-peer 10.0.0.1:3780 --sync-ignore-address 10.0.0" \
	"--sync-ignore-address 10.0.0.1"

[ "$failures" = 0 ]
