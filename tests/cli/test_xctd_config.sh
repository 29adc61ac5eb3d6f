#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xctd's settings from xct.conf (--config): the pin path, the [daemon]
# section (socket, metrics address, flow log, its size) and the [sync]
# section (the HA peer, the sync listening address, the mode, the
# addresses not synced), options on the
# command line winning over the file, and a bad file refused with its
# FILE:LINE:COLUMN and exit 2 before anything starts.  xctd runs with no
# xct attached (it waits for one), on paths of this test's own.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
XCTD=$PWD/build/xctd
ID="$$-$RANDOM"
NS="xct-xctdconf-$ID" PEER="xct-xctdconfp-$ID"
STATE=$(mktemp -d /tmp/xct-xctdconf.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cli_cleanup' EXIT

PORT=$((20000 + RANDOM % 20000))
mkdir -m 0700 "$STATE/run" "$STATE/run2" || exit 1
cat >"$STATE/xct.conf" <<CONF
pin-path = $PIN

[daemon]
socket = $STATE/run/xctd.sock
metrics-listen = 127.0.0.1:$PORT
flow-log = $STATE/flows.jsonl
flow-log-max-size = 1M

[sync]
peer = 127.0.0.1:$((PORT + 2))
listen = 127.0.0.1:$((PORT + 3))
mode = ftfw
ignore-address = 10.0.9.1, fd00::9
state-accept = ESTABLISHED, CLOSED
commit-on-receive = yes
CONF

# start LOG ARGS...: xctd in the foreground; waits for its listening line.
start() {
	local log=$1
	shift
	"$XCTD" --foreground "$@" 2>"$log" &
	PIDS+=($!)
	local i
	for i in $(seq 100); do
		grep -q "listening on" "$log" && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# udp_bound ADDR:PORT: a UDP socket is bound there.
udp_bound() {
	[ -n "$(ss -Hlun src "$1")" ]
}
stop() {
	kill "${PIDS[-1]}" 2>/dev/null
	wait "${PIDS[-1]}" 2>/dev/null
	unset 'PIDS[-1]'
}

printf 'pin-path = %s\n[daemon]\nsockett = /run/x.sock\n' "$PIN" >"$STATE/bad.conf"
expect "xctd --config: a bad file exits 2 with FILE:LINE:COLUMN" 2 \
	"^xctd: $STATE/bad.conf:3:1: unknown key 'sockett' in \[daemon\]" \
	"$XCTD" --foreground --config "$STATE/bad.conf"
check "xctd --config: a bad file starts nothing" test ! -e "$STATE/run/xctd.sock"
printf '[sync]\nlisten = 127.0.0.1:3780\n' >"$STATE/bad-sync.conf"
expect "xctd --config: [sync] listen without a peer exits 2" 2 \
	"^xctd: $STATE/bad-sync.conf:2:1: 'listen' in \[sync\] needs a 'peer'" \
	"$XCTD" --foreground --config "$STATE/bad-sync.conf"
printf '[sync]\npeer = 127.0.0.1:3780\nignore-address = 10.0.9.1, 10.0.9\n' >"$STATE/bad-ign.conf"
expect "xctd --config: [sync] ignore-address refuses what is not an address" 2 \
	"^xctd: $STATE/bad-ign.conf:3:28: '10.0.9' is not an address" \
	"$XCTD" --foreground --config "$STATE/bad-ign.conf"
printf '[sync]\npeer = 127.0.0.1:3780\nstate-accept = ESTABLISHED LISTEN\n' >"$STATE/bad-st.conf"
expect "xctd --config: [sync] state-accept refuses what is not a list of TCP states" 2 \
	"^xctd: $STATE/bad-st.conf:3:28: 'LISTEN' is not a TCP state" \
	"$XCTD" --foreground --config "$STATE/bad-st.conf"
printf '[sync]\npeer = 127.0.0.1:3780\nmode = alarm\n' >"$STATE/bad-mode.conf"
expect "xctd --config: [sync] mode refuses what is not notrack or ftfw" 2 \
	"^xctd: $STATE/bad-mode.conf:3:8: 'alarm' is not notrack or ftfw" \
	"$XCTD" --foreground --config "$STATE/bad-mode.conf"
printf '[daemon]\nrule-log = file\n' >"$STATE/bad-rl.conf"
expect "xctd --config: [daemon] rule-log refuses what is not journal or off" 2 \
	"^xctd: $STATE/bad-rl.conf:2:12: 'file' is neither 'journal' nor 'off'" \
	"$XCTD" --foreground --config "$STATE/bad-rl.conf"
expect "xctd: --rule-log refuses what is not journal or off" 2 \
	"^xctd: --rule-log takes 'journal' or 'off', not 'bogus'" "$XCTD" --rule-log bogus
expect "xctd --config: an unreadable file exits 1" 1 "cannot read $STATE/none" \
	"$XCTD" --foreground --config "$STATE/none"

if start "$STATE/log" --config "$STATE/xct.conf"; then
	ok "xctd --config: starts"
else
	not_ok "xctd --config: starts"
	sed 's/^/#   /' "$STATE/log"
fi
check "xctd --config: the file's socket, metrics address and pin path" grep -q \
	"listening on $STATE/run/xctd.sock, metrics on 127.0.0.1:$PORT, state under $PIN" \
	"$STATE/log"
check "xctd --config: the file's sync peer and mode" grep -q \
	"syncing connections with 127.0.0.1:$((PORT + 2)) (conntrackd protocol 1, FTFW)" "$STATE/log"
check "xctd --config: the file's ignored addresses" grep -q \
	"sync: connections of 10.0.9.1, fd00::9 not sent" "$STATE/log"
check "xctd --config: the file's TCP states" grep -q \
	"sync: TCP connections sent only in ESTABLISHED, CLOSE$" "$STATE/log"
check "xctd --config: the file's commit on receive" grep -q \
	"sync: the peer's connections committed as they arrive" "$STATE/log"
check "xctd --config: the file's sync listening address" \
	udp_bound "127.0.0.1:$((PORT + 3))"
check "xctd --config: the socket is there, root's alone" \
	test "$(stat -c '%U %a' "$STATE/run/xctd.sock" 2>/dev/null)" = "root 600"
# No xct is attached: the answer says so, with 503, as a scrape must see.
code=$(curl -s -o "$STATE/metrics" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
check "xctd --config: metrics served on the file's address" \
	test "$code" = 503 -a "$(cat "$STATE/metrics")" = "xct is not attached"
check "xctd --config: the file's flow log is open, mode 0600" \
	test "$(stat -c %a "$STATE/flows.jsonl" 2>/dev/null)" = 600
stop

if start "$STATE/log2" --config "$STATE/xct.conf" --socket "$STATE/run2/xctd.sock" \
	--metrics-listen "127.0.0.1:$((PORT + 1))" --sync-peer "127.0.0.1:$((PORT + 4))" \
	--sync-listen "127.0.0.1:$((PORT + 5))" --sync-mode notrack \
	--sync-ignore-address 10.0.9.7 --sync-state-accept TIME_WAIT; then
	grep -q "listening on $STATE/run2/xctd.sock, metrics on 127.0.0.1:$((PORT + 1))" \
		"$STATE/log2"
	check "xctd --config: options win over the file" test $? = 0
	check "xctd --config: --sync-peer wins over the file's peer" grep -q \
		"syncing connections with 127.0.0.1:$((PORT + 4)) " "$STATE/log2"
	check "xctd --config: --sync-listen wins over the file's listen" \
		udp_bound "127.0.0.1:$((PORT + 5))"
	check "xctd --config: --sync-mode wins over the file's mode" grep -q \
		"syncing connections with 127.0.0.1:$((PORT + 4)) (conntrackd protocol 1, NOTRACK)" \
		"$STATE/log2"
	check "xctd --config: --sync-ignore-address replaces the file's list" grep -q \
		"sync: connections of 10.0.9.7 not sent" "$STATE/log2"
	check "xctd --config: --sync-state-accept wins over the file's" grep -q \
		"sync: TCP connections sent only in TIME_WAIT$" "$STATE/log2"
else
	not_ok "xctd --config: options win over the file"
	sed 's/^/#   /' "$STATE/log2"
fi
stop

exit $((failures > 0))
