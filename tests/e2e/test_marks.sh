#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Connection and packet marks with real traffic, nft on nf_conntrack as the
# oracle.  The same ruleset, in nft's form and in xct's, decides the same
# connections through the router, first with nft as the firewall (xct
# detached), then with xct (nft's filter table gone):
#
#   connections from client port 5000 get ct mark |= 0x1 on their first
#   packet, connections to 9000 get |= 0x20 (non-terminal rules: nft's rule
#   without a verdict, xct's continue), and established packets of a
#   connection whose mark has 0x1 are dropped;
#
# the connections' outcomes must be the expected ones and the same, and the
# marks conntrack -L shows must be the ones xct ct list shows.  Then the
# restore-mark idiom on what the router sends (ct mark set meta mark from a
# socket's SO_MARK, at egress), meta mark set at TC ingress seen by nft's
# forward chain, and the refusal of meta mark rules on an XDP interface
# (at load, and at attach).
# Each check prints its own ok / not ok line.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=marks
source "$(dirname "$0")/lib.sh"

WORK=""

fail_setup() {
	echo "not ok marks_setup ($*)"
	exit 1
}

# connect NS ADDR PORT SPORT [SO_MARK]: "connected" or the error, after
# an echo through the connection.
connect() {
	in_ns "$1" "$PYTHON" -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if len(sys.argv) > 4 and sys.argv[4]:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, int(sys.argv[4], 0))
s.bind(("0.0.0.0", int(sys.argv[3])))
s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(b"mark\n")
    print("connected" if s.recv(10) == b"mark\n" else "mismatch")
    # A reset, not a FIN: no TIME_WAIT keeps the tuple from the next run.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
except OSError as e:
    print("timeout" if isinstance(e, socket.timeout) else type(e).__name__)
' "$2" "$3" "$4" "${5:-}"
}

# marks_of: "SPORT DPORT MARK" per TCP connection to the server, sorted,
# from conntrack -L or xct ct list lines on stdin (the first tuple's ports).
marks_of() {
	"$PYTHON" -c '
import sys
out = set()
for line in sys.stdin:
    toks = line.split()
    if not toks or toks[0] != "tcp":
        continue
    kv = {}
    for t in toks:
        if "=" in t:
            k, v = t.split("=", 1)
            kv.setdefault(k, v)
    if kv.get("dst") == sys.argv[1] and "mark" in kv:
        out.add("%s %s %d" % (kv["sport"], kv["dport"], int(kv["mark"], 0)))
print("\n".join(sorted(out)))
' "$S4"
}

# The four connections of the first part: "SPORT DPORT" each.
CONNS="5000 9000
5001 9000
5000 9001
5002 9001"
# What both firewalls must decide, and the marks they must leave.
WANT_OUTCOMES="5000 9000 timeout
5001 9000 connected
5000 9001 timeout
5002 9001 connected"
WANT_MARKS="5000 9000 33
5000 9001 1
5001 9000 32
5002 9001 0"

run_conns() {
	local sport dport
	while read -r sport dport; do
		echo "$sport $dport $(connect "$NS_C" "$S4" "$dport" "$sport")"
	done <<<"$CONNS"
}

start_servers() {
	local p
	for p in 9000 9001 9002; do
		ip netns exec "$NS_S" socat "TCP-LISTEN:$p,reuseaddr,fork" EXEC:cat \
			</dev/null >/dev/null 2>&1 &
		BG_PIDS+=($!)
	done
	for p in 9000 9001 9002; do
		poll 5 listening "$NS_S" tcp "$p" || return 1
	done
}

cleanup_work() {
	kill_in_ns "$NS_C" "$NS_S"
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap 'cleanup_work; e2e_cleanup' EXIT

WORK=$(mktemp -d /tmp/xct-marks.XXXXXX) || fail_setup "work dir"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
start_servers || fail_setup "servers"

# ---- nft on nf_conntrack ----

in_ns "$NS_R" nft -f - <<-'EOF' || fail_setup "nft ruleset"
	table inet marks {
		chain forward {
			type filter hook forward priority 0; policy drop;
			tcp sport 5000 ct mark set ct mark or 0x1
			tcp dport 9000 ct mark set ct mark or 0x20
			ct state established ct mark and 0x1 == 0x1 drop
			ct state established,related accept
			ct state new tcp dport { 9000, 9001 } accept
		}
		chain out {
			type filter hook output priority 0; policy accept;
			ct state new ct mark set meta mark
		}
	}
EOF
nft_out=$(run_conns)
nft_marks=$(ct_r -L 2>/dev/null | marks_of)
nft_local=$(connect "$NS_R" "$S4" 9002 5100 0x6)
nft_local_mark=$(ct_r -L 2>/dev/null | marks_of | awk '$1 == 5100 { print $3 }')
in_ns "$NS_R" nft delete table inet marks || fail_setup "nft delete"
flush_both

check marks_nft_outcomes "$([ "$nft_out" = "$WANT_OUTCOMES" ] && echo 0 || echo 1)" \
	"nft decided: $(tr '\n' '|' <<<"$nft_out")"
check marks_nft_marks "$([ "$nft_marks" = "$WANT_MARKS" ] && echo 0 || echo 1)" \
	"conntrack -L marks: $(tr '\n' '|' <<<"$nft_marks")"

# ---- xct ----

cat >"$WORK/marks.rules" <<-'EOF'
	policy drop
	continue tcp sport 5000 ct mark set ct mark or 0x1
	continue tcp dport 9000 ct mark set ct mark | 0x20
	drop ct state established ct mark and 0x1 == 0x1
	accept ct state established,related
	accept ct state new tcp dport { 9000, 9001 }
	continue oif veth-r-s ct state new ct mark set meta mark
EOF
xct_attach native >/dev/null || fail_setup "attach"
xct_r rules load "$WORK/marks.rules" >/dev/null || fail_setup "rules load"
xct_out=$(run_conns)
xct_marks=$(xct_r ct list 2>/dev/null | marks_of)
xct_local=$(connect "$NS_R" "$S4" 9002 5100 0x6)
xct_local_mark=$(xct_r ct list 2>/dev/null | marks_of | awk '$1 == 5100 { print $3 }')

check marks_xct_outcomes_as_nft "$([ "$xct_out" = "$nft_out" ] && echo 0 || echo 1)" \
	"xct decided: $(tr '\n' '|' <<<"$xct_out"), nft: $(tr '\n' '|' <<<"$nft_out")"
check marks_xct_marks_as_conntrack "$([ "$xct_marks" = "$nft_marks" ] && echo 0 || echo 1)" \
	"xct ct list: $(tr '\n' '|' <<<"$xct_marks"), conntrack -L: $(tr '\n' '|' <<<"$nft_marks")"
check marks_restore_from_so_mark \
	"$([ "$nft_local" = connected ] && [ "$xct_local" = connected ] &&
		[ "$nft_local_mark" = 6 ] && [ "$xct_local_mark" = 6 ] && echo 0 || echo 1)" \
	"nft: $nft_local mark=$nft_local_mark, xct: $xct_local mark=$xct_local_mark"

# A meta mark rule on arriving packets cannot run at XDP: refused, named.
printf 'accept ct state established\naccept tcp dport 9001 meta mark set 0x42\n' \
	>"$WORK/meta.rules"
expect marks_meta_mark_refused_at_xdp 2 \
	"meta.rules:2:1: error: 'meta mark' on arriving packets needs xct at TC ingress.*veth-r-(c|s) runs xct at XDP" \
	xct_r rules load "$WORK/meta.rules"
expect marks_refused_load_changed_nothing 0 "continue tcp sport 5000" xct_r rules show

# ---- meta mark at TC ingress, seen by nft's forward chain ----

xct_detach >/dev/null || fail_setup "detach"
flush_both
in_ns "$NS_R" nft -f - <<-'EOF' || fail_setup "nft observer"
	table inet seen {
		chain forward {
			type filter hook forward priority 0; policy accept;
			meta mark 0x42 tcp dport 9001 counter
		}
	}
EOF
xct_attach tc >/dev/null || fail_setup "attach tc"
xct_r rules load "$WORK/meta.rules" >/dev/null
loaded=$?
tc_out=$(connect "$NS_C" "$S4" 9001 5003)
seen=$(in_ns "$NS_R" nft list chain inet seen forward | grep -o 'packets [0-9]*' | awk '{ print $2 }')
check marks_meta_mark_set_at_tc "$([ "$loaded" = 0 ] && [ "$tc_out" = connected ] &&
	[ "${seen:-0}" -ge 1 ] && echo 0 || echo 1)" \
	"load exit $loaded, connection $tc_out, nft saw ${seen:-0} packets with mark 0x42"

# ... nor can an interface be attached at XDP under such rules.
xct_r detach veth-r-c >/dev/null 2>&1
expect marks_xdp_attach_refused_under_meta_mark_rules 1 \
	"cannot attach with ingress xdp native: the running rules read or set 'meta mark'" \
	xct_r attach --mode native veth-r-c
expect marks_tc_attach_allowed_under_meta_mark_rules 0 "veth-r-c: attached \(ingress tc" \
	xct_r attach --mode tc veth-r-c

[ "$failures" = 0 ]
