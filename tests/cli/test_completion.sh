#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The bash completion (completion/xct), driven as bash drives it: with
# bash-completion loaded, `complete -p xct` names _xct, and _xct given
# COMP_WORDS and COMP_CWORD offers the commands, the subcommands, the
# options of a command, the interfaces of the namespace, the sets of the
# running rules and conntrack's TCP states.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
ID="$$-$RANDOM"
NS="xct-comp-service-$ID"
PEER="xct-compp-service-$ID"
STATE=$(mktemp -d /tmp/xct-comp-service.XXXXXX)
PIN="$STATE/bpf/xct"
COMPLETION=$PWD/completion/xct
. tests/cli/lib.sh

# complete_words WORD...: what _xct offers for the last WORD (the words
# before it typed out), one per line, sorted; in the namespace.
complete_words() {
	ip netns exec "$NS" bash -c '
		source /usr/share/bash-completion/bash_completion || exit 1
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_${COMP_WORDS[0]##*/} "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort
	' _ "$COMPLETION" "$@"
}

# offers NAME WANT WORD...: the completions of WORD... are exactly WANT
# (words separated by spaces).
offers() {
	local name=$1 want=$2 got
	shift 2
	got=$(complete_words "$@" | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then ok "$name"; else
		echo "  $*: got '$got', want '$want'" >&2
		not_ok "$name"
	fi
}

cli_one_veth || { not_ok "completion: namespaces"; exit 1; }
ip -n "$NS" link add xcbr0 type bridge || { not_ok "completion: bridge"; exit 1; }
mkdir -p "$STATE/bpf" && mount -t bpf bpf "$STATE/bpf" || { not_ok "completion: bpffs"; exit 1; }

got=$(ip netns exec "$NS" bash -c 'source /usr/share/bash-completion/bash_completion &&
	source "$1" && complete -p xct' _ "$COMPLETION")
check "completion: complete -p xct names _xct" test "$got" = "complete -F _xct xct"

offers "completion: commands by prefix" "reload replay" xct re
offers "completion: every command" \
	"attach attach-cgroup ct detach detach-cgroup down events help reload replay rules set set-timeout status sync timeouts trace up version" \
	xct ""
offers "completion: global options" "--pin-path" xct --pi
offers "completion: ct subcommands" "count create delete events flush get help list restore save stats update" xct ct ""
offers "completion: sync subcommands" "commit flush help purge resync stats" xct sync ""
offers "completion: options of attach" "--max-entries --mode" xct attach --m
offers "completion: modes" "generic native tc" xct attach xc0 --mode ""
offers "completion: interfaces of the namespace" "xc0 xcbr0" xct attach xc
offers "completion: interfaces after other words" "xc0 xcbr0" xct --pin-path "$PIN" detach xc
offers "completion: TCP states" "CLOSE CLOSE_WAIT" xct ct list -p tcp --state CL
offers "completion: states after the subcommand's options" "ESTABLISHED" \
	xct ct events -e NEW --state E
offers "completion: options of up" "--config" xct up --c
offers "completion: cgroup commands by prefix" "attach-cgroup" xct attach-
offers "completion: ct list's formats" "process" xct ct list -o p
offers "completion: ct get's formats" "json" xct ct get -o j
mkdir -p "$STATE/cg/owners" "$STATE/cg/other"
offers "completion: a cgroup directory" "$STATE/cg/owners" xct attach-cgroup "$STATE/cg/ow"
offers "completion: one cgroup only" "" xct detach-cgroup "$STATE/cg/owners" ""
offers "completion: tunable names" "nf_conntrack_tcp_timeout_established" \
	xct set-timeout nf_conntrack_tcp_timeout_e
offers "completion: no name for the value" "" xct set-timeout nf_conntrack_udp_timeout ""
offers "completion: tunable names by prefix" "nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream" \
	xct set-timeout nf_conntrack_udp

# xctd's options and the sync link's values.
got=$(ip netns exec "$NS" bash -c 'source /usr/share/bash-completion/bash_completion &&
	source "$1" && complete -p xctd' _ "$COMPLETION")
check "completion: complete -p xctd names _xctd" test "$got" = "complete -F _xctd xctd"
offers "completion: xctd's sync options" "--sync-commit-on-receive --sync-ignore-address --sync-interface --sync-listen --sync-mode --sync-multicast --sync-peer --sync-state-accept --sync-transport" xctd --sync-
offers "completion: xctd's sync transports" "multicast tcp udp" xctd --sync-transport ""
offers "completion: xctd's sync modes" "ftfw" xctd --sync-mode f
offers "completion: xctd's rule log" "journal off" xctd --rule-log ""
offers "completion: xctd's sync interface" "xc0 xcbr0" xctd --sync-multicast 225.0.0.50:3780 --sync-interface xc
offers "completion: nothing for a group" "" xctd --sync-multicast ""

# Set names come from the running rules under the pin path given.
ip netns exec "$NS" "$XCT" --pin-path "$PIN" attach --mode generic xc0 >/dev/null ||
	not_ok "completion: attach"
printf 'set blocklist { 192.0.2.0/24 }\nset web_ports { 80, 443 }\nset backends { 10.0.0.1 }\n' |
	ip netns exec "$NS" "$XCT" --pin-path "$PIN" rules load - >/dev/null ||
	not_ok "completion: rules load"
offers "completion: set names of the running rules" "backends blocklist" \
	"$XCT" --pin-path "$PIN" set add b
offers "completion: every set name" "backends blocklist web_ports" \
	"$XCT" --pin-path "$PIN" set list ""

[ "$failures" -eq 0 ]
