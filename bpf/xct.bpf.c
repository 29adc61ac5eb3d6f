// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct's entry programs: XDP on ingress, TC on egress, TC on ingress where
 * XDP cannot attach, and a control program the CLI runs with
 * BPF_PROG_TEST_RUN.  They only adapt their context to xct_track(); the
 * logic lives in the headers.
 *
 * A forwarded packet crosses an ingress hook and an egress hook but is
 * tracked once: at ingress.  The egress program recognises it by the
 * interface it came in on (skb->ingress_ifindex is set for forwarded packets
 * and 0 for locally sent ones) being one that xct watches.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "ct_table.h"

/* The parser, verified once as a global function: what follows it is then
 * checked once, not once per header layout. */
__noinline int xct_parse(struct xct_hdr_buf *hdrs, __u32 copied, __u32 len, struct xct_pkt *pkt)
{
	if (!hdrs || !pkt)
		return XCT_R_ETH_TRUNCATED;
	return xct_parse_packet(hdrs->b, copied, len, pkt);
}

static __always_inline void xct_track(struct xct_hdr_buf *hdrs, __u32 copied, __u32 len)
{
	struct xct_ct_result res = {};
	struct xct_pkt pkt = {};
	struct xct_ct_key key;
	__u64 now = xct_now();
	__u8 reason, side;

	xct_count(XCT_S_PACKETS);
	reason = xct_parse(hdrs, copied, len, &pkt);
	if (reason == XCT_R_NOT_IP) {
		xct_count_reason(reason);
		return;
	}
	if (reason != XCT_R_OK) {
		res.ct_state = reason == XCT_R_FRAGMENT ? XCT_CTS_UNTRACKED : XCT_CTS_INVALID;
		res.reason = reason;
		goto out;
	}

	if (pkt.icmp_error) {
		xct_ct_related(&pkt, now, &res);
		goto out;
	}
	if (pkt.t.proto == XCT_IPPROTO_ICMP && pkt.t.family == XCT_AF_INET &&
	    pkt.t.icmp_type > 18) {
		res.ct_state = XCT_CTS_INVALID;
		res.reason = XCT_R_ICMP_BAD_TYPE;
		goto out;
	}
	if (pkt.t.proto == XCT_IPPROTO_ICMPV6 && pkt.t.family == XCT_AF_INET6 &&
	    xct_icmpv6_untracked(pkt.t.icmp_type)) {
		res.ct_state = XCT_CTS_UNTRACKED;
		res.reason = XCT_R_ICMPV6_NEIGHBOUR;
		goto out;
	}
	if (pkt.t.proto == XCT_IPPROTO_TCP && !xct_tcp_flags_valid(pkt.tcp.flags)) {
		res.ct_state = XCT_CTS_INVALID;
		res.reason = XCT_R_TCP_BAD_FLAGS;
		goto out;
	}
	if (xct_key_from_tuple(&pkt.t, &key, &side) < 0) {
		res.ct_state = XCT_CTS_INVALID;
		res.reason = XCT_R_ICMP_INVALID_NEW;
		goto out;
	}
	xct_ct_process(&key, side, &pkt, now, &res);

out:
	xct_count_reason(res.reason);
	if (res.ct_state == XCT_CTS_INVALID)
		xct_count(XCT_S_INVALID);
	else if (res.ct_state == XCT_CTS_RELATED)
		xct_count(XCT_S_RELATED);
	else if (res.ct_state == XCT_CTS_UNTRACKED)
		xct_count(XCT_S_UNTRACKED);
	if (res.reason == XCT_R_TCP_IGNORED)
		xct_count(XCT_S_IGNORE);
	if (pkt.icmp_error && res.ct_state == XCT_CTS_INVALID)
		xct_count(XCT_S_ERROR);
}

/* How many of len bytes to copy for the parser. */
static __always_inline __u32 xct_copy_len(__u32 len)
{
	__u32 n = len < XCT_HDR_MAX ? len : XCT_HDR_MAX;

	/* 1..XCT_HDR_MAX, written so that the verifier sees both bounds on
	 * the register handed to the load helper. */
	return xct_mask(n - 1, XCT_HDR_MAX - 1) + 1;
}

SEC("xdp")
int xct_xdp(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx), n = xct_copy_len(len), zero = 0;
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);

	if (!hdrs)
		return XDP_PASS;
	if (len == 0 || bpf_xdp_load_bytes(ctx, 0, hdrs->b, n) < 0)
		n = 0;
	xct_track(hdrs, n, len);
	return XDP_PASS;
}

static __always_inline void xct_track_skb(struct __sk_buff *skb)
{
	__u32 len = skb->len, n = xct_copy_len(len), zero = 0;
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);

	if (!hdrs)
		return;
	/* Reads through a non-linear skb too: no pull needed. */
	if (len == 0 || bpf_skb_load_bytes(skb, 0, hdrs->b, n) < 0)
		n = 0;
	xct_track(hdrs, n, len);
}

SEC("tc")
int xct_tc_ingress(struct __sk_buff *skb)
{
	xct_track_skb(skb);
	return TC_ACT_UNSPEC; /* let later filters decide */
}

SEC("tc")
int xct_tc_egress(struct __sk_buff *skb)
{
	__u32 iif = skb->ingress_ifindex;

	/* Forwarded from an interface xct watches: tracked there already. */
	if (iif && bpf_map_lookup_elem(&xct_ifaces, &iif))
		return TC_ACT_UNSPEC;
	xct_track_skb(skb);
	return TC_ACT_UNSPEC;
}

/* Control program: the CLI runs it with BPF_PROG_TEST_RUN, the command in
 * the test packet (struct xct_ctl_msg), the answer written back into it. */
SEC("xdp")
int xct_ctl(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xct_ctl_msg *msg = data;
	struct xct_gc_ctx g = {};
	struct xct_gc *gc;
	__u32 zero = 0;
	long err;

	if ((void *)(msg + 1) > data_end)
		return XDP_ABORTED;
	gc = bpf_map_lookup_elem(&xct_gc, &zero);
	if (!gc) {
		msg->ret = -ENOENT;
		return XDP_PASS;
	}
	switch (msg->cmd) {
	case XCT_CTL_GC_START:
		err = bpf_timer_init(&gc->timer, &xct_gc, CLOCK_MONOTONIC);
		if (err && err != -EBUSY) {
			msg->ret = err;
			break;
		}
		/* (Re)point the timer at this program: after an upgrade the
		 * newest collector runs. */
		bpf_timer_set_callback(&gc->timer, xct_gc_timer);
		if (!gc->interval_ns)
			gc->interval_ns = XCT_GC_INTERVAL_MIN_NS;
		msg->ret = bpf_timer_start(&gc->timer, gc->interval_ns, 0);
		break;
	case XCT_CTL_GC_RUN:
		xct_gc_sweep(gc, xct_now(), &g);
		msg->seen = g.seen;
		msg->deleted = g.deleted;
		msg->early_dropped = g.early_dropped;
		msg->ret = 0;
		break;
	default:
		msg->ret = -EINVAL;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
