// SPDX-License-Identifier: GPL-2.0-only
/*
 * One line per common kernel drop reason and reset reason, for xct trace.
 * Keyed by name, not number: the numbers change between kernels, the
 * names (include/net/dropreason-core.h, include/net/rstreason.h) stay.
 */
#include <string.h>

#include "trace/explain.h"

struct why {
	const char *name;
	const char *text;
};

static const struct why drop_whys[] = {
	{"NOT_SPECIFIED", "the kernel gave no reason; the location tells where"},
	{"NO_SOCKET", "nothing listens on that port (or no socket matches the packet)"},
	{"SOCKET_CLOSE", "the socket was closed while the packet was queued"},
	{"SOCKET_FILTER", "a socket filter (SO_ATTACH_FILTER, cBPF/eBPF) refused the packet"},
	{"SOCKET_RCVBUFF", "the socket's receive buffer is full: the application reads too slowly"},
	{"SOCKET_BACKLOG", "the socket's backlog is full while its owner holds the lock"},
	{"PROTO_MEM", "the protocol's memory limit is reached (net.ipv4.tcp_mem, udp_mem)"},
	{"PKT_TOO_SMALL", "shorter than its headers say"},
	{"PKT_TOO_BIG", "larger than the MTU and not allowed to fragment"},
	{"TCP_CSUM", "bad TCP checksum"},
	{"UDP_CSUM", "bad UDP checksum"},
	{"ICMP_CSUM", "bad ICMP checksum"},
	{"IP_CSUM", "bad IPv4 header checksum"},
	{"IP_INHDR", "malformed IP header"},
	{"IP_RPFILTER",
	 "reverse path filter: the source is not routed back through this interface"},
	{"IP_NOPROTO", "no handler for this IP protocol on this host"},
	{"IP_INNOROUTES", "no route for the packet's destination"},
	{"IP_OUTNOROUTES", "no route to send the packet"},
	{"IP_INADDRERRORS", "destination address invalid on input"},
	{"IP_LOCAL_SOURCE", "source is one of this host's own addresses"},
	{"IP_INVALID_SOURCE", "source address invalid (multicast, broadcast, zero)"},
	{"IP_LOCALNET", "loopback address seen on a non-loopback interface"},
	{"OTHERHOST", "addressed to another host's MAC (promiscuous or bridged traffic)"},
	{"UNICAST_IN_L2_MULTICAST", "IP unicast in a link-layer multicast or broadcast frame"},
	{"NETFILTER_DROP", "an iptables/nftables rule dropped it (or conntrack marked it invalid "
			   "and a rule dropped that)"},
	{"XDP", "an XDP program in generic (skb) mode dropped it"},
	{"TC_INGRESS", "a TC ingress program or action dropped it"},
	{"TC_EGRESS", "a TC egress program or action dropped it"},
	{"BPF_CGROUP_EGRESS", "a cgroup BPF program refused to let it out"},
	{"XFRM_POLICY", "an IPsec policy refused it"},
	{"SECURITY_HOOK", "an LSM refused it"},
	{"IPV6DISABLED", "IPv6 is disabled on the interface"},
	{"TCP_FLAGS", "TCP flags not valid in the socket's state"},
	{"TCP_ZEROWINDOW", "TCP data while the receive window is zero"},
	{"TCP_OLD_DATA", "TCP data already received (a retransmission)"},
	{"TCP_OVERWINDOW", "TCP data beyond the receive window"},
	{"TCP_OFOMERGE", "TCP out-of-order data already queued"},
	{"TCP_RFC7323_PAWS", "TCP timestamp older than the last one seen (PAWS)"},
	{"TCP_OLD_SEQUENCE", "TCP sequence number before the window"},
	{"TCP_INVALID_SEQUENCE", "TCP sequence number outside the window"},
	{"TCP_INVALID_ACK_SEQUENCE", "TCP acknowledges data never sent"},
	{"TCP_RESET", "TCP RST not acceptable (sequence outside the window): ignored"},
	{"TCP_INVALID_SYN", "TCP SYN on a connection that is already synchronised"},
	{"TCP_CLOSE", "TCP segment for a socket in CLOSE"},
	{"TCP_FASTOPEN", "TCP Fast Open cookie or data refused"},
	{"TCP_OLD_ACK", "TCP acknowledgement older than the last one"},
	{"TCP_TOO_OLD_ACK", "TCP acknowledgement far older than the window"},
	{"TCP_ACK_UNSENT_DATA", "TCP acknowledges data not sent yet"},
	{"TCP_OFO_QUEUE_PRUNE", "TCP out-of-order queue pruned under memory pressure"},
	{"TCP_OFO_DROP", "TCP out-of-order data dropped (no room)"},
	{"TCP_MINTTL", "below the socket's minimum TTL (IP_MINTTL)"},
	{"TCP_LISTEN_OVERFLOW", "the listener's accept queue is full"},
	{"QDISC_DROP", "the queueing discipline dropped it (queue full)"},
	{"QDISC_OVERLIMIT", "the queueing discipline's limit is exceeded"},
	{"CPU_BACKLOG", "the CPU's input backlog is full (net.core.netdev_max_backlog)"},
	{"FULL_RING", "the device's ring is full"},
	{"DEV_READY", "the device is down or not ready"},
	{"NOMEM", "out of memory"},
	{"NEIGH_FAILED", "the neighbour (ARP/ND) could not be resolved"},
	{"NEIGH_QUEUEFULL", "too many packets waiting for neighbour resolution"},
	{"NEIGH_DEAD", "the neighbour entry is dead"},
	{"FRAG_REASM_TIMEOUT", "fragments never completed the packet in time"},
	{"DUP_FRAG", "duplicate fragment"},
};

static const struct why reset_whys[] = {
	{"NOT_SPECIFIED", "the kernel gave no reason"},
	{"NO_SOCKET", "nothing listens on that port: the packet was answered with a RST"},
	{"TCP_INVALID_ACK_SEQUENCE", "the packet acknowledged data never sent"},
	{"TCP_RFC7323_PAWS", "the packet's timestamp failed PAWS"},
	{"TCP_TOO_OLD_ACK", "the packet acknowledged far older data"},
	{"TCP_ACK_UNSENT_DATA", "the packet acknowledged data not sent yet"},
	{"TCP_FLAGS", "flags not valid in the socket's state"},
	{"TCP_OLD_ACK", "an old acknowledgement"},
	{"TCP_ABORT_ON_DATA", "data arrived after the application closed the socket"},
	{"TCP_TIMEWAIT_SOCKET", "a segment for a TIME_WAIT socket that cannot be accepted"},
	{"INVALID_SYN", "a SYN that cannot be accepted"},
	{"TCP_ABORT_ON_CLOSE", "the application closed the socket with unread data"},
	{"TCP_ABORT_ON_LINGER", "the application closed with SO_LINGER set to 0"},
	{"TCP_ABORT_ON_MEMORY", "the kernel aborted the connection under memory pressure"},
	{"TCP_STATE", "the application aborted the connection (shutdown/close in a state that "
		      "resets)"},
	{"TCP_KEEPALIVE_TIMEOUT", "keepalive probes got no answer"},
	{"TCP_DISCONNECT_WITH_DATA", "disconnected (connect(AF_UNSPEC)) with data pending"},
	{"ERROR", "an error in the stack"},
};

static const char *lookup(const struct why *w, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (!strcmp(w[i].name, name))
			return w[i].text;
	return NULL;
}

const char *xct_drop_explain(const char *name)
{
	return lookup(drop_whys, sizeof(drop_whys) / sizeof(drop_whys[0]), name);
}

const char *xct_reset_explain(const char *name)
{
	return lookup(reset_whys, sizeof(reset_whys) / sizeof(reset_whys[0]), name);
}

const char *xct_tcp_sk_state_name(int state)
{
	/* include/net/tcp_states.h: fixed values, shown in /proc/net/tcp. */
	static const char *const names[] = {
		"UNKNOWN",   "ESTABLISHED", "SYN_SENT",	    "SYN_RECV",	      "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT",   "CLOSE",	    "CLOSE_WAIT",     "LAST_ACK",
		"LISTEN",    "CLOSING",	    "NEW_SYN_RECV", "BOUND_INACTIVE",
	};

	return state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state]
									     : "UNKNOWN";
}
