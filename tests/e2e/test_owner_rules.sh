#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Rules by owner (meta skuid, meta skgid, socket cgroupv2), with real
# processes under real uids, gids and cgroups, and nftables as the oracle.
#
# xct is attached to the router's interfaces and its owner programs to a
# cgroup v2 made for this run, with two children (allow, deny: level 2).
# tests/e2e/owner_probe.py, started in one of them in the router's
# namespace as a given uid and gid, tries a TCP connect() and a UDP
# sendto() to echo servers on the server and reports what each got:
# ok, ECONNREFUSED, EPERM, timeout.
#
# Each rule must refuse the processes it names and leave the others alone;
# the same process under nft's own `meta skuid N reject` (and drop, and
# socket cgroupv2) in the router's namespace must get what it gets under
# xct's rule.  A reload changes the decision for new connections; a
# connection made before the rule carries on under xct (decided at
# connect()), where nft, deciding each packet, rejects it: the test checks
# both, as docs/RULES.md says.  Forwarded traffic and processes outside the
# cgroup are never decided.  xct rules show prints the owner rules in a
# form that loads back; a rule naming a cgroup or a user that does not
# exist is refused at FILE:LINE:COLUMN and changes nothing.  The owner
# records of many connections over lo, which xct is not attached to, are
# swept back to where they were once their sockets are closed.
set -u
# shellcheck disable=SC2034 # lib.sh reads it
NS_PREFIX=ownr
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
failures=0

P_TCP=7301  # the server's TCP echo
P_TCP2=7302 # another TCP echo, for rules by port
P_UDP=7303  # the server's UDP echo
U_DENY=4242
U_OK=4343
G_DENY=4444
WORK=""
CG=""
CG_NAME=""
NFT_TABLE=0

owner_rules_cleanup() {
	[ "$NFT_TABLE" = 1 ] && nft_r delete table inet xct_ownr 2>/dev/null
	kill_in_ns "$NS_C" "$NS_S" "$NS_R"
	e2e_cleanup
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		poll 5 cgroups_empty
		rmdir "$CG/allow" "$CG/deny" "$CG" 2>/dev/null
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap owner_rules_cleanup EXIT

fail_setup() {
	echo "not ok owner_rules_setup ($*)"
	exit 1
}

cgroups_empty() {
	[ ! -s "$CG/allow/cgroup.procs" ] && [ ! -s "$CG/deny/cgroup.procs" ]
}

# nft in the router's network namespace but the host's mount namespace,
# where socket cgroupv2 finds the cgroup paths (ip netns exec mounts a /sys
# without them).
nft_r() { nsenter --net="/run/netns/$NS_R" nft "$@"; }

# in_cg SUB CMD...: CMD in cgroup CG/SUB ("" for one outside CG), in the
# router's namespace.
in_cg() {
	local sub=$1
	shift
	if [ -n "$sub" ]; then
		sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG/$sub" \
			ip netns exec "$NS_R" "$@"
	else
		ip netns exec "$NS_R" "$@"
	fi
}

# probe SUB UID GID [TCP_PORT]: "tcp=R udp=R" for a process of that uid
# and gid in CG/SUB.
probe() {
	in_cg "$1" "$PYTHON" "$E2E_DIR/owner_probe.py" try "$S4" "${4:-$P_TCP}" "$P_UDP" \
		--uid "$2" --gid "$3" 2>&1
}

# want NAME GOT WANT
want() {
	[ "$2" = "$3" ]
	check "$1" $? "got '$2', want '$3'"
}

# load NAME TEXT: TEXT as the running rules, expected to load.
load() {
	printf '%s\n' "$2" >"$WORK/$1.rules"
	expect "$1_loads" 0 "loaded" xct_r rules load "$WORK/$1.rules"
}

# ---- set-up ----

[ "$(id -u)" = 0 ] || fail_setup "needs root"
have_xct || fail_setup "no $XCT"
command -v nft >/dev/null || fail_setup "no nft (apt-get install nftables)"
command -v nsenter >/dev/null || fail_setup "no nsenter (util-linux)"
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG_ROOT" ] || fail_setup "no cgroup2 mount"
WORK=$(mktemp -d /tmp/xct-ownr.XXXXXX) || fail_setup "mktemp"
chmod 1777 "$WORK" # the held connection's process, not root, writes there
CG_NAME="xct-ownr-$TAG"
# nft names a cgroup from /sys/fs/cgroup, xct from the cgroup2 mount: the
# same directory in the unified layout, not in the hybrid one.
NFT_CG=${CG_ROOT#/sys/fs/cgroup}
NFT_CG=${NFT_CG#/}
CG="$CG_ROOT/$CG_NAME"
mkdir "$CG" "$CG/allow" "$CG/deny" || fail_setup "cannot make cgroups under $CG"
setup_topology || fail_setup "topology"
mount_pin_fs || fail_setup "bpffs"
xct_attach native >/dev/null || fail_setup "xct attach"
xct_r attach-cgroup "$CG" >/dev/null || fail_setup "attach-cgroup"

for p in "$P_TCP" "$P_TCP2"; do
	ip netns exec "$NS_S" socat "TCP-LISTEN:$p,fork,reuseaddr" EXEC:cat 2>/dev/null &
	BG_PIDS+=($!)
done
ip netns exec "$NS_S" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
' "$P_UDP" 2>/dev/null &
BG_PIDS+=($!)
poll 10 listening "$NS_S" tcp "$P_TCP" || fail_setup "tcp echo"
poll 10 listening "$NS_S" tcp "$P_TCP2" || fail_setup "tcp echo 2"
poll 10 listening "$NS_S" udp "$P_UDP" || fail_setup "udp echo"
want owner_rules_no_rules_baseline "$(probe allow $U_DENY $U_DENY)" "tcp=ok udp=ok"

# ---- by uid, against nft's ----

load uid_reject "reject meta skuid $U_DENY"
x_deny=$(probe allow $U_DENY $U_DENY)
x_ok=$(probe allow $U_OK $U_OK)
want owner_rules_uid_reject_refuses "$x_deny" "tcp=ECONNREFUSED udp=EPERM"
want owner_rules_uid_reject_leaves_others "$x_ok" "tcp=ok udp=ok"
want owner_rules_uid_reject_leaves_root "$(probe allow 0 0)" "tcp=ok udp=ok"
xct_r rules clear >/dev/null
want owner_rules_clear_stops_them "$(probe allow $U_DENY $U_DENY)" "tcp=ok udp=ok"

nft_r -f - <<EOF_NFT || fail_setup "nft"
table inet xct_ownr {
	chain output {
		type filter hook output priority 0
		meta skuid $U_DENY reject
	}
}
EOF_NFT
NFT_TABLE=1
want owner_rules_uid_reject_as_nft "$x_deny" "$(probe allow $U_DENY $U_DENY)"
want owner_rules_uid_reject_others_as_nft "$x_ok" "$(probe allow $U_OK $U_OK)"

# drop: the datagram as nft's (EPERM); the connect() refused at once,
# where nft's drop leaves it resending its SYN until it times out.
nft_r flush chain inet xct_ownr output
nft_r add rule inet xct_ownr output meta skuid $U_DENY drop
n_drop=$(probe allow $U_DENY $U_DENY)
nft_r delete table inet xct_ownr
NFT_TABLE=0
want owner_rules_nft_drop_oracle "$n_drop" "tcp=timeout udp=EPERM"
load uid_drop "drop meta skuid $U_DENY"
want owner_rules_uid_drop "$(probe allow $U_DENY $U_DENY)" "tcp=EPERM udp=EPERM"

# ---- by gid ----

load gid "drop meta skgid $G_DENY"
want owner_rules_gid_refuses "$(probe allow $U_OK $G_DENY)" "tcp=EPERM udp=EPERM"
want owner_rules_gid_leaves_others "$(probe allow $G_DENY $U_OK)" "tcp=ok udp=ok"

# ---- by cgroup, against nft's ----

load cgroup "reject socket cgroupv2 level 2 \"$CG_NAME/deny\""
x_deny=$(probe deny $U_OK $U_OK)
x_ok=$(probe allow $U_OK $U_OK)
want owner_rules_cgroup_refuses "$x_deny" "tcp=ECONNREFUSED udp=EPERM"
want owner_rules_cgroup_leaves_others "$x_ok" "tcp=ok udp=ok"
xct_r rules clear >/dev/null
nft_r -f - <<EOF_NFT || fail_setup "nft cgroupv2"
table inet xct_ownr {
	chain output {
		type filter hook output priority 0
		socket cgroupv2 level 2 "${NFT_CG:+$NFT_CG/}$CG_NAME/deny" reject
	}
}
EOF_NFT
NFT_TABLE=1
want owner_rules_cgroup_as_nft "$x_deny" "$(probe deny $U_OK $U_OK)"
want owner_rules_cgroup_others_as_nft "$x_ok" "$(probe allow $U_OK $U_OK)"
nft_r delete table inet xct_ownr
NFT_TABLE=0
load cgroup_neg "reject socket cgroupv2 level 2 != \"$CG_NAME/allow\" tcp"
want owner_rules_cgroup_negated "$(probe deny $U_OK $U_OK)" "tcp=ECONNREFUSED udp=ok"
want owner_rules_cgroup_negated_others "$(probe allow $U_OK $U_OK)" "tcp=ok udp=ok"

# ---- with the other matches; first match wins; a reload ----

load combined "reject meta skuid { $U_DENY, $U_OK } dport $P_TCP"
want owner_rules_dport_refuses "$(probe allow $U_OK $U_OK)" "tcp=ECONNREFUSED udp=ok"
want owner_rules_dport_other_port "$(probe allow $U_OK $U_OK $P_TCP2)" "tcp=ok udp=ok"
load first_match "accept meta skuid $U_DENY
reject meta skuid $U_DENY-$U_OK"
want owner_rules_first_match_accepts "$(probe allow $U_DENY $U_DENY)" "tcp=ok udp=ok"
want owner_rules_first_match_next_rule "$(probe allow $U_OK $U_OK)" \
	"tcp=ECONNREFUSED udp=EPERM"
load reload "reject meta skuid != $U_OK daddr $S4"
want owner_rules_reload_new_decision "$(probe allow $U_OK $U_OK)" "tcp=ok udp=ok"
want owner_rules_reload_negated "$(probe allow $U_DENY $U_DENY)" "tcp=ECONNREFUSED udp=EPERM"

# ---- a bad file changes nothing ----

printf 'reject socket cgroupv2 level 2 "%s/nosuch"\n' "$CG_NAME" >"$WORK/bad_cg.rules"
expect owner_rules_missing_cgroup 2 \
	"bad_cg.rules:1:32: error: cannot find cgroup '$CG_NAME/nosuch' under .*: No such file or directory" \
	xct_r rules load "$WORK/bad_cg.rules"
printf 'policy accept\ndrop meta skuid xct_nosuch_user\n' >"$WORK/bad_user.rules"
expect owner_rules_unknown_user 2 \
	"bad_user.rules:2:17: error: unknown user 'xct_nosuch_user'" \
	xct_r rules check "$WORK/bad_user.rules"
printf 'drop iif veth-r-c meta skuid 0\n' >"$WORK/bad_iif.rules"
expect owner_rules_iif_refused 2 "bad_iif.rules:1:6: error: 'meta skuid' cannot be used with 'iif'" \
	xct_r rules check "$WORK/bad_iif.rules"
want owner_rules_bad_load_changes_nothing "$(probe allow $U_DENY $U_DENY)" \
	"tcp=ECONNREFUSED udp=EPERM"

# ---- show loads back ----

load show "policy accept
accept meta skgid $G_DENY udp
reject meta skuid { $U_DENY, 5000-5010 } tcp dport { $P_TCP, $P_TCP2 }
drop socket cgroupv2 level 2 \"$CG_NAME/deny\""
xct_r rules show >"$WORK/show1.rules" 2>"$WORK/show1.err"
grep -q "^reject meta skuid { $U_DENY, 5000-5010 } tcp dport { $P_TCP, $P_TCP2 } *# line 3: owner$" \
	"$WORK/show1.rules"
check owner_rules_show_prints_them $? "$(cat "$WORK/show1.rules")"
expect owner_rules_show_loads_back 0 "3 owner rules" xct_r rules load "$WORK/show1.rules"
xct_r rules show >"$WORK/show2.rules" 2>&1
cmp -s "$WORK/show1.rules" "$WORK/show2.rules"
check owner_rules_show_round_trip $? "$(diff "$WORK/show1.rules" "$WORK/show2.rules")"
xct_r -j rules show | "$PYTHON" -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x.get("owner")]
sys.exit(0 if len(r) == 3 and r[2]["line"] == 4 else 1)'
check owner_rules_show_json $?

# ---- what owner rules never decide ----

load scope "reject meta skuid 0"
want owner_rules_root_in_cgroup_refused "$(probe allow 0 0)" "tcp=ECONNREFUSED udp=EPERM"
want owner_rules_outside_cgroup_undecided "$(probe "" 0 0)" "tcp=ok udp=ok"
got=$(in_ns "$NS_C" socat -T 3 - "TCP:$S4:$P_TCP,connect-timeout=3" <<<"fwd" 2>&1)
want owner_rules_forwarded_undecided "$got" "fwd"

# ---- a connection made before the rule ----

xct_r rules clear >/dev/null
mkfifo -m 0666 "$WORK/hold.in" || fail_setup "mkfifo"
in_cg allow "$PYTHON" "$E2E_DIR/owner_probe.py" hold "$S4" "$P_TCP" --dir "$WORK" \
	--uid $U_DENY --gid $U_DENY 2>"$WORK/hold.err" &
BG_PIDS+=($!)
exec 7<>"$WORK/hold.in"
poll 10 test -s "$WORK/held" || fail_setup "held connection: $(cat "$WORK/hold.err")"
load held "reject meta skuid $U_DENY"
echo before >"$WORK/hold.in"
poll 10 grep -qx before "$WORK/hold.out"
check owner_rules_established_carries_on $? "$(cat "$WORK/hold.out" "$WORK/hold.err")"
want owner_rules_held_user_new_refused "$(probe allow $U_DENY $U_DENY)" \
	"tcp=ECONNREFUSED udp=EPERM"
# nft decides every packet: the same connection's next segment is refused.
xct_r rules clear >/dev/null
nft_r add table inet xct_ownr && NFT_TABLE=1
nft_r add chain inet xct_ownr output '{ type filter hook output priority 0; }'
nft_r add rule inet xct_ownr output meta skuid $U_DENY reject
echo after >"$WORK/hold.in"
poll 10 grep -qvx before "$WORK/hold.out"
! grep -qx after "$WORK/hold.out"
check owner_rules_nft_refuses_established $? "$(cat "$WORK/hold.out")"
nft_r delete table inet xct_ownr
NFT_TABLE=0
exec 7>&-

# ---- owner records over an interface xct is not attached to ----

# Connections over lo (xct is attached to the veths only) have no entry:
# their owner records must be swept once their sockets are released.
# owner_records: the records in xct_owner.
owner_records() {
	bpftool map dump pinned "$XCT_PIN/xct_owner" -j 2>/dev/null |
		"$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
records_back_to() {
	[ "$(owner_records)" -le "$1" ]
}
P_LO=7304
N_LO=200
ip netns exec "$NS_R" "$PYTHON" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(512)
while True:
    s.accept()[0].close()
' "$P_LO" 2>/dev/null &
BG_PIDS+=($!)
poll 10 listening "$NS_R" tcp "$P_LO" || fail_setup "lo listener"
base=$(owner_records)
in_cg allow "$PYTHON" -c '
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.close()
' "$P_LO" "$N_LO" || fail_setup "lo connections"
after=$(owner_records)
[ -n "$base" ] && [ "$after" -ge $((base + N_LO / 2)) ]
check owner_sweep_lo_records_made $? "records: $base before, $after after $N_LO connections"
poll 40 records_back_to "$base"
check owner_sweep_lo_records_swept $? "records: $base before, $(owner_records) now"
# owner_swept, slot 4 of xct_owner_stats, summed over CPUs (bpftool
# prints keys and values as numbers with BTF, as hex bytes without).
swept=$(bpftool map dump pinned "$XCT_PIN/xct_owner_stats" -j 2>/dev/null | "$PYTHON" -c '
import json, sys
def num(v):
    if isinstance(v, list):
        return int.from_bytes(bytes(int(b, 16) for b in v), "little")
    return int(v)
for e in json.load(sys.stdin):
    if "formatted" in e:
        e = e["formatted"]
    if num(e["key"]) == 4:
        print(sum(num(v["value"]) for v in e["values"]))')
[ -n "$swept" ] && [ "$swept" -ge $((after - base)) ]
check owner_sweep_counted $? "owner_swept: '$swept', want at least $((after - base))"
# xct metrics says the same as the map.
metric=$(xct_r metrics 2>/dev/null | awk '$1 == "xct_owner_records_total{event=\"swept\"}" { print $2 }')
[ -n "$metric" ] && [ "$metric" = "$swept" ]
check owner_sweep_in_metrics $? "xct_owner_records_total{event=\"swept\"} '$metric', the map: '$swept'"

[ "$failures" = 0 ]
