/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * NAT in the datapath: choosing a connection's translation on its first
 * packet, and rewriting packets from it (the model is explained in
 * include/xct/nat.h).  Everything here runs in TC programs of its own,
 * reached by tail call, so that none of it weighs on the verifier's budget
 * for the tracker's programs.
 *
 * Packets are rewritten at TC, with the kernel's checksum helpers, rather
 * than in XDP: a packet from a local sender (a container's veth) may still
 * carry CHECKSUM_PARTIAL, whose transport checksum field holds only the
 * pseudo-header sum for the stack to complete.  The helpers know the skb's
 * checksum state and update the field the right way for each; XDP cannot
 * see it.
 */
#ifndef XCT_BPF_NAT_H
#define XCT_BPF_NAT_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "ct_table.h"
#include "policy.h"
#include "xct/csum.h"
#include "xct/nat.h"

/* Kernel 6.7's flag: the lookup also gives the source address the kernel
 * would choose towards the destination (what masquerade uses). */
#ifndef BPF_FIB_LOOKUP_SRC
#define BPF_FIB_LOOKUP_SRC (1U << 4)
#endif

/* The scratch of one translation decision, per CPU: too much for the
 * stack next to a bpf_loop frame. */
struct xct_nat_work {
	struct xct_ct_key key;	/* the connection's */
	struct xct_ct_key rkey; /* the translated tuple's, being tried */
	struct xct_tuple orig;	/* the first packet's tuple */
	struct xct_nat_binding b;
	union xct_addr addr; /* the chosen address */
	__u64 now;
	__u32 ifindex;
	__u32 gen;
	__u32 n_rules;
	__s32 rule; /* the rule that matched, or -1 */
	__u32 start;
	__u16 orig_port; /* host order */
	__u16 lo, hi;
	__u32 be_first, be_n; /* dnat: the backend to start from, how many */
	__s32 be_result;      /* dnat: of the last backend tried (xct_nat_dnat_try) */
	__u8 claimed;
	__u8 is_icmp;
	__u8 dnat;	/* deciding at ingress: only dnat rules apply */
	__u8 keep_port; /* the connection's own port is tried first */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_nat_work);
	__uint(max_entries, 1);
} xct_nat_work SEC(".maps");

static __always_inline struct xct_nat_work *xct_nat_work_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xct_nat_work, &zero);
}

/* bpf_loop step: is rule i the first that applies? */
static long xct_nat_rule_step(__u32 i, void *unused)
{
	struct xct_nat_work *w = xct_nat_work_get();
	struct xct_nat_rule *r;
	__u32 idx;

	if (!w || i >= w->n_rules)
		return 1;
	idx = (w->gen & 1) * XCT_NAT_RULES_MAX + (i & (XCT_NAT_RULES_MAX - 1));
	r = bpf_map_lookup_elem(&xct_nat_rules, &idx);
	if (!r)
		return 1;
	if ((r->kind == XCT_NAT_DNAT) != w->dnat || !xct_nat_rule_match(r, &w->orig, w->ifindex))
		return 0;
	w->rule = (__s32)idx;
	return 1;
}

/*
 * The first NAT rule of the active generation that applies to a
 * connection's first packet (tuple t, arriving by or leaving by ifindex),
 * of the kind asked for (dnat: the dnat rules, else the source-NAT ones);
 * NULL when none does.  Leaves the walk's state in w.
 */
static __always_inline struct xct_nat_rule *
xct_nat_first_rule(struct xct_nat_work *w, const struct xct_tuple *t, __u32 ifindex, __u8 dnat)
{
	struct xct_policy_ctl *pctl;
	struct xct_nat_ctl *nctl;
	__u32 zero = 0, idx;

	nctl = bpf_map_lookup_elem(&xct_nat_ctl, &zero);
	pctl = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!nctl || !pctl)
		return 0;
	w->gen = pctl->active_gen & 1;
	w->n_rules = nctl->n_rules[w->gen];
	if (!w->n_rules)
		return 0;
	w->orig = *t;
	w->ifindex = ifindex;
	w->rule = -1;
	w->dnat = dnat;
	bpf_loop(XCT_NAT_RULES_MAX, xct_nat_rule_step, NULL, 0);
	if (w->rule < 0)
		return 0;
	idx = (__u32)w->rule;
	return bpf_map_lookup_elem(&xct_nat_rules, &idx);
}

/* bpf_loop step: try the i-th port; stop once one is claimed. */
static long xct_nat_port_step(__u32 i, void *unused)
{
	struct xct_nat_work *w = xct_nat_work_get();
	struct xct_tuple t;
	struct xct_ct_entry *other;
	__u16 port;
	__u8 side;

	if (!w)
		return 1;
	port = xct_nat_port_try(i, w->orig_port, w->lo, w->hi, w->start, w->keep_port);
	xct_nat_src_tuple(&w->orig, &w->addr, w->is_icmp ? port : xct_htons(port), &t);
	if (xct_key_from_tuple(&t, &w->rkey, &side) < 0)
		return 1;
	w->rkey.zone = w->key.zone; /* translated within its zone */
	/* A connection of its own already has this tuple. */
	other = bpf_map_lookup_elem(&xct_ct, &w->rkey);
	if (other && xct_entry_alive(other, w->now))
		return 0;
	if (bpf_map_update_elem(&xct_nat_rev, &w->rkey, &w->key, BPF_NOEXIST))
		return 0; /* another connection's: the next one */
	w->b.port = t.sport;
	w->claimed = 1;
	return 1;
}

/* The address masquerade gives a connection: the one the kernel would
 * choose as source towards its destination through the outgoing device. */
static __always_inline int xct_nat_masq_addr(struct __sk_buff *skb, struct xct_nat_work *w)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	fib.family = w->orig.family;
	fib.ifindex = skb->ifindex;
	if (w->orig.family == XCT_AF_INET) {
		fib.ipv4_dst = w->orig.dst.v4;
	} else {
		__builtin_memcpy(fib.ipv6_dst, w->orig.dst.v6, 16);
	}
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib),
			    BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SKIP_NEIGH | BPF_FIB_LOOKUP_SRC);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	__builtin_memset(&w->addr, 0, sizeof(w->addr));
	if (w->orig.family == XCT_AF_INET)
		w->addr.v4 = fib.ipv4_src;
	else
		__builtin_memcpy(w->addr.v6, fib.ipv6_src, 16);
	return (w->addr.v6[0] | w->addr.v6[1] | w->addr.v6[2] | w->addr.v6[3]) ? 0 : -1;
}

/* Sets status bits on a live entry; the seq bump makes a concurrent
 * update (which copied the entry before) start again rather than write
 * its older copy over them. */
static __always_inline void xct_ct_set_status(struct xct_ct_entry *ct, __u16 bits)
{
	bpf_spin_lock(&ct->lock);
	ct->status |= bits;
	ct->seq++;
	bpf_spin_unlock(&ct->lock);
}

/* What deciding a translation came to. */
enum xct_nat_decision {
	XCT_NATD_NONE = 0, /* no rule applies: the connection is not translated */
	XCT_NATD_BOUND,	   /* w->b holds the binding */
	XCT_NATD_FAILED,   /* *reason says why: the packet is dropped */
};

/*
 * Claims the translated tuple of a destination translation to (to, port):
 * 1 when claimed, 0 when it is the connection's own tuple (nothing to
 * translate), -1 when another connection has it.
 */
static __always_inline int xct_nat_dnat_try(const union xct_addr *to, __u16 port,
					    struct xct_nat_work *w)
{
	struct xct_ct_entry *other;
	struct xct_tuple t;
	__u8 side;

	if (!port || !xct_has_ports(w->orig.proto))
		port = w->orig.dport;
	else
		port = xct_htons(port);
	xct_nat_dst_tuple(&w->orig, to, port, &t);
	if (xct_addr_eq(&t.dst, &w->orig.dst) && t.dport == w->orig.dport)
		return 0;
	if (xct_key_from_tuple(&t, &w->rkey, &side) < 0)
		return -1;
	w->rkey.zone = w->key.zone;
	other = bpf_map_lookup_elem(&xct_ct, &w->rkey);
	if (other && xct_entry_alive(other, w->now))
		return -1;
	if (bpf_map_update_elem(&xct_nat_rev, &w->rkey, &w->key, BPF_NOEXIST))
		return -1;
	w->addr = *to;
	w->b.port = t.dport;
	return 1;
}

/* bpf_loop step: try the i-th backend after the first; stop once one is
 * claimed (or is the connection's own destination). */
static long xct_nat_backend_step(__u32 i, void *unused)
{
	struct xct_nat_work *w = xct_nat_work_get();
	const struct xct_nat_backend *be;
	struct xct_nat_rule *r;
	__u32 idx;

	if (!w || i >= w->be_n || w->rule < 0)
		return 1;
	idx = (__u32)w->rule;
	r = bpf_map_lookup_elem(&xct_nat_rules, &idx);
	if (!r)
		return 1;
	be = &r->backends[((w->be_first + i) % w->be_n) & (XCT_NAT_BACKENDS_MAX - 1)];
	w->be_result = xct_nat_dnat_try(&be->addr, be->port, w);
	return w->be_result >= 0;
}

/*
 * A destination translation: the rule's address, and its port or the
 * connection's own; with a set of backends, the one the connection's
 * original tuple hashes to, or the next whose translated tuple is free.
 * A single target has no other to try (nf_nat's dnat does not move the
 * port either).
 */
static __always_inline int xct_nat_dnat_claim(const struct xct_nat_rule *r, struct xct_nat_work *w,
					      __u8 *reason)
{
	__u32 n = r->n_backends;
	int c;

	*reason = XCT_R_NAT_NO_TUPLE;
	if (!n) {
		c = xct_nat_dnat_try(&r->to_lo,
				     (r->flags & XCT_NATM_PORT_RANGE) ? r->to_port_lo : 0, w);
		return c > 0 ? XCT_NATD_BOUND : c == 0 ? XCT_NATD_NONE : XCT_NATD_FAILED;
	}
	if (n > XCT_NAT_BACKENDS_MAX)
		return XCT_NATD_FAILED;
	w->be_first = xct_nat_backend_hash(&w->orig) % n;
	w->be_n = n;
	w->be_result = -1;
	bpf_loop(XCT_NAT_BACKENDS_MAX, xct_nat_backend_step, NULL, 0);
	return w->be_result > 0	   ? XCT_NATD_BOUND
	       : w->be_result == 0 ? XCT_NATD_NONE
				   : XCT_NATD_FAILED;
}

/*
 * Decides the translation of a connection whose first packet (pkt, key)
 * leaves by skb's device (source translation, dnat 0) or arrives by it
 * (destination translation, dnat 1): the first NAT rule of that kind that
 * applies, an address, then a translated tuple claimed in xct_nat_rev, and
 * the binding.  key is the connection's table key, or the inner tuple's
 * of a destination-translated connection (ct) when its source is
 * translated too; orig_side is the side of key that sent pkt.
 */
static __always_inline int xct_nat_decide(struct __sk_buff *skb, const struct xct_pkt *pkt,
					  const struct xct_ct_key *key, struct xct_ct_entry *ct,
					  __u8 orig_side, __u8 dnat, __u8 *reason)
{
	struct xct_nat_work *w = xct_nat_work_get();
	struct xct_nat_binding *won;
	struct xct_nat_rule *r;
	__u16 manip = XCT_CT_SRC_NAT;
	__u32 size;
	long err;
	int d;

	if (!w)
		return XCT_NATD_NONE;
	r = xct_nat_first_rule(w, &pkt->t, skb->ifindex, dnat);
	if (!r)
		return XCT_NATD_NONE;
	w->key = *key;
	w->now = xct_now();

	if (r->kind == XCT_NAT_DNAT) {
		d = xct_nat_dnat_claim(r, w, reason);
		if (d != XCT_NATD_BOUND)
			return d;
		manip = XCT_CT_DST_NAT;
		goto bind;
	}
	if (r->kind == XCT_NAT_MASQUERADE) {
		if (xct_nat_masq_addr(skb, w) < 0) {
			*reason = XCT_R_NAT_NO_ADDRESS;
			return XCT_NATD_FAILED;
		}
	} else {
		w->addr = xct_nat_pick_addr(r, &w->orig.src, &w->orig.dst, w->orig.family);
	}
	w->keep_port = !(r->mode & XCT_NAT_MODE_RANDOM_ALL);
	w->is_icmp = xct_is_icmp(w->orig.family, w->orig.proto);
	w->orig_port = w->is_icmp ? w->orig.sport : xct_ntohs(w->orig.sport);
	xct_nat_port_range(r, w->orig.family, w->orig.proto, w->orig_port, &w->lo, &w->hi);
	/* Translating to the tuple the connection has already: nothing to do. */
	if (w->keep_port && xct_addr_eq(&w->addr, &w->orig.src) && w->orig_port >= w->lo &&
	    w->orig_port <= w->hi)
		return XCT_NATD_NONE;

	w->start = bpf_get_prandom_u32();
	w->claimed = 0;
	size = (__u32)w->hi - w->lo + 1;
	bpf_loop(size < XCT_NAT_TRIES ? size : XCT_NAT_TRIES, xct_nat_port_step, NULL, 0);
	if (!w->claimed) {
		*reason = XCT_R_NAT_NO_TUPLE;
		return XCT_NATD_FAILED;
	}

bind:
	w->b.rkey = w->rkey;
	w->b.addr = w->addr;
	w->b.manip = (__u8)manip;
	w->b.orig_side = orig_side;
	w->b.line = r->line;
	w->b.first_seen_ns = ct->first_seen_ns;
	err = bpf_map_update_elem(&xct_nat, key, &w->b, BPF_NOEXIST);
	if (err) {
		/* Another CPU bound this connection first (two of its first
		 * packets at once): give the claim back and use its binding. */
		bpf_map_delete_elem(&xct_nat_rev, &w->rkey);
		won = err == -EEXIST ? bpf_map_lookup_elem(&xct_nat, key) : NULL;
		if (!won) {
			*reason = XCT_R_NAT_TABLE_FULL;
			return XCT_NATD_FAILED;
		}
		w->b = *won;
		xct_count(XCT_S_CLASH_RESOLVE); /* as nf_nat's clash resolution */
		return XCT_NATD_BOUND;
	}
	xct_ct_set_status(ct, manip);
	xct_count(XCT_S_NAT_BOUND);
	return XCT_NATD_BOUND;
}

/* Where the transport checksum is, and whether a zero there means "none"
 * (UDP over IPv4). */
static __always_inline int xct_l4_csum_off(const struct xct_pkt *pkt, __u32 *off, __u64 *flags)
{
	__u32 l4 = pkt->l4_off;

	*flags = 0;
	switch (pkt->t.proto) {
	case XCT_IPPROTO_TCP:
		*off = l4 + 16;
		return 0;
	case XCT_IPPROTO_UDP:
		*off = l4 + 6;
		*flags = BPF_F_MARK_MANGLED_0;
		return 0;
	case XCT_IPPROTO_ICMP:
	case XCT_IPPROTO_ICMPV6:
		*off = l4 + 2;
		return 0;
	}
	return -1;
}

/*
 * Rewrites the packet's source (src) or destination address and port to
 * (addr, port), port in the key's convention; for an ICMP query the port
 * is its identifier, which both directions carry.  Returns 0 or -1.
 */
static __always_inline int xct_nat_rewrite(struct __sk_buff *skb, const struct xct_pkt *pkt,
					   int src, const union xct_addr *addr, __u16 port)
{
	const union xct_addr *old = src ? &pkt->t.src : &pkt->t.dst;
	int icmp = xct_is_icmp(pkt->t.family, pkt->t.proto);
	__u32 l3 = pkt->l3_off, l4 = pkt->l4_off, csum_off, port_off;
	__u16 old_port, new_port;
	__u64 mm0;
	__s64 diff;

	if (xct_l4_csum_off(pkt, &csum_off, &mm0) < 0)
		return -1;
	if (pkt->t.family == XCT_AF_INET) {
		if (old->v4 != addr->v4) {
			/* ICMPv4's checksum covers no pseudo-header. */
			if (!icmp && bpf_l4_csum_replace(skb, csum_off, old->v4, addr->v4,
							 BPF_F_PSEUDO_HDR | mm0 | 4))
				return -1;
			if (bpf_l3_csum_replace(skb, l3 + 10, old->v4, addr->v4, 4) ||
			    bpf_skb_store_bytes(skb, l3 + (src ? 12 : 16), &addr->v4, 4, 0))
				return -1;
		}
	} else if (!xct_addr_eq(old, addr)) {
		diff = bpf_csum_diff((__be32 *)old->v6, 16, (__be32 *)addr->v6, 16, 0);
		if (diff < 0 ||
		    bpf_l4_csum_replace(skb, csum_off, 0, (__u64)diff, BPF_F_PSEUDO_HDR | mm0) ||
		    bpf_skb_store_bytes(skb, l3 + (src ? 8 : 24), addr->v6, 16, 0))
			return -1;
	}
	if (icmp) {
		old_port = xct_htons(pkt->t.sport);
		new_port = xct_htons(port);
		port_off = l4 + 4;
	} else {
		old_port = src ? pkt->t.sport : pkt->t.dport;
		new_port = port;
		port_off = l4 + (src ? 0 : 2);
	}
	if (old_port == new_port)
		return 0;
	if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mm0 | 2) ||
	    bpf_skb_store_bytes(skb, port_off, &new_port, 2, 0))
		return -1;
	return 0;
}

/* Where an ICMP error's quoted packet keeps the port (or identifier) a
 * translation changes, and its transport checksum (csum_off 0: the error
 * does not quote it). */
struct xct_quoted {
	__u32 port_off, csum_off;
	__u16 old_port, new_port;
};

static __always_inline void xct_quoted_fields(const struct xct_pkt *pkt, __u32 len, int outer_src,
					      __u16 port, struct xct_quoted *q)
{
	__u32 il4 = pkt->inner_l4_off;
	__u8 proto = pkt->inner.proto;

	q->csum_off = 0;
	if (xct_is_icmp(pkt->inner.family, proto)) {
		q->old_port = xct_htons(pkt->inner.sport);
		q->new_port = xct_htons(port);
		q->port_off = il4 + 4;
		q->csum_off = il4 + 2;
		return;
	}
	q->old_port = outer_src ? pkt->inner.dport : pkt->inner.sport;
	q->new_port = port;
	q->port_off = il4 + (outer_src ? 2 : 0);
	if (il4 + (proto == XCT_IPPROTO_TCP ? 18 : 8) <= len)
		q->csum_off = il4 + (proto == XCT_IPPROTO_TCP ? 16 : 6);
}

/* Writes the quoted transport checksum c2 over c, then the new port, and
 * makes the error's own checksum (at icsum) follow both. */
static __always_inline int xct_quoted_store(struct __sk_buff *skb, __u32 icsum,
					    const struct xct_quoted *q, __u16 c, __u16 c2)
{
	if (q->csum_off && (bpf_skb_store_bytes(skb, q->csum_off, &c2, 2, 0) ||
			    bpf_l4_csum_replace(skb, icsum, c, c2, 2)))
		return -1;
	if (q->old_port != q->new_port &&
	    (bpf_l4_csum_replace(skb, icsum, q->old_port, q->new_port, 2) ||
	     bpf_skb_store_bytes(skb, q->port_off, &q->new_port, 2, 0)))
		return -1;
	return 0;
}

/*
 * IPv4: the outer IP checksum is the helpers'; inside the quoted packet,
 * the IP checksum moves opposite to the address (so the ICMP checksum over
 * them does not change), the transport checksum is updated with RFC 1624
 * (include/xct/csum.h), and the ICMP checksum follows every other word
 * that changed.
 */
static __always_inline int xct_nat_rewrite_error4(struct __sk_buff *skb, const struct xct_pkt *pkt,
						  int outer_src, const union xct_addr *addr,
						  __u16 port)
{
	__u32 l3 = pkt->l3_off, icsum = pkt->l4_off + 2, il3 = pkt->l4_off + 8;
	__u32 old_outer = outer_src ? pkt->t.src.v4 : pkt->t.dst.v4;
	__u32 old_inner = outer_src ? pkt->inner.dst.v4 : pkt->inner.src.v4;
	__u8 proto = pkt->inner.proto;
	struct xct_quoted q;
	__u16 c = 0, c2 = 0;

	if (bpf_l3_csum_replace(skb, l3 + 10, old_outer, addr->v4, 4) ||
	    bpf_skb_store_bytes(skb, l3 + (outer_src ? 12 : 16), &addr->v4, 4, 0) ||
	    bpf_l3_csum_replace(skb, il3 + 10, old_inner, addr->v4, 4) ||
	    bpf_skb_store_bytes(skb, il3 + (outer_src ? 16 : 12), &addr->v4, 4, 0))
		return -1;
	xct_quoted_fields(pkt, skb->len, outer_src, port, &q);
	/* A UDP checksum of 0: none to update. */
	if (q.csum_off &&
	    (bpf_skb_load_bytes(skb, q.csum_off, &c, 2) || (!c && proto == XCT_IPPROTO_UDP)))
		q.csum_off = 0;
	if (q.csum_off) {
		c2 = c;
		if (proto != XCT_IPPROTO_ICMP) /* the pseudo-header's address */
			c2 = xct_csum_replace32(c2, old_inner, addr->v4);
		c2 = xct_csum_replace16(c2, q.old_port, q.new_port);
		if (proto == XCT_IPPROTO_UDP && !c2)
			c2 = 0xffff;
	}
	return xct_quoted_store(skb, icsum, &q, c, c2);
}

/*
 * IPv6: no IP checksums, but every checksum covers a pseudo-header.  The
 * ICMPv6 checksum follows the outer address (its pseudo-header), the
 * quoted address and port, and the quoted transport checksum, which
 * follows the quoted address and port itself (an ICMPv6 echo's too).
 */
static __always_inline int xct_nat_rewrite_error6(struct __sk_buff *skb, const struct xct_pkt *pkt,
						  int outer_src, const union xct_addr *addr,
						  __u16 port)
{
	__u32 l3 = pkt->l3_off, icsum = pkt->l4_off + 2, il3 = pkt->l4_off + 8;
	const union xct_addr *old_outer = outer_src ? &pkt->t.src : &pkt->t.dst;
	const union xct_addr *old_inner = outer_src ? &pkt->inner.dst : &pkt->inner.src;
	struct xct_quoted q;
	__u16 c = 0, c2 = 0;
	__s64 diff;

	diff = bpf_csum_diff((__be32 *)old_outer->v6, 16, (__be32 *)addr->v6, 16, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, icsum, 0, (__u64)diff, BPF_F_PSEUDO_HDR) ||
	    bpf_skb_store_bytes(skb, l3 + (outer_src ? 8 : 24), addr->v6, 16, 0))
		return -1;
	diff = bpf_csum_diff((__be32 *)old_inner->v6, 16, (__be32 *)addr->v6, 16, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, icsum, 0, (__u64)diff, 0) ||
	    bpf_skb_store_bytes(skb, il3 + (outer_src ? 24 : 8), addr->v6, 16, 0))
		return -1;
	xct_quoted_fields(pkt, skb->len, outer_src, port, &q);
	if (q.csum_off && bpf_skb_load_bytes(skb, q.csum_off, &c, 2))
		q.csum_off = 0;
	if (q.csum_off) {
		c2 = xct_csum_replace128(c, old_inner->v6, addr->v6);
		c2 = xct_csum_replace16(c2, q.old_port, q.new_port);
		if (pkt->inner.proto == XCT_IPPROTO_UDP && !c2)
			c2 = 0xffff;
	}
	return xct_quoted_store(skb, icsum, &q, c, c2);
}

/*
 * ICMP errors about a translated connection, as nf_nat translates them:
 * the outer header's address on one side, and the quoted packet's on the
 * other side, become addr, and the quoted port (or ICMP identifier)
 * becomes port (key convention).  outer_src 0: the destination and the
 * quoted source (an error arriving about a packet the translation sent:
 * back to the connection's own address); outer_src 1: the source and the
 * quoted destination (an error leaving about a packet the translation
 * undid: out as the translated address).
 */
static __always_inline int xct_nat_rewrite_error(struct __sk_buff *skb, const struct xct_pkt *pkt,
						 int outer_src, const union xct_addr *addr,
						 __u16 port)
{
	if (pkt->t.family == XCT_AF_INET)
		return xct_nat_rewrite_error4(skb, pkt, outer_src, addr, port);
	return xct_nat_rewrite_error6(skb, pkt, outer_src, addr, port);
}

/*
 * What the filter rules see of a packet arriving in a connection's
 * original direction while dnat is in use: the destination after the
 * translation, as nftables' forward and input chains see it after
 * prerouting's dnat.  A translated connection's binding gives it; a
 * connection that xct_nat_ingress() may still translate (no reply and no
 * translation yet) gets the destination that the first dnat rule that
 * applies would give it: with a set of backends, the one its original
 * tuple hashes to (the one it gets, unless that backend's translated
 * tuple is taken).  Called by the main programs before the rules, as a
 * global function, so that the verifier checks it once.
 */
__noinline int xct_dnat_view(const struct xct_pkt *pkt, const struct xct_ct_key *key, __u32 status,
			     __u32 ifindex, struct xct_policy_in *in)
{
	struct xct_nat_work *w = xct_nat_work_get();
	const struct xct_nat_backend *be;
	struct xct_nat_binding *b;
	struct xct_nat_rule *r;
	union xct_addr to;
	__u32 n;
	__u16 port = 0; /* host order; 0: the connection's own */

	if (!pkt || !key || !in || !w || pkt->icmp_error ||
	    (in->state != XCT_CTS_NEW && in->state != XCT_CTS_ESTABLISHED))
		return 0;
	if (status & XCT_CT_DST_NAT) {
		b = bpf_map_lookup_elem(&xct_nat, key);
		if (!b || b->manip != XCT_CT_DST_NAT)
			return 0;
		in->daddr = b->addr;
		if (in->has_ports)
			in->dport = xct_ntohs(b->port);
		return 1;
	}
	if (status & (XCT_CT_SEEN_REPLY | XCT_CT_SRC_NAT))
		return 0;
	r = xct_nat_first_rule(w, &pkt->t, ifindex, 1);
	if (!r || r->kind != XCT_NAT_DNAT)
		return 0;
	n = r->n_backends;
	if (n) {
		if (n > XCT_NAT_BACKENDS_MAX)
			return 0;
		be = &r->backends[(xct_nat_backend_hash(&w->orig) % n) &
				  (XCT_NAT_BACKENDS_MAX - 1)];
		to = be->addr;
		port = be->port;
	} else {
		to = r->to_lo;
		if (r->flags & XCT_NATM_PORT_RANGE)
			port = r->to_port_lo;
	}
	in->daddr = to;
	if (in->has_ports && port)
		in->dport = port;
	return 1;
}

#endif /* XCT_BPF_NAT_H */
