# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2034 # sourced: its variables are lib.sh's and the caller's
# The flood scenario, shared by tests/e2e/test_flood.sh and bench/flood.sh;
# sourced after lib.sh.
#
# On the router, a stateful firewall with a small table (FLOOD_TABLE
# entries): established traffic passes, new TCP connections to the
# service ports open with a SYN, UDP to FLOOD_UDP_PORT is admitted.  The
# client holds FLOOD_CONNS long-lived TCP connections to the server that
# carry data (echoed back, checked byte for byte), then trafgen sends a
# flood of new flows from spoofed sources (10.232.0.0/16, random ports):
# TCP SYNs to the service (the server answers them: syncookies) and UDP to
# a closed port, at FLOOD_RATE packets a second, far more new flows than
# the table holds.  Meanwhile a legitimate client opens new connections
# one after another.  The same scenario runs against xct (attached to the
# router's interfaces, --max-entries FLOOD_TABLE, the rules below; XDP in
# generic mode, so that packets reach it from the same per-CPU backlog as
# they reach nf_conntrack: on a veth, native XDP takes them from a ring of
# 256 that the flood's bursts overflow, and the legitimate packets lost
# there would be the link's doing, not the table's) or
# against nf_conntrack (the same rules in nftables, nf_conntrack_max and
# the hash set to FLOOD_TABLE, the kernel's default ratio of one bucket
# per entry; FLOOD_NF_BUCKETS sets another hash size).
#
# flood_run SIDE SECONDS OUT writes a JSON summary of one run to OUT.

FLOOD_TABLE=${FLOOD_TABLE:-4096}
FLOOD_CONNS=${FLOOD_CONNS:-200}
FLOOD_RATE=${FLOOD_RATE:-70000}
FLOOD_LONG_PORT=5001
FLOOD_PROBE_PORT=5002
FLOOD_UDP_PORT=5003
FLOOD_PY="$E2E_DIR/flood_traffic.py"
FLOOD_WORK=""
FLOOD_SAVED_MAX=""
FLOOD_SAVED_BUCKETS=""

# nf_conntrack_max and the hash size are global, writable only in the
# initial namespace: set for the nf_conntrack run only, restored at once
# and on any exit.
flood_nf_limits() {
	FLOOD_SAVED_MAX=$(sysctl -n net.netfilter.nf_conntrack_max) || return 1
	FLOOD_SAVED_BUCKETS=$(sysctl -n net.netfilter.nf_conntrack_buckets) || return 1
	sysctl -qw net.netfilter.nf_conntrack_buckets="${FLOOD_NF_BUCKETS:-$FLOOD_TABLE}" \
		net.netfilter.nf_conntrack_max="$FLOOD_TABLE"
}

flood_nf_restore() {
	if [ -n "$FLOOD_SAVED_MAX" ]; then
		sysctl -qw net.netfilter.nf_conntrack_max="$FLOOD_SAVED_MAX"
		FLOOD_SAVED_MAX=""
	fi
	if [ -n "$FLOOD_SAVED_BUCKETS" ]; then
		sysctl -qw net.netfilter.nf_conntrack_buckets="$FLOOD_SAVED_BUCKETS"
		FLOOD_SAVED_BUCKETS=""
	fi
}

flood_cleanup() {
	flood_nf_restore
	e2e_cleanup
	[ -n "$FLOOD_WORK" ] && rm -rf "$FLOOD_WORK"
}
trap flood_cleanup EXIT

# Topology, the echo server, the flood's definition.
flood_setup() {
	FLOOD_WORK=$(mktemp -d /tmp/xct-flood.XXXXXX) || return 1
	setup_topology || return 1
	mount_pin_fs || return 1
	# The flood's spoofed sources are routed back towards the client, so
	# the server's answers cross the router as replies.
	in_ns "$NS_R" ip route add 10.232.0.0/16 via "$C4" || return 1
	in_ns "$NS_R" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.veth-r-c.rp_filter=0 ||
		return 1
	in_ns "$NS_S" sysctl -qw net.ipv4.tcp_syncookies=1 net.core.somaxconn=4096 || return 1
	in_ns "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="20000 60999" || return 1
	ip netns exec "$NS_S" "$PYTHON" "$FLOOD_PY" server --port $FLOOD_LONG_PORT \
		--port $FLOOD_PROBE_PORT </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	poll 10 flood_listening || return 1

	local mac
	mac=$(in_ns "$NS_R" cat /sys/class/net/veth-r-c/address) || return 1
	cat >"$FLOOD_WORK/flood.trafgen" <<-EOF
		{ eth(da=$mac, type=0x0800),
		  ipv4(saddr=10.232.0.1, saddr[2]=drnd(), saddr[3]=drnd(), daddr=$S4, ttl=64, df),
		  tcp(sp=drnd(), dp=$FLOOD_LONG_PORT, seq=drnd(), syn, win=64240) }
		{ eth(da=$mac, type=0x0800),
		  ipv4(saddr=10.232.0.1, saddr[2]=drnd(), saddr[3]=drnd(), daddr=$S4, ttl=64, df),
		  udp(sp=drnd(), dp=$FLOOD_UDP_PORT), fill(0x41, 18) }
	EOF
	cat >"$FLOOD_WORK/rules.xct" <<-EOF
		policy drop
		accept ct state established,related
		drop ct state invalid
		accept tcp dport { $FLOOD_LONG_PORT, $FLOOD_PROBE_PORT } tcp flags & (syn|ack) == syn
		accept udp dport $FLOOD_UDP_PORT
		accept icmp type echo-request
	EOF
}

flood_listening() {
	in_ns "$NS_S" ss -lnt | grep -q ":$FLOOD_LONG_PORT " &&
		in_ns "$NS_S" ss -lnt | grep -q ":$FLOOD_PROBE_PORT "
}

# The firewall of one side on the router.
flood_side_up() {
	case "$1" in
	xct)
		xct_r attach --mode "${FLOOD_XCT_MODE:-generic}" --max-entries "$FLOOD_TABLE" veth-r-c veth-r-s || return 1
		XCT_ATTACHED=1
		xct_r rules load "$FLOOD_WORK/rules.xct" >/dev/null || return 1
		;;
	nf)
		flood_nf_limits || return 1
		flood_nft_rules >"$FLOOD_WORK/rules.nft"
		in_ns "$NS_R" nft -f "$FLOOD_WORK/rules.nft" || return 1
		;;
	esac
}

flood_nft_rules() {
	local t=$'\t'
	cat <<EOF
table inet xctflood {
${t}chain forward_filter {
${t}${t}type filter hook forward priority 0; policy drop;
${t}${t}ct state established,related accept
${t}${t}ct state invalid drop
${t}${t}tcp dport { $FLOOD_LONG_PORT, $FLOOD_PROBE_PORT } tcp flags & (syn|ack) == syn accept
${t}${t}udp dport $FLOOD_UDP_PORT accept
${t}${t}icmp type echo-request accept
${t}}
}
EOF
}

flood_side_down() {
	case "$1" in
	xct) xct_detach ;;
	nf)
		in_ns "$NS_R" nft delete table inet xctflood
		ct_r -F >/dev/null 2>&1
		flood_nf_restore
		;;
	esac
}

# The side's counters, as JSON: xct's (summed over CPUs) or conntrack -S's.
flood_counters() {
	case "$1" in
	xct)
		xct_r -j ct stats | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
keys = ["insert", "insert_failed", "drop", "early_drop", "early_drop_unreplied",
        "early_drop_replied", "expired", "gc_runs"]
out = {k: sum(c.get(k, 0) for c in d["cpus"]) for k in keys}
out["table_full"] = d["reasons"].get("table_full", 0)
print(json.dumps(out))'
		;;
	nf)
		ct_r -S | "$PYTHON" -c '
import json, re, sys
keys = ["insert", "insert_failed", "drop", "early_drop"]
out = dict.fromkeys(keys, 0)
for line in sys.stdin:
    for k, v in re.findall(r"(\w+)=(\d+)", line):
        if k in out:
            out[k] += int(v)
print(json.dumps(out))'
		;;
	esac
}

# How many of the long-lived connections are in the table as ESTABLISHED
# and ASSURED, and older than MIN_AGE_MS (never evicted and re-created).
flood_assured() {
	local side=$1 min_age_ms=$2
	case "$side" in
	xct)
		xct_r ct list -p tcp -s "$C4" --dport $FLOOD_LONG_PORT -o json | "$PYTHON" -c '
import json, sys
n = 0
for e in json.load(sys.stdin):
    if e.get("state") == "ESTABLISHED" and "ASSURED" in e["status"] and e["age_ms"] >= int(sys.argv[1]):
        n += 1
print(n)' "$min_age_ms"
		;;
	nf)
		# conntrack has no age without timestamps; ESTABLISHED and
		# ASSURED is what the kernel keeps.  A dump that a change of
		# the table interrupts fails: try again.
		local try list
		for try in 1 2 3 4 5 6 7 8 9 10; do
			if list=$(ct_r -L -p tcp -s "$C4" --dport $FLOOD_LONG_PORT --state ESTABLISHED \
				2>/dev/null); then
				grep -c ASSURED <<<"$list"
				return 0
			fi
		done
		echo 0
		;;
	esac
}

tx_packets() {
	in_ns "$NS_C" cat /sys/class/net/veth-c/statistics/tx_packets
}

# Packets the link lost before either firewall saw them (veth ring full).
link_drops() {
	echo $(($(in_ns "$NS_C" cat /sys/class/net/veth-c/statistics/tx_dropped) + \
		$(in_ns "$NS_R" cat /sys/class/net/veth-r-c/statistics/rx_dropped)))
}

# flood_run SIDE SECONDS OUT
flood_run() {
	local side=$1 secs=$2 out=$3 w
	local long_pid probe_pid t0 t1 tx0 tx1 d0 d1 n_up assured before after
	w=$(mktemp -d "$FLOOD_WORK/$side.XXXXXX") || return 1
	flood_side_up "$side" || return 1

	ip netns exec "$NS_C" "$PYTHON" "$FLOOD_PY" long --addr "$S4" --port $FLOOD_LONG_PORT \
		--conns "$FLOOD_CONNS" --duration $((secs + 4)) --ready "$w/ready" \
		>"$w/long.json" 2>"$w/long.err" &
	long_pid=$!
	BG_PIDS+=("$long_pid")
	if ! poll 40 test -s "$w/ready"; then
		echo "# $side: the long-lived connections did not come up" >&2
		return 1
	fi
	n_up=$(cat "$w/ready")
	before=$(flood_counters "$side")

	ip netns exec "$NS_C" "$PYTHON" "$FLOOD_PY" probe --addr "$S4" --port $FLOOD_PROBE_PORT \
		--duration "$secs" >"$w/probe.json" 2>"$w/probe.err" &
	probe_pid=$!
	BG_PIDS+=("$probe_pid")
	tx0=$(tx_packets)
	d0=$(link_drops)
	t0=$(date +%s.%N)
	# For secs seconds exactly: trafgen's pacing is approximate, so a
	# packet count would not say how long the flood lasts.
	in_ns "$NS_C" timeout --signal=INT "$secs" trafgen -o veth-c --cpus 1 -q \
		-b "${FLOOD_RATE}pps" -c "$FLOOD_WORK/flood.trafgen" >"$w/trafgen.log" 2>&1
	t1=$(date +%s.%N)
	tx1=$(tx_packets)
	d1=$(link_drops)
	if [ -n "${FLOOD_DEBUG:-}" ]; then
		[ "$side" = xct ] && xct_r ct stats --reasons >&2
		in_ns "$NS_C" ip -s link show veth-c >&2
		in_ns "$NS_R" ip -s link show veth-r-c >&2
	fi
	# Right after the flood, before the connections close.
	assured=$(flood_assured "$side" "$("$PYTHON" -c 'import sys; print(int((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' "$t0" "$t1")")
	after=$(flood_counters "$side")
	wait "$probe_pid"
	wait "$long_pid"
	flood_side_down "$side"

	"$PYTHON" - "$side" "$FLOOD_TABLE" "$secs" "$t0" "$t1" "$tx0" "$tx1" "$n_up" "$assured" \
		"$before" "$after" "$w/long.json" "$w/probe.json" $((d1 - d0)) >"$out" <<-'EOF'
		import json, sys
		side, table, secs, t0, t1, tx0, tx1, n_up, assured = sys.argv[1:10]
		before, after = json.loads(sys.argv[10]), json.loads(sys.argv[11])
		def load(p):
		    try:
		        return json.load(open(p))
		    except (OSError, ValueError):
		        return {}
		longr, probe = load(sys.argv[12]), load(sys.argv[13])
		elapsed = float(t1) - float(t0)
		longr.pop("sports", None)
		print(json.dumps({
		    "side": side, "table": int(table), "seconds": int(secs),
		    "flood_s": round(elapsed, 2),
		    "flood_packets": int(tx1) - int(tx0),
		    "link_drops": int(sys.argv[14]),
		    "flood_pps": round((int(tx1) - int(tx0)) / elapsed) if elapsed > 0 else 0,
		    "long_up": int(n_up), "assured_after_flood": int(assured),
		    "long": longr, "probe": probe,
		    "counters": {k: after[k] - before.get(k, 0) for k in after},
		}))
	EOF
}
