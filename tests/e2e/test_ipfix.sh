#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct export ipfix against nfdump's collector.  nfcapd listens on
# 127.0.0.1 in the router of lib.sh, where xct runs with NAT rules and
# exports to it; real connections go through the router:
#
#   plain      TCP and UDP over IPv4, TCP and ping over IPv6;
#   masquerade TCP, UDP and ping over IPv4, TCP over IPv6 (oif veth-r-s);
#   dnat       TCP to the server's port 7301, forwarded to its port 7101.
#
# The connections end (TCP closed first), their entries are listed with
# `xct -j ct list` (the values their DESTROY events carry) and flushed;
# the exporter ends after the records they make (9 flows, a NAT create and
# a NAT delete for each of the 5 translated ones).  nfcapd is stopped so
# it writes its file, and `nfdump -o raw` must show every connection
# with xct's tuple, both directions' packets and bytes, the end reason,
# the translation and the NAT events, nothing else, and no sequence
# error.  nfdump does not decode the IPv6 post-NAT addresses: tshark's
# decoder of the messages captured on the loopback must show them.  A
# collector restarted mid-stream decodes records again after one
# template refresh.  NetFlow v9: a TCP connection and a masqueraded UDP
# flow exported as v9 decode the same way, with no sequence error.
# xctd, run with a collector, exports the same records while an `xct ct
# events` reader follows it, and they match the reader's DESTROY events.
# Bad arguments exit 2.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P_TCP=7101
P_UDP=7102
P_TCP6=7104
P_DNAT=7301
COLLECTOR_PORT=$((20000 + RANDOM % 20000))
WORK=""
EXP_PID=""
CAP_PID=""

ipfix_cleanup() {
	kill_in_ns "$NS_C" "$NS_S"
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap ipfix_cleanup EXIT

fail_setup() {
	echo "not ok ipfix_setup ($*)"
	exit 1
}

# start_collector DIR: nfcapd on 127.0.0.1 in the router, writing its
# files into DIR/data (one a minute: a run may span two).
start_collector() {
	mkdir -p "$1/data" || return 1
	ip netns exec "$NS_R" nfcapd -b 127.0.0.1 -p "$COLLECTOR_PORT" -w "$1/data" -t 60 \
		-P "$1/nfcapd.pid" >"$1/nfcapd.log" 2>&1 &
	CAP_PID=$!
	BG_PIDS+=("$CAP_PID")
	poll 10 listening "$NS_R" udp "$COLLECTOR_PORT"
}

# stop_collector: SIGTERM, so that nfcapd writes its file, and wait.
stop_collector() {
	kill -TERM "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
}

# start_exporter [netflow9] ARGS...: xct export ipfix (or netflow9) in the
# router, subscribed.
start_exporter() {
	SLOT_BEFORE=$(subs_slot)
	local format=ipfix
	[ "${1:-}" = netflow9 ] && format=$1 && shift
	ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" export "$format" \
		"127.0.0.1:$COLLECTOR_PORT" "$@" >"$WORK/export.out" 2>"$WORK/export.err" &
	EXP_PID=$!
	BG_PIDS+=("$EXP_PID")
	poll 10 subscribed
}

exporter_done() {
	! kill -0 "$EXP_PID" 2>/dev/null
}

# end_and_collect NAME DIR CT_JSON RECORDS WHAT EXPORTER: waits for every
# TCP connection to close, lists the entries into CT_JSON (the values their
# DESTROY events carry) and flushes them; the exporter must then end after
# RECORDS records ("WHAT records sent"), then nfcapd (DIR) is stopped and
# its files read into DIR/flows.raw and DIR/stat.txt.  Two results:
# NAME_export_count, and NAME_no_sequence_errors (nfcapd's and nfdump's
# counts, and EXPORTER, the line nfcapd logs for the exporter).
end_and_collect() {
	local name=$1 dir=$2 json=$3 records=$4 what=$5 exporter=$6 rc cap
	poll 10 sh -c "! ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct list -p tcp 2>/dev/null | grep -q ESTABLISHED"
	xct_r -j ct list >"$json" 2>/dev/null
	xct_r ct flush >/dev/null 2>&1
	poll 20 exporter_done || kill -INT "$EXP_PID"
	wait "$EXP_PID"
	rc=$?
	grep -q "$records $what records sent to 127.0.0.1:$COLLECTOR_PORT" "$WORK/export.err"
	result "${name}_export_count" $((rc || $?)) "exit $rc: $(cat "$WORK/export.err")"
	stop_collector
	read_capture "$dir"
	grep -q "^Sequence failures: 0$" "$dir/stat.txt" &&
		grep -q "Sequence Errors: 0, Bad Packets: 0" "$dir/nfcapd.log" &&
		grep -q "$exporter" "$dir/nfcapd.log"
	result "${name}_no_sequence_errors" $? "$(cat "$dir/stat.txt" "$dir/nfcapd.log")"
}

# read_capture DIR: the records of every file nfcapd wrote, into
# DIR/flows.raw, and their statistics into DIR/stat.txt.
read_capture() {
	[ -n "$(ls "$1/data")" ] || echo "# no nfcapd file: $(cat "$1/nfcapd.log")"
	nfdump -R "$1/data" -o raw >"$1/flows.raw" 2>&1
	nfdump -R "$1/data" -I >"$1/stat.txt" 2>&1
}

traffic() {
	local out ok=0
	out=$(tcp_peer_of "$NS_C" "$S4:$P_TCP" 41001) && [ "$out" = "$C4 41001" ] || ok=1
	out=$(udp_peer_of "$NS_C" "$S4:$P_UDP" 41002) && [ "$out" = "$C4 41002" ] || ok=1
	out=$(in_ns "$NS_C" socat -T 3 - "TCP6:[$S6]:$P_TCP6,sourceport=41004,connect-timeout=3" \
		</dev/null 2>/dev/null) || ok=1
	in_ns "$NS_C" ping -6 -c 2 -i 0.2 -W 2 -e 601 "$S6" >/dev/null || ok=1
	# translated: the server sees the router's address
	out=$(tcp_peer_of "$NS_C" "$S4:$((P_TCP + 100))" 42001) &&
		[ "${out% *}" = "$R4S" ] || ok=1
	out=$(udp_peer_of "$NS_C" "$S4:$((P_UDP + 100))" 42002) &&
		[ "${out% *}" = "$R4S" ] || ok=1
	in_ns "$NS_C" ping -c 3 -i 0.2 -W 2 -e 701 "$S4" >/dev/null || ok=1
	out=$(tcp_peer_of "$NS_C" "$S4:$P_DNAT" 42003) && [ "$out" = "$C4 42003" ] || ok=1
	out=$(in_ns "$NS_C" socat -T 3 - "TCP6:[$S6]:$((P_TCP6 + 100)),sourceport=42004,connect-timeout=3" \
		</dev/null 2>/dev/null) && "$PYTHON" -c 'import ipaddress, sys; a = sys.argv[1].split()[0].strip("[]"); sys.exit(ipaddress.ip_address(a) != ipaddress.ip_address(sys.argv[2]))' "$out" "$R6S" || ok=1
	result ipfix_traffic "$ok" "a connection through the router failed"
}

# ---- set-up ----------------------------------------------------------
for tool in nfcapd nfdump tshark tcpdump; do
	command -v "$tool" >/dev/null || fail_setup "$tool is not installed (scripts/install-deps.sh)"
done
have_xct || fail_setup "build xct first"
WORK=$(mktemp -d /tmp/xct-ipfix.XXXXXX) || fail_setup mktemp
setup_topology || fail_setup topology
mount_pin_fs || fail_setup bpffs
xct_attach native || fail_setup attach
cat >"$WORK/nat.xct" <<-EOF
	masquerade oif veth-r-s tcp dport $((P_TCP + 100))
	masquerade oif veth-r-s udp dport $((P_UDP + 100))
	masquerade oif veth-r-s icmp
	masquerade oif veth-r-s tcp dport $((P_TCP6 + 100))
	dnat to $S4:$P_TCP iif veth-r-c tcp dport $P_DNAT
EOF
xct_r rules load "$WORK/nat.xct" >/dev/null || fail_setup "rules load"
peer_echo_tcp "$NS_S" "TCP-LISTEN:$P_TCP"
peer_echo_tcp "$NS_S" "TCP-LISTEN:$((P_TCP + 100))"
peer_echo_udp "$NS_S" "$P_UDP"
peer_echo_udp "$NS_S" "$((P_UDP + 100))"
peer_echo_tcp "$NS_S" "TCP6-LISTEN:$P_TCP6"
peer_echo_tcp "$NS_S" "TCP6-LISTEN:$((P_TCP6 + 100))"
poll 5 listening "$NS_S" tcp "$P_TCP" && poll 5 listening "$NS_S" udp "$P_UDP" &&
	poll 5 listening "$NS_S" udp "$((P_UDP + 100))" &&
	poll 5 listening "$NS_S" tcp "$P_TCP6" &&
	poll 5 listening "$NS_S" tcp "$((P_TCP6 + 100))" || fail_setup servers
xct_r ct flush >/dev/null 2>&1
start_collector "$WORK/cap1" || fail_setup nfcapd
# ip netns exec execs: $! is tcpdump itself.
ip netns exec "$NS_R" tcpdump -i lo -U --immediate-mode -n -s 0 -w "$WORK/lo1.pcap" \
	udp port "$COLLECTOR_PORT" 2>"$WORK/tcpdump1.log" &
DUMP_PID=$!
BG_PIDS+=("$DUMP_PID")
poll 5 grep -q "listening on" "$WORK/tcpdump1.log" || fail_setup tcpdump
start_exporter --count 19 --timeout 60 --domain 4242 || fail_setup "export ipfix"

# ---- the connections, ended ------------------------------------------
traffic
end_and_collect ipfix "$WORK/cap1" "$WORK/ct.json" 19 IPFIX \
	"New ipfix exporter: SysID: [0-9]*, Observation domain 4242 from: 127.0.0.1"

# ---- what nfdump decoded, against xct's entries ----------------------
"$PYTHON" "$E2E_DIR/ipfix_check.py" ipfix "$WORK/ct.json" "$WORK/cap1/flows.raw" 5 \
	41001 41002 41004 42001 42002 42003 42004 601 701

# nfdump has no IPv6 post-NAT addresses; Wireshark's decoder has them.
kill -INT "$DUMP_PID" 2>/dev/null
wait "$DUMP_PID" 2>/dev/null
tshark -r "$WORK/lo1.pcap" -d "udp.port==$COLLECTOR_PORT,cflow" -T fields -E occurrence=a \
	-E aggregator=' ' -e cflow.post_nat_source_ipv6_address \
	-e cflow.post_nat_destination_ipv6_address >"$WORK/nat6.txt" 2>"$WORK/tshark.err"
"$PYTHON" - "$WORK/ct.json" "$WORK/nat6.txt" <<'EOF'
import ipaddress, json, sys
ip = lambda a: str(ipaddress.ip_address(a))
conns = [c for c in json.load(open(sys.argv[1]))
         if ":" in c["orig"]["src"] and c["orig"].get("sport") == 42004]
got = []
for line in open(sys.argv[2]):
    cols = line.rstrip("\n").split("\t")
    if len(cols) == 2 and cols[0]:
        got += [(ip(s), ip(d)) for s, d in zip(cols[0].split(), cols[1].split())]
want = [(ip(c["reply"]["dst"]), ip(c["reply"]["src"])) for c in conns] * 2
ok = len(conns) == 1 and got == want and want[0][0] != ip(conns[0]["orig"]["src"])
print(("ok" if ok else "not ok") + " ipfix_nat66_addresses")
if not ok:
    print("#   tshark: %s, xct: %s" % (got, want))
EOF

# ---- a collector restarted mid-stream: records decode after a refresh --
# The exporter resends its templates every second; nfcapd is replaced by
# a fresh one, which knows no template.  Once a template set has gone out
# after the restart (seen on the loopback by tcpdump), a connection's
# records must decode in the new collector.

# sent_after SET_ID: a message whose first set is SET_ID was captured
# after the first MARK bytes of the capture (Ethernet, IPv4, UDP).
sent_after() {
	"$PYTHON" - "$WORK/lo.pcap" "$MARK" "$1" <<'EOF'
import struct, sys
data, mark, set_id = open(sys.argv[1], "rb").read(), int(sys.argv[2]), int(sys.argv[3])
pos = 24
while pos + 16 <= len(data):
    incl = struct.unpack_from("<I", data, pos + 8)[0]
    pkt = data[pos + 16:pos + 16 + incl]
    ipfix = pkt[14 + (pkt[14] & 15) * 4 + 8:] if len(pkt) > 34 else b""
    if pos >= mark and len(ipfix) >= 20 and struct.unpack_from(">H", ipfix, 16)[0] == set_id:
        sys.exit(0)
    pos += 16 + incl
sys.exit(1)
EOF
}

COLLECTOR_PORT=$((COLLECTOR_PORT + 1))
start_collector "$WORK/cap2" || fail_setup nfcapd
start_exporter --template-refresh 1 --timeout 60 || fail_setup "export ipfix"
stop_collector
# ip netns exec execs: $! is tcpdump itself.
ip netns exec "$NS_R" tcpdump -i lo -U --immediate-mode -n -s 0 -w "$WORK/lo.pcap" \
	udp port "$COLLECTOR_PORT" 2>"$WORK/tcpdump.log" &
BG_PIDS+=($!)
poll 5 grep -q "listening on" "$WORK/tcpdump.log" || fail_setup tcpdump
start_collector "$WORK/cap3" || fail_setup nfcapd
poll 5 test -s "$WORK/lo.pcap" || fail_setup "tcpdump file"
MARK=$(stat -c %s "$WORK/lo.pcap")
poll 10 sent_after 2
out=$(tcp_peer_of "$NS_C" "$S4:$P_TCP" 41011)
poll 10 sh -c "! ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct list -p tcp 2>/dev/null | grep -q ESTABLISHED"
xct_r ct delete -p tcp --sport 41011 >/dev/null 2>&1
poll 10 sent_after 256
stop_reader "$EXP_PID"
stop_collector
nfdump -R "$WORK/cap3/data" -o raw 2>/dev/null | grep -q "src port *= *41011$"
result ipfix_template_refresh $? "out='$out' $(cat "$WORK/cap3/nfcapd.log")"

# ---- NetFlow v9: the same records, decoded by nfcapd as v9 ------------
COLLECTOR_PORT=$((COLLECTOR_PORT + 1))
start_collector "$WORK/cap4" || fail_setup nfcapd
# a plain TCP connection and a masqueraded UDP flow: 2 flows, 2 NAT records
start_exporter netflow9 --count 4 --timeout 60 --domain 99 || fail_setup "export netflow9"
out=$(tcp_peer_of "$NS_C" "$S4:$P_TCP" 41021) && [ "$out" = "$C4 41021" ] &&
	out=$(udp_peer_of "$NS_C" "$S4:$((P_UDP + 100))" 42022) && [ "${out% *}" = "$R4S" ]
result nf9_traffic $? "'$out'"
end_and_collect nf9 "$WORK/cap4" "$WORK/ct9.json" 4 "NetFlow v9" \
	"New v9 exporter: SysID: [0-9]*, Domain: 99, IP: 127.0.0.1"
[ "$(grep -c "NETFLOW v9" "$WORK/cap4/flows.raw")" = 2 ]
result nf9_decoded_as_v9 $?
"$PYTHON" "$E2E_DIR/ipfix_check.py" --no-end-reason nf9 "$WORK/ct9.json" "$WORK/cap4/flows.raw" 1 \
	41021 42022

# ---- xctd exports: the same records, from the daemon's reader ---------
# The collector comes from xct.conf's [daemon] section, the domain from
# the command line, which wins over the file's.  An `xct ct events -e
# DESTROY` reader runs through the same xctd at the same time: both get
# every event, and nfdump's records must match the reader's DESTROY
# events; xctd's metrics count the records it sent.  xctd sends what it
# holds when it stops.
COLLECTOR_PORT=$((COLLECTOR_PORT + 1))
start_collector "$WORK/cap5" || fail_setup nfcapd
mkdir -m 0700 "$WORK/run" || fail_setup "run dir"
SOCK=$WORK/run/xctd.sock
printf '[daemon]\nipfix-collector = 127.0.0.1:%s\nipfix-domain = 77\n' "$COLLECTOR_PORT" \
	>"$WORK/xct.conf"
MPORT=$((COLLECTOR_PORT + 100))
start_xctd "$SOCK" "$WORK/xctd.log" --config "$WORK/xct.conf" --ipfix-domain 78 \
	--metrics-listen "127.0.0.1:$MPORT" ||
	fail_setup "xctd: $(cat "$WORK/xctd.log")"
ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" --socket "$SOCK" -j ct events -e DESTROY \
	>"$WORK/destroy.jsonl" 2>"$WORK/destroy.err" &
EV_PID=$!
BG_PIDS+=("$EV_PID")
poll 10 grep -q "reader pid $EV_PID follows" "$WORK/xctd.log" || fail_setup "reader: $(cat "$WORK/xctd.log")"
ok=0
out=$(tcp_peer_of "$NS_C" "$S4:$P_TCP" 41031) && [ "$out" = "$C4 41031" ] || ok=1
out=$(tcp_peer_of "$NS_C" "$S4:$((P_TCP + 100))" 42031) && [ "${out% *}" = "$R4S" ] || ok=1
out=$(udp_peer_of "$NS_C" "$S4:$((P_UDP + 100))" 42032) && [ "${out% *}" = "$R4S" ] || ok=1
in_ns "$NS_C" ping -c 2 -i 0.2 -W 2 -e 731 "$S4" >/dev/null || ok=1
result xctd_ipfix_traffic "$ok"
poll 10 sh -c "! ip netns exec $NS_R $XCT --pin-path $XCT_PIN ct list -p tcp 2>/dev/null | grep -q ESTABLISHED"
xct_r ct flush >/dev/null 2>&1
poll 10 sh -c "[ \$(grep -c '\"event\":\"DESTROY\"' '$WORK/destroy.jsonl') -ge 4 ]"
# xctd's metrics count what its exporter sent, once it has sent it.
scrape() {
	in_ns "$NS_R" curl -s --max-time 2 "http://127.0.0.1:$MPORT/metrics" >"$WORK/scrape.txt"
}
exported() {
	scrape && grep -q '^xct_ipfix_records_total 10$' "$WORK/scrape.txt"
}
poll 10 exported
ok=$?
promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.out" 2>&1 &&
	grep -q '^xct_ipfix_send_errors_total 0$' "$WORK/scrape.txt" &&
	grep -q '^xct_ipfix_lost_records_total 0$' "$WORK/scrape.txt"
result xctd_ipfix_metrics $((ok || $?)) "$(grep ipfix "$WORK/scrape.txt") $(cat "$WORK/promtool.out")"
stop_reader "$EV_PID"
kill -TERM "$XCTD_PID" 2>/dev/null
wait "$XCTD_PID"
rc=$?
# 4 flow records, a NAT create and a NAT delete for each of the 3 translated
grep -q "10 IPFIX records sent to 127.0.0.1:$COLLECTOR_PORT in [0-9]* messages (domain 78)" \
	"$WORK/xctd.log"
result xctd_ipfix_export_count $((rc || $?)) "exit $rc: $(cat "$WORK/xctd.log")"
stop_collector
read_capture "$WORK/cap5"
grep -q "^Sequence failures: 0$" "$WORK/cap5/stat.txt" &&
	grep -q "Sequence Errors: 0, Bad Packets: 0" "$WORK/cap5/nfcapd.log" &&
	grep -q "New ipfix exporter: SysID: [0-9]*, Observation domain 78 from: 127.0.0.1" \
		"$WORK/cap5/nfcapd.log"
result xctd_ipfix_no_sequence_errors $? "$(cat "$WORK/cap5/stat.txt" "$WORK/cap5/nfcapd.log")"
"$PYTHON" "$E2E_DIR/ipfix_check.py" --events xctd_ipfix "$WORK/destroy.jsonl" \
	"$WORK/cap5/flows.raw" 3 41031 42031 42032 731

for args in "--ipfix-collector 127.0.0.1:0" "--ipfix-collector [::1" \
	"--ipfix-domain 4294967296" "--ipfix-domain x" "--ipfix-collector"; do
	# shellcheck disable=SC2086 # the words are the arguments
	"$XCTD" $args >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || { echo "# 'xctd $args' exited $rc"; bad_xctd=1; }
done
result xctd_ipfix_bad_arguments "${bad_xctd:-0}"

for args in "" "bogus" "ipfix" "ipfix 127.0.0.1:0" "ipfix [::1" "ipfix 127.0.0.1:1 --domain -1" \
	"ipfix 127.0.0.1:1 --template-refresh 0" "ipfix 127.0.0.1:1 --mtu 100" \
	"ipfix 127.0.0.1:1 --count 0" "ipfix 127.0.0.1:1 extra" "ipfix 127.0.0.1:1 --bogus"; do
	# shellcheck disable=SC2086 # the words are the arguments
	xct_r export $args >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || { echo "# 'xct export $args' exited $rc"; bad_args=1; }
done
xct_r export ipfix --help | grep -q "^Usage: xct export ipfix" && xct_r export --help >/dev/null
result ipfix_bad_arguments $(( ${bad_args:-0} || $? ))
