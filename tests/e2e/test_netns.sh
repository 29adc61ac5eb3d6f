#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# xct in a router namespace, with no --pin-path, the way a user runs it:
#
#   1. `ip netns exec A xct attach IF` keeps its state on the host's BPF
#      filesystem, in A's own directory: a second `ip netns exec` sees the
#      interface attached, its hooks there and the traffic tracked, and
#      detach removes every hook and filter;
#   2. a second router namespace B gets a table of its own;
#   3. commands run in A on B's state (--pin-path of B's directory, the
#      default one or an explicit one on a bpffs both reach) are
#      refused, exit 1, naming both namespaces, and change nothing of B's;
#      so are commands on the host on A's state;
#   4. where the state could only go on a BPF filesystem that dies with
#      the command (an explicit pin path under `ip netns exec`'s own
#      /sys), attach refuses before it touches a hook;
#   5. a state left by a namespace that is gone, whose inode number a new
#      one got, is refused but by `detach --all`, which clears it;
#   6. an xctd in each namespace, with no --pin-path or --socket, listens
#      on a socket of its own namespace's instance (/run is shared by every
#      namespace), and `xct ct events` in each, with no option, reads its
#      own namespace's events through its own daemon.
# Each check prints its own ok / not ok line.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=${XCT:-$PWD/build/xct}
PY=/usr/bin/python3
ID="$$-$RANDOM"
NS_A="xct-nsa-$ID"
NS_PA="xct-nspa-$ID"
NS_B="xct-nsb-$ID"
NS_PB="xct-nspb-$ID"
failures=0
DIR_A=""
DIR_B=""
STATE=$(mktemp -d /tmp/xct-netns.XXXXXX)
PIN_B2="$STATE/bpf/b"

XCTD=${XCTD:-$PWD/build/xctd}
DAEMONS=()

cleanup() {
	for pid in "${DAEMONS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip netns exec "$NS_A" "$XCT" detach --all >/dev/null 2>&1
	ip netns exec "$NS_B" "$XCT" detach --all >/dev/null 2>&1
	ip netns exec "$NS_B" "$XCT" --pin-path "$PIN_B2" detach --all >/dev/null 2>&1
	umount "$STATE/bpf" 2>/dev/null
	rm -rf "$STATE"
	for d in "$DIR_A" "$DIR_B"; do
		[ -n "$d" ] && rmdir "$d" 2>/dev/null
	done
	for ns in "$NS_A" "$NS_PA" "$NS_B" "$NS_PB"; do
		ip netns del "$ns" 2>/dev/null
	done
}
# tests/cli/lib.sh's result lines and checks; this script's own cleanup.
NS="$NS_A" PEER="$NS_PA" PIN=""
. tests/cli/lib.sh
trap cleanup EXIT
trap 'exit 130' INT TERM

xa() { ip netns exec "$NS_A" "$XCT" "$@"; }
xb() { ip netns exec "$NS_B" "$XCT" "$@"; }

# router NS PEER IF PEERIF NET: a veth pair, NET.1 in NS, NET.2 in PEER.
router() {
	ip netns add "$1" && ip netns add "$2" &&
		ip link add "$3" netns "$1" type veth peer name "$4" netns "$2" &&
		ip -n "$1" link set "$3" up && ip -n "$2" link set "$4" up &&
		ip -n "$1" addr add "$5.1/24" dev "$3" && ip -n "$2" addr add "$5.2/24" dev "$4"
}

# hooks NS IF: what the kernel has of anyone's on IF: XDP, TC filters.
hooks() {
	ip -n "$1" -d link show dev "$2" | grep -o 'prog/xdp id [0-9]*'
	tc -n "$1" filter show dev "$2" ingress
	tc -n "$1" filter show dev "$2" egress
}

ns_inode() { ip netns exec "$1" stat -L -c %i /proc/self/ns/net; }

if ! router "$NS_A" "$NS_PA" xa0 xpa0 10.241.1 || ! router "$NS_B" "$NS_PB" xb0 xpb0 10.241.2 ||
	! ip -n "$NS_A" link add xa1 type veth peer name xa2 || ! ip -n "$NS_A" link set xa1 up ||
	! ip -n "$NS_B" link add xb1 type veth peer name xb2 || ! ip -n "$NS_B" link set xb1 up ||
	! mkdir "$STATE/bpf" || ! mount -t bpf bpf "$STATE/bpf"; then
	echo "not ok netns setup: cannot create the namespaces"
	exit 1
fi
INO_A=$(ns_inode "$NS_A")
INO_B=$(ns_inode "$NS_B")
if [ -z "$INO_A" ] || [ -z "$INO_B" ] || [ "$INO_A" = "$INO_B" ]; then
	echo "not ok netns setup: no namespace inodes ($INO_A, $INO_B)"
	exit 1
fi

# 1. No flags: the state survives `ip netns exec`, in A's own directory.
expect "netns attach in a namespace with no flags" 0 '^xa0: attached' xa attach xa0
out=$(xa status 2>&1)
rc=$?
DIR_A=$(sed -n 's/^xct .*, state in \(.*\) (network namespace.*/\1/p' <<<"$out" | head -1)
if [ "$rc" = 0 ] && grep -qE "^  xa0 \(ifindex [0-9]+\): ingress xdp native" <<<"$out" &&
	grep -q "network namespace net:\[$INO_A\] (ip netns $NS_A)" <<<"$out" &&
	[[ "$DIR_A" == */sys/fs/bpf/xct-netns-$INO_A ]]; then
	ok "netns status from a second ip netns exec sees xa0 attached"
else
	echo "#   status: exit $rc"
	sed 's/^/#     /' <<<"$out"
	not_ok "netns status from a second ip netns exec sees xa0 attached"
fi
check "netns the state is on the host's bpffs, root's alone" \
	test "$(stat -c '%U %a' "/sys/fs/bpf/xct-netns-$INO_A" 2>/dev/null)" = "root 700" -a \
	-e "/sys/fs/bpf/xct-netns-$INO_A/xct_ct"
# the host's view of the same directory, so that cleanup finds it
DIR_A=/sys/fs/bpf/xct-netns-$INO_A
ip netns exec "$NS_PA" ping -c 3 -i 0.2 -W 1 10.241.1.1 >/dev/null
expect "netns a second ip netns exec lists the tracked ping" 0 \
	'^icmp +1 [0-9]+ src=10\.241\.1\.2 dst=10\.241\.1\.1 type=8 code=0 id=[0-9]+ packets=3 bytes=252 src=10\.241\.1\.1 dst=10\.241\.1\.2 type=0 code=0 id=[0-9]+ packets=3 bytes=252' \
	xa ct list -p icmp
check "netns xa0's XDP and TC filters are there" test "$(hooks "$NS_A" xa0 | grep -c 'xdp\|xct_')" -ge 3

# 2. B gets a table of its own.
expect "netns attach in a second namespace" 0 '^xb0: attached' xb attach xb0
DIR_B=/sys/fs/bpf/xct-netns-$INO_B
check "netns B's state is in B's directory" test -e "$DIR_B/xct_ct"
# B's directory by the path a command in a namespace reaches it by
SEEN_B=$(xb status 2>&1 | sed -n 's/^xct .*, state in \(.*\) (network namespace.*/\1/p')
expect "netns B's table does not hold A's connection" 0 '^0$' xb ct count
expect "netns B's status lists xb0 and not xa0" 0 "^  xb0 \(ifindex" xb status
if xb status 2>&1 | grep -q xa0; then not_ok "netns B's status does not list xa0"; else ok "B's status does not list xa0"; fi

# 6. A daemon in each namespace, each reader on its own.
# xctd_in NS LOG: start xctd in NS with every default, logging to LOG.
xctd_in() {
	ip netns exec "$1" "$XCTD" --foreground >/dev/null 2>"$2" &
	DAEMONS+=($!)
}
# listening LOG: the socket the daemon logging to LOG listens on, once it does.
listening() {
	local i
	for i in $(seq 100); do
		sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$1" | grep . && return 0
		sleep 0.05
	done
	return 1
}
xctd_in "$NS_A" "$STATE/xctd-a.log"
xctd_in "$NS_B" "$STATE/xctd-b.log"
SOCK_A=$(listening "$STATE/xctd-a.log")
SOCK_B=$(listening "$STATE/xctd-b.log")
if [ -n "$SOCK_A" ] && [ -n "$SOCK_B" ] && [ "$SOCK_A" != "$SOCK_B" ] &&
	[ -S "$SOCK_A" ] && [ -S "$SOCK_B" ]; then
	ok "netns each namespace's xctd listens on a socket of its own"
else
	not_ok "netns each namespace's xctd listens on a socket of its own"
	sed 's/^/#   /' "$STATE/xctd-a.log" "$STATE/xctd-b.log"
fi
# events_in NS PEER NET: a reader in NS, with no option, sees PEER's ping.
events_in() {
	local out=$STATE/events-$1
	ip netns exec "$1" "$XCT" ct events -p icmp -e NEW --count 1 --timeout 10 >"$out" 2>&1 &
	local reader=$! i
	# Ping until the reader has its event: it may not be subscribed yet.
	for i in $(seq 50); do
		kill -0 "$reader" 2>/dev/null || break
		ip netns exec "$2" ping -c 1 -W 1 "$3.1" >/dev/null
		sleep 0.2
	done
	wait "$reader"
}
events_in "$NS_A" "$NS_PA" 10.241.1 && grep -q "src=10.241.1.2 " "$STATE/events-$NS_A" &&
	! grep -q "10.241.2" "$STATE/events-$NS_A"
check "netns a reader in A gets A's events through A's xctd" test $? = 0
events_in "$NS_B" "$NS_PB" 10.241.2 && grep -q "src=10.241.2.2 " "$STATE/events-$NS_B" &&
	! grep -q "10.241.1" "$STATE/events-$NS_B"
check "netns a reader in B gets B's events through B's xctd" test $? = 0
for pid in "${DAEMONS[@]}"; do
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
DAEMONS=()

# 3. Another namespace's state is refused, and nothing of it changes.
before=$(hooks "$NS_B" xb0)
# refused_in_a NAME PIN: detach --all and status from A on PIN are refused.
refused_in_a() {
	expect "netns detach --all on $1 from A is refused" 1 \
		"belongs to network namespace net:\[$INO_B\] \(ip netns $NS_B\), not to this one \(net:\[$INO_A\] \(ip netns $NS_A\)\)" \
		xa --pin-path "$2" detach --all
	expect "netns status on $1 from A is refused" 1 "net:\[$INO_B\].*net:\[$INO_A\]" \
		xa --pin-path "$2" status
}
refused_in_a "B's state" "$SEEN_B"
expect "netns ct flush on B's state from A is refused" 1 "net:\[$INO_B\].*net:\[$INO_A\]" \
	xa --pin-path "$SEEN_B" ct flush
expect "netns attach on B's state from A is refused" 1 "net:\[$INO_B\].*net:\[$INO_A\]" \
	xa --pin-path "$SEEN_B" attach xa1
check "netns xa1 stayed untouched" test -z "$(hooks "$NS_A" xa1)"
expect "netns rules clear on A's state from the host is refused" 1 "net:\[$INO_A\]" \
	"$XCT" --pin-path "$DIR_A" rules clear
check "netns B's hooks are all still there" test "$before" = "$(hooks "$NS_B" xb0)" -a -n "$before"
check "netns B's pins are all still there" test -e "$DIR_B/xct_ct" -a -e "$DIR_B/xct_ifaces"
expect "netns B's status is still complete" 0 "^  xb0 \(ifindex [0-9]+\): ingress xdp native.*\)$" xb status

# The same with an explicit pin path that both namespaces reach.
expect "netns attach in B with an explicit pin path" 0 '^xb1: attached' \
	xb --pin-path "$PIN_B2" attach xb1
before=$(hooks "$NS_B" xb1)
refused_in_a "B's explicit state" "$PIN_B2"
check "netns xb1's hooks and B's pins are all still there" \
	test "$before" = "$(hooks "$NS_B" xb1)" -a -n "$before" -a -e "$PIN_B2/xct_ct"
expect "netns B's explicit state is still complete" 0 "^  xb1 \(ifindex [0-9]+\): ingress xdp native.*\)$" \
	xb --pin-path "$PIN_B2" status
expect "netns detach --all in B with its explicit pin path" 0 "" xb --pin-path "$PIN_B2" detach --all
check "netns xb1 has no hook left" test -z "$(hooks "$NS_B" xb1)"

# 4. A state that would die with the command is refused before any hook.
expect "netns attach with a pin path on ip netns exec's own /sys is refused" 1 \
	"would go with this private mount namespace" \
	xa --pin-path /sys/fs/bpf/xct-netns-probe attach xa1
check "netns xa1 has no hook after the refusal" test -z "$(hooks "$NS_A" xa1)"
expect "netns a pin path through another process's root is refused" 1 \
	"refusing the pin path /proc/self/root/sys/fs/bpf/xct-x: /proc/self is a symbolic link" \
	xa --pin-path /proc/self/root/sys/fs/bpf/xct-x attach xa1
check "netns xa1 has no hook after that refusal" test -z "$(hooks "$NS_A" xa1)"

# Detach removes every hook and filter, and every pin.
expect "netns detach --all in A" 0 "" xa detach --all
check "netns xa0 has no XDP program and no filter left" test -z "$(hooks "$NS_A" xa0)"
check "netns A's directory holds no pin" test -z "$(ls -A "$DIR_A" 2>/dev/null)"
expect "netns status in A: not attached" 1 "not attached" xa status
expect "netns B still tracks after A's detach" 0 "^  xb0 " xb status

# 5. A state whose namespace is gone, and whose inode number this
# namespace has (the kernel gives freed numbers out again): B's record is
# made to say so by another cookie.
rec=$(bpftool -j map lookup pinned "$DIR_B/xct_netns" key 0 0 0 0 | "$PY" -c '
import json, sys
b = [int(x, 16) for x in json.load(sys.stdin)["value"]]
b[16] ^= 0xff  # the cookie, after the inode and the device
print(" ".join(str(x) for x in b))')
if [ -n "$rec" ] && bpftool map update pinned "$DIR_B/xct_netns" key 0 0 0 0 value $rec; then
	expect "netns state of a namespace that is gone is refused" 1 \
		"was left by a network namespace that no longer exists \(net:\[$INO_B\]" xb status
	expect "netns attach on it is refused" 1 "no longer exists" xb attach xb1
	check "netns xb1 has no hook after that refusal" test -z "$(hooks "$NS_B" xb1)"
	expect "netns detach --all clears it" 0 "" xb detach --all
	check "netns B's directory holds no pin after it" test -z "$(ls -A "$DIR_B" 2>/dev/null)"
	expect "netns B attaches afresh" 0 '^xb0: attached' xb attach xb0
else
	not_ok "netns a record made to say its namespace is gone"
fi

[ "$failures" -eq 0 ]
