#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Counters equal nf_conntrack's, whatever the order of attaches.
#
# The router translates (masquerade out of veth-r-s; TCP and UDP ports of
# its client-side address forwarded to the server) and nf_conntrack tracks
# in it beside xct, as the oracle: it sees every packet once, after xct's
# translation on the way in and before it on the way out.  xct is attached
# to veth-r-c, veth-r-s and lo in each of these orders:
#
#   one_command   attach veth-r-c veth-r-s lo
#   commands      attach veth-r-c, then veth-r-s, then lo: three commands
#   reattach      all at once, detach veth-r-c, attach it again
#   replace       three commands, then attach --replace on all three
#   tc            --mode tc, one interface per command
#
# and each time the same traffic runs: a forwarded ping and UDP exchange
# (masqueraded), TCP with data and UDP to the forwarded ports, a ping the
# router sends, and a ping and TCP with data over the router's loopback.
# Then, connection by connection, both directions' packets and bytes in
# `xct ct list` must equal conntrack -L's, the connections must be the
# same, `xct ct stats` must count one insert per connection and no
# invalid packet (conntrack -S: none), and the reason counters must count
# each packet once (ok = every packet of every connection); `xct status`
# must show one program on every interface's egress.
#
# Last, a load of another build, or of an xct that did not pin its
# programs, is not joined: attach refuses with the command that replaces
# it, changing nothing, and --replace of only some interfaces is refused.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P_PUB_TCP=8080 # the router's client-side ports, forwarded to the server
P_PUB_UDP=8053
P_TCP=7080 # the server's
P_UDP=7053
P_UDP_DIRECT=7054 # reached directly, masqueraded
P_LO=7300         # the router's own echo server on 127.0.0.1
WORK=""
failures=0

counters_cleanup() {
	kill_in_ns "$NS_C" "$NS_S" "$NS_R"
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap counters_cleanup EXIT

fail_setup() {
	echo "not ok counters_setup ($*)"
	exit 1
}

check() {
	result "$1" "$2" "${@:3}"
	[ "$2" = 0 ] || failures=$((failures + 1))
}

start_servers() {
	ip netns exec "$NS_S" socat TCP4-LISTEN:$P_TCP,reuseaddr,fork EXEC:cat </dev/null \
		>/dev/null 2>&1 &
	BG_PIDS+=($!)
	peer_echo_udp "$NS_S" "$P_UDP"
	ip netns exec "$NS_S" socat -T 1 UDP4-RECVFROM:$P_UDP_DIRECT,fork EXEC:cat </dev/null \
		>/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_R" socat TCP4-LISTEN:$P_LO,bind=127.0.0.1,reuseaddr,fork EXEC:cat \
		</dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	poll 5 listening "$NS_S" tcp "$P_TCP" && poll 5 listening "$NS_S" udp "$P_UDP" &&
		poll 5 listening "$NS_S" udp "$P_UDP_DIRECT" && poll 5 listening "$NS_R" tcp "$P_LO"
}

# tcp_echo NS ADDR PORT SPORT: the blob there and back, intact.
tcp_echo() {
	local out="$WORK/out.$4"
	in_ns "$1" timeout 10 socat -t 3 - "TCP4:$2:$3,sourceport=$4,reuseaddr" \
		<"$WORK/blob" >"$out" 2>/dev/null && cmp -s "$WORK/blob" "$out"
}

# traffic BASE: one connection of each kind, its source ports and ICMP ids
# from BASE (each round its own, so no tuple of an earlier round is met).
traffic() {
	local b=$1 failed=""
	in_ns "$NS_C" ping -c 1 -W 2 -q -e "$b" "$S4" >/dev/null || failed+=" ping"
	[ "$(echo x | in_ns "$NS_C" socat -T 3 - "UDP4:$S4:$P_UDP_DIRECT,sourceport=$((b + 1))")" = x ] ||
		failed+=" udp"
	tcp_echo "$NS_C" "$R4C" "$P_PUB_TCP" $((b + 2)) || failed+=" dnat-tcp"
	# Masqueraded on the way out too: the server sees the router.
	[ "$(udp_peer_of "$NS_C" "$R4C:$P_PUB_UDP" $((b + 3)))" = "$R4S $((b + 3))" ] ||
		failed+=" dnat-udp"
	in_ns "$NS_R" ping -c 2 -i 0.2 -W 2 -q -e $((b + 4)) "$C4" >/dev/null || failed+=" local-ping"
	in_ns "$NS_R" ping -c 3 -i 0.2 -W 2 -q -e $((b + 5)) 127.0.0.1 >/dev/null ||
		failed+=" lo-ping"
	tcp_echo "$NS_R" 127.0.0.1 "$P_LO" $((b + 6)) || failed+=" lo-tcp"
	echo "$failed"
}

# compare_tables: both tables' IPv4 connections, keyed by protocol, original
# source and source port (ICMP id), with both directions' packets and
# bytes; prints the differences, succeeds when there are none and there
# are the 7 connections of one round.
compare_tables() {
	"$PYTHON" - "$WORK/xct.txt" "$WORK/nf.txt" <<-'EOF'
		import sys
		def table(path):
		    t = {}
		    for line in open(path):
		        toks = line.split()
		        if len(toks) < 3 or toks[0] not in ("tcp", "udp", "icmp"):
		            continue
		        dirs, cur = [], None
		        for tok in toks:
		            if "=" not in tok:
		                continue
		            k, v = tok.split("=", 1)
		            if k == "src":
		                cur = {}
		                dirs.append(cur)
		            if cur is not None:
		                cur.setdefault(k, v)
		        o, r = dirs[0], dirs[1]
		        key = (toks[0], o["src"], o.get("sport", o.get("id")))
		        t[key] = (o.get("packets"), o.get("bytes"), r.get("packets"), r.get("bytes"))
		    return t
		x, n = table(sys.argv[1]), table(sys.argv[2])
		bad = ["%s: xct %s, nf_conntrack %s" % (" ".join(k), x.get(k), n.get(k))
		       for k in sorted(set(x) | set(n)) if x.get(k) != n.get(k)]
		if len(n) != 7:
		    bad.append("nf_conntrack has %d connections, not 7" % len(n))
		print("; ".join(bad) or "%d connections, counters equal" % len(n))
		sys.exit(1 if bad else 0)
	EOF
}

snapshot() {
	xct_r ct list -f ipv4 >"$WORK/xct.txt" 2>/dev/null
	ct_r -L -f ipv4 >"$WORK/nf.txt" 2>/dev/null
	compare_tables >/dev/null
}

# The stats that must agree: xct's inserts, invalid packets, insert
# failures and drops, its reason "ok" and every packet of the table;
# conntrack -S's invalid, insert_failed and drop.
xct_stats() {
	xct_r -j ct stats | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
s = lambda k: sum(c.get(k, 0) for c in d["cpus"])
print(s("insert"), s("invalid"), s("insert_failed"), s("drop"), d["reasons"].get("ok", 0))'
}

nf_stats() {
	ct_r -S | "$PYTHON" -c '
import re, sys
tot = {}
for line in sys.stdin:
    for k, v in re.findall(r"(\w+)=(\d+)", line):
        tot[k] = tot.get(k, 0) + int(v)
print(tot.get("invalid", 0), tot.get("insert_failed", 0), tot.get("drop", 0))'
}

# packets_in FILE: every packet of every connection in a table listing.
packets_in() {
	grep -o 'packets=[0-9]*' "$1" | awk -F= '{ n += $2 } END { print n + 0 }'
}

# round NAME BASE COMMAND...: detaches, runs each COMMAND (one xct
# command line, as a string) in the router, loads the rules, and checks
# the counters of one round of traffic.
round() {
	local name=$1 b=$2 cmd out xs0 xs1 nf0 nf1
	shift 2
	[ "$XCT_ATTACHED" = 1 ] && xct_detach >/dev/null
	for cmd in "$@"; do
		# shellcheck disable=SC2086 # one command line, split into words
		if ! out=$(xct_r $cmd 2>&1); then
			check "counters_${name}_attach" 1 "xct $cmd: $out"
			return
		fi
		XCT_ATTACHED=1
	done
	# One load of the programs runs on every interface.
	out=$(xct_r -j status | "$PYTHON" -c '
import json, sys
i = json.load(sys.stdin)["interfaces"]
eg = sorted(set(x["egress_prog_id"] for x in i))
print(len(i), len(eg))')
	[ "$out" = "3 1" ]
	check "counters_${name}_one_load" $? "interfaces, distinct egress programs: $out"
	xct_r rules load "$WORK/nat.xct" >/dev/null || {
		check "counters_${name}_rules" 1 "rules load"
		return
	}
	flush_both
	read -r -a xs0 <<<"$(xct_stats)"
	read -r -a nf0 <<<"$(nf_stats)"
	out=$(traffic "$b")
	[ -z "$out" ]
	check "counters_${name}_traffic" $? "failed:$out"
	# The last ACKs of the TCP closes may still be on their way.
	poll 5 snapshot
	out=$(compare_tables)
	check "counters_${name}_per_connection" $? "$out"
	read -r -a xs1 <<<"$(xct_stats)"
	read -r -a nf1 <<<"$(nf_stats)"
	local conns inserts=$((xs1[0] - xs0[0])) ok=$((xs1[4] - xs0[4])) packets
	conns=$(grep -cE '^(tcp|udp|icmp) ' "$WORK/nf.txt")
	packets=$(packets_in "$WORK/nf.txt")
	[ "$inserts" = "$conns" ] &&
		[ $((xs1[1] - xs0[1])) = $((nf1[0] - nf0[0])) ] &&
		[ $((xs1[2] - xs0[2])) = $((nf1[1] - nf0[1])) ] &&
		[ $((xs1[3] - xs0[3])) = $((nf1[2] - nf0[2])) ]
	check "counters_${name}_stats" $? "xct: insert $inserts invalid $((xs1[1] - xs0[1])) insert_failed $((xs1[2] - xs0[2])) drop $((xs1[3] - xs0[3])); nf_conntrack: $conns connections, invalid $((nf1[0] - nf0[0])) insert_failed $((nf1[1] - nf0[1])) drop $((nf1[2] - nf0[2]))"
	[ "$ok" = "$packets" ]
	check "counters_${name}_reasons" $? "reason ok counted $ok packets; the connections hold $packets"
}

have_xct || fail_setup "no xct binary at $XCT"
WORK=$(mktemp -d /tmp/xct-counters.XXXXXX) || fail_setup "mktemp"
head -c 30000 /dev/urandom >"$WORK/blob"
cat >"$WORK/nat.xct" <<EOF
dnat to $S4:$P_TCP iif veth-r-c tcp dport $P_PUB_TCP
dnat to $S4:$P_UDP iif veth-r-c udp dport $P_PUB_UDP
masquerade oif veth-r-s
EOF
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
enable_oracle || fail_setup "nf_conntrack"
start_servers || fail_setup "servers"

round one_command 41000 "attach veth-r-c veth-r-s lo"
round commands 42000 "attach veth-r-c" "attach veth-r-s" "attach lo"
round reattach 43000 "attach veth-r-c veth-r-s lo" "detach veth-r-c" "attach veth-r-c"
round replace 44000 "attach veth-r-c" "attach veth-r-s" "attach lo" \
	"attach --replace veth-r-c veth-r-s lo"
round tc 45000 "attach --mode tc veth-r-c" "attach --mode tc veth-r-s" "attach --mode tc lo"

# Another load is never joined.  The attached interfaces, as the kernel
# has them, before and after each refusal.
hooks() {
	local dev
	for dev in veth-r-c veth-r-s; do
		echo "$dev $(in_ns "$NS_R" ip -d link show "$dev" | grep -o 'prog/xdp id [0-9]*')" \
			"$(in_ns "$NS_R" tc filter show dev "$dev" ingress | grep -o 'id [0-9]*')" \
			"$(in_ns "$NS_R" tc filter show dev "$dev" egress | grep -o 'id [0-9]*')"
	done
}
xct_detach >/dev/null
xct_r attach veth-r-c >/dev/null && XCT_ATTACHED=1
before=$(hooks)
bpftool map update pinned "$XCT_PIN/xct_load" key 0 0 0 0 value 1 2 3 4 5 6 7 8 ||
	fail_setup "build id"
out=$(xct_r attach veth-r-s 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "cannot attach next to veth-r-c: they run programs another build of xct loaded.*'xct attach --replace veth-r-c'" <<<"$out" &&
	[ "$(hooks)" = "$before" ]
check counters_other_build_refused $? "exit $rc: $out"
rm -f "$XCT_PIN/xct_load"
out=$(xct_r attach veth-r-s 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "they run programs an older xct, which did not pin them, loaded" <<<"$out" &&
	[ "$(hooks)" = "$before" ]
check counters_unpinned_load_refused $? "exit $rc: $out"
out=$(xct_r attach --replace veth-r-c 2>&1) && xct_r attach veth-r-s >/dev/null 2>&1
check counters_replace_then_attach $? "$out"
out=$(xct_r attach --replace veth-r-s 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "cannot replace on veth-r-s alone: .* name veth-r-c too" <<<"$out"
check counters_partial_replace_refused $? "exit $rc: $out"

[ "$failures" -eq 0 ]
