#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# nf_conntrack's timeouts, tuned on a live router:
#
#   1. xct timeouts prints every tunable under its sysctl name, with the
#      kernel's defaults; set-timeout refuses an unknown name or value
#      (exit 2) and changes nothing then;
#   2. a TCP connection held open from client to server is ESTABLISHED with
#      432000 s; nf_conntrack_tcp_timeout_established set to 3 leaves its
#      entry alone until its next packet (as a sysctl write does), which
#      gives it 3 s;
#   3. idle past that, the entry expires: the collector removes it, and the
#      connection's next data segment is no longer established (policy
#      drop admits SYNs only), so the client gets no answer;
#   4. nf_conntrack_tcp_loose 0: that segment is INVALID (not picked up);
#   5. xct up sets a [timeouts] value of xct.conf, reload without it puts
#      the default back.
set -u
NS_PREFIX=service
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=""

timeouts_cleanup() {
	kill_in_ns "$NS_C" "$NS_S"
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap timeouts_cleanup EXIT

fail_setup() {
	echo "not ok timeouts setup: $*"
	exit 1
}

# The held connection's entry: "STATE TIMEOUT", empty once it is gone.
held_entry() {
	xct_r ct list -p tcp --dport 7000 2>/dev/null | awk '{ print $4, $3 }' | head -1
}
entry_gone() { [ -z "$(held_entry)" ]; }
reason_count() { # reason_count NAME: its count in ct stats --reasons
	xct_r ct stats --reasons 2>/dev/null | awk -v r="$1" '$1 == r { print $2 }'
}

have_xct || fail_setup "no $XCT (make all)"
WORK=$(mktemp -d /tmp/xct-timeouts.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
xct_attach || fail_setup "attach"
printf 'policy drop\naccept ct state established,related\naccept tcp dport 7000 tcp flags == syn\n' \
	>"$WORK/rules.xct"
xct_r rules load "$WORK/rules.xct" >/dev/null || fail_setup "rules"
ip netns exec "$NS_S" socat TCP4-LISTEN:7000,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
poll 5 listening "$NS_S" tcp 7000 || fail_setup "server"

# 1. the table of tunables
out=$(xct_r timeouts 2>&1)
[ "$(wc -l <<<"$out")" = 18 ] &&
	grep -qx "nf_conntrack_tcp_timeout_established = 432000" <<<"$out" &&
	grep -qx "nf_conntrack_udp_timeout_stream = 120" <<<"$out" &&
	grep -qx "nf_conntrack_icmpv6_timeout = 30" <<<"$out" &&
	grep -qx "nf_conntrack_tcp_loose = 1" <<<"$out" &&
	grep -qx "nf_conntrack_tcp_be_liberal = 0" <<<"$out"
check "timeouts: every tunable with the kernel's default" $? "$out"
json=$(xct_r -j timeouts 2>&1)
"$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["nf_conntrack_generic_timeout"] == 600 and len(d) == 18' "$json"
check "timeouts: -j" $? "$json"
expect "set-timeout: unknown name" 2 "unknown name 'nf_conntrack_tcp_timeout_establish'" \
	xct_r set-timeout nf_conntrack_tcp_timeout_establish 5
expect "set-timeout: value out of range" 2 "is not a number from 0 to 1" \
	xct_r set-timeout nf_conntrack_tcp_loose 2
expect "set-timeout: not a decimal number" 2 "is not a number" \
	xct_r set-timeout nf_conntrack_udp_timeout 0x10
[ "$(xct_r timeouts 2>&1)" = "$out" ]
check "set-timeout: a refused value changes nothing" $?

# 2. a live connection
hold_tcp "$WORK" "$S4" 7000 4 || fail_setup "held connection"
held_send "$WORK" one
check "timeouts: the held connection carries data" $? "$(cat "$WORK/hold.err")"
e=$(held_entry)
[ "${e% *}" = ESTABLISHED ] && [ "${e#* }" -gt 431000 ]
check "timeouts: ESTABLISHED with the default timeout" $? "entry '$e'"

expect "set-timeout: established to 3 s" 0 "nf_conntrack_tcp_timeout_established = 3" \
	xct_r set-timeout nf_conntrack_tcp_timeout_established 3
grep -qx "nf_conntrack_tcp_timeout_established = 3" <(xct_r timeouts)
check "timeouts: the new value in force" $?
e=$(held_entry)
[ "${e% *}" = ESTABLISHED ] && [ "${e#* }" -gt 431000 ]
check "timeouts: the entry keeps its timeout until its next packet" $? "entry '$e'"
held_send "$WORK" two
check "timeouts: the held connection's next packets pass" $?
e=$(held_entry)
[ "${e% *}" = ESTABLISHED ] && [ "${e#* }" -le 3 ]
check "timeouts: the next packet gives it the new timeout" $? "entry '$e'"

# 3. idle, it expires
poll 15 entry_gone
check "timeouts: the idle connection expires" $? "entry '$(held_entry)'"
echo three >"$WORK/hold.in"
poll 10 grep -qx "no answer" "$WORK/hold.out"
check "timeouts: its next segment is not established any more: dropped" $? \
	"$(cat "$WORK/hold.out")"

# 4. tcp_loose 0: the segment is not picked up, it is INVALID.
xct_r set-timeout nf_conntrack_tcp_loose 0 >/dev/null
before=$(reason_count tcp_invalid_new)
echo four >"$WORK/hold.in"
poll 10 [ "$(grep -c "no answer" "$WORK/hold.out")" -ge 2 ]
after=$(reason_count tcp_invalid_new)
[ -z "$(held_entry)" ] && [ "${after:-0}" -gt "${before:-0}" ]
check "timeouts: tcp_loose 0 makes a mid-stream segment INVALID" $? \
	"tcp_invalid_new $before -> $after, entry '$(held_entry)'"

# 5. from xct.conf
cat >"$WORK/xct.conf" <<-EOF
	pin-path = $XCT_PIN
	rules = $WORK/rules.xct
	[interface veth-r-c]
	[interface veth-r-s]
	[timeouts]
	nf_conntrack_udp_timeout = 45
EOF
xct_r up --config "$WORK/xct.conf" >/dev/null 2>&1
out=$(xct_r timeouts)
grep -qx "nf_conntrack_udp_timeout = 45" <<<"$out" &&
	grep -qx "nf_conntrack_tcp_timeout_established = 432000" <<<"$out" &&
	grep -qx "nf_conntrack_tcp_loose = 1" <<<"$out"
check "timeouts: up sets the file's, the others to their defaults" $? "$out"
sed -i '/udp_timeout/d' "$WORK/xct.conf"
xct_r reload --config "$WORK/xct.conf" >/dev/null 2>&1
grep -qx "nf_conntrack_udp_timeout = 30" <(xct_r timeouts)
check "timeouts: reload without the key puts the default back" $?

[ "$failures" -eq 0 ]
