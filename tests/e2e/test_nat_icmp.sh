#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# ICMP errors through the NAT, sent by a router beyond it: path-MTU
# discovery and traceroute work through masquerade and dnat.
#
#   client (10.231.1.2) --+                      +-- 10.231.6.0/24, MTU 1000 --+
#                         +-- R (xct) -- M ------+                             +-- outside
#   server (10.231.2.2) --+   10.231.5.1  .5.2   +-- fd00:231:6::/64, MTU 1280 -+   10.231.6.2
#                                                                                   fd00:231:6::2
#
# R masquerades what leaves by veth-r-m and forwards one of its own ports
# (dnat, 7111 on both of its addresses there) to the inside server.  M is a plain Linux router that knows no
# inside network: whatever it sees of the inside comes from R's address
# (10.231.5.1, fd00:231:5::1), and its errors go there.  M's own side of
# each link towards the outside host has the small MTU (the outside host's
# side stays at 1500, so the MSS it advertises is large and a sender
# needs path-MTU discovery); the two families have a link each, as IPv6
# needs at least 1280.  M's ICMP rate limits are off, so that every error
# the test waits for is sent.
#
#   1. masquerade PMTU: the client uploads 2 MB over TCP (DF) to the
#      outside host; M answers fragmentation needed (Packet Too Big) to R,
#      which must bring it back to the client: its kernel caches mtu 1000
#      (1280) towards the outside host, and the upload arrives intact
#      within a bounded time; M's counters show it sent the errors to R.
#   2. traceroute through masquerade: a UDP datagram from the client with
#      TTL 2 expires at M, whose Time Exceeded must reach the client's
#      socket (IP_RECVERR: origin ICMP, type 11 / ICMPv6 type 3, offender
#      M's address), and `ping -t 2` reports it from M's address.
#   3. dnat PMTU, the other way: the outside host downloads 2 MB from R's
#      forwarded port, served by the inside server; M's error about R's
#      translated source must reach the inside server (its route cache
#      shows the mtu towards the outside host), and the download arrives
#      intact.
#   4. an error from the inside about a reply: the outside host answers a
#      datagram of the client's, the client closes its socket, the outside
#      host sends again; the client's port unreachable must leave R
#      translated, to reach the outside host's connected socket (its error
#      queue: ECONNREFUSED, from R's address).
# The checks run with xct in XDP (native) mode, then in TC mode, that
# round towards the outside host's second addresses (10.231.6.3,
# fd00:231:6::3), so that no mtu cached in the first round can pass for
# one found in the second.  In the TC round the hosts compute their own
# checksums (transmit checksum offload off: on veth a datagram otherwise
# carries a partial sum), so that checks 2 and 4 also find the quoted
# datagram whole in the error, with valid checksums after both rewrites.
# Each check, for each family and mode, prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_M="xct-m-$TAG"
NS_O="xct-o-$TAG"
R4M=10.231.5.1
M4R=10.231.5.2
M4O=10.231.6.1
O4=10.231.6.2
R6M=fd00:231:5::1
M6R=fd00:231:5::2
M6O=fd00:231:6::1
O6=fd00:231:6::2
O4B=10.231.6.3    # the outside host's second addresses,
O6B=fd00:231:6::3 # for the second round
MTU4=1000
MTU6=1280
P_UP=7101      # the outside host's upload sink
P_PROBE=7102   # nothing listens: the probes expire before they get there
P_PEER=7103    # the outside host's answering socket
P_DOWN=7111    # the inside server's download source, forwarded by R
P_TIMEOUT=10   # seconds a 2 MB transfer may take (a stalled one: never)
ERRQ="$E2E_DIR/icmp_errqueue.py"
WORK=""
DATA=""
DATA_SUM=""

nat_icmp_cleanup() {
	kill_in_ns "$NS_C" "$NS_S" "$NS_O"
	ip netns del "$NS_M" 2>/dev/null
	ip netns del "$NS_O" 2>/dev/null
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap nat_icmp_cleanup EXIT

fail_setup() {
	echo "not ok nat_icmp_setup ($*)"
	exit 1
}

# R's link to M, and M's two links to the outside host, one per family.
setup_outside() {
	local ns
	ip netns add "$NS_M" && ip netns add "$NS_O" || return 1
	ip link add veth-r-m netns "$NS_R" type veth peer name veth-m-r netns "$NS_M" &&
		ip link add veth-m-o4 netns "$NS_M" type veth peer name veth-o4 netns "$NS_O" &&
		ip link add veth-m-o6 netns "$NS_M" type veth peer name veth-o6 netns "$NS_O" || return 1
	for ns in "$NS_M" "$NS_O"; do
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
			net.ipv4.conf.all.send_redirects=0 || return 1
		in_ns "$ns" ip link set lo up || return 1
	done
	in_ns "$NS_M" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 || return 1
	in_ns "$NS_M" ip link set veth-m-o4 mtu "$MTU4" &&
		in_ns "$NS_M" ip link set veth-m-o6 mtu "$MTU6" || return 1

	in_ns "$NS_R" ip addr add "$R4M/24" dev veth-r-m &&
		in_ns "$NS_R" ip addr add "$R6M/64" dev veth-r-m nodad &&
		in_ns "$NS_M" ip addr add "$M4R/24" dev veth-m-r &&
		in_ns "$NS_M" ip addr add "$M6R/64" dev veth-m-r nodad &&
		in_ns "$NS_M" ip addr add "$M4O/24" dev veth-m-o4 &&
		in_ns "$NS_M" ip addr add "$M6O/64" dev veth-m-o6 nodad &&
		in_ns "$NS_O" ip addr add "$O4/24" dev veth-o4 &&
		in_ns "$NS_O" ip addr add "$O6/64" dev veth-o6 nodad &&
		in_ns "$NS_O" ip addr add "$O4B/24" dev veth-o4 &&
		in_ns "$NS_O" ip addr add "$O6B/64" dev veth-o6 nodad || return 1
	in_ns "$NS_R" ip link set veth-r-m up &&
		in_ns "$NS_M" ip link set veth-m-r up &&
		in_ns "$NS_M" ip link set veth-m-o4 up &&
		in_ns "$NS_M" ip link set veth-m-o6 up &&
		in_ns "$NS_O" ip link set veth-o4 up &&
		in_ns "$NS_O" ip link set veth-o6 up || return 1
	# R and the outside host route by M, which has no route towards the
	# inside: only what R translated can be answered.
	in_ns "$NS_R" ip route add default via "$M4R" &&
		in_ns "$NS_R" ip -6 route add default via "$M6R" &&
		in_ns "$NS_O" ip route add default via "$M4O" &&
		in_ns "$NS_O" ip -6 route add default via "$M6O" || return 1
	for ns in "$NS_M" "$NS_O"; do
		poll 5 no_tentative "$ns" || return 1
	done
	poll 10 in_ns "$NS_R" ping -c 1 -W 1 "$O4" &&
		poll 10 in_ns "$NS_R" ping -6 -c 1 -W 1 "$O6"
}

# M counts the errors it sends to R's address, by kind (nft counters at
# output, where the errors it generates pass; no conntrack is loaded).
count_m_errors() {
	in_ns "$NS_M" nft -f - <<-EOF
		table inet xctsent {
			counter frag_needed {}
			counter too_big {}
			counter time_exceeded4 {}
			counter time_exceeded6 {}
			chain out {
				type filter hook output priority 0; policy accept;
				ip daddr $R4M icmp type destination-unreachable icmp code frag-needed counter name "frag_needed"
				ip6 daddr $R6M icmpv6 type packet-too-big counter name "too_big"
				ip daddr $R4M icmp type time-exceeded counter name "time_exceeded4"
				ip6 daddr $R6M icmpv6 type time-exceeded counter name "time_exceeded6"
			}
		}
	EOF
}

# m_sent NAME: how many errors of that kind M has sent to R.
m_sent() {
	in_ns "$NS_M" nft list counter inet xctsent "$1" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# tx_csum_off NS IFACE...: the kernel in NS computes the checksums of what
# it sends by these interfaces itself (ETHTOOL_STXCSUM, as `ethtool -K
# IFACE tx off`), instead of leaving a partial sum for the device.
tx_csum_off() {
	local ns=$1
	shift
	in_ns "$ns" "$PYTHON" -c '
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17
for name in sys.argv[1:]:
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifreq = struct.pack("16sP", name.encode(), ctypes.addressof(value)).ljust(40, b"\0")
    fcntl.ioctl(socket.socket(), SIOCETHTOOL, ifreq)
' "$@"
}

# route_mtu NS DST: the mtu NS's kernel has cached towards DST, if any.
route_mtu() {
	in_ns "$1" ip route get "$2" 2>/dev/null | grep -o ' mtu [0-9]*' | awk '{print $2}'
}

# transfer_outcome: what the sink of a 2 MB TCP stream wrote to
# $WORK/got: "intact", "short N bytes" or "corrupt".
transfer_outcome() {
	local n
	[ -e "$WORK/got" ] || {
		echo "nothing received"
		return
	}
	n=$(stat -c %s "$WORK/got")
	if [ "$(sha256sum <"$WORK/got" | cut -d' ' -f1)" = "$DATA_SUM" ]; then
		echo intact
	elif [ "$n" -lt "$(stat -c %s "$DATA")" ]; then
		echo "short $n bytes"
	else
		echo corrupt
	fi
}

# Checks ---------------------------------------------------------------

# pmtu_transfer NAME FAM CACHE_NS PORT LISTENER_NS FROM TO CONNECTOR_NS FROM TO:
# 2 MB through socat -u between a listener on PORT and a connector (each
# given socat's two addresses), which needs M's errors to come back through
# the NAT: it must arrive intact within P_TIMEOUT, CACHE_NS (the sender)
# must have cached the small mtu towards the outside host, and M must have
# sent the errors.
pmtu_transfer() {
	local name=$1 fam=$2 cache_ns=$3 port=$4 dst mtu counter before after pid rc got cached
	shift 4
	if [ "$fam" = 4 ]; then
		dst=$OUT4 mtu=$MTU4 counter=frag_needed
	else
		dst=$OUT6 mtu=$MTU6 counter=too_big
	fi
	rm -f "$WORK/got"
	before=$(m_sent "$counter")
	ip netns exec "$1" timeout $((P_TIMEOUT + 2)) socat -u "$2" "$3" 2>/dev/null &
	pid=$!
	BG_PIDS+=("$pid")
	poll 5 listening "$1" tcp "$port"
	in_ns "$4" timeout "$P_TIMEOUT" socat -u "$5" "$6" 2>/dev/null
	rc=$?
	wait "$pid"
	after=$(m_sent "$counter")
	got=$(transfer_outcome)
	cached=$(route_mtu "$cache_ns" "$dst")
	[ "$rc" = 0 ] && [ "$got" = intact ] && [ "$cached" = "$mtu" ] &&
		[ "${after:-0}" -gt "${before:-0}" ]
	result "$name" $? \
		"transfer exit $rc, $got; mtu to $dst '${cached}', want $mtu; M $counter ${before:-?} -> ${after:-?}"
}

# check_masq_pmtu FAMILY: the client's upload to the outside host needs
# M's errors to come back through the NAT.
check_masq_pmtu() {
	local fam=$1 dst
	if [ "$fam" = 4 ]; then
		dst=$OUT4
		set -- "TCP4-LISTEN:$P_UP,bind=$dst,reuseaddr" "TCP4:$dst:$P_UP"
	else
		dst=$OUT6
		set -- "TCP6-LISTEN:$P_UP,bind=[$dst],reuseaddr" "TCP6:[$dst]:$P_UP"
	fi
	pmtu_transfer "nat_icmp_masq_pmtu_v${fam}_$MODE" "$fam" "$NS_C" "$P_UP" \
		"$NS_O" "$1" "CREATE:$WORK/got" "$NS_C" "FILE:$DATA" "$2"
}

# check_masq_ttl FAMILY: a datagram that expires at M, and a ping that does.
check_masq_ttl() {
	local fam=$1 dst want before after counter out
	if [ "$fam" = 4 ]; then
		dst=$OUT4 counter=time_exceeded4
		want="errno=113 origin=2 type=11 code=0 offender=$M4R"
	else
		dst=$OUT6 counter=time_exceeded6
		want="errno=113 origin=3 type=3 code=0 offender=$M6R"
	fi
	want="$want$QUOTE_OK"
	before=$(m_sent "$counter")
	out=$(in_ns "$NS_C" "$PYTHON" "$ERRQ" $QUOTE probe "$dst" "$P_PROBE" 2 3 2>&1)
	after=$(m_sent "$counter")
	[ "$out" = "$want" ] && [ "${after:-0}" -gt "${before:-0}" ]
	result "nat_icmp_masq_time_exceeded_v${fam}_$MODE" $? \
		"client's error queue '$out', want '$want'; M $counter ${before:-?} -> ${after:-?}"
	out=$(in_ns "$NS_C" ping -"$fam" -c 1 -t 2 -W 3 "$dst" 2>&1)
	if [ "$fam" = 4 ]; then
		echo "$out" | grep -q "^From $M4R icmp_seq=1 Time to live exceeded"
	else
		echo "$out" | grep -q "^From $M6R icmp_seq=1 Time exceeded: Hop limit"
	fi
	result "nat_icmp_masq_ping_ttl_v${fam}_$MODE" $? "$out"
}

# check_dnat_pmtu FAMILY: the outside host's download from R's forwarded
# port needs M's errors to reach the inside server.
check_dnat_pmtu() {
	local fam=$1 dst
	if [ "$fam" = 4 ]; then
		dst=$OUT4
		set -- "TCP4-LISTEN:$P_DOWN,reuseaddr" "TCP4:$R4M:$P_DOWN,bind=$dst"
	else
		dst=$OUT6
		set -- "TCP6-LISTEN:$P_DOWN,reuseaddr" "TCP6:[$R6M]:$P_DOWN,bind=[$dst]"
	fi
	pmtu_transfer "nat_icmp_dnat_pmtu_v${fam}_$MODE" "$fam" "$NS_S" "$P_DOWN" \
		"$NS_S" "FILE:$DATA" "$1" "$NS_O" "$2" "CREATE:$WORK/got"
}

# check_reply_refused FAMILY: the client's port unreachable about the
# outside host's datagram leaves through the NAT to the outside socket.
check_reply_refused() {
	local fam=$1 dst want pid out answer
	if [ "$fam" = 4 ]; then
		dst=$OUT4
		want="errno=111 origin=2 type=3 code=3 offender=$R4M"
	else
		dst=$OUT6
		want="errno=111 origin=3 type=1 code=4 offender=$R6M"
	fi
	want="$want$QUOTE_OK"
	rm -f "$WORK/closed" "$WORK/peer"
	ip netns exec "$NS_O" "$PYTHON" "$ERRQ" $QUOTE peer "$dst" "$P_PEER" "$WORK/closed" 5 \
		>"$WORK/peer" 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	poll 5 listening "$NS_O" udp "$P_PEER"
	answer=$(in_ns "$NS_C" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.bind(("", int(sys.argv[3])))
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"hello\n")
try:
    print(s.recv(100).decode().strip())
except socket.timeout:
    print("no answer")
s.close()
' "$dst" "$P_PEER" $((46100 + fam)) 2>&1)
	touch "$WORK/closed"
	wait "$pid"
	out=$(cat "$WORK/peer")
	[ "$answer" = answer ] && [ "$out" = "$want" ]
	result "nat_icmp_reply_refused_v${fam}_$MODE" $? \
		"client got '$answer'; outside error queue '$out', want '$want'"
}

# Main -----------------------------------------------------------------

setup_topology || fail_setup topology
setup_outside || fail_setup "outside links"
mount_pin_fs || fail_setup bpffs
WORK=$(mktemp -d /tmp/xct-nat-icmp.XXXXXX) || fail_setup workdir
DATA="$WORK/data"
head -c 2000000 /dev/urandom >"$DATA" || fail_setup data
DATA_SUM=$(sha256sum <"$DATA" | cut -d' ' -f1)
count_m_errors || fail_setup "counters on M"
cat >"$WORK/nat.xct" <<EOF
masquerade oif veth-r-m
dnat to $S4 iif veth-r-m ip daddr $R4M tcp dport $P_DOWN
dnat to $S6 iif veth-r-m ip6 daddr $R6M tcp dport $P_DOWN
EOF

# The checks, with xct in XDP (native) mode and then in TC mode, each
# round towards its own outside addresses.
OUT4="" OUT6="" MODE="" QUOTE="" QUOTE_OK=""
for MODE in native tc; do
	if [ "$MODE" = native ]; then
		OUT4=$O4 OUT6=$O6
	else
		OUT4=$O4B OUT6=$O6B QUOTE=--quote QUOTE_OK=" quote=ok"
		if ! tx_csum_off "$NS_C" veth-c || ! tx_csum_off "$NS_S" veth-s ||
			! tx_csum_off "$NS_O" veth-o4 veth-o6; then
			fail_setup "checksum offload"
		fi
	fi
	xct_attach "$MODE" veth-r-m >/dev/null || fail_setup "attach $MODE"
	xct_r rules load "$WORK/nat.xct" >/dev/null || fail_setup "rules load"
	for fam in 4 6; do
		check_masq_pmtu "$fam"
		check_masq_ttl "$fam"
		check_dnat_pmtu "$fam"
		check_reply_refused "$fam"
	done
	xct_detach || fail_setup detach
done
