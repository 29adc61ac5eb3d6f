/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The established fast path: what nearly every packet of a firewall's
 * traffic is, an established TCP or UDP connection's packet accepted by a
 * rule that looks at nothing but the ct state, is tracked and decided here
 * in one lookup, one locked update and a handful of counters.  Everything
 * else leaves at the first test that fails, having changed nothing, and
 * takes the full path (bpf/xct.bpf.c's xct_track()) as if the fast path had
 * never looked.
 *
 * The fast path is the full path's result, not an approximation of it.  It
 * takes a packet only when the full path would
 *  - parse it to the same struct xct_pkt (xct_parse_fast(), checked
 *    against the full parser in tests/unit),
 *  - find its connection's entry alive, not dying, not waiting for its NEW
 *    event, not relearning its windows (XCT_CT_LIBERAL), TCP in
 *    ESTABLISHED, and run the same tracker on it
 *    (xct_ct_packet()) with the result ESTABLISHED and no state or status
 *    change, so no event is due and no connection starts over,
 *  - have no notrack rule to run first, no NAT hand-off to make (an answer
 *    to a translated connection has no entry under its own tuple; a
 *    connection dnat may still bind goes the full way), and
 *  - get ACCEPT from a rule that the META class alone decides and that has
 *    no set, rate limit, log, mark or ct status match or mark statement
 *    (xct_policy_meta_verdict()), or from no rule at all,
 * and it bumps the counters the full path would, and no others.
 *
 * A TCP segment is tracked on a copy of its entry, and a result that is
 * not the fast path's (out of window, a retransmission the tracker
 * ignores, a state change) is dropped with the copy, the entry untouched,
 * for the full path to compute again.  An assured UDP flow's packet can
 * have no such result, and is tracked in place.
 */
#ifndef XCT_BPF_FAST_H
#define XCT_BPF_FAST_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ct_table.h"
#include "policy.h"
#include "xct/nat.h"

/* What the fast path did with a packet. */
enum xct_fast {
	XCT_FAST_NO = 0, /* nothing: the full path takes the packet */
	XCT_FAST_PARSED, /* not taken, but this CPU's slot holds the packet
			  * as the full parser parses it */
	XCT_FAST_ACCEPT, /* tracked and accepted */
	XCT_FAST_READY,	 /* between the halves: parsed, the verdicts ready */
};

/* The last packet's decision, for xct replay (see struct xct_decision). */
struct xct_decision last_decision = {};

static __always_inline void xct_note_decision(__u8 verdict, const struct xct_ct_result *res,
					      const struct xct_policy_out *out)
{
	last_decision.verdict = verdict;
	last_decision.ct_state = res->ct_state;
	last_decision.reason = res->reason;
	last_decision.dir = res->dir;
	last_decision.matched = out->matched;
	last_decision.line = out->line;
}

/*
 * Whether an accepted original-direction packet must go to
 * xct_nat_ingress() for dnat: while its connection is destination-
 * translated, or may still be (xct_dnat_in() binds only a connection that
 * has seen no reply and no other translation).  The others, the bulk of
 * established traffic, are spared a tail call and a second parse.  A
 * status of 0 (new connection, no update committed) always goes.
 */
static __always_inline int xct_dnat_may_apply(__u16 status)
{
	return (status & XCT_CT_DST_NAT) || !(status & (XCT_CT_SEEN_REPLY | XCT_CT_SRC_NAT));
}

/* A TCP segment the fast path may take: ACK, with neither SYN, FIN nor
 * RST, which in ESTABLISHED leaves the state where it is. */
static __always_inline int xct_fast_tcp_flags(__u8 flags)
{
	return (flags & (XCT_TCPF_SYN | XCT_TCPF_FIN | XCT_TCPF_RST | XCT_TCPF_ACK)) ==
		       XCT_TCPF_ACK &&
	       xct_tcp_flags_valid(flags);
}

/* Which of a fast state's verdicts a tracker's ct state takes; -1 for a
 * state the fast path leaves to the full one. */
static __always_inline int xct_fast_slot(__u8 ct_state)
{
	return ct_state == XCT_CTS_ESTABLISHED ? 0 : ct_state == XCT_CTS_NEW ? 1 : -1;
}

/*
 * The first half, up to the table: the packet parsed into this CPU's slot,
 * its key, and the verdict an established packet of it would get.  0 when
 * the packet is not the fast path's.  Inlined into one global function per
 * program type (each reads its context's packet), whose return merges
 * every way through the parser into one state for the verifier, so that
 * the second half is checked once.
 */
static __always_inline int xct_fast_prepare(const __u8 *data, const __u8 *data_end, __u32 len,
					    __u8 hook, __u32 ifindex, struct xct_fast_state *f)
{
	const struct xct_policy_gen *g;
	struct xct_policy_ctl *ctl;
	struct xct_pkt_slot *slot;
	struct xct_pkt *pkt;
	__u32 zero = 0, gen;

	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	if (!slot)
		return XCT_FAST_NO;
	slot->fast_missed = 0;
	/* A dnat reply's connection, handed over by xct_nat_ingress(), is
	 * tracked under another key: the full path's. */
	if (hook == XCT_HOOK_INGRESS && slot->nat_hint)
		return XCT_FAST_NO;
	pkt = &slot->pkt;
	__builtin_memset(pkt, 0, sizeof(*pkt));
	if (!xct_parse_fast(data, data_end, len, pkt))
		return XCT_FAST_NO;
	/* Read once: the full path takes the packet with it when this one
	 * declines (XCT_FAST_PARSED). */
	pkt->zone = xct_iface_zone(ifindex);
	if (pkt->t.proto == XCT_IPPROTO_TCP && !xct_fast_tcp_flags(pkt->tcp.flags))
		return XCT_FAST_PARSED;

	ctl = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!ctl)
		return XCT_FAST_PARSED;
	gen = ctl->active_gen & 1;
	g = &ctl->gen[gen];
	f->hook = hook;
	f->gen = gen;
	/* NAT is the generation's whether or not a ruleset is loaded. */
	f->dnat = g->dnat;
	f->ok = 3;
	f->count = 0;
	f->out[0].verdict = f->out[1].verdict = XCT_VERDICT_ACCEPT;
	f->out[0].matched = f->out[1].matched = 0;
	f->out[0].line = f->out[1].line = 0;
	if (ctl->loaded) {
		if (g->has_raw)
			return XCT_FAST_PARSED;
		if (!xct_policy_meta_verdict(gen, hook, pkt->t.family, XCT_CTS_ESTABLISHED,
					     pkt->t.proto, &f->out[0]) ||
		    f->out[0].verdict != XCT_VERDICT_ACCEPT)
			f->ok &= ~1;
		f->count |= f->out[0].matched | f->out[1].matched << 1;
		if (!xct_policy_meta_verdict(gen, hook, pkt->t.family, XCT_CTS_NEW,
					     pkt->t.proto, &f->out[1]))
			f->ok &= ~2;
		/* An arriving NEW packet no rule takes gets the policy, and
		 * is counted against the policy line (xct_policy_eval()). */
		if (hook == XCT_HOOK_INGRESS && !f->out[1].matched) {
			f->out[1].verdict = g->policy;
			f->count |= 2;
		}
		if (f->out[1].verdict != XCT_VERDICT_ACCEPT)
			f->ok &= ~2;
		if (!f->ok)
			return XCT_FAST_PARSED;
	}
	xct_key_from_tuple(&pkt->t, &f->key, &f->side);
	f->key.zone = pkt->zone;
	f->ident = xct_key_ident(&f->key);
	return XCT_FAST_READY;
}

/* The most the fast parser reads: Ethernet, IPv6, TCP with timestamps. */
#define XCT_FAST_HDR_MAX (14 + 40 + 32)

/* The fast path's first half for each program type (global functions,
 * verified once). */
__noinline int xct_fast_prepare_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct xct_fast_state *f = bpf_map_lookup_elem(&xct_fast_states, &zero);

	if (!ctx || !f)
		return XCT_FAST_NO;
	/* xct's XDP programs are not frags-aware, so a frame is linear:
	 * its length is what bpf_xdp_get_buff_len() would say. */
	return xct_fast_prepare((const __u8 *)(long)ctx->data, (const __u8 *)(long)ctx->data_end,
				ctx->data_end - ctx->data, XCT_HOOK_INGRESS, ctx->ingress_ifindex,
				f);
}

__noinline int xct_fast_prepare_skb(struct __sk_buff *skb, __u32 hook)
{
	__u32 zero = 0;
	struct xct_fast_state *f = bpf_map_lookup_elem(&xct_fast_states, &zero);

	__u32 len;

	if (!skb || !f)
		return XCT_FAST_NO;
	/* A frame sent from a packet socket's ring, or received into pages,
	 * may hold only its Ethernet header in the linear part: the headers
	 * the fast path reads are pulled in, as the IP and transport layers
	 * would pull them next. */
	len = skb->len < XCT_FAST_HDR_MAX ? skb->len : XCT_FAST_HDR_MAX;
	if ((long)skb->data + len > (long)skb->data_end && bpf_skb_pull_data(skb, len))
		return XCT_FAST_NO;
	return xct_fast_prepare((const __u8 *)(long)skb->data, (const __u8 *)(long)skb->data_end,
				skb->len, hook == XCT_HOOK_EGRESS ? XCT_HOOK_EGRESS : XCT_HOOK_INGRESS,
				skb->ifindex, f);
}

/* The tracker leaves SEEN_REPLY and the NAT bits as they are on the fast
 * path's packets: the hand-off for dnat is decided now. */
static __always_inline int xct_fast_dnat_due(const struct xct_fast_state *f, __u8 dir,
					     __u16 status)
{
	return f->hook == XCT_HOOK_INGRESS && dir == XCT_DIR_ORIGINAL && f->dnat &&
	       xct_dnat_may_apply(status);
}

/*
 * The second half: the entry tracked, and the counters.  The packet is in
 * this CPU's slot, where the first half left it, and stays there for the
 * full path when this half declines (XCT_FAST_PARSED).  A UDP packet is
 * tracked in place, without the lock, when the UDP tracker
 * (xct_udp_packet()) would only account it and refresh the timeout: no
 * first reply, no flow becoming a stream.  A TCP segment may be out of
 * window or change the state, so it is tracked on a copy, as the full path
 * tracks it, written back only when the result is the fast path's.
 */
__noinline int xct_fast_commit(void)
{
	struct xct_fast_state *f;
	struct xct_ct_entry_scratch *copy;
	struct xct_pkt_slot *slot;
	struct xct_ct_result res;
	struct xct_ct_entry *ct, *e;
	__u32 zero = 0;
	__u16 status;
	__u8 dir, state;
	int i;
	__u64 now;

	f = bpf_map_lookup_elem(&xct_fast_states, &zero);
	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	if (!f || !slot || !copy)
		return XCT_FAST_PARSED;
	e = (struct xct_ct_entry *)copy;
	ct = bpf_map_lookup_elem(&xct_ct, &f->key);
	if (!ct) {
		/* A new connection's first packet, most likely: the full
		 * path takes it from the miss (xct_ct_process()). */
		slot->fast_missed = 1;
		return XCT_FAST_PARSED;
	}
	now = xct_now();
	__builtin_memset(&res, 0, sizeof(res));

	if (f->key.proto == XCT_IPPROTO_UDP) {
		/* UDP: without the lock.  The flags are read once; a packet
		 * that would change them (a first reply, a flow becoming a
		 * stream) takes the full path, which changes them under
		 * the lock.  The counters go in with atomics and the full
		 * path writes its own in as deltas (xct_ct_write_back()),
		 * so a concurrent update loses none. */
		status = XCT_READ_ONCE(ct->status);
		if ((status & (XCT_CT_DYING | XCT_CT_NEW_PENDING)) ||
		    XCT_READ_ONCE(ct->expires_ns) <= now || !xct_ct_holds(ct, f->ident))
			return XCT_FAST_PARSED;
		dir = f->side == ct->orig_side ? XCT_DIR_ORIGINAL : XCT_DIR_REPLY;
		if (xct_fast_dnat_due(f, dir, status) || xct_udp_changes(ct, status, dir, now))
			return XCT_FAST_PARSED;
		res.ct_state = (status & XCT_CT_SEEN_REPLY) ? XCT_CTS_ESTABLISHED : XCT_CTS_NEW;
		if (!(f->ok & (1 << xct_fast_slot(res.ct_state))))
			return XCT_FAST_PARSED;
		xct_ct_account_atomic(ct, dir, &slot->pkt, now, xct_udp_timeout(ct, status, now),
				      &res);
		res.dir = dir;
		res.status = status;
		goto counted;
	}

	bpf_spin_lock(&ct->lock);
	state = ct->state;
	status = ct->status;
	/* A connection relearning its windows (XCT_CT_LIBERAL) leaves
	 * liberal tracking on the full path, which counts it. */
	if ((status & (XCT_CT_DYING | XCT_CT_NEW_PENDING | XCT_CT_LIBERAL)) ||
	    ct->expires_ns <= now || !xct_ct_holds(ct, f->ident))
		goto unlock;
	dir = f->side == ct->orig_side ? XCT_DIR_ORIGINAL : XCT_DIR_REPLY;
	if (xct_fast_dnat_due(f, dir, status))
		goto unlock;
	if (state != XCT_TCP_ESTABLISHED)
		goto unlock;
	/* TCP: tracked on a copy, outside the lock (the tracker is a global
	 * function, verified once), committed only if the result is the
	 * fast path's and no other update came in between. */
	__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
			 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
	bpf_spin_unlock(&ct->lock);
	xct_ct_track_copy(copy, f->side, &slot->pkt, now, &res);
	i = xct_fast_slot(res.ct_state);
	if (i < 0 || !(f->ok & (1 << i)) || res.reason != XCT_R_OK || res.kill || res.reopen ||
	    res.started || e->state != state || ((e->status ^ status) & XCT_CTE_STATUS_BITS))
		return XCT_FAST_PARSED;
	bpf_spin_lock(&ct->lock);
	if (ct->seq != e->seq || (ct->status & XCT_CT_DYING) || ct->ident != e->ident)
		goto unlock;
	e->seq = e->seq + 1 ? e->seq + 1 : 1;
	__builtin_memcpy((__u8 *)ct + sizeof(struct bpf_spin_lock),
			 copy->raw + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
	res.status = e->status;
	bpf_spin_unlock(&ct->lock);

counted:
	i = res.ct_state == XCT_CTS_NEW;
	xct_count(XCT_S_FOUND);
	xct_count(XCT_S_PACKETS);
	xct_count(XCT_S_FAST);
	xct_count_reason(XCT_R_OK);
	if (f->count & (1 << i))
		xct_policy_count(f->gen, f->out[i].rule, slot->pkt.l3_len);
	xct_note_decision(XCT_VERDICT_ACCEPT, &res, &f->out[i]);
	return XCT_FAST_ACCEPT;

unlock:
	bpf_spin_unlock(&ct->lock);
	return XCT_FAST_PARSED;
}

/* The fast path of each program type. */
static __always_inline int xct_fast_xdp(struct xdp_md *ctx)
{
	int r = xct_fast_prepare_xdp(ctx);

	return r == XCT_FAST_READY ? xct_fast_commit() : r;
}

static __always_inline int xct_fast_skb(struct __sk_buff *skb, __u32 hook)
{
	int r = xct_fast_prepare_skb(skb, hook);

	return r == XCT_FAST_READY ? xct_fast_commit() : r;
}

#endif /* XCT_BPF_FAST_H */
