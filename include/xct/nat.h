/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Network address translation: the layouts the datapath and the CLI share,
 * and the logic that must be exact on both sides (which rule applies, what
 * a translated connection's reply tuple is, which port to try next).
 *
 * The model is nf_nat's.  A connection's translation is decided once, on
 * its first packet, and kept in a binding next to the connection (the
 * xct_nat map, keyed by the connection's table key: the entry's layout
 * does not change).  The binding's reply tuple, the tuple the other end
 * answers to, is claimed in a second map, xct_nat_rev, keyed by that
 * tuple's canonical key: the claim is an insert with BPF_NOEXIST, so two
 * CPUs can never give two connections the same translated tuple.  A packet
 * that finds no entry under its own key but finds its key in xct_nat_rev
 * is a reply to a translated connection.
 *
 * Source translation (masquerade, snat) is decided and applied after
 * routing, at egress; the reply's destination is put back before routing,
 * at ingress, as nf_nat does at POSTROUTING and PREROUTING.  Destination
 * translation (dnat) is the mirror: decided and applied before routing, at
 * ingress, and the reply's source put back after routing, at egress.  A
 * reply to a destination-translated connection is tracked under the
 * connection's key as it arrives, untranslated: its source becomes a local
 * address only on the way out, where no martian check sees it.
 */
#ifndef XCT_NAT_H
#define XCT_NAT_H

#include "compat.h"
#include "abi.h"
#include "parse.h"
#include "tuple.h"

#define XCT_NAT_RULES_MAX   64 /* NAT rules in one generation */
#define XCT_NAT_MAX_DEFAULT 65536
#define XCT_NAT_TEXT_MAX    240
/* Ports tried for one new connection before it fails (nf_nat tries 128
 * random ones; a sequential walk from a random start finds the last free
 * port of a small range for sure). */
#define XCT_NAT_TRIES 1024
/* Backends of one dnat rule (dnat to { ADDR[:PORT], ... }). */
#define XCT_NAT_BACKENDS_MAX 16

/* Status bits of a translated connection: the kernel's IPS_SRC_NAT and
 * IPS_DST_NAT, so that conntrack(8)'s --src-nat/--dst-nat mean the same. */
#define XCT_CT_SRC_NAT 0x0010
#define XCT_CT_DST_NAT 0x0020

enum xct_nat_kind {
	XCT_NAT_MASQUERADE = 1, /* source: the outgoing interface's address */
	XCT_NAT_SNAT = 2,	/* source: the rule's addresses */
	XCT_NAT_DNAT = 3,	/* destination: the rule's address (and port) */
};

/* Match flags of a NAT rule. */
#define XCT_NATM_PROTO	    0x01
#define XCT_NATM_SADDR	    0x02
#define XCT_NATM_DADDR	    0x04
#define XCT_NATM_SPORT	    0x08
#define XCT_NATM_DPORT	    0x10
#define XCT_NATM_IFACE	    0x20
#define XCT_NATM_SADDR_NEG  0x40
#define XCT_NATM_DADDR_NEG  0x80
#define XCT_NATM_IFACE_NEG  0x100
#define XCT_NATM_SPORT_NEG  0x200
#define XCT_NATM_DPORT_NEG  0x400
#define XCT_NATM_PORT_RANGE 0x800 /* to_port_lo..to_port_hi given */

/*
 * How a source translation picks its tuple: nft's flags of masquerade and
 * snat, nf_nat's NF_NAT_RANGE_PROTO_RANDOM, _RANDOM_FULLY and _PERSISTENT.
 * Without random or fully-random a connection keeps its own port when
 * that is free, and a port is searched from a random start only when it
 * is not; with either, the port is always searched from a random start
 * (nf_nat draws both from the same random source today).  Without
 * persistent, the address of a range is chosen by a hash of the source
 * and the destination; with it, by the source alone, so that a client
 * keeps one address for every server.
 */
#define XCT_NAT_MODE_RANDOM	  0x1
#define XCT_NAT_MODE_FULLY_RANDOM 0x2
#define XCT_NAT_MODE_PERSISTENT	  0x4
#define XCT_NAT_MODE_RANDOM_ALL	  (XCT_NAT_MODE_RANDOM | XCT_NAT_MODE_FULLY_RANDOM)

/* One backend of a dnat rule; port in host order, 0 keeps the
 * connection's own destination port. */
struct xct_nat_backend {
	union xct_addr addr;
	__u16 port;
	__u16 pad;
};

/*
 * One compiled NAT rule.  NAT rules are few and only meet a connection's
 * first packet, so they are walked in order rather than classified.
 * Addresses in network order, ports in host order.
 */
struct xct_nat_rule {
	__u8 kind;   /* enum xct_nat_kind */
	__u8 family; /* 0: both */
	__u8 proto;
	__u8 splen; /* prefix lengths of saddr and daddr */
	__u8 dplen;
	__u8 n_backends; /* dnat: 0 for one target (to_lo, to_port_lo), else backends[] */
	__u16 flags;	 /* XCT_NATM_* */
	__u32 ifindex;
	__u32 line;
	union xct_addr saddr, daddr;
	__u16 sport_lo, sport_hi;
	__u16 dport_lo, dport_hi;
	union xct_addr to_lo, to_hi; /* snat: the address range (IPv4), or one address */
	__u16 to_port_lo, to_port_hi;
	__u32 mode; /* XCT_NAT_MODE_* */
	char text[XCT_NAT_TEXT_MAX]; /* the rule as written, for xct rules show */
	struct xct_nat_backend backends[XCT_NAT_BACKENDS_MAX];
};

/* The single element of xct_nat_ctl.  Whether NAT is in use at all is
 * per generation too (struct xct_policy_gen's nat and dnat). */
struct xct_nat_ctl {
	__u32 n_rules[2]; /* by policy generation */
};

/*
 * A connection's translation.  For a source translation, the original
 * direction's source becomes (addr, port) and the reply's destination is
 * put back; for a destination translation, the original direction's
 * destination becomes (addr, port) and the reply's source is put back.  port follows the key's
 * convention: network order for TCP and UDP, host order for an ICMP identifier.
 */
struct xct_nat_binding {
	struct xct_ct_key rkey; /* canonical key of the translated tuple, claimed in xct_nat_rev */
	union xct_addr addr;
	__u16 port;
	__u8 manip;	     /* XCT_CT_SRC_NAT or XCT_CT_DST_NAT */
	__u8 orig_side;	     /* the connection's orig_side when bound */
	__u32 line;	     /* of the rule that decided it */
	__u64 first_seen_ns; /* the entry's: a binding outlives no connection */
};

#ifndef __bpf__
_Static_assert(sizeof(struct xct_nat_rule) == 96 + XCT_NAT_TEXT_MAX + 20 * XCT_NAT_BACKENDS_MAX,
	       "nat rule layout");
_Static_assert(sizeof(struct xct_nat_binding) == 72, "nat binding layout");
#endif

/*
 * The backend a new connection starts with: a hash of its original tuple,
 * so that the choice is spread over the backends and the same for a
 * retransmitted first packet (no state is kept before the binding).  A
 * clash on that backend's translated tuple moves on to the next one.
 */
XCT_INLINE __u32 xct_nat_backend_hash(const struct xct_tuple *t)
{
	__u32 h = 0x9e3779b9U ^ t->proto ^ ((__u32)t->sport << 16 | t->dport);
	int i;

	for (i = 0; i < 4; i++) {
		h = (h ^ t->src.v6[i]) * 0x85ebca6bU;
		h ^= h >> 13;
		h = (h ^ t->dst.v6[i]) * 0xc2b2ae35U;
		h ^= h >> 16;
	}
	/* A final mix, so that every input bit reaches the low bits that a
	 * small modulus keeps. */
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/* Two table keys, word by word (BPF has no memcmp).  The words may alias
 * the keys' fields, as in xct_key_ident(): a key written field by field
 * just before must not have its reads moved ahead of those writes. */
XCT_INLINE int xct_key_eq(const struct xct_ct_key *a, const struct xct_ct_key *b)
{
	typedef __u32 __attribute__((__may_alias__)) word;
	const word *x = (const word *)a, *y = (const word *)b;
	__u32 diff = 0;
	unsigned int i;

	for (i = 0; i < sizeof(*a) / 4; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* Is a an address in the prefix (net, plen)? */
XCT_INLINE int xct_nat_prefix_match(const union xct_addr *a, const union xct_addr *net, __u8 plen)
{
	int i;

	for (i = 0; i < 4; i++) {
		__u32 bits = plen > 32 ? 32 : plen;
		__u32 mask = bits ? xct_htonl(~0U << (32 - bits)) : 0;

		if ((a->v6[i] ^ net->v6[i]) & mask)
			return 0;
		plen -= bits;
	}
	return 1;
}

/* Does rule r apply to the first packet t of a connection leaving by
 * ifindex (arriving by it, for a dnat rule)? */
XCT_INLINE int xct_nat_rule_match(const struct xct_nat_rule *r, const struct xct_tuple *t,
				  __u32 ifindex)
{
	int ports = xct_has_ports(t->proto), m;
	__u16 sp = ports ? xct_ntohs(t->sport) : 0, dp = ports ? xct_ntohs(t->dport) : 0;
	__u16 f = r->flags;

	if (r->family && r->family != t->family)
		return 0;
	if ((f & XCT_NATM_PROTO) && r->proto != t->proto)
		return 0;
	if (f & XCT_NATM_IFACE) {
		m = r->ifindex == ifindex;
		if (m == !!(f & XCT_NATM_IFACE_NEG))
			return 0;
	}
	if (f & XCT_NATM_SADDR) {
		m = xct_nat_prefix_match(&t->src, &r->saddr, r->splen);
		if (m == !!(f & XCT_NATM_SADDR_NEG))
			return 0;
	}
	if (f & XCT_NATM_DADDR) {
		m = xct_nat_prefix_match(&t->dst, &r->daddr, r->dplen);
		if (m == !!(f & XCT_NATM_DADDR_NEG))
			return 0;
	}
	if (f & XCT_NATM_SPORT) {
		m = ports && sp >= r->sport_lo && sp <= r->sport_hi;
		if (!ports || m == !!(f & XCT_NATM_SPORT_NEG))
			return 0;
	}
	if (f & XCT_NATM_DPORT) {
		m = ports && dp >= r->dport_lo && dp <= r->dport_hi;
		if (!ports || m == !!(f & XCT_NATM_DPORT_NEG))
			return 0;
	}
	return 1;
}

/* Can a connection of this protocol be source-translated?  TCP, UDP and
 * ICMP queries (their identifier plays the port); anything else would
 * need a tuple the table cannot tell apart. */
XCT_INLINE int xct_nat_proto_ok(__u8 family, __u8 proto)
{
	return xct_has_ports(proto) || xct_is_icmp(family, proto);
}

/*
 * The range the translated port (or ICMP identifier) is chosen from, in
 * host order, when the rule gives none: nf_nat's, which keeps a port
 * below 1024 below 1024 (and below 512 below 512), so that services that
 * trust privileged ports keep working.
 */
XCT_INLINE void xct_nat_port_range(const struct xct_nat_rule *r, __u8 family, __u8 proto,
				   __u16 orig, __u16 *lo, __u16 *hi)
{
	if (r->flags & XCT_NATM_PORT_RANGE) {
		*lo = r->to_port_lo;
		*hi = r->to_port_hi;
	} else if (xct_is_icmp(family, proto)) {
		*lo = 0;
		*hi = 65535;
	} else if (orig < 512) {
		*lo = 1;
		*hi = 511;
	} else if (orig < 1024) {
		*lo = 600;
		*hi = 1023;
	} else {
		*lo = 1024;
		*hi = 65535;
	}
}

/*
 * The i-th port to try: first the connection's own port when the range
 * holds it and keep is set (as nf_nat, which translates the port only when
 * it must, unless told random), then the range in order from a random
 * start.
 */
XCT_INLINE __u16 xct_nat_port_try(__u32 i, __u16 orig, __u16 lo, __u16 hi, __u32 start, int keep)
{
	__u32 size = (__u32)hi - lo + 1;

	if (i == 0 && keep && orig >= lo && orig <= hi)
		return orig;
	return (__u16)(lo + (start + i) % size);
}

/* The address of an snat rule for a connection from src to dst: one of
 * the range, always the same for one source and destination, or for one
 * source whatever the destination with XCT_NAT_MODE_PERSISTENT (nf_nat
 * hashes the source with the destination as the seed, or with none).
 * IPv6 ranges are one address. */
XCT_INLINE union xct_addr xct_nat_pick_addr(const struct xct_nat_rule *r, const union xct_addr *src,
					    const union xct_addr *dst, __u8 family)
{
	union xct_addr a = r->to_lo;
	__u32 lo, n, h;

	if (family != XCT_AF_INET)
		return a;
	lo = xct_ntohl(r->to_lo.v4);
	n = xct_ntohl(r->to_hi.v4) - lo + 1;
	if (n <= 1)
		return a;
	h = xct_ntohl(src->v4) * 2654435761U;
	if (!(r->mode & XCT_NAT_MODE_PERSISTENT))
		h = (h ^ xct_ntohl(dst->v4)) * 2246822519U;
	/* The high bits, which every bit of the input reaches. */
	a.v4 = xct_htonl(lo + (__u32)(((__u64)h * n) >> 32));
	return a;
}

/*
 * The original-direction tuple after a source translation: the tuple whose
 * canonical key is claimed in xct_nat_rev.  port in the key's convention.
 */
XCT_INLINE void xct_nat_src_tuple(const struct xct_tuple *orig, const union xct_addr *addr,
				  __u16 port, struct xct_tuple *out)
{
	*out = *orig;
	out->src = *addr;
	out->sport = port;
}

/* The original direction's source address and port (key convention) of a
 * connection; written with branches rather than an index, which the
 * verifier refuses on a key on the stack. */
XCT_INLINE void xct_nat_orig_source(const struct xct_ct_key *key, __u8 orig_side,
				    union xct_addr *addr, __u16 *port)
{
	if (xct_is_icmp(key->family, key->proto))
		orig_side = 0; /* side 0 is the requester */
	if (orig_side) {
		*addr = key->addr[1];
		*port = key->port[1];
	} else {
		*addr = key->addr[0];
		*port = key->port[0];
	}
}

/* The original direction's destination address and port (key convention)
 * of a connection: what a dnat reply's source is put back to. */
XCT_INLINE void xct_nat_orig_dest(const struct xct_ct_key *key, __u8 orig_side,
				  union xct_addr *addr, __u16 *port)
{
	if (xct_is_icmp(key->family, key->proto))
		orig_side = 0;
	if (orig_side) {
		*addr = key->addr[0];
		*port = key->port[0];
	} else {
		*addr = key->addr[1];
		*port = key->port[1];
	}
}

/*
 * The original-direction tuple after a destination translation: its
 * canonical key is the reply's, claimed in xct_nat_rev.  An ICMP query
 * keeps its identifier.
 */
XCT_INLINE void xct_nat_dst_tuple(const struct xct_tuple *orig, const union xct_addr *addr,
				  __u16 port, struct xct_tuple *out)
{
	*out = *orig;
	out->dst = *addr;
	if (xct_has_ports(orig->proto))
		out->dport = port;
}

/*
 * A connection's reply tuple as conntrack(8) shows it: the tuple of
 * packets coming back, before the translation is undone.  b may be NULL
 * (the connection is not translated); inner is the source translation of
 * a destination-translated connection's inner tuple, or NULL.
 */
XCT_INLINE void xct_nat_reply_tuple(const struct xct_ct_key *key, __u8 orig_side,
				    const struct xct_nat_binding *b,
				    const struct xct_nat_binding *inner, struct xct_tuple *reply)
{
	xct_tuple_from_key(key, orig_side, XCT_DIR_REPLY, reply);
	if (b && b->manip == XCT_CT_DST_NAT) {
		reply->src = b->addr;
		if (xct_has_ports(key->proto))
			reply->sport = b->port;
		b = inner; /* and the server answers to the translated source */
	}
	if (!b || b->manip != XCT_CT_SRC_NAT)
		return;
	reply->dst = b->addr;
	if (xct_is_icmp(key->family, key->proto))
		reply->sport = b->port; /* the identifier, in both directions */
	else
		reply->dport = b->port;
}

#endif /* XCT_NAT_H */
