#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct ct events against conntrack -E, on the router of lib.sh where both
# trackers see the same packets.  Real TCP connections (IPv4 and IPv6) are
# opened, used and closed through the router, then deleted with xct ct
# delete and conntrack -D: xct's event lines must equal conntrack's, NEW,
# every UPDATE (SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK,
# TIME_WAIT) and the DESTROY with its counters.  A connection that reopens
# its tuple from TIME_WAIT ends the old one with a DESTROY before the NEW,
# as in nf_conntrack.  -o json gives the same events as objects, the
# DESTROY's counters equal to conntrack -L's.  A flood of new flows into a
# 4 KiB ring loses events, and the reader reports exactly the datapath's
# lost counter; a reader stalled behind a consumer that stops reading
# reports what it missed, so that shown plus lost is every event.  Bad
# arguments exit 2.  More traffic shapes: test_ct_events_shapes.sh.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ct_events_lib.sh"

ct_events_setup

# ---- A real TCP connection, both families, compared line by line ----
XOUT=$WORK/xct.out
COUT=$WORK/ct.out
start_readers || fail_setup "readers not ready"
tcp_echo "$NS_C" "TCP4:$S4:$PORT"
ok4=$?
tcp_echo "$NS_C" "TCP6:[$S6]:$PORT"
ok6=$?
P4=$(client_port $PORT ipv4)
P6=$(client_port $PORT ipv6)
[ -n "$P4" ] && [ -n "$P6" ] || fail_setup "connections not in conntrack's table"
poll 10 both_show "$P4" TIME_WAIT && poll 10 both_show "$P6" TIME_WAIT
tw=$?
xct_r ct delete -p tcp --dport $PORT >/dev/null 2>&1
ct_r -D -p tcp --dport $PORT >/dev/null 2>&1
ct_r -D -p tcp --dport $PORT -f ipv6 >/dev/null 2>&1
poll 10 both_show "$P4" DESTROY && poll 10 both_show "$P6" DESTROY
destroyed=$?

for fam in 4 6; do
	p=$P4
	[ $fam = 6 ] && p=$P6
	x=$(lines_of "$WORK/xct.out" "$p")
	c=$(lines_of "$WORK/ct.out" "$p")
	states=$(echo "$x" | awk '{print $1 "/" $5}' | tr '\n' ' ')
	expect="[NEW]/SYN_SENT [UPDATE]/SYN_RECV [UPDATE]/ESTABLISHED [UPDATE]/FIN_WAIT [UPDATE]/CLOSE_WAIT [UPDATE]/LAST_ACK [UPDATE]/TIME_WAIT [DESTROY]/TIME_WAIT "
	[ $fam = 4 ] && ok=$ok4 || ok=$ok6
	result "ct_events_tcp_ipv${fam}_sequence" "$([ "$ok" = 0 ] && [ "$tw" = 0 ] && [ "$states" = "$expect" ] && echo 0 || echo 1)" \
		"got: $states"
	result "ct_events_tcp_ipv${fam}_lines_equal_conntrack" "$([ -n "$x" ] && [ "$x" = "$c" ] && echo 0 || echo 1)" \
		"xct: $x" "conntrack: $c"
	d=$(grep "sport=$p " "$WORK/xct.out" | grep DESTROY)
	result "ct_events_tcp_ipv${fam}_destroy_counts_and_duration" \
		"$([ "$destroyed" = 0 ] && echo "$d" | grep -Eq 'packets=[1-9][0-9]* bytes=[1-9][0-9]* .*packets=[1-9][0-9]* bytes=[1-9][0-9]* \[ASSURED\] delta-time=[0-9]+ \[USERSPACE\]$' && echo 0 || echo 1)" "$d"
done

# ---- Reopening a tuple from TIME_WAIT: DESTROY of the old, then NEW ----
reopen() {
	local got
	got=$(in_ns "$NS_C" timeout 10 socat -t 2 - "TCP4:$S4:$PORT_TW,sourceport=41234,reuseaddr" </dev/null) || return 1
	[ "$got" = hi ]
}
reopen
ok1=$?
poll 10 both_show 41234 TIME_WAIT
ok2=$?
reopen
ok3=$?
poll 10 both_show 41234 "NEW.*SYN_SENT.*" >/dev/null
poll 10 sh -c "[ \$(grep -c 'NEW.*sport=41234 ' '$WORK/xct.out') -ge 2 ] && [ \$(grep -c 'NEW.*sport=41234 ' '$WORK/ct.out') -ge 2 ]"
ok4=$?
x=$(lines_of "$WORK/xct.out" 41234 | awk '{print $1 "/" $5}' | tr '\n' ' ')
c=$(lines_of "$WORK/ct.out" 41234 | awk '{print $1 "/" $5}' | tr '\n' ' ')
dx=$(lines_of "$WORK/xct.out" 41234 | grep DESTROY)
dc=$(lines_of "$WORK/ct.out" 41234 | grep DESTROY)
result ct_events_reopen_destroys_the_old_connection \
	"$([ "$ok1$ok2$ok3$ok4" = 0000 ] && [ -n "$dx" ] && [ "$x" = "$c" ] && [ "$dx" = "$dc" ] && echo 0 || echo 1)" \
	"xct: $x" "conntrack: $c" "xct: $dx" "conntrack: $dc"
stop_reader "$EV_PID"
stop_reader "$CT_PID"
result ct_events_summary_on_stderr "$(grep -Eq '^xct v.*: [0-9]+ flow events have been shown\.$' "$WORK/xct.err" && echo 0 || echo 1)" \
	"$(cat "$WORK/xct.err")"
flush_both


# ---- -o json: the same events as objects; DESTROY's counters = conntrack -L ----
XOUT=$WORK/json.out
COUT=$WORK/ct-json.out
start_readers -o json -p tcp --dport $PORT || fail_setup "json reader not ready"
tcp_echo "$NS_C" "TCP4:$S4:$PORT"
okj=$?
PJ=$(client_port $PORT ipv4)
poll 10 grep -q "TIME_WAIT.*\"sport\":$PJ," "$XOUT"
tw=$?
oracle=$(ct_r -L -p tcp --dport $PORT 2>/dev/null | grep "sport=$PJ ")
xct_r ct delete -p tcp --dport $PORT >/dev/null 2>&1
poll 10 grep -q '"DESTROY"' "$XOUT"
stop_reader "$EV_PID"
stop_reader "$CT_PID"
check=$("$PYTHON" - "$XOUT" "$oracle" "$PJ" <<-'EOF'
	import json, re, sys
	path, oracle, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
	objs = [json.loads(l) for l in open(path)]
	end = objs[-1]
	evs = [o for o in objs[:-1] if o["conn"]["orig"]["sport"] == port]
	seq = [(o["event"], o["conn"]["state"]) for o in evs]
	want = [("NEW", "SYN_SENT"), ("UPDATE", "SYN_RECV"), ("UPDATE", "ESTABLISHED"),
	        ("UPDATE", "FIN_WAIT"), ("UPDATE", "CLOSE_WAIT"), ("UPDATE", "LAST_ACK"),
	        ("UPDATE", "TIME_WAIT"), ("DESTROY", "TIME_WAIT")]
	if seq != want:
	    sys.exit(f"sequence {seq}")
	if any(o["conn"]["protonum"] != 6 or o["conn"]["orig"]["dport"] != 5001 for o in objs[:-1]):
	    sys.exit("an event the filters should have kept out")
	d = evs[-1]
	c = [int(x) for x in re.findall(r"(?:packets|bytes)=(\d+)", oracle)]
	got = [d["conn"]["orig"]["packets"], d["conn"]["orig"]["bytes"],
	       d["conn"]["reply"]["packets"], d["conn"]["reply"]["bytes"]]
	if got != c:
	    sys.exit(f"counters {got} != conntrack {c}")
	if d["end"] != "deleted" or d["duration_ms"] < 0 or d["start"] > d["time"]:
	    sys.exit(f"destroy fields {d}")
	if end != {"event": "END", "shown": len(objs) - 1, "lost": 0, "lost_ring_full": 0,
	           "lost_not_read": 0}:
	    sys.exit(f"end object {end}")
	print("ok")
	EOF
)
result ct_events_json_sequence_and_counters "$([ "$okj$tw" = 00 ] && [ "$check" = ok ] && echo 0 || echo 1)" "$check"
flush_both

# ---- A reader stalled behind a consumer that stops reading ----
# The reader writes into a pipe whose reader is stopped: it blocks once the
# pipe is full and stops refreshing its subscription, which lapses after
# 3 s; the datapath then builds no events, and counts them.  What the
# reader shows plus what it reports lost is every connection made while it
# ran, exactly.
RMAC=$(in_ns "$NS_R" cat /sys/class/net/veth-r-c/address)
CMAC=$(in_ns "$NS_C" cat /sys/class/net/veth-c/address)
# send_flows FIRST N: N new UDP flows from source ports FIRST.., in one burst.
send_flows() {
	cat >"$WORK/flows.cfg" <<-EOF
		{ eth(da=$RMAC, sa=$CMAC), ipv4(saddr=$C4, daddr=$S4, ttl=64), udp(sport=dinc($1, $(($1 + $2 - 1))), dport=9), fill(0x00, 18) }
	EOF
	in_ns "$NS_C" trafgen -o veth-c -c "$WORK/flows.cfg" -n "$2" -P 1 --no-sock-mem -Q -b 100000pps >/dev/null 2>&1 &&
		SENT=$((SENT + $2))
}
# A probe of 20 more flows; true once the datapath has counted events it
# did not build (the stalled reader's subscription has lapsed).
lapsed() {
	send_flows $((40000 + SENT)) 20 || return 1
	[ "$(stat_total ct_events_no_reader)" -gt "$NR0" ]
}
flush_both
rm -f "$WORK/pipe"
mkfifo "$WORK/pipe"
cat "$WORK/pipe" >"$WORK/stall.out" &
CONS_PID=$!
BG_PIDS+=("$CONS_PID")
SLOT_BEFORE=$(subs_slot)
ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" ct events -o json >"$WORK/pipe" 2>"$WORK/stall.err" &
EV_PID=$!
BG_PIDS+=("$EV_PID")
poll 10 subscribed
ready=$?
SENT=0
NR0=$(stat_total ct_events_no_reader)
INS0=$(stat_total insert)
kill -STOP "$CONS_PID"
# 1,500 events of about 400 bytes fill the 64 KiB pipe: the reader blocks.
send_flows 40000 1500
ok1=$?
poll 20 lapsed
ok2=$?
send_flows $((40000 + SENT)) 500
ok3=$?
poll 10 sh -c "[ \$(ip netns exec $NS_R $XCT --pin-path $XCT_PIN -j ct stats | $PYTHON -c 'import json,sys; print(sum(c[\"insert\"] for c in json.load(sys.stdin)[\"cpus\"]))') -ge $((INS0 + SENT)) ]"
ok4=$?
made=$(($(stat_total insert) - INS0))
kill -CONT "$CONS_PID"
stop_reader "$EV_PID"
wait "$CONS_PID" 2>/dev/null
shown=$(grep -c '"event":"NEW"' "$WORK/stall.out")
end=$(tail -1 "$WORK/stall.out")
check=$("$PYTHON" - "$end" "$shown" "$made" "$SENT" <<-'EOF'
	import json, sys
	end, shown, made, sent = json.loads(sys.argv[1]), *map(int, sys.argv[2:])
	if made != sent:
	    sys.exit(f"{made} connections in the table's insert counter, {sent} sent")
	if end.get("event") != "END" or end["shown"] != shown:
	    sys.exit(f"end {end}, {shown} NEW lines")
	if end["lost_not_read"] <= 0 or end["lost"] != end["lost_ring_full"] + end["lost_not_read"]:
	    sys.exit(f"end {end}")
	if end["shown"] + end["lost"] != made:
	    sys.exit(f"shown {end['shown']} + lost {end['lost']} != {made} connections")
	print("ok")
	EOF
)
result ct_events_stalled_reader_counts_every_event \
	"$([ "$ready$ok1$ok2$ok3$ok4" = 00000 ] && [ "$check" = ok ] && echo 0 || echo 1)" \
	"$check (ready $ready, bursts $ok1 $ok3, lapse $ok2, tracked $ok4)" "stderr: $(cat "$WORK/stall.err")"
result ct_events_stalled_reader_summary \
	"$(grep -Eq '^xct: [0-9]+ connection events lost \([0-9]+: the ring buffer was full; [1-9][0-9]*: not read for more than 3 s, so not built\)$' "$WORK/stall.err" && echo 0 || echo 1)" \
	"$(cat "$WORK/stall.err")"
flush_both

# ---- A flood into a 4 KiB ring: lost events counted and reported ----
xct_r attach --replace --ct-events-size 4096 veth-r-c veth-r-s >/dev/null 2>&1
ring=$(bpftool -j map show pinned "$XCT_PIN/xct_ct_events" 2>/dev/null |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])' 2>/dev/null)
result ct_events_ring_size_option "$([ "$ring" = 4096 ] && echo 0 || echo 1)" "ring of $ring bytes"
ev0=$(stat_total ct_events)
lost0=$(stat_total ct_events_lost)
start_reader "$WORK/flood.out" "$WORK/flood.err" -o json -p udp
ready_flood=$?
# A reader that falls behind: stopped while the flood comes, so that the
# 4 KiB ring (32 events) fills whatever the machine's speed.  Its
# subscription, refreshed every second, lasts 3 s.
kill -STOP "$EV_PID"
# Every flood flow is in the table before the reader goes on.
flood_new_flows "$WORK" 2000
okf=$?
okc=$okf
kill -CONT "$EV_PID"
stop_reader "$EV_PID"
ev1=$(stat_total ct_events)
lost1=$(stat_total ct_events_lost)
shown=$(grep -c '"event":"NEW"' "$WORK/flood.out")
end=$(tail -1 "$WORK/flood.out")
lost=$((lost1 - lost0))
result ct_events_flood_loses_events "$([ "$ready_flood$okf$okc" = 000 ] && [ "$lost" -gt 0 ] && echo 0 || echo 1)" \
	"lost $lost (ready $ready_flood, trafgen $okf, count $okc)"
result ct_events_flood_lost_reported_equals_counter \
	"$(echo "$end" | grep -q "\"lost_ring_full\":$lost," && grep -q "^xct: [0-9]* connection events lost ($lost: the ring buffer was full" "$WORK/flood.err" && echo 0 || echo 1)" \
	"end: $end; counter: $lost; stderr: $(cat "$WORK/flood.err")"
result ct_events_flood_shown_plus_lost_is_all \
	"$([ $((shown)) = $((ev1 - ev0)) ] && [ $((shown + $(echo "$end" | grep -o '"lost":[0-9]*' | cut -d: -f2))) = 2000 ] && echo 0 || echo 1)" \
	"shown $shown, sent $((ev1 - ev0)), lost $lost"

# ---- No reader: no events built ----
# The reader that ended gave its subscription up: a new flow is tracked,
# and no event is built for it.
e0=$(stat_total ct_events)
i0=$(stat_total insert)
echo x | in_ns "$NS_C" socat -T 1 - "UDP4:$S4:9,sourceport=21000" >/dev/null 2>&1
poll 5 sh -c "[ \$(ip netns exec $NS_R $XCT --pin-path $XCT_PIN -j ct stats | $PYTHON -c 'import json,sys; print(sum(c[\"insert\"] for c in json.load(sys.stdin)[\"cpus\"]))') -gt $i0 ]"
tracked=$?
e1=$(stat_total ct_events)
result ct_events_none_without_reader "$([ "$tracked" = 0 ] && [ "$e0" = "$e1" ] && echo 0 || echo 1)" \
	"tracked $tracked, events $e0 -> $e1"

# ---- Command-line errors exit 2 ----
bad=0
for args in "-e BOGUS" "--count 0" "--timeout x" "-o xml" "--state BOGUS" "-e" "stray"; do
	# shellcheck disable=SC2086
	xct_r ct events $args >/dev/null 2>&1
	rc=$?
	if [ $rc != 2 ]; then
		bad=1
		echo "#   'ct events $args' exited $rc"
	fi
done
xct_r ct list --count 3 >/dev/null 2>&1
[ $? = 2 ] || { bad=1; echo "#   'ct list --count 3' did not exit 2"; }
xct_r ct list -o timestamp >/dev/null 2>&1
[ $? = 2 ] || { bad=1; echo "#   'ct list -o timestamp' did not exit 2"; }
xct_r attach --replace --ct-events-size 5000 veth-r-c >/dev/null 2>&1
[ $? = 2 ] || { bad=1; echo "#   'attach --ct-events-size 5000' did not exit 2"; }
result ct_events_bad_arguments_exit_2 $bad
