#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# make install / uninstall into a DESTDIR, and the unit it installs:
#
#   1. make install PREFIX=/usr DESTDIR=D puts every file where Debian
#      expects it, with its mode, and nothing else; the binary is the one
#      built, the unit names the installed binary and configuration, the
#      example configuration is a valid xct.conf naming a valid rules file;
#   2. installing again keeps a configuration the administrator changed;
#   3. systemd-analyze verify (offline, in the DESTDIR root) accepts the
#      units without a message;
#   4. the unit's ExecStart, ExecReload and ExecStop, as written in it, run
#      in that order against an interface in a namespace: up attaches,
#      reload loads the rules again, stop leaves no hook or pin;
#   5. make uninstall removes every installed file but the configuration;
#   6. the default PREFIX is /usr/local.
set -u
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
XCT=$PWD/build/xct
ID="$$-$RANDOM"
NS="xct-inst-service-$ID"
PEER="xct-instp-service-$ID"
STATE=$(mktemp -d /tmp/xct-install-service.XXXXXX)
PIN="$STATE/bpf/xct"
D="$STATE/root"
. tests/cli/lib.sh

# files ROOT: every file and link under ROOT with its mode, sorted.
files() {
	(cd "$1" && find . \( -type f -o -type l \) -printf '%m %p\n' | sort)
}

inst() { make -s --no-print-directory -C "$REPO" "$@" 2>&1; }

out=$(inst install PREFIX=/usr DESTDIR="$D")
check "install: make install PREFIX=/usr DESTDIR" test $? -eq 0
want="644 ./etc/xct/rules.xct
644 ./etc/xct/xct.conf
644 ./usr/lib/systemd/system/xct.service
644 ./usr/share/bash-completion/completions/xct
644 ./usr/share/man/man5/xct.conf.5
644 ./usr/share/man/man5/xct.rules.5
644 ./usr/share/man/man8/xct.8
755 ./usr/sbin/xct"
if [ -x build/xctd ]; then
	want=$(printf '%s\n644 ./usr/lib/systemd/system/xctd.service\n644 ./usr/share/man/man8/xctd.8\n755 ./usr/sbin/xctd\n755 ./usr/sbin/xct-ha-notify\n777 ./usr/share/bash-completion/completions/xctd\n' "$want" | sort)
fi
got=$(files "$D")
if [ "$got" = "$want" ]; then ok "install: every file, with its mode"; else
	diff <(echo "$want") <(echo "$got") | sed 's/^/  /' >&2
	not_ok "install: every file, with its mode"
fi
check "install: the binary is the one built" cmp -s build/xct "$D/usr/sbin/xct"
check "install: the pages are the ones built" cmp -s build/man/xct.8 "$D/usr/share/man/man8/xct.8"
expect "install: the installed binary runs" 0 "^xct [0-9]" "$D/usr/sbin/xct" version
unit="$D/usr/lib/systemd/system/xct.service"
check "install: the unit runs /usr/sbin/xct with /etc/xct/xct.conf" \
	grep -qx "ExecStart=/usr/sbin/xct up --config /etc/xct/xct.conf" "$unit"
check "install: the completion is the repository's" cmp -s completion/xct \
	"$D/usr/share/bash-completion/completions/xct"
if [ -x build/xctd ]; then
	# keepalived's notify script runs the xct installed beside it: with no
	# xct attached, the commit fails and says why.
	expect "install: xct-ha-notify runs the installed xct" 1 \
		"xct sync commit failed: xct: xct is not attached under $PIN" \
		env -u XCT PATH=/usr/bin:/bin "$D/usr/sbin/xct-ha-notify" --pin-path "$PIN" \
		--socket "$STATE/none.sock" primary
fi
# The example configuration parses; its rules file is the installed one.
{
	printf 'pin-path = %s\n' "$PIN"
	sed "s|^rules = /etc/xct/rules.xct|rules = $D/etc/xct/rules.xct|" "$D/etc/xct/xct.conf"
} >"$STATE/example.conf"
check "install: the example xct.conf names /etc/xct/rules.xct" \
	grep -qx "rules = /etc/xct/rules.xct" "$D/etc/xct/xct.conf"
# Parsed whole, it only finds that nothing is up (1, not 2).
expect "install: the example xct.conf is valid" 1 "xct is not up under $PIN" \
	"$XCT" reload --config "$STATE/example.conf"
expect "install: the example rules file is valid" 0 "0 rules, 0 sets, valid" \
	build/xct rules check "$D/etc/xct/rules.xct"

# 2. the administrator's configuration is kept.
echo "# changed by the administrator" >>"$D/etc/xct/xct.conf"
before=$(md5sum "$D/etc/xct/xct.conf")
out=$(inst install PREFIX=/usr DESTDIR="$D")
grep -q "xct.conf exists: kept" <<<"$out" && [ "$(md5sum "$D/etc/xct/xct.conf")" = "$before" ]
check "install: an existing xct.conf is never overwritten" test $? -eq 0

# 3. the units, checked offline in the DESTDIR root.
# The DESTDIR tree with the system's targets beside it, which a unit with
# the default dependencies (xctd.service) needs to be checked.
V="$STATE/verify-root"
cp -a "$D" "$V" && mkdir -p "$V/lib/systemd/system" &&
	cp -a /lib/systemd/system/*.target "$V/lib/systemd/system/" ||
	not_ok "unit: a root to verify in"
verify() {
	local unit=$1 out rc
	out=$(MANPATH="$V/usr/share/man" systemd-analyze verify --root="$V" "$unit" 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ] && return 0
	echo "  systemd-analyze verify $unit: exit $rc: $out" >&2
	return 1
}
check "unit: systemd-analyze verify xct.service" verify xct.service
grep -q "^Type=oneshot" "$unit" && grep -q "^RemainAfterExit=yes" "$unit" &&
	grep -q "^Before=network-pre.target" "$unit" &&
	grep -q "^CapabilityBoundingSet=.*CAP_BPF" "$unit" &&
	! grep -qE "^(ProtectKernelTunables|PrivateDevices|SystemCallFilter)=" "$unit"
check "unit: oneshot, before network-pre, BPF capabilities, no sandboxing that breaks BPF" \
	test $? -eq 0
if [ -x build/xctd ]; then
	check "unit: systemd-analyze verify xctd.service" verify xctd.service
fi

# 4. what systemctl start, reload and stop run, taken from the unit: the
# installed binary and configuration (paths under the DESTDIR), with this
# test's interface and bpffs in the configuration.
cli_one_veth || { not_ok "unit: namespaces"; exit 1; }
mkdir -p "$STATE/bpf" && mount -t bpf bpf "$STATE/bpf" || { not_ok "unit: bpffs"; exit 1; }
cat >"$D/etc/xct/xct.conf" <<-EOF
	pin-path = $PIN
	rules = $D/etc/xct/rules.xct
	[interface xc0]
	mode = generic
EOF
unit_cmd() { # unit_cmd KEY: the unit's command line, paths under the DESTDIR
	sed -n "s|^$1=||p" "$unit" | sed -e "s|/usr/sbin/|$D/usr/sbin/|" -e "s| /etc/| $D/etc/|"
}
start=$(unit_cmd ExecStart)
reload=$(unit_cmd ExecReload)
stop=$(unit_cmd ExecStop)
# shellcheck disable=SC2086
expect "unit: ExecStart attaches" 0 "xc0: attached \(ingress xdp generic" ip netns exec "$NS" $start
expect "unit: status after start" 0 "xc0 .*ingress xdp generic" \
	ip netns exec "$NS" "$D/usr/sbin/xct" --pin-path "$PIN" status
# shellcheck disable=SC2086
expect "unit: ExecReload loads the rules" 0 "rules.xct: 0 rules, 0 sets, loaded" \
	ip netns exec "$NS" $reload
# shellcheck disable=SC2086
expect "unit: ExecStop detaches" 0 "xc0: detached" ip netns exec "$NS" $stop
left="$(ip -n "$NS" -d link show dev xc0 | grep -o 'prog/xdp.*')$(tc -n "$NS" filter show dev xc0 ingress)$(tc -n "$NS" filter show dev xc0 egress)$(ls -A "$PIN")"
check "unit: nothing left after stop" test -z "$left"

# 5. uninstall keeps only the configuration.
out=$(inst uninstall PREFIX=/usr DESTDIR="$D")
check "uninstall: make uninstall" test $? -eq 0
got=$(files "$D" | awk '{ print $2 }' | tr '\n' ' ')
check "uninstall: only the configuration is left" \
	test "$got" = "./etc/xct/rules.xct ./etc/xct/xct.conf "

# 6. the default layout.
out=$(inst install DESTDIR="$STATE/local")
check "install: default PREFIX /usr/local, SYSCONFDIR /etc" \
	test -x "$STATE/local/usr/local/sbin/xct" -a -f "$STATE/local/usr/local/share/man/man8/xct.8" \
	-a -f "$STATE/local/etc/xct/xct.conf"
check "install: a unit under /usr/local runs /usr/local/sbin/xct" \
	grep -qx "ExecStart=/usr/local/sbin/xct up --config /etc/xct/xct.conf" \
	"$STATE/local/usr/local/lib/systemd/system/xct.service"

[ "$failures" -eq 0 ]
