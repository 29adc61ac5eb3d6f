/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between xct's connections and the connections of conntrackd's sync
 * messages (ctsync.h).  xct keys a connection canonically (abi.h) and
 * keeps its translation as a binding (nat.h); a sync message carries the
 * original tuple, nf_conntrack's status bits, and the reply tuple's
 * translated address and port as libnetfilter_conntrack's NAT tests see
 * them (a source translation where the reply's destination is not the
 * original source, and so on).  So the message is built from the two
 * tuples conntrack(8) would print for the connection, which makes it what
 * conntrackd would send for the same connection in nf_conntrack.
 *
 * Not carried: the ICMP identifier a source translation rewrites
 * (conntrackd has no attribute for it), and the TCP windows (conntrackd
 * replicates none; a committed connection relearns them, XCT_CT_LIBERAL).
 */
#ifndef XCT_CTSYNC_CT_H
#define XCT_CTSYNC_CT_H

#include "xct/ctsync.h"
#include "xct/nat.h"
#include "xct/tuple.h"

#define XCT_CTSYNC_BIT(a) (1ULL << (a))

/* The bit of the IPv4 or the IPv6 attribute of a pair (IPV4 and IPV6,
 * SNAT_IPV4 and SNAT_IPV6...), by family. */
XCT_INLINE __u64 xct_ctsync_addr_attr(__u8 family, int v4_attr, int v6_attr)
{
	return XCT_CTSYNC_BIT(family == XCT_AF_INET6 ? v6_attr : v4_attr);
}

/*
 * The message form of one of xct's connections: its key and orig_side,
 * TCP state, XCT_CT_* status, mark, seconds left, and translation (nat and
 * inner as xct_nat_reply_tuple() takes them; NULL when none).  The status
 * gets CONFIRMED, as every connection in nf_conntrack's table has, and
 * SRC_NAT_DONE | DST_NAT_DONE, which nf_nat sets on every connection that
 * passed its hooks; xct's own bits (LIBERAL, SCALE_UNKNOWN, NEW_PENDING, DYING) stay
 * home.
 */
XCT_INLINE void xct_ctsync_from_ct(const struct xct_ct_key *key, __u8 orig_side, __u8 state,
				   __u16 status, __u32 mark, __u32 timeout_s,
				   const struct xct_nat_binding *nat,
				   const struct xct_nat_binding *inner, struct xct_ctsync_conn *c)
{
	struct xct_tuple orig, reply;

	__builtin_memset(c, 0, sizeof(*c));
	xct_tuple_from_key(key, orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_nat_reply_tuple(key, orig_side, nat, inner, &reply);

	c->family = key->family;
	c->proto = key->proto;
	c->src = orig.src;
	c->dst = orig.dst;
	c->attrs = xct_ctsync_addr_attr(key->family, XCT_NTA_IPV4, XCT_NTA_IPV6) |
		   XCT_CTSYNC_BIT(XCT_NTA_STATUS) | XCT_CTSYNC_BIT(XCT_NTA_L4PROTO) |
		   XCT_CTSYNC_BIT(XCT_NTA_TIMEOUT) | XCT_CTSYNC_BIT(XCT_NTA_MARK);
	c->status = XCT_IPS_CONFIRMED | XCT_IPS_SRC_NAT_DONE | XCT_IPS_DST_NAT_DONE |
		    (status & (XCT_IPS_SEEN_REPLY | XCT_IPS_ASSURED));
	c->timeout = timeout_s;
	c->mark = mark;
	/* conntrackd sends NTA_ZONE only outside the default zone, as
	 * ctnetlink leaves CTA_ZONE out for zone 0. */
	if (key->zone) {
		c->attrs |= XCT_CTSYNC_BIT(XCT_NTA_ZONE);
		c->zone = key->zone;
	}

	if (xct_has_ports(key->proto)) {
		c->attrs |= XCT_CTSYNC_BIT(XCT_NTA_PORT);
		c->sport = orig.sport;
		c->dport = orig.dport;
		if (key->proto == XCT_IPPROTO_TCP) {
			c->attrs |= XCT_CTSYNC_BIT(XCT_NTA_TCP_STATE);
			c->tcp_state = state;
		}
	} else if (xct_is_icmp(key->family, key->proto)) {
		c->attrs |= XCT_CTSYNC_ICMP_ATTRS;
		c->icmp_type = orig.icmp_type;
		c->icmp_code = orig.icmp_code;
		c->icmp_id = orig.sport;
	}

	/* The translation, as libnetfilter_conntrack's IS_SNAT, IS_DNAT,
	 * IS_SPAT and IS_DPAT find it in the two tuples. */
	if (!xct_addr_eq(&reply.dst, &orig.src)) {
		c->attrs |= xct_ctsync_addr_attr(key->family, XCT_NTA_SNAT_IPV4, XCT_NTA_SNAT_IPV6);
		c->status |= XCT_IPS_SRC_NAT;
		c->snat = reply.dst;
	}
	if (!xct_addr_eq(&reply.src, &orig.dst)) {
		c->attrs |= xct_ctsync_addr_attr(key->family, XCT_NTA_DNAT_IPV4, XCT_NTA_DNAT_IPV6);
		c->status |= XCT_IPS_DST_NAT;
		c->dnat = reply.src;
	}
	if (xct_has_ports(key->proto) && reply.dport != orig.sport) {
		c->attrs |= XCT_CTSYNC_BIT(XCT_NTA_SPAT_PORT);
		c->status |= XCT_IPS_SRC_NAT;
		c->spat = reply.dport;
	}
	if (xct_has_ports(key->proto) && reply.sport != orig.dport) {
		c->attrs |= XCT_CTSYNC_BIT(XCT_NTA_DPAT_PORT);
		c->status |= XCT_IPS_DST_NAT;
		c->dpat = reply.sport;
	}
}

XCT_INLINE int xct_ctsync_has_addr(const struct xct_ctsync_conn *c, int v4_attr, int v6_attr)
{
	return (int)((c->attrs >> (c->family == XCT_AF_INET6 ? v6_attr : v4_attr)) & 1);
}

/* One translation of a committed connection: the binding bpf/nat.h would
 * have made for tuple t (a connection's original tuple, or its tuple after
 * a destination translation) going to (addr, port), keyed as the datapath
 * keys the translated tuple.  0, or -1 for a tuple that has no key. */
XCT_INLINE int xct_ctsync_bind(const struct xct_tuple *t, __u8 manip, const union xct_addr *addr,
			       __u16 port, struct xct_nat_binding *b, struct xct_tuple *out)
{
	__u8 side;

	__builtin_memset(b, 0, sizeof(*b));
	if (manip == XCT_CT_SRC_NAT)
		xct_nat_src_tuple(t, addr, port, out);
	else
		xct_nat_dst_tuple(t, addr, port, out);
	if (xct_key_from_tuple(out, &b->rkey, &side) < 0)
		return -1;
	b->addr = *addr;
	b->port = manip == XCT_CT_SRC_NAT ? out->sport : out->dport;
	b->manip = manip;
	return 0;
}

/*
 * The other way: a peer's connection as an xct table entry to commit.
 * Fills key, *orig_side and the fields of e a message carries (TCP state,
 * SEEN_REPLY and ASSURED, mark, the window scales when sent; the caller
 * sets the times), and the translation: *n_nat bindings in nat[] (0; 1, a
 * source or a destination translation; 2, a destination translation
 * then the source translation of the inner tuple, as xct_nat_reply_tuple()
 * takes them).  0, or -1 for a connection xct cannot key (an ICMP type that
 * is not a query).
 */
XCT_INLINE int xct_ctsync_to_ct(const struct xct_ctsync_conn *c, struct xct_ct_key *key,
				__u8 *orig_side, struct xct_ct_entry *e,
				struct xct_nat_binding nat[2], int *n_nat)
{
	const union xct_addr *dnat_to, *snat_to;
	struct xct_tuple t, td, ts;
	__u16 dport, sport;
	int ports;

	__builtin_memset(&t, 0, sizeof(t));
	__builtin_memset(e, 0, sizeof(*e));
	*n_nat = 0;
	t.family = c->family;
	t.proto = c->proto;
	t.src = c->src;
	t.dst = c->dst;
	if (xct_is_icmp(c->family, c->proto)) {
		t.icmp_type = c->icmp_type;
		t.icmp_code = c->icmp_code;
		t.sport = c->icmp_id;
	} else if (xct_has_ports(c->proto)) {
		t.sport = c->sport;
		t.dport = c->dport;
	}
	if (xct_key_from_tuple(&t, key, orig_side) < 0)
		return -1;
	key->zone = XCT_CTSYNC_HAS(c, XCT_NTA_ZONE) ? c->zone : 0;
	e->orig_side = *orig_side;
	e->status = (__u16)(c->status & (XCT_IPS_SEEN_REPLY | XCT_IPS_ASSURED));
	e->mark = c->mark;
	if (c->proto == XCT_IPPROTO_TCP) {
		e->state = c->tcp_state;
		if (XCT_CTSYNC_HAS(c, XCT_NTA_TCP_WSCALE_ORIG) &&
		    XCT_CTSYNC_HAS(c, XCT_NTA_TCP_WSCALE_REPL)) {
			e->proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale = c->wscale[XCT_DIR_ORIGINAL];
			e->proto.tcp.seen[XCT_DIR_REPLY].td_scale = c->wscale[XCT_DIR_REPLY];
			e->proto.tcp.seen[XCT_DIR_ORIGINAL].flags |= XCT_TCP_F_WINDOW_SCALE;
			e->proto.tcp.seen[XCT_DIR_REPLY].flags |= XCT_TCP_F_WINDOW_SCALE;
		} else {
			e->status |= XCT_CT_SCALE_UNKNOWN;
		}
	}

	/* The translated address and port, where the message has them; a
	 * translation is one that changes something, on a connection whose
	 * status says it is translated (an ICMP message's SPAT and DPAT are
	 * conntrackd's reading of the reply's type and code, not ports). */
	ports = xct_has_ports(c->proto);
	dnat_to = xct_ctsync_has_addr(c, XCT_NTA_DNAT_IPV4, XCT_NTA_DNAT_IPV6) ? &c->dnat : &t.dst;
	dport = ports && XCT_CTSYNC_HAS(c, XCT_NTA_DPAT_PORT) ? c->dpat : t.dport;
	snat_to = xct_ctsync_has_addr(c, XCT_NTA_SNAT_IPV4, XCT_NTA_SNAT_IPV6) ? &c->snat : &t.src;
	sport = ports && XCT_CTSYNC_HAS(c, XCT_NTA_SPAT_PORT) ? c->spat : t.sport;
	td = t;
	if ((c->status & XCT_IPS_DST_NAT) && (!xct_addr_eq(dnat_to, &t.dst) || dport != t.dport)) {
		if (xct_ctsync_bind(&t, XCT_CT_DST_NAT, dnat_to, dport, &nat[0], &td) < 0)
			return -1;
		nat[0].orig_side = *orig_side;
		nat[0].rkey.zone = key->zone;
		e->status |= XCT_CT_DST_NAT;
		*n_nat = 1;
	}
	if ((c->status & XCT_IPS_SRC_NAT) && (!xct_addr_eq(snat_to, &t.src) || sport != t.sport)) {
		struct xct_nat_binding *b = &nat[*n_nat];
		struct xct_ct_key inner_key;
		__u8 side = *orig_side;

		/* After a dnat, the inner tuple's key gives the sender side. */
		if (*n_nat && xct_key_from_tuple(&td, &inner_key, &side) < 0)
			return -1;
		if (xct_ctsync_bind(&td, XCT_CT_SRC_NAT, snat_to, sport, b, &ts) < 0)
			return -1;
		b->orig_side = side;
		b->rkey.zone = key->zone;
		e->status |= XCT_CT_SRC_NAT;
		(*n_nat)++;
	}
	return 0;
}
#endif /* XCT_CTSYNC_CT_H */
