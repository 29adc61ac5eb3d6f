#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fuzzes xct replay's capture reader (src/replay/capture.c, over libpcap's
# pcap and pcapng parsers) for a bounded time with libFuzzer, ASan and UBSan
# (tests/fuzz/fuzz_pcap.c checks the reader's promises), starting from the
# seed corpus in tests/fuzz/corpus/pcap: one capture of each link type and a
# pcapng.  Prints one line, "ok fuzz_pcap" or, after the crash report,
# "not ok fuzz_pcap"; a crashing input is kept as
# $BUILD/tests/fuzz_pcap.crash-* to replay with "$BUILD/tests/fuzz_pcap FILE".
# Needs clang, libclang-rt-14-dev and libpcap-dev, no root.
set -u
cd "$(dirname "$0")/../.."

BUILD=${BUILD:-build}
BIN="$BUILD/tests/fuzz_pcap"
WORK=$(mktemp -d /tmp/xct-fuzz-pcap.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() {
	echo "$1"
	[ -s "$WORK/log" ] && tail -n 60 "$WORK/log"
	echo "not ok fuzz_pcap"
	exit 1
}

mkdir -p "$BUILD/tests" || fail "cannot create $BUILD/tests"
# -fno-sanitize-recover: UBSan aborts, so undefined behaviour is a crash.
if ! clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1 \
	-Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc \
	tests/fuzz/fuzz_pcap.c src/replay/capture.c -lpcap -o "$BIN" >"$WORK/log" 2>&1; then
	fail "fuzz_pcap: build failed (clang with libFuzzer: libclang-rt-14-dev; libpcap-dev)"
fi

# libFuzzer adds what it finds to the corpus directory: work on a copy.
mkdir "$WORK/corpus"
cp tests/fuzz/corpus/pcap/* "$WORK/corpus/"

# The formats' magic numbers and block types, so the fuzzer gets past them.
cat >"$WORK/pcap.dict" <<'DICT'
"\xd4\xc3\xb2\xa1"
"\xa1\xb2\xc3\xd4"
"\x4d\x3c\xb2\xa1"
"\x0a\x0d\x0d\x0a"
"\x4d\x3c\x2b\x1a"
"\x1a\x2b\x3c\x4d"
"\x01\x00\x00\x00"
"\x06\x00\x00\x00"
"\x03\x00\x00\x00"
"\x71\x00\x00\x00"
"\x14\x01\x00\x00"
"\x65\x00\x00\x00"
"\x08\x00"
"\x86\xdd"
"\x81\x00"
"\x45"
"\x60"
"\x00\x04"
"\xff\xff\x00\x00"
DICT

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$BIN" -max_total_time=20 -timeout=5 -max_len=8192 -rss_limit_mb=2048 \
	-dict="$WORK/pcap.dict" -artifact_prefix="$BUILD/tests/fuzz_pcap." \
	-print_final_stats=1 "$WORK/corpus" >"$WORK/log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	fail "fuzz_pcap: libFuzzer exited with status $rc"
fi
echo "ok fuzz_pcap"
