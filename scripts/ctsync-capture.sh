#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Captures conntrackd's sync messages (protocol version 1) between two real
# conntrackd in two network namespaces, for the golden vectors of
# tests/unit/test_ctsync.c.  Node A tracks a TCP connection to itself, a
# forwarded TCP connection, a masqueraded UDP flow and a ping; node B asks
# it for a resync.  The sync link is captured on B's side; the script
# prints each UDP payload as hex, one datagram a line, with its time.
#
# With CTSYNC_DROP=N, B drops every Nth datagram from A before its
# conntrackd reads it (the capture still shows it): B's FTFW NACKs the gap
# and A resends.
#
# Usage: [CTSYNC_DROP=N] scripts/ctsync-capture.sh [OUT.pcap]
set -euo pipefail

out=${1:-}
id="$$-$RANDOM"
tmp=$(mktemp -d /tmp/ctsync-cap.XXXXXX)
nsa="ctsa-$id" nsb="ctsb-$id" nsc="ctsc-$id" nsd="ctsd-$id"
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in "$nsa" "$nsb" "$nsc" "$nsd"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

for n in "$nsa" "$nsb" "$nsc" "$nsd"; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
# A and B: the sync link.  C - A - D: a client, the firewall, a server.
ip link add s0 netns "$nsa" type veth peer name s0 netns "$nsb"
ip link add lan0 netns "$nsa" type veth peer name eth0 netns "$nsc"
ip link add wan0 netns "$nsa" type veth peer name eth0 netns "$nsd"
ip -n "$nsa" addr add 10.10.9.1/24 dev s0
ip -n "$nsb" addr add 10.10.9.2/24 dev s0
ip -n "$nsa" addr add 10.10.1.1/24 dev lan0
ip -n "$nsc" addr add 10.10.1.10/24 dev eth0
ip -n "$nsa" addr add 10.10.2.1/24 dev wan0
ip -n "$nsd" addr add 10.10.2.20/24 dev eth0
for dev in "$nsa s0" "$nsb s0" "$nsa lan0" "$nsa wan0" "$nsc eth0" "$nsd eth0"; do
	set -- $dev
	ip -n "$1" link set "$2" up
done
ip -n "$nsc" route add default via 10.10.1.1
ip -n "$nsd" route add default via 10.10.2.1
ip netns exec "$nsa" sysctl -qw net.ipv4.ip_forward=1
# Conntrack in A (the rules hook it in), and masquerade for UDP to D.
ip netns exec "$nsa" nft -f - <<'EOF'
table ip cap {
	chain in { type filter hook input priority 0; ct state established accept; }
	chain post { type nat hook postrouting priority 100; oifname "wan0" meta l4proto udp masquerade; }
}
EOF

if [ -n "${CTSYNC_DROP:-}" ]; then
	ip netns exec "$nsb" nft -f - <<EOF
table ip lossy {
	chain input { type filter hook input priority 0; ip saddr 10.10.9.1 udp dport 3780 numgen inc mod $CTSYNC_DROP == 0 counter drop; }
}
EOF
fi

conf() { # node local peer
	cat <<EOF
Sync {
	Mode FTFW {
	}
	UDP {
		IPv4_address $2
		IPv4_Destination_Address $3
		Port 3780
		Interface s0
		Checksum on
	}
}
General {
	Systemd off
	HashSize 8192
	HashLimit 65536
	LogFile $tmp/$1.log
	LockFile $tmp/$1.lock
	UNIX {
		Path $tmp/$1.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Protocol Accept {
			TCP
			UDP
			ICMP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address 10.10.9.0/24
		}
	}
}
EOF
}
conf a 10.10.9.1 10.10.9.2 >"$tmp/a.conf"
conf b 10.10.9.2 10.10.9.1 >"$tmp/b.conf"

ip netns exec "$nsb" tcpdump -i s0 -U -w "$tmp/sync.pcap" udp port 3780 2>/dev/null &
pids+=($!)
ip netns exec "$nsa" conntrackd -C "$tmp/a.conf" &
pids+=($!)
ip netns exec "$nsb" conntrackd -C "$tmp/b.conf" &
pids+=($!)
sleep 2

# A local TCP connection to A, a forwarded one to D, UDP and ICMP.
ip netns exec "$nsa" socat TCP-LISTEN:7000,bind=10.10.1.1,fork,reuseaddr EXEC:cat &
pids+=($!)
ip netns exec "$nsd" socat TCP-LISTEN:7001,fork,reuseaddr EXEC:cat &
pids+=($!)
ip netns exec "$nsd" socat UDP-RECVFROM:5353,fork EXEC:cat &
pids+=($!)
sleep 1
(echo hello; sleep 4) | ip netns exec "$nsc" socat - TCP:10.10.1.1:7000,sourceport=36436 >/dev/null &
pids+=($!)
(echo hello; sleep 4) | ip netns exec "$nsc" socat - TCP:10.10.2.20:7001,sourceport=36437 >/dev/null &
pids+=($!)
echo ping | ip netns exec "$nsc" socat -T1 - UDP:10.10.2.20:5353,sourceport=40000 >/dev/null || true
ip netns exec "$nsc" ping -c1 -W1 10.10.2.20 >/dev/null
sleep 2
conntrackd -C "$tmp/b.conf" -n
sleep 2
ip netns exec "$nsb" conntrackd -C "$tmp/b.conf" -e || true
sleep 3

kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
[ -n "$out" ] && cp "$tmp/sync.pcap" "$out"
tshark -r "$tmp/sync.pcap" -T fields -e frame.time_relative -e ip.src -e udp.payload 2>/dev/null
