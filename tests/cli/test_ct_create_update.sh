#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct ct create / update / get / delete / list with conntrack(8)'s
# arguments, against the kernel's own table: each command runs as
# `conntrack ARGS` in one namespace (nf_conntrack) and as `xct ct ARGS` in
# another (xct attached), and what both print must be the same line for
# line, but for what the two count differently: xct always has the
# counters (packets=, bytes=; nf_conntrack only with nf_conntrack_acct),
# the ids, the second the timeout is read in, and the use count (the
# kernel's counts the reference its netlink answer holds: use=2 after -G or
# -U, where xct has nothing to hold).  Then what the kernel
# cannot be asked here: mark masks, labels, -z, --id, a live connection's
# mark and timeout, labels freed with their connection.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
ID="$$-$RANDOM"
NS="xct-ctu-$ID"
PEER="xct-ctuk-$ID"
STATE=$(mktemp -d /tmp/xct-ct-update.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh

SAME_PREFIX="ct update"
. tests/cli/ct_same.sh
same_setup
ip -n "$NS" addr add 10.251.7.1/24 dev xc0 && ip -n "$PEER" addr add 10.251.7.2/24 dev xp0 ||
	{ not_ok "ct update: addresses"; exit 1; }

# timeout_of ARGS...: the seconds left of the one entry ARGS lists in xct.
timeout_of() { x ct list "$@" 2>/dev/null | awk '{ print $3 }'; }

TCP=(-p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 40000 --dport 22)
UDP=(-p udp -s 10.0.0.1 -d 10.0.0.2 --sport 5000 --dport 53)
ICMP=(-p icmp -s 10.0.0.1 -d 10.0.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 77)
TCP6=(-p tcp -s fd00::1 -d fd00::2 --sport 40001 --dport 443)

# 1. create (conntrack -I), as the kernel makes them.
same "create tcp ESTABLISHED, ASSURED, with a mark" -I "${TCP[@]}" --state ESTABLISHED \
	-t 3600 -u ASSURED --mark 5
same "create udp" -I "${UDP[@]}" -t 50
same "create icmp echo" -I "${ICMP[@]}" -t 30
same "create tcp over IPv6" -I "${TCP6[@]}" --state SYN_SENT -t 120
same "create a tuple the table has: refused" -I "${UDP[@]}" -t 50
same "create without a timeout: refused" -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 2
same "list -o extended, every family" -L -o extended
same "list by mark" -L -m 5
same "get by the original tuple" -G "${TCP[@]}"
same "get of a tuple not in the table" -G -p tcp -s 10.0.0.9 -d 10.0.0.2 --sport 1 --dport 22

# 2. update (conntrack -U), then what list and get show of it.
same "update the mark" -U "${UDP[@]}" --mark 7
same "list by the new mark" -L -m 7
same "update status bits: SEEN_REPLY set" -U "${UDP[@]}" -u SEEN_REPLY
same "list the updated entry" -L -p udp
same "update the timeout" -U "${TCP[@]}" -t 100
t=$(timeout_of -p tcp --dport 22)
check "ct update: -t 100 leaves 99 or 100 seconds ($t)" test "${t:-0}" -ge 99 -a "${t:-0}" -le 100
same "update of what matches nothing" -U -p udp --dport 9999 --mark 1
same "delete by filter" -D -p icmp
same "what is left" -L
same "count" -C

# 3. What the kernel here does not answer: xct alone, asserted on values.
masked() { x ct update -p udp --dport 53 --mark 0x10/0xf0 >/dev/null 2>&1 && x ct list -p udp --dport 53; }
expect "ct update: mark with a mask sets the masked bits" 0 'mark=23 ' masked
printf '0 web\n1 ssh\n3 admin\n' >"$STATE/connlabel.conf"
L=(--label-file "$STATE/connlabel.conf")
labels() { x ct update -p tcp --dport 22 "$@" "${L[@]}" >/dev/null 2>&1 && x ct list -p tcp --dport 22 -o labels "${L[@]}"; }
expect "ct update: --label-add" 0 "labels=ssh,admin$" labels --label-add ssh,admin
by_label() { x ct list -l admin "${L[@]}" 2>/dev/null | wc -l; }
expect "ct update: list -l filters by label" 0 '^1$' by_label
expect "ct update: --label-del one" 0 "labels=ssh$" labels --label-del admin
expect "ct update: an unknown label name is a usage error" 2 "web2" \
	x ct update -p tcp --dport 22 --label-add web2 "${L[@]}"
# Labels go with their connection: the same tuple created again has none.
x ct delete -p tcp --dport 22 >/dev/null 2>&1
x ct create "${TCP[@]}" --state ESTABLISHED -t 60 >/dev/null 2>&1
if x ct list -p tcp --dport 22 -o labels "${L[@]}" 2>/dev/null | grep -q labels=; then
	not_ok "ct update: a new connection on a deleted one's tuple has no labels"
else
	ok "ct update: a new connection on a deleted one's tuple has no labels"
fi

# Without a label file, listing (JSON reads the labels) says nothing of it
# and shows labels as their bit numbers; asking for a name is an error.
x ct update -p tcp --dport 22 --label-add ssh "${L[@]}" >/dev/null 2>&1
json_quiet() {
	local out
	out=$(x -j ct list -p tcp --dport 22 --label-file "$STATE/none.conf" 2>&1) &&
		grep -q '"labels":\["1"\]\|"labels":\[1\]\|dport":22' <<<"$out" &&
		! grep -q 'cannot read' <<<"$out"
}
check "ct update: no label file: json lists with no complaint" json_quiet
expect "ct update: no label file: labels as bit numbers" 0 ' labels=1$' \
	x ct list -p tcp --dport 22 -o labels --label-file "$STATE/none.conf"
expect "ct update: no label file: a name is refused" 2 'cannot read the label names' \
	x ct update -p tcp --dport 22 --label-add ssh --label-file "$STATE/none.conf"

# --id: get and delete the connection -o id names.
id=$(x ct list -p udp --dport 53 -o id 2>/dev/null | sed -n 's/.* id=\([0-9]*\).*/\1/p')
expect "ct update: get --id" 0 "sport=5000 dport=53 .* id=$id$" x ct get --id "${id:-0}" -o id
expect "ct update: delete --id" 0 "1 flow entries have been deleted" x ct delete --id "${id:-0}"
expect "ct update: it is gone" 1 "such connection does not exist" x ct get "${UDP[@]}"

# A live connection: its counters read and zeroed by -z, its mark and its
# timeout changed by update while it goes on.
ip netns exec "$PEER" ping -c 3 -i 0.2 -q 10.251.7.1 >/dev/null
expect "ct update: list -z shows the counters it zeroes" 0 "packets=3 bytes=252 .* packets=3 bytes=252" \
	x ct list -p icmp -s 10.251.7.2 -z
expect "ct update: after -z they are 0" 0 "packets=0 bytes=0 .* packets=0 bytes=0" \
	x ct list -p icmp -s 10.251.7.2
# send_udp: one datagram from 10.251.7.2:40777 to port 7777, the same flow each time.
send_udp() {
	ip netns exec "$PEER" python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.251.7.2", 40777)); s.sendto(b"x", ("10.251.7.1", 7777))'
}
send_udp
x ct update -p udp --dport 7777 --mark 42 -t 500 >/dev/null 2>&1
t=$(timeout_of -p udp --dport 7777)
check "ct update: -t 500 on a live connection ($t)" test "${t:-0}" -ge 499
send_udp
expect "ct update: a live connection keeps its new mark" 0 "dport=7777 packets=2 .* mark=42 " \
	x ct list -p udp --dport 7777
t=$(timeout_of -p udp --dport 7777)
# As in nf_conntrack, -t holds until the next packet sets the protocol's.
check "ct update: the next packet gives the timeout back to the tracker ($t)" \
	test "${t:-500}" -le 30
# Zones: the same tuple in zones 0 and 3 is two connections.
UDPZ=(-p udp -s 10.0.0.5 -d 10.0.0.6 --sport 5000 --dport 53)
same "create a udp tuple in zone 0" -I "${UDPZ[@]}" -t 50
same "create it again in zone 3" -I "${UDPZ[@]}" -t 50 --zone 3
same "list zone 3" -L -w 3
same "list both" -L -s 10.0.0.5
same "delete zone 3's" -D -w 3
same "zone 0's is left" -L -s 10.0.0.5
# Where conntrack 1.4.7 takes no --zone (-G, -U), xct does: the zone of
# the tuple to get, a filter of what to update.
x ct create "${UDPZ[@]}" -t 50 --zone 3 >/dev/null 2>&1
expect "ct get -w 3: zone 3's" 0 "dport=53 .* zone=3 " x ct get "${UDPZ[@]}" -w 3
expect "ct update -w 3 changes zone 3's only" 0 "1 flow entries have been updated" \
	x ct update -s 10.0.0.5 -w 3 --mark 11
expect "ct update -w 3: zone 0's keeps its mark" 0 "mark=0 use=1" \
	x ct list -s 10.0.0.5 -w 0
expect "ct update -w 3: zone 3's has it" 0 "mark=11 zone=3 " x ct list -s 10.0.0.5 -w 3
# conntrack -I --orig-zone makes a zone of one direction, which xct has not.
expect "ct create: --orig-zone is refused" 2 "--zone N, not --orig-zone" \
	x ct create "${UDPZ[@]}" -t 50 --orig-zone 4
[ "$failures" -eq 0 ]
