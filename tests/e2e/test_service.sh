#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The firewall of an xct.conf on the router, through xct up / reload / down,
# with a TCP connection held open from client to server all along:
#
#   1. up attaches each [interface] in its mode, with the table size and
#      events ring of the file, and loads its rules (policy drop: port 7001
#      is refused); the held connection carries data;
#   2. up again changes nothing but the programs (--replace): same mode,
#      the held connection's entry and data go on;
#   3. reload with a rules file that now admits port 7001: a connection to
#      7001 passes, the held connection's entry is the same one (its packet
#      count grew, it was not re-created) and carries data;
#   4. a bad xct.conf (up and reload) and a bad rules file (up) exit 2
#      with FILE:LINE:COLUMN and change nothing: same programs, same rules;
#   5. an interface moved to another mode in the file is re-attached in it
#      by up, and the held connection survives that too;
#   6. down leaves no XDP program, no TC filter, no pin; down again is a
#      no-op; reload then fails (nothing is up); up of a file without an
#      interface does nothing and succeeds (a fresh installation).
set -u
NS_PREFIX=service
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=""

service_cleanup() {
	kill_in_ns "$NS_C" "$NS_S"
	[ -n "$WORK" ] && [ -f "$WORK/xct.conf" ] &&
		xct_r down --config "$WORK/xct.conf" >/dev/null 2>&1
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap service_cleanup EXIT

fail_setup() {
	echo "not ok service setup: $*"
	exit 1
}

write_conf() { # write_conf FILE MODE_OF_veth-r-s RULES
	cat >"$1" <<-EOF
		# the router of tests/e2e/test_service.sh
		pin-path = $XCT_PIN
		rules = $3
		table-size = 65536
		events-ring-size = 64K

		[interface veth-r-c]
		mode = native

		[interface veth-r-s]
		mode = $2
	EOF
}

# The held connection's entry: "SPORT PACKETS" of the original direction.
held_entry() {
	xct_r ct list -p tcp --dport 7000 2>/dev/null | grep ESTABLISHED |
		sed -E 's/.*sport=([0-9]+) dport=7000 packets=([0-9]+).*/\1 \2/' | head -1
}

# hooks IFACE: what the kernel has on IFACE, "xdp:ID" and the TC filters.
hooks() {
	in_ns "$NS_R" ip -d link show dev "$1" | grep -oE 'prog/xdp[a-z]* id [0-9]+'
	in_ns "$NS_R" tc filter show dev "$1" ingress
	in_ns "$NS_R" tc filter show dev "$1" egress
}

have_xct || fail_setup "no $XCT (make all)"
WORK=$(mktemp -d /tmp/xct-service.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"

cat >"$WORK/rules.xct" <<-'EOF'
	policy drop
	accept ct state established,related
	accept tcp dport 7000
	accept icmp type echo-request
	accept icmpv6 type echo-request
EOF
cat >"$WORK/rules2.xct" <<-'EOF'
	set open_ports { 7000, 7001 }
	policy drop
	accept ct state established,related
	accept tcp dport @open_ports
	accept icmp type echo-request
	accept icmpv6 type echo-request
EOF
write_conf "$WORK/xct.conf" tc "$WORK/rules.xct"

ip netns exec "$NS_S" socat TCP4-LISTEN:7000,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
peer_echo_tcp "$NS_S" TCP4-LISTEN:7001
poll 5 listening "$NS_S" tcp 7000 && poll 5 listening "$NS_S" tcp 7001 ||
	fail_setup "servers"

# 1. up
expect "service up attaches and loads" 0 "veth-r-s: attached \(ingress tc" \
	xct_r up --config "$WORK/xct.conf"
XCT_ATTACHED=1
status=$(xct_r status 2>&1)
grep -qE "veth-r-c .*ingress xdp native" <<<"$status" &&
	grep -qE "veth-r-s .*ingress tc" <<<"$status" &&
	grep -qE "table: [0-9]+ connections of 65536 " <<<"$status"
check "service up: modes and table size of the file" $? "$status"
ring=$(bpftool -j map show pinned "$XCT_PIN/xct_ct_events" 2>/dev/null |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])')
check "service up: events ring of the file" "$([ "$ring" = 65536 ] && echo 0 || echo 1)" \
	"ring $ring"
xct_r rules show 2>&1 | grep -q "accept tcp dport 7000"
check "service up: rules loaded" $?

# The held connection, open from here to the end.
hold_tcp "$WORK" "$S4" 7000 || fail_setup "held connection"
held_send "$WORK" one
check "service: held connection carries data" $? "$(cat "$WORK/hold.err")"
tcp_peer_of "$NS_C" "$S4:7001" 41001 | grep -q .
check "service: policy drop refuses port 7001" "$([ $? -ne 0 ] && echo 0 || echo 1)"
entry1=$(held_entry)
[ -n "$entry1" ]
check "service: held connection tracked ESTABLISHED" $? "$(xct_r ct list 2>&1)"

# 2. up again: only the programs are swapped.
expect "service up again replaces programs" 0 "veth-r-c: replaced.*veth-r-s: replaced|veth-r-s: replaced" \
	xct_r up --config "$WORK/xct.conf"
status=$(xct_r status 2>&1)
grep -qE "veth-r-c .*ingress xdp native" <<<"$status" && grep -qE "veth-r-s .*ingress tc" <<<"$status"
check "service up again: same modes" $? "$status"
held_send "$WORK" two
check "service up again: held connection carries data" $?
entry2=$(held_entry)
[ -n "$entry2" ] && [ "${entry2% *}" = "${entry1% *}" ] && [ "${entry2#* }" -gt "${entry1#* }" ]
check "service up again: same entry, counting on" $? "before '$entry1' after '$entry2'"

# 3. reload with new rules
write_conf "$WORK/xct.conf" tc "$WORK/rules2.xct"
expect "service reload loads the new rules" 0 "rules2.xct: 4 rules, 1 set, loaded" \
	xct_r reload --config "$WORK/xct.conf"
got=$(tcp_peer_of "$NS_C" "$S4:7001" 41002)
[ "$got" = "$C4 41002" ]
check "service reload: port 7001 now admitted" $? "got '$got'"
held_send "$WORK" three
check "service reload: held connection carries data" $?
entry3=$(held_entry)
[ -n "$entry3" ] && [ "${entry3% *}" = "${entry1% *}" ] && [ "${entry3#* }" -gt "${entry2#* }" ]
check "service reload: held connection's entry kept" $? "before '$entry2' after '$entry3'"

# 4. bad configurations change nothing
rules_before=$(xct_r rules show 2>&1)
progs_before=$(xct_r status 2>&1 | grep -oE 'prog [0-9]+' | sort -u | tr '\n' ' ')
sed 's/^mode = tc$/mode = fast/' "$WORK/xct.conf" >"$WORK/bad.conf"
expect "service up: bad xct.conf exits 2 with its location" 2 \
	"bad.conf:11:8: 'fast' is not native, generic or tc" \
	xct_r up --config "$WORK/bad.conf"
expect "service reload: bad xct.conf exits 2 with its location" 2 \
	"bad.conf:11:8: 'fast' is not native, generic or tc" \
	xct_r reload --config "$WORK/bad.conf"
printf 'policy drop\naccept tcp dport 7000 7001\n' >"$WORK/bad.xct"
write_conf "$WORK/badrules.conf" generic "$WORK/bad.xct"
expect "service up: bad rules file exits 2 with its location" 2 "bad.xct:2:" \
	xct_r up --config "$WORK/badrules.conf"
[ "$(xct_r rules show 2>&1)" = "$rules_before" ] &&
	[ "$(xct_r status 2>&1 | grep -oE 'prog [0-9]+' | sort -u | tr '\n' ' ')" = "$progs_before" ] &&
	xct_r status 2>&1 | grep -qE "veth-r-s .*ingress tc"
check "service: bad configurations changed nothing" $?
held_send "$WORK" four
check "service: held connection after bad configurations" $?

# 5. a mode changed in the file
write_conf "$WORK/xct.conf" generic "$WORK/rules2.xct"
expect "service up: mode change re-attaches" 0 "veth-r-s: attached \(ingress xdp generic" \
	xct_r up --config "$WORK/xct.conf"
xct_r status 2>&1 | grep -qE "veth-r-s .*ingress xdp generic"
check "service up: new mode in place" $?
held_send "$WORK" five
check "service up: held connection survives the mode change" $?

# 6. down
expect "service down detaches" 0 "veth-r-s: detached" xct_r down --config "$WORK/xct.conf"
left=$(hooks veth-r-c; hooks veth-r-s)
[ -z "$left" ]
check "service down: no XDP program, no TC filter" $? "$left"
pins=$(ls -A "$XCT_PIN" 2>&1)
[ -z "$pins" ]
check "service down: no pin" $? "$pins"
XCT_ATTACHED=0
expect "service down again: nothing to do" 0 "" xct_r down --config "$WORK/xct.conf"
expect "service reload when down fails" 1 "not up" xct_r reload --config "$WORK/xct.conf"
printf 'pin-path = %s\nrules = %s\n' "$XCT_PIN" "$WORK/rules.xct" >"$WORK/none.conf"
expect "service up without an interface: nothing to do" 0 "names no \[interface\]" \
	xct_r up --config "$WORK/none.conf"
pins=$(ls -A "$XCT_PIN" 2>&1)
check "service up without an interface: no state" "$([ -z "$pins" ] && echo 0 || echo 1)" "$pins"
held_send "$WORK" six
check "service down: traffic flows unfiltered" $?

[ "$failures" -eq 0 ]
