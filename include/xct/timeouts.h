/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tunables of the trackers, named as nf_conntrack's sysctls are (without
 * the "net.netfilter." prefix) and in the same units (seconds, or 0/1 and
 * counts for the TCP switches), with the kernel's defaults.  One table
 * serves xct.conf's [timeouts] section, xct set-timeout and xct timeouts.
 */
#ifndef XCT_TIMEOUTS_H
#define XCT_TIMEOUTS_H

#include "compat.h"

/* X(ID, sysctl name, default, largest value accepted) */
#define XCT_TUNABLES(X)                                                                            \
	X(GENERIC, "nf_conntrack_generic_timeout", 600, 0x7fffffff)                                \
	X(TCP_SYN_SENT, "nf_conntrack_tcp_timeout_syn_sent", 120, 0x7fffffff)                      \
	X(TCP_SYN_RECV, "nf_conntrack_tcp_timeout_syn_recv", 60, 0x7fffffff)                       \
	X(TCP_ESTABLISHED, "nf_conntrack_tcp_timeout_established", 432000, 0x7fffffff)             \
	X(TCP_FIN_WAIT, "nf_conntrack_tcp_timeout_fin_wait", 120, 0x7fffffff)                      \
	X(TCP_CLOSE_WAIT, "nf_conntrack_tcp_timeout_close_wait", 60, 0x7fffffff)                   \
	X(TCP_LAST_ACK, "nf_conntrack_tcp_timeout_last_ack", 30, 0x7fffffff)                       \
	X(TCP_TIME_WAIT, "nf_conntrack_tcp_timeout_time_wait", 120, 0x7fffffff)                    \
	X(TCP_CLOSE, "nf_conntrack_tcp_timeout_close", 10, 0x7fffffff)                             \
	X(TCP_RETRANS, "nf_conntrack_tcp_timeout_max_retrans", 300, 0x7fffffff)                    \
	X(TCP_UNACK, "nf_conntrack_tcp_timeout_unacknowledged", 300, 0x7fffffff)                   \
	X(UDP, "nf_conntrack_udp_timeout", 30, 0x7fffffff)                                         \
	X(UDP_STREAM, "nf_conntrack_udp_timeout_stream", 120, 0x7fffffff)                          \
	X(ICMP, "nf_conntrack_icmp_timeout", 30, 0x7fffffff)                                       \
	X(ICMPV6, "nf_conntrack_icmpv6_timeout", 30, 0x7fffffff)                                   \
	X(TCP_LOOSE, "nf_conntrack_tcp_loose", 1, 1)                                               \
	X(TCP_BE_LIBERAL, "nf_conntrack_tcp_be_liberal", 0, 1)                                     \
	X(TCP_MAX_RETRANS, "nf_conntrack_tcp_max_retrans", 3, 255)

enum xct_tunable {
#define XCT_TUNABLE_ENUM(id, name, def, max) XCT_TUNABLE_##id,
	XCT_TUNABLES(XCT_TUNABLE_ENUM)
#undef XCT_TUNABLE_ENUM
		XCT_TUNABLE_MAX,
};

/* Names and limits, for userspace: the datapath needs only the defaults. */
#ifndef __bpf__
struct xct_tunable_info {
	const char *name;
	__u32 def;
	__u32 max;
};

static const struct xct_tunable_info xct_tunable_info[XCT_TUNABLE_MAX] = {
#define XCT_TUNABLE_INFO(id, name, def, max) [XCT_TUNABLE_##id] = {name, def, max},
	XCT_TUNABLES(XCT_TUNABLE_INFO)
#undef XCT_TUNABLE_INFO
};
#endif

#endif /* XCT_TIMEOUTS_H */
