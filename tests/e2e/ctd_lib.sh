# SPDX-License-Identifier: GPL-2.0-only
# What the tests against a real conntrackd share (sourced after lib.sh,
# with WORK, SYNC_R, SYNC_B and SYNC_PORT set; SYNC_GROUP for multicast).

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

# ctd_conf MODE [TRANSPORT]: the backup's conntrackd.conf: MODE (NOTRACK or
# FTFW) over TRANSPORT (udp, the default, tcp or multicast) on sync0, its
# files under $WORK, the loopback's and the sync link's own addresses
# ignored.
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
			}
		}
	EOT
}
