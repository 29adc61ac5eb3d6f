#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The table saved and restored across a detach and an attach, with the
# connections sending all along, on a router under policy drop (established
# accepted, new connections by SYN only), masquerading port 7001:
#
#   1. xct ct save writes the three held TCP connections: A and B to port
#      7000, N to port 7001 with its translation, A with its labels;
#   2. detached, A and B move 4 MB both ways, far past the windows the save
#      knew (nothing tracks them then; N, untranslated, waits);
#   3. attached again (an empty table) and restored from a copy of the file
#      without B: A carries data end to end again, its windows relearnt
#      (liberal_end counts it), N too, with its translation (the same reply
#      tuple, so the server's socket still matches), A with its labels,
#      while B, not restored,
#      is dropped (the control);
#   4. the time the table was down comes off the timeouts; a connection
#      whose timeout passed meanwhile is not restored; a tuple the table has
#      is left alone; a bad file restores nothing and says FILE:LINE:COLUMN;
#   5. xct down with state-file saves the table before it goes, xct up
#      restores it (and removes the file): A still carries data.
set -u
NS_PREFIX=ctstate
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=""
failures=0

state_cleanup() {
	exec 7>&- 8>&- 9>&- 2>/dev/null
	kill_in_ns "$NS_C" "$NS_S"
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap state_cleanup EXIT

fail_setup() {
	echo "not ok ct_save_restore setup: $*"
	exit 1
}

# hold DIR ADDR PORT FD: a TCP connection from the client to an echo server,
# held open: each line written to DIR/hold.in is sent, and what comes back is
# written to DIR/hold.out by a thread of its own, so that a line larger than
# the socket buffers cannot block the echo.  FD keeps the FIFO open.
hold() {
	mkfifo "$1/hold.in" || return 1
	ip netns exec "$NS_C" "$PYTHON" -u -c '
import socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.settimeout(None)
out = open(sys.argv[4], "wb", buffering=0)
def echo():
    f = s.makefile("rb")
    for line in f:
        out.write(line)
threading.Thread(target=echo, daemon=True).start()
# Buffered: a line is handed on as soon as it is whole, and the 4 MB ones
# are not read a byte at a time.
for line in open(sys.argv[3], "rb"):
    s.sendall(line)
' "$2" "$3" "$1/hold.in" "$1/hold.out" 2>"$1/hold.err" &
	BG_PIDS+=($!)
	eval "exec $4<>\"\$1/hold.in\""
}

# send DIR WORD: WORD through the held connection, echoed back.
send() {
	echo "$2" >"$1/hold.in"
	poll 20 grep -qx "$2" "$1/hold.out"
}

# send_big DIR TAG: 4 MB through the held connection, then TAG, echoed
# back after them (the echo keeps the order).
send_big() {
	head -c 4000000 /dev/zero | tr '\0' x >"$1/hold.in"
	echo >"$1/hold.in"
	send "$1" "$2"
}

# The saved line of the connection from the client's port P.
saved_line() { grep -E " $C4 $1 | $1 $C4 " "$2"; }
conn_count() { xct_r ct count 2>/dev/null; }
# The reply tuple ("src=... dst=... sport=... dport=...") of the client's
# connection from port P, as ct list shows it.
reply_of() {
	xct_r ct list -p tcp 2>/dev/null | grep "sport=$1 " |
		sed -E 's/.*dport=700[01] (packets=[0-9]+ bytes=[0-9]+ )?(src=[^ ]+ dst=[^ ]+ sport=[0-9]+ dport=[0-9]+).*/\2/'
}
timeout_of() {
	xct_r ct list -p tcp 2>/dev/null | grep "sport=$1 " | awk '{ print $3 }'
}
# The packets the policy dropped (the first line of rules show).
policy_drops() {
	xct_r -j rules show | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[0]["packets"])'
}
drops_rose() { [ "$(policy_drops)" -ge "$1" ]; }
client_port() { # client_port DIR: the local port of the held connection
	ip netns exec "$NS_C" ss -tnp | awk -v pid="$1" '$0 ~ "pid=" pid "," { split($4, a, ":"); print a[2] }' | head -1
}

have_xct || fail_setup "no $XCT (make all)"
WORK=$(mktemp -d /tmp/xct-ctstate.XXXXXX) || fail_setup "mktemp"
mkdir "$WORK/a" "$WORK/b" || fail_setup "mkdir"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
xct_attach native || fail_setup "attach"
cat >"$WORK/rules.xct" <<-EOF
	policy drop
	accept ct state established,related
	accept tcp dport { 7000, 7001 } tcp flags == syn
	masquerade oif veth-r-s tcp dport 7001
EOF
xct_r rules load "$WORK/rules.xct" >/dev/null || fail_setup "rules"
for port in 7000 7001; do
	ip netns exec "$NS_S" socat TCP4-LISTEN:$port,reuseaddr,fork EXEC:cat </dev/null \
		>/dev/null 2>&1 &
	BG_PIDS+=($!)
	poll 5 listening "$NS_S" tcp $port || fail_setup "server $port"
done

mkdir "$WORK/n" || fail_setup "mkdir"
hold "$WORK/a" "$S4" 7000 7 || fail_setup "held connection A"
PID_A=${BG_PIDS[-1]}
hold "$WORK/n" "$S4" 7001 8 || fail_setup "held connection N"
PID_N=${BG_PIDS[-1]}
hold "$WORK/b" "$S4" 7000 9 || fail_setup "held connection B"
PID_B=${BG_PIDS[-1]}
send "$WORK/a" a1 && send "$WORK/b" b1 && send "$WORK/n" n1
check "ct_state: the held connections carry data through the router" $? \
	"$(cat "$WORK/a/hold.err" "$WORK/b/hold.err" "$WORK/n/hold.err")"
poll 5 [ -n "$(client_port "$PID_N")" ] || fail_setup "port of N"
PORT_A=$(client_port "$PID_A")
PORT_B=$(client_port "$PID_B")
PORT_N=$(client_port "$PID_N")
REPLY_N=$(reply_of "$PORT_N")
[ -n "$PORT_A" ] && [ -n "$PORT_B" ] && grep -q "dst=$R4S" <<<"$REPLY_N"
check "ct_state: N is masqueraded" $? "ports '$PORT_A' '$PORT_B' '$PORT_N', reply '$REPLY_N'"

# A's labels, one of them past the first 64 bits; N has none.
printf '1 ssh\n100 far\n' >"$WORK/connlabel.conf"
LBL=(--label-file "$WORK/connlabel.conf")
xct_r ct update -p tcp --sport "$PORT_A" --label-add ssh,far "${LBL[@]}" >/dev/null
labels_of() { xct_r ct list -p tcp --sport "$1" -o labels "${LBL[@]}" 2>/dev/null; }
labels_of "$PORT_A" | grep -q "labels=ssh,far$"
check "ct_state: A has labels before the save" $? "$(labels_of "$PORT_A")"

# 1. save
expect "ct_state: save" 0 "3 connections saved" xct_r ct save "$WORK/saved"
saved_line "$PORT_A" "$WORK/saved" | grep -qE " labels=00000010000000000000000000000002$" &&
	! saved_line "$PORT_N" "$WORK/saved" | grep -q " labels="
check "ct_state: the file has A's labels, bit 0 last, and none for N" $? \
	"$(saved_line "$PORT_A" "$WORK/saved")"
saved_line "$PORT_N" "$WORK/saved" | grep -qE " state=3 .* nat=snat,$R4S,[0-9]+," &&
	saved_line "$PORT_A" "$WORK/saved" | grep -qE " state=3 " &&
	! saved_line "$PORT_A" "$WORK/saved" | grep -q " nat=" &&
	[ "$(stat -c %a "$WORK/saved")" = 600 ] &&
	head -2 "$WORK/saved" | grep -qE '^xct-ct-state 1 realtime=[0-9]+$'
check "ct_state: the file has the connections, N translated" $? \
	"$(cat "$WORK/saved")"

# 2. detached, the connections move on
xct_detach || fail_setup "detach"
send_big "$WORK/a" big-1 && send_big "$WORK/b" big-2
check "ct_state: 4 MB each way while nothing tracks" $?

# 3. attached again: restore A only
xct_attach native || fail_setup "attach again"
xct_r rules load "$WORK/rules.xct" >/dev/null || fail_setup "rules again"
grep -v -E " $PORT_B " "$WORK/saved" >"$WORK/only-a"
LIB0=$(stat_total liberal_end)
expect "ct_state: restore" 0 "2 connections restored \(2 TCP" xct_r ct restore "$WORK/only-a"
[ "$(reply_of "$PORT_N")" = "$REPLY_N" ]
check "ct_state: N restored with its translation" $? "'$(reply_of "$PORT_N")' vs '$REPLY_N'"
labels_of "$PORT_A" | grep -q "labels=ssh,far$" && ! labels_of "$PORT_N" | grep -q "labels="
check "ct_state: A restored with its labels, N without" $? \
	"A: $(labels_of "$PORT_A"), N: $(labels_of "$PORT_N")"
send "$WORK/a" a2 && send_big "$WORK/a" big-3 && send "$WORK/a" a3
check "ct_state: the restored connection carries data again" $? "$(tail -c 200 "$WORK/a/hold.out")"
send "$WORK/n" n2 && send_big "$WORK/n" big-4 && send "$WORK/n" n3
check "ct_state: the restored translated connection carries data again" $? \
	"$(tail -c 200 "$WORK/n/hold.out")"
LIB1=$(stat_total liberal_end)
[ "$LIB1" = $((LIB0 + 2)) ]
check "ct_state: its window relearnt, it is checked fully again (liberal_end)" $? \
	"liberal_end $LIB0 -> $LIB1"
# B's line and its first retransmission are both dropped by the policy;
# then it has not come back.
DROPS0=$(policy_drops)
echo b2 >"$WORK/b/hold.in"
poll 20 drops_rose $((DROPS0 + 2)) && ! grep -qx b2 "$WORK/b/hold.out"
check "ct_state: the control, B not restored, is dropped" $? \
	"policy drops $DROPS0 -> $(policy_drops), $(tail -c 100 "$WORK/b/hold.out")"

# 4. times, tuples the table has, a bad file
real=$(sed -nE 's/^xct-ct-state 1 realtime=([0-9]+)$/\1/p' "$WORK/saved")
sed -E "s/^xct-ct-state 1 realtime=.*/xct-ct-state 1 realtime=$((real - 1000 * 1000000000))/" \
	"$WORK/saved" >"$WORK/older"
xct_r ct flush >/dev/null
expect "ct_state: restore 1000 s after the save" 0 "3 connections restored" \
	xct_r ct restore "$WORK/older"
t=$(timeout_of "$PORT_B")
[ -n "$t" ] && [ "$t" -le 431000 ] && [ "$t" -gt 430000 ]
check "ct_state: the time down comes off the timeout" $? "timeout '$t'"
expect "ct_state: a tuple in the table is left alone" 0 \
	"0 connections restored .* 3 already in the table" xct_r ct restore "$WORK/saved"
sed -E "s/^xct-ct-state 1 realtime=.*/xct-ct-state 1 realtime=$((real - 500000 * 1000000000))/" \
	"$WORK/saved" >"$WORK/expired"
xct_r ct flush >/dev/null
expect "ct_state: a connection that timed out meanwhile is not restored" 0 \
	"0 connections restored .* 3 expired" xct_r ct restore "$WORK/expired"
awk 'NR == 3 { sub(/ packets=/, " packets=x") } { print }' "$WORK/saved" >"$WORK/bad"
expect "ct_state: a bad file is FILE:LINE:COLUMN, exit 2" 2 "$WORK/bad:3:[0-9]+: bad value for packets" \
	xct_r ct restore "$WORK/bad"
[ "$(conn_count)" = 0 ]
check "ct_state: a bad file restores nothing" $? "count $(conn_count)"
expect "ct_state: save needs a FILE" 2 "needs one FILE" xct_r ct save
expect "ct_state: restore of a missing file" 1 "cannot read" xct_r ct restore "$WORK/none"

# 5. xct down saves, xct up restores
xct_r ct restore "$WORK/only-a" >/dev/null 2>&1
send "$WORK/a" a4
check "ct_state: A restored again carries data" $?
xct_detach || fail_setup "detach before up"
cat >"$WORK/xct.conf" <<-EOF
	pin-path = $XCT_PIN
	rules = $WORK/rules.xct
	state-file = $WORK/state

	[interface veth-r-c]
	mode = native

	[interface veth-r-s]
	mode = native
EOF
xct_r up --config "$WORK/xct.conf" >/dev/null 2>&1 || fail_setup "up"
XCT_ATTACHED=1
xct_r ct restore "$WORK/only-a" >/dev/null 2>&1
send "$WORK/a" a5 || fail_setup "A after up"
expect "ct_state: down saves the table" 0 "" xct_r down --config "$WORK/xct.conf"
XCT_ATTACHED=0
saved_line "$PORT_A" "$WORK/state" | grep -q " state=3 " &&
	saved_line "$PORT_N" "$WORK/state" | grep -q " nat=snat,"
check "ct_state: down wrote A and N to state-file" $? "$(cat "$WORK/state" 2>&1)"
send_big "$WORK/a" big-5
check "ct_state: A moves on while the firewall is down" $?
expect "ct_state: up restores the table" 0 "2 connections restored from $WORK/state" \
	xct_r up --config "$WORK/xct.conf"
XCT_ATTACHED=1
[ ! -e "$WORK/state" ]
check "ct_state: up consumed state-file" $?
send "$WORK/a" a6 && send_big "$WORK/a" big-6 && send "$WORK/a" a7 &&
	send "$WORK/n" n6
check "ct_state: A and N carry data after down and up" $?
expect "ct_state: an up with the table up restores nothing" 0 "" \
	xct_r up --config "$WORK/xct.conf"

exit $((failures > 0))
