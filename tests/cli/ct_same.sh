# SPDX-License-Identifier: GPL-2.0-only
# One command as conntrack(8) on the kernel's table and as xct ct on xct's,
# compared (sourced after lib.sh, with NS, PEER, STATE, PIN, XCT and
# SAME_PREFIX set; SAME_PREFIX starts each result's name).  same_setup
# makes the two sides: nf_conntrack's table in PEER (k ARGS runs
# `conntrack ARGS` there) and xct attached in NS (x ARGS runs `xct ARGS`
# there).  Both must exit alike and list the same entries, but for what
# the two count differently: xct always has the counters (packets=,
# bytes=; nf_conntrack only with nf_conntrack_acct), the ids, the second
# the timeout is read in, and the use count (the kernel's counts the
# reference its netlink answer holds: use=2 after -G or -U, where xct has
# nothing to hold).

x() { ip netns exec "$NS" "$XCT" --pin-path "$PIN" "$@"; }
k() { ip netns exec "$PEER" conntrack "$@"; }

# Exits the test, after its not ok line, when a side cannot be made.
same_setup() {
	command -v conntrack >/dev/null ||
		{ not_ok "$SAME_PREFIX: conntrack(8) is not installed"; exit 1; }
	cli_one_veth || { not_ok "$SAME_PREFIX: namespaces"; exit 1; }
	mkdir -p "$STATE/bpf" && mount -t bpf bpf "$STATE/bpf" ||
		{ not_ok "$SAME_PREFIX: bpffs"; exit 1; }
	modprobe nf_conntrack 2>/dev/null
	x attach --mode generic xc0 >/dev/null || { not_ok "$SAME_PREFIX: attach"; exit 1; }
}

# norm: what both print, without what they count differently.
norm() {
	sed -E -e 's/ (packets|bytes|use)=[0-9]+//g' -e 's/ id=[0-9]+//g' \
		-e 's/^((ipv[46] +[0-9]+ +)?[a-z0-9]+ +[0-9]+ +)[0-9]+ /\1T /' \
		-e 's/^(xct v[^:]*|conntrack v[^:]*): //' | sort
}
# same NAME ARGS...: `conntrack ARGS` and `xct ct ARGS` (conntrack's
# command letters) exit alike, list the same entries (norm) and end with
# the same count ("N flow entries have been shown."); their error messages
# are their own.  Their exit statuses are left in SAME_KRC and SAME_XRC.
same() {
	local name=$1 kout xout krc xrc
	shift
	kout=$(k "$@" 2>&1)
	krc=$?
	xout=$(x ct "$@" 2>&1)
	xrc=$?
	SAME_KRC=$krc SAME_XRC=$xrc
	kout=$(grep -E '^(ipv[46] |[a-z]+ +[0-9]+ |[0-9]+$|.*flow entries have been)' <<<"$kout" | norm)
	xout=$(grep -E '^(ipv[46] |[a-z]+ +[0-9]+ |[0-9]+$|.*flow entries have been)' <<<"$xout" | norm)
	if [ "$krc" = "$xrc" ] && [ "$kout" = "$xout" ]; then
		ok "$SAME_PREFIX: $name"
	else
		echo "  $*: conntrack exit $krc, xct exit $xrc" >&2
		diff <(echo "$kout") <(echo "$xout") | sed 's/^/    /' >&2
		not_ok "$SAME_PREFIX: $name"
	fi
}
