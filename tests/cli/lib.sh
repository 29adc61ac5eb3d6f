# SPDX-License-Identifier: GPL-2.0-only
# What the CLI test scripts share: their result lines and checks, and the
# cleanup of their state (sourced after NS, PEER, STATE and PIN are set:
# namespaces NS and PEER, a bpffs at $STATE/bpf, xct's pins at $PIN).
failures=0

cli_cleanup() {
	ip netns exec "$NS" "$XCT" --pin-path "$PIN" detach --all >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PEER" 2>/dev/null
	umount "$STATE/bpf" 2>/dev/null
	rm -rf "$STATE"
}
trap cli_cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok $1"; }
not_ok() {
	echo "not ok $1"
	failures=$((failures + 1))
}

# check NAME CMD...: ok if CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# expect NAME STATUS PATTERN CMD...: exit status and a stderr+stdout pattern.
expect() {
	local name=$1 want=$2 pattern=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
		ok "$name"
	else
		echo "  $*: exit $rc (want $want, /$pattern/), output:" >&2
		sed 's/^/    /' <<<"$out" >&2
		not_ok "$name"
	fi
}

# One veth pair: xc0 in NS, its other end xp0 in PEER, both up.
cli_one_veth() {
	ip netns add "$NS" && ip netns add "$PEER" &&
		ip link add xc0 netns "$NS" type veth peer name xp0 netns "$PEER" &&
		ip -n "$NS" link set xc0 up && ip -n "$PEER" link set xp0 up
}
