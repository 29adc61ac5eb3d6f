#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Replay speed: a capture of established TCP traffic (bench/replay_capture.py,
# 1,000,000 packets of 16 connections by default) through `xct replay`,
# batched (the default) and --per-packet, three runs each, interleaved.
# Prints a Markdown table of packets per second (replay time only, as xct
# replay reports it: the verifier's load is not counted).  Needs root.
#   bench/replay_bench.sh [PACKETS] [FLOWS]
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
XCT=${XCT:-$BUILD/xct}
PACKETS=${1:-1000000}
FLOWS=${2:-16}
WORK=$(mktemp -d /tmp/xct-replay-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

/usr/bin/python3 bench/replay_capture.py "$WORK/est.pcap" "$PACKETS" "$FLOWS"
declare -A pps
for run in 1 2 3; do
	for mode in batched per-packet; do
		args=()
		[ "$mode" = per-packet ] && args=(--per-packet)
		line=$("$XCT" replay "${args[@]}" "$WORK/est.pcap" | grep '^# replay of')
		pps[$mode]+="$(echo "$line" | sed -n 's/.*(\([0-9]*\) packets\/s).*/\1/p') "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | sed -n 2p; }
echo "| mode | packets/s, median of 3 | runs |"
echo "|---|---|---|"
for mode in batched per-packet; do
	echo "| $mode | $(echo "${pps[$mode]}" | median) | ${pps[$mode]}|"
done
