#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Metrics: `xct metrics` passes `promtool check metrics`; xctd serves the
# same on --metrics-listen, and the Debian prometheus server, scraping it
# every second from inside the router's namespace, reports for real
# traffic through xct (masqueraded TCP, UDP a rule drops, INVALID TCP a
# rule drops) the values
# that `xct ct count`, `xct ct stats`, `xct rules show` and `xct ct list`
# give.  Everything listens on 127.0.0.1 in the router's namespace.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

PORT=5201
MPORT=19474 # xctd's metrics, in the router namespace
PPORT=19090 # prometheus
WORK=""

fail_setup() {
	echo "not ok metrics_setup ($*)"
	exit 1
}

stats_json() {
	xct_r -j ct stats
}

# query EXPR: the value of a one-element instant vector, or nothing.
query() {
	in_ns "$NS_R" curl -s --max-time 2 "http://127.0.0.1:$PPORT/api/v1/query" \
		--data-urlencode "query=$1" | "$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
if len(r) == 1:
    v = float(r[0]["value"][1])
    print(int(v) if v == int(v) else v)
'
}

# scraped EXPR WANT: Prometheus has WANT for EXPR (after a scrape that came
# once the traffic had ended).
scraped() {
	[ "$(query "$1")" = "$2" ]
}

# scraped_now EXPR CMD...: Prometheus has for EXPR what CMD prints now.
scraped_now() {
	local expr=$1
	shift
	[ "$(query "$expr")" = "$("$@")" ]
}

# check_now NAME EXPR CMD...: one result for a counter that a stray packet
# of the links (a router solicitation, an MLD report, seconds after the
# links came up) may still move: the two agree once it has stopped.
check_now() {
	local name=$1 expr=$2
	shift 2
	poll 15 scraped_now "$expr" "$@"
	result "$name" $? "$expr: prometheus $(query "$expr"), now $("$@")"
}

# check NAME EXPR WANT: one result, waiting for a scrape to show it.
check() {
	poll 15 scraped "$2" "$3"
	result "$1" $? "$2: prometheus $(query "$2"), want $3"
}

setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
xct_attach native || fail_setup "xct attach"
WORK=$(mktemp -d /tmp/xct-metrics.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
cat >"$WORK/rules" <<-EOF
	policy accept
	drop udp dport 7777
	accept tcp dport $PORT
	masquerade oif veth-r-s
	set blocked { 192.0.2.0/24, 198.51.100.7, 2001:db8::/32 }
	drop saddr @blocked
	drop ct state invalid
EOF
xct_r rules load "$WORK/rules" >/dev/null || fail_setup "rules load"
ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 listening "$NS_S" tcp $PORT || fail_setup "server"

# ---- Real traffic ----
okt=0
for _ in 1 2 3; do
	got=$(echo hello | in_ns "$NS_C" timeout 10 socat -t 2 - "TCP4:$S4:$PORT") || okt=1
	[ "$got" = hello ] || okt=1
done
for sp in 27001 27002; do
	echo x | in_ns "$NS_C" socat -T 0.2 - "UDP4:$S4:7777,sourceport=$sp" >/dev/null 2>&1
done
result metrics_traffic $okt
# TCP with SYN and FIN, which no stack sends: INVALID (tcp_bad_flags),
# dropped by the last rule.
in_ns "$NS_C" "$PYTHON" -c '
import sys
from scapy.all import IP, TCP, conf, send
conf.verb = 0
send([IP(dst=sys.argv[1]) / TCP(sport=28000 + i, dport=5999, flags="SF") for i in range(4)])
' "$S4"
result metrics_invalid_sent $?

# ---- xct metrics, checked by promtool ----
xct_r metrics >"$WORK/metrics.txt"
rc=$?
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.out" 2>&1
prc=$?
[ "$rc" = 0 ] && [ "$prc" = 0 ] && [ -s "$WORK/metrics.txt" ]
result metrics_promtool_clean $? "xct metrics $rc, promtool $prc: $(cat "$WORK/promtool.out")"
out=$(xct_r metrics --help)
rc=$?
[ "$rc" = 0 ] && grep -q "Usage: xct metrics" <<<"$out"
result metrics_help $? "rc $rc"
xct_r metrics stray >/dev/null 2>&1
result metrics_bad_argument_exit_2 "$([ $? = 2 ] && echo 0 || echo 1)"

# ---- xctd's endpoint, scraped by prometheus ----
start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" --metrics-listen "127.0.0.1:$MPORT" ||
	fail_setup "xctd: $(cat "$WORK/xctd.log")"
code=$(in_ns "$NS_R" curl -s -o "$WORK/scrape.txt" -w '%{http_code} %{content_type}' \
	"http://127.0.0.1:$MPORT/metrics")
promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool2.out" 2>&1
prc=$?
[ "$code" = "200 text/plain; version=0.0.4; charset=utf-8" ] && [ "$prc" = 0 ] &&
	grep -q '^xct_daemon_readers{stream="ct_events"} 0$' "$WORK/scrape.txt"
result metrics_http_endpoint $? "$code, promtool $prc: $(cat "$WORK/promtool2.out")"
code=$(in_ns "$NS_R" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")
[ "$code" = 404 ]
result metrics_http_other_path_404 $? "$code"

cat >"$WORK/prometheus.yml" <<-EOF
	global: { scrape_interval: 1s, evaluation_interval: 1s }
	scrape_configs:
	  - job_name: xct
	    static_configs: [ { targets: ['127.0.0.1:$MPORT'] } ]
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null 2>&1 || fail_setup "prometheus config"
ip netns exec "$NS_R" prometheus --config.file="$WORK/prometheus.yml" \
	--storage.tsdb.path="$WORK/tsdb" --web.listen-address="127.0.0.1:$PPORT" \
	>"$WORK/prometheus.log" 2>&1 &
BG_PIDS+=($!)
poll 30 sh -c "[ \"\$(ip netns exec $NS_R curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PPORT/-/ready)\" = 200 ]" ||
	fail_setup "prometheus not ready: $(tail -5 "$WORK/prometheus.log")"
check metrics_scraped 'up{job="xct"}' 1

# The values the commands give, each waited for in Prometheus.
count=$(xct_r ct count)
limit=$(xct_r -j ct count | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["max"])')
reason() {
	stats_json | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['reasons']['$1'])"
}
rule_packets() {
	xct_r -j rules show | "$PYTHON" -c "import json,sys; print([r['packets'] for r in json.load(sys.stdin) if r['line'] == $1 and not r.get('nat')][0])"
}
snat=$(xct_r ct list --src-nat 2>/dev/null | grep -c .)
# Three TCP connections (TIME_WAIT for two minutes: the values stay); the
# dropped UDP flows are not kept.
[ "$count" = 3 ] && [ "$snat" = 3 ]
result metrics_table_has_the_traffic $? "count $count, src-nat $snat"
check metrics_entries_equal_ct_count xct_conntrack_entries "$count"
check metrics_limit_equal_ct_count_max xct_conntrack_entries_limit "$limit"
for s in found insert invalid early_drop; do
	check_now "metrics_stat_${s}_equal_ct_stats" "xct_conntrack_stat_${s}_total" stat_total "$s"
done
reasons_sum() {
	stats_json | "$PYTHON" -c 'import json,sys; print(sum(json.load(sys.stdin)["reasons"].values()))'
}
check_now metrics_packets_ok_equal_reasons 'xct_packets_total{reason="ok"}' reason ok
check_now metrics_packets_by_reason_sum 'sum(xct_packets_total)' reasons_sum
check metrics_rule_drops_by_line 'xct_rule_packets_total{line="2",action="drop"}' "$(rule_packets 2)"
check metrics_rule_drops_are_the_udp 'xct_rule_packets_total{line="2"}' 2
check metrics_policy_drops 'xct_policy_packets_total{verdict="drop"}' "$(stat_total policy_drop)"
check metrics_drops_bad_flags 'xct_drops_total{reason="tcp_bad_flags"}' 4
check metrics_drops_bad_flags_equal_reasons 'xct_drops_total{reason="tcp_bad_flags"}' "$(reason tcp_bad_flags)"
check metrics_drops_ok_are_the_udp 'xct_drops_total{reason="ok"}' 2
check metrics_drops_sum_policy_drops 'sum(xct_drops_total)' "$(stat_total policy_drop)"
# The collector sweeps at least every 16 s; a sweep of a few entries
# takes some time, far less than a second.
check metrics_gc_swept 'xct_conntrack_gc_runs_total > bool 0' 1
check metrics_gc_last_sweep_duration 'count(xct_conntrack_gc_last_sweep_duration_seconds > 0 < 1)' 1
check metrics_gc_duration_total 'xct_conntrack_gc_duration_seconds_total >= bool xct_conntrack_gc_last_sweep_duration_seconds' 1
check metrics_nat_bindings_equal_ct_list 'xct_nat_bindings{manip="snat"}' "$snat"
# masquerade with no range: 64512 ports per protocol, TCP the busiest.
snat_tcp=$(xct_r ct list --src-nat -p tcp 2>/dev/null | grep -c .)
check metrics_nat_port_pressure 'round(xct_nat_port_range_pressure{line="4"} * 64512)' "$snat_tcp"
check metrics_map_pressure 'round(xct_bpf_map_pressure{map_name="xct_ct"} * on() xct_conntrack_entries_limit)' "$count"
check metrics_set_elements 'xct_set_elements{set="blocked"}' \
	"$(xct_r -j set list | "$PYTHON" -c 'import json,sys; print([s["elements"] for s in json.load(sys.stdin) if s["name"] == "blocked"][0])')"
check metrics_set_elements_are_three 'xct_set_elements{set="blocked"}' 3
check metrics_rules_loaded xct_rules "$(xct_r -j status | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["rules"]["rules"])')"
check metrics_events_lost 'xct_events_lost_total{stream="ct_events"}' "$(stat_total ct_events_lost)"
