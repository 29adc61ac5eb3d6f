# SPDX-License-Identifier: GPL-2.0-only
# Shared set-up for the end-to-end tests, sourced by every test_*.sh.
#
# Topology, three network namespaces with names unique to this run:
#
#   client (veth-c) ---- (veth-r-c) router (veth-r-s) ---- (veth-s) server
#   10.231.1.2/24         10.231.1.1/24   10.231.2.1/24      10.231.2.2/24
#   fd00:231:1::2/64      fd00:231:1::1   fd00:231:2::1      fd00:231:2::2/64
#
# The router forwards; the kernel's nf_conntrack runs there as the oracle
# (one nft rule with a ct expression) and xct is attached to its two
# interfaces, so both trackers see the same packets.  xct's maps are pinned
# on a private bpffs in the host mount namespace, outside /sys, because
# `ip netns exec` remounts /sys.  Everything is removed on exit, on failure
# too.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
XCT=${XCT:-$REPO_DIR/build/xct}
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1

# A test may set NS_PREFIX before sourcing, to tell its namespaces apart.
TAG="${NS_PREFIX:+$NS_PREFIX-}$$-$RANDOM"
NS_C="xct-c-$TAG"
NS_R="xct-r-$TAG"
NS_S="xct-s-$TAG"

C4=10.231.1.2
R4C=10.231.1.1
R4S=10.231.2.1
S4=10.231.2.2
C6=fd00:231:1::2
R6C=fd00:231:1::1
R6S=fd00:231:2::1
S6=fd00:231:2::2

PIN_ROOT=""
XCT_PIN=""
XCT_ATTACHED=0
BG_PIDS=()

log() { echo "# $*"; }

# result NAME STATUS [WHY...]: one TAP-style line, "ok NAME" when STATUS is 0.
result() {
	local name=$1 ok=$2
	shift 2
	if [ "$ok" = 0 ]; then
		echo "ok $name"
	else
		echo "not ok $name"
		[ $# -gt 0 ] && echo "#   $*"
	fi
}

# tuples_to ADDR: "PROTO ORIG-TUPLE -> REPLY-TUPLE", sorted, one line per
# IPv4 connection to ADDR in the conntrack -L or xct ct list lines on stdin
# (the NAT tests compare the two trackers' tuples with it).
tuples_to() {
	"$PYTHON" -c '
import sys
addr = sys.argv[1]
for line in sys.stdin:
    toks = line.split()
    if len(toks) < 3 or toks[0] not in ("tcp", "udp", "icmp"):
        continue
    seen, tup = [], {}
    for t in toks:
        if "=" not in t:
            continue
        k, v = t.split("=", 1)
        if k not in ("src", "dst", "sport", "dport", "type", "code", "id"):
            continue
        if k == "src" and tup:
            seen.append(tup)
            tup = {}
        tup[k] = v
    seen.append(tup)
    if len(seen) < 2 or seen[0].get("dst") != addr:
        continue
    f = lambda d: " ".join("%s=%s" % (k, d[k]) for k in ("src", "dst", "sport", "dport", "type", "code", "id") if k in d)
    print("%s %s -> %s" % (toks[0], f(seen[0]), f(seen[1])))
' "$1" | sort
}

# has_tuples NAME ADDR LINES WANT...: one result, ok when every WANT line
# ("PROTO ORIG -> REPLY", as tuples_to prints) is among LINES' connections
# to ADDR (ct list or conntrack -L output).
has_tuples() {
	local name=$1 addr=$2 lines=$3 got want ok=0
	shift 3
	got=$(echo "$lines" | tuples_to "$addr")
	for want in "$@"; do
		grep -qxF "$want" <<<"$got" || {
			ok=1
			echo "# missing: $want"
		}
	done
	result "$name" "$ok" "$(echo "$lines" | head -5)"
}

# same_tuples NAME COUNT XCT OTHER [WHAT]: one result, ok when xct's
# tuples (one per line, as tuples_to prints) are COUNT lines and equal the
# other tracker's (WHAT names it, "nf_nat" if not given).
same_tuples() {
	[ "$(echo "$3" | wc -l)" = "$2" ] && [ "$3" = "$4" ]
	result "$1" $? "xct:
$3
${5:-nf_nat}:
$4"
}

# udp_refused NS ADDR PORT SPORT: a datagram from a socket in NS bound to
# SPORT and connected to ADDR:PORT gets ECONNREFUSED, i.e. the port
# unreachable answering it reached that socket (exit 0; 1: no answer).
udp_refused() {
	in_ns "$1" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[3])))
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"x")
try:
    s.recv(100)
except ConnectionRefusedError:
    sys.exit(0)
except socket.timeout:
    sys.exit(1)
sys.exit(2)
' "$2" "$3" "$4"
}

# check NAME STATUS [WHY...]: result, counting a failure in $failures.
failures=0
check() {
	result "$@"
	[ "$2" = 0 ] || failures=$((failures + 1))
}

# expect NAME STATUS PATTERN CMD...: exit status and a stdout+stderr pattern.
expect() {
	local name=$1 want=$2 pattern=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"
	check "$name" $? "$*: exit $rc (want $want), output: $(tr '\n' '|' <<<"$out")"
}

# hold_tcp DIR ADDR PORT [WAIT]: a TCP connection from the client namespace
# to ADDR:PORT (an echo server), held open: each line written to
# DIR/hold.in is sent, and its echo (or "no answer" after WAIT seconds,
# default 20) written to DIR/hold.out.
# The FIFO stays open on fd 7, so the client never reads an end of file.
hold_tcp() {
	mkfifo "$1/hold.in" || return 1
	ip netns exec "$NS_C" "$PYTHON" -u -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.settimeout(float(sys.argv[4]))
f = s.makefile("rwb", buffering=0)
for line in open(sys.argv[3], "rb", buffering=0):
    f.write(line)
    try:
        sys.stdout.buffer.write(f.readline())
    except socket.timeout:
        sys.stdout.buffer.write(b"no answer\n")
' "$2" "$3" "$1/hold.in" "${4:-20}" >"$1/hold.out" 2>"$1/hold.err" &
	BG_PIDS+=($!)
	exec 7<>"$1/hold.in"
}

# held_send DIR WORD: WORD through the held connection, echoed back.
held_send() {
	echo "$2" >"$1/hold.in"
	poll 10 grep -qx "$2" "$1/hold.out"
}

# Run in a namespace: in_ns NS cmd...
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

xct_r() { ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" "$@"; }
ct_r() { ip netns exec "$NS_R" conntrack "$@"; }

# poll TIMEOUT_S cmd...: run cmd every 50 ms until it succeeds or time runs out.
poll() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

e2e_cleanup() {
	local pid ns
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	if [ "$XCT_ATTACHED" = 1 ] && [ -x "$XCT" ]; then
		xct_r detach --all >/dev/null 2>&1
	fi
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$PIN_ROOT" ]; then
		umount "$PIN_ROOT" 2>/dev/null
		rm -rf "$PIN_ROOT"
	fi
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# Builds the three namespaces and waits until both families pass end to end.
setup_topology() {
	ip netns add "$NS_C" && ip netns add "$NS_R" && ip netns add "$NS_S" || return 1

	ip link add veth-c netns "$NS_C" type veth peer name veth-r-c netns "$NS_R" || return 1
	ip link add veth-s netns "$NS_S" type veth peer name veth-r-s netns "$NS_R" || return 1

	local ns
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 || return 1
		in_ns "$ns" ip link set lo up || return 1
	done
	in_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 || return 1

	in_ns "$NS_C" ip addr add "$C4/24" dev veth-c &&
		in_ns "$NS_C" ip addr add "$C6/64" dev veth-c nodad &&
		in_ns "$NS_R" ip addr add "$R4C/24" dev veth-r-c &&
		in_ns "$NS_R" ip addr add "$R6C/64" dev veth-r-c nodad &&
		in_ns "$NS_R" ip addr add "$R4S/24" dev veth-r-s &&
		in_ns "$NS_R" ip addr add "$R6S/64" dev veth-r-s nodad &&
		in_ns "$NS_S" ip addr add "$S4/24" dev veth-s &&
		in_ns "$NS_S" ip addr add "$S6/64" dev veth-s nodad || return 1
	for ns in "$NS_R" "$NS_C" "$NS_S"; do
		in_ns "$ns" sysctl -qw net.ipv4.conf.all.send_redirects=0 || return 1
	done

	in_ns "$NS_C" ip link set veth-c up &&
		in_ns "$NS_R" ip link set veth-r-c up &&
		in_ns "$NS_R" ip link set veth-r-s up &&
		in_ns "$NS_S" ip link set veth-s up || return 1

	in_ns "$NS_C" ip route add default via "$R4C" &&
		in_ns "$NS_C" ip -6 route add default via "$R6C" &&
		in_ns "$NS_S" ip route add default via "$R4S" &&
		in_ns "$NS_S" ip -6 route add default via "$R6S" || return 1

	# Addresses usable (no tentative ones left), then traffic passes.
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		poll 5 no_tentative "$ns" || return 1
	done
	poll 10 in_ns "$NS_C" ping -c 1 -W 1 "$S4" || return 1
	poll 10 in_ns "$NS_C" ping -6 -c 1 -W 1 "$S6" || return 1
	poll 10 in_ns "$NS_R" ping -c 1 -W 1 "$C4" || return 1
	poll 10 in_ns "$NS_R" ping -6 -c 1 -W 1 "$C6" || return 1
}

no_tentative() {
	[ -z "$(in_ns "$1" ip -6 addr show tentative)" ]
}

# nf_conntrack in the router: a ct expression at prerouting (forwarded and
# incoming packets) and at output (packets the router sends itself) loads
# tracking for the namespace; the counters show how the kernel classified
# what it saw.
enable_oracle() {
	in_ns "$NS_R" sysctl -qw net.netfilter.nf_conntrack_acct=1 || return 1
	in_ns "$NS_R" nft -f - <<-'EOF' || return 1
		table inet xctoracle {
			chain pre {
				type filter hook prerouting priority -150; policy accept;
				ct state new counter
				ct state invalid counter
				ct state related counter
			}
			chain out {
				type filter hook output priority -150; policy accept;
				ct state new counter
			}
		}
	EOF
	# Only the nft rule loads conntrack: the sysctl exists from then on.
	in_ns "$NS_R" sysctl -qw net.netfilter.nf_conntrack_acct=1 || return 1
}

# Client and server stay silent for crafted traffic: their input drops the
# test protocols before any socket (or the TCP stack's RST, or an ICMP
# error) can answer.  Neighbour discovery stays open.  No ct expression, so
# conntrack stays off in these namespaces.
silence_endpoints() {
	local ns
	for ns in "$NS_C" "$NS_S"; do
		in_ns "$ns" nft -f - <<-'EOF' || return 1
			table inet xctsilent {
				chain in {
					type filter hook input priority 0; policy accept;
					meta l4proto { tcp, udp, icmp } drop
					icmpv6 type { echo-request, echo-reply, destination-unreachable, packet-too-big, time-exceeded, parameter-problem } drop
				}
			}
		EOF
	done
}

# kill_in_ns NS...: every process left in the namespaces (listeners'
# forked children, held connections).
kill_in_ns() {
	local ns
	for ns in "$@"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	done
}

# peer_echo_tcp NS LISTEN [ANSWER]: a TCP listener in NS (LISTEN: socat's
# TCP-LISTEN:PORT or TCP6-LISTEN:PORT) that answers every connection with
# the peer it accepted, "ADDR PORT", then runs ANSWER (a shell command) on
# the connection.
peer_echo_tcp() {
	ip netns exec "$1" socat "$2,fork,reuseaddr" \
		SYSTEM:"echo \"\$SOCAT_PEERADDR \$SOCAT_PEERPORT\"${3:+; $3}" 2>/dev/null &
	BG_PIDS+=($!)
}

# peer_echo_udp NS PORT: one UDP socket in NS that answers every datagram
# with its sender, "ADDR PORT" (one socket: socat's forked UDP children
# share theirs and may swallow a datagram meant for the next one).
peer_echo_udp() {
	ip netns exec "$1" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(("%s %d\n" % peer).encode(), peer)
' "$2" 2>/dev/null &
	BG_PIDS+=($!)
}

# tcp_peer_of NS ADDR:PORT SPORT: what a peer_echo_tcp server saw of a
# connection from NS with source port SPORT ("ADDR PORT"); the socket is
# connected to ADDR:PORT and takes answers from there only.
tcp_peer_of() {
	in_ns "$1" socat -T 3 - "TCP:$2,sourceport=$3,reuseaddr,connect-timeout=3" \
		</dev/null 2>/dev/null
}

# udp_peer_of NS ADDR:PORT SPORT: the same for a peer_echo_udp server; the
# answer is waited for up to 5 s.
udp_peer_of() {
	echo x | in_ns "$1" socat -T 5 - "UDP:$2,sourceport=$3" 2>/dev/null
}

# listening NS tcp|udp PORT: something in NS listens on PORT.
listening() {
	in_ns "$1" ss -ln --"$2" | grep -q ":$3 "
}

# A bpffs of our own, outside /sys, for xct's pins.
mount_pin_fs() {
	PIN_ROOT=$(mktemp -d /tmp/xct-e2e.XXXXXX) || return 1
	mount -t bpf bpf "$PIN_ROOT" || return 1
	XCT_PIN="$PIN_ROOT/xct"
}

have_xct() {
	[ -x "$XCT" ]
}

# xct_attach [MODE [IFACE...]]: attach on the router's two interfaces and
# any more given (one load of the programs for all of them).
xct_attach() {
	local mode=${1:-native}
	[ $# -gt 0 ] && shift
	have_xct || return 1
	xct_r attach --mode "$mode" veth-r-c veth-r-s "$@" || return 1
	XCT_ATTACHED=1
}

xct_detach() {
	xct_r detach --all || return 1
	XCT_ATTACHED=0
}

flush_both() {
	ct_r -F >/dev/null 2>&1
	ct_r -F -f ipv6 >/dev/null 2>&1
	if [ "$XCT_ATTACHED" = 1 ]; then
		xct_r ct flush >/dev/null 2>&1
	fi
	return 0
}

# The counter NAME of the router's xct summed over the CPUs (ct stats -j).
stat_total() {
	xct_r -j ct stats | "$PYTHON" -c "import json,sys; print(sum(c['$1'] for c in json.load(sys.stdin)['cpus']))"
}

# flood_new_flows DIR N: N new UDP flows from the client through the router
# (trafgen, one 64-byte packet each, source ports from 30000), then waits
# until the router's table holds N entries.  DIR keeps trafgen's config.
flood_new_flows() {
	local dir=$1 n=$2 rmac cmac
	rmac=$(in_ns "$NS_R" cat /sys/class/net/veth-r-c/address)
	cmac=$(in_ns "$NS_C" cat /sys/class/net/veth-c/address)
	cat >"$dir/flood.cfg" <<-EOF
		{ eth(da=$rmac, sa=$cmac), ipv4(saddr=$C4, daddr=$S4, ttl=64), udp(sport=dinc(30000, $((30000 + n - 1))), dport=9), fill(0x00, 18) }
	EOF
	in_ns "$NS_C" trafgen -o veth-c -c "$dir/flood.cfg" -n "$n" -P 1 --no-sock-mem -Q \
		-b 200000pps >/dev/null 2>&1 || return 1
	poll 10 sh -c "[ \$(ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct count) -ge $n ]"
}

# usage_exits_2 NAME CMD ARGS...: one result, ok when CMD exits 2 for each
# ARGS (a string of words).
usage_exits_2() {
	local name=$1 cmd=$2 args rc bad=0
	shift 2
	for args in "$@"; do
		# shellcheck disable=SC2086
		"$cmd" $args >/dev/null 2>&1
		rc=$?
		if [ "$rc" != 2 ]; then
			bad=1
			echo "#   '$cmd $args' exited $rc"
		fi
	done
	result "$name" $bad
}

# The connection-events reader's subscription slot (XCT_SUB_CT_EVENTS).
subs_slot() {
	bpftool -j map lookup pinned "$XCT_PIN/xct_subs" key 1 0 0 0 2>/dev/null
}

# start_reader OUT ERR [xct ct events args]: xct ct events in the router,
# in the background, until it has subscribed (its slot changed).
start_reader() {
	local out=$1 err=$2
	shift 2
	SLOT_BEFORE=$(subs_slot)
	# ip netns exec execs: $! is the reader itself, for its signals.
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" ct events "$@" >"$out" 2>"$err" &
	EV_PID=$!
	BG_PIDS+=("$EV_PID")
	poll 10 subscribed
}

subscribed() {
	[ "$(subs_slot)" != "$SLOT_BEFORE" ]
}

# start_xctd SOCKET LOG [XCTD-ARGS]: xctd for the router's xct, in the
# router namespace and the foreground, logging to LOG, until it listens on
# SOCKET; its pid in XCTD_PID.
XCTD=${XCTD:-$REPO_DIR/build/xctd}
XCTD_PID=""
start_xctd() {
	local sock=$1 log=$2
	shift 2
	: >"$log"
	ip netns exec "$NS_R" "$XCTD" --foreground --pin-path "$XCT_PIN" --socket "$sock" "$@" \
		2>>"$log" &
	XCTD_PID=$!
	BG_PIDS+=("$XCTD_PID")
	poll 10 grep -q "listening on $sock" "$log"
}

# stop_reader PID: SIGINT, as Ctrl-C, and wait for it to end.
stop_reader() {
	kill -INT "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
