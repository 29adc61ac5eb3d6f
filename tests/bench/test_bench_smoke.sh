#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The benchmark's smoke run: every step of `make bench` (namespaces, trafgen,
# the peers, xct, the report generator) with tiny counts and one repeat, so
# that the benchmark cannot rot.  It measures nothing worth keeping and
# leaves docs/BENCHMARKS.md alone.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
log=$(mktemp /tmp/xct-bench-smoke.XXXXXX)
t0=$SECONDS
if BUILD=$BUILD timeout 420 bench/run.sh --smoke >"$log" 2>&1; then
	echo "# bench smoke run: $((SECONDS - t0)) s"
	echo "ok bench_smoke"
	rc=0
else
	tail -60 "$log" | sed 's/^/# /'
	echo "not ok bench_smoke"
	rc=1
fi
rm -f "$log"
exit $rc
