#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Two xct firewalls in front of a server, keepalived moving the gateway
# addresses between them (VRRP), xctd syncing the connection table over a
# link of their own (docs/HA.md):
#
#   cli 10.240.1.10 --[brlan]-- lan0 fw1 wan0 --[brwan]-- 10.240.2.20 srv
#      via .254 (VIP)     \---- lan0 fw2 wan0 ----/      via .254 (VIP)
#                    fw1 sync0 10.240.9.1 ---- 10.240.9.2 sync0 fw2
#
# Each firewall runs xct with `policy drop`, `accept ct state
# established,related`, and new connections admitted from the client side
# only when they start with a SYN: a connection the table does not know
# is dropped mid-stream.  keepalived runs etc/xct-ha-notify.sh, which
# commits the peer's connections on becoming primary.  The client holds
# long-lived TCP connections carrying frames both ways, checked byte for
# byte by a reader on each side (ha_traffic.py), and opens a new connection
# every 100 ms.  The primary is killed by stopping its keepalived and
# taking its links down.
#
#   1. without sync (the control): the backup takes over, new connections
#      pass it, and the established ones die there, their packets dropped
#      by its policy;
#   2. with sync: every established connection goes on through the backup,
#      in both directions and without a byte out of place, new connections
#      pass; the gap is measured and printed; then fw1 comes back in place
#      (links up, keepalived started again, its xctd and table as they
#      were): becoming backup it purges the connections fw2 owns and asks
#      fw2 for its table, takes over again (it has the higher priority)
#      and the connections go on through it;
#   3. fw2's xctd restarted mid-stream gets fw1's table back: its cache as
#      large as fw1's table.
# shellcheck disable=SC2317 # helpers run through poll()
set -u
NS_PREFIX=ha
source "$(dirname "$0")/lib.sh"

NS_CLI="xct-hacli-$TAG"
NS_SRV="xct-hasrv-$TAG"
NS_SW="xct-hasw-$TAG"
NS_FW1="xct-hafw1-$TAG"
NS_FW2="xct-hafw2-$TAG"
CLI=10.240.1.10
SRV=10.240.2.20
VIP_LAN=10.240.1.254
VIP_WAN=10.240.2.254
PORT=7000
SYNC_PORT=3780
STREAMS=3
NOTIFY=$REPO_DIR/etc/xct-ha-notify.sh
TRAFFIC=$E2E_DIR/ha_traffic.py
WORK=""
FW_ATTACHED=()
declare -A KA_PID XCTD_PIDS

fail_setup() {
	echo "not ok ha_setup ($*)"
	exit 1
}

ha_cleanup() {
	local fw
	for fw in 1 2; do
		stop_keepalived "$fw"
		stop_fw_xctd "$fw"
	done
	for fw in "${FW_ATTACHED[@]}"; do
		xct_fw "$fw" detach --all >/dev/null 2>&1
	done
	for ns in "$NS_CLI" "$NS_SRV" "$NS_SW" "$NS_FW1" "$NS_FW2"; do
		ip netns del "$ns" 2>/dev/null
	done
	# The traffic programs, by pid (BG_PIDS).
	e2e_cleanup
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap ha_cleanup EXIT

fw_ns() { if [ "$1" = 1 ]; then echo "$NS_FW1"; else echo "$NS_FW2"; fi; }
xct_fw() {
	local fw=$1
	shift
	ip netns exec "$(fw_ns "$fw")" "$XCT" --pin-path "$PIN_ROOT/fw$fw" "$@"
}
traffic() { "$PYTHON" "$TRAFFIC" "$@"; }

# Namespaces, bridges, veths and addresses; forwarding on the firewalls.
build_topology() {
	local ns fw dev
	for ns in "$NS_CLI" "$NS_SRV" "$NS_SW" "$NS_FW1" "$NS_FW2"; do
		ip netns add "$ns" && in_ns "$ns" ip link set lo up &&
			in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
				net.ipv6.conf.default.disable_ipv6=1 || return 1
	done
	in_ns "$NS_SW" ip link add brlan type bridge &&
		in_ns "$NS_SW" ip link add brwan type bridge &&
		ip link add eth0 netns "$NS_CLI" type veth peer name p-cli netns "$NS_SW" &&
		ip link add eth0 netns "$NS_SRV" type veth peer name p-srv netns "$NS_SW" &&
		in_ns "$NS_SW" ip link set p-cli master brlan &&
		in_ns "$NS_SW" ip link set p-srv master brwan || return 1
	for fw in 1 2; do
		ns=$(fw_ns $fw)
		ip link add lan0 netns "$ns" type veth peer name p-fw${fw}l netns "$NS_SW" &&
			ip link add wan0 netns "$ns" type veth peer name p-fw${fw}w netns "$NS_SW" &&
			in_ns "$NS_SW" ip link set p-fw${fw}l master brlan &&
			in_ns "$NS_SW" ip link set p-fw${fw}w master brwan &&
			in_ns "$ns" sysctl -qw net.ipv4.ip_forward=1 \
				net.ipv4.conf.all.send_redirects=0 \
				net.ipv4.conf.default.send_redirects=0 &&
			in_ns "$ns" ip addr add 10.240.1.$fw/24 dev lan0 &&
			in_ns "$ns" ip addr add 10.240.2.$fw/24 dev wan0 || return 1
	done
	ip link add sync0 netns "$NS_FW1" type veth peer name sync0 netns "$NS_FW2" &&
		in_ns "$NS_FW1" ip addr add 10.240.9.1/24 dev sync0 &&
		in_ns "$NS_FW2" ip addr add 10.240.9.2/24 dev sync0 &&
		in_ns "$NS_CLI" ip addr add $CLI/24 dev eth0 &&
		in_ns "$NS_SRV" ip addr add $SRV/24 dev eth0 || return 1
	for dev in brlan brwan p-cli p-srv p-fw1l p-fw1w p-fw2l p-fw2w; do
		in_ns "$NS_SW" ip link set "$dev" up || return 1
	done
	for fw in 1 2; do
		for dev in lan0 wan0 sync0; do
			in_ns "$(fw_ns $fw)" ip link set "$dev" up || return 1
		done
	done
	in_ns "$NS_CLI" ip link set eth0 up && in_ns "$NS_SRV" ip link set eth0 up &&
		in_ns "$NS_CLI" ip route add default via $VIP_LAN &&
		in_ns "$NS_SRV" ip route add default via $VIP_WAN || return 1
	poll 10 in_ns "$NS_FW1" ping -c 1 -W 1 10.240.9.2 &&
		poll 10 in_ns "$NS_FW1" ping -c 1 -W 1 $CLI &&
		poll 10 in_ns "$NS_FW2" ping -c 1 -W 1 $SRV
}

# xct on both firewalls, the same rules on each.
start_xct() {
	local fw
	cat >"$WORK/rules.xct" <<-'EOF'
		policy drop
		accept ct state established,related
		# The peer's VRRP adverts.
		accept meta l4proto 112
		accept iif lan0 tcp flags & (fin|syn|rst|ack) == syn ct state new
		accept icmp
	EOF
	for fw in 1 2; do
		xct_fw $fw attach --mode native lan0 wan0 >/dev/null || return 1
		FW_ATTACHED+=("$fw")
		xct_fw $fw rules load "$WORK/rules.xct" >/dev/null || return 1
	done
}

# start_fw_xctd FW [sync]: xctd of firewall FW, syncing with the other one
# over sync0 when asked to.
start_fw_xctd() {
	local fw=$1 peer=$((3 - $1)) log=$WORK/xctd-fw$1.log
	local args=(--foreground --pin-path "$PIN_ROOT/fw$fw" --socket "$WORK/fw$fw.sock")
	[ "${2:-}" = sync ] && args+=(--sync-peer "10.240.9.$peer:$SYNC_PORT"
		--sync-listen "10.240.9.$fw:$SYNC_PORT")
	: >"$log"
	ip netns exec "$(fw_ns "$fw")" "$XCTD" "${args[@]}" 2>>"$log" &
	XCTD_PIDS[$fw]=$!
	poll 10 grep -q "listening on $WORK/fw$fw.sock" "$log"
}

stop_fw_xctd() {
	local pid=${XCTD_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	XCTD_PIDS[$1]=""
}

# start_keepalived FW: priority 150 on fw1, 100 on fw2; the notify script
# appends each transition to $WORK/fwFW.state when its steps are done.
start_keepalived() {
	local fw=$1 prio=100 conf=$WORK/keepalived-fw$1.conf
	[ "$fw" = 1 ] && prio=150
	local notify="$NOTIFY --pin-path $PIN_ROOT/fw$fw --socket $WORK/fw$fw.sock"
	notify="$notify --state-file $WORK/fw$fw.state"
	cat >"$conf" <<-EOF
		global_defs {
			router_id fw$fw
			enable_script_security
			script_user root
		}
		vrrp_sync_group G1 {
			group {
				VI_LAN
				VI_WAN
			}
			notify_master "$notify primary"
			notify_backup "$notify backup"
			notify_fault "$notify fault"
		}
		vrrp_instance VI_LAN {
			state BACKUP
			interface lan0
			virtual_router_id 61
			priority $prio
			advert_int 1
			virtual_ipaddress {
				$VIP_LAN/24 dev lan0
			}
		}
		vrrp_instance VI_WAN {
			state BACKUP
			interface wan0
			virtual_router_id 62
			priority $prio
			advert_int 1
			virtual_ipaddress {
				$VIP_WAN/24 dev wan0
			}
		}
	EOF
	ip netns exec "$(fw_ns "$fw")" env XCT="$XCT" keepalived -n -l -D -P -f "$conf" \
		-p "$WORK/ka-fw$fw.pid" -r "$WORK/ka-vrrp-fw$fw.pid" \
		>>"$WORK/ka-fw$fw.log" 2>&1 &
	KA_PID[$fw]=$!
}

# Stopped, keepalived sends its priority-0 adverts and drops the addresses.
stop_keepalived() {
	local pid=${KA_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	KA_PID[$1]=""
}

# became FW STATE AFTER: the notify script of FW finished STATE (primary,
# backup) in a line after the first AFTER lines of its state file.
became() {
	tail -n +"$(($3 + 1))" "$WORK/fw$1.state" 2>/dev/null | grep -q "^$2 "
}
state_lines() { wc -l <"$WORK/fw$1.state" 2>/dev/null || echo 0; }

# The addresses follow VRRP's primary: fw holds both.
holds_vips() {
	in_ns "$(fw_ns "$1")" ip -4 addr show | grep -q " $VIP_LAN/" &&
		in_ns "$(fw_ns "$1")" ip -4 addr show | grep -q " $VIP_WAN/"
}

kill_primary() {
	local ns
	ns=$(fw_ns "$1")
	stop_keepalived "$1"
	in_ns "$ns" ip link set lan0 down && in_ns "$ns" ip link set wan0 down
}

revive() {
	local ns
	ns=$(fw_ns "$1")
	in_ns "$ns" ip link set lan0 up && in_ns "$ns" ip link set wan0 up && start_keepalived "$1"
}

# The state files of the streams called NAME, both directions.
files() { echo "$WORK/$1-cli.json $WORK/$1-srv.json"; }

# start_streams NAME: STREAMS connections through the primary, each with
# frames flowing both ways.
start_streams() {
	ip netns exec "$NS_SRV" "$PYTHON" "$TRAFFIC" server $((PORT + ${2:-0})) \
		"$WORK/$1-srv.json" 2>"$WORK/$1-srv.err" &
	BG_PIDS+=($!)
	poll 10 listening "$NS_SRV" tcp $((PORT + ${2:-0})) || return 1
	ip netns exec "$NS_CLI" "$PYTHON" "$TRAFFIC" streams $SRV $((PORT + ${2:-0})) \
		"$STREAMS" "$WORK/$1-cli.json" 2>"$WORK/$1-cli.err" &
	BG_PIDS+=($!)
	# shellcheck disable=SC2046
	poll 10 traffic progressed "$(printf '0 %.0s' $(seq $((2 * STREAMS))))" 20 $(files "$1")
}

# progressed_by NAME N TIMEOUT: every connection, both ways, N more frames.
progressed_by() {
	local base
	# shellcheck disable=SC2046
	base=$(traffic frames $(files "$1"))
	# shellcheck disable=SC2046
	poll "$3" traffic progressed "$base" "$2" $(files "$1")
}

# The packets firewall FW's policy dropped (the first line of rules show).
policy_drops() {
	xct_fw "$1" -j rules show | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)[0]["packets"])'
}
drops_rose() { [ "$(policy_drops "$1")" -ge "$2" ]; }

# The connections in firewall FW's external cache; in its table.
sync_cached() {
	xct_fw "$1" --socket "$WORK/fw$1.sock" -j sync stats | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["cache"]["entries"])'
}
table_count() {
	xct_fw "$1" -j ct count | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["count"])'
}
# cache_matches FW PEER: FW's cache holds as many connections as PEER's
# table (new connections come and go: polled until both agree).
cache_matches() {
	local c n
	c=$(sync_cached "$1") && n=$(table_count "$2") && [ "$n" -gt 0 ] && [ "$c" = "$n" ]
}

# shellcheck disable=SC2046
report() { traffic report "$2" $(files "$1"); }

WORK=$(mktemp -d /tmp/xct-ha.XXXXXX) || fail_setup "work directory"
build_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
start_xct || fail_setup "xct on the firewalls"
for fw in 1 2; do
	start_fw_xctd $fw || fail_setup "xctd on fw$fw: $(cat "$WORK/xctd-fw$fw.log")"
done
start_keepalived 1
start_keepalived 2
poll 15 became 1 primary 0 && poll 5 holds_vips 1 ||
	fail_setup "fw1 never became primary: $(tail -5 "$WORK/ka-fw1.log")"
poll 10 in_ns "$NS_CLI" ping -c 1 -W 1 $SRV || fail_setup "no path through fw1"
ip netns exec "$NS_SRV" "$PYTHON" "$TRAFFIC" server $((PORT + 9)) "$WORK/new-srv.json" \
	2>"$WORK/new-srv.err" &
BG_PIDS+=($!)
poll 10 listening "$NS_SRV" tcp $((PORT + 9)) || fail_setup "server of new connections"
ip netns exec "$NS_CLI" "$PYTHON" "$TRAFFIC" newconns $SRV $((PORT + 9)) "$WORK/new.json" \
	2>"$WORK/new.err" &
BG_PIDS+=($!)

#
# 1. The control: no sync.
#
start_streams nosync 0
check ha_nosync_streams_start $? "$(cat "$WORK/nosync-cli.err" "$WORK/nosync-srv.err")"
lines=$(state_lines 2)
kill_primary 1
poll 15 became 2 primary "$lines" && poll 5 holds_vips 2
check ha_nosync_backup_takes_over $? "$(tail -5 "$WORK/ka-fw2.log")"
poll 10 traffic new_ok "$(traffic now)" 5 "$WORK/new.json"
check ha_nosync_new_connections_after_switch $? "$(tail -c 300 "$WORK/new.json")"
# New connections pass fw2 now.  From here its policy drops the old ones'
# packets (retransmissions, 5 of them), and not one frame gets through.
# shellcheck disable=SC2046
base=$(traffic frames $(files nosync))
drops=$(policy_drops 2)
poll 20 drops_rose 2 $((drops + 5))
rose=$?
# shellcheck disable=SC2046
traffic stalled "$base" $(files nosync)
stalled=$?
[ "$rose" = 0 ] && [ "$stalled" = 0 ]
check ha_nosync_connections_die $? "policy drops rose: $rose, no frame since: $stalled; $(report nosync 0)"
report nosync 0 | grep "longest gap"

lines=$(state_lines 1)
revive 1
poll 20 became 1 primary "$lines" && poll 5 holds_vips 1
check ha_nosync_failback $? "$(tail -5 "$WORK/ka-fw1.log")"

#
# 2. With sync.
#
for fw in 1 2; do
	stop_fw_xctd $fw
	start_fw_xctd $fw sync || fail_setup "xctd on fw$fw with sync: $(cat "$WORK/xctd-fw$fw.log")"
done
poll 10 grep -q "the sync peer .* is alive" "$WORK/xctd-fw1.log" &&
	poll 10 grep -q "the sync peer .* is alive" "$WORK/xctd-fw2.log"
check ha_sync_peers_alive $? "$(tail -n 3 "$WORK/xctd-fw1.log" "$WORK/xctd-fw2.log")"

start_streams sync 1
check ha_sync_streams_start $? "$(cat "$WORK/sync-cli.err" "$WORK/sync-srv.err")"
lines=$(state_lines 2)
t_kill=$(traffic now)
kill_primary 1
poll 15 became 2 primary "$lines" && poll 5 holds_vips 2
check ha_sync_backup_takes_over $? "$(tail -5 "$WORK/ka-fw2.log")"
grep -q "^primary ok" <(tail -n +"$((lines + 1))" "$WORK/fw2.state")
check ha_sync_commit_on_takeover $? "$(cat "$WORK/fw2.state"; tail -n 3 "$WORK/xctd-fw2.log")"
grep "sync commit" "$WORK/xctd-fw2.log" | tail -1 | sed 's/^/# fw2: /'
progressed_by sync 25 20
check ha_sync_connections_survive $? "$(report sync "$t_kill")"
report sync "$t_kill" >"$WORK/gap1"
check ha_sync_no_connection_lost $? "$(cat "$WORK/gap1")"
sed 's/longest gap of any/failover gap, fw1 to fw2: longest gap of any/' "$WORK/gap1" |
	grep "failover gap"
poll 10 traffic new_ok "$(traffic now)" 5 "$WORK/new.json"
check ha_sync_new_connections_after_switch $? "$(tail -c 300 "$WORK/new.json")"

# fw1 comes back in place: its links up and keepalived started again, its
# xctd and its table as they were, with entries behind the connections
# that went on through fw2.  Its notify script, becoming backup, purges
# those and asks fw2 for its table, before fw1 preempts and commits.
lines=$(state_lines 1)
t_back=$(traffic now)
revive 1
poll 20 became 1 primary "$lines" && poll 5 holds_vips 1
check ha_sync_failback $? "$(tail -5 "$WORK/ka-fw1.log")"
# The backup steps were done, and before the commit.
tail -n +"$((lines + 1))" "$WORK/fw1.state" | grep -E "^(backup|primary) " | tr '\n' ' ' |
	grep -q "^backup ok primary ok"
check ha_sync_failback_purged_before_commit $? "$(cat "$WORK/fw1.state")"
grep "sync purge\|sync resync\|sync commit" "$WORK/xctd-fw1.log" | tail -n 3 | sed 's/^/# fw1: /'
progressed_by sync 25 20
check ha_sync_connections_survive_failback $? "$(report sync "$t_back")"
report sync "$t_back" >"$WORK/gap2"
check ha_sync_no_connection_lost_failback $? "$(cat "$WORK/gap2")"
sed 's/longest gap of any/failback gap, fw2 to fw1: longest gap of any/' "$WORK/gap2" |
	grep "failback gap"
poll 10 traffic new_ok "$(traffic now)" 5 "$WORK/new.json"
check ha_sync_new_connections_after_failback $? "$(tail -c 300 "$WORK/new.json")"

# fw2's xctd restarted while fw1 carries the connections: its first
# message asks fw1 for its table, and its cache comes back as large as
# fw1's table.
stop_fw_xctd 2
start_fw_xctd 2 sync || fail_setup "xctd on fw2 again: $(cat "$WORK/xctd-fw2.log")"
poll 15 cache_matches 2 1
check ha_sync_restarted_backup_resyncs $? \
	"fw2's cache $(sync_cached 2), fw1's table $(table_count 1); $(grep sync "$WORK/xctd-fw1.log" | tail -n 3)"
echo "# fw2 restarted: $(sync_cached 2) connections in its cache, $(table_count 1) in fw1's table"
progressed_by sync 25 20
check ha_sync_connections_survive_backup_restart $? "$(report sync "$(traffic now)")"

exit $((failures > 0))
