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
 * passed its hooks; xct's own bits (LIBERAL, NEW_PENDING, DYING) stay home.
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

#endif /* XCT_CTSYNC_CT_H */
