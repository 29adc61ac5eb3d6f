#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Real traffic through the router, xct compared with nf_conntrack flow by
# flow.  For each ingress mode (XDP native, XDP generic, TC ingress): a TCP
# transfer echoed back by a socat server, a connection left open, UDP
# request/response and ping -c 3, over IPv4 and IPv6.  Real TCP is compared
# on state and flags only (GRO may merge segments before nf_conntrack sees
# them); UDP and ICMP on everything, pings also on exact counters (a
# forwarded flow is counted once).  Then traffic the router itself sends
# (ping, TCP) must be tracked by the egress program, reply seen.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

TCP_PORT=5001
UDP_PORT=5002
BLOB_SIZE=2000000
WORK=""

fail_setup() {
	echo "not ok real_traffic_setup ($*)"
	exit 1
}

# compare NAME [ct_compare options] -- LIST-ARGS...
compare() {
	local name=$1
	shift
	"$PYTHON" "$E2E_DIR/ct_compare.py" --router "$NS_R" --xct "$XCT" --pin-path "$XCT_PIN" \
		--name "$name" "$@"
}

start_servers() {
	# ip netns exec execs socat: $! is the server itself, for the cleanup.
	ip netns exec "$NS_S" socat TCP4-LISTEN:$TCP_PORT,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat TCP6-LISTEN:$TCP_PORT,ipv6only=1,reuseaddr,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat -T 1 UDP4-RECVFROM:$UDP_PORT,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	ip netns exec "$NS_S" socat -T 1 UDP6-RECVFROM:$UDP_PORT,ipv6only=1,fork EXEC:cat </dev/null >/dev/null 2>&1 &
	BG_PIDS+=($!)
	poll 5 listening tcp 4 && poll 5 listening tcp 6 &&
		poll 5 listening udp 4 && poll 5 listening udp 6
}

# listening tcp|udp 4|6: the server's socket is bound.
listening() {
	local opt=-lnt port=$TCP_PORT
	if [ "$1" = udp ]; then
		opt=-lnu
		port=$UDP_PORT
	fi
	in_ns "$NS_S" ss "$opt" -"$2" | grep -q ":$port "
}

# tcp_transfer NS ADDR-SPEC: the blob to the echo server and back.
tcp_transfer() {
	local out="$WORK/out.$RANDOM"
	in_ns "$1" timeout 20 socat -t 5 - "$2" <"$WORK/blob" >"$out" || return 1
	cmp -s "$WORK/blob" "$out"
}

udp_exchange() {
	local got
	got=$(echo "hello $2" | in_ns "$1" timeout 5 socat -T 2 - "$2") || return 1
	[ "$got" = "hello $2" ]
}

count_kernel() {
	ct_r -L "$@" 2>/dev/null | wc -l
}

# until_kernel N ARGS...: wait until conntrack -L ARGS shows N or more flows.
until_kernel() {
	local n=$1
	shift
	poll 5 test_count "$n" "$@"
}

test_count() {
	local n=$1
	shift
	[ "$(count_kernel "$@")" -ge "$n" ]
}

run_mode() {
	local mode=$1 live

	if [ "$XCT_ATTACHED" = 1 ]; then
		xct_detach >/dev/null || {
			result "real_detach_before_$mode" 1 "xct detach --all failed"
			return
		}
	fi
	if ! xct_attach "$mode" >/dev/null; then
		for t in tcp_ipv4 tcp_ipv6 udp_ipv4 udp_ipv6 ping_ipv4 ping_ipv6; do
			result "real_${t}_$mode" 1 "xct attach --mode $mode failed"
		done
		return
	fi
	flush_both

	# A connection that stays open: ESTABLISHED in both tables.
	ip netns exec "$NS_C" socat -u TCP4:$S4:$TCP_PORT - </dev/null >/dev/null 2>&1 &
	live=$!
	BG_PIDS+=("$live")

	tcp_transfer "$NS_C" "TCP4:$S4:$TCP_PORT"
	result "real_tcp_transfer_ipv4_$mode" $? "TCP transfer over IPv4 failed"
	tcp_transfer "$NS_C" "TCP6:[$S6]:$TCP_PORT"
	result "real_tcp_transfer_ipv6_$mode" $? "TCP transfer over IPv6 failed"
	udp_exchange "$NS_C" "UDP4:$S4:$UDP_PORT"
	result "real_udp_exchange_ipv4_$mode" $? "UDP request/response over IPv4 failed"
	udp_exchange "$NS_C" "UDP6:[$S6]:$UDP_PORT"
	result "real_udp_exchange_ipv6_$mode" $? "UDP request/response over IPv6 failed"
	in_ns "$NS_C" ping -c 3 -i 0.2 -W 2 -q "$S4" >/dev/null
	result "real_ping_ipv4_works_$mode" $? "ping over IPv4 failed"
	in_ns "$NS_C" ping -6 -c 3 -i 0.2 -W 2 -q "$S6" >/dev/null
	result "real_ping_ipv6_works_$mode" $? "ping over IPv6 failed"

	# The closed transfers reach TIME_WAIT, the open one is established.
	until_kernel 1 -p tcp -f ipv4 --state TIME_WAIT
	until_kernel 1 -p tcp -f ipv6 --state TIME_WAIT
	until_kernel 1 -p tcp -f ipv4 --state ESTABLISHED

	compare "real_tcp_ipv4_$mode" --min 2 --no-tcp-counters -- -p tcp -f ipv4
	compare "real_tcp_ipv6_$mode" --min 1 --no-tcp-counters -- -p tcp -f ipv6
	compare "real_udp_ipv4_$mode" -- -p udp -f ipv4
	compare "real_udp_ipv6_$mode" -- -p udp -f ipv6
	compare "real_ping_ipv4_$mode" --exact-counters 3,252,3,252 -- -p icmp -f ipv4
	compare "real_ping_ipv6_$mode" --exact-counters 3,312,3,312 -- -p icmpv6 -f ipv6
	if [ "$mode" = native ]; then
		compare ct_list_json --min 4 --no-tcp-counters --json -- -f ipv4
	fi

	kill "$live" 2>/dev/null
	wait "$live" 2>/dev/null
}

# Traffic the router sends itself: tracked by the egress program, the
# replies at ingress.
run_host_originated() {
	xct_detach >/dev/null 2>&1
	if ! xct_attach native >/dev/null; then
		for t in ping_ipv4 ping_ipv6 tcp_ipv4; do
			result "host_originated_$t" 1 "xct attach failed"
		done
		return
	fi
	flush_both

	in_ns "$NS_R" ping -c 2 -i 0.2 -W 2 -q "$S4" >/dev/null ||
		echo "# ping from the router over IPv4 failed"
	in_ns "$NS_R" ping -6 -c 2 -i 0.2 -W 2 -q "$S6" >/dev/null ||
		echo "# ping from the router over IPv6 failed"
	tcp_transfer "$NS_R" "TCP4:$S4:$TCP_PORT" ||
		echo "# TCP transfer from the router failed"
	until_kernel 1 -p tcp -f ipv4 --state TIME_WAIT

	# The reply must have been seen, not only the kernel agreeing.
	local replied
	replied=$(xct_r ct list -p icmp -s "$R4S" -d "$S4" 2>/dev/null | grep -v UNREPLIED | grep -c .)
	result host_originated_ping_ipv4_replied "$([ "$replied" -ge 1 ] && echo 0 || echo 1)" \
		"xct ct list has no replied ICMP entry $R4S -> $S4"
	compare host_originated_ping_ipv4 --exact-counters 2,168,2,168 -- -p icmp -f ipv4 -s "$R4S"
	compare host_originated_ping_ipv6 --exact-counters 2,208,2,208 -- -p icmpv6 -f ipv6 -s "$R6S"
	compare host_originated_tcp_ipv4 --no-tcp-counters -- -p tcp -f ipv4 -s "$R4S"
}

setup_topology || fail_setup "topology"
enable_oracle || fail_setup "nf_conntrack oracle"
mount_pin_fs || fail_setup "bpffs for xct pins"
have_xct || fail_setup "$XCT not built"
WORK=$(mktemp -d /tmp/xct-e2e-work.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
head -c "$BLOB_SIZE" /dev/urandom >"$WORK/blob" || fail_setup "test data"
start_servers || fail_setup "socat servers"

for mode in native generic tc; do
	run_mode "$mode"
done
run_host_originated
exit 0
