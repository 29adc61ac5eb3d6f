/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing: Ethernet, up to two VLAN tags, IPv4 (with options), IPv6
 * (extension headers walked up to a bound), TCP (with the options conntrack
 * reads), UDP, ICMP and ICMPv6, and the packet an ICMP error quotes.
 *
 * Every read goes through a bounds check against the bytes copied (see
 * struct xct_cursor), in a shape the BPF verifier accepts cheaply, so this
 * one file serves the datapath and the unit tests.  The parser only describes the packet; whether a
 * packet is acceptable to the tracker is decided in tcp.h and proto.h.
 */
#ifndef XCT_PARSE_H
#define XCT_PARSE_H

#include "compat.h"
#include "abi.h"
#ifdef __bpf__
#include <bpf/bpf_helpers.h>
#endif

#define XCT_ETH_P_IP	     0x0800
#define XCT_ETH_P_IPV6	     0x86DD
#define XCT_ETH_P_8021Q	     0x8100
#define XCT_ETH_P_8021AD     0x88A8

#define XCT_IPPROTO_ICMP     1
#define XCT_IPPROTO_TCP	     6
#define XCT_IPPROTO_UDP	     17
#define XCT_IPPROTO_ICMPV6   58

#define XCT_TCPF_FIN	     0x01
#define XCT_TCPF_SYN	     0x02
#define XCT_TCPF_RST	     0x04
#define XCT_TCPF_PSH	     0x08
#define XCT_TCPF_ACK	     0x10
#define XCT_TCPF_URG	     0x20
#define XCT_TCPF_ECE	     0x40
#define XCT_TCPF_CWR	     0x80

#define XCT_MAX_VLAN_TAGS    2
#define XCT_MAX_IPV6_EXTHDRS 6
#define XCT_TCP_MAX_WSCALE   14

/* A connection's identity as seen in one packet, in the packet's direction. */
struct xct_tuple {
	union xct_addr src;
	union xct_addr dst;
	__u16 sport; /* network order; ICMP queries: the identifier, host order */
	__u16 dport; /* network order; ICMP: 0 */
	__u8 family;
	__u8 proto;
	__u8 icmp_type;
	__u8 icmp_code;
};

/* The TCP fields the tracker needs, in host order. */
struct xct_tcp_info {
	__u32 seq;
	__u32 ack;
	__u32 sack; /* highest SACK right edge; ack when there is none */
	__u32 payload_len;
	__u16 window; /* unscaled, as on the wire */
	__u8 flags;   /* XCT_TCPF_* */
	__u8 wscale;  /* window scale option, capped at 14 */
	__u8 opts;    /* XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM seen */
	__u8 pad[3];
};

struct xct_pkt {
	struct xct_tuple t;
	struct xct_tuple inner; /* ICMP errors: the packet they quote */
	struct xct_tcp_info tcp;
	__u32 l3_len; /* IP packet length: what nf_conntrack counts as bytes */
	__u8 icmp_error;
	__u8 l3_off;	   /* where the IP header starts (after Ethernet and VLAN tags) */
	__u8 l4_off;	   /* where the transport header starts */
	__u8 inner_l4_off; /* ICMP errors: where the quoted transport header starts */
	__u32 frag_id;	   /* IPv4 id, or the IPv6 fragment header's id, host order */
	__u8 frag;	   /* enum xct_frag (abi.h) */
};

/*
 * The parser reads from a copy of the packet's first XCT_HDR_MAX bytes.  In
 * BPF the copy sits in a per-CPU map value and every offset is masked, so
 * the verifier sees one bounded access whatever path the parse took (direct
 * packet pointers give it a different state per header layout, which does
 * not scale to VLAN x IPv4 options x IPv6 extension headers x the packet an
 * ICMP error quotes).  The buffer has slack beyond the mask so that a read
 * of up to 40 bytes at a masked offset stays inside it.
 */
#define XCT_HDR_MAX  256
#define XCT_HDR_MASK (XCT_HDR_MAX - 1)

struct xct_hdr_buf {
	__u8 b[XCT_HDR_MAX + 128];
};

/* A position in the copied headers; len is how many bytes are valid. */
struct xct_cursor {
	const __u8 *buf;
	__u32 off;
	__u32 len;
};

/* Claims n bytes at the cursor and advances it; returns the offset of the
 * claimed bytes, or -1 if they are not all there. */
XCT_INLINE int xct_pull(struct xct_cursor *cur, __u32 n)
{
	__u32 at = cur->off;

	if (at + n > cur->len || at + n > XCT_HDR_MAX)
		return -1;
	cur->off = at + n;
	return (int)at;
}

XCT_INLINE const __u8 *xct_at(const struct xct_cursor *cur, int at)
{
	return cur->buf + xct_mask((__u32)at, XCT_HDR_MASK);
}

/* Pointer to n bytes at the cursor (advancing it), or NULL. */
#define XCT_PULL(cur, n)                                                                           \
	({                                                                                         \
		int __at = xct_pull(cur, n);                                                       \
		__at < 0 ? (const __u8 *)0 : xct_at(cur, __at);                                    \
	})

XCT_INLINE __u16 xct_load16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

XCT_INLINE __u32 xct_load32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Ethernet and VLAN tags; returns the EtherType of the payload in host order
 * or 0 with *reason set. */
XCT_INLINE __u16 xct_parse_eth(struct xct_cursor *cur, __u8 *reason)
{
	const __u8 *eth = XCT_PULL(cur, 14);
	__u16 proto;
	int i;

	if (!eth) {
		*reason = XCT_R_ETH_TRUNCATED;
		return 0;
	}
	proto = xct_load16(eth + 12);
	for (i = 0; i < XCT_MAX_VLAN_TAGS; i++) {
		const __u8 *tag;

		if (proto != XCT_ETH_P_8021Q && proto != XCT_ETH_P_8021AD)
			return proto;
		tag = XCT_PULL(cur, 4);
		if (!tag) {
			*reason = XCT_R_VLAN_TRUNCATED;
			return 0;
		}
		proto = xct_load16(tag + 2);
	}
	if (proto == XCT_ETH_P_8021Q || proto == XCT_ETH_P_8021AD) {
		*reason = XCT_R_VLAN_TOO_DEEP;
		return 0;
	}
	return proto;
}

/*
 * TCP options: window scale and SACK-permitted (read from SYNs by the
 * tracker) and the highest SACK right edge (used in window checks).
 *
 * Step i looks at option byte i, and acts only if an option starts there
 * (w->next).  In BPF the steps run under bpf_loop(): addressing uses only
 * the loop counter, so the verifier checks the step once instead of once per
 * option layout; in userspace they run in a plain loop.
 */
struct xct_opt_walk {
	const __u8 *opt;
	struct xct_tcp_info *tcp;
	__u32 next; /* where the next option starts */
	__u32 optlen;
	__u32 avail;
};

static long xct_tcp_option_step(__u32 i, void *ctx)
{
	struct xct_opt_walk *w = ctx;
	struct xct_tcp_info *tcp = w->tcp;
	const __u8 *p;
	__u8 kind, len;
	__u32 j;

	if (i != w->next)
		return 0;
	if (i >= w->optlen || i + 2 > w->avail)
		return 1;
	p = w->opt + xct_mask(i, 63);
	kind = p[0];
	if (kind == 0) /* end of options */
		return 1;
	if (kind == 1) { /* no-op */
		w->next = i + 1;
		return 0;
	}
	len = p[1];
	if (len < 2 || i + len > w->optlen)
		return 1; /* a partial option: stop, as the kernel does */
	if (kind == 3 && len == 3) {
		if (i + 3 > w->avail)
			return 1;
		tcp->wscale = p[2] > XCT_TCP_MAX_WSCALE ? XCT_TCP_MAX_WSCALE : p[2];
		tcp->opts |= XCT_TCP_F_WINDOW_SCALE;
	} else if (kind == 4 && len == 2) {
		tcp->opts |= XCT_TCP_F_SACK_PERM;
	} else if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
		for (j = 0; j < 4; j++) {
			__u32 right;

			if (2 + 8 * j + 8 > len || i + 2 + 8 * j + 8 > w->avail)
				break;
			right = xct_load32(p + 2 + 8 * j + 4);
			if (xct_seq_after(right, tcp->sack))
				tcp->sack = right;
		}
	}
	w->next = i + len;
	return 0;
}

XCT_INLINE void xct_parse_tcp_options(const __u8 *opt, __u32 avail, __u32 optlen,
				      struct xct_tcp_info *tcp)
{
	struct xct_opt_walk w = {
		.opt = opt, .tcp = tcp, .next = 0, .optlen = optlen, .avail = avail};
#ifdef __bpf__
	bpf_loop(40, xct_tcp_option_step, &w, 0);
#else
	__u32 i;

	for (i = 0; i < 40; i++)
		if (xct_tcp_option_step(i, &w))
			break;
#endif
}

/*
 * Transport header.  l4_len is how many bytes the IP header says follow it
 * (the quoted packet of an ICMP error says nothing reliable, so there the
 * caller passes 0 and only the first 8 bytes are read).
 */
XCT_INLINE __u8 xct_parse_l4(struct xct_cursor *cur, struct xct_tuple *t, __u32 l4_len,
			     struct xct_tcp_info *tcp, int quoted)
{
	const __u8 *h;

	switch (t->proto) {
	case XCT_IPPROTO_TCP: {
		__u32 doff;

		if (quoted) {
			h = XCT_PULL(cur, 8);
			if (!h)
				return XCT_R_ICMP_ERROR_TRUNCATED;
			t->sport = *(const __u16 *)h;
			t->dport = *(const __u16 *)(h + 2);
			return XCT_R_OK;
		}
		h = XCT_PULL(cur, 20);
		if (!h || l4_len < 20)
			return XCT_R_L4_TRUNCATED;
		t->sport = *(const __u16 *)h;
		t->dport = *(const __u16 *)(h + 2);
		doff = (h[12] >> 4) * 4;
		if (doff < 20 || doff > l4_len)
			return XCT_R_TCP_BAD_DOFF;
		tcp->seq = xct_load32(h + 4);
		tcp->ack = xct_load32(h + 8);
		tcp->sack = tcp->ack;
		tcp->flags = h[13];
		tcp->window = xct_load16(h + 14);
		tcp->payload_len = l4_len - doff;
		if (doff > 20)
			xct_parse_tcp_options(h + 20, cur->len - cur->off, doff - 20, tcp);
		return XCT_R_OK;
	}
	case XCT_IPPROTO_UDP:
		h = XCT_PULL(cur, 8);
		if (!h)
			return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_L4_TRUNCATED;
		t->sport = *(const __u16 *)h;
		t->dport = *(const __u16 *)(h + 2);
		if (!quoted) {
			__u32 ulen = xct_load16(h + 4);

			if (l4_len < 8)
				return XCT_R_L4_TRUNCATED;
			if (ulen < 8 || ulen > l4_len)
				return XCT_R_UDP_BAD_LENGTH;
		}
		return XCT_R_OK;
	case XCT_IPPROTO_ICMP:
	case XCT_IPPROTO_ICMPV6:
		h = XCT_PULL(cur, 8);
		if (!h)
			return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_L4_TRUNCATED;
		t->icmp_type = h[0];
		t->icmp_code = h[1];
		t->sport = xct_load16(h + 4); /* identifier of queries */
		t->dport = 0;
		return XCT_R_OK;
	default:
		/* Tracked by addresses alone, as nf_conntrack's generic
		 * tracker does. */
		return XCT_R_OK;
	}
}

/* IPv4 header; sets the tuple's addresses and protocol, *l4_len and the
 * non-first-fragment reason. pkt_len bounds what tot_len may claim. */
XCT_INLINE __u8 xct_parse_ipv4(struct xct_cursor *cur, struct xct_tuple *t, __u32 pkt_len,
			       __u32 *l3_len, __u32 *l4_len, int quoted, __u32 *frag_id, __u8 *frag)
{
	const __u8 *ip = XCT_PULL(cur, 20);
	__u32 ihl, tot;

	if (!ip)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV4_TRUNCATED;
	ihl = (ip[0] & 0x0f) * 4;
	tot = xct_load16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV4_BAD_HEADER;
	if (ihl > 20 && !XCT_PULL(cur, ihl - 20))
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV4_TRUNCATED;
	t->family = XCT_AF_INET;
	t->proto = ip[9];
	t->src.v4 = *(const __u32 *)(ip + 12);
	t->dst.v4 = *(const __u32 *)(ip + 16);
	if (!quoted) {
		if (tot < ihl)
			return XCT_R_IPV4_BAD_HEADER;
		if (tot > pkt_len)
			return XCT_R_IPV4_TRUNCATED;
		*l3_len = tot;
		*l4_len = tot - ihl;
	}
	/* A non-first fragment carries no transport header.  nf_conntrack
	 * reassembles first; XDP cannot, so such fragments are untracked. */
	*frag_id = xct_load16(ip + 4);
	if (xct_load16(ip + 6) & 0x1fff) {
		*frag = XCT_FRAG_LATER;
		return XCT_R_FRAGMENT;
	}
	if (xct_load16(ip + 6) & 0x2000)
		*frag = XCT_FRAG_FIRST;
	return XCT_R_OK;
}

/* IPv6 header and extension headers, walked up to XCT_MAX_IPV6_EXTHDRS. */
XCT_INLINE __u8 xct_parse_ipv6(struct xct_cursor *cur, struct xct_tuple *t, __u32 pkt_len,
			       __u32 *l3_len, __u32 *l4_len, int quoted, __u32 *frag_id, __u8 *frag)
{
	const __u8 *ip = XCT_PULL(cur, 40);
	__u32 ext_len = 0, plen;
	__u8 next;
	int i;

	if (!ip)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV6_TRUNCATED;
	if ((ip[0] >> 4) != 6)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV6_TRUNCATED;
	plen = xct_load16(ip + 4);
	if (!quoted && plen + 40 > pkt_len)
		return XCT_R_IPV6_TRUNCATED;
	t->family = XCT_AF_INET6;
	__builtin_memcpy(t->src.bytes, ip + 8, 16);
	__builtin_memcpy(t->dst.bytes, ip + 24, 16);
	next = ip[6];

	for (i = 0; i < XCT_MAX_IPV6_EXTHDRS; i++) {
		const __u8 *h;
		__u32 len;

		switch (next) {
		case 0:	 /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
			h = XCT_PULL(cur, 8);
			if (!h)
				goto truncated;
			len = (h[1] + 1) * 8;
			break;
		case 51: /* authentication header */
			h = XCT_PULL(cur, 8);
			if (!h)
				goto truncated;
			len = (h[1] + 2) * 4;
			break;
		case 44: /* fragment */
			h = XCT_PULL(cur, 8);
			if (!h)
				goto truncated;
			*frag_id = xct_load32(h + 4);
			if (xct_load16(h + 2) & 0xfff8) {
				*frag = XCT_FRAG_LATER;
				return XCT_R_FRAGMENT;
			}
			if (h[3] & 1)
				*frag = XCT_FRAG_FIRST;
			len = 8;
			break;
		default:
			goto done;
		}
		if (len > 8 && !XCT_PULL(cur, (len - 8) & 0x7ff))
			goto truncated;
		next = h[0];
		ext_len += len;
	}
	if (next == 0 || next == 43 || next == 60 || next == 51 || next == 44)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV6_EXTHDR_TOO_MANY;
done:
	t->proto = next;
	if (!quoted) {
		if (ext_len > plen)
			return XCT_R_IPV6_EXTHDR_TRUNCATED;
		*l3_len = plen + 40;
		*l4_len = plen - ext_len;
	}
	return XCT_R_OK;
truncated:
	return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV6_EXTHDR_TRUNCATED;
}

XCT_INLINE int xct_icmp_is_error(__u8 family, __u8 type)
{
	if (family == XCT_AF_INET)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/*
 * The whole packet, from the Ethernet header.  buf holds the packet's first
 * copied bytes (at most XCT_HDR_MAX); pkt_len is the packet's true length,
 * which the IP length fields are checked against.  Returns an XCT_R_* reason.
 */
XCT_INLINE __u8 xct_parse_packet(const __u8 *buf, __u32 copied, __u32 pkt_len, struct xct_pkt *pkt)
{
	struct xct_cursor cur = {.buf = buf, .off = 0, .len = copied};
	__u32 l3_len = 0, l4_len = 0, dummy;
	__u8 reason = XCT_R_OK, dummy_frag;
	__u16 ethertype;

	ethertype = xct_parse_eth(&cur, &reason);
	if (!ethertype)
		return reason;
	pkt_len -= cur.off;
	pkt->l3_off = cur.off;

	if (ethertype == XCT_ETH_P_IP)
		reason = xct_parse_ipv4(&cur, &pkt->t, pkt_len, &l3_len, &l4_len, 0, &pkt->frag_id,
					&pkt->frag);
	else if (ethertype == XCT_ETH_P_IPV6)
		reason = xct_parse_ipv6(&cur, &pkt->t, pkt_len, &l3_len, &l4_len, 0, &pkt->frag_id,
					&pkt->frag);
	else
		return XCT_R_NOT_IP;
	pkt->l3_len = l3_len;
	if (reason != XCT_R_OK)
		return reason;

	/* ICMPv4 on IPv6 or ICMPv6 on IPv4 is just another protocol. */
	if ((pkt->t.proto == XCT_IPPROTO_ICMP && pkt->t.family != XCT_AF_INET) ||
	    (pkt->t.proto == XCT_IPPROTO_ICMPV6 && pkt->t.family != XCT_AF_INET6))
		return XCT_R_OK;

	pkt->l4_off = cur.off;
	reason = xct_parse_l4(&cur, &pkt->t, l4_len, &pkt->tcp, 0);
	if (reason != XCT_R_OK)
		return reason;

	if ((pkt->t.proto == XCT_IPPROTO_ICMP || pkt->t.proto == XCT_IPPROTO_ICMPV6) &&
	    xct_icmp_is_error(pkt->t.family, pkt->t.icmp_type)) {
		/* The quoted packet: its IP header and at least 8 bytes of its
		 * transport header, which hold the ports or the ICMP id. */
		pkt->icmp_error = 1;
		if (pkt->t.family == XCT_AF_INET)
			reason = xct_parse_ipv4(&cur, &pkt->inner, 0, &dummy, &dummy, 1, &dummy,
						&dummy_frag);
		else
			reason = xct_parse_ipv6(&cur, &pkt->inner, 0, &dummy, &dummy, 1, &dummy,
						&dummy_frag);
		if (reason == XCT_R_FRAGMENT)
			return XCT_R_ICMP_ERROR_TRUNCATED;
		if (reason != XCT_R_OK)
			return reason;
		pkt->inner_l4_off = cur.off;
		reason = xct_parse_l4(&cur, &pkt->inner, 0, &pkt->tcp, 1);
	}
	return reason;
}

#endif /* XCT_PARSE_H */
