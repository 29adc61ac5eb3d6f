/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The answer a reject rule sends, built from the rejected packet's headers:
 * a TCP RST the sender accepts at once (so its connect() fails with
 * "connection refused" instead of timing out), or for other protocols an
 * ICMP / ICMPv6 port unreachable quoting the packet, as the kernel's
 * nf_reject_ipv4/ipv6 build them.  Pure byte work on buffers, so the same
 * code runs in the datapath and under the unit tests.
 *
 * The answer keeps the packet's link-layer header (VLAN tags included) with
 * the MAC addresses swapped: it leaves by the interface the packet came in
 * on, towards the host that sent it.
 */
#ifndef XCT_REJECT_H
#define XCT_REJECT_H

#include "xct/compat.h"
#include "xct/parse.h"
#include "xct/policy.h" /* enum xct_reject_kind */

/* The answer's buffer: offsets into it are masked with XCT_REJECT_MASK (a
 * power of two less one, or the mask would clear bits of valid offsets),
 * and the slack past it takes the bytes after a masked offset. */
#define XCT_REJECT_MAX	 512
#define XCT_REJECT_MASK	 (XCT_REJECT_MAX - 1)
#define XCT_REJECT_QUOTE 200 /* at most this much of the packet in an ICMP error */
#define XCT_L3_OFF_MAX	 63
#define XCT_REJECT_TTL	 64

struct xct_reject_buf {
	__u8 b[XCT_REJECT_MAX + 8];
};

/* One's-complement sum of len bytes at buf[off..], big-endian words; an
 * odd last byte is padded with zero. */
XCT_INLINE __u32 xct_csum_add(__u32 sum, const __u8 *buf, __u32 off, __u32 len)
{
	__u32 i;

	for (i = 0; i + 1 < len && i < XCT_REJECT_MAX; i += 2) {
		__u32 at = xct_mask(off + i, XCT_REJECT_MASK);

		sum += (__u32)buf[at] << 8 | buf[at + 1];
	}
	if (len & 1)
		sum += (__u32)buf[xct_mask(off + len - 1, XCT_REJECT_MASK)] << 8;
	return sum;
}

XCT_INLINE __u16 xct_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

XCT_INLINE void xct_put16(__u8 *b, __u32 at, __u16 v)
{
	at = xct_mask(at, XCT_REJECT_MASK);
	b[at] = v >> 8;
	b[at + 1] = v & 0xff;
}

XCT_INLINE void xct_put32(__u8 *b, __u32 at, __u32 v)
{
	xct_put16(b, at, v >> 16);
	xct_put16(b, at + 2, v & 0xffff);
}

/* Link-layer header with the MACs swapped, then the IP header of the
 * answer; returns the offset of the answer's transport header. */
XCT_INLINE __u32 xct_reject_l2l3(const __u8 *in, __u8 *out, const struct xct_pkt *pkt, __u8 proto,
				 __u32 l4_len)
{
	__u32 l3 = xct_mask(pkt->l3_off, XCT_L3_OFF_MAX);
	__u32 i;

	/* The link-layer header: a fixed XCT_L3_OFF_MAX + 1 bytes whatever
	 * its length, the bytes past it being written over below.  A copy
	 * as long as the header would be a path for the verifier for each
	 * length it can have, 64 of them through the rest of the builder. */
	__builtin_memcpy(out, in, XCT_L3_OFF_MAX + 1);
	for (i = 0; i < 6; i++) {
		out[i] = in[6 + i];
		out[6 + i] = in[i];
	}
	if (pkt->t.family == XCT_AF_INET) {
		__u32 sum;

		out[l3] = 0x45;
		out[l3 + 1] = 0;
		xct_put16(out, l3 + 2, 20 + l4_len);
		xct_put32(out, l3 + 4,
			  proto == XCT_IPPROTO_TCP ? 0x4000 : 0); /* id 0; DF for RST */
		out[l3 + 8] = XCT_REJECT_TTL;
		out[l3 + 9] = proto;
		xct_put16(out, l3 + 10, 0);
		for (i = 0; i < 4; i++) {
			out[l3 + 12 + i] = pkt->t.dst.bytes[i];
			out[l3 + 16 + i] = pkt->t.src.bytes[i];
		}
		sum = xct_csum_add(0, out, l3, 20);
		xct_put16(out, l3 + 10, xct_csum_fold(sum));
		return l3 + 20;
	}
	xct_put32(out, l3, 0x60000000);
	xct_put16(out, l3 + 4, l4_len);
	out[l3 + 6] = proto;
	out[l3 + 7] = XCT_REJECT_TTL;
	for (i = 0; i < 16; i++) {
		out[l3 + 8 + i] = pkt->t.dst.bytes[i];
		out[l3 + 24 + i] = pkt->t.src.bytes[i];
	}
	return l3 + 40;
}

/* The pseudo-header's part of a transport checksum. */
XCT_INLINE __u32 xct_pseudo_sum(const struct xct_pkt *pkt, __u8 proto, __u32 l4_len)
{
	__u32 sum = proto + l4_len, i;
	int n = pkt->t.family == XCT_AF_INET ? 4 : 16;

	for (i = 0; i < 16 && i < (__u32)n; i += 2) {
		sum += (__u32)pkt->t.src.bytes[i] << 8 | pkt->t.src.bytes[i + 1];
		sum += (__u32)pkt->t.dst.bytes[i] << 8 | pkt->t.dst.bytes[i + 1];
	}
	return sum;
}

/*
 * A RST for a TCP segment, as tcp_v4_send_reset() answers one: if the
 * segment carried an ACK the RST takes that number as its sequence;
 * otherwise it has sequence 0 and acknowledges everything the segment
 * occupied, so the sender's stack matches it to its connection.
 */
XCT_INLINE __u32 xct_reject_tcp(const __u8 *in, __u8 *out, const struct xct_pkt *pkt)
{
	__u32 l4 = xct_reject_l2l3(in, out, pkt, XCT_IPPROTO_TCP, 20), i;
	__u8 flags = pkt->tcp.flags;
	__u32 sum;

	xct_put16(out, l4, xct_ntohs(pkt->t.dport));
	xct_put16(out, l4 + 2, xct_ntohs(pkt->t.sport));
	if (flags & XCT_TCPF_ACK) {
		xct_put32(out, l4 + 4, pkt->tcp.ack);
		xct_put32(out, l4 + 8, 0);
		out[xct_mask(l4 + 13, XCT_REJECT_MASK)] = XCT_TCPF_RST;
	} else {
		__u32 span =
			pkt->tcp.payload_len + !!(flags & XCT_TCPF_SYN) + !!(flags & XCT_TCPF_FIN);

		xct_put32(out, l4 + 4, 0);
		xct_put32(out, l4 + 8, pkt->tcp.seq + span);
		out[xct_mask(l4 + 13, XCT_REJECT_MASK)] = XCT_TCPF_RST | XCT_TCPF_ACK;
	}
	out[xct_mask(l4 + 12, XCT_REJECT_MASK)] = 5 << 4;
	for (i = 14; i < 20; i++)
		out[xct_mask(l4 + i, XCT_REJECT_MASK)] = 0; /* window, checksum, urgent */
	sum = xct_csum_add(xct_pseudo_sum(pkt, XCT_IPPROTO_TCP, 20), out, l4, 20);
	xct_put16(out, l4 + 16, xct_csum_fold(sum));
	return l4 + 20;
}

/*
 * The code of the ICMP (v4) or ICMPv6 destination unreachable a reject of
 * kind sends, as nftables' icmpx maps its codes to each family
 * (nft_reject_icmp_code(), nft_reject_icmpv6_code()).
 */
XCT_INLINE __u8 xct_reject_icmp_code(__u32 kind, int v4)
{
	switch (kind) {
	case XCT_REJECT_NO_ROUTE:
		return 0; /* ICMP_NET_UNREACH, ICMPV6_NOROUTE */
	case XCT_REJECT_HOST_UNREACH:
		return v4 ? 1 : 3; /* ICMP_HOST_UNREACH, ICMPV6_ADDR_UNREACH */
	case XCT_REJECT_PROT_UNREACH:
		return v4 ? 2 : 4; /* ICMP_PROT_UNREACH; IPv6 has none, its rules are IPv4 */
	case XCT_REJECT_ADMIN:
		return v4 ? 13 : 1; /* ICMP_PKT_FILTERED, ICMPV6_ADM_PROHIBITED */
	default:
		return v4 ? 3 : 4; /* ICMP_PORT_UNREACH, ICMPV6_PORT_UNREACH */
	}
}

/*
 * ICMP destination unreachable (ICMPv6 destination unreachable) with the
 * code of kind, quoting the packet from its IP header on, as much of it as
 * was copied, up to XCT_REJECT_QUOTE bytes.  copied is how many bytes of
 * the packet in holds.
 */
XCT_INLINE __u32 xct_reject_icmp(const __u8 *in, __u32 copied, __u8 *out, const struct xct_pkt *pkt,
				 __u32 kind)
{
	__u32 l3 = xct_mask(pkt->l3_off, XCT_L3_OFF_MAX);
	__u32 quote = copied > l3 ? copied - l3 : 0, l4, i, sum;
	int v4 = pkt->t.family == XCT_AF_INET;
	__u8 proto = v4 ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6;

	if (quote > pkt->l3_len)
		quote = pkt->l3_len;
	if (quote > XCT_REJECT_QUOTE)
		quote = XCT_REJECT_QUOTE;
	l4 = xct_reject_l2l3(in, out, pkt, proto, 8 + quote);
	out[xct_mask(l4, XCT_REJECT_MASK)] = v4 ? 3 : 1; /* destination unreachable */
	out[xct_mask(l4 + 1, XCT_REJECT_MASK)] = xct_reject_icmp_code(kind, v4);
	for (i = 2; i < 8; i++)
		out[xct_mask(l4 + i, XCT_REJECT_MASK)] = 0;
	/* XCT_REJECT_QUOTE bytes whatever the quote's length, for the same
	 * reason as the link-layer header's copy: those past it are neither
	 * summed nor sent (in has room past its XCT_HDR_MAX bytes). */
	__builtin_memcpy(out + xct_mask(l4, 127) + 8, in + l3, XCT_REJECT_QUOTE); /* l4 <= 103 */
	sum = v4 ? 0 : xct_pseudo_sum(pkt, proto, 8 + quote);
	sum = xct_csum_add(sum, out, l4, 8 + quote);
	xct_put16(out, l4 + 2, xct_csum_fold(sum));
	return l4 + 8 + quote;
}

/* Whether a rejected packet gets an answer at all: never an ICMP error or a
 * RST, as the kernel never answers one (an answer could start a storm). */
XCT_INLINE int xct_reject_wanted(const struct xct_pkt *pkt)
{
	if (pkt->icmp_error)
		return 0;
	return pkt->t.proto != XCT_IPPROTO_TCP || !(pkt->tcp.flags & XCT_TCPF_RST);
}

/* The answer of kind (enum xct_reject_kind) to a rejected packet; its
 * length, or 0 if there is none to send.  A TCP packet gets a RST unless
 * the rule asks for an ICMP error, as nftables' reject with icmp does.
 * in is a struct xct_hdr_buf's b: the builder's fixed-length copies read
 * past the packet into its slack. */
XCT_INLINE __u32 xct_reject_build(const __u8 *in, __u32 copied, __u8 *out,
				  const struct xct_pkt *pkt, __u32 kind)
{
	if (!xct_reject_wanted(pkt))
		return 0;
	if (pkt->t.proto == XCT_IPPROTO_TCP &&
	    (kind == XCT_REJECT_DEFAULT || kind == XCT_REJECT_TCP_RESET))
		return xct_reject_tcp(in, out, pkt);
	return xct_reject_icmp(in, copied, out, pkt, kind);
}

#endif /* XCT_REJECT_H */
