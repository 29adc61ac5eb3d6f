#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct trace drops and xct trace resets with real traffic, in the
# client - router (xct) - server namespaces of lib.sh:
#
#   1. a SYN to a closed port (IPv4 and IPv6): the server sends a RST with
#      reason NO_SOCKET, answering the packet, and the kernel drops the SYN
#      with NO_SOCKET at tcp_v4_rcv / tcp_v6_rcv, tuple from the headers;
#   2. an nftables drop rule on the server: NETFILTER_DROP at nf_hook_slow,
#      the exact tuple, the server's netns and interface;
#   3. an xct drop rule on the router: xct's event with the rule's line,
#      the ct state and the interface; an xct reject rule: a reset xct
#      sent, with the rule's line, in trace resets;
#   4. a server that closes with unread data: an active reset
#      (TCP_ABORT_ON_CLOSE) sent by the server and received by the client;
#   5. --summary: counts by reason and flow;
#   6. a flood through a 4 KiB ring: the lost count is reported, and events
#      shown plus events lost equal the packets sent;
#   7. bad arguments exit 2.
# Each check prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
source "$(dirname "$0")/lib.sh"

WORK=""
declare -A TRACE_PID

fail_setup() {
	echo "not ok trace_setup ($*)"
	exit 1
}

netns_inode() { in_ns "$1" stat -L -c %i /proc/self/ns/net; }

# start_trace NAME NS ARGS...: xct trace in NS, output in $WORK/NAME.{out,err};
# returns once its programs are attached.
start_trace() {
	local name=$1 ns=$2
	shift 2
	# Not through in_ns: $! must be xct itself, for kill.
	ip netns exec "$ns" "$XCT" --pin-path "$XCT_PIN" trace "$@" \
		>"$WORK/$name.out" 2>"$WORK/$name.err" &
	TRACE_PID[$name]=$!
	BG_PIDS+=("$!")
	poll 10 grep -q "xct: tracing" "$WORK/$name.err"
}

# wait_trace NAME: waits for it to end (its own --count / --timeout).
wait_trace() {
	wait "${TRACE_PID[$1]}"
}

# has_event FILE KEY=VALUE...: some JSON line of FILE has every pair
# (values compared as text; a key given as KEY~PREFIX matches a prefix).
has_event() {
	"$PYTHON" - "$@" <<-'EOF'
		import json, sys
		path, conds = sys.argv[1], sys.argv[2:]
		def match(ev):
		    for c in conds:
		        if "~" in c and ("=" not in c or c.index("~") < c.index("=")):
		            k, v = c.split("~", 1)
		            if not str(ev.get(k, "")).startswith(v):
		                return False
		        else:
		            k, v = c.split("=", 1)
		            if str(ev.get(k)) != v:
		                return False
		    return True
		for line in open(path):
		    line = line.strip()
		    if line.startswith("{") and match(json.loads(line)):
		        sys.exit(0)
		sys.exit(1)
	EOF
}

show() {
	echo "#   $1.out:"
	sed 's/^/#     /' "$WORK/$1.out" | head -20
	echo "#   $1.err:"
	sed 's/^/#     /' "$WORK/$1.err" | head -5
}

# connect_from NS SRC SPORT DST DPORT [DATA]: one TCP connect from a fixed
# source port; prints the outcome.
connect_from() {
	in_ns "$1" "$PYTHON" - "$2" "$3" "$4" "$5" "${6:-}" <<-'EOF'
		import socket, sys, time
		src, sport, dst, dport, data = sys.argv[1:6]
		fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
		s = socket.socket(fam, socket.SOCK_STREAM)
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.settimeout(2)
		s.bind((src, int(sport)))
		try:
		    s.connect((dst, int(dport)))
		    if data:
		        s.sendall(data.encode())
		        s.settimeout(3)
		        print("got", s.recv(100))
		    else:
		        print("connected")
		except OSError as e:
		    print(type(e).__name__)
	EOF
}

test_closed_port() {
	local fam=$1 src=$2 sport=$3 dst=$4 dport=$5 rcv=$6 out
	local ns_s
	ns_s=$(netns_inode "$NS_S")
	start_trace "rst$fam" "$NS_S" resets -o json --port "$dport" --netns "$ns_s" \
		--count 1 --timeout 10 &&
		start_trace "drop$fam" "$NS_S" drops -o json --port "$dport" --netns "$ns_s" \
			-p tcp -i veth-s --count 1 --timeout 10 &&
		start_trace "none$fam" "$NS_S" drops -o json --port "$dport" \
			--netns "/run/netns/$NS_S" -p udp --timeout 3
	result "trace_${fam}_started" $? "trace did not start"
	out=$(connect_from "$NS_C" "$src" "$sport" "$dst" "$dport")
	[ "$out" = ConnectionRefusedError ]
	result "trace_${fam}_closed_port_refused" $? "connect: $out"
	wait_trace "rst$fam"
	wait_trace "drop$fam"
	wait_trace "none$fam"
	[ ! -s "$WORK/none$fam.out" ] && grep -q "xct: tracing" "$WORK/none$fam.err"
	result "trace_${fam}_protocol_filter_excludes" $? "$(show "none$fam")"
	has_event "$WORK/rst$fam.out" event=reset direction=sent kind=answer source=kernel \
		reason=NO_SOCKET src="$dst" sport="$dport" dst="$src" dport="$sport" \
		netns="$ns_s" iface=veth-s
	result "trace_${fam}_closed_port_sent_reset_no_socket" $? "$(show "rst$fam")"
	# xct on the router saw the SYN; once it sees the RST it deletes the
	# entry, as nf_conntrack does when the only reply is a RST.
	has_event "$WORK/rst$fam.out" event=reset xct_state=SYN_SENT ||
		has_event "$WORK/rst$fam.out" event=reset xct_state=none
	result "trace_${fam}_closed_port_reset_has_xct_state" $? "$(show "rst$fam")"
	has_event "$WORK/drop$fam.out" event=drop source=kernel reason=NO_SOCKET \
		src="$src" sport="$sport" dst="$dst" dport="$dport" proto=tcp tcp_flags=S \
		netns="$ns_s" iface=veth-s location~"$rcv+0x"
	result "trace_${fam}_closed_port_kernel_drop_no_socket" $? "$(show "drop$fam")"
}

test_nft_drop() {
	local ns_s out
	ns_s=$(netns_inode "$NS_S")
	in_ns "$NS_S" nft -f - <<-'EOF' || fail_setup "nft"
		table inet xcttrace {
			chain in {
				type filter hook input priority 0; policy accept;
				tcp dport 7002 drop
			}
		}
	EOF
	start_trace nft "$NS_S" drops -o json --reason NETFILTER_DROP --host "$C4" \
		--netns "$ns_s" --count 1 --timeout 10
	result trace_nft_started $? "trace did not start"
	out=$(connect_from "$NS_C" "$C4" 41002 "$S4" 7002)
	wait_trace nft
	has_event "$WORK/nft.out" event=drop source=kernel reason=NETFILTER_DROP src="$C4" \
		sport=41002 dst="$S4" dport=7002 proto=tcp tcp_flags=S netns="$ns_s" \
		iface=veth-s location~nf
	result trace_nft_drop_netfilter_drop_at_tuple $? "$(show nft) connect: $out"
	in_ns "$NS_S" nft delete table inet xcttrace
}

test_xct_rules() {
	local ns_r out
	ns_r=$(netns_inode "$NS_R")
	printf 'policy accept\ndrop tcp dport 7003\nreject tcp dport 7004\ndrop tcp dport 7013\n' \
		>"$WORK/trace.rules"
	xct_r rules load "$WORK/trace.rules" >/dev/null || fail_setup "rules load"
	# One reader of xct's stream at a time (it has one consumer position).
	# On a veth, native XDP runs on an skb, so the kernel reports xct's
	# XDP_DROP too (NOT_SPECIFIED at veth_xdp_rcv_skb): trace shows it once,
	# as xct's.  The connect's SYN and its retransmission: two drops.
	start_trace xdrop "$NS_R" drops -o json --port 7003 --netns "$ns_r" --timeout 4
	result trace_xct_started $? "trace did not start"
	out=$(connect_from "$NS_C" "$C4" 41003 "$S4" 7003)
	[ "$out" = TimeoutError ]
	result trace_xct_drop_rule_drops $? "connect: $out"
	wait_trace xdrop
	start_trace xdtext "$NS_R" drops --reason rule --port 7013 --count 1 --timeout 10
	connect_from "$NS_C" "$C4" 41013 "$S4" 7013 >/dev/null
	wait_trace xdtext
	start_trace xrej "$NS_R" resets -o json --port 7004 --netns "$ns_r" --count 1 \
		--timeout 10
	out=$(connect_from "$NS_C" "$C4" 41004 "$S4" 7004)
	[ "$out" = ConnectionRefusedError ]
	result trace_xct_reject_rule_refuses $? "connect: $out"
	wait_trace xrej
	has_event "$WORK/xdrop.out" event=drop source=xct reason=rule rule_line=2 verdict=drop \
		state=new src="$C4" sport=41003 dst="$S4" dport=7003 proto=tcp \
		iface=veth-r-c hook=ingress netns="$ns_r"
	result trace_xct_drop_rule_with_line $? "$(show xdrop)"
	[ "$(grep -c '"source":"xct"' "$WORK/xdrop.out")" = 2 ] &&
		! grep -q '"source":"kernel"' "$WORK/xdrop.out"
	result trace_xct_drop_shown_once $? "$(show xdrop)"
	has_event "$WORK/xrej.out" event=reset direction=sent kind=reject source=xct \
		rule_line=3 src="$S4" sport=7004 dst="$C4" dport=41004 iface=veth-r-c
	result trace_xct_reject_rule_reset_with_line $? "$(show xrej)"
	grep -qE "xct drop netns $ns_r dev veth-r-c tcp $C4:41013 -> $S4:7013 reason rule rule line 4 state new" \
		"$WORK/xdtext.out"
	result trace_xct_drop_text_line $? "$(show xdtext)"
	xct_r rules clear >/dev/null
}

test_active_reset() {
	local ns_s ns_c out
	ns_s=$(netns_inode "$NS_S")
	ns_c=$(netns_inode "$NS_C")
	# The server accepts, waits for the client's data, and closes without
	# reading it: the kernel aborts with a RST.
	in_ns "$NS_S" "$PYTHON" - "$S4" 7005 <<-'EOF' &
		import socket, sys, time
		l = socket.socket()
		l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		l.bind((sys.argv[1], int(sys.argv[2])))
		l.listen(1)
		l.settimeout(15)
		c, _ = l.accept()
		c.settimeout(5)
		c.recv(1, socket.MSG_PEEK)  # the data is there, unread
		c.close()
	EOF
	BG_PIDS+=("$!")
	poll 5 in_ns "$NS_S" ss -Htln "sport = :7005" | grep -q 7005
	start_trace asent "$NS_S" resets -o json --port 7005 --netns "$ns_s" --count 1 \
		--timeout 10 &&
		start_trace arecv "$NS_C" resets -o json --port 7005 --netns "$ns_c" \
			--count 1 --timeout 10
	result trace_active_started $? "trace did not start"
	out=$(connect_from "$NS_C" "$C4" 41005 "$S4" 7005 "unread-data")
	wait_trace asent
	wait_trace arecv
	has_event "$WORK/asent.out" event=reset direction=sent kind=active source=kernel \
		reason=TCP_ABORT_ON_CLOSE src="$S4" sport=7005 dst="$C4" dport=41005 \
		netns="$ns_s"
	result trace_active_reset_on_close_with_unread_data $? "$(show asent) client: $out"
	has_event "$WORK/arecv.out" event=reset direction=received source=kernel \
		src="$S4" sport=7005 dst="$C4" dport=41005 netns="$ns_c" socket_state=ESTABLISHED \
		xct_state=CLOSE
	result trace_active_reset_received_by_client $? "$(show arecv) client: $out"
}

test_summary() {
	local ns_s i
	ns_s=$(netns_inode "$NS_S")
	start_trace summ "$NS_S" drops -o json --summary 1 --port 7006 --netns "$ns_s" \
		--timeout 3
	result trace_summary_started $? "trace did not start"
	for i in 1 2 3; do
		connect_from "$NS_C" "$C4" $((41060 + i)) "$S4" 7006 >/dev/null
	done
	wait_trace summ
	"$PYTHON" - "$WORK/summ.out" "$C4" "$S4" <<-'EOF'
		import json, sys
		reasons, flows = {}, {}
		for line in open(sys.argv[1]):
		    ev = json.loads(line)
		    if ev.get("event") != "summary":
		        continue
		    for r in ev["reason"]:
		        reasons[r["key"]] = reasons.get(r["key"], 0) + r["count"]
		    for f in ev["flow"]:
		        flows[f["key"]] = flows.get(f["key"], 0) + f["count"]
		c, s = sys.argv[2], sys.argv[3]
		want = {"tcp %s:%d -> %s:7006" % (c, 41060 + i, s): 1 for i in (1, 2, 3)}
		sys.exit(0 if reasons == {"NO_SOCKET": 3} and flows == want else 1)
	EOF
	result trace_summary_counts_by_reason_and_flow $? "$(show summ)"
}

test_lost() {
	local ns_s n=20000 shown lost_err lost_json
	ns_s=$(netns_inode "$NS_S")
	start_trace lost "$NS_S" drops -o json --ring-size 4096 --port 7009 --netns "$ns_s"
	result trace_lost_started $? "trace did not start"
	# The reader is stopped while the datagrams come, so that the ring
	# overflows however fast the machine; the TERM it finds when it goes
	# on makes it drain what is queued, report the losses and exit.
	kill -STOP "${TRACE_PID[lost]}"
	# Datagrams to a closed port: each one a NO_SOCKET drop.
	in_ns "$NS_S" "$PYTHON" - "$n" <<-'EOF'
		import socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		for i in range(int(sys.argv[1])):
		    s.sendto(b"x", ("127.0.0.1", 7009))
	EOF
	kill -TERM "${TRACE_PID[lost]}"
	kill -CONT "${TRACE_PID[lost]}"
	wait_trace lost
	shown=$(grep -c '"event":"drop"' "$WORK/lost.out")
	lost_err=$(sed -n 's/^xct: \([0-9]*\) events lost.*/\1/p' "$WORK/lost.err")
	lost_json=$("$PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "lost":
        print(e["kernel"])' "$WORK/lost.out")
	log "flood of $n: $shown shown, ${lost_err:-?} lost"
	[ -n "$lost_err" ] && [ "$lost_err" -gt 0 ] && [ "$lost_err" = "$lost_json" ] &&
		[ $((shown + lost_err)) -eq "$n" ]
	result trace_lost_events_counted_and_reported $? \
		"shown $shown, lost (stderr) ${lost_err:-none}, lost (json) ${lost_json:-none}"
}

# Bad arguments: exit 2 with a message, nothing started.
test_cli() {
	local args out rc
	while IFS='|' read -r name pattern args; do
		# shellcheck disable=SC2086 # the arguments are words
		out=$(xct_r trace $args 2>&1)
		rc=$?
		[ "$rc" = 2 ] && grep -qE -- "$pattern" <<<"$out"
		result "trace_cli_$name" $? "exit $rc: $out"
	done <<-'EOF'
		no_kind|Usage: xct trace|
		bad_kind|unknown trace 'flows'|flows
		bad_port|--port: '70000'|drops --port 70000
		bad_prefix|--host: prefix length 33 is out of range for IPv4 \(0-32\)|drops --host 10.0.0.0/33
		bad_host|--host: invalid IPv4 address 'nowhere'|resets --host nowhere
		bad_proto|--proto: unknown protocol 'sctpx'|drops -p sctpx
		bad_reason|--reason: 'NOT_A_REASON' is not a drop reason|drops --reason NOT_A_REASON
		bad_rst_reason|--reason: 'NETFILTER_DROP' is not a reset reason|resets --reason NETFILTER_DROP
		bad_ring|--ring-size: '5000'|drops --ring-size 5000
		bad_output|--output: 'xml'|drops -o xml
		bad_summary|--summary: '0'|drops --summary 0
		bad_iface|--iface: no interface 'nope0'|drops -i nope0
		bad_netns|--netns: '/nonexistent'|drops --netns /nonexistent
		extra_arg|takes no arguments|drops extra
		unknown_opt|unknown option '--frobnicate'|resets --frobnicate
	EOF
	out=$(xct_r trace drops --help)
	grep -q -- "--summary N" <<<"$out"
	result trace_cli_help $? "$out"
}

setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs for xct pins"
have_xct || fail_setup "$XCT not built"
WORK=$(mktemp -d /tmp/xct-e2e-trace.XXXXXX) || fail_setup "work dir"
trap 'rm -rf "$WORK"; e2e_cleanup' EXIT
xct_attach native >/dev/null || fail_setup "xct attach"

test_cli
# Several traces at once: xct's stream reaches each through xctd (alone,
# the second direct reader of the ring would be refused).
start_xctd "$WORK/run/xctd.sock" "$WORK/xctd.log" || fail_setup "xctd: $(cat "$WORK/xctd.log")"
export XCT_SOCKET=$WORK/run/xctd.sock
test_closed_port ipv4 "$C4" 41001 "$S4" 7001 tcp_v4_rcv
test_closed_port ipv6 "$C6" 41001 "$S6" 7001 tcp_v6_rcv
test_nft_drop
test_xct_rules
test_active_reset
test_summary
test_lost
exit 0
