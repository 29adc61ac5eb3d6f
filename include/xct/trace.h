/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What `xct trace`'s kernel programs (bpf/trace.bpf.c) and the command
 * (src/trace_cmd.c) share: the event they pass through the trace object's
 * own ring buffer, and the filter the command sets before load.
 *
 * The BPF side is built against the running kernel's vmlinux.h, which
 * defines the __u* types itself and clashes with the uapi headers, so this
 * header includes nothing when vmlinux.h came first.
 */
#ifndef XCT_TRACE_H
#define XCT_TRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Which tracepoint an event comes from. */
enum xct_trace_kind {
	XCT_TR_KFREE_SKB = 1,  /* skb:kfree_skb: the kernel dropped a packet */
	XCT_TR_SEND_RESET = 2, /* tcp:tcp_send_reset: the local stack sent a RST */
	XCT_TR_RECV_RESET = 3, /* tcp:tcp_receive_reset: a RST was accepted */
};

#define XCT_TR_IFNAMSIZ 16

/*
 * One traced event.  The tuple is the packet's for a drop and the RST's
 * direction for a reset (a received one: from the peer to the local
 * socket), parsed from the packet's headers when there is a packet and
 * taken from the socket otherwise.  Addresses in network order (IPv4 in
 * the first word), ports in host order; ICMP: type << 8 | code in sport.
 */
struct xct_trace_event {
	__u64 time_ns;	/* monotonic clock, as the datapath's events */
	__u64 location; /* kfree_skb: the drop site's address */
	__u64 skbaddr;	/* 0 for an active reset */
	__u64 skaddr;	/* 0 when no socket was involved */
	__u32 netns;	/* inode of the network namespace, 0 if unknown */
	__u32 ifindex;	/* in that namespace; 0 if unknown */
	__u32 reason;	/* enum skb_drop_reason or enum sk_rst_reason */
	__s32 state;	/* socket state (TCP_ESTABLISHED...), resets only */
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u16 l3proto; /* ETH_P_*, host order (kfree_skb) */
	__u8 kind;     /* enum xct_trace_kind */
	__u8 family;   /* 2 or 10; 0: no IP header found */
	__u8 proto;    /* IPPROTO_*; 255: unknown */
	__u8 tcp_flags;
	__u8 has_ports; /* the transport header was read */
	__u8 pad;
	char ifname[XCT_TR_IFNAMSIZ];
};

/*
 * The filter, in the trace object's read-only data, set before load.  Every
 * field that is set must match; an event that does not is never reserved,
 * so filtered traffic neither costs ring space nor loses other events.
 */
struct xct_trace_filter {
	__u32 addr[4]; /* matches source or destination, under mask */
	__u32 mask[4];
	__u32 ifindex;
	__u32 netns;
	__u32 reason;
	__u16 port; /* matches source or destination port */
	__u8 family;
	__u8 proto;
	__u8 has_addr;
	__u8 has_port;
	__u8 has_ifindex;
	__u8 has_netns;
	__u8 has_reason;
	__u8 has_proto;
	__u8 pad[2];
};

#define XCT_TRACE_RING_DEFAULT (4U << 20)

#endif /* XCT_TRACE_H */
