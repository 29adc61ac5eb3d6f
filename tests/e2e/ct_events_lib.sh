# SPDX-License-Identifier: GPL-2.0-only
# What the connection-events tests share, sourced after lib.sh: the
# readers (xct ct events and conntrack -E in the router), the comparison
# of their lines, and the set-up, ct_events_setup: the topology with
# nf_conntrack as the oracle, xct attached, a TCP echo server (PORT) and
# one that answers and closes first (PORT_TW).
# shellcheck disable=SC2034 # variables the tests use

PORT=5001     # echo server: the client closes first
PORT_TW=5003  # the server answers and closes first: its peer can reuse the tuple
WORK=""
XOUT="" # what the readers of start_readers write
COUT=""
EV_PID=""
CT_PID=""

fail_setup() {
	echo "not ok ct_events_setup ($*)"
	exit 1
}

# start_readers [xct ct events args]: xct ct events and conntrack -E in the
# router, both ready.
start_readers() {
	start_reader "$XOUT" "$WORK/xct.err" "$@" || return 1
	ip netns exec "$NS_R" conntrack -E >"$COUT" 2>/dev/null &
	CT_PID=$!
	BG_PIDS+=("$CT_PID")
	poll 10 ct_ready
}

# conntrack -E shows events once it has shown a ping's.
ct_ready() {
	in_ns "$NS_C" ping -c 1 -W 1 "$S4" >/dev/null 2>&1
	grep -q "icmp" "$COUT"
}

table_count() {
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" ct count
}

# A NEW or UPDATE line's countdown is read by each tracker at its own
# instant, a moment after the timeout was set: one second less where a
# second went by in between.  Counted up to the timeout it was set to
# (nf_conntrack's defaults), so that the two trackers' lines compare.
COUNTDOWN_SED=()
for t in 10 30 60 120 300 600 432000; do
	COUNTDOWN_SED+=(-e "s/^( *\\[(NEW|UPDATE)\\] +[a-z0-9]+ +[0-9]+ )$((t - 1)) /\\1$t /")
done

# The lines of one connection, the DESTROY's tail cut after its counters
# and flags: conntrack says who deleted it (portid=, progname=), xct how
# long it lasted (delta-time=), and its timeout is the one second when the
# two deletes ran.
lines_of() {
	grep "sport=$2 " "$1" | sed -E \
		-e 's/ (delta-time=[0-9]+|\[USERSPACE\]|portid=[0-9]+|progname=[^ ]+)//g' \
		-e 's/^(\[DESTROY\] [a-z0-9]+ +[0-9]+ )[0-9]+ /\1T /' "${COUNTDOWN_SED[@]}"
}

# tcp_echo NS ADDR-SPEC: a few bytes to the echo server and back.
tcp_echo() {
	local got
	got=$(echo "hello" | in_ns "$1" timeout 10 socat -t 2 - "$2") || return 1
	[ "$got" = "hello" ]
}

# The client port of the connection to PORT in conntrack's table.
client_port() {
	ct_r -L -p tcp --dport "$1" -f "$2" 2>/dev/null | grep -o 'sport=[0-9]*' | head -1 | cut -d= -f2
}

both_show() {
	grep "sport=$1 " "$XOUT" | grep -q "$2" && grep "sport=$1 " "$COUT" | grep -q "$2"
}


# shape_lines FILE PATTERN: the normalised lines of one connection.
shape_lines() {
	grep -E -- "$2" "$1" | sed -E \
		-e 's/ (delta-time=[0-9]+|\[USERSPACE\]|portid=[0-9]+|progname=[^ ]+)//g' \
		-e 's/^(\[DESTROY\] [a-z0-9]+ +[0-9]+ )[0-9]+ /\1T /' "${COUNTDOWN_SED[@]}"
}
# same_shape NAME PATTERN: xct's lines equal conntrack's, the last a
# DESTROY.
same_shape() {
	local x c
	x=$(shape_lines "$XOUT" "$2")
	c=$(shape_lines "$COUT" "$2")
	result "$1" "$([ -n "$c" ] && [ "$x" = "$c" ] && tail -1 <<<"$x" | grep -q '^\[DESTROY\]' && echo 0 || echo 1)" \
		"xct: $(echo "$x" | tr '\n' '|')" "conntrack: $(echo "$c" | tr '\n' '|')"
}
# destroyed PATTERN: both readers have shown the connection's DESTROY.
destroyed() {
	# A dump of nf_conntrack's table reaps the entries whose timeout has
	# passed (ctnetlink evicts them), so their DESTROY comes now rather
	# than at the collector's next sweep, up to a minute later.
	in_ns "$NS_R" conntrack -L >/dev/null 2>&1
	grep -E -- "$1" "$XOUT" | grep -q '^\[DESTROY\]' && grep -E -- "$1" "$COUT" | grep -q '^\[DESTROY\]'
}

ct_events_setup() {
	setup_topology || fail_setup "topology"
	enable_oracle || fail_setup "nf_conntrack oracle"
	mount_pin_fs || fail_setup "bpffs"
	xct_attach native || fail_setup "xct attach"
	WORK=$(mktemp -d /tmp/xct-ctev.XXXXXX) || fail_setup "work dir"
	trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
	in_ns "$NS_C" sysctl -qw net.ipv4.tcp_tw_reuse=1 || fail_setup "sysctl"
	ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat TCP6-LISTEN:$PORT,ipv6only=1,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat TCP4-LISTEN:$PORT_TW,reuseaddr,fork SYSTEM:'echo hi' </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	poll 5 sh -c "ip netns exec $NS_S ss -lnt | grep -q ':$PORT_TW '" || fail_setup "servers"
	flush_both
}
