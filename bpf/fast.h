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
 *    event, TCP in ESTABLISHED, and run the same tracker on it
 *    (xct_ct_packet()) with the result ESTABLISHED and no state or status
 *    change, so no event is due and no connection starts over,
 *  - have no notrack rule to run first, no NAT hand-off to make (an answer
 *    to a translated connection has no entry under its own tuple; a
 *    connection dnat may still bind goes the full way), and
 *  - get ACCEPT from a rule that the META class alone decides and that has
 *    no set, rate limit or log (xct_policy_meta_verdict()), or from no
 *    rule at all,
 * and it bumps the counters the full path would, and no others.
 *
 * The tracker runs on a copy taken under the entry's lock, in the same
 * critical section that writes it back: one lock hold instead of the full
 * path's two, and a result that is not the fast path's (out of window, a
 * retransmission the tracker ignores, a state change) is dropped with the
 * copy, the entry untouched, for the full path to compute again.
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
	XCT_FAST_ACCEPT, /* tracked and accepted */
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

/* What the first half of the fast path hands the second. */
struct xct_fast_state {
	struct xct_ct_key key;
	struct xct_policy_out out; /* the rules' verdict for ESTABLISHED */
	__u32 gen;		   /* the generation that gave it */
	__u8 hook;		   /* enum xct_rule_hook */
	__u8 side;		   /* the packet's side of the key */
	__u8 dnat;		   /* dnat is in use under gen */
	__u8 pad;
};

/*
 * The first half, up to the table: the packet parsed into this CPU's slot,
 * its key, and the verdict an established packet of it would get.  0 when
 * the packet is not the fast path's.  Inlined into one global function per
 * program type (each reads its context's packet), whose return merges
 * every way through the parser into one state for the verifier, so that
 * the second half is checked once.
 */
static __always_inline int xct_fast_prepare(const __u8 *data, const __u8 *data_end, __u32 len,
					    __u8 hook, struct xct_fast_state *f)
{
	struct xct_policy_ctl *ctl;
	struct xct_pkt_slot *slot;
	struct xct_pkt *pkt;
	__u32 zero = 0;

	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	if (!slot)
		return 0;
	/* A dnat reply's connection, handed over by xct_nat_ingress(), is
	 * tracked under another key: the full path's. */
	if (hook == XCT_HOOK_INGRESS && slot->nat_hint)
		return 0;
	pkt = &slot->pkt;
	__builtin_memset(pkt, 0, sizeof(*pkt));
	if (!xct_parse_fast(data, data_end, len, pkt))
		return 0;
	if (pkt->t.proto == XCT_IPPROTO_TCP && !xct_fast_tcp_flags(pkt->tcp.flags))
		return 0;

	ctl = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!ctl)
		return 0;
	f->hook = hook;
	f->gen = ctl->active_gen & 1;
	/* NAT is the generation's whether or not a ruleset is loaded. */
	f->dnat = ctl->gen[f->gen].dnat;
	f->out.verdict = XCT_VERDICT_ACCEPT;
	f->out.matched = 0;
	f->out.line = 0;
	if (ctl->loaded &&
	    (ctl->gen[f->gen].has_raw ||
	     !xct_policy_meta_verdict(f->gen, hook, pkt->t.family, XCT_CTS_ESTABLISHED,
				      pkt->t.proto, &f->out) ||
	     f->out.verdict != XCT_VERDICT_ACCEPT))
		return 0;
	xct_key_from_tuple(&pkt->t, &f->key, &f->side);
	return 1;
}

/* The fast path's first half for each program type (global functions,
 * verified once). */
__noinline int xct_fast_prepare_xdp(struct xdp_md *ctx, struct xct_fast_state *f)
{
	if (!ctx || !f)
		return 0;
	return xct_fast_prepare((const __u8 *)(long)ctx->data, (const __u8 *)(long)ctx->data_end,
				bpf_xdp_get_buff_len(ctx), XCT_HOOK_INGRESS, f);
}

__noinline int xct_fast_prepare_skb(struct __sk_buff *skb, __u32 hook, struct xct_fast_state *f)
{
	if (!skb || !f)
		return 0;
	return xct_fast_prepare((const __u8 *)(long)skb->data, (const __u8 *)(long)skb->data_end,
				skb->len, hook == XCT_HOOK_EGRESS ? XCT_HOOK_EGRESS : XCT_HOOK_INGRESS,
				f);
}

/*
 * The second half: the entry, tracked under its lock in one hold (see
 * above), and the counters.  The packet is in this CPU's slot, where the
 * first half left it.
 */
__noinline int xct_fast_commit(const struct xct_fast_state *f)
{
	struct xct_ct_entry_scratch *copy;
	struct xct_pkt_slot *slot;
	struct xct_ct_result res;
	struct xct_ct_entry *ct, *e;
	struct xct_ct_key key;
	__u32 zero = 0;
	__u16 status;
	__u8 dir, state;
	__u64 now;

	if (!f)
		return XCT_FAST_NO;
	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	if (!slot || !copy)
		return XCT_FAST_NO;
	e = (struct xct_ct_entry *)copy;
	__builtin_memcpy(&key, &f->key, sizeof(key));
	ct = bpf_map_lookup_elem(&xct_ct, &key);
	if (!ct)
		return XCT_FAST_NO;
	now = xct_now();

	bpf_spin_lock(&ct->lock);
	__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
			 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
	state = e->state;
	status = e->status;
	if ((status & (XCT_CT_DYING | XCT_CT_NEW_PENDING)) || e->expires_ns <= now ||
	    (slot->pkt.t.proto == XCT_IPPROTO_TCP && state != XCT_TCP_ESTABLISHED))
		goto unlock;
	dir = f->side == e->orig_side ? XCT_DIR_ORIGINAL : XCT_DIR_REPLY;
	__builtin_memset(&res, 0, sizeof(res));
	xct_ct_packet(e, dir, &slot->pkt, now, &res);
	if (res.ct_state != XCT_CTS_ESTABLISHED || res.reason != XCT_R_OK || res.kill ||
	    res.reopen || e->state != state || ((e->status ^ status) & XCT_CTE_STATUS_BITS))
		goto unlock;
	if (f->hook == XCT_HOOK_INGRESS && dir == XCT_DIR_ORIGINAL && f->dnat &&
	    xct_dnat_may_apply(e->status))
		goto unlock;
	e->seq = e->seq + 1 ? e->seq + 1 : 1;
	__builtin_memcpy((__u8 *)ct + sizeof(struct bpf_spin_lock),
			 copy->raw + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
	bpf_spin_unlock(&ct->lock);

	xct_count(XCT_S_FOUND);
	xct_count(XCT_S_PACKETS);
	xct_count_reason(XCT_R_OK);
	if (f->out.matched)
		xct_policy_count(f->gen, f->out.rule, slot->pkt.l3_len);
	res.status = e->status;
	xct_note_decision(XCT_VERDICT_ACCEPT, &res, &f->out);
	return XCT_FAST_ACCEPT;

unlock:
	bpf_spin_unlock(&ct->lock);
	return XCT_FAST_NO;
}

/* The fast path of each program type.  Global functions: the state they
 * hand between the halves stays in their frames, off the full path's. */
__noinline int xct_fast_xdp(struct xdp_md *ctx)
{
	struct xct_fast_state f;

	if (!ctx || !xct_fast_prepare_xdp(ctx, &f))
		return XCT_FAST_NO;
	return xct_fast_commit(&f);
}

__noinline int xct_fast_skb(struct __sk_buff *skb, __u32 hook)
{
	struct xct_fast_state f;

	if (!skb || !xct_fast_prepare_skb(skb, hook, &f))
		return XCT_FAST_NO;
	return xct_fast_commit(&f);
}

#endif /* XCT_BPF_FAST_H */
