#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# keepalived's notify script for a pair of xct firewalls (docs/HA.md): what
# conntrackd's primary-backup.sh does on each VRRP transition, for xctd's
# state sync.
#
#   vrrp_sync_group G1 {
#       group { VI_LAN VI_WAN }
#       notify_master "/usr/sbin/xct-ha-notify primary"
#       notify_backup "/usr/sbin/xct-ha-notify backup"
#       notify_fault  "/usr/sbin/xct-ha-notify fault"
#   }
#
# primary: the peer's connections, which xctd kept in its external cache, go
#          into this node's table (xct sync commit returns once they are
#          in), then the cache is emptied (xct sync flush), as conntrackd -c
#          and -f.
# backup:  the connections the peer now owns leave this node's table (xct
#          sync purge), and the peer is asked for its table (xct sync
#          resync), as conntrackd -t and -n: a node that comes back without
#          restarting (its links were down) would otherwise keep entries
#          behind the connections that went on through the peer, and its
#          next commit leaves a tuple the table has as it is.  What the peer
#          sends from then until the next commit purges too; the node's own
#          connections (the peer never had them) stay.
# fault:   the purge alone, as conntrackd -t.
#
# Each step is logged to syslog (tag xct-ha) and stderr.  keepalived ignores
# the exit status, so a failed step does not stop the next one; the status
# is still 1 when one failed.  --state-file FILE gets a line
# "TRANSITION ok|failed" once the steps are done, for whatever waits on them.

set -u

# xct is installed beside this script.
XCT=${XCT:-${0%/*}/xct}
STATE_FILE=""
XCT_ARGS=""
FAILED=0

usage() {
	cat <<-EOF
		Usage: xct-ha-notify [--pin-path DIR] [--socket PATH] [--state-file FILE]
		                     primary|backup|fault

		keepalived's notify script for xct's state sync.  primary: commit
		the peer's connections into the table (xct sync commit), then empty
		the external cache (xct sync flush).  backup: take the connections
		the peer owns out of the table (xct sync purge), then ask the peer
		for its table (xct sync resync).  fault: the purge only.
		--pin-path and --socket are given to every xct command.
	EOF
}

log() {
	logger -t xct-ha -p "daemon.$1" -- "$2" 2>/dev/null
	echo "xct-ha-notify: $2" >&2
}

# step ARGS...: one xct command, logged with its output.
step() {
	# shellcheck disable=SC2086 # XCT_ARGS holds whole options
	if out=$("$XCT" $XCT_ARGS "$@" 2>&1); then
		log info "xct $*: $(echo "$out" | tr '\n' ' ')"
	else
		log err "xct $* failed: $(echo "$out" | tr '\n' ' ')"
		FAILED=1
	fi
}

while [ $# -gt 0 ]; do
	case $1 in
	--pin-path | --socket | --state-file)
		if [ $# -lt 2 ]; then
			echo "xct-ha-notify: $1 needs a value" >&2
			exit 2
		fi
		if [ "$1" = --state-file ]; then
			STATE_FILE=$2
		else
			XCT_ARGS="$XCT_ARGS $1 $2"
		fi
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	-*)
		echo "xct-ha-notify: unknown option '$1'" >&2
		usage >&2
		exit 2
		;;
	*)
		break
		;;
	esac
done
if [ $# -ne 1 ]; then
	usage >&2
	exit 2
fi

case $1 in
primary)
	log notice "becoming primary: committing the peer's connections"
	step sync commit
	step sync flush
	;;
backup)
	log notice "becoming backup: purging the peer's connections, asking for its table"
	step sync purge
	step sync resync
	;;
fault)
	log notice "in fault: purging the peer's connections"
	step sync purge
	;;
*)
	echo "xct-ha-notify: unknown transition '$1' (primary, backup or fault)" >&2
	exit 2
	;;
esac

if [ -n "$STATE_FILE" ]; then
	if [ "$FAILED" = 0 ]; then
		echo "$1 ok" >>"$STATE_FILE"
	else
		echo "$1 failed" >>"$STATE_FILE"
	fi
fi
exit "$FAILED"
