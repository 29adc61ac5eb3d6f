#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Crafted TCP, UDP and ICMP packet sequences (IPv4 and IPv6) sent through a
# router where nf_conntrack and xct (XDP ingress, TC egress) both track
# them; ct_oracle.py compares `xct ct list` with `conntrack -L` after each
# scenario.  One "ok"/"not ok" line per scenario; a cross-section of the
# scenarios runs again with xct's ingress hook in XDP generic and TC mode.
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

# The other ingress hooks on a cross-section of the scenarios.
OTHER_MODES=(generic tc)
OTHER_MODE_SCENARIOS=(
	tcp_handshake_data tcp_counted_once tcp_client_close_time_wait
	tcp_rst_out_of_window tcp_rst_inexact_then_exact tcp_data_beyond_window
	tcp_syn_in_established tcp_flags_xmas tcp6_counted_once
	udp_request_response icmp_echo_request_reply icmp_error_related icmp6_error_related
)

oracle() {
	"$PYTHON" "$E2E_DIR/ct_oracle.py" --client "$NS_C" --router "$NS_R" --server "$NS_S" \
		--c4 "$C4" --s4 "$S4" --c6 "$C6" --s6 "$S6" "$@"
	local rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		echo "not ok ct_oracle (driver exited with status $rc)"
	fi
	return "$rc"
}

if ! have_xct; then
	echo "# $XCT not built: xct side unavailable"
	oracle "$@"
	exit 1
fi
if ! xct_attach native >/dev/null; then
	echo "# xct attach --mode native failed"
	oracle "$@"
	exit 1
fi
flush_both
oracle --xct "$XCT" --pin-path "$XCT_PIN" "$@"
status=$?

pass=1
for mode in "${OTHER_MODES[@]}"; do
	only=()
	for scn in "${OTHER_MODE_SCENARIOS[@]}"; do
		only+=(--only "$scn")
	done
	if xct_detach >/dev/null && xct_attach "$mode" >/dev/null; then
		flush_both
		oracle --xct "$XCT" --pin-path "$XCT_PIN" --pass "$pass" --suffix "_$mode" "${only[@]}" ||
			status=1
	else
		for scn in "${OTHER_MODE_SCENARIOS[@]}"; do
			echo "not ok ${scn}_$mode (xct attach --mode $mode failed)"
		done
		status=1
	fi
	pass=$((pass + 1))
done
exit "$status"
