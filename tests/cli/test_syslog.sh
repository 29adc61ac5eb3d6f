#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# What xct logs to syslog (facility daemon, identifier xct), besides
# stderr: attach, detach, up, reload, down, and failures with the
# interface and the cause.  The log socket is this test's own: in a
# private mount namespace (unshare -m) a directory of ours is bound over
# /dev, with /dev/null and friends bound into it and a datagram socket we
# read as /dev/log; the host's /dev is never touched.
set -u
cd "$(dirname "$0")/../.." || exit 1
XCT=$PWD/build/xct
ID="$$-$RANDOM"
NS="xct-log-service-$ID"
PEER="xct-logp-service-$ID"
if [ "${1:-}" != --inside ]; then
	STATE=$(mktemp -d /tmp/xct-syslog-service.XXXXXX)
	PIN="$STATE/bpf/xct"
	. tests/cli/lib.sh
	cli_one_veth || { not_ok "syslog: namespaces"; exit 1; }
	mkdir -p "$STATE/bpf" && mount -t bpf bpf "$STATE/bpf" || { not_ok "syslog: bpffs"; exit 1; }
	unshare -m --propagation private bash "$0" --inside "$NS" "$PEER" "$STATE"
	exit $?
fi
NS=$2 PEER=$3 STATE=$4 PIN="$STATE/bpf/xct"
. tests/cli/lib.sh
# The outer shell cleans up; this one only stops its reader.
trap 'kill "$READER" 2>/dev/null' EXIT

mkdir "$STATE/dev"
for d in null zero full random urandom tty; do
	touch "$STATE/dev/$d" && mount --bind "/dev/$d" "$STATE/dev/$d" || exit 1
done
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
' "$STATE/dev/log" "$STATE/log.txt" &
READER=$!
poll() {
	local i
	for i in $(seq 100); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
poll test -e "$STATE/dev/log.ready" || { not_ok "syslog: reader"; exit 1; }
mount --bind "$STATE/dev" /dev || { not_ok "syslog: bind over /dev"; exit 1; }

x() { ip netns exec "$NS" "$XCT" --pin-path "$PIN" "$@"; }

# logged NAME PATTERN: a line of the log matches PATTERN (extended regex),
# waited for.
logged() {
	if poll grep -qE -- "$2" "$STATE/log.txt"; then ok "$1"; else
		echo "  no /$2/ in the log:" >&2
		sed 's/^/    /' "$STATE/log.txt" >&2
		not_ok "$1"
	fi
}

# <30> is daemon.info, <27> daemon.err (facility 3 * 8 + level).
x attach --mode generic xc0 >/dev/null
logged "syslog: attach, with the interface" '^<30>.* xct\[[0-9]+\]: xc0: attached \(ingress xdp generic, egress tc\)$'
x attach nosuch0 >/dev/null 2>&1
logged "syslog: a failed attach, with the interface and the cause" \
	'^<27>.* xct\[[0-9]+\]: cannot attach to nosuch0: no such interface$'
x attach --mode generic xc0 >/dev/null 2>&1
logged "syslog: attach refused, with the cause" \
	'^<27>.* xct\[[0-9]+\]: xc0: already attached \(ingress xdp generic\)'
x detach xc0 >/dev/null
logged "syslog: detach" '^<30>.* xct\[[0-9]+\]: xc0: detached$'

printf 'policy accept\n' >"$STATE/rules.xct"
printf 'pin-path = %s\nrules = %s\n[interface xc0]\nmode = tc\n' "$PIN" "$STATE/rules.xct" \
	>"$STATE/xct.conf"
x up --config "$STATE/xct.conf" >/dev/null
logged "syslog: up, the interface it attached" '^<30>.* xc0: attached \(ingress tc, egress tc\)$'
logged "syslog: up, the configuration applied" "^<30>.* up: $STATE/xct.conf applied \(1 interface, rules $STATE/rules.xct\)$"
x reload --config "$STATE/xct.conf" >/dev/null
logged "syslog: reload" "^<30>.* reload: rules $STATE/rules.xct loaded$"
printf 'policy acept\n' >"$STATE/rules.xct"
x reload --config "$STATE/xct.conf" >/dev/null 2>&1
logged "syslog: a refused rules file" "^<27>.* $STATE/xct.conf: rules file $STATE/rules.xct refused$"
logged "syslog: the failed reload" "^<27>.* reload: $STATE/xct.conf failed$"
printf '[interface xc0]\nmode = fast\n' >"$STATE/bad.conf"
x up --config "$STATE/bad.conf" >/dev/null 2>&1
logged "syslog: a bad configuration, with its location" \
	"^<27>.* $STATE/bad.conf:2:8: 'fast' is not native, generic or tc$"
x down --config "$STATE/xct.conf" >/dev/null
logged "syslog: down" "^<30>.* down: $STATE/xct.conf \(1 interface detached\)$"
# xctd's flow log to the journal: each record one line of syslog.
x attach --mode generic xc0 >/dev/null
ip -n "$NS" addr add 10.250.9.1/24 dev xc0 && ip -n "$PEER" addr add 10.250.9.2/24 dev xp0
mkdir -m 0700 "$STATE/run"
ip netns exec "$NS" "$PWD/build/xctd" --foreground --pin-path "$PIN" \
	--socket "$STATE/run/xctd.sock" --flow-log journal 2>"$STATE/xctd.log" &
XCTD=$!
trap 'kill "$READER" "$XCTD" 2>/dev/null' EXIT
poll grep -q "listening on" "$STATE/xctd.log" || sed 's/^/    /' "$STATE/xctd.log" >&2
ip netns exec "$PEER" ping -c 1 -W 1 10.250.9.1 >/dev/null
x ct delete -p icmp >/dev/null 2>&1
logged "syslog: xctd --flow-log journal, a connection's end as one record" \
	'^<30>.* xctd\[[0-9]+\]: \{"time":[0-9.]+,"event":"DESTROY",.*"end":"deleted",.*"proto":"icmp",.*"src":"10\.250\.9\.2","dst":"10\.250\.9\.1"'
# A rule's log statement: each packet it logs, one line at its level with
# its prefix, in nf_log's format.  <29> is daemon.notice, <28> daemon.warn
# (nft's default level).
printf '%s\n' 'accept icmp type echo-request log prefix "xct ping: " level notice' \
	'accept udp dport 5353 log' >"$STATE/log.xct"
x rules load "$STATE/log.xct" >/dev/null
ip netns exec "$PEER" ping -c 1 -W 1 10.250.9.1 >/dev/null
logged "syslog: a rule's log, at its level, with its prefix, in nf_log's format" \
	'^<29>.* xctd\[[0-9]+\]: xct ping: IN=xc0 OUT= SRC=10\.250\.9\.2 DST=10\.250\.9\.1 LEN=84 PROTO=ICMP TYPE=8 CODE=0$'
ip netns exec "$PEER" python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.250.9.2", 40999)); s.sendto(b"x" * 10, ("10.250.9.1", 5353))'
logged "syslog: a rule's log without prefix or level: warn" \
	'^<28>.* xctd\[[0-9]+\]: IN=xc0 OUT= SRC=10\.250\.9\.2 DST=10\.250\.9\.1 LEN=38 PROTO=UDP SPT=40999 DPT=5353$'
# A reload that gives the line another prefix: the next packet says it.
printf '%s\n' 'accept icmp type echo-request log prefix "after reload " level err' >"$STATE/log.xct"
x rules load "$STATE/log.xct" >/dev/null
ip netns exec "$PEER" ping -c 1 -W 1 10.250.9.1 >/dev/null
logged "syslog: a reloaded rule's new prefix and level" '^<27>.* xctd\[[0-9]+\]: after reload IN=xc0 '
x rules clear >/dev/null
kill "$XCTD" 2>/dev/null
wait "$XCTD" 2>/dev/null
# --rule-log off: the rule's packets reach no syslog line.
ip netns exec "$NS" "$PWD/build/xctd" --foreground --pin-path "$PIN" \
	--socket "$STATE/run/xctd.sock" --rule-log off 2>"$STATE/xctd2.log" &
XCTD=$!
poll grep -q "listening on" "$STATE/xctd2.log" || sed 's/^/    /' "$STATE/xctd2.log" >&2
printf '%s\n' 'accept icmp type echo-request log prefix "silenced " level err' >"$STATE/log.xct"
x rules load "$STATE/log.xct" >/dev/null
ip netns exec "$PEER" ping -c 1 -W 1 10.250.9.1 >/dev/null
x events -c 1 -t 5 >/dev/null 2>&1 &
EVP=$!
ip netns exec "$PEER" ping -c 1 -W 1 10.250.9.1 >/dev/null
wait "$EVP"
if grep -q 'silenced' "$STATE/log.txt"; then not_ok "syslog: --rule-log off"; else ok "syslog: --rule-log off"; fi
kill "$XCTD" 2>/dev/null
wait "$XCTD" 2>/dev/null
x detach xc0 >/dev/null
[ "$failures" -eq 0 ]
