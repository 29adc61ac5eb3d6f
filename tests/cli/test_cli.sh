#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The xct command's contract: exit status 2 and a message for bad usage,
# 1 for what the system refuses, nothing half-applied, and list/get/delete/
# flush/count/status/json on a real attachment in a namespace of its own.
set -u
cd "$(dirname "$0")/../.."
XCT=$PWD/build/xct
ID="$$-$RANDOM"
NS="xct-cli-$ID"
PEER="xct-clip-$ID"
STATE=$(mktemp -d /tmp/xct-cli.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh

x() { ip netns exec "$NS" "$XCT" --pin-path "$PIN" "$@"; }

mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf" || { not_ok cli_setup_bpffs; exit 1; }
# xct's namespace has two interfaces, xc0 and xc1, each a veth whose other
# end (xp0, xp1) is in the peer namespace.
ip netns add "$NS"
ip netns add "$PEER"
for i in 0 1; do
	ip link add "xc$i" netns "$NS" type veth peer name "xp$i" netns "$PEER"
	ip -n "$NS" addr add "10.66.$i.1/24" dev "xc$i"
	ip -n "$PEER" addr add "10.66.$i.2/24" dev "xp$i"
	ip -n "$NS" link set "xc$i" up
	ip -n "$PEER" link set "xp$i" up
done

# Usage errors: exit 2, a message naming the problem.
expect usage_no_command 2 "Usage: xct" "$XCT"
expect usage_unknown_command 2 "unknown command 'frobnicate'" "$XCT" frobnicate
expect usage_unknown_ct_command 2 "unknown or ambiguous" "$XCT" ct frob
expect usage_bad_global_option 2 "unknown option '--bogus'" "$XCT" --bogus status
expect usage_relative_pin_path 2 "absolute path" "$XCT" --pin-path rel status
expect usage_attach_no_iface 2 "which interface" "$XCT" attach
expect usage_attach_bad_mode 2 "--mode: 'fast' is not native, generic or tc" "$XCT" attach xc0 --mode fast
expect usage_attach_bad_max 2 "--max-entries: 'lots'" "$XCT" attach xc0 --max-entries lots
expect usage_proto_out_of_range 2 "unknown protocol '256'" "$XCT" ct list -p 256
expect usage_bad_address 2 "^xct: -s: invalid IPv4 address '10\.0\.0\.300'" "$XCT" ct list -s 10.0.0.300
expect usage_family_mismatch 2 "address family mismatch" "$XCT" ct list -f ipv4 -s 2001:db8::1
expect usage_port_needs_tcp_udp 2 "need -p tcp or -p udp" "$XCT" ct list -p icmp --sport 1
expect usage_get_needs_tuple 2 "ct get needs" "$XCT" ct get -p tcp -s 10.0.0.1
expect usage_delete_needs_filter 2 "needs a filter" "$XCT" ct delete
expect usage_bad_state 2 "unknown TCP state 'OPEN'" "$XCT" ct list --state OPEN
expect usage_bad_output 2 "'yaml' is not json, extended, id, ktimestamp, labels, timestamp or process" "$XCT" ct list -o yaml
expect usage_events_bad_mask 2 "-e: 'NEWS' is not a list of NEW, UPDATE, DESTROY or ALL" "$XCT" ct events -e NEWS
expect usage_events_bad_count 2 "--count: '0' is not a positive number" "$XCT" ct events --count 0
expect usage_events_bad_timeout 2 "--timeout: 'soon' is not a number of seconds" "$XCT" ct events --timeout soon
expect usage_events_options_elsewhere 2 "go with 'ct events'" "$XCT" ct list -e NEW
expect usage_timestamp_elsewhere 2 "-o timestamp goes with 'ct events'" "$XCT" ct list -o timestamp
expect usage_attach_bad_ct_events_size 2 "--ct-events-size: '5000' is not a power of 2" "$XCT" attach xc0 --ct-events-size 5000
expect usage_missing_argument 2 "needs an argument" "$XCT" ct list -p

# What the system refuses: exit 1.
expect runtime_not_root 1 "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups "$XCT" --pin-path "$PIN" ct list
expect runtime_not_attached 1 "not attached" x ct list
expect runtime_no_such_iface 1 "cannot attach to nope0: no such interface" x attach nope0
expect runtime_pin_not_bpffs 1 "not on a BPF filesystem" "$XCT" --pin-path "$STATE/plain/xct" attach lo

# Nothing half-applied: a bad interface in the list attaches nothing.
expect runtime_partial_attach_refused 1 "no such interface" x attach xc0 nope0
expect runtime_nothing_left_behind 1 "not attached" x status

expect attach_two 0 "xc1: attached" x attach xc0 xc1 --mode generic
expect runtime_already_attached 1 "xc0: already attached" x attach xc0
expect runtime_detach_unknown 1 "cannot detach lo: not attached" x detach lo
expect status_lists_interfaces 0 "xc1 \(ifindex [0-9]+\): ingress xdp generic" x status

# A log rule's event waits in the stream until a reader takes it.
printf 'accept icmp type echo-request log\n' >"$STATE/log.xct"
expect rules_load_log_rule 0 "1 rule, 0 sets, loaded" x rules load "$STATE/log.xct"
ip netns exec "$PEER" ping -c 1 -W 2 10.66.0.1 >/dev/null 2>&1
expect events_show_log_rule 0 \
	"log line 1 accept new iif xc0 icmp 10.66.0.2 -> 10.66.0.1 type 8 code 0 len 84" \
	x events --count 1 --timeout 5
expect usage_events_bad_count 2 "--count: 'many' is not a positive number" x events --count many
expect status_shows_rules 0 "^rules: 1, policy accept; packets dropped 0, rejected 0" x status
expect rules_clear 0 "rules cleared" x rules clear
expect status_shows_no_rules 0 "^rules: none loaded" x status
x ct delete -p icmp -s 10.66.0.2 >/dev/null 2>&1

ip netns exec "$NS" ping -c 2 -i 0.2 10.66.0.2 >/dev/null 2>&1
expect list_shows_flow 0 "icmp +1 [0-9]+ src=10.66.0.1 dst=10.66.0.2 type=8 code=0 id=[0-9]+ packets=2 bytes=168 src=10.66.0.2 dst=10.66.0.1 type=0 code=0 id=[0-9]+ packets=2 bytes=168 mark=0 use=1" x ct list -p icmp
expect list_summary_on_stderr 0 "flow entries have been shown" x ct list
if x ct list -o json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d, list) and d and all("orig" in c and "reply" in c for c in d)'; then
	ok list_json_is_an_array_of_connections
else
	not_ok list_json_is_an_array_of_connections
fi
if x -j status | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["interfaces"]) == 2 and d["entries"] >= 1'; then
	ok status_json
else
	not_ok status_json
fi
count=$(x ct count)
if [ "$count" -ge 1 ] 2>/dev/null; then ok count_is_a_number; else not_ok count_is_a_number; fi
expect get_missing_is_an_error 1 "does not exist" x ct get -p udp -s 10.66.0.1 -d 10.66.0.2 --sport 1 --dport 2
expect delete_by_filter 0 "1 flow entries have been deleted" x ct delete -p icmp
expect delete_nothing_matched 1 "no connection matched" x ct delete -p icmp
ip netns exec "$NS" ping -c 1 10.66.1.2 >/dev/null 2>&1
expect flush_empties 0 "emptied" x ct flush
if [ "$(x ct count)" = "0" ]; then ok count_after_flush_is_zero; else not_ok count_after_flush_is_zero; fi
expect stats_has_conntrack_fields 0 "cpu=0 +.found=[0-9]+ invalid=[0-9]+ insert=" x ct stats
expect stats_reasons_named 0 "^ok +[0-9]+ +tracked normally" x ct stats --reasons

# An upgrade: --replace swaps the programs under a live TCP connection,
# which keeps its entry, its state and its counters.
ip netns exec "$PEER" socat -u TCP-LISTEN:7070,reuseaddr OPEN:/dev/null &
listener=$!
for _ in $(seq 50); do
	ip netns exec "$PEER" ss -Hltn "sport = :7070" | grep -q . && break
	sleep 0.1
done
printf 'while true\ndo\n\techo tick\n\tsleep 0.05\ndone\n' >"$STATE/ticker.sh"
ip netns exec "$NS" socat -u EXEC:"sh $STATE/ticker.sh" TCP:10.66.0.2:7070 &
talker=$!
packets_of() { x ct list -p tcp --dport 7070 -o json 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys; c=json.load(sys.stdin); print(c[0]["orig"]["packets"] if c and c[0]["state"]=="ESTABLISHED" else 0)'; }
before=0
for _ in $(seq 50); do
	before=$(packets_of)
	[ "$before" -ge 5 ] && break
	sleep 0.1
done
old_ids=$(x -j status | /usr/bin/python3 -c 'import json,sys; print(sorted(i["ingress_prog_id"] for i in json.load(sys.stdin)["interfaces"]))')
expect replace_programs 0 "xc0: replaced \(ingress xdp generic" x attach --replace xc0 xc1
new_ids=$(x -j status | /usr/bin/python3 -c 'import json,sys; print(sorted(i["ingress_prog_id"] for i in json.load(sys.stdin)["interfaces"]))')
after=$before
for _ in $(seq 50); do
	after=$(packets_of)
	[ "$after" -gt $((before + 5)) ] && break
	sleep 0.1
done
if [ "$before" -ge 5 ] && [ "$after" -gt $((before + 5)) ] && [ "$old_ids" != "$new_ids" ]; then
	ok replace_keeps_established_connection
else
	echo "  packets before $before after $after, prog ids $old_ids -> $new_ids" >&2
	not_ok replace_keeps_established_connection
fi
kill "$talker" "$listener" 2>/dev/null
wait "$talker" "$listener" 2>/dev/null

# An older xct's counters, pinned with another size, cannot be reused: the
# takeover starts them afresh and keeps the table.
entries_before=$(x ct count 2>/dev/null)
rm -f "$PIN/xct_counters"
bpftool map create "$PIN/xct_counters" type percpu_array key 4 value 8 entries 47 \
	name xct_counters
expect replace_restarts_stale_counters 0 "xct_counters: layout changed since it was pinned" \
	x attach --replace xc0 xc1
expect replace_keeps_table_despite_stale_counters 0 "^${entries_before}\$" x ct count
# A table of another layout is never dropped: the load is refused.
mkdir -m 0700 "$STATE/bpf/other"
bpftool map create "$STATE/bpf/other/xct_ct" type hash key 40 value 8 entries 16 name xct_ct
expect attach_refuses_other_table_layout 1 "another layout than this xct's" \
	ip netns exec "$NS" "$XCT" --pin-path "$STATE/bpf/other" attach lo
rm -rf "$STATE/bpf/other"
expect usage_replace_with_mode 2 "--replace keeps each interface's mode" x attach --replace xc0 --mode tc
expect runtime_replace_not_attached 1 "cannot replace on lo: not attached" x attach --replace lo

expect detach_one_keeps_table 0 "xc0: detached" x detach xc0
expect status_after_detach 0 "xc1" x status
expect detach_all 0 "" x detach --all
if [ -d "$PIN" ] && [ -z "$(ls -A "$PIN")" ]; then ok detach_all_empties_state; else not_ok detach_all_empties_state; fi
if ip netns exec "$NS" tc qdisc show | grep -q clsact; then
	not_ok detach_removes_own_clsact
else
	ok detach_removes_own_clsact
fi

[ "$failures" -eq 0 ]
