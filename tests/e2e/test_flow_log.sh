#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xctd's flow and NAT logs, on the router of lib.sh with masquerade towards
# the server: four TCP connections through the NAT and a ping of the router
# itself, then deleted.  The flow log has one DESTROY per connection, with
# the counters nf_conntrack counted for the same packets; the NAT log has
# the NEW and the DESTROY of each translated connection, with the router's
# address as the reply's destination, and nothing of the ping.  The logs
# rotate by size, keep their lines whole, are root's alone, and go on
# across a restart of xctd with what the datapath queued in between.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

PORT=5301
WORK=""
LOGS=""

fail_setup() {
	echo "not ok flow_log_setup ($*)"
	exit 1
}

# lines KIND EVENT: the log's JSON lines of that event, oldest file first.
lines() {
	local f
	for f in $(ls -r "$LOGS/$1.jsonl".* 2>/dev/null) "$LOGS/$1.jsonl"; do
		[ -f "$f" ] && cat "$f"
	done | grep "\"event\":\"$2\""
}

has_lines() {
	[ "$(lines "$1" "$2" | wc -l)" -ge "$3" ]
}

tcp_echo() {
	local got
	got=$(echo "hello" | in_ns "$NS_C" timeout 10 socat -t 2 - "TCP4:$S4:$PORT") || return 1
	[ "$got" = hello ]
}

start() {
	start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" --flow-log "$LOGS/flows.jsonl" \
		--nat-log "$LOGS/nat.jsonl" --log-max-size 1024 --log-keep 5
}

setup_topology || fail_setup "topology"
enable_oracle || fail_setup "nf_conntrack oracle"
mount_pin_fs || fail_setup "bpffs"
xct_attach native || fail_setup "xct attach"
WORK=$(mktemp -d /tmp/xct-flowlog.XXXXXX) || fail_setup "work dir"
LOGS=$WORK/log
mkdir -m 0700 "$LOGS" || fail_setup "log dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
printf 'policy accept\nmasquerade oif veth-r-s\n' >"$WORK/rules"
xct_r rules load "$WORK/rules" >/dev/null || fail_setup "rules load"
ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 listening "$NS_S" tcp $PORT || fail_setup "server"
flush_both
start || fail_setup "xctd: $(cat "$WORK/xctd.log")"

okt=0
for _ in 1 2 3 4; do
	tcp_echo || okt=1
done
in_ns "$NS_C" ping -c 1 -W 1 "$R4C" >/dev/null || okt=1
ct_r -L -p tcp --dport $PORT >"$WORK/conntrack.txt" 2>/dev/null
xct_r ct delete -p tcp --dport $PORT >/dev/null 2>&1
xct_r ct delete -p icmp >/dev/null 2>&1
poll 10 has_lines flows DESTROY 5 && poll 10 has_lines nat DESTROY 4
okw=$?
result flow_log_traffic "$([ "$okt$okw" = 00 ] && echo 0 || echo 1)" \
	"traffic $okt, logs $okw: $(lines flows DESTROY | wc -l) flows, $(lines nat DESTROY | wc -l) nat"

# ---- The flow log: one DESTROY per connection, nf_conntrack's counters ----
check=$(lines flows DESTROY | "$PYTHON" -c '
import json, re, sys
port, oracle = int(sys.argv[1]), open(sys.argv[2]).read().splitlines()
want = {}
for line in oracle:
    sport = int(re.search(r"sport=(\d+)", line).group(1))
    want[sport] = [int(x) for x in re.findall(r"(?:packets|bytes)=(\d+)", line)]
tcp, icmp = {}, 0
for line in sys.stdin:
    o = json.loads(line)
    c = o["conn"]
    if c["protonum"] == 1:
        icmp += 1
        continue
    if c["orig"]["dport"] != port or o["end"] != "deleted":
        sys.exit(f"unexpected {line}")
    tcp[c["orig"]["sport"]] = [c["orig"]["packets"], c["orig"]["bytes"],
                               c["reply"]["packets"], c["reply"]["bytes"]]
if len(want) != 4 or tcp != want or icmp != 1:
    sys.exit(f"xct {tcp} icmp {icmp}, conntrack {want}")
print("ok")
' "$PORT" "$WORK/conntrack.txt" 2>&1)
[ "$check" = ok ]
result flow_log_destroys_with_conntrack_counters $? "$check"

# ---- The NAT log: each translation's start and end ----
check=$( (lines nat NEW; lines nat DESTROY) | "$PYTHON" -c '
import json, sys
router, port = sys.argv[1], int(sys.argv[2])
seen = {}
for line in sys.stdin:
    o = json.loads(line)
    c = o["conn"]
    if c["protonum"] != 6 or c["orig"]["dport"] != port or c["reply"]["dst"] != router:
        sys.exit(f"not a masqueraded connection: {line}")
    seen.setdefault(c["orig"]["sport"], []).append(o["event"])
if len(seen) != 4 or any(sorted(v) != ["DESTROY", "NEW"] for v in seen.values()):
    sys.exit(f"events {seen}")
print("ok")
' "$R4S" "$PORT" 2>&1)
[ "$check" = ok ]
result nat_log_new_and_destroy_of_each_translation $? "$check"

# ---- Rotation: several files, none much over the size, lines whole ----
bad=""
n=0
for f in "$LOGS"/*; do
	n=$((n + 1))
	[ "$(stat -c '%a %U' "$f")" = "600 root" ] || bad="$bad $f:$(stat -c '%a %U' "$f")"
	[ "$(stat -c %s "$f")" -lt 2048 ] || bad="$bad $f:$(stat -c %s "$f")B"
	"$PYTHON" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$f" 2>/dev/null ||
		bad="$bad $f:broken"
done
[ -f "$LOGS/flows.jsonl.1" ] && [ -f "$LOGS/nat.jsonl.1" ] && [ -z "$bad" ]
result flow_log_rotates_whole_root_only $? "$n files:$bad $(ls -l "$LOGS")"

# ---- Across a restart: what the datapath queued meanwhile is logged ----
before=$(lines flows DESTROY | wc -l)
kill "$XCTD_PID" && wait "$XCTD_PID"
tcp_echo
oke=$?
xct_r ct delete -p tcp --dport $PORT >/dev/null 2>&1
start || fail_setup "xctd restart: $(cat "$WORK/xctd.log")"
poll 10 has_lines flows DESTROY $((before + 1))
okr=$?
[ "$oke$okr" = 00 ]
result flow_log_continues_across_restart $? "echo $oke; $before -> $(lines flows DESTROY | wc -l)"

# ---- Bad options ----
usage_exits_2 flow_log_bad_options_exit_2 "$XCTD" "--flow-log relative" "--log-max-size 10" \
	"--log-keep 0" "--nat-log"
