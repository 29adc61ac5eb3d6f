#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# reject with icmp / icmpv6 / icmpx type T and with tcp reset, on the wire:
# the same probes from the client are rejected at the router once by
# nftables' forward chain and once by xct (attached in native XDP mode),
# and each answer xct sends is compared with nftables' field by field
# (tests/e2e/reject_probe.py says which fields differ by design).
# Each probe prints its own ok / not ok line.
set -u
NS_PREFIX=rej
source "$(dirname "$0")/lib.sh"

WORK=""
failures=0

fail_setup() {
	echo "not ok reject_with_setup ($*)"
	exit 1
}
trap '[ -n "$WORK" ] && rm -rf "$WORK"; e2e_cleanup' EXIT

[ "$(id -u)" = 0 ] || fail_setup "needs root"
have_xct || fail_setup "no $XCT: run make"
command -v nft >/dev/null || fail_setup "no nft"
"$PYTHON" -c 'import scapy.all' 2>/dev/null || fail_setup "no scapy for $PYTHON"
WORK=$(mktemp -d /tmp/xct-rej.XXXXXX) || fail_setup "mktemp"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
# The kernel rate-limits the ICMP errors it sends (6 at once per
# destination): the router's nftables must answer every probe.
in_ns "$NS_R" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 ||
	fail_setup "sysctl"

probe() { in_ns "$NS_C" "$PYTHON" "$E2E_DIR/reject_probe.py" probe "$S4" "$S6" "$1"; }

# 1. nftables.
in_ns "$NS_R" nft -f - <<'EOF' || fail_setup "nft"
table inet xctrej {
	chain forward_filter {
		type filter hook forward priority 0; policy accept;
		udp dport 9 reject with icmp type admin-prohibited
		udp dport 10 reject with icmp type host-unreachable
		udp dport 11 reject with icmp type net-unreachable
		udp dport 12 reject with icmp type prot-unreachable
		udp dport 13 reject with icmp type port-unreachable
		tcp dport 14 reject with tcp reset
		meta nfproto ipv4 udp dport 15 reject with icmpx type admin-prohibited
		tcp dport 16 reject with icmp type admin-prohibited
		udp dport 21 reject with icmpv6 type admin-prohibited
		udp dport 22 reject with icmpv6 type no-route
		udp dport 23 reject with icmpv6 type addr-unreachable
		udp dport 24 reject with icmpv6 type port-unreachable
		tcp dport 25 reject with tcp reset
		udp dport 26 reject with icmpx type no-route
	}
}
EOF
probe "$WORK/nft.json" || fail_setup "probes through nftables"
in_ns "$NS_R" nft delete table inet xctrej || fail_setup "nft delete"

# 2. xct, the same rules in its syntax.
cat >"$WORK/rules" <<'EOF'
reject udp dport 9 with icmp type admin-prohibited
reject udp dport 10 with icmp type host-unreachable
reject udp dport 11 with icmp type net-unreachable
reject udp dport 12 with icmp type prot-unreachable
reject udp dport 13 with icmp type port-unreachable
reject tcp dport 14 with tcp reset
reject ip udp dport 15 with icmpx type admin-prohibited
reject tcp dport 16 with icmp type admin-prohibited
reject udp dport 21 with icmpv6 type admin-prohibited
reject udp dport 22 with icmpv6 type no-route
reject udp dport 23 with icmpv6 type addr-unreachable
reject udp dport 24 with icmpv6 type port-unreachable
reject tcp dport 25 with tcp reset
reject udp dport 26 with icmpx type no-route
EOF
xct_attach native >/dev/null || fail_setup "attach"
xct_r rules load "$WORK/rules" >/dev/null || fail_setup "rules load"
probe "$WORK/xct.json" || fail_setup "probes through xct"

"$PYTHON" "$E2E_DIR/reject_probe.py" compare "$WORK/nft.json" "$WORK/xct.json" || failures=1
[ "$failures" = 0 ]
