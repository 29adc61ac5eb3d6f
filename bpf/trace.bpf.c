// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct trace's kernel side: classic tracepoint programs on the kernel's own
 * drop and reset tracepoints, loaded and attached by `xct trace` for as
 * long as it runs (nothing is pinned; the datapath knows nothing of them).
 *
 *   skb:kfree_skb          a packet the kernel dropped, with its reason
 *   tcp:tcp_send_reset     a RST the local stack sent, with its reason
 *   tcp:tcp_receive_reset  a RST the local stack accepted
 *
 * Built against the running kernel's BTF (vmlinux.h) with CO-RE reads: the
 * offsets of sk_buff, net_device and sock fields move between kernels and
 * configurations, and CO-RE relocates them at load time, where hand-written
 * offsets would silently read the wrong bytes.  The 5-tuple comes from the
 * packet's own headers (skb->head + network_header), not from skb->sk,
 * which is still NULL for drops before the socket lookup (NO_SOCKET,
 * netfilter at prerouting, IP-layer drops).
 *
 * Bounded work: a fixed number of reads per event and a walk of at most
 * four IPv6 extension headers; the filter runs before the ring space is
 * reserved; a full ring costs a counter increment, never a wait.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "xct/trace.h"

#define ETH_P_IP	 0x0800
#define ETH_P_IPV6	 0x86DD
#define AF_INET		 2
#define AF_INET6	 10

#define IPPROTO_HOPOPTS	 0
#define IPPROTO_ROUTING	 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_DSTOPTS	 60
#define IPPROTO_ICMPV6	 58
#define PROTO_UNKNOWN	 255

/* Set by xct trace before load. */
const volatile struct xct_trace_filter filter = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCT_TRACE_RING_DEFAULT); /* --ring-size */
} xct_trace_events SEC(".maps");

/* Events the ring had no room for, per CPU: reported, never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} xct_trace_lost SEC(".maps");

/* The event being built, per CPU: it is filtered before ring space is
 * taken, and 128 bytes are too many for the stack next to the headers. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_trace_event);
	__uint(max_entries, 1);
} xct_trace_scratch SEC(".maps");

static __always_inline struct xct_trace_event *scratch_event(__u8 kind)
{
	__u32 zero = 0;
	struct xct_trace_event *ev = bpf_map_lookup_elem(&xct_trace_scratch, &zero);

	if (ev) {
		__builtin_memset(ev, 0, sizeof(*ev));
		ev->kind = kind;
		ev->proto = PROTO_UNKNOWN;
		ev->time_ns = bpf_ktime_get_ns();
	}
	return ev;
}

static __always_inline __u32 dev_netns(const struct net_device *dev)
{
	return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* The interface and namespace of a packet: its device's, or for a packet
 * with none (a socket's own), the socket's namespace. */
static __always_inline void skb_where(struct xct_trace_event *ev, const struct sk_buff *skb,
				      const struct sock *sk)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);

	if (dev) {
		ev->ifindex = BPF_CORE_READ(dev, ifindex);
		bpf_probe_read_kernel_str(ev->ifname, sizeof(ev->ifname), dev->name);
		ev->netns = dev_netns(dev);
	} else {
		ev->ifindex = BPF_CORE_READ(skb, skb_iif);
	}
	if (!ev->netns && sk)
		ev->netns = sk_netns(sk);
}

/* The transport header at l4 of a packet of protocol proto. */
static __always_inline void parse_l4(struct xct_trace_event *ev, const unsigned char *l4)
{
	__u8 th[14];

	if (ev->proto != IPPROTO_TCP && ev->proto != IPPROTO_UDP && ev->proto != IPPROTO_ICMP &&
	    ev->proto != IPPROTO_ICMPV6)
		return;
	if (bpf_probe_read_kernel(th, sizeof(th), l4))
		return;
	ev->has_ports = 1;
	if (ev->proto == IPPROTO_TCP || ev->proto == IPPROTO_UDP) {
		ev->sport = (__u16)th[0] << 8 | th[1];
		ev->dport = (__u16)th[2] << 8 | th[3];
		if (ev->proto == IPPROTO_TCP)
			ev->tcp_flags = th[13];
	} else {
		ev->sport = (__u16)th[0] << 8 | th[1]; /* type, code */
	}
}

/*
 * The tuple from the packet's IP header at skb->head + network_header.
 * Nothing is trusted: the version must match the protocol the skb says,
 * and a read that faults leaves the event without a tuple.
 */
static __always_inline void skb_tuple(struct xct_trace_event *ev, const struct sk_buff *skb,
				      __u16 l3proto)
{
	const unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	const unsigned char *l3 = head + nh;

	if (!head || nh == (__u16)~0U)
		return;
	if (l3proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), l3) || ip.version != 4 || ip.ihl < 5)
			return;
		ev->family = AF_INET;
		ev->src[0] = ip.saddr;
		ev->dst[0] = ip.daddr;
		ev->proto = ip.protocol;
		/* A later fragment has no transport header. */
		if (bpf_ntohs(ip.frag_off) & 0x1fff)
			return;
		parse_l4(ev, l3 + ip.ihl * 4);
	} else if (l3proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;
		__u32 off = sizeof(ip6);
		__u8 next;
		int i;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), l3) || ip6.version != 6)
			return;
		ev->family = AF_INET6;
		__builtin_memcpy(ev->src, &ip6.saddr, 16);
		__builtin_memcpy(ev->dst, &ip6.daddr, 16);
		next = ip6.nexthdr;
		for (i = 0; i < 4; i++) {
			__u8 ext[2];

			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
			    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
				break;
			if (bpf_probe_read_kernel(ext, sizeof(ext), l3 + off))
				return;
			if (next == IPPROTO_FRAGMENT) {
				__u8 frag[4];

				if (bpf_probe_read_kernel(frag, sizeof(frag), l3 + off) ||
				    ((frag[2] << 8 | frag[3]) & 0xfff8)) {
					ev->proto = ext[0];
					return;
				}
				off += 8;
			} else {
				off += (ext[1] + 1) * 8;
			}
			next = ext[0];
		}
		ev->proto = next;
		parse_l4(ev, l3 + off);
	}
}

/* Does the event pass the command line's filter? */
static __always_inline int filter_pass(const struct xct_trace_event *ev)
{
	if (filter.has_proto && ev->proto != filter.proto)
		return 0;
	if (filter.has_netns && ev->netns != filter.netns)
		return 0;
	if (filter.has_ifindex && ev->ifindex != filter.ifindex)
		return 0;
	if (filter.has_reason && ev->reason != filter.reason)
		return 0;
	if (filter.has_port &&
	    (!ev->has_ports || (ev->proto != IPPROTO_TCP && ev->proto != IPPROTO_UDP) ||
	     (ev->sport != filter.port && ev->dport != filter.port)))
		return 0;
	if (filter.has_addr) {
		int s = 1, d = 1, i;

		if (ev->family != filter.family)
			return 0;
		for (i = 0; i < 4; i++) {
			if ((ev->src[i] & filter.mask[i]) != filter.addr[i])
				s = 0;
			if ((ev->dst[i] & filter.mask[i]) != filter.addr[i])
				d = 0;
		}
		if (!s && !d)
			return 0;
	}
	return 1;
}

/* Copies a passing event into the ring, or counts it lost. */
static __always_inline void emit(const struct xct_trace_event *ev)
{
	struct xct_trace_event *out;
	__u32 zero = 0;
	__u64 *lost;

	if (!filter_pass(ev))
		return;
	out = bpf_ringbuf_reserve(&xct_trace_events, sizeof(*out), 0);
	if (!out) {
		lost = bpf_map_lookup_elem(&xct_trace_lost, &zero);
		if (lost)
			(*lost)++;
		return;
	}
	__builtin_memcpy(out, ev, sizeof(*out));
	bpf_ringbuf_submit(out, 0);
}

SEC("tracepoint/skb/kfree_skb")
int xct_trace_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	struct xct_trace_event *ev = scratch_event(XCT_TR_KFREE_SKB);
	const struct sk_buff *skb = ctx->skbaddr;
	const struct sock *sk = NULL;

	if (!ev)
		return 0;
	if (bpf_core_field_exists(ctx->rx_sk))
		sk = ctx->rx_sk;
	ev->skbaddr = (__u64)(unsigned long)skb;
	ev->skaddr = (__u64)(unsigned long)sk;
	ev->location = (__u64)(unsigned long)ctx->location;
	ev->reason = ctx->reason;
	ev->l3proto = ctx->protocol;
	/* Cheap fields first: a reason filter spares the header reads. */
	if (filter.has_reason && ev->reason != filter.reason)
		return 0;
	skb_where(ev, skb, sk);
	skb_tuple(ev, skb, ev->l3proto);
	emit(ev);
	return 0;
}

/* A sockaddr_in or sockaddr_in6 as the reset tracepoint stores it. */
static __always_inline void sockaddr_into(const __u8 *sa, __u32 *addr, __u16 *port, __u8 *family)
{
	__u16 af = sa[0] | (__u16)sa[1] << 8;

	*port = (__u16)sa[2] << 8 | sa[3];
	if (af == AF_INET) {
		*family = AF_INET;
		__builtin_memcpy(addr, sa + 4, 4);
	} else if (af == AF_INET6) {
		*family = AF_INET6;
		__builtin_memcpy(addr, sa + 8, 16);
	}
}

SEC("tracepoint/tcp/tcp_send_reset")
int xct_trace_send_reset(struct trace_event_raw_tcp_send_reset *ctx)
{
	struct xct_trace_event *ev = scratch_event(XCT_TR_SEND_RESET);
	const struct sk_buff *skb = ctx->skbaddr;
	const struct sock *sk = ctx->skaddr;
	__u8 sa[28], da[28];

	if (!ev)
		return 0;
	ev->skbaddr = (__u64)(unsigned long)skb;
	ev->skaddr = (__u64)(unsigned long)sk;
	ev->reason = ctx->reason;
	ev->state = ctx->state;
	ev->proto = IPPROTO_TCP;
	ev->has_ports = 1;
	ev->tcp_flags = 0x04; /* RST */
	/* The kernel already gives the RST's direction: from the socket, or
	 * the packet answered, reversed. */
	/* Arrays in the record are read with a helper: the verifier refuses
	 * loads through a ctx pointer moved by a CO-RE offset. */
	if (bpf_probe_read_kernel(sa, sizeof(sa), ctx->saddr) ||
	    bpf_probe_read_kernel(da, sizeof(da), ctx->daddr))
		return 0;
	sockaddr_into(sa, ev->src, &ev->sport, &ev->family);
	sockaddr_into(da, ev->dst, &ev->dport, &ev->family);
	if (skb)
		skb_where(ev, skb, sk);
	else if (sk)
		ev->netns = sk_netns(sk);
	emit(ev);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int xct_trace_recv_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	struct xct_trace_event *ev = scratch_event(XCT_TR_RECV_RESET);
	const struct sock *sk = ctx->skaddr;

	if (!ev)
		return 0;
	ev->skaddr = (__u64)(unsigned long)sk;
	ev->proto = IPPROTO_TCP;
	ev->has_ports = 1;
	ev->tcp_flags = 0x04;
	/* The RST came from the peer (the socket's destination). */
	ev->sport = ctx->dport;
	ev->dport = ctx->sport;
	if (ctx->family == AF_INET) {
		ev->family = AF_INET;
		bpf_probe_read_kernel(ev->src, 4, ctx->daddr);
		bpf_probe_read_kernel(ev->dst, 4, ctx->saddr);
	} else {
		ev->family = AF_INET6;
		bpf_probe_read_kernel(ev->src, 16, ctx->daddr_v6);
		bpf_probe_read_kernel(ev->dst, 16, ctx->saddr_v6);
	}
	if (sk) {
		ev->state = BPF_CORE_READ(sk, __sk_common.skc_state);
		ev->netns = sk_netns(sk);
	}
	emit(ev);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
