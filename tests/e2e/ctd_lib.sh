# SPDX-License-Identifier: GPL-2.0-only
# What the tests against a real conntrackd share (sourced after lib.sh).
# The conntrackd node is the namespace NS_B, on a sync link of its own to
# the router of lib.sh (sync0 on both, SYNC_R and SYNC_B), its files in
# WORK; CTD_TEST names the test in its set-up failures; SYNC_GROUP is the
# group of the multicast transport.

NS_B="xct-b-$TAG"
SYNC_R=10.231.9.1
SYNC_B=10.231.9.2
SYNC_PORT=3780
WORK=""
CTD_PID=""
CTD_TEST=${CTD_TEST:-ha_sync}

# Kills everything the test started, in every namespace, and removes them.
ctd_cleanup() {
	kill_in_ns "$NS_C" "$NS_S" "$NS_B"
	if [ -n "$CTD_PID" ]; then
		kill "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
	fi
	# What a test set up beyond the lib's, undone before the namespaces go.
	if declare -F ctd_cleanup_more >/dev/null; then
		ctd_cleanup_more
	fi
	e2e_cleanup
	ip netns del "$NS_B" 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap ctd_cleanup EXIT

fail_setup() {
	echo "not ok $CTD_TEST setup: $*"
	exit 1
}

ctd() { in_ns "$NS_B" conntrackd -C "$WORK/ctd.conf" "$@"; }
# xct on the router, with xctd's socket.
xs() { ip netns exec "$NS_R" "$XCT" --pin-path "$XCT_PIN" --socket "$WORK/run/xctd.sock" "$@"; }

# jget PATH...: the values at these paths (a.b) of the JSON on stdin,
# space-separated, in lower case (true, false).
jget() {
	"$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)
out = []
for p in sys.argv[1:]:
    v = r
    for k in p.split("."):
        v = v[k]
    out.append(str(v).lower())
print(" ".join(out))' "$@"
}
# stat PATH...: the same of xct -j sync stats.
stat() { xs -j sync stats 2>/dev/null | jget "$@"; }
stat_is() { [ "$(stat "$1")" = "$2" ]; }
stat_ge() { [ "$(stat "$1")" -ge "$2" ] 2>/dev/null; }

# ctd_setup: the router's topology with xct attached, the work directory,
# the conntrackd node and its sync link to the router.
ctd_setup() {
	setup_topology || fail_setup "topology"
	mount_pin_fs || fail_setup "bpffs"
	xct_attach native || fail_setup "xct attach"
	WORK=$(mktemp -d "/tmp/xct-$CTD_TEST.XXXXXX") || fail_setup "work dir"
	chmod 700 "$WORK"
	ip netns add "$NS_B" || fail_setup "conntrackd's namespace"
	ip link add sync0 netns "$NS_R" type veth peer name sync0 netns "$NS_B" ||
		fail_setup "sync link"
	in_ns "$NS_R" ip addr add "$SYNC_R/24" dev sync0 &&
		in_ns "$NS_B" ip addr add "$SYNC_B/24" dev sync0 &&
		in_ns "$NS_R" ip link set sync0 up &&
		in_ns "$NS_B" ip link set sync0 up &&
		in_ns "$NS_B" ip link set lo up || fail_setup "sync link addresses"
	poll 10 in_ns "$NS_R" ping -c 1 -W 1 "$SYNC_B" || fail_setup "sync link does not pass"
}

# ctd_start: conntrackd on $WORK/ctd.conf, CTD_PID its pid (not through
# in_ns: $! must be conntrackd itself, which ip netns exec execs).
ctd_start() {
	rm -f "$WORK/ctd.lock"
	ip netns exec "$NS_B" conntrackd -C "$WORK/ctd.conf" >>"$WORK/ctd.out" 2>&1 &
	CTD_PID=$!
	poll 10 ctd -s ||
		fail_setup "conntrackd did not start: $(cat "$WORK/ctd.out" "$WORK/ctd.log" 2>/dev/null | tail -5)"
}

ctd_stop() {
	kill "$CTD_PID" 2>/dev/null
	wait "$CTD_PID" 2>/dev/null
	CTD_PID=""
}

# ctd_transport TRANSPORT: conntrackd's block for udp, tcp or multicast on
# sync0, to the router's address or the group.
ctd_transport() {
	case $1 in
	multicast)
		cat <<-EOT
			Multicast {
				IPv4_address $SYNC_GROUP
				Group $SYNC_PORT
				IPv4_interface $SYNC_B
				Interface sync0
				Checksum on
			}
		EOT
		;;
	*)
		cat <<-EOT
			$([ "$1" = tcp ] && echo TCP || echo UDP) {
				IPv4_address $SYNC_B
				IPv4_Destination_Address $SYNC_R
				Port $SYNC_PORT
				Interface sync0
				Checksum on
			}
		EOT
		;;
	esac
}

# ctd_conf MODE [TRANSPORT [FILTER]]: the conntrackd node's conntrackd.conf:
# MODE (NOTRACK or FTFW) over TRANSPORT (udp, the default, tcp or
# multicast) on sync0, its files under $WORK, the loopback's and the sync
# link's own addresses ignored, and FILTER (a State Accept block, say) in
# its Filter From Userspace.
ctd_conf() {
	cat <<-EOT
		Sync {
			Mode $1 {
			}
			$(ctd_transport "${2:-udp}")
		}
		General {
			Systemd off
			HashSize 8192
			HashLimit 65536
			LogFile $WORK/ctd.log
			LockFile $WORK/ctd.lock
			UNIX {
				Path $WORK/ctd.ctl
			}
			NetlinkBufferSize 2097152
			NetlinkBufferSizeMaxGrowth 8388608
			Filter From Userspace {
				Address Ignore {
					IPv4_address 127.0.0.1
					IPv4_address $SYNC_R
					IPv4_address $SYNC_B
				}
				${3:-}
			}
		}
	EOT
}
