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
# lost counter.  Bad arguments exit 2.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

PORT=5001     # echo server: the client closes first
PORT_TW=5003  # the server answers and closes first: its peer can reuse the tuple
WORK=""
XOUT="" # what the readers of start_readers write
COUT=""
EV_PID=""
CT_PID=""

fail_setup() {
	echo "not ok ct_events_setup ($*)"
	exit 1
}

# The counter NAME summed over the CPUs (xct ct stats -j).
stat_total() {
	xct_r -j ct stats | "$PYTHON" -c "import json,sys; print(sum(c['$1'] for c in json.load(sys.stdin)['cpus']))"
}

# start_readers [xct ct events args]: xct ct events and conntrack -E in the
# router, both ready.
start_readers() {
	start_reader "$XOUT" "$WORK/xct.err" "$@" || return 1
	ip netns exec "$NS_R" conntrack -E >"$COUT" 2>/dev/null &
	CT_PID=$!
	BG_PIDS+=("$CT_PID")
	poll 10 ct_ready
}

# conntrack -E shows events once it has shown a ping's.
ct_ready() {
	in_ns "$NS_C" ping -c 1 -W 1 "$S4" >/dev/null 2>&1
	grep -q "icmp" "$COUT"
}

table_count() {
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" ct count
}

# The lines of one connection, the DESTROY's tail cut after its counters
# and flags: conntrack says who deleted it (portid=, progname=), xct how
# long it lasted (delta-time=), and its timeout is the one second when the
# two deletes ran.
lines_of() {
	grep "sport=$2 " "$1" | sed -E \
		-e 's/ (delta-time=[0-9]+|\[USERSPACE\]|portid=[0-9]+|progname=[^ ]+)//g' \
		-e 's/^(\[DESTROY\] [a-z0-9]+ +[0-9]+ )[0-9]+ /\1T /'
}

# tcp_echo NS ADDR-SPEC: a few bytes to the echo server and back.
tcp_echo() {
	local got
	got=$(echo "hello" | in_ns "$1" timeout 10 socat -t 2 - "$2") || return 1
	[ "$got" = "hello" ]
}

# The client port of the connection to PORT in conntrack's table.
client_port() {
	ct_r -L -p tcp --dport "$1" -f "$2" 2>/dev/null | grep -o 'sport=[0-9]*' | head -1 | cut -d= -f2
}

both_show() {
	grep "sport=$1 " "$XOUT" | grep -q "$2" && grep "sport=$1 " "$COUT" | grep -q "$2"
}

setup_topology || fail_setup "topology"
enable_oracle || fail_setup "nf_conntrack oracle"
mount_pin_fs || fail_setup "bpffs"
xct_attach native || fail_setup "xct attach"
WORK=$(mktemp -d /tmp/xct-ctev.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
in_ns "$NS_C" sysctl -qw net.ipv4.tcp_tw_reuse=1 || fail_setup "sysctl"
ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_S" socat TCP6-LISTEN:$PORT,ipv6only=1,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT_TW,reuseaddr,fork SYSTEM:'echo hi' </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 sh -c "ip netns exec $NS_S ss -lnt | grep -q ':$PORT_TW '" || fail_setup "servers"
flush_both

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

# ---- More traffic shapes, line by line against conntrack -E ----
# Web fetches (curl from a python http.server, both families), refused
# connections (a RST answers the SYN), a connection reset once
# established that then times out in CLOSE, a UDP exchange and a UDP
# datagram that both expire, and a ping that expires.  For each
# connection, xct's lines must be conntrack's.
# shape_lines FILE PATTERN: the normalised lines of one connection.
shape_lines() {
	grep -E -- "$2" "$1" | sed -E \
		-e 's/ (delta-time=[0-9]+|\[USERSPACE\]|portid=[0-9]+|progname=[^ ]+)//g' \
		-e 's/^(\[DESTROY\] [a-z0-9]+ +[0-9]+ )[0-9]+ /\1T /'
}
# same_shape NAME PATTERN [killed]: xct's lines equal conntrack's, the
# last a DESTROY.  A connection a packet killed is announced by xct's
# collector, as an expiry, with no time left to show, where conntrack
# shows the time left when the packet came (docs/ARCHITECTURE.md,
# deviations): "killed" leaves that number out of conntrack's DESTROY.
same_shape() {
	local x c
	x=$(shape_lines "$XOUT" "$2")
	c=$(shape_lines "$COUT" "$2")
	[ "${3:-}" = killed ] && c=$(sed -E 's/^(\[DESTROY\] tcp +6 )T /\1/' <<<"$c")
	result "$1" "$([ -n "$c" ] && [ "$x" = "$c" ] && tail -1 <<<"$x" | grep -q '^\[DESTROY\]' && echo 0 || echo 1)" \
		"xct: $(echo "$x" | tr '\n' '|')" "conntrack: $(echo "$c" | tr '\n' '|')"
}
# destroyed PATTERN: both readers have shown the connection's DESTROY.
destroyed() {
	grep -E -- "$1" "$XOUT" | grep -q '^\[DESTROY\]' && grep -E -- "$1" "$COUT" | grep -q '^\[DESTROY\]'
}
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
same_shape ct_events_refused_ipv4 "sport=21004 " killed
same_shape ct_events_refused_ipv6 "sport=21005 " killed
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
stop_reader "$CT_PID"
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
cat >"$WORK/flood.cfg" <<-EOF
	{ eth(da=$RMAC, sa=$CMAC), ipv4(saddr=$C4, daddr=$S4, ttl=64), udp(sport=dinc(30000, 31999), dport=9), fill(0x00, 18) }
EOF
in_ns "$NS_C" trafgen -o veth-c -c "$WORK/flood.cfg" -n 2000 -P 1 --no-sock-mem -Q -b 200000pps >/dev/null 2>&1
okf=$?
# Every flood flow is in the table before the reader goes on.
poll 10 sh -c "[ \$(ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct count) -ge 2000 ]"
okc=$?
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

# ---- Translated connections (masquerade) against nf_nat's ----
# The same TCP echo and UDP exchange through xct's masquerade, then, with
# xct detached, through nftables' masquerade: xct's lines (the translated
# reply tuple, the NEW's full timeout) must be conntrack's, the client's
# port aside.
# nat_run OUT TCP-PORT UDP-PORT: the two connections, then their deletion.
nat_traffic() {
	echo hello | in_ns "$NS_C" timeout 10 socat -t 2 - "TCP4:$S4:$PORT,sourceport=$2" >/dev/null 2>&1
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
flush_both
start_reader "$WORK/nat.out" "$WORK/nat.err"
ready=$?
nat_traffic "$WORK/nat.out" 21040 21041
ok_x=$?
xct_r ct delete -p tcp --sport 21040 >/dev/null 2>&1
xct_r ct delete -p udp --sport 21041 >/dev/null 2>&1
poll 10 sh -c "[ \$(grep -c 'DESTROY.*sport=2104[01] ' '$WORK/nat.out') -ge 2 ]"
ok_xd=$?
stop_reader "$EV_PID"
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
ct_r -F >/dev/null 2>&1
COUT=$WORK/nat-ct.out
ip netns exec "$NS_R" conntrack -E >"$COUT" 2>/dev/null &
CT_PID=$!
BG_PIDS+=("$CT_PID")
poll 10 ct_ready
ok_ct=$?
nat_traffic "$COUT" 21042 21043
ok_c=$?
ct_r -D -p tcp --orig-port-src 21042 >/dev/null 2>&1
ct_r -D -p udp --orig-port-src 21043 >/dev/null 2>&1
poll 10 sh -c "[ \$(grep -c 'DESTROY.*sport=2104[23] ' '$COUT') -ge 2 ]"
ok_cd=$?
stop_reader "$CT_PID"
x=$(nat_lines "$WORK/nat.out" 21040 21041)
c=$(nat_lines "$COUT" 21042 21043)
result ct_events_masquerade_lines_equal_conntrack \
	"$([ "$ok_load$ready$ok_x$ok_xd$ok_nft$ok_ct$ok_c$ok_cd" = 00000000 ] && [ -n "$x" ] && [ "$x" = "$c" ] && grep -q "NEW.* 120 SYN_SENT .*dst=$R4S " <<<"$x" && echo 0 || echo 1)" \
	"steps $ok_load$ready$ok_x$ok_xd$ok_nft$ok_ct$ok_c$ok_cd" "xct: $(echo "$x" | tr '\n' '|')" "conntrack: $(echo "$c" | tr '\n' '|')"
