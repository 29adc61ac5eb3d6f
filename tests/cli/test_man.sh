#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The man pages (man/*.scd, built into build/man by make):
#
#   1. each renders with `man --warnings -l` at 80 columns without a
#      warning, and has its NAME, SYNOPSIS and SEE ALSO;
#   2. every command and subcommand of `xct --help` appears in xct(8);
#   3. every long option of `xct --help` and of each command's --help
#      appears in xct(8);
#   4. every tunable name xct accepts appears in xct.conf(5).
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
PAGES="xct.8 xct.rules.5 xct.conf.5 xctd.8"
failures=0
ok() { echo "ok $1"; }
not_ok() {
	echo "not ok $1"
	failures=$((failures + 1))
}

render() { MANWIDTH=${2:-80} man --warnings -l "build/man/$1" 2>"$STATE/warn"; }
STATE=$(mktemp -d /tmp/xct-man-service.XXXXXX)
trap 'rm -rf "$STATE"' EXIT

for p in $PAGES; do
	if [ ! -f "build/man/$p" ]; then
		not_ok "man: $p is built (make all)"
		continue
	fi
	text=$(render "$p")
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$STATE/warn" ] && grep -q "^NAME" <<<"$text" &&
		grep -q "^SYNOPSIS" <<<"$text" && grep -q "^SEE ALSO" <<<"$text" &&
		grep -q "^       ${p%.*} - " <<<"$text"; then
		ok "man: $p renders without warnings"
	else
		sed 's/^/  /' "$STATE/warn" >&2
		not_ok "man: $p renders without warnings"
	fi
done

page=$(render xct.8 200)
# The commands: "  NAME SUB|SUB ... | SUB ...", up to the description.
missing=""
while read -r cmd; do
	grep -qF -- "$cmd" <<<"$page" || missing+=" '$cmd'"
done < <("$XCT" --help | /usr/bin/python3 -c '
import re, sys
text = sys.stdin.read()
block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
for line in block.splitlines():
    syntax = re.split(r"\s{2,}", line.strip())[0]
    words = syntax.split()
    cmd = words[0]
    print(cmd)
    for i, seg in enumerate(syntax.split(" | ")):
        toks = seg.split()
        first = toks[1] if i == 0 and len(toks) > 1 else (toks[0] if i > 0 else "")
        if first.startswith("--"):
            print(first)
        elif re.fullmatch(r"[a-z|-]+", first):
            for sub in first.split("|"):
                print(cmd + " " + sub)
')
if [ -z "$missing" ] && [ -n "$page" ]; then ok "man: every command of xct --help is in xct(8)"; else
	echo "  missing:$missing" >&2
	not_ok "man: every command of xct --help is in xct(8)"
fi

missing=""
for c in "" attach detach status up "ct help" "rules help" "set help" events replay trace; do
	# shellcheck disable=SC2086
	"$XCT" $c --help 2>/dev/null
done | grep -oE -- '(^|[ ,[(])--[a-z][a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u >"$STATE/opts"
while read -r o; do
	grep -qF -- "$o" <<<"$page" || missing+=" $o"
done <"$STATE/opts"
if [ -z "$missing" ] && [ "$(wc -l <"$STATE/opts")" -gt 30 ]; then
	ok "man: every option of every command's --help is in xct(8)"
else
	echo "  missing:$missing" >&2
	not_ok "man: every option of every command's --help is in xct(8)"
fi

conf=$(render xct.conf.5 200)
missing=""
for k in $(grep -oE '"nf_conntrack_[a-z0-9_]+"' include/xct/timeouts.h | tr -d '"') \
	pin-path rules table-size events-ring-size socket metrics-listen ipfix-collector \
	ipfix-domain flow-log flow-log-max-size mode; do
	grep -qF -- "$k" <<<"$conf" || missing+=" $k"
done
if [ -z "$missing" ]; then ok "man: every key of xct.conf is in xct.conf(5)"; else
	echo "  missing:$missing" >&2
	not_ok "man: every key of xct.conf is in xct.conf(5)"
fi

[ "$failures" -eq 0 ]
