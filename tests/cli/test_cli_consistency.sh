#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every command speaks the same language and says what it does:
#
#   - one address parser: `set add`, `ct list -s` and `trace --host` refuse
#     10.0.0.1/8 with the rules file's message, and change nothing;
#   - `replay --rules` warns, where it is written, of an `iif` rule that no
#     replayed packet can match without --iif;
#   - a text format asked for with JSON (`-j ct list -o extended`) is an
#     error, not dropped silently;
#   - `-j status` is valid JSON whatever an interface is called;
#   - `status` says an attached interface was deleted, and `detach` takes
#     it by its old name and removes its state.
# xct runs attached in a namespace of its own under a private pin path.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=${XCT:-$PWD/build/xct}
PY=/usr/bin/python3
ID="$$-$RANDOM"
NS="xct-cons-$ID"
PEER="xct-consp-$ID"
STATE=$(mktemp -d /tmp/xct-cons.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh

x() { ip netns exec "$NS" "$XCT" --pin-path "$PIN" "$@"; }

# An interface name with a quote and a backslash: Linux allows both.
ODD='q"b\s'
if ! mkdir -p "$STATE/bpf" || ! mount -t bpf bpf "$STATE/bpf" || ! cli_one_veth ||
	! ip -n "$NS" link add "$ODD" type veth peer name qp0 ||
	! ip -n "$NS" link add xd0 type veth peer name xd1 ||
	! ip -n "$NS" link set "$ODD" up || ! ip -n "$NS" link set xd0 up ||
	! x attach xc0 "$ODD" xd0 >/dev/null; then
	not_ok "netns cli_consistency_setup"
	exit 1
fi
printf 'set blocklist { 203.0.113.0/24 }\ndrop saddr @blocklist\n' >"$STATE/set.rules"
check "netns rules_with_a_set_loaded" x rules load "$STATE/set.rules"

# One address parser, one message.
expect "netns set_add_host_bits" 2 \
	"set 'blocklist' holds addresses: host bits set in 10\.0\.0\.1/8 \(did you mean 10\.0\.0\.0/8\?\)" \
	x set add blocklist 10.0.0.1/8
expect "netns set_add_host_bits_v6" 2 "host bits set in 2001:db8::1/32 \(did you mean 2001:db8::/32\?\)" \
	x set add blocklist 2001:db8::1/32
expect "netns set_add_host_bits_changes_nothing" 0 "^203\.0\.113\.0/24$" x set list blocklist
if x set list blocklist 2>&1 | grep -q "^10\."; then
	not_ok "netns set_add_host_bits_added_nothing"
else
	ok "netns set_add_host_bits_added_nothing"
fi
expect "netns set_add_bad_address_message" 2 "invalid IPv4 address '10\.0\.0\.300'" \
	x set add blocklist 10.0.0.300
expect "netns ct_list_host_bits" 2 "^xct: -s: host bits set in 10\.0\.0\.1/8 \(did you mean 10\.0\.0\.0/8\?\)" \
	x ct list -s 10.0.0.1/8
expect "netns trace_host_bits" 2 "^xct: --host: host bits set in 10\.0\.0\.1/8 \(did you mean 10\.0\.0\.0/8\?\)" \
	timeout 10 ip netns exec "$NS" "$XCT" --pin-path "$PIN" trace drops --host 10.0.0.1/8
expect "netns ct_list_prefix_still_taken" 0 "" x ct list -s 10.0.0.0/8

# replay: an iif rule cannot match without --iif.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\0\0\x01\0\0\0' >"$STATE/empty.pcap"
printf 'policy drop\naccept iif eth9 tcp dport 22\naccept iif != eth8 udp dport 53\n' >"$STATE/iif.rules"
expect "netns replay_iif_rule_without_iif_warns" 0 \
	"^xct: $STATE/iif\.rules:2:12: warning: this rule matches 'iif eth9', which no replayed packet arrives on without --iif NAME: it cannot match$" \
	"$XCT" replay "$STATE/empty.pcap" --rules "$STATE/iif.rules"
n=$("$XCT" replay "$STATE/empty.pcap" --rules "$STATE/iif.rules" 2>&1 | grep -c warning)
check "netns replay_iif_warns_once_and_not_for_negation" test "$n" = 1
n=$("$XCT" replay "$STATE/empty.pcap" --rules "$STATE/iif.rules" --iif eth9 2>&1 | grep -c warning)
check "netns replay_with_iif_does_not_warn" test "$n" = 0

# A text format with JSON is an error.
expect "netns json_ct_list_extended" 2 "-o extended is a text format: it cannot be combined with JSON" \
	x -j ct list -o extended
expect "netns ct_list_json_and_extended" 2 "-o extended is a text format" x ct list -o json,extended
expect "netns json_ct_list_alone" 0 "^\[" x -j ct list

# -j status escapes its strings.
out=$(x -j status 2>&1)
if "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
names = sorted(i["name"] for i in d["interfaces"])
assert names == sorted(["xc0", "xd0", sys.argv[2]]), names
assert d["pin_path"] == sys.argv[3], d["pin_path"]
' "$out" "$ODD" "$PIN"; then
	ok "netns json_status_escapes_names"
else
	echo "  $out" >&2
	not_ok "netns json_status_escapes_names"
fi

# A deleted interface: status says so, detach takes its old name.
idx=$(ip -n "$NS" -o link show xd0 | cut -d: -f1)
ip -n "$NS" link del xd0
expect "netns status_says_deleted" 1 \
	"^  xd0 \(ifindex $idx, deleted\): .* MISSING$" x status
expect "netns status_says_how_to_remove" 1 \
	"MISSING interface: xd0 \(ifindex $idx\) was deleted; 'xct detach xd0' removes its state" x status
out=$(x -j status 2>/dev/null)
if "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
i = [i for i in d["interfaces"] if i["name"] == "xd0"][0]
assert i["deleted"] is True and i["state"] == "MISSING", i
' "$out"; then
	ok "netns json_status_says_deleted"
else
	not_ok "netns json_status_says_deleted"
fi
expect "netns detach_deleted_by_old_name" 0 "^xd0: detached$" x detach xd0
check "netns detach_deleted_removed_its_link_pin" test ! -e "$PIN/link_xdp_$idx"
expect "netns status_complete_after_detach" 0 "^  xc0 \(ifindex" x status
if x status 2>&1 | grep -q xd0; then
	not_ok "netns status_without_the_deleted_interface"
else
	ok "netns status_without_the_deleted_interface"
fi
expect "netns detach_unknown_name_still_refused" 1 "cannot detach xd0: no such interface" \
	x detach xd0

[ "$failures" -eq 0 ]
