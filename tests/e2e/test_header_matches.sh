#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# ip ttl and ip dscp on real traffic, with nftables as the oracle: UDP
# probes from the client with chosen TTLs and DSCPs go to an echo server
# through the router, whose rules drop some of them, once in nftables'
# prerouting chain (which sees the TTL a packet arrives with, as xct does)
# and once in xct; each probe must get the same fate from both, and the
# fate the rules say.  Each probe prints its own ok / not ok line.
set -u
NS_PREFIX=hdr
source "$(dirname "$0")/lib.sh"

WORK=""
PORT=7500
failures=0

fail_setup() {
	echo "not ok header_matches_setup ($*)"
	exit 1
}
trap '[ -n "$WORK" ] && rm -rf "$WORK"; e2e_cleanup' EXIT

# ttl dscp fate: what the rules below make of each probe.
PROBES="4:0:drop 5:0:pass 64:8:drop 64:46:pass 200:46:drop 199:46:pass 200:10:pass 255:0:pass"

# fates FILE: one "TTL:DSCP:pass|drop" per probe, from the client.
fates() {
	in_ns "$NS_C" "$PYTHON" - "$S4" "$PORT" $PROBES >"$1" <<-'EOF'
		import sys
		from scapy.all import IP, UDP, Raw, conf, sr1
		conf.verb = 0
		dst, port = sys.argv[1], int(sys.argv[2])
		for i, probe in enumerate(sys.argv[3:]):
		    ttl, dscp, _ = probe.split(":")
		    p = IP(dst=dst, ttl=int(ttl), tos=int(dscp) << 2) / UDP(sport=34000 + i, dport=port) / Raw(b"x")
		    a = sr1(p, timeout=1.5)
		    print("%s:%s:%s" % (ttl, dscp, "pass" if a is not None and a.haslayer(UDP) else "drop"))
	EOF
}

[ "$(id -u)" = 0 ] || fail_setup "needs root"
have_xct || fail_setup "no $XCT: run make"
command -v nft >/dev/null || fail_setup "no nft"
"$PYTHON" -c 'import scapy.all' 2>/dev/null || fail_setup "no scapy for $PYTHON"
WORK=$(mktemp -d /tmp/xct-hdr.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
peer_echo_udp "$NS_S" "$PORT"
poll 5 listening "$NS_S" udp "$PORT" || fail_setup "echo server"

in_ns "$NS_R" nft -f - <<'EOF' || fail_setup "nft"
table ip xcthdr {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		ip ttl < 5 drop
		ip dscp cs1 drop
		ip dscp != 0-10 ip ttl >= 200 drop
	}
}
EOF
fates "$WORK/nft" || fail_setup "probes through nftables"
in_ns "$NS_R" nft delete table ip xcthdr || fail_setup "nft delete"

cat >"$WORK/rules" <<'EOF'
drop ip ttl < 5
drop ip dscp cs1
drop ip dscp != 0-10 ip ttl >= 200
EOF
xct_attach native >/dev/null || fail_setup "attach"
xct_r rules load "$WORK/rules" >/dev/null || fail_setup "rules load"
fates "$WORK/xct" || fail_setup "probes through xct"

for want in $PROBES; do
	probe=${want%:*}
	n=$(grep -x "$probe:.*" "$WORK/nft")
	x=$(grep -x "$probe:.*" "$WORK/xct")
	[ "$n" = "$want" ] && [ "$x" = "$want" ]
	check "header_match_ttl_dscp_${probe/:/_}" $? "want $want, nftables $n, xct $x"
done
[ "$failures" = 0 ]
