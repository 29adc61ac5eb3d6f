#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every test layer and prints one closing line, "N passed, N failed".
# Each layer prints "ok NAME" / "not ok NAME" lines; anything a layer
# cannot run is a failure, never a skip.
set -u
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
LOG_DIR=$(mktemp -d /tmp/xct-test-log.XXXXXX)
passed=0
failed=0

run_layer() {
	local name=$1
	shift
	local log="$LOG_DIR/$name.log" t0=$SECONDS
	echo "== $name"
	"$@" >"$log" 2>&1
	local rc=$?
	echo "   ($((SECONDS - t0)) s)"
	local ok nok
	ok=$(grep -c '^ok ' "$log")
	nok=$(grep -c '^not ok ' "$log")
	grep -E '^(ok|not ok) ' "$log" | sed 's/^/  /'
	if [ "$nok" -gt 0 ] || [ "$rc" -ne 0 ]; then
		echo "-- $name output:"
		grep -vE '^ok ' "$log" | sed 's/^/  | /' | tail -80
	fi
	if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
		# The layer died without saying which test failed: count it.
		echo "  not ok $name (exit status $rc)"
		nok=1
	fi
	passed=$((passed + ok))
	failed=$((failed + nok))
}

if [ "$(id -u)" -ne 0 ]; then
	echo "not ok tests need root (BPF, network namespaces)"
	echo "0 passed, 1 failed"
	exit 1
fi

run_layer headers make -s --no-print-directory BUILD="$BUILD" check-headers
run_layer unit "$BUILD/tests/unit_tests"
run_layer bpf "$BUILD/tests/bpf_tests"
for t in tests/fuzz/test_*.sh tests/cli/test_*.sh tests/e2e/test_*.sh tests/bench/test_*.sh; do
	[ -e "$t" ] || continue
	run_layer "$(basename "$(dirname "$t")")-$(basename "$t" .sh)" bash "$t"
done

rm -rf "$LOG_DIR"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
