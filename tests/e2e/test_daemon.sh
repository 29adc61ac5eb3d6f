#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xctd, the daemon that owns the event rings, on the router of lib.sh:
#   - without it, a second direct reader of a ring is refused, naming the
#     first one's pid (never a silent split of the stream);
#   - through it, two `xct ct events` readers each get every NEW event of
#     four real TCP connections, two `xct trace drops` readers each get
#     xct's drop of one packet, two `xct events` readers each get a log
#     rule's event;
#   - a reader's END line counts exactly what the datapath lost while xctd
#     was too slow (stopped), and shown + lost is every flow;
#   - xctd killed: connections keep being tracked; restarted over its stale
#     socket, it goes on from the ring's consumer position, and a reader
#     that followed the old one gets the events of the gap;
#   - detached, xctd ends its readers' streams; attached again, it follows
#     the new rings;
#   - the socket is 0600 in a 0700 directory, other users cannot connect,
#     an unsafe directory is refused; --help and bad options.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

PORT=5101
WORK=""
SOCK=""

fail_setup() {
	echo "not ok daemon_setup ($*)"
	exit 1
}

stop_xctd() {
	kill "${2:--TERM}" "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# reader NAME STREAM XCT-ARGS...: an xct command reading STREAM through
# xctd, in the background, until xctd has registered it (its log names the
# reader's pid); the pid in PID_NAME.
reader() {
	local name=$1 stream=$2 pid
	shift 2
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" --socket "$SOCK" "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	pid=$!
	BG_PIDS+=("$pid")
	eval "PID_$name=$pid"
	poll 10 grep -q "reader pid $pid follows the $stream" "$WORK/xctd.log"
}

# both_have NAME1 NAME2 PATTERN: each reader's output has a line matching.
both_have() {
	grep -qE "$3" "$WORK/$1.out" && grep -qE "$3" "$WORK/$2.out"
}

# new_ports FILE: the client ports of the NEW events to PORT, sorted.
new_ports() {
	"$PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["event"] == "NEW":
        print(o["conn"]["orig"]["sport"])
' "$1" | sort -n
}

count_new() {
	[ "$(grep -c '"event":"NEW"' "$1")" -ge "$2" ]
}

tcp_echo() {
	local got
	got=$(echo "hello" | in_ns "$NS_C" timeout 10 socat -t 2 - "TCP4:$S4:$PORT") || return 1
	[ "$got" = hello ]
}

setup_topology || fail_setup "topology"
enable_oracle || fail_setup "nf_conntrack oracle"
mount_pin_fs || fail_setup "bpffs"
xct_attach native || fail_setup "xct attach"
WORK=$(mktemp -d /tmp/xct-daemon.XXXXXX) || fail_setup "work dir"
SOCK=$WORK/run/xctd.sock
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 listening "$NS_S" tcp $PORT || fail_setup "server"

# ---- Without xctd: one direct reader, the second refused ----
start_reader "$WORK/direct1.out" "$WORK/direct1.err" -e NEW
ok=$?
timeout 10 ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" ct events \
	>"$WORK/direct2.out" 2>"$WORK/direct2.err"
rc=$?
want="another reader (pid $EV_PID) holds the event ring; start xctd to let several readers share it"
[ "$ok" = 0 ] && [ "$rc" = 1 ] && grep -qF "xct: $want" "$WORK/direct2.err"
result daemon_second_direct_reader_refused $? "rc $rc: $(cat "$WORK/direct2.err")"
# xctd cannot take the ring from it either.
ip netns exec "$NS_R" timeout 10 "$XCTD" --foreground --pin-path "$XCT_PIN" --socket "$SOCK" \
	2>"$WORK/busy.log"
rc=$?
[ "$rc" = 1 ] && grep -q "another reader (pid $EV_PID) holds the ct_events ring" "$WORK/busy.log"
result daemon_refuses_a_held_ring $? "rc $rc: $(cat "$WORK/busy.log")"
stop_reader "$EV_PID"

# ---- Through xctd: two readers, every event to each ----
[ -x "$XCTD" ] || fail_setup "no $XCTD"
start_xctd "$SOCK" "$WORK/xctd.log" || fail_setup "xctd did not start: $(cat "$WORK/xctd.log")"
mode=$(stat -c '%a %U' "$SOCK")
dmode=$(stat -c '%a %U' "$WORK/run")
[ "$mode" = "600 root" ] && [ "$dmode" = "700 root" ]
result daemon_socket_root_only $? "socket $mode, directory $dmode"
! setpriv --reuid=65534 --regid=65534 --clear-groups socat -T 1 - "UNIX-CONNECT:$SOCK" \
	</dev/null >/dev/null 2>&1
result daemon_socket_refuses_other_users $? "nobody connected"

reader A ct_events ct events -o json -e NEW -p tcp --dport $PORT || fail_setup "reader A: $(cat "$WORK/A.err")"
reader B ct_events ct events -o json -e NEW -p tcp --dport $PORT || fail_setup "reader B: $(cat "$WORK/B.err")"
okc=0
for _ in 1 2 3 4; do
	tcp_echo || okc=1
done
poll 10 count_new "$WORK/A.out" 4 && poll 10 count_new "$WORK/B.out" 4
okr=$?
stop_reader "$PID_A"
stop_reader "$PID_B"
want=$(ct_r -L -p tcp --dport $PORT 2>/dev/null | grep -o 'sport=[0-9]*' | awk 'NR % 2 == 1' |
	cut -d= -f2 | sort -n)
a=$(new_ports "$WORK/A.out")
b=$(new_ports "$WORK/B.out")
[ "$okc$okr" = 00 ] && [ "$(echo "$want" | wc -l)" = 4 ] && [ "$a" = "$want" ] &&
	[ "$b" = "$want" ] && [ "$(grep -c '"event":"NEW"' "$WORK/A.out")" = 4 ] &&
	[ "$(grep -c '"event":"NEW"' "$WORK/B.out")" = 4 ]
result daemon_two_readers_each_get_all_events $? \
	"conntrack: ${want//$'\n'/ }; A: ${a//$'\n'/ }; B: ${b//$'\n'/ } (echo $okc, wait $okr)"
[ "$(tail -1 "$WORK/A.out")" = '{"event":"END","shown":4,"lost":0,"lost_ring_full":0,"lost_not_read":0}' ] &&
	[ "$(tail -1 "$WORK/B.out")" = '{"event":"END","shown":4,"lost":0,"lost_ring_full":0,"lost_not_read":0}' ]
result daemon_readers_end_lines $? "A: $(tail -1 "$WORK/A.out"); B: $(tail -1 "$WORK/B.out")"

# ---- xct trace drops: two readers of xct's drops through xctd ----
printf 'policy accept\ndrop udp dport 7777\n' >"$WORK/drop.rules"
xct_r rules load "$WORK/drop.rules" >/dev/null || fail_setup "rules load"
reader T1 drops trace drops -o json --port 7777 --count 1 --timeout 15 &&
	reader T2 drops trace drops -o json --port 7777 --count 1 --timeout 15
okt=$?
echo x | in_ns "$NS_C" socat -T 1 - "UDP4:$S4:7777,sourceport=27777" >/dev/null 2>&1
wait "$PID_T1" "$PID_T2" 2>/dev/null
both_have T1 T2 '"source":"xct".*"rule_line":2|"rule_line":2.*"source":"xct"' || okt=1
result daemon_two_traces_each_get_the_drop $okt "T1: $(cat "$WORK/T1.out" "$WORK/T1.err"); T2: $(cat "$WORK/T2.out" "$WORK/T2.err")"

# ---- xct events: two readers of the log rules' events through xctd ----
printf 'policy accept\naccept icmp type echo-request log\n' >"$WORK/log.rules"
xct_r rules load "$WORK/log.rules" >/dev/null || fail_setup "rules load"
reader L1 events events --count 1 --timeout 15 && reader L2 events events --count 1 --timeout 15
okl=$?
in_ns "$NS_C" ping -c 1 -W 2 "$S4" >/dev/null || okl=1
wait "$PID_L1" "$PID_L2" 2>/dev/null
both_have L1 L2 "log line 2 accept new iif veth-r-c icmp $C4 -> $S4 type 8 code 0 len 84" || okl=1
result daemon_two_event_readers_each_get_the_log $okl "L1: $(cat "$WORK/L1.out" "$WORK/L1.err"); L2: $(cat "$WORK/L2.out" "$WORK/L2.err")"
xct_r rules clear >/dev/null

# ---- Losses stay exact: xctd stopped while a flood fills a 4 KiB ring ----
stop_xctd "$XCTD_PID"
xct_r attach --replace --ct-events-size 4096 veth-r-c veth-r-s >/dev/null 2>&1 ||
	fail_setup "attach --replace"
start_xctd "$SOCK" "$WORK/xctd.log" || fail_setup "xctd restart: $(cat "$WORK/xctd.log")"
ev0=$(stat_total ct_events)
lost0=$(stat_total ct_events_lost)
reader F ct_events ct events -o json -e NEW -p udp || fail_setup "flood reader: $(cat "$WORK/F.err")"
kill -STOP "$XCTD_PID"
flood_new_flows "$WORK" 2000
okf=$?
kill -CONT "$XCTD_PID"
stop_reader "$PID_F"
ev1=$(stat_total ct_events)
lost1=$(stat_total ct_events_lost)
lost=$((lost1 - lost0))
shown=$(grep -c '"event":"NEW"' "$WORK/F.out")
end=$(tail -1 "$WORK/F.out")
[ "$okf" = 0 ] && [ "$lost" -gt 0 ] &&
	[ "$end" = "{\"event\":\"END\",\"shown\":$shown,\"lost\":$lost,\"lost_ring_full\":$lost,\"lost_not_read\":0}" ] &&
	[ "$shown" = $((ev1 - ev0)) ] && [ $((shown + lost)) = 2000 ]
result daemon_reader_losses_exact $? \
	"end $end; datapath lost $lost, sent $((ev1 - ev0)); flood $okf"
flush_both

# ---- Killed: the datapath goes on; restarted, xctd goes on from the ring ----
reader R ct_events ct events -o json -e NEW -p tcp --dport $PORT || fail_setup "reader R: $(cat "$WORK/R.err")"
stop_xctd "$XCTD_PID" -KILL
poll 10 grep -q "xctd went away" "$WORK/R.err"
okw=$?
c0=$(xct_r ct count)
tcp_echo && tcp_echo
oke=$?
c1=$(xct_r ct count)
[ "$okw$oke" = 00 ] && [ "$c1" -ge $((c0 + 2)) ]
result daemon_datapath_without_xctd $? "echo $oke, count $c0 -> $c1"
start_xctd "$SOCK" "$WORK/xctd.log" || fail_setup "xctd over a stale socket: $(cat "$WORK/xctd.log")"
poll 10 grep -q "reader pid $PID_R follows the ct_events again" "$WORK/xctd.log" &&
	poll 10 count_new "$WORK/R.out" 2
okg=$?
tcp_echo
poll 10 count_new "$WORK/R.out" 3
okn=$?
stop_reader "$PID_R"
[ "$okg$okn" = 00 ] && [ "$(grep -c '"event":"NEW"' "$WORK/R.out")" = 3 ] &&
	[ "$(tail -1 "$WORK/R.out")" = '{"event":"END","shown":3,"lost":0,"lost_ring_full":0,"lost_not_read":0}' ]
result daemon_restart_resumes_from_ring $? "$(cat "$WORK/R.out" "$WORK/R.err")"

# ---- Detached and attached again: xctd follows the new rings ----
reader X ct_events ct events -o json -e NEW || fail_setup "reader X: $(cat "$WORK/X.err")"
xct_detach >/dev/null 2>&1 || fail_setup "detach"
poll 10 sh -c "! kill -0 $PID_X 2>/dev/null"
wait "$PID_X" 2>/dev/null
rc=$?
[ "$rc" = 1 ] && grep -q "xctd: xct was detached; the stream you followed has ended" "$WORK/X.err"
result daemon_detach_ends_readers $? "rc $rc: $(cat "$WORK/X.err")"
xct_attach native >/dev/null || fail_setup "attach again"
reader Y ct_events ct events -o json -e NEW -p tcp --dport $PORT || fail_setup "reader Y: $(cat "$WORK/Y.err")"
tcp_echo
poll 10 count_new "$WORK/Y.out" 1
result daemon_follows_a_new_attach $? "$(cat "$WORK/Y.out" "$WORK/Y.err")"
stop_reader "$PID_Y"
stop_xctd "$XCTD_PID"
[ ! -e "$SOCK" ]
result daemon_removes_socket_on_stop $? "$(ls -l "$SOCK" 2>&1)"

# ---- An unsafe socket directory, --help, bad options ----
mkdir -p "$WORK/open" && chmod 0755 "$WORK/open"
ip netns exec "$NS_R" timeout 10 "$XCTD" --foreground --pin-path "$XCT_PIN" \
	--socket "$WORK/open/xctd.sock" 2>"$WORK/unsafe.log"
rc=$?
[ "$rc" = 1 ] && grep -q "refusing $WORK/open: it has mode 0755" "$WORK/unsafe.log" &&
	[ ! -e "$WORK/open/xctd.sock" ]
result daemon_refuses_unsafe_socket_dir $? "rc $rc: $(cat "$WORK/unsafe.log")"
out=$("$XCTD" --help)
rc=$?
[ "$rc" = 0 ] && grep -q -- "--metrics-listen ADDR:PORT" <<<"$out"
result daemon_help $? "rc $rc"
usage_exits_2 daemon_bad_options_exit_2 "$XCTD" "--bogus" "--socket relative" \
	"--metrics-listen nowhere" "--metrics-listen 1.2.3.4:0" "stray" "--pin-path"
