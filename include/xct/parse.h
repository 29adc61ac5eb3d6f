/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing: Ethernet, up to two VLAN tags, IPv4 (with options), IPv6
 * (the whole extension-header chain), TCP (with the options conntrack
 * reads), UDP, ICMP and ICMPv6, and the packet an ICMP error quotes.
 *
 * The parser reads the packet itself, wherever a header lies, through one
 * primitive, xct_peek(): n bytes at an offset.  In BPF they come from the
 * copy of the packet's first bytes when they lie there, and are loaded from
 * the packet (bpf_xdp_load_bytes / bpf_skb_load_bytes, which also read
 * non-linear frames) when they do not; in userspace (unit tests, replay)
 * from a plain buffer.  So an extension-header chain is followed as far as
 * the kernel's own IPv6 input follows it, and TCP options are read where
 * they are, however far into the packet.  The parser only describes the
 * packet; whether a packet is acceptable to the tracker is decided in tcp.h
 * and ct.h.
 */
#ifndef XCT_PARSE_H
#define XCT_PARSE_H

#include "compat.h"
#include "abi.h"
#ifdef __bpf__
#include <bpf/bpf_helpers.h>
#endif

#define XCT_ETH_P_IP	   0x0800
#define XCT_ETH_P_IPV6	   0x86DD
#define XCT_ETH_P_8021Q	   0x8100
#define XCT_ETH_P_8021AD   0x88A8

#define XCT_IPPROTO_ICMP   1
#define XCT_IPPROTO_TCP	   6
#define XCT_IPPROTO_UDP	   17
#define XCT_IPPROTO_ICMPV6 58

#define XCT_TCPF_FIN	   0x01
#define XCT_TCPF_SYN	   0x02
#define XCT_TCPF_RST	   0x04
#define XCT_TCPF_PSH	   0x08
#define XCT_TCPF_ACK	   0x10
#define XCT_TCPF_URG	   0x20
#define XCT_TCPF_ECE	   0x40
#define XCT_TCPF_CWR	   0x80

#define XCT_MAX_VLAN_TAGS  2
#define XCT_TCP_MAX_WSCALE 14

/*
 * How many IPv6 extension headers are walked: an IPv6 payload (at most
 * 65535 bytes) holds at most 8191 of them at their minimum size of 8 bytes,
 * and one more step sees what follows the last one.  So no chain a packet
 * can carry is cut short, as the kernel's ipv6_skip_exthdr() cuts none;
 * each step costs only a packet that has that many headers, and fewer bytes
 * of CPU per byte of traffic than a flood of small packets does.
 */
#define XCT_MAX_IPV6_EXTHDRS 8192

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

/* Whether a packet is a fragment of a larger datagram (struct xct_pkt). */
enum xct_frag {
	XCT_FRAG_NONE = 0,
	XCT_FRAG_FIRST = 1, /* offset 0, more fragments follow */
	XCT_FRAG_LATER = 2, /* no transport header */
};

struct xct_pkt {
	struct xct_tuple t;
	struct xct_tuple inner; /* ICMP errors: the packet they quote */
	struct xct_tcp_info tcp;
	__u32 l3_len; /* IP packet length: what nf_conntrack counts as bytes */
	__u8 icmp_error;
	__u8 l3_off;	    /* where the IP header starts (after Ethernet and VLAN tags) */
	__u16 l4_off;	    /* where the transport header starts */
	__u16 inner_l4_off; /* ICMP errors: where the quoted transport header starts */
	__u8 frag;	    /* enum xct_frag */
	__u8 hop_limit;	    /* IPv4's TTL, IPv6's hop limit (neighbour discovery, MLD) */
	__u32 frag_id;	    /* fragments: IPv4 id or IPv6 fragment header id, host order */
	__u8 local;	    /* tracked at egress: its connection gets XCT_CT_LOCAL */
	__u8 dscp;	    /* the TOS's or traffic class's top six bits */
	/* The conntrack zone its connection is looked up in: its
	 * interface's (xct attach --zone), 0 for most.  Part of every key
	 * built from the packet, as nf_conntrack's zone is part of the
	 * tuple's identity. */
	__u16 zone;
};

/*
 * The copy of the packet's first XCT_HDR_MAX bytes that BPF takes with one
 * load (the common headers, and what a reject's answer quotes), and room
 * for one header that lies beyond it (aux).  Offsets into b are masked, so
 * the verifier sees one bounded access whatever path the parse took; the
 * slack after b takes a read of up to 128 bytes at a masked offset, and
 * aux is as large for the same reason.
 */
/*
 * An IPv6 extension-header chain being walked (xct_exthdr_step()).  In BPF
 * it lives in the per-CPU buffer below, not on the stack: the verifier
 * tracks no values there, so every step of the walk looks the same to it
 * and the loop's body is checked once.
 */
struct xct_ext_state {
	__u32 off; /* where the header of type next starts */
	__u32 end; /* where the IPv6 payload ends */
	__u32 frag_id;
	__u8 next;
	__u8 frag;   /* enum xct_frag */
	__u8 reason; /* XCT_R_OK while the walk goes on or ended well */
	__u8 done;   /* next is not an extension header */
	__u8 h[8];   /* the header's first bytes */
};

#define XCT_HDR_MAX  256
#define XCT_HDR_MASK (XCT_HDR_MAX - 1)
#define XCT_PEEK_MAX 64 /* the longest header read at once: TCP with options */

struct xct_hdr_buf {
	__u8 b[XCT_HDR_MAX + 128];
	__u8 aux[128];
	struct xct_ext_state ext;
};

/* Which load helper reads the packet (BPF). */
#define XCT_SRC_XDP 0
#define XCT_SRC_SKB 1

/* The packet the parser reads. */
struct xct_src {
#ifdef __bpf__
	void *ctx; /* struct xdp_md or struct __sk_buff, as kind says */
	struct xct_hdr_buf *hdrs;
	__u32 head; /* bytes of the packet copied into hdrs->b */
#else
	const __u8 *data;
#endif
	__u32 kind; /* XCT_SRC_*: a constant wherever the parser is inlined */
	__u32 len;  /* bytes of the packet the parser may read */
};

/*
 * Copies n bytes of the packet at off to to; 0, or -1 when the packet ends
 * before them.  kind is given apart from s so that the BPF callbacks can
 * pass a literal: the verifier refuses a helper of the other program type
 * even on a path it cannot rule out.
 */
XCT_INLINE int xct_load_k(const struct xct_src *s, __u32 kind, __u32 off, void *to, __u32 n)
{
	if (off > s->len || n > s->len - off)
		return -1;
#ifdef __bpf__
	if (kind == XCT_SRC_SKB ? bpf_skb_load_bytes(s->ctx, off, to, n)
				: bpf_xdp_load_bytes(s->ctx, off, to, n))
		return -1;
#else
	__builtin_memcpy(to, s->data + off, n);
#endif
	return 0;
}

/*
 * n (at most XCT_PEEK_MAX) bytes of the packet at off, or NULL when the
 * packet ends before them; valid until the next peek.  In BPF they are read
 * in place when the copy holds them, and loaded into hdrs->aux when not.
 */
XCT_INLINE const __u8 *xct_peek_k(const struct xct_src *s, __u32 kind, __u32 off, __u32 n)
{
	if (off > s->len || n > s->len - off)
		return 0;
#ifdef __bpf__
	if (off + n <= s->head)
		return s->hdrs->b + xct_mask(off, XCT_HDR_MASK);
	n = xct_mask(n - 1, XCT_PEEK_MAX - 1) + 1;
	if (xct_load_k(s, kind, off, s->hdrs->aux, n))
		return 0;
	return s->hdrs->aux;
#else
	return s->data + off;
#endif
}

#define xct_peek(s, off, n) xct_peek_k(s, (s)->kind, off, n)

/* What a step of the extension-header walk is given. */
struct xct_ext_walk {
	struct xct_src s;
	struct xct_ext_state *st;
};

XCT_INLINE __u16 xct_load16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

XCT_INLINE __u32 xct_load32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* Ethernet and VLAN tags; returns the EtherType of the payload in host order
 * (*off then being where it starts) or 0 with *reason set. */
XCT_INLINE __u16 xct_parse_eth(const struct xct_src *s, __u32 *off, __u8 *reason)
{
	const __u8 *eth = xct_peek(s, 0, 14);
	__u16 proto;
	int i;

	if (!eth) {
		*reason = XCT_R_ETH_TRUNCATED;
		return 0;
	}
	proto = xct_load16(eth + 12);
	*off = 14;
	for (i = 0; i < XCT_MAX_VLAN_TAGS; i++) {
		const __u8 *tag;

		if (proto != XCT_ETH_P_8021Q && proto != XCT_ETH_P_8021AD)
			return proto;
		tag = xct_peek(s, *off, 4);
		if (!tag) {
			*reason = XCT_R_VLAN_TRUNCATED;
			return 0;
		}
		proto = xct_load16(tag + 2);
		*off += 4;
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

/* What the IP layer says about where the transport header is. */
struct xct_l3 {
	__u32 l4_off; /* where the transport header starts */
	__u32 l4_len; /* bytes from there to the end of the IP packet (0 in a quote) */
	__u32 l3_len; /* the IP packet's length (0 in a quote) */
	__u32 frag_id;
	__u8 frag;	/* enum xct_frag */
	__u8 hop_limit; /* TTL or hop limit */
	__u8 dscp;	/* the TOS's or traffic class's top six bits */
};

/*
 * Transport header.  A quoted one (in an ICMP error) needs only what
 * nf_conntrack reads of it: the ports, its first 4 bytes, for TCP and UDP
 * (nf_ct_get_tuple_ports()), the 8-byte header for ICMP (the identifier is
 * in bytes 4-5).  A header the packet cannot hold whole is l4_truncated,
 * or, in a first fragment, frag_tiny: its datagram hides its ports from
 * xct, which cannot reassemble (see xct_reason_hides_l4()).
 */
XCT_INLINE __u8 xct_parse_l4(const struct xct_src *s, const struct xct_l3 *l3, struct xct_tuple *t,
			     struct xct_tcp_info *tcp, int quoted)
{
	__u32 off = l3->l4_off, l4_len = l3->l4_len;
	int first = l3->frag == XCT_FRAG_FIRST;
	__u8 too_short = first ? XCT_R_FRAG_TINY : XCT_R_L4_TRUNCATED;
	const __u8 *h;

	switch (t->proto) {
	case XCT_IPPROTO_TCP:
	case XCT_IPPROTO_UDP:
		if (quoted) {
			h = xct_peek(s, off, 4);
			if (!h)
				return XCT_R_ICMP_ERROR_TRUNCATED;
			t->sport = *(const __u16 *)h;
			t->dport = *(const __u16 *)(h + 2);
			return XCT_R_OK;
		}
		break;
	case XCT_IPPROTO_ICMP:
	case XCT_IPPROTO_ICMPV6:
		if (!quoted && l4_len < 8)
			return too_short;
		h = xct_peek(s, off, 8);
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

	if (t->proto == XCT_IPPROTO_UDP) {
		__u32 ulen;

		if (l4_len < 8)
			return too_short;
		h = xct_peek(s, off, 8);
		if (!h)
			return XCT_R_L4_TRUNCATED;
		t->sport = *(const __u16 *)h;
		t->dport = *(const __u16 *)(h + 2);
		ulen = xct_load16(h + 4);
		if (ulen < 8)
			return XCT_R_UDP_BAD_LENGTH;
		/* A first fragment holds only the start of the datagram its
		 * length field counts; nf_conntrack checks that length
		 * against the reassembled datagram, which xct never sees. */
		if (!first && ulen > l4_len)
			return XCT_R_UDP_BAD_LENGTH;
		return XCT_R_OK;
	}

	{
		__u32 doff;

		if (l4_len < 20)
			return too_short;
		h = xct_peek(s, off, l4_len < 60 ? l4_len : 60);
		if (!h)
			return XCT_R_L4_TRUNCATED;
		t->sport = *(const __u16 *)h;
		t->dport = *(const __u16 *)(h + 2);
		doff = (h[12] >> 4) * 4;
		if (doff < 20)
			return XCT_R_TCP_BAD_DOFF;
		if (doff > l4_len)
			return first ? XCT_R_FRAG_TINY : XCT_R_TCP_BAD_DOFF;
		tcp->seq = xct_load32(h + 4);
		tcp->ack = xct_load32(h + 8);
		tcp->sack = tcp->ack;
		tcp->flags = h[13];
		tcp->window = xct_load16(h + 14);
		/* In a first fragment, the part of the segment it carries:
		 * nothing in it says how long the datagram is.  nf_conntrack
		 * sees the reassembled segment, whose end is further. */
		tcp->payload_len = l4_len - doff;
		if (doff > 20)
			xct_parse_tcp_options(h + 20, doff - 20, doff - 20, tcp);
		return XCT_R_OK;
	}
}

/*
 * IPv4 header; sets the tuple's addresses and protocol and *l3.  Fragments
 * are recognised here, and only here: a later fragment (offset > 0) has no
 * transport header, a first one (offset 0, more fragments) only the start
 * of the datagram.
 */
XCT_INLINE __u8 xct_parse_ipv4(const struct xct_src *s, __u32 off, struct xct_tuple *t,
			       struct xct_l3 *l3, int quoted)
{
	const __u8 *ip = xct_peek(s, off, 20);
	__u32 ihl, tot;
	__u16 frag;

	if (!ip)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV4_TRUNCATED;
	ihl = (ip[0] & 0x0f) * 4;
	tot = xct_load16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV4_BAD_HEADER;
	t->family = XCT_AF_INET;
	t->proto = ip[9];
	t->src.v4 = *(const __u32 *)(ip + 12);
	t->dst.v4 = *(const __u32 *)(ip + 16);
	frag = xct_load16(ip + 6);
	l3->frag_id = xct_load16(ip + 4);
	l3->hop_limit = ip[8];
	l3->dscp = ip[1] >> 2;
	if (ihl > s->len - off)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV4_TRUNCATED;
	if (!quoted) {
		if (tot < ihl)
			return XCT_R_IPV4_BAD_HEADER;
		if (tot > s->len - off)
			return XCT_R_IPV4_TRUNCATED;
		l3->l3_len = tot;
		l3->l4_len = tot - ihl;
	}
	l3->l4_off = off + ihl;
	/* A non-first fragment carries no transport header.  nf_conntrack
	 * reassembles first; XDP cannot. */
	if (frag & 0x1fff) {
		l3->frag = XCT_FRAG_LATER;
		return XCT_R_FRAGMENT;
	}
	if (frag & 0x2000)
		l3->frag = XCT_FRAG_FIRST;
	return XCT_R_OK;
}

XCT_INLINE int xct_ipv6_is_exthdr(__u8 next)
{
	return next == 0 || next == 43 || next == 44 || next == 60 || next == 51;
}

/*
 * One step of an extension-header walk (struct xct_ext_state), as
 * ipv6_skip_exthdr() walks a chain: hop-by-hop, routing, fragment,
 * destination options and AH are followed; anything else (ESP, no next
 * header, a transport) ends it.
 */
XCT_INLINE long xct_exthdr_step(struct xct_ext_walk *w, __u32 kind)
{
	struct xct_ext_state *st = w->st;
	const __u8 *h = st->h;
	__u32 len;

	if (!xct_ipv6_is_exthdr(st->next)) {
		st->done = 1;
		return 1;
	}
	/* Every extension header is at least 8 bytes long.  They are
	 * loaded, never read in place: an offset that addresses the copy
	 * must be known exactly to the verifier, which would then check
	 * every step of the walk apart instead of once. */
	if (st->off + 8 > st->end || xct_load_k(&w->s, kind, st->off, st->h, 8)) {
		st->reason = XCT_R_IPV6_EXTHDR_TRUNCATED;
		return 1;
	}
	if (st->next == 44) {
		__u16 frag = xct_load16(h + 2);

		st->frag_id = xct_load32(h + 4);
		if (frag & 0xfff8) {
			st->frag = XCT_FRAG_LATER;
			st->reason = XCT_R_FRAGMENT;
			return 1;
		}
		/* Offset 0 and no more fragments is an atomic fragment
		 * (RFC 6946): a whole datagram. */
		if (frag & 1)
			st->frag = XCT_FRAG_FIRST;
		len = 8;
	} else if (st->next == 51) {
		len = (h[1] + 2) * 4; /* AH counts 4-byte units, less 2 */
	} else {
		len = (h[1] + 1) * 8;
	}
	if (len > st->end - st->off) {
		st->reason = XCT_R_IPV6_EXTHDR_TRUNCATED;
		return 1;
	}
	st->next = h[0];
	st->off += len;
	return 0;
}

#ifdef __bpf__
/* One bpf_loop() callback per load helper: the step is verified once,
 * whatever the chain holds. */
static long xct_exthdr_step_xdp(__u32 i, void *ctx)
{
	return xct_exthdr_step(ctx, XCT_SRC_XDP);
}

static long xct_exthdr_step_skb(__u32 i, void *ctx)
{
	return xct_exthdr_step(ctx, XCT_SRC_SKB);
}
#endif

XCT_INLINE void xct_walk_exthdrs(const struct xct_src *s, struct xct_ext_state *st)
{
	struct xct_ext_walk w = {.s = *s, .st = st};

	if (!xct_ipv6_is_exthdr(st->next)) {
		st->done = 1;
		return;
	}
#ifdef __bpf__
	if (s->kind == XCT_SRC_SKB)
		bpf_loop(XCT_MAX_IPV6_EXTHDRS, xct_exthdr_step_skb, &w, 0);
	else
		bpf_loop(XCT_MAX_IPV6_EXTHDRS, xct_exthdr_step_xdp, &w, 0);
#else
	__u32 i;

	for (i = 0; i < XCT_MAX_IPV6_EXTHDRS; i++)
		if (xct_exthdr_step(&w, s->kind))
			break;
#endif
}

/* IPv6 header and its extension headers; sets the tuple and *l3. */
XCT_INLINE __u8 xct_parse_ipv6(const struct xct_src *s, __u32 off, struct xct_tuple *t,
			       struct xct_l3 *l3, int quoted)
{
	const __u8 *ip = xct_peek(s, off, 40);
#ifdef __bpf__
	struct xct_ext_state *st = &s->hdrs->ext;
#else
	struct xct_ext_state ext, *st = &ext;
#endif
	__u32 plen;

	if (!ip || (ip[0] >> 4) != 6)
		return quoted ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_IPV6_TRUNCATED;
	plen = xct_load16(ip + 4);
	if (!quoted && plen + 40 > s->len - off)
		return XCT_R_IPV6_TRUNCATED;
	t->family = XCT_AF_INET6;
	l3->hop_limit = ip[7];
	l3->dscp = (__u8)(((ip[0] & 0x0f) << 4 | ip[1] >> 4) >> 2);
	__builtin_memcpy(t->src.bytes, ip + 8, 16);
	__builtin_memcpy(t->dst.bytes, ip + 24, 16);
	__builtin_memset(st, 0, sizeof(*st));
	st->next = ip[6];
	st->off = off + 40;
	/* A quote is cut wherever the error's sender cut it. */
	st->end = quoted ? s->len : off + 40 + plen;

	xct_walk_exthdrs(s, st);
	l3->frag = st->frag;
	l3->frag_id = st->frag_id;
	if (st->reason == XCT_R_OK && !st->done)
		st->reason = XCT_R_IPV6_EXTHDR_TOO_MANY;
	if (st->reason != XCT_R_OK) {
		if (quoted)
			return XCT_R_ICMP_ERROR_TRUNCATED;
		/* A first fragment must hold the whole header chain (RFC
		 * 7112; Linux drops one that does not). */
		if (st->reason == XCT_R_IPV6_EXTHDR_TRUNCATED && st->frag == XCT_FRAG_FIRST)
			return XCT_R_FRAG_TINY;
		return st->reason;
	}
	t->proto = st->next;
	l3->l4_off = st->off;
	if (!quoted) {
		l3->l3_len = plen + 40;
		l3->l4_len = st->end - st->off;
	}
	return XCT_R_OK;
}

XCT_INLINE int xct_icmp_is_error(__u8 family, __u8 type)
{
	if (family == XCT_AF_INET)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/*
 * Whether a packet's reason says that the kernel would see ports, flags or
 * ICMP types that xct cannot: a first fragment too short for its transport
 * header (the tiny-fragment attack of RFC 1858 / RFC 3128) or, in IPv6,
 * for its header chain (RFC 7112), or a chain longer than the walk.
 * nftables reassembles before its rules see a packet, so a port rule
 * always sees the ports; xct cannot reassemble, so such a packet is dropped
 * whatever the rules say, never taken as one that matches no port rule.
 * So is a transport header no stack accepts (cut short, or a TCP data
 * offset below 5 or past the segment): the receiving stack drops it too,
 * but a router in front of it must not forward it past a port rule that
 * nftables would have matched on its ports.
 */
XCT_INLINE int xct_reason_hides_l4(__u8 reason)
{
	return reason == XCT_R_FRAG_TINY || reason == XCT_R_IPV6_EXTHDR_TOO_MANY ||
	       reason == XCT_R_L4_TRUNCATED || reason == XCT_R_TCP_BAD_DOFF;
}

/*
 * The whole packet, from the Ethernet header.  Returns an XCT_R_* reason.
 * s->len is cut to the end of the IP packet for the packet an ICMP error
 * quotes: bytes after it (Ethernet padding) are not part of the quote.
 */
XCT_INLINE __u8 xct_parse_packet(struct xct_src *s, struct xct_pkt *pkt)
{
	struct xct_l3 l3 = {}, q = {};
	__u8 reason = XCT_R_OK;
	__u16 ethertype;
	__u32 off = 0;

	ethertype = xct_parse_eth(s, &off, &reason);
	if (!ethertype)
		return reason;
	pkt->l3_off = off;

	if (ethertype == XCT_ETH_P_IP)
		reason = xct_parse_ipv4(s, off, &pkt->t, &l3, 0);
	else if (ethertype == XCT_ETH_P_IPV6)
		reason = xct_parse_ipv6(s, off, &pkt->t, &l3, 0);
	else
		return XCT_R_NOT_IP;
	pkt->l3_len = l3.l3_len;
	pkt->frag = l3.frag;
	pkt->frag_id = l3.frag_id;
	pkt->hop_limit = l3.hop_limit;
	pkt->dscp = l3.dscp;
	if (reason != XCT_R_OK)
		return reason;

	/* ICMPv4 on IPv6 or ICMPv6 on IPv4 is just another protocol. */
	if ((pkt->t.proto == XCT_IPPROTO_ICMP && pkt->t.family != XCT_AF_INET) ||
	    (pkt->t.proto == XCT_IPPROTO_ICMPV6 && pkt->t.family != XCT_AF_INET6))
		return XCT_R_OK;

	pkt->l4_off = l3.l4_off;
	reason = xct_parse_l4(s, &l3, &pkt->t, &pkt->tcp, 0);
	if (reason != XCT_R_OK)
		return reason;

	if ((pkt->t.proto == XCT_IPPROTO_ICMP || pkt->t.proto == XCT_IPPROTO_ICMPV6) &&
	    xct_icmp_is_error(pkt->t.family, pkt->t.icmp_type)) {
		/* The quoted packet: its IP header and as much of its
		 * transport header as holds the ports or the ICMP id. */
		pkt->icmp_error = 1;
		s->len = off + l3.l3_len;
		off = l3.l4_off + 8;
		if (pkt->t.family == XCT_AF_INET)
			reason = xct_parse_ipv4(s, off, &pkt->inner, &q, 1);
		else
			reason = xct_parse_ipv6(s, off, &pkt->inner, &q, 1);
		if (reason == XCT_R_FRAGMENT)
			return XCT_R_ICMP_ERROR_TRUNCATED;
		if (reason != XCT_R_OK)
			return reason;
		pkt->inner_l4_off = q.l4_off;
		reason = xct_parse_l4(s, &q, &pkt->inner, &pkt->tcp, 1);
	}
	return reason;
}

/*
 * The layouts of nearly every packet, read in place: an untagged Ethernet
 * frame carrying IPv4 without options and not a fragment, or IPv6 whose
 * first next header is TCP or UDP; UDP; TCP without options or with the
 * NOP, NOP, timestamp that Linux puts on every segment of a connection that
 * agreed on timestamps.  Every header lies in [data, data_end), the frame's
 * linear part, at offsets fixed by the layout, which is what lets BPF read
 * them directly without a copy and lets the verifier check one path.
 * len is the whole frame's length, as xct_parse_packet() takes it.
 *
 * Returns 1 with *pkt as xct_parse_packet() fills it for the same frame,
 * which it then returns XCT_R_OK for (tests/unit check both on the same
 * frames), and 0, with *pkt left partly written, for every other frame:
 * the caller then parses it with xct_parse_packet().  pkt must be zeroed.
 */
XCT_INLINE int xct_parse_fast(const __u8 *data, const __u8 *data_end, __u32 len,
			      struct xct_pkt *pkt)
{
	const __u8 *l4;
	__u32 l4_len, doff;
	__u16 ethertype;

	if (data + 14 + 20 > data_end)
		return 0;
	ethertype = xct_load16(data + 12);
	if (ethertype == XCT_ETH_P_IP) {
		const __u8 *ip = data + 14;
		__u32 tot = xct_load16(ip + 2);

		/* Version 4, no options; neither a later fragment nor a
		 * first one (DF alone is fine). */
		if (ip[0] != 0x45 || (xct_load16(ip + 6) & 0x3fff) || tot < 20 || tot > len - 14)
			return 0;
		pkt->t.family = XCT_AF_INET;
		pkt->t.proto = ip[9];
		pkt->t.src.v4 = *(const __u32 *)(ip + 12);
		pkt->t.dst.v4 = *(const __u32 *)(ip + 16);
		pkt->frag_id = xct_load16(ip + 4);
		pkt->hop_limit = ip[8];
		pkt->dscp = ip[1] >> 2;
		pkt->l3_len = tot;
		pkt->l4_off = 14 + 20;
		l4 = ip + 20;
		l4_len = tot - 20;
	} else if (ethertype == XCT_ETH_P_IPV6) {
		const __u8 *ip = data + 14;
		__u32 plen;

		if (ip + 40 > data_end)
			return 0;
		plen = xct_load16(ip + 4);
		if ((ip[0] >> 4) != 6 || plen + 40 > len - 14)
			return 0;
		pkt->t.family = XCT_AF_INET6;
		pkt->t.proto = ip[6];
		pkt->hop_limit = ip[7];
		pkt->dscp = (__u8)(((ip[0] & 0x0f) << 4 | ip[1] >> 4) >> 2);
		__builtin_memcpy(pkt->t.src.bytes, ip + 8, 16);
		__builtin_memcpy(pkt->t.dst.bytes, ip + 24, 16);
		pkt->l3_len = plen + 40;
		pkt->l4_off = 14 + 40;
		l4 = ip + 40;
		l4_len = plen;
	} else {
		return 0;
	}
	pkt->l3_off = 14;

	if (pkt->t.proto == XCT_IPPROTO_UDP) {
		__u32 ulen;

		if (l4 + 8 > data_end || l4_len < 8)
			return 0;
		ulen = xct_load16(l4 + 4);
		if (ulen < 8 || ulen > l4_len)
			return 0;
		pkt->t.sport = *(const __u16 *)l4;
		pkt->t.dport = *(const __u16 *)(l4 + 2);
		return 1;
	}
	if (pkt->t.proto != XCT_IPPROTO_TCP || l4 + 20 > data_end || l4_len < 20)
		return 0;
	doff = (l4[12] >> 4) * 4;
	if (doff == 32) {
		/* NOP, NOP, timestamp (kind 8, length 10): nothing the
		 * tracker reads. */
		if (l4 + 32 > data_end || xct_load32(l4 + 20) != 0x0101080a)
			return 0;
	} else if (doff != 20) {
		return 0;
	}
	if (doff > l4_len)
		return 0;
	pkt->t.sport = *(const __u16 *)l4;
	pkt->t.dport = *(const __u16 *)(l4 + 2);
	pkt->tcp.seq = xct_load32(l4 + 4);
	pkt->tcp.ack = xct_load32(l4 + 8);
	pkt->tcp.sack = pkt->tcp.ack;
	pkt->tcp.flags = l4[13];
	pkt->tcp.window = xct_load16(l4 + 14);
	pkt->tcp.payload_len = l4_len - doff;
	return 1;
}

#ifndef __bpf__
/* The parser over a plain buffer holding a whole frame of len bytes. */
XCT_INLINE __u8 xct_parse_buf(const __u8 *data, __u32 len, struct xct_pkt *pkt)
{
	struct xct_src s = {.data = data, .kind = 0, .len = len};

	return xct_parse_packet(&s, pkt);
}
#endif

#endif /* XCT_PARSE_H */
