/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * From a packet's tuple to the table's canonical key and back.
 *
 * The key is the same for both directions of a connection (see abi.h), so
 * the datapath needs one lookup per packet, and one entry holds the whole
 * connection: no pair of entries that could drift apart or be evicted one
 * half at a time.  The CLI uses the reverse mapping to print the original
 * and reply tuples the way conntrack(8) does.
 */
#ifndef XCT_TUPLE_H
#define XCT_TUPLE_H

#include "compat.h"
#include "abi.h"
#include "parse.h"

/* Lexicographic order of two addresses in network byte order. */
XCT_INLINE int xct_addr_cmp(const union xct_addr *a, const union xct_addr *b)
{
	int i;

	for (i = 0; i < 4; i++) {
		__u32 x = xct_ntohl(a->v6[i]), y = xct_ntohl(b->v6[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

XCT_INLINE int xct_addr_eq(const union xct_addr *a, const union xct_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

/*
 * ICMP query types and their answers, as nf_conntrack's invmap[].
 * Returns the request type for a request or a reply, and says which it is;
 * returns -1 for any other type (those cannot form a connection).
 */
XCT_INLINE int xct_icmp_query(__u8 family, __u8 type, int *is_reply)
{
	*is_reply = 0;
	if (family == XCT_AF_INET) {
		switch (type) {
		case 8:	 /* echo request */
		case 13: /* timestamp */
		case 15: /* information request */
		case 17: /* address mask request */
			return type;
		case 0:
			*is_reply = 1;
			return 8;
		case 14:
		case 16:
		case 18:
			*is_reply = 1;
			return type - 1;
		}
		return -1;
	}
	switch (type) {
	case 128: /* echo request */
	case 139: /* node information query */
		return type;
	case 129:
	case 140:
		*is_reply = 1;
		return type - 1;
	}
	return -1;
}

/* The answer type to an ICMP request type. */
XCT_INLINE __u8 xct_icmp_reply_type(__u8 family, __u8 req)
{
	if (family == XCT_AF_INET)
		return req == 8 ? 0 : req + 1;
	return req + 1;
}

XCT_INLINE int xct_is_icmp(__u8 family, __u8 proto)
{
	return (family == XCT_AF_INET && proto == XCT_IPPROTO_ICMP) ||
	       (family == XCT_AF_INET6 && proto == XCT_IPPROTO_ICMPV6);
}

XCT_INLINE int xct_has_ports(__u8 proto)
{
	return proto == XCT_IPPROTO_TCP || proto == XCT_IPPROTO_UDP;
}

/*
 * Builds the canonical key of the connection a tuple belongs to and the key
 * side that sent the packet.  Returns 0, or -1 for an ICMP type that is
 * neither a query nor an answer (it cannot belong to a connection).
 */
XCT_INLINE int xct_key_from_tuple(const struct xct_tuple *t, struct xct_ct_key *key,
				  __u8 *sender_side)
{
	int cmp, is_reply;

	__builtin_memset(key, 0, sizeof(*key));
	key->family = t->family;
	key->proto = t->proto;

	if (xct_is_icmp(t->family, t->proto)) {
		int req = xct_icmp_query(t->family, t->icmp_type, &is_reply);

		if (req < 0)
			return -1;
		/* Side 0 is the requester. */
		key->addr[0] = is_reply ? t->dst : t->src;
		key->addr[1] = is_reply ? t->src : t->dst;
		key->port[0] = t->sport; /* identifier */
		key->port[1] = (__u16)(req << 8 | t->icmp_code);
		*sender_side = is_reply;
		return 0;
	}

	cmp = xct_addr_cmp(&t->src, &t->dst);
	if (cmp == 0 && xct_has_ports(t->proto))
		cmp = xct_ntohs(t->sport) <= xct_ntohs(t->dport) ? -1 : 1;
	*sender_side = cmp > 0;
	key->addr[*sender_side] = t->src;
	key->addr[!*sender_side] = t->dst;
	if (xct_has_ports(t->proto)) {
		key->port[*sender_side] = t->sport;
		key->port[!*sender_side] = t->dport;
	}
	return 0;
}

/*
 * A key folded to 32 bits (FNV-1a over its words): what an entry keeps of
 * the key it was created under, so that a holder of a pointer to it can
 * tell whether it still is that key's entry (struct xct_ct_entry's ident).
 */
XCT_INLINE __u32 xct_key_ident(const struct xct_ct_key *key)
{
	/* Words that may alias the key's fields: the key may have been
	 * written field by field just before, and a plain __u32 read could
	 * be moved ahead of those writes. */
	typedef __u32 __attribute__((__may_alias__)) word;
	const word *w = (const word *)key;
	__u32 h = 2166136261u;
	unsigned int i;

	for (i = 0; i < sizeof(*key) / 4; i++)
		h = (h ^ w[i]) * 16777619u;
	return h;
}

/* The tuple of one direction of a connection, from its key. */
XCT_INLINE void xct_tuple_from_key(const struct xct_ct_key *key, __u8 orig_side, int dir,
				   struct xct_tuple *t)
{
	__u8 from = dir == XCT_DIR_ORIGINAL ? orig_side : !orig_side;

	__builtin_memset(t, 0, sizeof(*t));
	t->family = key->family;
	t->proto = key->proto;
	t->src = key->addr[from];
	t->dst = key->addr[!from];
	if (xct_is_icmp(key->family, key->proto)) {
		__u8 req = key->port[1] >> 8;

		t->icmp_type =
			dir == XCT_DIR_ORIGINAL ? req : xct_icmp_reply_type(key->family, req);
		t->icmp_code = key->port[1] & 0xff;
		t->sport = key->port[0];
		return;
	}
	t->sport = key->port[from];
	t->dport = key->port[!from];
}

#endif /* XCT_TUPLE_H */
