#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Seeded random conversations (TCP, UDP, ICMP; IPv4 and IPv6) through a
# router where nf_conntrack and xct both track them, compared packet by
# packet by ct_difftest.py; a disagreement is shrunk to a minimal sequence.
# One "ok"/"not ok" line per seed.  By default a few fixed seeds (what
# `make test` runs); `make difftest SEEDS=N` runs many:
#
#   test_ct_difftest.sh [--seeds N] [--first-seed S] [ct_difftest.py options]
set -u
source "$(dirname "$0")/lib.sh"

fail_setup() {
	echo "not ok ct_difftest_setup ($*)"
	exit 1
}

setup_topology || fail_setup "topology"
enable_oracle || fail_setup "nf_conntrack oracle"
silence_endpoints || fail_setup "endpoint input drop"
mount_pin_fs || fail_setup "bpffs for xct pins"
have_xct || fail_setup "$XCT not built"
xct_attach native >/dev/null || fail_setup "xct attach --mode native failed"

"$PYTHON" "$E2E_DIR/ct_difftest.py" --client "$NS_C" --router "$NS_R" --server "$NS_S" \
	--c4 "$C4" --s4 "$S4" --c6 "$C6" --s6 "$S6" --xct "$XCT" --pin-path "$XCT_PIN" \
	--seeds 6 --first-seed 1 "$@"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
	echo "not ok ct_difftest (driver exited with status $rc)"
fi
exit "$rc"
