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
	if end != {"event": "END", "shown": len(objs) - 1, "lost": 0}:
	    sys.exit(f"end object {end}")
	print("ok")
	EOF
)
result ct_events_json_sequence_and_counters "$([ "$okj$tw" = 00 ] && [ "$check" = ok ] && echo 0 || echo 1)" "$check"
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
	"$(echo "$end" | grep -q "\"lost\":$lost}" && grep -q "^xct: $lost connection events lost" "$WORK/flood.err" && echo 0 || echo 1)" \
	"end: $end; counter: $lost; stderr: $(cat "$WORK/flood.err")"
result ct_events_flood_shown_plus_lost_is_all \
	"$([ $((shown)) = $((ev1 - ev0)) ] && [ $((shown + lost)) = 2000 ] && echo 0 || echo 1)" \
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
