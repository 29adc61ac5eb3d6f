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
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ct_table.h"
#include "fast.h"
#include "frag.h"
#include "nat.h"
#include "policy.h"
#include "xct/reject.h"

/* The answers reject rules send are built here, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_reject_buf);
	__uint(max_entries, 1);
} xct_reject_bufs SEC(".maps");

/*
 * The parser, verified once as a global function: what follows it is then
 * checked once, not once per header layout.  One per program type, since
 * each reads the packet with its own load helper; copied is how many of the
 * packet's first bytes are in hdrs.
 */
__noinline int xct_parse_xdp(struct xdp_md *ctx, struct xct_hdr_buf *hdrs, __u32 copied,
			     struct xct_pkt *pkt)
{
	struct xct_src s = {.ctx = ctx, .hdrs = hdrs, .head = copied, .kind = XCT_SRC_XDP};

	if (!ctx || !hdrs || !pkt)
		return XCT_R_ETH_TRUNCATED;
	s.len = bpf_xdp_get_buff_len(ctx);
	return xct_parse_packet(&s, pkt);
}

__noinline int xct_parse_skb(struct __sk_buff *skb, struct xct_hdr_buf *hdrs, __u32 copied,
			     struct xct_pkt *pkt)
{
	struct xct_src s = {.ctx = skb, .hdrs = hdrs, .head = copied, .kind = XCT_SRC_SKB};

	if (!skb || !hdrs || !pkt)
		return XCT_R_ETH_TRUNCATED;
	s.len = skb->len;
	return xct_parse_packet(&s, pkt);
}

/* The parser of the program type kind (XCT_SRC_*, a constant). */
static __always_inline int xct_parse(void *ctx, __u32 kind, struct xct_hdr_buf *hdrs, __u32 copied,
				     struct xct_pkt *pkt)
{
	if (kind == XCT_SRC_SKB)
		return xct_parse_skb(ctx, hdrs, copied, pkt);
	return xct_parse_xdp(ctx, hdrs, copied, pkt);
}

/* The reject answer's builder, verified once as a global function. */
__noinline __u32 xct_reject_build_global(struct xct_hdr_buf *hdrs, __u32 copied,
					 struct xct_reject_buf *out, const struct xct_pkt *pkt,
					 __u32 kind)
{
	if (!hdrs || !out || !pkt)
		return 0;
	return xct_reject_build(hdrs->b, copied, out->b, pkt, kind);
}

/*
 * The policy's view of a packet.  When its transport header was not parsed
 * (a later fragment, a malformed packet) the protocol is given as 255,
 * which IANA reserves: a rule on ports, ICMP types or TCP flags must not
 * match a packet that has none, as an nftables payload match does not, and
 * the classification can only promise that through the protocol.
 */
static __always_inline void xct_policy_input(struct xct_policy_in *in, const struct xct_pkt *pkt,
					     int parsed, __u8 hook, __u32 ifindex, __u8 state,
					     __u64 now)
{
	__u8 proto = pkt->t.proto;

	in->saddr = pkt->t.src;
	in->daddr = pkt->t.dst;
	in->now = now;
	in->ifindex = ifindex;
	in->len = pkt->l3_len;
	in->hook = hook;
	in->family = pkt->t.family;
	in->proto = parsed ? proto : XCT_PROTO_NO_L4;
	in->state = state;
	in->has_ports = parsed && (proto == XCT_IPPROTO_TCP || proto == XCT_IPPROTO_UDP);
	in->sport = in->has_ports ? xct_ntohs(pkt->t.sport) : 0;
	in->dport = in->has_ports ? xct_ntohs(pkt->t.dport) : 0;
	in->is_icmp = parsed && xct_is_icmp(pkt->t.family, proto);
	in->icmp_type = pkt->t.icmp_type;
	in->icmp_code = pkt->t.icmp_code;
	in->is_tcp = parsed && proto == XCT_IPPROTO_TCP;
	in->tcp_flags = pkt->tcp.flags;
	in->hop_limit = pkt->hop_limit;
	in->dscp = pkt->dscp;
}

/* One packet's way through the tracker, handed between the steps below. */
struct xct_track_state {
	struct xct_ct_key key;
	struct xct_ct_result res;
	__u64 now;
	__u32 seq;	/* what the tracker's update committed */
	__u8 side;	/* the packet's side of the key */
	__u8 is_new;	/* would open a connection that has no entry yet */
	__u8 hook;	/* enum xct_rule_hook */
	__u8 nat_reply; /* an answer to a translated connection (bpf/nat.h) */
};

/* xct_track()'s answer for a nat_reply packet: not decided here, but
 * translated back at TC and tracked then (bpf/nat.h). */
#define XCT_TRACK_NAT_REPLY 0xfe
/* ... and for an accepted arriving packet while dnat is in use: its
 * destination may have to be translated, at TC, before routing. */
#define XCT_TRACK_DNAT 0xfd

/*
 * The binding of kind manip (XCT_CT_SRC_NAT or XCT_CT_DST_NAT) of the
 * connection whose entry has key, *ct its entry; NULL when there is none,
 * or only one left by an earlier connection on the same tuple.
 */
static __always_inline struct xct_nat_binding *
xct_nat_binding_of(const struct xct_ct_key *key, __u8 manip, struct xct_ct_entry **ct)
{
	struct xct_nat_binding *b = bpf_map_lookup_elem(&xct_nat, key);

	*ct = bpf_map_lookup_elem(&xct_ct, key);
	if (!b || !*ct || b->manip != manip || b->first_seen_ns != (*ct)->first_seen_ns)
		return 0;
	return b;
}

/*
 * The binding of a destination-translated connection (key) whose reply, sent
 * out with the public source, an arriving ICMP error quotes: the error
 * belongs to the inner server (xct_nat_ingress() sends it there).  NULL
 * for any other error.
 */
static __always_inline struct xct_nat_binding *xct_dnat_reply_error(const struct xct_pkt *pkt,
								    const struct xct_ct_key *key)
{
	struct xct_nat_binding *b;
	struct xct_ct_entry *ct;
	union xct_addr addr;
	__u16 port;

	b = xct_nat_binding_of(key, XCT_CT_DST_NAT, &ct);
	if (!b)
		return 0;
	xct_nat_orig_dest(key, b->orig_side, &addr, &port);
	if (!xct_addr_eq(&pkt->inner.src, &addr) ||
	    (xct_has_ports(pkt->inner.proto) && pkt->inner.sport != port))
		return 0;
	return b;
}

/* A dnat reply's connection, handed over by xct_nat_ingress(): the
 * packet is tracked under the connection's key, on its reply side.  The
 * word is taken once, and only for the tuple it was given for. */
static __always_inline int xct_nat_take_hint(struct xct_track_state *ts)
{
	__u32 zero = 0;
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);

	if (!slot || slot->nat_hint != 1)
		return 0;
	slot->nat_hint = 0;
	if (!xct_key_eq(&slot->nat_rkey, &ts->key))
		return 0;
	ts->key = slot->nat_key;
	ts->side = slot->nat_side;
	return 1;
}

/* Whether the fast path found no entry for this CPU's packet. */
static __always_inline __u8 xct_fast_missed(void)
{
	__u32 zero = 0;
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);

	return slot && slot->fast_missed;
}

/* Whether NAT rules or bindings may exist under the active generation:
 * one array load. */
static __always_inline int xct_nat_may_exist(void)
{
	const struct xct_policy_gen *g = xct_active_gen();

	return g && g->nat;
}

/*
 * The tracker's part for a parsed packet: what nf_conntrack decides before
 * the filter table sees the packet.  A new connection is only found here,
 * not created (see xct_ct_process()).  A global function: the verifier
 * checks it once rather than once per path into it.
 */
__noinline int xct_classify(const struct xct_pkt *pkt, struct xct_track_state *ts)
{
	struct xct_ct_result *res;
	__u8 missed;

	if (!pkt || !ts)
		return 0;
	res = &ts->res;
	if (pkt->icmp_error) {
		xct_ct_related(pkt, ts->now, res);
		/* About a translated connection: the quoted packet carries
		 * the translated tuple, known once translated back. */
		if (res->reason == XCT_R_ICMP_ERROR_NO_CONN && ts->hook == XCT_HOOK_INGRESS &&
		    xct_icmp_error_key(pkt, &ts->key) == XCT_R_OK &&
		    bpf_map_lookup_elem(&xct_nat_rev, &ts->key)) {
			/* About a destination-translated connection, handed
			 * back by xct_nat_ingress(): related to it. */
			if (xct_nat_take_hint(ts)) {
				struct xct_ct_entry *ct = bpf_map_lookup_elem(&xct_ct, &ts->key);

				if (ct && xct_entry_alive(ct, ts->now)) {
					res->reason = XCT_R_OK;
					res->ct_state = XCT_CTS_RELATED;
				}
				return 0;
			}
			ts->nat_reply = 1;
		}
		/* About a destination-translated connection's reply: the
		 * error is the inner server's, to be sent there first. */
		if (res->ct_state == XCT_CTS_RELATED && ts->hook == XCT_HOOK_INGRESS &&
		    xct_icmp_error_key(pkt, &ts->key) == XCT_R_OK &&
		    xct_dnat_reply_error(pkt, &ts->key))
			ts->nat_reply = 1;
		return 0;
	}
	if (pkt->t.proto == XCT_IPPROTO_ICMP && pkt->t.family == XCT_AF_INET &&
	    pkt->t.icmp_type > 18) {
		res->ct_state = XCT_CTS_INVALID;
		res->reason = XCT_R_ICMP_BAD_TYPE;
		return 0;
	}
	if (pkt->t.proto == XCT_IPPROTO_ICMPV6 && pkt->t.family == XCT_AF_INET6 &&
	    xct_icmpv6_untracked(pkt->t.icmp_type)) {
		/* Untracked, as in nf_conntrack, but only when it is a
		 * well-formed message of this link: anything else carrying
		 * these types would pass untracked past `policy drop`. */
		__u8 r = xct_icmpv6_link_check(pkt->t.icmp_type, pkt->t.icmp_code, pkt->hop_limit,
					       pkt->l3_len - (pkt->l4_off - pkt->l3_off),
					       &pkt->t.src);

		res->ct_state = r == XCT_R_OK ? XCT_CTS_UNTRACKED : XCT_CTS_INVALID;
		res->reason = r == XCT_R_OK ? XCT_R_ICMPV6_NEIGHBOUR : r;
		return 0;
	}
	if (pkt->t.proto == XCT_IPPROTO_TCP && !xct_tcp_flags_valid(pkt->tcp.flags)) {
		res->ct_state = XCT_CTS_INVALID;
		res->reason = XCT_R_TCP_BAD_FLAGS;
		return 0;
	}
	if (xct_key_from_tuple(&pkt->t, &ts->key, &ts->side) < 0) {
		res->ct_state = XCT_CTS_INVALID;
		res->reason = XCT_R_ICMP_INVALID_NEW;
		return 0;
	}
	ts->key.zone = pkt->zone;
	/* missed: the fast path found no entry under this key already,
	 * unless the key is a dnat reply's connection's. */
	missed = xct_fast_missed();
	if (ts->hook == XCT_HOOK_INGRESS && xct_nat_take_hint(ts))
		missed = 0;
	ts->is_new = xct_ct_process(&ts->key, ts->side, pkt, ts->now, res, &ts->seq, &missed);
	/* No connection has this tuple, but a translated one answers to it:
	 * the tuple is known only once the translation is undone.  Only
	 * while NAT rules or bindings may exist (the generation's nat, see
	 * src/rules/install.c): a new connection's tuple misses the cache in
	 * every table it is looked up in, about 100 ns here. */
	if (missed && ts->hook == XCT_HOOK_INGRESS && xct_nat_may_exist() &&
	    bpf_map_lookup_elem(&xct_nat_rev, &ts->key))
		ts->nat_reply = 1;
	return 0;
}

/*
 * The ct status the rules see (XCT_CTS_BIT_*): the entry's bits that are
 * the kernel's, and CONFIRMED for every packet after a connection's first
 * (an entry in xct's table is a confirmed conntrack; the first packet's
 * conntrack is unconfirmed at nftables' filter hooks, and so is it here,
 * whether it creates the entry or starts over on a dead one).
 */
static __always_inline __u16 xct_policy_ct_status(const struct xct_track_state *ts)
{
	__u16 bits = ts->res.status & (XCT_CTS_BIT_SEEN_REPLY | XCT_CTS_BIT_ASSURED |
				       XCT_CTS_BIT_SNAT | XCT_CTS_BIT_DNAT);

	if (!ts->is_new && !ts->res.started)
		bits |= XCT_CTS_BIT_CONFIRMED;
	return bits;
}

/* A rule's ct mark set, into the packet's connection: one of its own key,
 * that this packet created or updated. */
static __always_inline void xct_commit_mark(const struct xct_track_state *ts)
{
	struct xct_policy_scratch *ps = xct_policy_scratch_get();

	if (ps && ps->out.ct_mark_set &&
	    (ts->res.ct_state == XCT_CTS_NEW || ts->res.ct_state == XCT_CTS_ESTABLISHED))
		xct_ct_set_mark(&ts->key, ps->in.ct_mark, ts->now);
}

/* What the policy's verdict does to the table: an admitted new connection
 * gets its entry and is announced (NEW); a refused one that reused an old
 * entry leaves it dead, as if it had never come.  1 when an admitted
 * connection could not get its entry: the packet is then INVALID (ts->res
 * says why), to be judged again. */
__noinline int xct_commit(const struct xct_pkt *pkt, struct xct_track_state *ts, __u32 verdict)
{
	if (!pkt || !ts)
		return 0;
	if (verdict == XCT_VERDICT_ACCEPT) {
		if (ts->is_new) {
			xct_ct_create(&ts->key, ts->side, pkt, ts->now, &ts->res);
			if (ts->res.ct_state == XCT_CTS_INVALID)
				return 1;
		}
		/* Before the NEW event, which then shows the mark. */
		xct_commit_mark(ts);
		/* A connection that started, in a new entry or a dead one
		 * reused: a candidate should the table fill up, and a NEW
		 * for a reader of connection events. */
		if (ts->res.started) {
			xct_ct_remember(&ts->key);
			xct_ct_announce_new(&ts->key, ts->now, ts->hook == XCT_HOOK_INGRESS);
		}
	} else if (ts->res.started) {
		xct_ct_forget(&ts->key, ts->seq);
	} else if (!ts->is_new) {
		/* A refused packet of a connection: its mark is set all
		 * the same, as nft sets it before the verdict drops. */
		xct_commit_mark(ts);
	}
	return 0;
}

/*
 * A packet the datapath drops or rejects, for `xct trace drops` and
 * `xct trace resets`: one event with the tracker's reason and the deciding
 * rule, sent only while a drops reader is subscribed, so that with no
 * reader a dropped packet costs one array lookup more.  A drop is also
 * counted by its reason (xct_drops_total{reason}): here, where only drops
 * and rejects come, so that accepted packets pay nothing for it, and off
 * the entry program's stack.  A global function: verified once, off the
 * main program's budget.  The ring never waits: an event it has no room
 * for is counted in drop_events_lost.
 */
__noinline int xct_emit_drop(const struct xct_policy_scratch *ps, __u32 verdict, __u32 ct_state,
			     __u32 reason)
{
	const struct xct_policy_in *in;
	struct xct_event *ev;

	if (!ps)
		return 0;
	if (verdict == XCT_VERDICT_DROP)
		xct_count(XCT_DROP_REASON_SLOT(reason));
	in = &ps->in;
	if (!xct_subscribed(XCT_SUB_DROPS, in->now))
		return 0;
	ev = bpf_ringbuf_reserve(&xct_drop_events, sizeof(*ev), 0);
	if (!ev) {
		xct_count(XCT_S_DROP_EVENTS_LOST);
		return 0;
	}
	xct_event_fill(ev, in, XCT_EV_DROP, verdict, ct_state, reason,
		       ps->out.matched ? XCT_EVF_MATCHED : 0, ps->out.line);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* Whether arriving packets must be looked at for dnat under the active
 * generation: one array load. */
static __always_inline int xct_dnat_enabled(void)
{
	const struct xct_policy_gen *g = xct_active_gen();

	return g && g->dnat;
}

/* Whether a ruleset is loaded: without one, xct filters nothing. */
static __always_inline int xct_rules_loaded(void)
{
	__u32 zero = 0;
	struct xct_policy_ctl *c = bpf_map_lookup_elem(&xct_policy_ctl, &zero);

	return c && c->loaded;
}

/*
 * A packet the datapath cannot decide: an internal error (a per-CPU
 * scratch missing, a program it had to be handed to absent) before the
 * policy could run.  It is counted, as INVALID with its reason, and given
 * what the policy gives an INVALID packet that no rule matches: at ingress
 * `policy drop` drops it, without a ruleset or under `policy accept` it
 * passes, as it would have had the error not happened.  Should the policy
 * itself be unreadable, an arriving packet is dropped.  A global function:
 * out of line, it takes nothing from the callers' stack.
 */
__noinline int xct_undecided(__u32 reason, __u32 hook)
{
	struct xct_policy_ctl *ctl;
	__u32 zero = 0;

	xct_count(XCT_S_PACKETS);
	xct_count(XCT_S_INVALID);
	xct_count_reason(reason);
	if (hook != XCT_HOOK_INGRESS)
		return XCT_VERDICT_ACCEPT;
	ctl = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!ctl)
		return XCT_VERDICT_DROP;
	if (!ctl->loaded || ctl->gen[ctl->active_gen & 1].policy == XCT_VERDICT_ACCEPT)
		return XCT_VERDICT_ACCEPT;
	return XCT_VERDICT_DROP;
}

/* xct_undecided() as a TC action. */
static __always_inline int xct_undecided_tc(__u32 reason, __u32 hook)
{
	return xct_undecided(reason, hook) == XCT_VERDICT_ACCEPT ? TC_ACT_UNSPEC : TC_ACT_SHOT;
}

/* A packet decided and counted already whose hand-off to the program that
 * had to finish it (NAT) failed: it cannot be sent as the rules want, so it
 * is dropped, and counted a second time, by the failure's reason. */
static __always_inline void xct_handoff_failed(void)
{
	xct_count_reason(XCT_R_TAIL_CALL_FAILED);
	xct_count(XCT_S_DROP);
}

/* The IP header's length of a later fragment, for its bytes: IPv4's with
 * its options, IPv6's with the fragment header. */
static __always_inline __u32 xct_frag_ip_hlen(const struct xct_hdr_buf *hdrs,
					      const struct xct_pkt *pkt)
{
	if (pkt->t.family == XCT_AF_INET6)
		return 48;
	return (hdrs->b[xct_mask(pkt->l3_off, XCT_HDR_MASK)] & 0x0f) * 4;
}

/* A later fragment (bpf/frag.h): 1 if it passes with its datagram.  Global
 * functions, these two: their keys stay off the entry program's stack, and
 * the verifier checks them once. */
__noinline int xct_frag_check(const struct xct_pkt *pkt, struct xct_track_state *ts, __u32 ip_hlen)
{
	if (!pkt || !ts)
		return 0;
	return xct_frag_later(pkt, ts->now, ip_hlen, &ts->res);
}

/* A first fragment was decided: its datagram's verdict, for the later
 * ones; tracked says that ts holds its connection. */
__noinline int xct_frag_note(const struct xct_pkt *pkt, const struct xct_track_state *ts,
			     __u32 verdict, __u32 tracked)
{
	if (!pkt || !ts)
		return 0;
	xct_frag_first(pkt, verdict, ts->now, tracked ? &ts->key : 0, ts->side, ts->res.ct_state);
	return 0;
}

/*
 * What follows the policy's verdict (in ps): the table's part
 * (xct_commit()), a second judgement when an admitted connection could not
 * be created, and a first fragment's verdict kept for its datagram.
 * Returns the final verdict.  A global function, so that the entry
 * program's stack does not hold this part's values too.
 */
__noinline int xct_settle(const struct xct_pkt *pkt, struct xct_track_state *ts,
			  struct xct_policy_scratch *ps, int parsed)
{
	struct xct_ct_result *res;
	__u8 verdict;

	if (!pkt || !ts || !ps)
		return XCT_VERDICT_DROP;
	res = &ts->res;
	verdict = ps->out.verdict;
	if (parsed && res->reason != XCT_R_NOTRACK && xct_commit(pkt, ts, verdict)) {
		/* Admitted, but its connection could not be created: judged
		 * again as what it now is, INVALID. */
		ps->in.state = res->ct_state;
		xct_policy_eval(ps);
		verdict = ps->out.verdict;
	}
	if (pkt->frag == XCT_FRAG_FIRST)
		xct_frag_note(pkt, ts, verdict,
			      parsed && !pkt->icmp_error &&
				      (res->ct_state == XCT_CTS_NEW ||
				       res->ct_state == XCT_CTS_ESTABLISHED));
	return verdict;
}

/*
 * Tracks one packet and decides its fate.  The order follows nf_conntrack
 * and nftables: notrack rules first (the raw table), then the tracker, then
 * the rules with the packet's ct state.  A packet that would open a
 * connection is judged before its entry is created, so refused packets,
 * floods of them included, never take room in the table.  The verdict's
 * rule is left in the policy scratch for the caller.
 */
static __always_inline __u8 xct_track(__u8 reason, struct xct_hdr_buf *hdrs, __u8 hook,
				      __u32 ifindex, struct xct_pkt_slot *slot)
{
	struct xct_policy_scratch *ps = xct_policy_scratch_get();
	struct xct_track_state ts = {};
	struct xct_ct_result *res = &ts.res;
	struct xct_pkt *pkt = &slot->pkt;
	__u8 verdict;
	int parsed;

	if (!ps)
		return xct_undecided(XCT_R_INTERNAL_ERROR, hook);
	ts.now = xct_now();
	ts.hook = hook;
	/* The egress program tracks what this host sends (and what comes
	 * from an interface xct does not watch): see XCT_CT_LOCAL. */
	pkt->local = hook == XCT_HOOK_EGRESS;
	if (reason == XCT_R_NOT_IP) {
		xct_count(XCT_S_PACKETS);
		xct_count_reason(reason);
		res->ct_state = XCT_CTS_UNTRACKED;
		res->reason = reason;
		ps->out.matched = 0;
		ps->out.line = 0;
		xct_note_decision(XCT_VERDICT_ACCEPT, res, &ps->out);
		return XCT_VERDICT_ACCEPT;
	}
	parsed = reason == XCT_R_OK;
	slot->parsed = parsed;
	/* Filled once: the raw stage and the rules differ only in the state. */
	xct_policy_input(&ps->in, pkt, parsed, hook, ifindex, XCT_STAGE_RAW, ts.now);
	if (reason == XCT_R_FRAGMENT) {
		/* Decided with its datagram's first fragment: its reason
		 * stays `fragment' if that one was accepted. */
		xct_frag_check(pkt, &ts, xct_frag_ip_hlen(hdrs, pkt));
	} else if (!parsed) {
		res->ct_state = XCT_CTS_INVALID;
		res->reason = reason;
	} else {
		if (xct_policy_raw(ps)) {
			res->ct_state = XCT_CTS_UNTRACKED;
			res->reason = XCT_R_NOTRACK;
		} else {
			xct_classify(pkt, &ts);
			if (ts.nat_reply)
				return XCT_TRACK_NAT_REPLY;
		}
	}
	/* Counted here, after a nat_reply packet left: it is counted where
	 * it is tracked, after its translation. */
	xct_count(XCT_S_PACKETS);

	ps->in.state = res->ct_state;
	ps->in.ct_mark = res->mark;
	ps->in.ct_status = xct_policy_ct_status(&ts);
	if (res->reason == XCT_R_FRAGMENT) {
		/* The rules judged the datagram by its first fragment, as
		 * nftables judges it once, reassembled. */
		ps->out.verdict = XCT_VERDICT_ACCEPT;
		ps->out.matched = 0;
		ps->out.line = 0;
	} else {
		/* The rules see a dnat connection's inner destination. */
		if (hook == XCT_HOOK_INGRESS && res->dir == XCT_DIR_ORIGINAL && xct_dnat_enabled())
			xct_dnat_view(pkt, &ts.key, res->status, ifindex, &ps->in);
		xct_policy_eval(ps);
	}
	/* Its ports are hidden from xct, not from the kernel: no rule can
	 * be trusted to have seen what it would match (parse.h); nor can a
	 * later fragment's, whose first fragment was refused or never seen
	 * (frag.h). */
	if ((xct_reason_hides_l4(reason) || xct_frag_refused(res->reason)) && xct_rules_loaded()) {
		ps->out.verdict = XCT_VERDICT_DROP;
		ps->out.matched = 0;
		ps->out.line = 0;
	}
	/* From the slot, not a register: one value fewer held across the
	 * calls keeps this frame within the stack the chain below allows. */
	verdict = xct_settle(pkt, &ts, ps, slot->parsed);
	slot->reject = ps->out.reject;

	xct_count_reason(res->reason);
	if (res->ct_state == XCT_CTS_INVALID)
		xct_count(XCT_S_INVALID);
	if (res->ct_state == XCT_CTS_RELATED)
		xct_count(XCT_S_RELATED);
	if (res->ct_state == XCT_CTS_UNTRACKED)
		xct_count(XCT_S_UNTRACKED);
	if (res->reason == XCT_R_TCP_IGNORED)
		xct_count(XCT_S_IGNORE);
	if (pkt->icmp_error && res->ct_state == XCT_CTS_INVALID)
		xct_count(XCT_S_ERROR);
	if (verdict == XCT_VERDICT_DROP)
		xct_count(XCT_S_POLICY_DROP);
	else if (verdict == XCT_VERDICT_REJECT)
		xct_count(XCT_S_POLICY_REJECT);
	if (verdict == XCT_VERDICT_DROP || verdict == XCT_VERDICT_REJECT)
		xct_emit_drop(ps, verdict, res->ct_state, res->reason);
	xct_note_decision(verdict, res, &ps->out);
	if (verdict == XCT_VERDICT_ACCEPT && hook == XCT_HOOK_INGRESS && slot->parsed &&
	    res->dir == XCT_DIR_ORIGINAL && res->ct_state != XCT_CTS_UNTRACKED &&
	    res->ct_state != XCT_CTS_INVALID && res->ct_state != XCT_CTS_RELATED &&
	    xct_dnat_may_apply(res->status) && xct_dnat_enabled()) {
		slot->nat_dnat = 1;
		return XCT_TRACK_DNAT;
	}
	return verdict;
}

/* How many of len bytes to copy for the parser. */
static __always_inline __u32 xct_copy_len(__u32 len)
{
	__u32 n = len < XCT_HDR_MAX ? len : XCT_HDR_MAX;

	/* 1..XCT_HDR_MAX, written so that the verifier sees both bounds on
	 * the register handed to the load helper. */
	return xct_mask(n - 1, XCT_HDR_MAX - 1) + 1;
}

/* Copies the first bytes of a packet of len bytes into hdrs, for the full
 * parser and for a reject's answer; how many, 0 if none could be. */
static __always_inline __u32 xct_copy_hdrs(void *ctx, __u32 kind, struct xct_hdr_buf *hdrs,
					   __u32 len)
{
	__u32 n = xct_copy_len(len);

	if (len == 0)
		return 0;
	if (kind == XCT_SRC_SKB ? bpf_skb_load_bytes(ctx, 0, hdrs->b, n)
				: bpf_xdp_load_bytes(ctx, 0, hdrs->b, n))
		return 0;
	return n;
}

/*
 * Reject programs: they build the answer to a rejected packet and send it.
 * They are separate programs, reached by tail call from the entry programs,
 * because the verifier's budget is per program: the builder's byte loops
 * would not fit next to the parser and the tracker.
 *
 * The program arrays are pinned: the kernel empties a program array when
 * its last user reference goes, which for an unpinned one is the exit of
 * the 'xct attach' that loaded it.  A later load reuses the pin and points
 * it at its own reject program.
 */
SEC("xdp")
int xct_reject_xdp(struct xdp_md *ctx);
SEC("tc")
int xct_reject_tc(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, int(struct xdp_md *));
} xct_reject_xdp_prog SEC(".maps") = {
	.values = {[0] = (void *)&xct_reject_xdp},
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, int(struct __sk_buff *));
} xct_reject_tc_prog SEC(".maps") = {
	.values = {[0] = (void *)&xct_reject_tc},
};

/* The copy of the packet's first bytes that its answer quotes: a packet
 * the fast parser read in place has none yet. */
static __always_inline void xct_reject_prepare(void *ctx, __u32 kind, __u32 len)
{
	__u32 zero = 0;
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);

	if (hdrs && slot && !slot->copied)
		slot->copied = xct_copy_hdrs(ctx, kind, hdrs, len);
}

/* Builds the answer to the packet in this CPU's slot; the buffer holding
 * it and its length, or NULL when there is none to send. */
static __always_inline struct xct_reject_buf *xct_reject_answer(__u32 *out_len)
{
	__u32 zero = 0;
	struct xct_reject_buf *out = bpf_map_lookup_elem(&xct_reject_bufs, &zero);
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);

	*out_len = 0;
	if (!out || !hdrs || !slot)
		return 0;
	if (!slot->parsed) {
		/* Nothing to answer with: a malformed packet is only dropped. */
		xct_count(XCT_S_REJECT_ERROR);
		return 0;
	}
	if (!xct_reject_wanted(&slot->pkt))
		return 0;
	*out_len = xct_reject_build_global(hdrs, slot->copied, out, &slot->pkt, slot->reject);
	if (!*out_len) {
		xct_count(XCT_S_REJECT_ERROR);
		return 0;
	}
	*out_len = xct_mask(*out_len - 1, XCT_REJECT_MASK) + 1;
	return out;
}

SEC("xdp")
int xct_reject_xdp(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx), out_len;
	struct xct_reject_buf *out;
	int delta;

	xct_reject_prepare(ctx, XCT_SRC_XDP, len);
	out = xct_reject_answer(&out_len);

	if (!out)
		return XDP_DROP;
	/* Room at the head is always there (XDP_PACKET_HEADROOM); room at
	 * the tail is not, so grow at the head. */
	delta = (int)out_len - (int)len;
	if (delta > 0 ? bpf_xdp_adjust_head(ctx, -delta) : bpf_xdp_adjust_tail(ctx, delta))
		goto failed;
	if (bpf_xdp_store_bytes(ctx, 0, out->b, out_len))
		goto failed;
	return XDP_TX;
failed:
	xct_count(XCT_S_REJECT_ERROR);
	return XDP_DROP;
}

/* A reject's answer goes out of the interface the packet came in by
 * (ingress), or back up the stack that sent the packet (egress). */
SEC("tc")
int xct_reject_tc(struct __sk_buff *skb)
{
	struct xct_pkt_slot *slot;
	struct xct_reject_buf *out;
	__u32 zero = 0, out_len;

	xct_reject_prepare(skb, XCT_SRC_SKB, skb->len);
	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	out = xct_reject_answer(&out_len);
	if (!out || !slot)
		return TC_ACT_SHOT;
	if (bpf_skb_change_tail(skb, out_len, 0) ||
	    bpf_skb_store_bytes(skb, 0, out->b, out_len, 0)) {
		xct_count(XCT_S_REJECT_ERROR);
		return TC_ACT_SHOT;
	}
	return bpf_redirect(skb->ifindex, slot->hook == XCT_HOOK_EGRESS ? BPF_F_INGRESS : 0);
}

/*
 * NAT programs (bpf/nat.h), reached by tail call: the source translation
 * at egress, the reply's translation back at ingress, and the TC ingress
 * tracker that then tracks the translated packet.  Pinned, as the reject
 * arrays are.
 */
SEC("tc")
int xct_nat_egress(struct __sk_buff *skb);
SEC("tc")
int xct_nat_ingress(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, int(struct __sk_buff *));
} xct_nat_progs SEC(".maps") = {
	.values =
		{
			[XCT_NAT_PROG_EGRESS] = (void *)&xct_nat_egress,
			[XCT_NAT_PROG_INGRESS] = (void *)&xct_nat_ingress,
			/* [XCT_NAT_PROG_TRACK]: set by xct attach (src/attach.c) */
		},
};

/* Whether forwarded packets must be looked at for NAT under the active
 * generation: one array load. */
static __always_inline int xct_nat_enabled(void)
{
	return xct_nat_may_exist();
}

/*
 * Parses a packet of len bytes and decides it.  A packet the fast path
 * parsed and left (fast is XCT_FAST_PARSED) is in the slot already, as
 * the full parser would have parsed it; any other is copied and walked by
 * the full parser, the copy being what a reject's answer is later built
 * from (xct_reject_prepare()).
 */
static __always_inline __u8 xct_decide(void *ctx, __u32 kind, struct xct_hdr_buf *hdrs, __u32 len,
				       int fast, __u8 hook, __u32 ifindex)
{
	__u32 zero = 0;
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	__u8 reason = XCT_R_OK;

	if (!slot)
		return xct_undecided(XCT_R_INTERNAL_ERROR, hook);
	slot->copied = 0;
	slot->hook = hook;
	slot->nat_dnat = 0;
	if (fast != XCT_FAST_PARSED) {
		slot->fast_missed = 0;
		__builtin_memset(&slot->pkt, 0, sizeof(slot->pkt));
		slot->copied = xct_copy_hdrs(ctx, kind, hdrs, len);
		reason = xct_parse(ctx, kind, hdrs, slot->copied, &slot->pkt);
		slot->pkt.zone = xct_iface_zone(ifindex);
	}
	return xct_track(reason, hdrs, hook, ifindex, slot);
}

/*
 * How XDP hands a packet to TC ingress: the frame goes up with an 802.1Q
 * tag of VLAN id 4095 in front of its EtherType, the reason (enum
 * xct_handoff) in the tag's priority bits, and for a reject with an answer
 * of its own the rest of its kind in the DEI bit (XCT_HANDOFF_REJECT_TCI).
 * The stack moves the tag into skb->vlan_tci before TC ingress, where
 * xct_tc_answer() pops it.  Should that program be gone (clsact flushed
 * by another tool), the stack finds no VLAN device for the id, which
 * 802.1Q reserves and Linux never assigns, and drops the frame as
 * PACKET_OTHERHOST: a rejected packet
 * never goes up unanswered and undropped, and an answer to a translated
 * connection never reaches the stack untranslated.  XDP metadata would
 * fail open there, and this kernel's XDP may not offer it at all.
 * Arriving frames that carry the id are dropped (xct_xdp_forged()), so a
 * sender cannot forge a hand-off.
 */
static __always_inline int xct_xdp_handoff(struct xdp_md *ctx, __u16 tci)
{
	__u32 macs[3];
	__u8 *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -4))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 18 > data_end)
		return -1;
	/* Both MAC addresses move to the new start; the tag goes where
	 * they ended, in front of the frame's own EtherType. */
	__builtin_memcpy(macs, data + 4, sizeof(macs));
	__builtin_memcpy(data, macs, sizeof(macs));
	data[12] = XCT_ETH_P_8021Q >> 8;
	data[13] = XCT_ETH_P_8021Q & 0xff;
	data[14] = tci >> 8;
	data[15] = tci & 0xff;
	return 0;
}

/* Whether an arriving frame carries the hand-off's VLAN id in one of the
 * two tags the parser reads. */
static __always_inline int xct_xdp_forged(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u16 type;
	int i;

#pragma unroll
	for (i = 0; i < XCT_MAX_VLAN_TAGS; i++) {
		if (data + 12 + 4 * i + 4 > data_end)
			return 0;
		type = xct_load16(data + 12 + 4 * i);
		if (type != XCT_ETH_P_8021Q && type != XCT_ETH_P_8021AD)
			return 0;
		if ((xct_load16(data + 14 + 4 * i) & 0x0fff) == XCT_HANDOFF_VID)
			return 1;
	}
	return 0;
}

/* A rejected packet: up to TC for its answer, or answered from XDP with
 * XDP_TX when the frame cannot be tagged; dropped whatever happens. */
static __always_inline int xct_xdp_reject(struct xdp_md *ctx)
{
	struct xct_pkt_slot *slot;
	__u32 zero = 0;

	/* The answer's kind goes with the frame: TC parses it anew. */
	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	if (slot && xct_xdp_handoff(ctx, XCT_HANDOFF_REJECT_TCI(slot->reject & 7)) == 0)
		return XDP_PASS;
	bpf_tail_call(ctx, &xct_reject_xdp_prog, 0);
	xct_count(XCT_S_REJECT_ERROR);
	return XDP_DROP;
}

/* The packet's mark for the rules (skb->mark, 0 at XDP), and no mark
 * set by them yet. */
static __always_inline void xct_meta_mark_in(__u32 mark)
{
	struct xct_policy_scratch *ps = xct_policy_scratch_get();

	if (ps) {
		ps->in.meta_mark = mark;
		ps->out.meta_mark_set = 0;
	}
}

/* An answer to a translated connection goes up tagged, for TC ingress to
 * translate back (with the checksum helpers XDP has not) and track; so
 * does an accepted packet while dnat is in use, for TC ingress to
 * translate its destination.  A frame that cannot be tagged is dropped:
 * untranslated, it would reach the wrong host or none. */
static __always_inline int xct_xdp_nat_handoff(struct xdp_md *ctx, __u8 why)
{
	if (xct_xdp_handoff(ctx, XCT_HANDOFF_TCI(why)) == 0)
		return XDP_PASS;
	xct_count(XCT_S_DROP);
	return XDP_DROP;
}

SEC("xdp")
int xct_xdp(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx), zero = 0;
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);
	int fast;

	if (!hdrs)
		return xct_undecided(XCT_R_INTERNAL_ERROR, XCT_HOOK_INGRESS) == XCT_VERDICT_ACCEPT
			       ? XDP_PASS
			       : XDP_DROP;
	if (xct_xdp_forged(ctx)) {
		xct_count(XCT_S_PACKETS);
		xct_count_reason(XCT_R_HANDOFF_FORGED);
		xct_count(XCT_S_DROP);
		return XDP_DROP;
	}
	fast = xct_fast_xdp(ctx);
	if (fast == XCT_FAST_ACCEPT)
		return XDP_PASS;
	/* No skb, so no packet mark: 0 for the rules, and a meta mark set
	 * has nothing to go to. */
	xct_meta_mark_in(0);
	switch (xct_decide(ctx, XCT_SRC_XDP, hdrs, len, fast, XCT_HOOK_INGRESS,
			   ctx->ingress_ifindex)) {
	case XCT_VERDICT_DROP:
		return XDP_DROP;
	case XCT_VERDICT_REJECT:
		return xct_xdp_reject(ctx);
	case XCT_TRACK_NAT_REPLY:
		return xct_xdp_nat_handoff(ctx, XCT_HANDOFF_NAT);
	case XCT_TRACK_DNAT:
		return xct_xdp_nat_handoff(ctx, XCT_HANDOFF_DNAT);
	default:
		return XDP_PASS;
	}
}

/* Tracks an skb; the TC action for its verdict. */
static __always_inline int xct_track_skb(struct __sk_buff *skb, __u8 hook)
{
	__u32 len = skb->len, zero = 0;
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);
	struct xct_policy_scratch *ps;
	int fast, verdict;

	if (!hdrs)
		return xct_undecided_tc(XCT_R_INTERNAL_ERROR, hook);
	fast = xct_fast_skb(skb, hook);
	if (fast == XCT_FAST_ACCEPT)
		return TC_ACT_UNSPEC;
	xct_meta_mark_in(skb->mark);
	/* The full parser reads through a non-linear skb too. */
	verdict = xct_decide(skb, XCT_SRC_SKB, hdrs, len, fast, hook, skb->ifindex);
	/* A rule's meta mark set, before the packet goes on (to the stack,
	 * or to the NAT program by tail call). */
	ps = xct_policy_scratch_get();
	if (ps && ps->out.meta_mark_set)
		skb->mark = ps->in.meta_mark;
	switch (verdict) {
	case XCT_VERDICT_DROP:
		return TC_ACT_SHOT;
	case XCT_VERDICT_REJECT:
		bpf_tail_call(skb, &xct_reject_tc_prog, 0);
		xct_count(XCT_S_REJECT_ERROR);
		return TC_ACT_SHOT;
	case XCT_TRACK_NAT_REPLY:
		bpf_tail_call(skb, &xct_nat_progs, XCT_NAT_PROG_INGRESS);
		return xct_undecided_tc(XCT_R_TAIL_CALL_FAILED, hook);
	case XCT_TRACK_DNAT:
		bpf_tail_call(skb, &xct_nat_progs, XCT_NAT_PROG_INGRESS);
		xct_handoff_failed();
		return TC_ACT_SHOT;
	default:
		return TC_ACT_UNSPEC; /* let later filters decide */
	}
}

/* The reason of a frame XDP handed to TC (xct_xdp_handoff()), its tag
 * popped, and for a reject the answer's kind in *kind; 0 for any other
 * frame.  The stack has normally moved the tag
 * into skb->vlan_tci; a frame it did not untag (a test run, a device
 * that already held a tag out of band) still carries it in its data. */
static __always_inline __u8 xct_skb_handoff(struct __sk_buff *skb, __u8 *kind)
{
	__u8 tag[2];
	__u16 tci;

	if (skb->vlan_present) {
		if (skb->vlan_proto != bpf_htons(XCT_ETH_P_8021Q))
			return 0;
		tci = (__u16)skb->vlan_tci;
	} else if (skb->protocol == bpf_htons(XCT_ETH_P_8021Q)) {
		if (bpf_skb_load_bytes(skb, 14, tag, sizeof(tag)))
			return 0;
		tci = xct_load16(tag);
	} else {
		return 0;
	}
	if ((tci & 0x0fff) != XCT_HANDOFF_VID)
		return 0;
	/* A tag that cannot be taken off leaves the frame to the stack,
	 * which drops it for its VLAN id. */
	if (bpf_skb_vlan_pop(skb))
		return 0;
	*kind = XCT_HANDOFF_REJECT_KIND(tci);
	return tci >> 13 >= XCT_HANDOFF_REJECT_WITH ? XCT_HANDOFF_REJECT : tci >> 13;
}

/*
 * TC ingress next to XDP: answers the packets XDP rejected, translates
 * the ones it handed over for NAT, and leaves every other packet alone at
 * the cost of a few compares.  The packet is parsed again: other packets
 * may have been through XDP on this CPU since, so the slot no longer
 * holds this one.
 */
SEC("tc")
int xct_tc_answer(struct __sk_buff *skb)
{
	__u32 len, n, zero = 0;
	struct xct_pkt_slot *slot;
	struct xct_hdr_buf *hdrs;
	__u8 kind = XCT_REJECT_DEFAULT;
	__u8 why = xct_skb_handoff(skb, &kind);

	if (!why)
		return TC_ACT_UNSPEC;
	slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	if (!slot)
		return TC_ACT_SHOT;
	if (why == XCT_HANDOFF_NAT || why == XCT_HANDOFF_DNAT) {
		/* XDP tracked a dnat candidate, or left a reply untracked. */
		slot->nat_dnat = why == XCT_HANDOFF_DNAT;
		bpf_tail_call(skb, &xct_nat_progs, XCT_NAT_PROG_INGRESS);
		xct_count(XCT_S_DROP);
		return TC_ACT_SHOT;
	}
	if (why != XCT_HANDOFF_REJECT)
		return TC_ACT_SHOT;
	len = skb->len;
	n = xct_copy_len(len);
	hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);
	if (!hdrs || bpf_skb_load_bytes(skb, 0, hdrs->b, n) < 0)
		return TC_ACT_SHOT;
	__builtin_memset(&slot->pkt, 0, sizeof(slot->pkt));
	slot->copied = n;
	slot->hook = XCT_HOOK_INGRESS;
	slot->reject = kind;
	slot->parsed = xct_parse_skb(skb, hdrs, n, &slot->pkt) == XCT_R_OK;
	bpf_tail_call(skb, &xct_reject_tc_prog, 0);
	xct_count(XCT_S_REJECT_ERROR);
	return TC_ACT_SHOT;
}

SEC("tc")
int xct_tc_ingress(struct __sk_buff *skb)
{
	return xct_track_skb(skb, XCT_HOOK_INGRESS);
}

/* The loopback device's index, the same in every network namespace. */
#define XCT_LOOPBACK_IFINDEX 1

SEC("tc")
int xct_tc_egress(struct __sk_buff *skb)
{
	__u32 iif = skb->ingress_ifindex, lo = XCT_LOOPBACK_IFINDEX;

	/* Sent by this host through an attached lo: it comes back in by
	 * lo's ingress, which tracks and decides it, once (nf_conntrack
	 * tracks it at output, and lo's prerouting finds it tracked). */
	if (!iif && skb->ifindex == lo && bpf_map_lookup_elem(&xct_ifaces, &lo))
		return TC_ACT_UNSPEC;
	/* Forwarded from an interface xct watches: tracked there already;
	 * with NAT in use, its source may have to be translated. */
	if (iif && bpf_map_lookup_elem(&xct_ifaces, &iif)) {
		if (xct_nat_enabled()) {
			bpf_tail_call(skb, &xct_nat_progs, XCT_NAT_PROG_EGRESS);
			/* It may have had to leave translated: not
			 * without its translation. */
			xct_handoff_failed();
			return TC_ACT_SHOT;
		}
		return TC_ACT_UNSPEC;
	}
	return xct_track_skb(skb, XCT_HOOK_EGRESS);
}

/*
 * xct ct delete: the entry of one key goes, as the GC deletes (see
 * xct_gc_entry()), with its DESTROY.  The key is copied out of the packet
 * first: the table and the event want it on the stack.
 */
static __noinline int xct_ctl_ct_delete(const struct xct_ct_key *pkt_key, __u64 now)
{
	int wanted = xct_ct_events_wanted(now), announce = 0;
	struct xct_ct_entry_scratch *copy;
	struct xct_ct_entry *ct;
	struct xct_ct_key key;
	__u32 zero = XCT_DYING_CTL;
	__u16 status;
	__u64 born, orig_packets;

	copy = bpf_map_lookup_elem(&xct_dying, &zero);
	if (!copy)
		return -ENOMEM;
	__builtin_memcpy(&key, pkt_key, sizeof(key));
	ct = bpf_map_lookup_elem(&xct_ct, &key);
	if (!ct)
		return -ENOENT;
	bpf_spin_lock(&ct->lock);
	if ((ct->status & XCT_CT_DYING) || !xct_ct_holds(ct, xct_key_ident(&key))) {
		/* The GC is on it (or was, and the entry holds another
		 * connection now). */
		bpf_spin_unlock(&ct->lock);
		return -ENOENT;
	}
	if (wanted) {
		__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
				 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
		announce = 1;
	}
	status = ct->status;
	born = ct->first_seen_ns;
	orig_packets = ct->packets[XCT_DIR_ORIGINAL];
	ct->status |= XCT_CT_DYING;
	bpf_spin_unlock(&ct->lock);

	if (bpf_map_delete_elem(&xct_ct, &key))
		return -ENOENT;
	if (announce)
		xct_ct_announce_end(&key, copy, XCT_CTE_END_DELETED, now);
	else
		xct_ct_end_unbuilt(orig_packets, status);
	xct_ct_release_extras(&key, status, born);
	return 0;
}

/*
 * xct ct update (and list -z): one entry's mark, status, timeout, counters
 * or labels bit changed under its lock, as ctnetlink changes a conntrack.
 * Only SEEN_REPLY and ASSURED may be set, never cleared (conntrack -U's
 * rule).  The message stays in the packet; the key is copied out first.
 */
static __noinline int xct_ctl_ct_update(struct xct_ctl_ct_update *um, __u64 now)
{
	__u32 flags = um->flags, mark_xor = um->mark_xor, mark_mask = um->mark_mask;
	__u64 born = um->first_seen_ns, timeout = um->timeout_s;
	__u16 set = um->status_set & (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	__u64 packets[2], bytes[2];
	struct xct_ct_entry *ct;
	struct xct_ct_key key;

	__builtin_memcpy(&key, &um->ct.key, sizeof(key));
	ct = bpf_map_lookup_elem(&xct_ct, &key);
	if (!ct)
		return -ENOENT;
	bpf_spin_lock(&ct->lock);
	if (!xct_entry_alive(ct, now) || !xct_ct_holds(ct, xct_key_ident(&key)) ||
	    (born && ct->first_seen_ns != born)) {
		bpf_spin_unlock(&ct->lock);
		return -ENOENT;
	}
	packets[0] = ct->packets[0];
	packets[1] = ct->packets[1];
	bytes[0] = ct->bytes[0];
	bytes[1] = ct->bytes[1];
	if (flags & XCT_UPD_MARK)
		ct->mark = (ct->mark & ~mark_mask) ^ mark_xor;
	if (flags & XCT_UPD_STATUS)
		ct->status |= set;
	if (flags & XCT_UPD_LABELS)
		ct->status |= XCT_CT_LABELS;
	if (flags & XCT_UPD_TIMEOUT)
		ct->expires_ns = now + timeout * XCT_NSEC_PER_SEC;
	if (flags & XCT_UPD_ZERO) {
		ct->packets[0] = ct->packets[1] = 0;
		ct->bytes[0] = ct->bytes[1] = 0;
	}
	bpf_spin_unlock(&ct->lock);
	um->packets[0] = packets[0];
	um->packets[1] = packets[1];
	um->bytes[0] = bytes[0];
	um->bytes[1] = bytes[1];
	return 0;
}

/* Parses an skb into this CPU's packet slot; the slot, or NULL when the
 * packet has no tuple to translate. */
static __always_inline struct xct_pkt_slot *xct_nat_parse(struct __sk_buff *skb, __u8 hook)
{
	__u32 len = skb->len, n = xct_copy_len(len), zero = 0;
	struct xct_hdr_buf *hdrs = bpf_map_lookup_elem(&xct_hdrs, &zero);
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);

	if (!hdrs || !slot || len == 0 || bpf_skb_load_bytes(skb, 0, hdrs->b, n) < 0)
		return 0;
	__builtin_memset(&slot->pkt, 0, sizeof(slot->pkt));
	slot->copied = n;
	slot->hook = hook;
	slot->parsed = xct_parse_skb(skb, hdrs, n, &slot->pkt) == XCT_R_OK;
	if (!slot->parsed)
		return 0;
	/* A forwarded packet's connection is in the zone of the interface it
	 * came in on, where it was tracked. */
	slot->pkt.zone = xct_iface_zone(hook == XCT_HOOK_EGRESS && skb->ingress_ifindex
						? skb->ingress_ifindex
						: skb->ifindex);
	/* ICMP errors: about a connection that could be translated. */
	if (slot->pkt.icmp_error)
		return xct_nat_proto_ok(slot->pkt.inner.family, slot->pkt.inner.proto) ? slot : 0;
	if (!xct_nat_proto_ok(slot->pkt.t.family, slot->pkt.t.proto))
		return 0;
	return slot;
}

/*
 * An ICMP error leaving, after routing, about a translated connection, as
 * nf_nat translates it:
 *  - towards the client of a destination-translated connection, it quotes
 *    the packet as the inner server got it: its source, and the quoted
 *    packet's destination, go back to the connection's original
 *    destination;
 *  - from the inside of a source-translated connection, it quotes a reply
 *    as the client got it: its source, and the quoted packet's
 *    destination, become the translated address and port.
 */
static __always_inline int xct_nat_error_out(struct __sk_buff *skb, const struct xct_pkt *pkt)
{
	struct xct_nat_binding *b;
	struct xct_ct_key rkey, *kp;
	struct xct_ct_entry *ct;
	union xct_addr addr;
	__u16 port;

	if (xct_icmp_error_key(pkt, &rkey) != XCT_R_OK)
		return TC_ACT_UNSPEC;
	kp = bpf_map_lookup_elem(&xct_nat_rev, &rkey);
	if (kp) {
		b = bpf_map_lookup_elem(&xct_nat, kp);
		if (!b || b->manip != XCT_CT_DST_NAT || !xct_key_eq(&b->rkey, &rkey) ||
		    !xct_addr_eq(&pkt->inner.dst, &b->addr))
			return TC_ACT_UNSPEC;
		xct_nat_orig_dest(kp, b->orig_side, &addr, &port);
		if (xct_is_icmp(pkt->inner.family, pkt->inner.proto))
			port = pkt->inner.sport; /* the identifier stays */
	} else {
		b = xct_nat_binding_of(&rkey, XCT_CT_SRC_NAT, &ct);
		if (!b)
			return TC_ACT_UNSPEC;
		xct_nat_orig_source(&rkey, b->orig_side, &addr, &port);
		if (!xct_addr_eq(&pkt->inner.dst, &addr) ||
		    (xct_has_ports(pkt->inner.proto) && pkt->inner.dport != port))
			return TC_ACT_UNSPEC;
		addr = b->addr;
		port = b->port;
	}
	if (xct_nat_rewrite_error(skb, pkt, 1, &addr, port) < 0) {
		xct_count(XCT_S_DROP);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

/*
 * A connection's binding in the NAT programs: its own or, when may_bind
 * and it has none yet, one the rules make now (dnat: the dnat rules, else
 * the source-NAT ones).  A binding left by an earlier connection on the
 * same tuple is freed first.  NULL when the connection is not translated,
 * *act then being the TC action: UNSPEC, or SHOT (counted) when a rule
 * applies but no translation can be had.
 */
static __always_inline struct xct_nat_binding *
xct_nat_binding_for(struct __sk_buff *skb, const struct xct_pkt *pkt, const struct xct_ct_key *key,
		    struct xct_ct_entry *ct, __u8 orig_side, int may_bind, __u8 dnat, int *act)
{
	struct xct_nat_binding *b = bpf_map_lookup_elem(&xct_nat, key);
	struct xct_nat_work *w;
	__u8 reason = 0;

	*act = TC_ACT_UNSPEC;
	if (b && b->first_seen_ns != ct->first_seen_ns) {
		/* Left by an earlier connection on the same tuple. */
		xct_nat_release(key);
		b = 0;
	}
	if (b || !may_bind)
		return b;
	switch (xct_nat_decide(skb, pkt, key, ct, orig_side, dnat, &reason)) {
	case XCT_NATD_FAILED:
		xct_count_reason(reason);
		xct_count(XCT_S_DROP);
		*act = TC_ACT_SHOT;
		return 0;
	case XCT_NATD_NONE:
		return 0;
	}
	w = xct_nat_work_get();
	if (!w)
		*act = TC_ACT_SHOT;
	return w ? &w->b : 0;
}

/*
 * The destination-translated connection whose translated (inner) tuple has
 * the key inner: its binding, its key in *conn and its entry in *ct; NULL
 * if there is none.
 */
static __always_inline struct xct_nat_binding *
xct_dnat_of(const struct xct_ct_key *inner, struct xct_ct_key *conn, struct xct_ct_entry **ct)
{
	struct xct_nat_binding *b;
	struct xct_ct_key *kp;

	kp = bpf_map_lookup_elem(&xct_nat_rev, inner);
	if (!kp)
		return 0;
	*conn = *kp;
	b = xct_nat_binding_of(conn, XCT_CT_DST_NAT, ct);
	return b && xct_key_eq(&b->rkey, inner) ? b : 0;
}

/*
 * A forwarded packet whose tuple has no connection may be one of a
 * destination-translated connection, whose packets travel with the
 * translated (inner) tuple, key inner, the packet on its side `side`:
 *  - a reply, from the translated address, gets its source put back to
 *    the connection's original destination, after routing;
 *  - a packet of the original direction may have its source translated
 *    as well, as nf_nat does when a postrouting rule matches the inner
 *    tuple (a client reaching a forwarded port from the inside, "hairpin"
 *    NAT, so that the server answers through this host).  That source
 *    translation is decided on the connection's first packet like any
 *    other, and bound under the inner tuple's key.
 */
static __always_inline int xct_dnat_out(struct __sk_buff *skb, const struct xct_pkt *pkt,
					const struct xct_ct_key *inner, __u8 side)
{
	struct xct_nat_binding *b, *snat;
	struct xct_ct_entry *ct;
	struct xct_ct_key conn;
	union xct_addr addr;
	__u16 port;
	int act;

	b = xct_dnat_of(inner, &conn, &ct);
	if (!b)
		return TC_ACT_UNSPEC;
	if (!xct_addr_eq(&pkt->t.src, &b->addr) ||
	    (xct_has_ports(pkt->t.proto) && pkt->t.sport != b->port)) {
		snat = xct_nat_binding_for(skb, pkt, inner, ct, side,
					   !(ct->status & XCT_CT_SEEN_REPLY), 0, &act);
		if (ct->status & XCT_CT_NEW_PENDING)
			xct_ct_send_pending_new(&conn, xct_now());
		if (!snat)
			return act;
		if (snat->manip == XCT_CT_SRC_NAT &&
		    xct_nat_rewrite(skb, pkt, 1, &snat->addr, snat->port) < 0) {
			xct_count(XCT_S_DROP);
			return TC_ACT_SHOT;
		}
		return TC_ACT_UNSPEC;
	}
	xct_nat_orig_dest(&conn, b->orig_side, &addr, &port);
	if (xct_is_icmp(pkt->t.family, pkt->t.proto))
		port = pkt->t.sport; /* the identifier stays */
	if (xct_nat_rewrite(skb, pkt, 1, &addr, port) < 0) {
		xct_count(XCT_S_DROP);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

/*
 * A packet arriving, tracked and accepted while dnat is in use, before
 * routing: the first packet of a connection a dnat rule names gets its
 * translation (while the connection has seen no reply), and every
 * original-direction packet of a destination-translated connection gets
 * its destination from the binding.
 */
static __always_inline int xct_dnat_in(struct __sk_buff *skb, struct xct_pkt *pkt)
{
	struct xct_nat_binding *b;
	struct xct_ct_entry *ct;
	struct xct_ct_key key;
	int act;
	__u8 side;

	if (pkt->icmp_error || xct_key_from_tuple(&pkt->t, &key, &side) < 0)
		return TC_ACT_UNSPEC;
	key.zone = pkt->zone;
	ct = bpf_map_lookup_elem(&xct_ct, &key);
	if (!ct || side != ct->orig_side)
		return TC_ACT_UNSPEC;
	b = xct_nat_binding_for(
		skb, pkt, &key, ct, ct->orig_side,
		!(ct->status & (XCT_CT_SEEN_REPLY | XCT_CT_SRC_NAT | XCT_CT_DST_NAT)), 1, &act);
	if (!b)
		return act;
	if (b->manip != XCT_CT_DST_NAT)
		return TC_ACT_UNSPEC;
	if (xct_nat_rewrite(skb, pkt, 0, &b->addr,
			    xct_has_ports(pkt->t.proto) ? b->port : pkt->t.sport) < 0) {
		xct_count(XCT_S_DROP);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

/*
 * Source NAT of forwarded packets, after routing: the first packet of a
 * connection leaving by a device a NAT rule names gets its translation
 * (while the connection has seen no reply, as nf_nat binds at its first
 * packet's POSTROUTING); every later original-direction packet of a
 * translated connection is rewritten from its binding.
 */
SEC("tc")
int xct_nat_egress(struct __sk_buff *skb)
{
	struct xct_pkt_slot *slot = xct_nat_parse(skb, XCT_HOOK_EGRESS);
	struct xct_nat_binding *b;
	struct xct_ct_entry *ct;
	struct xct_ct_key key;
	struct xct_pkt *pkt;
	int dir, act;
	__u8 side;

	if (!slot)
		return TC_ACT_UNSPEC;
	pkt = &slot->pkt;
	if (pkt->icmp_error)
		return xct_nat_error_out(skb, pkt);
	if (xct_key_from_tuple(&pkt->t, &key, &side) < 0)
		return TC_ACT_UNSPEC;
	key.zone = pkt->zone;
	ct = bpf_map_lookup_elem(&xct_ct, &key);
	if (!ct)
		return xct_dnat_out(skb, pkt, &key, side);
	dir = side == ct->orig_side ? XCT_DIR_ORIGINAL : XCT_DIR_REPLY;
	b = xct_nat_binding_for(skb, pkt, &key, ct, ct->orig_side,
				dir == XCT_DIR_ORIGINAL && !(ct->status & XCT_CT_SEEN_REPLY), 0,
				&act);
	/* Decided: the connection's NEW can tell its translation. */
	if (ct->status & XCT_CT_NEW_PENDING)
		xct_ct_send_pending_new(&key, xct_now());
	if (!b)
		return act;
	if (b->manip != XCT_CT_SRC_NAT || dir != XCT_DIR_ORIGINAL)
		return TC_ACT_UNSPEC;
	if (xct_nat_rewrite(skb, pkt, 1, &b->addr, b->port) < 0) {
		xct_count(XCT_S_DROP);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

/*
 * An ICMP error arriving about a destination-translated connection's
 * reply (key: the connection's), which left with the public source: its
 * destination, and the quoted packet's source, go to the inner server
 * before routing, as nf_nat does; the tracker is told the connection it
 * is related to, as the quoted tuple is now the translated one.
 */
static __always_inline int xct_dnat_error_in(struct __sk_buff *skb, struct xct_pkt_slot *slot,
					     const struct xct_ct_key *key)
{
	struct xct_nat_binding *b = xct_dnat_reply_error(&slot->pkt, key);
	__u16 port;

	if (!b)
		return 0;
	port = xct_is_icmp(key->family, key->proto) ? slot->pkt.inner.sport : b->port;
	if (xct_nat_rewrite_error(skb, &slot->pkt, 0, &b->addr, port) < 0)
		return -1;
	slot->nat_rkey = b->rkey;
	slot->nat_key = *key;
	slot->nat_side = 0;
	slot->nat_hint = 1;
	return 0;
}

/*
 * A reply to a destination-translated connection whose inner tuple (key
 * inner, bound by b) is source-translated too: its destination is put
 * back to the client before routing, which leaves it the reply of the
 * inner tuple, tracked under the connection as any dnat reply.  1 when it
 * was one, 0 when not, -1 when its rewrite failed.  An ICMP error about
 * such a connection is left as it is (not translated).
 */
static __always_inline int xct_hairpin_in(struct __sk_buff *skb, struct xct_pkt_slot *slot,
					  const struct xct_ct_key *inner,
					  const struct xct_ct_key *rkey,
					  const struct xct_nat_binding *b, __u8 side)
{
	struct xct_nat_binding *outer;
	struct xct_ct_entry *ct;
	struct xct_ct_key conn;
	union xct_addr addr;
	__u16 port;

	if (b->manip != XCT_CT_SRC_NAT || !xct_key_eq(&b->rkey, rkey))
		return 0;
	outer = xct_dnat_of(inner, &conn, &ct);
	if (!outer || outer->first_seen_ns != b->first_seen_ns)
		return 0;
	if (slot->pkt.icmp_error)
		return 1;
	xct_nat_orig_source(inner, b->orig_side, &addr, &port);
	if (xct_nat_rewrite(skb, &slot->pkt, 0, &addr, port) < 0)
		return -1;
	slot->nat_rkey = *inner;
	slot->nat_key = conn;
	slot->nat_side = xct_is_icmp(conn.family, conn.proto) ? side : !outer->orig_side;
	slot->nat_hint = 1;
	return 1;
}

/*
 * An answer to a translated connection, before routing: its destination
 * is put back to the connection's original source, then it is tracked as
 * any packet, under the connection's own key.
 */
SEC("tc")
int xct_nat_ingress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct xct_pkt_slot *slot = bpf_map_lookup_elem(&xct_pkt_slots, &zero);
	struct xct_ct_key rkey, key, *kp;
	struct xct_nat_binding *b;
	struct xct_ct_entry *ct;
	union xct_addr addr;
	__u16 port;
	struct xct_ct_entry *outer_ct;
	struct xct_ct_key conn;
	__u8 side = 0, dnat = 0;
	int hairpin;

	if (slot) {
		dnat = slot->nat_dnat;
		slot->nat_dnat = 0;
		slot->nat_hint = 0;
	}
	slot = xct_nat_parse(skb, XCT_HOOK_INGRESS);
	if (dnat) /* tracked already */
		return slot ? xct_dnat_in(skb, &slot->pkt) : TC_ACT_UNSPEC;
	if (!slot)
		goto track;
	if (slot->pkt.icmp_error ? xct_icmp_error_key(&slot->pkt, &rkey) != XCT_R_OK
				 : xct_key_from_tuple(&slot->pkt.t, &rkey, &side) < 0)
		goto track;
	rkey.zone = slot->pkt.zone;
	kp = bpf_map_lookup_elem(&xct_nat_rev, &rkey);
	if (!kp) {
		if (slot->pkt.icmp_error && xct_dnat_error_in(skb, slot, &rkey) < 0) {
			xct_count(XCT_S_DROP);
			return TC_ACT_SHOT;
		}
		goto track;
	}
	key = *kp;
	b = bpf_map_lookup_elem(&xct_nat, &key);
	ct = bpf_map_lookup_elem(&xct_ct, &key);
	if (!ct && b) {
		hairpin = xct_hairpin_in(skb, slot, &key, &rkey, b, side);
		if (hairpin < 0) {
			xct_count(XCT_S_DROP);
			return TC_ACT_SHOT;
		}
		if (hairpin)
			goto track;
	}
	/* Being bound on another CPU: the claim is made, the binding next
	 * (by a live connection, or by a dnat connection's inner tuple). */
	if (!b && ((ct && xct_entry_alive(ct, xct_now())) ||
		   (!ct && xct_dnat_of(&key, &conn, &outer_ct))))
		goto track;
	if (!b || !ct || b->first_seen_ns != ct->first_seen_ns || !xct_key_eq(&b->rkey, &rkey)) {
		/* A claim its connection no longer holds. */
		bpf_map_delete_elem(&xct_nat_rev, &rkey);
		goto track;
	}
	if (b->manip == XCT_CT_SRC_NAT) {
		xct_nat_orig_source(&key, b->orig_side, &addr, &port);
		if ((slot->pkt.icmp_error ? xct_nat_rewrite_error(skb, &slot->pkt, 0, &addr, port)
					  : xct_nat_rewrite(skb, &slot->pkt, 0, &addr, port)) < 0) {
			xct_count(XCT_S_DROP);
			return TC_ACT_SHOT;
		}
	} else if (b->manip == XCT_CT_DST_NAT) {
		/* Tracked as it is, on the connection's reply side (an
		 * ICMP error: related to the connection). */
		slot->nat_rkey = rkey;
		slot->nat_key = key;
		slot->nat_side = xct_is_icmp(key.family, key.proto) ? side : !b->orig_side;
		slot->nat_hint = 1;
	}
track:
	bpf_tail_call(skb, &xct_nat_progs, XCT_NAT_PROG_TRACK);
	if (slot)
		slot->nat_hint = 0;
	/* Not tracked, and not decided: INVALID for the policy. */
	return xct_undecided_tc(XCT_R_TAIL_CALL_FAILED, XCT_HOOK_INGRESS);
}

/* Control program: the CLI runs it with BPF_PROG_TEST_RUN, the command in
 * the test packet (struct xct_ctl_msg, or a larger message that starts
 * with one), the answer written back into it.  attach pins it as xct_ctl,
 * so that later commands run the loaded datapath's own copy. */
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
	case XCT_CTL_CT_DELETE: {
		struct xct_ctl_ct_msg *cm = data;

		if ((void *)(cm + 1) > data_end) {
			msg->ret = -EINVAL;
			break;
		}
		msg->ret = xct_ctl_ct_delete(&cm->key, xct_now());
		break;
	}
	case XCT_CTL_CT_UPDATE: {
		struct xct_ctl_ct_update *um = data;

		if ((void *)(um + 1) > data_end) {
			msg->ret = -EINVAL;
			break;
		}
		msg->ret = xct_ctl_ct_update(um, xct_now());
		break;
	}
	case XCT_CTL_CT_FLUSH:
		g.now = xct_now();
		g.dying_slot = XCT_DYING_CTL;
		g.flush = 1;
		g.events = xct_ct_events_wanted(g.now);
		bpf_for_each_map_elem(&xct_ct, xct_gc_entry, &g, 0);
		msg->seen = g.seen;
		msg->deleted = g.deleted;
		msg->ret = 0;
		break;
	default:
		msg->ret = -EINVAL;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
