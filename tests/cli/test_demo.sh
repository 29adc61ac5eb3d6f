#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Two demos at once: each makes its namespaces and interfaces under names
# of its own, so both run to the end, each with its router's interfaces
# attached and its traffic tracked, and neither leaves anything behind.
# They run from a namespace of this test's that already holds interfaces
# called as the demo's are (as another demo's would be, were they made
# where the demo runs).
set -u
cd "$(dirname "$0")/../.." || exit 1
export XCT=${XCT:-$PWD/build/xct}
OUT=$(mktemp -d /tmp/xct-demo-test.XXXXXX)
HOST="xct-demoh-$$-$RANDOM"
failures=0
trap 'ip netns del "$HOST" 2>/dev/null; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok netns $1"; }
not_ok() {
	echo "not ok netns $1"
	failures=$((failures + 1))
}

if ! ip netns add "$HOST" || ! ip -n "$HOST" link add xd-c type veth peer name xd-rc ||
	! ip -n "$HOST" link add xd-s type veth peer name xd-rs; then
	echo "not ok netns demo_setup"
	exit 1
fi
timeout 120 ip netns exec "$HOST" scripts/demo.sh >"$OUT/1" 2>&1 &
p1=$!
timeout 120 ip netns exec "$HOST" scripts/demo.sh >"$OUT/2" 2>&1 &
p2=$!
wait "$p1"
rc1=$?
wait "$p2"
rc2=$?
for i in 1 2; do
	rc=rc$i
	if [ "${!rc}" = 0 ] && grep -q "^xd-rc: attached" "$OUT/$i" &&
		grep -q "^xd-rs: attached" "$OUT/$i" &&
		grep -qE "^tcp +6 [0-9]+ ESTABLISHED src=10\.77\.1\.2 dst=10\.77\.2\.2 .* dport=8080 " "$OUT/$i"; then
		ok "demo_$i"
	else
		echo "#   demo $i: exit ${!rc}, output:"
		sed 's/^/#     /' "$OUT/$i"
		not_ok "demo_$i"
	fi
done
# Each demo's router namespace, as its status named it, is gone.
for i in 1 2; do
	r=$(sed -n 's/.*(ip netns \(xct-demo-r-[0-9]*-[0-9]*\)).*/\1/p' "$OUT/$i" | head -1)
	if [ -n "$r" ] && ! ip netns list | grep -q "^$r\b"; then
		ok "demo_${i}_removed_its_namespaces"
	else
		not_ok "demo_${i}_removed_its_namespaces"
	fi
done
[ "$failures" = 0 ]
