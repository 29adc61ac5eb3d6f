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

/* The defaults as constants. */
enum {
#define XCT_TUNABLE_DEF(id, name, def, max) XCT_TUNABLE_DEF_##id = def,
	XCT_TUNABLES(XCT_TUNABLE_DEF)
#undef XCT_TUNABLE_DEF
};

/*
 * The values in force: the single entry of the pinned map xct_timeouts
 * (bpf/maps.h), which xct writes whole (xct set-timeout, xct up, xct
 * reload).  The map starts zeroed: until then written is 0 and the
 * defaults apply; xct sets it to XCT_TUNABLES_WRITTEN (all ones, a mask:
 * see xct_tunable()).  It comes last so that a reader racing the first
 * write sees it set only after the values (stores are not reordered on
 * x86).
 */
#define XCT_TUNABLES_WRITTEN 0xffffffffU

struct xct_tunables {
	__u32 v[XCT_TUNABLE_MAX];
	__u32 written;
};

XCT_INLINE __u32 xct_tunable_default(enum xct_tunable id)
{
	switch (id) {
#define XCT_TUNABLE_CASE(id, name, def, max)                                                       \
	case XCT_TUNABLE_##id:                                                                     \
		return def;
		XCT_TUNABLES(XCT_TUNABLE_CASE)
#undef XCT_TUNABLE_CASE
	default:
		break;
	}
	return 0;
}

#ifdef __bpf__
/* The lookup of the map's entry, defined with the map in bpf/maps.h. */
XCT_INLINE const struct xct_tunables *xct_tunables_now(void);
#else
/* In userspace (the unit tests of the trackers) a plain struct stands for
 * the map: each file that includes this header has its own. */
static struct xct_tunables xct_tunables_user __attribute__((unused));

XCT_INLINE const struct xct_tunables *xct_tunables_now(void)
{
	return &xct_tunables_user;
}
#endif

/*
 * A tunable's value in force, read at each use: a change applies to a live
 * connection at its next packet, as a sysctl write does in nf_conntrack.
 * id is a constant at every call, so the load is one fixed offset.  The
 * choice between the map's value and the default is a mask rather than a
 * branch: a branch would double the verifier's states at every use.
 */
XCT_INLINE __u32 xct_tunable(enum xct_tunable id)
{
	const struct xct_tunables *t = xct_tunables_now();
	__u32 m;

	if (!t)
		return xct_tunable_default(id);
	/* Volatile reads: loaded at each use rather than kept live (and
	 * spilled to a stack already near its limit) across the tracker. */
	m = *(volatile const __u32 *)&t->written;
	return (*(volatile const __u32 *)&t->v[id] & m) | (xct_tunable_default(id) & ~m);
}

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
