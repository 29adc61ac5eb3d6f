#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Every command and subcommand takes --help (and -h): its usage on stdout,
# nothing on stderr, exit status 0, and nothing done.  The list is read
# from xct's own help (the commands from `xct --help`, each command's
# subcommands from the Usage lines of `xct CMD --help`), so a new command
# is covered without touching this file.  --help also wins when it follows
# arguments that would act (a rules file, set elements, an interface,
# --all): xct runs attached in a namespace of its own with rules, a set
# and a connection, and what status, rules show, set list, ct list and the
# pin directory say must be the same after every call.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
ID="events-$$-$RANDOM"
NS="xct-help-$ID"
PEER="xct-helpp-$ID"
STATE=$(mktemp -d /tmp/xct-help.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh

x() { ip netns exec "$NS" "$XCT" --pin-path "$PIN" "$@"; }

# What a --help must not change.  The collector's line of status and a
# connection's timeout move by themselves, so they are left out.
snapshot() {
	x status 2>&1 | grep -v '^gc:'
	x rules show 2>&1
	x set list 2>&1
	x set list peers 2>&1
	x ct list 2>/dev/null | awk '{$3 = ""; print}'
	ls -l "$PIN" | awk '{print $1, $NF}'
}

mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf" || {
	not_ok help_setup_bpffs
	exit 1
}
if ! cli_one_veth || ! ip -n "$NS" addr add 10.67.0.1/24 dev xc0 ||
	! ip -n "$PEER" addr add 10.67.0.2/24 dev xp0; then
	not_ok help_setup_namespaces
	exit 1
fi
printf 'set peers { 192.0.2.0/24 }\naccept saddr @peers\naccept icmp\n' >"$STATE/a.rules"
printf 'policy drop\n' >"$STATE/b.rules"
if ! x attach xc0 --mode generic >/dev/null || ! x rules load "$STATE/a.rules" >/dev/null ||
	! ip netns exec "$NS" ping -c 1 -W 2 10.67.0.2 >/dev/null; then
	not_ok help_setup_attach
	exit 1
fi
before=$(snapshot)
grep -q "icmp" <<<"$before" && grep -q "^192.0.2.0/24$" <<<"$before" || {
	not_ok help_setup_connection
	exit 1
}

# The commands: the first word of each line of the "Commands:" block.
mapfile -t commands < <("$XCT" --help | awk '/^Commands:/ {on = 1; next} on && /^$/ {exit}
	on {print $1}')
# subcommands CMD: the words of "xct CMD a|b ..." in its Usage lines
# (continuation lines are indented to line up with "Usage: ").
subcommands() {
	"$XCT" "$1" --help 2>/dev/null |
		sed -nE "s/^(Usage: |       )xct $1 ([a-z][a-z|]*)( .*)?$/\2/p" | tr '|' '\n'
}

calls=()
for c in "${commands[@]}"; do
	calls+=("$c")
	while read -r s; do
		[ -n "$s" ] && calls+=("$c $s")
	done < <(subcommands "$c")
done
# Arguments that would act, with --help after them.
calls+=("rules load $STATE/b.rules" "rules check $STATE/b.rules" "set add peers 198.51.100.1"
	"set del peers 192.0.2.0/24" "detach --all" "detach xc0" "ct flush" "ct delete -p icmp"
	"attach --replace xc0" "rules clear")

n_sub=0
for call in "${calls[@]}"; do
	[[ "$call" == *" "* ]] && n_sub=$((n_sub + 1))
done
# attach, detach, status, ct, rules, set, events, replay, trace, version at
# least; ct's seven, rules' four, set's three and trace's two subcommands.
if [ "${#commands[@]}" -ge 10 ] && [ "$n_sub" -ge 16 ]; then
	ok help_list_from_xct_help
else
	not_ok help_list_from_xct_help
	echo "#   commands: ${commands[*]}; $n_sub subcommands and calls" >&2
fi

bad=0
for call in "${calls[@]}"; do
	cmd=${call%% *}
	for flag in --help -h; do
		# shellcheck disable=SC2086 # the call's words
		out=$(x $call $flag 2>"$STATE/err")
		rc=$?
		if [ "$rc" != 0 ] || [ -s "$STATE/err" ] || ! grep -qE "^(Usage:| {6}) xct $cmd( |$)" <<<"$out"; then
			bad=$((bad + 1))
			echo "#   xct $call $flag: exit $rc, stdout: $(head -1 <<<"$out"), stderr: $(head -1 "$STATE/err")" >&2
		fi
	done
done
if [ "$bad" = 0 ]; then ok help_every_command_prints_usage_and_exits_0; else not_ok help_every_command_prints_usage_and_exits_0; fi

after=$(snapshot)
if [ "$before" = "$after" ]; then
	ok help_changes_nothing
else
	not_ok help_changes_nothing
	diff <(echo "$before") <(echo "$after") | sed 's/^/#   /' >&2
fi

# The top level: xct --help, -h and help.
bad=0
for h in --help -h help; do
	out=$("$XCT" $h 2>"$STATE/err")
	rc=$?
	[ "$rc" = 0 ] && [ ! -s "$STATE/err" ] && grep -q "^Usage: xct \[OPTIONS\] COMMAND" <<<"$out" || bad=1
done
if [ "$bad" = 0 ]; then ok help_top_level; else not_ok help_top_level; fi

[ "$failures" -eq 0 ]
