#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fuzzes the rules-file parser for a bounded time with libFuzzer, ASan and
# UBSan (tests/fuzz/fuzz_rules.c checks the parser's invariants), starting
# from the seed corpus in tests/fuzz/corpus/rules.  Prints one line,
# "ok fuzz_rules" or, after the crash report, "not ok fuzz_rules"; a crashing
# input is kept as $BUILD/tests/fuzz_rules.crash-* to replay with
# "$BUILD/tests/fuzz_rules FILE".  Needs clang and libclang-rt-14-dev, no root.
set -u
cd "$(dirname "$0")/../.."

BUILD=${BUILD:-build}
BIN="$BUILD/tests/fuzz_rules"
WORK=$(mktemp -d /tmp/xct-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() {
	echo "$1"
	[ -s "$WORK/log" ] && tail -n 60 "$WORK/log"
	echo "not ok fuzz_rules"
	exit 1
}

mkdir -p "$BUILD/tests" || fail "cannot create $BUILD/tests"
# -fno-sanitize-recover: UBSan aborts, so undefined behaviour is a crash.
if ! clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1 \
	-Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Isrc \
	tests/fuzz/fuzz_rules.c src/rules/parse.c src/rules/chains.c -o "$BIN" >"$WORK/log" 2>&1; then
	fail "fuzz_rules: build failed (clang with libFuzzer: libclang-rt-14-dev)"
fi

# libFuzzer adds what it finds to the corpus directory: work on a copy.
mkdir "$WORK/corpus"
cp tests/fuzz/corpus/rules/* "$WORK/corpus/"

# The language's words, so the fuzzer composes rules rather than bytes.
cat >"$WORK/rules.dict" <<'EOF'
"set"
"policy"
"accept"
"drop"
"reject"
"notrack"
"addr"
"port"
"iif"
"oif"
"iifname"
"oifname"
"with"
"reset"
"icmpx"
"admin-prohibited"
"ttl"
"hoplimit"
"dscp"
"th"
"protocol"
"<="
">"
"\"veth*\""
"ip"
"ip6"
"tcp"
"udp"
"icmp"
"icmpv6"
"meta"
"l4proto"
"sctp"
"saddr"
"daddr"
"sport"
"dport"
"flags"
"syn"
"ack"
"fin"
"rst"
"type"
"code"
"echo-request"
"nd-neighbor-solicit"
"ct"
"state"
"established"
"related"
"invalid"
"new"
"untracked"
"mark"
"meta"
"set"
"status"
"continue"
"and"
"or"
"xor"
"0xffffffff"
"seen-reply"
"assured"
"dnat"
"limit"
"rate"
"burst"
"packets"
"bytes"
"kbytes/second"
"mbytes/minute"
"/second"
"/hour"
"per"
"log"
"counter"
"chain"
"jump"
"goto"
"return"
"vmap"
"map"
"inet_service"
"ipv4_addr"
"verdict"
"elements"
":"
"!="
"=="
"&"
"|"
"("
")"
"{"
"}"
","
";"
"#"
"@"
"\x0a"
"\x0d\x0a"
"\""
"10.0.0.0/8"
"192.0.2.1"
"2001:db8::/32"
"::1"
"/128"
"8000-8099"
"65535"
"65536"
EOF

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$BIN" -max_total_time=20 -timeout=5 -max_len=4096 -rss_limit_mb=2048 \
	-dict="$WORK/rules.dict" -artifact_prefix="$BUILD/tests/fuzz_rules." \
	-print_final_stats=1 "$WORK/corpus" >"$WORK/log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	fail "fuzz_rules: libFuzzer exited with status $rc"
fi
echo "ok fuzz_rules"
