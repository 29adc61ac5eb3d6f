#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The policy commands' contract, without traffic: `xct rules` and `xct set`
# exit 2 with a message for bad usage and bad input, 1 for what the system
# refuses; a bad rules file is reported as FILE:LINE:COL with its line and a
# caret and changes nothing; check validates only; show lists what runs, as
# text and JSON; set add/del/list change and read a running set.  xct runs
# attached in a namespace of its own under a private pin path.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
PY=/usr/bin/python3
ID="$$-$RANDOM"
NS="xct-rcli-$ID"
PEER="xct-rclip-$ID"
STATE=$(mktemp -d /tmp/xct-rules-cli.XXXXXX)
PIN="$STATE/bpf/xct"
. tests/cli/lib.sh

x() { ip netns exec "$NS" "$XCT" --pin-path "$PIN" "$@"; }

# rules_file NAME TEXT: writes $STATE/NAME.rules, prints its path.
rules_file() {
	printf '%s\n' "$2" >"$STATE/$1.rules"
	echo "$STATE/$1.rules"
}

mkdir -p "$STATE/bpf"
mount -t bpf bpf "$STATE/bpf" || {
	not_ok rules_cli_setup_bpffs
	exit 1
}
# xct's namespace has one interface, xc0, a veth whose other end (xp0) is
# in the peer namespace.
if ! cli_one_veth; then
	not_ok rules_cli_setup_namespaces
	exit 1
fi

GOOD=$(rules_file good 'set blocklist { 203.0.113.0/24, 2001:db8:bad::/48 }
set web_ports { 80, 443, 8000-8099 }
policy drop                                # for new connections no rule accepts
drop  saddr @blocklist                     # every packet, whatever its state
accept ct state established,related
drop  ct state invalid
accept tcp dport @web_ports
accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20
accept udp dport 53
accept icmp type echo-request
reject tcp dport 25                        # TCP RST; ICMP port unreachable for UDP
accept iif xc0 udp dport 123')
OTHER=$(rules_file other 'set peers { 192.0.2.0/24 }
policy accept
drop tcp dport 23
accept saddr @peers')

# ---- usage: exit 2 and a message ----

expect rules_usage_no_subcommand 2 "Usage: xct rules load FILE" "$XCT" rules
expect rules_usage_unknown_subcommand 2 "unknown rules command 'frob'" "$XCT" rules frob
expect rules_usage_load_no_file 2 "'rules load' takes one file" "$XCT" rules load
expect rules_usage_load_two_files 2 "'rules load' takes one file" "$XCT" rules load "$GOOD" "$OTHER"
expect rules_usage_check_no_file 2 "'rules check' takes one file" "$XCT" rules check
expect rules_usage_show_argument 2 "'rules show' takes no arguments" "$XCT" rules show extra
expect rules_usage_clear_argument 2 "'rules clear' takes no arguments" "$XCT" rules clear extra
expect rules_help 0 "xct rules check FILE" "$XCT" rules help
expect set_usage_no_subcommand 2 "Usage: xct set add NAME" "$XCT" set
expect set_usage_unknown_subcommand 2 "unknown set command 'frob'" "$XCT" set frob
expect set_usage_add_no_elements 2 "'set add' takes a name and elements" "$XCT" set add blocklist
expect set_usage_del_no_name 2 "'set del' takes a name and elements" "$XCT" set del
expect set_usage_list_two_names 2 "'set list' takes at most a name" "$XCT" set list a b

# ---- before attach ----

expect rules_check_without_attach 0 "good.rules: 9 rules, 2 sets, valid" x rules check "$GOOD"
expect rules_check_missing_file 2 "^/nonexistent.rules: error: cannot open rules file: No such file or directory" \
	x rules check /nonexistent.rules
expect rules_load_not_attached 1 "xct is not attached .*run 'xct attach' first" x rules load "$GOOD"

# Input is bounded: reading stops at the first NUL byte and at 64 MiB, so
# that a device or a wrong file cannot exhaust memory (the address space
# is limited below what reading /dev/zero to the end would take, so a
# reader without the bounds fails here instead of taking the machine).
# "-" is standard input, "<stdin>" in messages.
bounded() { (ulimit -v 1048576 && timeout 20 "$@"); }
expect rules_check_stdin 0 "^<stdin>: 1 rule, 0 sets, valid$" \
	bounded sh -c 'printf "accept tcp dport 22\n" | "$0" rules check -' "$XCT"
expect rules_check_stdin_error_location 2 "^<stdin>:2:18: error: invalid port range '1-'" \
	bounded sh -c 'printf "accept\naccept tcp dport 1-\n" | "$0" rules check -' "$XCT"
expect rules_check_dev_zero 2 "^/dev/zero:1:1: error: NUL byte" bounded "$XCT" rules check /dev/zero
expect rules_check_stops_at_nul 2 "^<stdin>:2:4: error: NUL byte" \
	bounded sh -c '{ printf "accept\nacc\0"; cat /dev/zero; } | "$0" rules check -' "$XCT"
expect rules_check_too_large 2 "^<stdin>: error: larger than 64 MiB, the most a rules file may hold$" \
	bounded sh -c 'yes "# a comment" | "$0" rules check -' "$XCT"
expect rules_check_at_the_limit 0 "^<stdin>: 0 rules, 0 sets, valid$" \
	bounded sh -c 'yes "# a comment" | head -c 67108864 | "$0" rules check -' "$XCT"
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\0\0\x01\0\0\0' >"$STATE/empty.pcap"
expect replay_rules_dev_zero 2 "^/dev/zero:1:1: error: NUL byte" \
	bounded "$XCT" replay "$STATE/empty.pcap" --rules /dev/zero
expect replay_rules_too_large 2 "^<stdin>: error: larger than 64 MiB" \
	bounded sh -c 'yes "# a comment" | "$0" replay "$1" --rules -' "$XCT" "$STATE/empty.pcap"
expect rules_show_not_attached 1 "xct is not attached" x rules show
expect set_list_not_attached 1 "xct is not attached" x set list
expect rules_show_not_root 1 "needs root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$XCT" --pin-path "$PIN" rules show

expect rules_cli_attach 0 "xc0: attached" x attach xc0 --mode generic
expect rules_show_before_load 0 "^no rules loaded: every packet is accepted$" x rules show
expect rules_show_json_before_load 0 '^\[\]$' x -j rules show

# ---- a good file ----

expect rules_load_good 0 "good.rules: 9 rules, 2 sets, loaded" x rules load "$GOOD"

# What the file holds, in order: "LINE TEXT" per rule, the policy first.
file_rules() {
	awk '{ sub(/[ \t]*#.*/, ""); sub(/^[ \t]+/, "") }
	     /^policy / { print NR " " $0; next }
	     $0 != "" && $1 != "set" { r[++n] = NR " " $0 }
	     END { for (i = 1; i <= n; i++) print r[i] }' "$1"
}

# What rules show lists, in the same shape.
shown_rules() {
	x rules show | grep -v "^set " | sed -E 's/^(.*[^ ]) +# line ([0-9]+): packets [0-9]+ bytes [0-9]+$/\2 \1/'
}

want=$(file_rules "$GOOD")
got=$(shown_rules)
if [ "$got" = "$want" ] && [ "$(wc -l <<<"$got")" = 10 ]; then
	ok rules_show_lists_every_rule_in_order
else
	echo "  want:" >&2
	sed 's/^/    /' <<<"$want" >&2
	echo "  got:" >&2
	sed 's/^/    /' <<<"$got" >&2
	not_ok rules_show_lists_every_rule_in_order
fi
expect rules_show_counters 0 "^accept tcp dport @web_ports +# line 7: packets 0 bytes 0$" x rules show

if x -j rules show | "$PY" -m json.tool >/dev/null; then
	ok rules_show_json_is_valid
else
	not_ok rules_show_json_is_valid
fi
json_lines() {
	x -j rules show | "$PY" -c '
import json, sys
rules = json.load(sys.stdin)
for r in rules:
    assert set(r) == {"line", "rule", "packets", "bytes"}, r
    assert isinstance(r["line"], int) and isinstance(r["packets"], int) and isinstance(r["bytes"], int)
    print(r["line"], r["rule"])'
}
check rules_show_json_fields [ "$(json_lines)" = "$want" ]

# ---- bad files: exit 2, FILE:LINE:COL, the line, a caret; nothing changes ----

RUNNING=$(x -j rules show)

# bad NAME TEXT LINE COL MESSAGE: loading the file fails with exactly
# this report, and the running rules stay as they were; checking it fails
# with the same report.
bad() {
	local name=$1 text=$2 line=$3 col=$4 msg=$5 f out rc src caret first
	f=$(rules_file "$name" "$text")
	src=$(sed -n "${line}p" "$f")
	# The caret sits under column col; tabs stay tabs so that it lines up.
	caret="    $(printf '%s' "${src:0:col-1}" | tr -c '\t' ' ')^"
	out=$(x rules load "$f" 2>&1 >/dev/null)
	rc=$?
	first=$(sed -n 1p <<<"$out")
	if [ "$rc" = 2 ] &&
		[ "$(sed -n 1p <<<"$out")" = "$f:$line:$col: error: $msg" ] &&
		[ "$(sed -n 2p <<<"$out")" = "    $src" ] &&
		[ "$(sed -n 3p <<<"$out")" = "$caret" ] &&
		[ "$(x -j rules show)" = "$RUNNING" ]; then
		ok "rules_bad_$name"
	else
		echo "  $f: exit $rc (want 2), want:" >&2
		printf '    %s\n' "$f:$line:$col: error: $msg" "    $src" "$caret" >&2
		echo "  got:" >&2
		sed 's/^/    /' <<<"$out" >&2
		[ "$(x -j rules show)" = "$RUNNING" ] || echo "  and the running rules changed" >&2
		not_ok "rules_bad_$name"
	fi
	# check reports what load reported.
	out=$(x rules check "$f" 2>&1)
	rc=$?
	if [ "$rc" = 2 ] && [ "$(sed -n 1p <<<"$out")" = "$first" ]; then
		ok "rules_check_bad_$name"
	else
		echo "  rules check $f: exit $rc, output: $out" >&2
		not_ok "rules_check_bad_$name"
	fi
}

bad unknown_keyword 'acept tcp dport 22' 1 1 "unknown keyword 'acept' (did you mean 'accept'?)"
bad unknown_set 'policy drop
accept tcp dport @nosuch' 2 18 "unknown set '@nosuch'"
bad set_kind_mismatch 'set ports { 80, 443 }
accept saddr @ports' 2 14 "set 'ports' holds ports, not addresses"
bad set_element_kind_mismatch 'set m { 10.0.0.0/8, 80 }' 1 21 "'80' is a port, but set 'm' holds addresses"
bad port_out_of_range 'accept tcp dport 70000' 1 18 "port 70000 is out of range (0-65535)"
bad host_bits_set 'accept saddr 10.0.0.1/8' 1 14 "host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)"
bad duplicate_match 'accept tcp dport 22 dport 23' 1 21 "'dport' given twice"
bad unterminated_brace 'policy drop
set x { 1, 2
accept tcp dport @x' 2 7 "unterminated '{' (opened at line 2)"
# The interface's name is what is wrong: the column points at it.
bad unknown_interface 'policy drop
accept iif nosuch0 tcp dport 22' 2 12 \
	"interface 'nosuch0' does not exist ('iifname nosuch0' matches it once it does)"
bad iif_wildcard 'accept iif "veth*"' 1 12 \
	"'iif' matches one interface by its index, without wildcards: 'iifname \"veth*\"' matches names"
bad ports_without_protocol 'accept icmp dport 22' 1 13 \
	"'dport' needs protocol 'tcp' or 'udp', but the rule matches 'icmp'"
bad late_error_with_tabs 'policy drop
accept ct state established

# a comment
	accept	tcp dport 22 limit 0/second' 5 28 "limit rate must be at least 1, got 0"
bad bad_policy 'policy maybe' 1 8 "expected 'accept' or 'drop' after 'policy', got 'maybe'"

expect rules_load_missing_file 2 "^$STATE/missing.rules: error: cannot open rules file: No such file or directory" \
	x rules load "$STATE/missing.rules"
expect rules_load_directory 2 "error: cannot read rules file: Is a directory" x rules load "$STATE"
expect rules_load_dev_zero 2 "^/dev/zero:1:1: error: NUL byte" bounded ip netns exec "$NS" \
	"$XCT" --pin-path "$PIN" rules load /dev/zero
expect rules_load_too_large 2 "^<stdin>: error: larger than 64 MiB" bounded sh -c \
	'yes "# a comment" | ip netns exec "$0" "$1" --pin-path "$2" rules load -' "$NS" "$XCT" "$PIN"
check rules_bad_files_change_nothing [ "$(x -j rules show)" = "$RUNNING" ]

# An error inside an included file is reported at its own FILE:LINE:COL,
# with its line; a missing one at the include.
mkdir -p "$STATE/inc"
printf 'accept udp dport 53

accept tcp dport 1-
' >"$STATE/inc/bad.part"
INC_BAD=$(rules_file inc_bad 'policy drop
include "inc/bad.part"')
expect rules_load_error_in_include 2 "^$STATE/inc/bad.part:3:18: error: invalid port range '1-'" \
	x rules load "$INC_BAD"
expect rules_error_in_include_shows_its_line 2 "^    accept tcp dport 1-$" x rules check "$INC_BAD"
INC_MISSING=$(rules_file inc_missing 'accept
  include "inc/none.part"')
expect rules_load_include_missing 2 \
	"^$INC_MISSING:2:11: error: cannot open '$STATE/inc/none.part': No such file or directory" \
	x rules load "$INC_MISSING"
check rules_include_errors_change_nothing [ "$(x -j rules show)" = "$RUNNING" ]

# ---- check validates only ----

expect rules_check_good 0 "other.rules: 2 rules, 1 sets?, valid" x rules check "$OTHER"
check rules_check_changes_nothing [ "$(x -j rules show)" = "$RUNNING" ]

# ---- sets ----

# covers SET ELEMENT: the running set holds ELEMENT (a port, or an
# address), whatever the listing's shape.
covers() {
	x set list "$1" | "$PY" -c '
import ipaddress, sys
e = sys.argv[1]
for line in sys.stdin.read().split():
    if "." in e or ":" in e:
        if ":" in line or "." in line:
            n = ipaddress.ip_network(line)
            a = ipaddress.ip_address(e)
            if a.version == n.version and a in n:
                sys.exit(0)
    else:
        lo, _, hi = line.partition("-")
        if int(lo) <= int(e) <= int(hi or lo):
            sys.exit(0)
sys.exit(1)' "$2"
}

expect set_list_all 0 "^blocklist +addr +2 elements$" x set list
expect set_list_all_ports 0 "^web_ports +port +[0-9]+ elements$" x set list
expect set_list_addresses 0 "^2001:db8:bad::/48$" x set list blocklist
# Ranges come back as they were written, and count as one element.
want_ports=$'80\n443\n8000-8099'
got_ports=$(x set list web_ports | sort -n)
if [ "$got_ports" = "$want_ports" ] && x set list | grep -Eq "^web_ports +port +3 elements$"; then
	ok set_list_port_ranges_listed_back
else
	echo "  set list web_ports: $(tr '\n' ' ' <<<"$got_ports")(want 80 443 8000-8099);" \
		"set list: $(x set list | grep web_ports)" >&2
	not_ok set_list_port_ranges_listed_back
fi
if x -j set list | "$PY" -c '
import json, sys
d = {s["name"]: s for s in json.load(sys.stdin)}
assert d["blocklist"]["kind"] == "addr" and d["blocklist"]["elements"] == 2, d
assert d["web_ports"]["kind"] == "port", d' &&
	x -j set list blocklist | "$PY" -c '
import json, sys
assert sorted(json.load(sys.stdin)) == ["2001:db8:bad::/48", "203.0.113.0/24"]'; then
	ok set_list_json
else
	not_ok set_list_json
fi
expect set_list_unknown 1 "no set 'nosuch' in the running rules" x set list nosuch

expect set_add_addresses 0 "" x set add blocklist 198.51.100.0/24 2001:db8:1::/48 192.0.2.7
check set_add_listed [ "$(x set list blocklist | sort)" = "$(printf '%s\n' 192.0.2.7 198.51.100.0/24 2001:db8:1::/48 2001:db8:bad::/48 203.0.113.0/24 | sort)" ]
expect set_add_counted 0 "^blocklist +addr +5 elements$" x set list
expect set_add_ports 0 "" x set add web_ports 9000-9099 22
check set_add_port_range_covers [ "$(covers web_ports 9050 && covers web_ports 22 && echo y)" = y ]
expect set_del_port_range 0 "" x set del web_ports 9000-9099
check set_del_port_range_removed [ "$(covers web_ports 9050 || covers web_ports 9000 || covers web_ports 9099 || echo gone)" = gone ]
expect set_del_addresses 0 "" x set del blocklist 198.51.100.0/24 192.0.2.7
check set_del_listed [ "$(x set list blocklist | sort)" = "$(printf '%s\n' 2001:db8:1::/48 2001:db8:bad::/48 203.0.113.0/24 | sort)" ]

expect set_add_host_bits 2 "set 'blocklist' holds addresses: host bits set in 198\.51\.100\.1/24 \(did you mean 198\.51\.100\.0/24\?\)" \
	x set add blocklist 198.51.100.1/24
expect set_add_port_to_addr_set 2 "set 'blocklist' holds addresses: invalid IPv4 address '80'" x set add blocklist 80
expect set_add_addr_to_port_set 2 "set 'web_ports' holds ports: invalid port '10\.0\.0\.1'" \
	x set add web_ports 10.0.0.1
expect set_add_port_out_of_range 2 "port 70000 is out of range \(0-65535\)" x set add web_ports 70000
expect set_add_reversed_range 2 "port range 90-80 is reversed \(did you mean 80-90\?\)" x set add web_ports 90-80
expect set_del_bad_element 2 "invalid IPv4 address 'nonsense'" x set del blocklist nonsense
# One bad element and nothing of the command is applied.
expect set_add_one_bad_element 2 "invalid IPv4 address 'bogus'" x set add blocklist 192.0.2.0/24 bogus
check set_add_one_bad_nothing_added [ "$(covers blocklist 192.0.2.1 || echo no)" = no ]
expect set_add_unknown_set 1 "no set 'nosuch' in the running rules" x set add nosuch 10.0.0.1
expect set_del_unknown_set 1 "no set 'nosuch' in the running rules" x set del nosuch 10.0.0.1

# A delete that leaves its element matched must not report success: 8050
# and 203.0.113.5 lie inside elements of the set (8000-8099,
# 203.0.113.0/24).
x set del web_ports 8050 >/dev/null 2>&1
rc=$?
if [ "$rc" != 0 ] || ! covers web_ports 8050; then
	ok set_del_inside_range_not_silent
else
	echo "  xct set del web_ports 8050: exit 0, but 8050 is still in the set:" \
		"$(x set list web_ports | tr '\n' ' ')" >&2
	not_ok set_del_inside_range_not_silent
fi
x set del blocklist 203.0.113.5 >/dev/null 2>&1
rc=$?
if [ "$rc" != 0 ] || ! covers blocklist 203.0.113.5; then
	ok set_del_inside_prefix_not_silent
else
	echo "  xct set del blocklist 203.0.113.5: exit 0, but 203.0.113.0/24 still holds it" >&2
	not_ok set_del_inside_prefix_not_silent
fi

# set changes last until the next load, which sets the sets from the file.
expect rules_reload_good 0 "loaded" x rules load "$GOOD"
check rules_reload_resets_sets [ "$(x set list blocklist | sort)" = "$(printf '%s\n' 2001:db8:bad::/48 203.0.113.0/24 | sort)" ]

# ---- variables, included files and comments ----

mkdir -p "$STATE/conf.d"
printf 'define web = { 80, 443 }\nset admins { 192.0.2.0/24 }\n' >"$STATE/conf.d/10-defs.part"
printf 'accept tcp dport 22 saddr @admins comment "ssh # admins"\n' >"$STATE/conf.d/20-ssh.part"
STRUCT=$(rules_file struct 'define lan = 10.0.0.0/8
include "conf.d/*.part"
policy drop
accept tcp dport $web saddr $lan   # the web, from the LAN')
expect rules_load_structured 0 "struct.rules: 2 rules, 1 sets?, loaded" x rules load "$STRUCT"
expect rules_show_expands_variables 0 \
	"^accept tcp dport \{ 80, 443 \} saddr 10.0.0.0/8 +# line 4: packets 0 bytes 0$" x rules show
expect rules_show_keeps_comment 0 '^accept tcp dport 22 saddr @admins comment "ssh # admins" +# line 1' \
	x rules show
# What show lists loads back as it is, without the variables and files.
x rules show | sed 's/ *# line.*//' >"$STATE/shown.rules"
expect rules_shown_structured_loads_back 0 "shown.rules: 2 rules, 1 sets?, valid" \
	x rules check "$STATE/shown.rules"

# ---- another file replaces it; clear ----

expect rules_load_other 0 "other.rules: 2 rules, 1 sets?, loaded" x rules load "$OTHER"
check rules_show_other [ "$(shown_rules)" = "$(file_rules "$OTHER")" ]
expect rules_load_other_drops_old_sets 0 "^peers +addr +1 elements$" x set list
expect rules_old_set_gone 1 "no set 'blocklist'" x set add blocklist 10.0.0.1
# No policy line: the default, accept, is listed at line 0.
NOPOL=$(rules_file nopolicy 'drop tcp dport 23')
expect rules_load_without_policy 0 "loaded" x rules load "$NOPOL"
expect rules_show_default_policy 0 "^policy accept +# line 0: packets 0 bytes 0$" x rules show

expect rules_clear 0 "rules cleared" x rules clear
expect rules_show_after_clear 0 "^no rules loaded: every packet is accepted$" x rules show
expect rules_show_json_after_clear 0 '^\[\]$' x -j rules show
check set_list_after_clear [ -z "$(x set list)" ]
expect set_add_after_clear 1 "no set 'peers'" x set add peers 10.0.0.1
load_stdin() { x rules load - <"$1"; }
expect rules_load_stdin 0 "^<stdin>: 9 rules, 2 sets, loaded$" load_stdin "$GOOD"
expect rules_show_after_stdin_load 0 "saddr @blocklist" x rules show
expect rules_load_after_clear 0 "loaded" x rules load "$GOOD"
check rules_show_after_reload [ "$(shown_rules)" = "$want" ]

# Writers take turns through a flock on the pin directory: a load waits
# while another writer holds it (here flock(1), for 1.5 s), then loads.
flock "$PIN" sleep 1.5 &
holder=$!
poll_locked() { ! flock -n "$PIN" true; }
for _ in $(seq 50); do poll_locked && break; sleep 0.02; done
t0=$(date +%s%N)
x rules load "$GOOD" >/dev/null
rc=$?
waited=$((($(date +%s%N) - t0) / 1000000))
wait "$holder"
if [ "$rc" = 0 ] && [ "$waited" -ge 1000 ]; then
	ok rules_load_waits_for_another_writer
else
	echo "  rules load: exit $rc after $waited ms (want 0, after at least 1000 ms)" >&2
	not_ok rules_load_waits_for_another_writer
fi

expect rules_cli_detach 0 "" x detach --all
[ "$failures" -eq 0 ]
