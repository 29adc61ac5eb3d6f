#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Who holds an interface's hooks, and whether they are still there.
#
#   1. a second xct instance (another --pin-path) on an interface the first
#      holds is refused, in every mode, with the first's state directory
#      named, and changes nothing: the first's programs stay, its detach
#      touches nothing of the first's, and the first still tracks;
#   2. an interface with another tool's XDP program, or with another
#      program's filter at xct's TC handle, is refused with the holder
#      named; with --mode tc another tool's XDP program may stay, and
#      detach leaves it, and another tool's filter keeps the clsact qdisc
#      xct created;
#   3. `xct status` asks the kernel: a detached XDP link, an unpinned link,
#      a deleted clsact qdisc and a filter replaced at xct's handle are
#      each shown as MISSING, in text and JSON, with exit status 1; attach
#      --replace refuses to swap a hook that is not xct's, and detach
#      leaves that filter where it is;
#   4. an older xct's interface registry (16-byte entries) is taken over by
#      attach --replace;
#   5. NAT bindings pinned with another layout refuse the upgrade: attach
#      --replace changes nothing, and a translated connection carries on.
# Each check prints its own ok / not ok line.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OBJ=${XCT_TEST_XDP_OBJ:-$REPO_DIR/build/bench/xdp_drop.bpf.o}
PIN_B=""
failures=0
TICK_DIR=""

hooks_cleanup() {
	kill_in_ns "$NS_C" "$NS_S"
	[ -n "$PIN_B" ] && xct_b detach --all >/dev/null 2>&1
	e2e_cleanup
	[ -n "$TICK_DIR" ] && rm -rf "$TICK_DIR"
}
trap hooks_cleanup EXIT

xct_b() { ip netns exec "$NS_R" "$XCT" --pin-path "$PIN_B" "$@"; }

# kernel_hooks IFACE: the programs on IFACE as the kernel has them.
kernel_hooks() {
	local xdp in eg
	xdp=$(in_ns "$NS_R" ip -d link show dev "$1" | grep -oE 'prog/xdp[a-z]* id [0-9]+' |
		grep -oE '[0-9]+$')
	in=$(in_ns "$NS_R" tc filter show dev "$1" ingress 2>/dev/null |
		grep -oE 'handle 0x7c7 .* id [0-9]+' | grep -oE '[0-9]+$')
	eg=$(in_ns "$NS_R" tc filter show dev "$1" egress 2>/dev/null |
		grep -oE 'handle 0x7c7 .* id [0-9]+' | grep -oE '[0-9]+$')
	echo "xdp=${xdp:-none} in=${in:-none} eg=${eg:-none}"
}

# status_json EXPR: python expression over the -j status object `d`.
status_json() {
	xct_r -j status 2>/dev/null | "$PYTHON" -c \
		'import json, sys; d = json.load(sys.stdin); sys.exit(0 if ('"$1"') else 1)'
}

# reattach IFACE: the first instance's hooks on IFACE made afresh.
reattach() {
	xct_r detach "$1" >/dev/null 2>&1
	xct_r attach --mode native "$1" >/dev/null
}

icmp_tracked() {
	xct_r ct list -p icmp -s "$C4" -d "$S4" 2>/dev/null | grep -q "packets=2 "
}

[ -r "$OBJ" ] || {
	echo "not ok hooks_setup (no XDP object $OBJ: run make all)"
	exit 1
}
setup_topology || {
	echo "not ok hooks_setup (topology)"
	exit 1
}
mount_pin_fs || {
	echo "not ok hooks_setup (bpffs)"
	exit 1
}
PIN_B="$PIN_ROOT/other"
# Two spare interfaces in the router for other tools' programs.
ip link add hk-x0 netns "$NS_R" type veth peer name hk-x1 netns "$NS_R" &&
	in_ns "$NS_R" ip link set hk-x0 up && in_ns "$NS_R" ip link set hk-x1 up || {
	echo "not ok hooks_setup (spare veth)"
	exit 1
}
xct_attach native >/dev/null || {
	echo "not ok hooks_setup (attach)"
	exit 1
}

# 1. A second instance.
expect status_all_hooks_there 0 "veth-r-s \(ifindex [0-9]+\): ingress xdp native \(prog [0-9]+\), egress tc \(prog [0-9]+\)$" \
	xct_r status
before_c=$(kernel_hooks veth-r-c)
before_s=$(kernel_hooks veth-r-s)
expect second_instance_refused 1 \
	"cannot attach to veth-r-c: its XDP hook is held by the xct instance with its state in $XCT_PIN \(program xct_xdp, id [0-9]+\)" \
	xct_b attach veth-r-c
expect second_instance_refused_generic 1 "held by the xct instance with its state in $XCT_PIN" \
	xct_b attach --mode generic veth-r-s
expect second_instance_refused_tc 1 "held by the xct instance with its state in $XCT_PIN" \
	xct_b attach --mode tc veth-r-c
expect second_instance_has_nothing_to_detach 1 "not attached" xct_b detach veth-r-c
after="$(kernel_hooks veth-r-c) $(kernel_hooks veth-r-s)"
check second_instance_changed_nothing "$([ "$after" = "$before_c $before_s" ] && echo 0 || echo 1)" \
	"hooks were '$before_c $before_s', now '$after'"
xct_r ct flush >/dev/null 2>&1
in_ns "$NS_C" ping -c 2 -i 0.2 -W 2 "$S4" >/dev/null 2>&1
poll 5 icmp_tracked
check first_instance_still_tracks $? "$(xct_r ct list -p icmp 2>&1 | tr '\n' '|')"
expect status_still_ok_after_second 0 "veth-r-c \(ifindex [0-9]+\): .*\(prog [0-9]+\)$" xct_r status

# 2. Other tools' programs.
in_ns "$NS_R" ip link set dev hk-x0 xdpgeneric obj "$OBJ" sec xdp || check hooks_setup_xdp 1
xdp_x0=$(kernel_hooks hk-x0)
expect other_xdp_program_refused 1 \
	"cannot attach to hk-x0: its XDP hook is held by program xdp_drop_all \(id [0-9]+\)" \
	xct_b attach hk-x0
expect other_xdp_program_refused_generic 1 "held by program xdp_drop_all" \
	xct_b attach --mode generic hk-x0
expect tc_mode_beside_other_xdp 0 "hk-x0: attached \(ingress tc, egress tc\)" \
	xct_b attach --mode tc hk-x0
# Another tool's filter, at its own priority, on the qdisc xct created.
in_ns "$NS_R" tc filter add dev hk-x0 ingress pref 100 handle 0x64 bpf da obj "$OBJ" sec xdp ||
	check hooks_setup_other_filter 1
expect tc_mode_detach 0 "hk-x0: detached" xct_b detach hk-x0
now=$(kernel_hooks hk-x0)
check detach_leaves_other_xdp "$([ "${now%% *}" = "${xdp_x0%% *}" ] && [ "${now%% *}" != xdp=none ] && echo 0 || echo 1)" \
	"before '$xdp_x0', after '$now'"
in_ns "$NS_R" tc filter show dev hk-x0 ingress | grep -q "handle 0x64 .*name xdp_drop_all"
check detach_keeps_qdisc_with_other_filter $? "$(in_ns "$NS_R" tc filter show dev hk-x0 ingress | tr '\n' '|')"
in_ns "$NS_R" tc filter show dev hk-x0 ingress | grep -q "handle 0x7c7"
check detach_removed_own_filter "$([ $? = 1 ] && echo 0 || echo 1)"
in_ns "$NS_R" tc qdisc add dev hk-x1 clsact &&
	in_ns "$NS_R" tc filter add dev hk-x1 egress pref 1991 handle 0x7c7 bpf da obj "$OBJ" sec xdp ||
	check hooks_setup_filter 1
x1=$(kernel_hooks hk-x1)
expect other_filter_at_handle_refused 1 \
	"cannot attach to hk-x1: its TC egress filter at xct's handle 0x7c7 priority 0x7c7 is held by program xdp_drop_all \(id [0-9]+\)" \
	xct_b attach --mode tc hk-x1
check other_filter_kept "$([ "$(kernel_hooks hk-x1)" = "$x1" ] && echo 0 || echo 1)" \
	"before '$x1', after '$(kernel_hooks hk-x1)'"

# 3. Hooks removed under xct, one kind at a time; after each the
# interface is attached afresh.
expect xdp_off_cannot_remove_link 2 "active BPF XDP link" \
	in_ns "$NS_R" ip link set dev veth-r-c xdp off
expect status_ok_after_xdp_off 0 "veth-r-c .*\(prog [0-9]+\)$" xct_r status

ifindex=$(in_ns "$NS_R" cat /sys/class/net/veth-r-c/ifindex)
link=$(bpftool -j link show pinned "$XCT_PIN/link_xdp_$ifindex" |
	"$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
bpftool link detach id "$link" >/dev/null 2>&1 || check hooks_setup_link_detach 1 "link '$link'"
expect status_missing_xdp_detached 1 "MISSING xdp: the XDP link was detached from veth-r-c" xct_r status
status_json 'd["missing"] == 1 and [i for i in d["interfaces"] if i["name"] == "veth-r-c" and i["state"] == "MISSING" and [m["hook"] for m in i["missing"]] == ["xdp"]]'
check status_json_missing_xdp $?
expect replace_refuses_missing_xdp 1 "cannot replace on veth-r-c: the XDP link was detached" \
	xct_r attach --replace veth-r-c
reattach veth-r-c

rm -f "$XCT_PIN/link_xdp_$ifindex"
expect status_missing_link_unpinned 1 "MISSING xdp: the XDP link pinned at $XCT_PIN/link_xdp_$ifindex is gone" \
	xct_r status
reattach veth-r-c

in_ns "$NS_R" tc qdisc del dev veth-r-s clsact
expect status_missing_clsact_deleted 1 \
	"MISSING tc egress: the TC egress filter at handle 0x7c7 priority 0x7c7 is gone" xct_r status
status_json 'd["missing"] == 2 and [i for i in d["interfaces"] if i["name"] == "veth-r-s" and i["state"] == "MISSING" and sorted(m["hook"] for m in i["missing"]) == ["tc egress", "tc ingress answerer"]]'
check status_json_missing_clsact $?
reattach veth-r-s

in_ns "$NS_R" tc filter replace dev veth-r-s egress pref 1991 handle 0x7c7 bpf da obj "$OBJ" sec xdp
foreign=$(kernel_hooks veth-r-s)
expect status_missing_filter_replaced 1 \
	"MISSING tc egress: the TC egress filter at handle 0x7c7 priority 0x7c7 runs program xdp_drop_all \(id [0-9]+\)" \
	xct_r status
expect replace_refuses_foreign_filter 1 "cannot replace on veth-r-s: the TC egress filter .* runs program xdp_drop_all" \
	xct_r attach --replace veth-r-s
check replace_left_foreign_filter "$([ "$(kernel_hooks veth-r-s)" = "$foreign" ] && echo 0 || echo 1)" \
	"before '$foreign', after '$(kernel_hooks veth-r-s)'"
expect detach_reports_foreign_filter 0 "the TC egress filter at xct's handle is not xct's \(it runs program xdp_drop_all" \
	xct_r detach veth-r-s
now=$(kernel_hooks veth-r-s)
check detach_left_foreign_filter "$([ "${now##* }" = "${foreign##* }" ] && [ "${now##* }" != eg=none ] && echo 0 || echo 1)" \
	"before '$foreign', after '$now'"
in_ns "$NS_R" tc filter del dev veth-r-s egress pref 1991 handle 0x7c7 bpf
xct_r attach --mode native veth-r-s >/dev/null
expect status_ok_again 0 "veth-r-s .*\(prog [0-9]+\)$" xct_r status

# 4. An older registry, of 16-byte entries without the answerer's and the
# link's ids: its entries as they were are pinned in its place.
old=$(bpftool -j map dump pinned "$XCT_PIN/xct_ifaces" | "$PYTHON" -c '
import json, struct, sys
for e in json.load(sys.stdin):
    k = bytes(int(b, 16) for b in e["key"])
    v = bytes(int(b, 16) for b in e["value"])[:16]
    print(" ".join("%d" % b for b in k), "|", " ".join("%d" % b for b in v))
')
rm -f "$XCT_PIN/xct_ifaces"
bpftool map create "$XCT_PIN/xct_ifaces" type hash key 4 value 16 entries 64 name xct_ifaces
while IFS='|' read -r k v; do
	# shellcheck disable=SC2086 # the bytes are separate words
	bpftool map update pinned "$XCT_PIN/xct_ifaces" key $k value $v
done <<<"$old"
expect replace_takes_over_old_registry 0 "veth-r-s: replaced \(ingress xdp native" \
	xct_r attach --replace veth-r-c veth-r-s
expect status_ok_after_registry_migration 0 "veth-r-s .*\(prog [0-9]+\)$" xct_r status
status_json 'all(i["answer_prog_id"] and i["xdp_link_id"] and i["state"] == "ok" for i in d["interfaces"]) and len(d["interfaces"]) == 2'
check registry_migrated_with_ids $?

# 5. NAT bindings of another layout.  Translation is at TC in either mode;
# tc mode keeps the reply path independent of XDP metadata.
xct_detach >/dev/null
xct_attach tc >/dev/null || check hooks_setup_tc 1
TICK_DIR=$(mktemp -d /tmp/xct-hooks.XXXXXX)
printf 'masquerade oif veth-r-s\n' >"$TICK_DIR/nat.xct"
xct_r rules load "$TICK_DIR/nat.xct" >/dev/null || check hooks_setup_nat_rules 1
# The server takes nothing from the client's own address: only
# translated packets get through.
in_ns "$NS_S" nft -f - <<-EOF || check hooks_setup_server_filter 1
	table ip hooksnat {
		chain in {
			type filter hook input priority 0; policy accept;
			ip saddr $C4 drop
		}
	}
EOF
in_ns "$NS_S" socat -u TCP-LISTEN:7101,reuseaddr OPEN:"$TICK_DIR/got",creat,append 2>/dev/null &
BG_PIDS+=($!)
poll 5 listening "$NS_S" tcp 7101
printf 'while true\ndo\n\techo tick\n\tsleep 0.05\ndone\n' >"$TICK_DIR/ticker.sh"
in_ns "$NS_C" socat -u EXEC:"sh $TICK_DIR/ticker.sh" TCP:"$S4":7101 2>/dev/null &
BG_PIDS+=($!)
got() { [ -s "$TICK_DIR/got" ] && [ "$(wc -l <"$TICK_DIR/got")" -ge "$1" ]; }
poll 10 got 5
check nat_connection_up $? "the server got $(wc -l <"$TICK_DIR/got" 2>/dev/null) lines"
xct_r ct list -p tcp --dport 7101 --src-nat 2>/dev/null | grep -q "dst=$R4S sport=7101"
check nat_connection_translated $? "$(xct_r ct list -p tcp --dport 7101 2>&1 | tr '\n' '|')"
hooks_before="$(kernel_hooks veth-r-c) $(kernel_hooks veth-r-s)"
rm -f "$XCT_PIN/xct_nat"
bpftool map create "$XCT_PIN/xct_nat" type hash key 40 value 8 entries 16 name xct_nat
pins_before=$(cd "$XCT_PIN" && stat -c '%n %i' ./* | sort)
expect replace_refuses_other_nat_layout 1 \
	"NAT bindings under $XCT_PIN \(xct_nat\) have another layout than this xct's" \
	xct_r attach --replace veth-r-c veth-r-s
pins_after=$(cd "$XCT_PIN" && stat -c '%n %i' ./* | sort)
hooks_after="$(kernel_hooks veth-r-c) $(kernel_hooks veth-r-s)"
check nat_refusal_changed_no_pin "$([ "$pins_after" = "$pins_before" ] && echo 0 || echo 1)" \
	"$(diff <(echo "$pins_before") <(echo "$pins_after") | tr '\n' '|')"
check nat_refusal_changed_no_hook "$([ "$hooks_after" = "$hooks_before" ] && echo 0 || echo 1)" \
	"'$hooks_before' then '$hooks_after'"
lines=$(wc -l <"$TICK_DIR/got")
poll 10 got $((lines + 10))
check nat_connection_carries_on $? "the server got $lines lines, then $(wc -l <"$TICK_DIR/got")"

[ "$failures" -eq 0 ]
