#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fragmented UDP through a router with xct under `policy drop` and one
# accepted port: the client's stack fragments each datagram (the link MTU
# is 1500), the router forwards the fragments as they are (nothing there
# reassembles), and the server must get every datagram whole.  xct decides
# a datagram by its first fragment, tracked by its transport header without
# the length check only the whole datagram can pass, and lets the later
# fragments follow it.  The server answers each datagram with its length
# and SHA-256, so the client checks what arrived byte for byte.
set -u
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

PORT=7100

fail_setup() {
	echo "not ok udp_fragments_setup ($1)"
	exit 1
}

# start_server PORT: one socket per family in the server namespace; each
# datagram is answered with "LENGTH SHA256".
start_server() {
	ip netns exec "$NS_S" "$PYTHON" -c '
import hashlib, socket, sys, threading
def serve(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, int(sys.argv[1])))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(("%d %s" % (len(data), hashlib.sha256(data).hexdigest())).encode(), peer)
t = threading.Thread(target=serve, args=(socket.AF_INET6, "::"), daemon=True)
t.start()
serve(socket.AF_INET, "0.0.0.0")
' "$1" 2>/dev/null &
	BG_PIDS+=($!)
}

# send_datagram ADDR SIZE PORT: sends SIZE random bytes from the client, prints
# "ok" when the answer has their length and hash, else what went wrong.
send_datagram() {
	in_ns "$NS_C" "$PYTHON" -c '
import hashlib, os, socket, sys
addr, size = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.settimeout(1.0)
data = os.urandom(size)
want = "%d %s" % (size, hashlib.sha256(data).hexdigest())
for attempt in range(3):
    s.sendto(data, (addr, int(sys.argv[3])))
    try:
        got = s.recv(200).decode()
    except socket.timeout:
        continue
    print("ok" if got == want else "wrong answer: %s" % got)
    sys.exit(0)
print("no answer")
' "$1" "$2" "$3"
}

setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs for xct pins"
have_xct || fail_setup "$XCT not built"
start_server "$PORT"
start_server "$((PORT + 1))"
poll 5 listening "$NS_S" udp "$PORT" || fail_setup "server"
poll 5 listening "$NS_S" udp "$((PORT + 1))" || fail_setup "second server"
WORK=$(mktemp -d /tmp/xct-e2e-frag.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
printf 'policy drop\naccept ct state established,related\naccept udp dport %s\n' "$PORT" \
	>"$WORK/rules.xct"

for mode in native tc; do
	xct_attach "$mode" >/dev/null || fail_setup "xct attach $mode"
	out=$(xct_r rules load "$WORK/rules.xct" 2>&1) || fail_setup "rules load: $out"
	for spec in "$S4 1473" "$S4 3000" "$S4 8000" "$S6 1453" "$S6 3000" "$S6 8000"; do
		read -r addr size <<<"$spec"
		fam=ipv4
		[[ $addr == *:* ]] && fam=ipv6
		got=$(send_datagram "$addr" "$size" "$PORT")
		[ "$got" = ok ]
		result "udp_fragments_${mode}_${fam}_${size}" $? "$got"
	done
	# The later fragments went with their accepted first ones.
	n=$(xct_r ct stats --reasons 2>/dev/null | awk '$1 == "fragment" {print $2}')
	[ "${n:-0}" -ge 6 ]
	result "udp_fragments_${mode}_later_fragments_counted" $? "fragment count '${n:-none}'"
	# A port no rule accepts stays closed to a fragmented datagram (its
	# server would answer).
	got=$(send_datagram "$S4" 3000 "$((PORT + 1))")
	[ "$got" = "no answer" ]
	result "udp_fragments_${mode}_other_port_dropped" $? "$got"
	xct_detach >/dev/null 2>&1
done
exit 0
