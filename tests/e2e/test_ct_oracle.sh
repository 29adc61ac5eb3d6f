#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Crafted TCP, UDP and ICMP packet sequences (IPv4 and IPv6) sent through a
# router where nf_conntrack and xct (XDP ingress, TC egress) both track
# them; ct_oracle.py compares `xct ct list` with `conntrack -L` after each
# scenario.  One "ok"/"not ok" line per scenario.
set -u
source "$(dirname "$0")/lib.sh"

fail_setup() {
	echo "not ok ct_oracle_setup ($*)"
	exit 1
}

setup_topology || fail_setup "topology"
enable_oracle || fail_setup "nf_conntrack oracle"
silence_endpoints || fail_setup "endpoint input drop"
mount_pin_fs || fail_setup "bpffs for xct pins"

xct_args=()
if ! have_xct; then
	echo "# $XCT not built: xct side unavailable"
elif ! xct_attach native >/dev/null; then
	echo "# xct attach failed"
else
	xct_args=(--xct "$XCT" --pin-path "$XCT_PIN")
fi
flush_both

"$PYTHON" "$E2E_DIR/ct_oracle.py" --client "$NS_C" --router "$NS_R" --server "$NS_S" \
	--c4 "$C4" --s4 "$S4" --c6 "$C6" --s6 "$S6" "${xct_args[@]}" "$@"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
	echo "not ok ct_oracle (driver exited with status $rc)"
fi
exit "$rc"
