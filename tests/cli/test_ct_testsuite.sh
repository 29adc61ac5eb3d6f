#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The cases of conntrack-tools' own testsuite (tests/cli/ct_testsuite/,
# from its tests/conntrack/testsuite), each run as `conntrack ARGS` on the
# kernel's table and as `xct ct ARGS` on xct's: both must give the outcome
# the case expects (OK: exit 0; BAD: a failure), exit alike and list the
# same entries (tests/cli/ct_same.sh).
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
ID="$$-$RANDOM"
NS="xct-cts-$ID"
PEER="xct-ctsk-$ID"
STATE=$(mktemp -d /tmp/xct-ct-testsuite.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh

SAME_PREFIX="ct testsuite"
. tests/cli/ct_same.sh
same_setup

# A case: ARGS ; OK|BAD, or ARGS ; OK|BAD ; xct OK|BAD where xct's outcome
# differs for a reason docs/ and xct(8) give (the case's comment says
# which): then each tool must give its own outcome.
outcome() { if [ "$1" -eq 0 ]; then echo OK; else echo BAD; fi; }
cases=0
for f in tests/cli/ct_testsuite/*; do
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		case $line in '#'* | '') continue ;; esac
		IFS=';' read -r args want xwant <<<"$line"
		want=$(tr -d ' ' <<<"$want")
		xwant=$(sed -e 's/^ *xct *//' -e 's/ *$//' <<<"${xwant:-$want}")
		read -r -a argv <<<"$args"
		name="$(basename "$f"):$n: ${args% }"
		case "$want $xwant" in
		"OK OK" | "BAD BAD" | "OK BAD" | "BAD OK") ;;
		*)
			not_ok "$SAME_PREFIX: $name: the case ends in neither OK nor BAD"
			continue
			;;
		esac
		cases=$((cases + 1))
		if [ "$want" = "$xwant" ]; then
			same "$name" "${argv[@]}"
			krc=$SAME_KRC xrc=$SAME_XRC
		else
			k "${argv[@]}" >/dev/null 2>&1
			krc=$?
			x ct "${argv[@]}" >/dev/null 2>&1
			xrc=$?
		fi
		if [ "$(outcome "$krc")" = "$want" ] && [ "$(outcome "$xrc")" = "$xwant" ]; then
			ok "$SAME_PREFIX: $name: conntrack $want, xct $xwant"
		else
			echo "  conntrack exit $krc (wants $want), xct exit $xrc (wants $xwant)" >&2
			not_ok "$SAME_PREFIX: $name: conntrack $want, xct $xwant"
		fi
	done <"$f"
done
# Every file was read: a testsuite that went missing must not pass.
check "ct testsuite: $cases cases run" test "$cases" -ge 29
[ "$failures" -eq 0 ]
