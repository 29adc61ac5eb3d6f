#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct replay against the live datapath.  First hand-built captures, one
# verdict, link type or failure each (replay_cases.py).  Then real traffic:
# with xct attached to the router and a ruleset that drops one port and
# rejects another, a TCP transfer, UDP request/response and ping over both
# families, and connection attempts to the refused ports, captured with
# tcpdump on the client's and the server's interfaces; the merged capture,
# replayed with the same rules, must end with the live table (flows,
# states, flags, packet and byte counters) and the same count of packets
# for each refusing rule.  Two replays run side by side must agree and
# leave nothing under /sys/fs/bpf (a fresh one, in their own mount
# namespace).
#
# Why not capture on the router: XDP acts before the kernel's taps, so
# packets xct drops would be missing, and GRO merges segments after XDP has
# seen them one by one.  The endpoints' outgoing packets are exactly what
# the router's ingress hooks receive (XDP on the peer turns its GSO off).
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

TCP_PORT=5001
UDP_PORT=5002
DROP_PORT=5003
REJECT_PORT=5004
WORK=""

fail_setup() {
	echo "not ok replay_setup ($*)"
	exit 1
}

start_servers() {
	ip netns exec "$NS_S" socat TCP4-LISTEN:$TCP_PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat TCP6-LISTEN:$TCP_PORT,ipv6only=1,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat -T 1 UDP4-RECVFROM:$UDP_PORT,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat -T 1 UDP6-RECVFROM:$UDP_PORT,ipv6only=1,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	poll 5 listening tcp 4 && poll 5 listening tcp 6 && poll 5 listening udp 4 &&
		poll 5 listening udp 6
}

listening() {
	local opt=-lnt port=$TCP_PORT
	if [ "$1" = udp ]; then
		opt=-lnu
		port=$UDP_PORT
	fi
	in_ns "$NS_S" ss "$opt" -"$2" | grep -q ":$port "
}

# capture NS IFACE FILE: tcpdump of what the interface sends, until stopped.
# --immediate-mode: otherwise the packets of the last, partly filled ring
# block are lost when tcpdump is stopped; -B: room for a transfer's burst.
TCPDUMP_PIDS=()
capture() {
	ip netns exec "$1" tcpdump -i "$2" -Q out -U --immediate-mode -B 65536 -n -s 0 \
		--time-stamp-precision=nano \
		-w "$3" 2>"$3.log" &
	TCPDUMP_PIDS+=($!)
	BG_PIDS+=($!)
	poll 5 grep -q "listening on" "$3.log"
}

stop_captures() {
	local pid
	for pid in "${TCPDUMP_PIDS[@]}"; do
		kill -INT "$pid" 2>/dev/null
	done
	for pid in "${TCPDUMP_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
}

tcp_transfer() {
	local out="$WORK/out.$RANDOM"
	in_ns "$NS_C" timeout 20 socat -t 5 - "$1" <"$WORK/blob" >"$out" || return 1
	cmp -s "$WORK/blob" "$out"
}

time_wait_flows() {
	[ "$(xct_r ct list -p tcp --state TIME_WAIT 2>/dev/null | grep -c .)" -ge "$1" ]
}

setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs for xct pins"
have_xct || fail_setup "$XCT not built"
WORK=$(mktemp -d /tmp/xct-e2e-replay.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
mkdir "$WORK/cases" || fail_setup "work dir"

# ---- Hand-built captures ----
"$PYTHON" "$E2E_DIR/replay_cases.py" --xct "$XCT" --work "$WORK/cases" 2>&1 | grep -v '^WARNING'

# ---- Real traffic, live and replayed ----
head -c 300000 /dev/urandom >"$WORK/blob" || fail_setup "test data"
start_servers || fail_setup "socat servers"
xct_attach native >/dev/null || fail_setup "xct attach"
cat >"$WORK/rules.xct" <<RULES
# test_replay.sh: one port dropped, one rejected, the rest accepted
drop tcp dport $DROP_PORT
reject udp dport $REJECT_PORT
accept
RULES

capture "$NS_C" veth-c "$WORK/client.pcap" || fail_setup "tcpdump on the client"
capture "$NS_S" veth-s "$WORK/server.pcap" || fail_setup "tcpdump on the server"
xct_r rules load "$WORK/rules.xct" >/dev/null || fail_setup "xct rules load"
xct_r ct flush >/dev/null 2>&1

tcp_transfer "TCP4:$S4:$TCP_PORT" || log "TCP transfer over IPv4 failed"
tcp_transfer "TCP6:[$S6]:$TCP_PORT" || log "TCP transfer over IPv6 failed"
echo hello | in_ns "$NS_C" timeout 5 socat -T 2 - "UDP4:$S4:$UDP_PORT" >/dev/null ||
	log "UDP over IPv4 failed"
echo hello | in_ns "$NS_C" timeout 5 socat -T 2 - "UDP6:[$S6]:$UDP_PORT" >/dev/null ||
	log "UDP over IPv6 failed"
in_ns "$NS_C" ping -c 3 -i 0.2 -W 2 -q "$S4" >/dev/null || log "ping over IPv4 failed"
in_ns "$NS_C" ping -6 -c 3 -i 0.2 -W 2 -q "$S6" >/dev/null || log "ping over IPv6 failed"
# Refused: the SYN (and its retransmission) dropped, the datagram rejected.
in_ns "$NS_C" timeout 3 socat -u - "TCP4:$S4:$DROP_PORT,connect-timeout=1.5" </dev/null \
	>/dev/null 2>&1
echo no | in_ns "$NS_C" timeout 3 socat -T 1 - "UDP4:$S4:$REJECT_PORT" >/dev/null 2>&1
poll 5 time_wait_flows 2 || log "the transfers did not reach TIME_WAIT"
sleep 0.3
stop_captures
# A capture that missed packets cannot match the live table: say so.
for f in "$WORK/client.pcap" "$WORK/server.pcap"; do
	grep -q "^0 packets dropped by kernel" "$f.log" ||
		log "tcpdump lost packets: $(grep dropped "$f.log")"
done

xct_r ct list >"$WORK/live.txt" 2>/dev/null
xct_r -j rules show >"$WORK/live_rules.json" 2>/dev/null
"$PYTHON" "$E2E_DIR/replay_compare.py" merge "$WORK/all.pcap" "$WORK/client.pcap" \
	"$WORK/server.pcap" 2>&1 | grep -v '^WARNING'

"$XCT" replay --rules "$WORK/rules.xct" "$WORK/all.pcap" >"$WORK/replay.txt" 2>"$WORK/replay.err"
rc=$?
[ "$rc" = 0 ] || log "xct replay exited $rc: $(cat "$WORK/replay.err")"
"$PYTHON" "$E2E_DIR/replay_compare.py" table replay_real_traffic_table_matches_live \
	"$WORK/live.txt" "$WORK/replay.txt"
"$XCT" replay -o json --verdicts --rules "$WORK/rules.xct" "$WORK/all.pcap" \
	>"$WORK/replay.jsonl" 2>>"$WORK/replay.err"
"$PYTHON" "$E2E_DIR/replay_compare.py" verdicts replay_real_traffic_refusals_match_live \
	"$WORK/live_rules.json" "$WORK/replay.jsonl" 2 3

# Side by side: two replays at once, each with private maps, in a mount
# namespace of their own with a fresh bpffs on /sys/fs/bpf (where libbpf
# would pin), which must stay empty.  Other tests may pin and unpin in the
# real /sys/fs/bpf meanwhile: that one cannot be watched.
unshare -m --propagation private bash -c '
	mount -t bpf bpf /sys/fs/bpf || exit 10
	find /sys/fs/bpf -mindepth 1 | sort >"$4/pins_before.txt" # the kernel'"'"'s *.debug
	"$1" replay --rules "$2" "$3" >"$4/a.txt" 2>&1 &
	pa=$!
	"$1" replay --rules "$2" "$3" >"$4/b.txt" 2>&1 &
	pb=$!
	wait "$pa" || exit 11
	wait "$pb" || exit 12
	find /sys/fs/bpf -mindepth 1 | sort | comm -13 "$4/pins_before.txt" - >"$4/pins.txt"
' side-by-side "$XCT" "$WORK/rules.xct" "$WORK/all.pcap" "$WORK"
rc=$?
if [ "$rc" = 0 ]; then
	"$PYTHON" "$E2E_DIR/replay_compare.py" same replay_side_by_side_agree \
		"$WORK/replay.txt" "$WORK/a.txt" "$WORK/b.txt"
	if [ -s "$WORK/pins.txt" ]; then
		echo "not ok replay_leaves_no_pins"
		sed 's/^/#   /' "$WORK/pins.txt" | head -20
	else
		echo "ok replay_leaves_no_pins"
	fi
else
	echo "not ok replay_side_by_side_agree"
	echo "#   status $rc (10: no bpffs, 11/12: a replay failed)"
	echo "not ok replay_leaves_no_pins"
fi
exit 0
