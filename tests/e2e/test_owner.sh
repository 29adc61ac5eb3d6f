#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Which process owns each connection (xct attach-cgroup), with real
# processes and real traffic.
#
# xct is attached to the router's interfaces and its owner programs to a
# cgroup v2 made for this run.  Processes put in that cgroup and run in the
# router's namespace (tests/e2e/owner_agent.py, each naming itself) open
# connections to the server: TCP over IPv4 and IPv6, UDP by sendto() and by
# a connected socket, one as uid 65534; one accepts a connection from the
# client.  For each, `xct ct list -o process` must show the process's pid,
# comm, uid, gid and the cgroup's path, and the JSON owner must equal what
# the kernel says of the same socket: its SO_COOKIE, and for TCP the pid,
# comm and sk: cookie `ss -tnpe` reports.  `xct ct events` must carry the
# owner on NEW, and on the DESTROY of a deleted connection.  A connection
# whose process has exited keeps the owner it had (without exe=).
#
# Negative controls: a process of the same namespace outside the cgroup,
# and forwarded traffic (client to server through the router), have no
# owner; after detach-cgroup nothing is shown or recorded any more.
#
# `xct trace resets` names the process whose connect() a closed port
# refused, on the RST the router's stack received, in JSON and in text;
# the same refusal of a process outside the cgroup, and the server's RST
# as its own namespace sent it, name none.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
# shellcheck disable=SC2034 # lib.sh reads it
NS_PREFIX=owner
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
failures=0

P_TCP=7001 # the server's TCP echo (both families)
P_UDP=7002 # the server's UDP echo (both families)
P_ACCEPT=7100 # the router's listener, in the cgroup
P_CLOSED=7200 # nothing listens there on the server
WORK=""
CG=""
CG_REL=""

owner_cleanup() {
	kill_in_ns "$NS_C" "$NS_S" "$NS_R"
	e2e_cleanup
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		poll 5 cgroup_empty
		rmdir "$CG"
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap owner_cleanup EXIT

fail_setup() {
	echo "not ok owner_setup ($*)"
	exit 1
}

cgroup_empty() {
	[ ! -s "$CG/cgroup.procs" ]
}

# The cgroup v2 mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified in
# the hybrid layout).
cgroup2_root() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts
}

# agent NAME IN_CGROUP MODE ADDR PORT [ARGS]: an owner_agent.py process in
# the router's namespace, named NAME, in the test cgroup when IN_CGROUP is
# 1, until it has written WORK/NAME.json (its pid, port and cookie).
agent() {
	local name=$1 in_cg=$2
	shift 2
	if [ "$in_cg" = 1 ]; then
		# Joins the cgroup before ip netns exec, whose /sys has no
		# cgroup mounts; its children stay there.
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
			ip netns exec "$NS_R" "$PYTHON" "$E2E_DIR/owner_agent.py" "$@" \
			--comm "$name" --out "$WORK/$name.json" 2>"$WORK/$name.err" &
	else
		ip netns exec "$NS_R" "$PYTHON" "$E2E_DIR/owner_agent.py" "$@" \
			--comm "$name" --out "$WORK/$name.json" 2>"$WORK/$name.err" &
	fi
	BG_PIDS+=($!)
	poll 10 test -s "$WORK/$name.json"
}

# field NAME KEY: pid, port or cookie of agent NAME.
field() {
	"$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$WORK/$1.json" "$2"
}

# ct_line PROTO PORT: the `ct list -o process` line of the connection with
# PORT as one of its ports.
ct_line() {
	xct_r ct list -o process -p "$1" 2>/dev/null | grep -E "(sport|dport)=$2 "
}

# ct_line_any PROTO PORT: the same in either family.
ct_line_any() {
	{
		xct_r ct list -o process -p "$1" 2>/dev/null
		xct_r ct list -o process -p "$1" -f ipv6 2>/dev/null
	} | grep -E "(sport|dport)=$2 "
}

# json_owner PROTO FAMILY PORT: "pid comm uid gid cgroup cookie how" of the
# JSON owner of the connection whose original source port is PORT.
json_owner() {
	xct_r -j ct list -o process -p "$1" -f "$2" 2>/dev/null | "$PYTHON" -c '
import json, sys
port = int(sys.argv[1])
for c in json.load(sys.stdin):
    o = c.get("owner")
    if o and port in (c["orig"]["sport"], c["orig"]["dport"]):
        print(o["pid"], o["comm"], o["uid"], o["gid"], o["cgroup"], o["cookie"], o["how"])
' "$3"
}

# ss_owner FILTER: "pid comm cookie" of the TCP socket in the router that
# ss -tnpe shows for FILTER (an ss filter expression).
ss_owner() {
	in_ns "$NS_R" ss -tnpeH "$1" 2>/dev/null | "$PYTHON" -c '
import re, sys
for line in sys.stdin:
    u = re.search(r"users:\(\(\"([^\"]*)\",pid=(\d+)", line)
    k = re.search(r" sk:([0-9a-f]+)", line)
    if u and k:
        print(u.group(2), u.group(1), int(k.group(1), 16))
        break
'
}

# has_owner NAME LINE PID COMM UID CGROUP: one result, ok when the ct list
# line names that owner.
has_owner() {
	local name=$1 line=$2 pid=$3 comm=$4 uid=$5 cg=$6
	grep -q " pid=$pid tid=$pid comm=$comm uid=$uid gid=$uid cgroup=$cg\( \|$\)" <<<"$line"
	check "$name" $? "want pid=$pid comm=$comm uid=$uid cgroup=$cg in: $line"
}

# no_owner NAME LINE: one result, ok when the line exists and has no owner.
no_owner() {
	[ -n "$2" ] && ! grep -q " pid=" <<<"$2"
	check "$1" $? "line: '$2'"
}

# event_owner FILE TYPE PROTO PORT: "pid comm how" of the owner of the
# first TYPE event of the connection with PORT in the JSON events in FILE.
event_owner() {
	"$PYTHON" -c '
import json, sys
want, proto, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    c = e["conn"]
    if e.get("event") != want or c.get("proto") != proto:
        continue
    if port not in (c["orig"]["sport"], c["orig"]["dport"]):
        continue
    o = e.get("owner")
    print("%s %s %s" % (o["pid"], o["comm"], o["how"]) if o else "none")
    break
' "$1" "$2" "$3" "$4"
}

event_seen() {
	[ -n "$(event_owner "$@")" ]
}

# cgroup_progs: the programs attached to the test cgroup, as the kernel
# lists them (one per line; none: no line).
cgroup_progs() {
	bpftool cgroup show "$CG" 2>/dev/null | awk 'NR > 1 && NF { print $2 }' | sort
}

# The owner programs' links are pinned under the state.
pinned_links() {
	compgen -G "$PIN_ROOT/xct/xct_owner_cg*" >/dev/null
}

# ---- set-up ----

[ "$(id -u)" = 0 ] || fail_setup "needs root"
have_xct || fail_setup "no $XCT"
CG_ROOT=$(cgroup2_root)
[ -n "$CG_ROOT" ] || fail_setup "no cgroup2 mount"
WORK=$(mktemp -d /tmp/xct-owner.XXXXXX) || fail_setup "mktemp"
chmod 1777 "$WORK" # the agent running as uid 65534 writes there too
CG="$CG_ROOT/xct-owner-$TAG"
CG_REL="/xct-owner-$TAG"
mkdir "$CG" || fail_setup "cannot make cgroup $CG"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
xct_attach native >/dev/null || fail_setup "xct attach"

ip netns exec "$NS_S" socat "TCP6-LISTEN:$P_TCP,fork,reuseaddr" EXEC:cat 2>/dev/null &
BG_PIDS+=($!)
ip netns exec "$NS_S" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
' "$P_UDP" 2>/dev/null &
BG_PIDS+=($!)
poll 10 listening "$NS_S" tcp "$P_TCP" || fail_setup "tcp echo"
poll 10 listening "$NS_S" udp "$P_UDP" || fail_setup "udp echo"

# ---- attach-cgroup ----

expect owner_attach_cgroup 0 "owners recorded" xct_r attach-cgroup "$CG"
compgen -G "$PIN_ROOT/xct/xct_owner_cg*_sockops" >/dev/null
check owner_attach_pins_links $? "$(ls "$PIN_ROOT/xct")"
got=$(cgroup_progs | tr '\n' ' ')
[ "$got" = "cgroup_inet4_connect cgroup_inet4_post_bind cgroup_inet6_connect cgroup_inet6_post_bind cgroup_inet_egress cgroup_inet_sock_release cgroup_sock_ops cgroup_udp4_sendmsg cgroup_udp6_sendmsg " ]
check owner_attach_cgroup_kernel_has_programs $? "bpftool cgroup show: '$got'"
expect owner_attach_cgroup_not_a_cgroup 1 "not a cgroup v2 directory" \
	xct_r attach-cgroup "$WORK"
expect owner_attach_cgroup_usage 2 "one argument" xct_r attach-cgroup

# Events from before the first connection.
EVOUT="$WORK/events.json"
start_reader "$EVOUT" "$WORK/events.err" -o json || fail_setup "ct events"

# ---- outbound connections from processes in the cgroup ----

agent own-tcp4 1 tcp "$S4" "$P_TCP" || fail_setup "own-tcp4: $(cat "$WORK/own-tcp4.err")"
agent own-tcp6 1 tcp "$S6" "$P_TCP" || fail_setup "own-tcp6: $(cat "$WORK/own-tcp6.err")"
agent own-udp4 1 udp "$S4" "$P_UDP" --uid 65534 ||
	fail_setup "own-udp4: $(cat "$WORK/own-udp4.err")"
agent own-udp6 1 udp-conn "$S6" "$P_UDP" || fail_setup "own-udp6: $(cat "$WORK/own-udp6.err")"

for a in own-tcp4:tcp:ipv4:0 own-tcp6:tcp:ipv6:0 own-udp4:udp:ipv4:65534 own-udp6:udp:ipv6:0; do
	IFS=: read -r name proto fam uid <<<"$a"
	pid=$(field "$name" pid)
	port=$(field "$name" port)
	ck=$(field "$name" cookie)
	has_owner "${name//-/_}_ct_list" "$(ct_line_any "$proto" "$port")" "$pid" "$name" "$uid" \
		"$CG_REL"
	got=$(json_owner "$proto" "$fam" "$port")
	how=connect
	[ "$proto" = udp ] && how=send
	[ "$got" = "$pid $name $uid $uid $CG_REL $ck $how" ]
	check "${name//-/_}_json_owner_is_the_socket" $? \
		"got '$got', want '$pid $name $uid $uid $CG_REL $ck $how'"
	if [ "$proto" = tcp ]; then
		ss_got=$(ss_owner "( sport = :$port )")
		[ -n "$ss_got" ] && [ "$ss_got" = "$pid $name $ck" ]
		check "${name//-/_}_equals_ss" $? "ss: '$ss_got', want '$pid $name $ck'"
	fi
	poll 5 event_seen "$EVOUT" NEW "$proto" "$port"
	got=$(event_owner "$EVOUT" NEW "$proto" "$port")
	[ "$got" = "$pid $name $how" ]
	check "${name//-/_}_event_new_has_owner" $? "got '$got', want '$pid $name $how'"
done

# ct get shows the same owner for one connection.
line=$(xct_r ct get -p tcp -s "$R4S" -d "$S4" --sport "$(field own-tcp4 port)" --dport "$P_TCP" \
	-o process 2>/dev/null)
has_owner owner_ct_get "$line" "$(field own-tcp4 pid)" own-tcp4 0 "$CG_REL"

# Without -o process, no owner is shown.
xct_r ct list -p tcp 2>/dev/null | grep -E "sport=$(field own-tcp4 port) " | grep -q " pid="
check owner_only_with_o_process $((!$?))

# ---- an accepted connection: the listener's process ----

agent own-srv 1 listen 0.0.0.0 "$P_ACCEPT" &
srv_wait=$!
poll 10 test -s "$WORK/own-srv.json.listening" || fail_setup "own-srv: $(cat "$WORK/own-srv.err")"
in_ns "$NS_C" socat -T 20 - "TCP:$R4C:$P_ACCEPT" </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
wait "$srv_wait" || fail_setup "own-srv: $(cat "$WORK/own-srv.err")"
pid=$(field own-srv pid)
cport=$(field own-srv port)
ck=$(field own-srv cookie)
has_owner owner_accepted_ct_list "$(ct_line tcp "$cport")" "$pid" own-srv 0 "$CG_REL"
got=$(json_owner tcp ipv4 "$cport")
[ "$got" = "$pid own-srv 0 0 $CG_REL $ck listener" ]
check owner_accepted_json_owner_is_the_socket $? \
	"got '$got', want '$pid own-srv 0 0 $CG_REL $ck listener'"
ss_got=$(ss_owner "( dport = :$cport )")
[ -n "$ss_got" ] && [ "$ss_got" = "$pid own-srv $ck" ]
check owner_accepted_equals_ss $? "ss: '$ss_got', want '$pid own-srv $ck'"
poll 5 event_seen "$EVOUT" NEW tcp "$cport"
got=$(event_owner "$EVOUT" NEW tcp "$cport")
[ "$got" = "$pid own-srv bind" ] || [ "$got" = "$pid own-srv listener" ]
check owner_accepted_event_new_has_listener $? "got '$got'"

# ---- a dual-stack listener: accepted over IPv6, and over IPv4 (mapped) ----

# accepted_on NAME PORT CLIENT_ADDR FAMILY: agent NAME listens on [::]:PORT
# and accepts one connection from the client to CLIENT_ADDR; ok when the
# accepted connection's owner is NAME, as the JSON owner and as ss say.
accepted_on() {
	local name=$1 port=$2 addr=$3 fam=$4 wait_pid pid cport ck got ss_got
	agent "$name" 1 listen :: "$port" &
	wait_pid=$!
	poll 10 test -s "$WORK/$name.json.listening" || fail_setup "$name: $(cat "$WORK/$name.err")"
	in_ns "$NS_C" socat -T 20 - "TCP:$addr:$port" </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	wait "$wait_pid" || fail_setup "$name: $(cat "$WORK/$name.err")"
	pid=$(field "$name" pid)
	cport=$(field "$name" port)
	ck=$(field "$name" cookie)
	got=$(json_owner tcp "$fam" "$cport")
	[ "$got" = "$pid $name 0 0 $CG_REL $ck listener" ]
	check "owner_${name//-/_}_json_owner_is_the_socket" $? \
		"got '$got', want '$pid $name 0 0 $CG_REL $ck listener'"
	ss_got=$(ss_owner "( dport = :$cport )")
	[ -n "$ss_got" ] && [ "$ss_got" = "$pid $name $ck" ]
	check "owner_${name//-/_}_equals_ss" $? "ss: '$ss_got', want '$pid $name $ck'"
}
accepted_on own-srv6 7101 "[$R6C]" ipv6
accepted_on own-srvm 7102 "$R4C" ipv4

# ---- a connection outlives its process ----

agent own-gone 1 udp "$S4" "$P_UDP" --exit || fail_setup "own-gone: $(cat "$WORK/own-gone.err")"
pid=$(field own-gone pid)
poll 10 test ! -d "/proc/$pid"
line=$(ct_line udp "$(field own-gone port)")
has_owner owner_outlives_process "$line" "$pid" own-gone 0 "$CG_REL"
! grep -q " exe=" <<<"$line"
check owner_gone_process_has_no_exe $? "$line"
grep -q " exe=" <<<"$(ct_line udp "$(field own-udp6 port)")" ||
	grep -q " exe=" <<<"$(ct_line_any udp "$(field own-udp6 port)")"
check owner_running_process_has_exe $?

# ---- DESTROY of a deleted connection names its owner ----

port=$(field own-udp4 port)
xct_r ct delete -p udp --sport "$port" >/dev/null 2>&1
poll 5 event_seen "$EVOUT" DESTROY udp "$port"
got=$(event_owner "$EVOUT" DESTROY udp "$port")
[ "$got" = "$(field own-udp4 pid) own-udp4 send" ]
check owner_event_destroy_has_owner $? "got '$got'"

# ---- xct trace resets names the process of a refused connection ----

# reset_owner FILE DIRECTION PORT: "pid comm" of the owner of the JSON
# reset event in FILE sent or received for the connection with PORT,
# "none" when it has none, nothing without such an event.
reset_owner() {
	"$PYTHON" -c '
import json, sys
want, port = sys.argv[2], int(sys.argv[3])
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") != "reset" or e.get("direction") != want:
        continue
    if port not in (e.get("sport"), e.get("dport")):
        continue
    o = e.get("owner")
    print("%s %s" % (o["pid"], o["comm"]) if o else "none")
    break
' "$1" "$2" "$3"
}

# start_trace NAME ARGS...: xct trace in the router, output in
# WORK/NAME.{out,err}; returns once its programs are attached.
start_trace() {
	local name=$1
	shift
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" trace "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	BG_PIDS+=($!)
	TRACE_WAIT=$!
	poll 10 grep -q "xct: tracing" "$WORK/$name.err"
}

# Each refusal is two resets: the server's answer, and the router's
# stack receiving it.  One trace at a time: without xctd, one reader holds
# xct's own stream.
start_trace rst-json resets -o json --port "$P_CLOSED" --count 4 --timeout 20 ||
	fail_setup "trace resets: $(cat "$WORK/rst-json.err")"
rst_pid=$TRACE_WAIT
agent own-rst 1 refused "$S4" "$P_CLOSED" || fail_setup "own-rst: $(cat "$WORK/own-rst.err")"
agent own-rst-out 0 refused "$S4" "$P_CLOSED" ||
	fail_setup "own-rst-out: $(cat "$WORK/own-rst-out.err")"
wait "$rst_pid"
pid=$(field own-rst pid)
port=$(field own-rst port)
got=$(reset_owner "$WORK/rst-json.out" received "$port")
[ "$got" = "$pid own-rst" ]
check owner_trace_reset_names_process $? "got '$got', want '$pid own-rst'"
got=$(reset_owner "$WORK/rst-json.out" sent "$port")
[ "$got" = none ]
check owner_trace_reset_other_netns_has_none $? "server's RST: got '$got', want none"
got=$(reset_owner "$WORK/rst-json.out" received "$(field own-rst-out port)")
[ "$got" = none ]
check owner_trace_reset_outside_cgroup_has_none $? "got '$got', want none"

start_trace rst-text resets --port "$P_CLOSED" --count 4 --timeout 20 ||
	fail_setup "trace resets: $(cat "$WORK/rst-text.err")"
rst_pid=$TRACE_WAIT
agent own-rst-txt 1 refused "$S6" "$P_CLOSED" ||
	fail_setup "own-rst-txt: $(cat "$WORK/own-rst-txt.err")"
agent own-rst-out6 0 refused "$S6" "$P_CLOSED" ||
	fail_setup "own-rst-out6: $(cat "$WORK/own-rst-out6.err")"
wait "$rst_pid"
line=$(grep -E "reset received .*:$(field own-rst-txt port)( |$)" "$WORK/rst-text.out")
has_owner owner_trace_reset_text_names_process "$line" "$(field own-rst-txt pid)" own-rst-txt 0 \
	"$CG_REL"
no_owner owner_trace_reset_text_outside_cgroup_has_none \
	"$(grep -E "reset received .*:$(field own-rst-out6 port)( |$)" "$WORK/rst-text.out")"

# ---- negative controls ----

agent own-out 0 tcp "$S4" "$P_TCP" || fail_setup "own-out: $(cat "$WORK/own-out.err")"
no_owner owner_outside_cgroup_has_none "$(ct_line tcp "$(field own-out port)")"

tcp_peer_of "$NS_C" "$S4:$P_TCP" 41234 >/dev/null &
BG_PIDS+=($!)
poll 10 ct_line tcp 41234
no_owner owner_forwarded_has_none "$(ct_line tcp 41234)"

# ---- detach-cgroup ----

expect owner_detach_cgroup 0 "" xct_r detach-cgroup "$CG"
! pinned_links
check owner_detach_unpins_links $? "$(ls "$PIN_ROOT/xct")"
no_owner owner_detached_shows_none "$(ct_line tcp "$(field own-tcp4 port)")"
agent own-late 1 tcp "$S4" "$P_TCP" || fail_setup "own-late: $(cat "$WORK/own-late.err")"
no_owner owner_detached_records_none "$(ct_line tcp "$(field own-late port)")"
expect owner_detach_cgroup_again 1 "no owner programs" xct_r detach-cgroup "$CG"
[ -z "$(cgroup_progs)" ]
check owner_detach_cgroup_kernel_has_none $? "$(cgroup_progs | tr '\n' ' ')"

# detach --all takes the owner programs away with everything else.
xct_r attach-cgroup "$CG" >/dev/null
[ -n "$(cgroup_progs)" ] && xct_r detach --all >/dev/null
check owner_detach_all_detaches_cgroup $? "detach --all"
XCT_ATTACHED=0
[ -z "$(cgroup_progs)" ]
check owner_detach_all_kernel_has_none $? "$(cgroup_progs | tr '\n' ' ')"

[ "$failures" = 0 ]
