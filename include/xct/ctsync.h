/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * conntrackd's state-sync protocol, version 1: the messages two HA peers
 * exchange over the sync link (conntrack-tools include/network.h, encoded
 * by src/build.c, decoded by src/parse.c).  xct speaks it so that an xct
 * node and an nf_conntrack node running conntrackd replicate each other.
 *
 * A message is an 8-byte header (version and type, flags, length, sequence
 * number, big-endian) followed, for connections, by TLV attributes: a
 * 2-byte length (header + payload, unpadded), a 2-byte type, the payload,
 * zero padding to 4 bytes.  Control messages (ACK, NACK, RESYNC) carry a
 * [from, to] sequence range after the header.  Several messages may share a
 * datagram; each one's length says where the next begins.
 *
 * This is the codec only: it reads and writes buffers and holds no state,
 * so the exact bytes are unit-tested (tests/unit/test_ctsync.c, against
 * messages captured from a real conntrackd).  The decoder is as strict as
 * conntrackd's: an unknown attribute type, a length that is not the type's
 * size, or an attribute running past the message fails the whole message
 * (conntrackd counts those as malformed; xct counts them by cause).
 */
#ifndef XCT_CTSYNC_H
#define XCT_CTSYNC_H

#include <linux/errno.h>
#include <linux/types.h>
#include "xct/abi.h"
#include "xct/compat.h"
#include "xct/parse.h"

#define XCT_CTSYNC_VERSION  1
#define XCT_CTSYNC_HDR_LEN  8
#define XCT_CTSYNC_CTL_LEN  16 /* header + from + to */
#define XCT_CTSYNC_ATTR_HDR 4
#define XCT_CTSYNC_PORT	    3780 /* the port conntrackd's examples use */

/* Message types (enum nethdr_type). */
enum xct_ctsync_type {
	XCT_CTSYNC_CT_NEW = 0,
	XCT_CTSYNC_CT_UPD = 1,
	XCT_CTSYNC_CT_DEL = 2,
	XCT_CTSYNC_EXP_NEW = 3,
	XCT_CTSYNC_EXP_UPD = 4,
	XCT_CTSYNC_EXP_DEL = 5,
	XCT_CTSYNC_CTL = 10,
};

/* Header flags. */
#define XCT_CTSYNC_F_RESYNC	0x02 /* send me your whole internal cache */
#define XCT_CTSYNC_F_NACK	0x04 /* resend [from, to] */
#define XCT_CTSYNC_F_ACK	0x08 /* got [from, to] */
#define XCT_CTSYNC_F_ALIVE	0x10 /* keepalive */
#define XCT_CTSYNC_F_HELLO	0x20 /* until the peer says HELLO_BACK */
#define XCT_CTSYNC_F_HELLO_BACK 0x40
/* The flags that need the [from, to] range after the header. */
#define XCT_CTSYNC_F_RANGE (XCT_CTSYNC_F_RESYNC | XCT_CTSYNC_F_NACK | XCT_CTSYNC_F_ACK)

/* Conntrack attributes (enum nta_attr); the numbers are the wire's. */
enum xct_ctsync_attr {
	XCT_NTA_IPV4 = 0,
	XCT_NTA_IPV6,
	XCT_NTA_L4PROTO,
	XCT_NTA_PORT,
	XCT_NTA_TCP_STATE,
	XCT_NTA_STATUS,
	XCT_NTA_TIMEOUT,
	XCT_NTA_MARK,
	XCT_NTA_MASTER_IPV4,
	XCT_NTA_MASTER_IPV6,
	XCT_NTA_MASTER_L4PROTO,
	XCT_NTA_MASTER_PORT,
	XCT_NTA_SNAT_IPV4,
	XCT_NTA_DNAT_IPV4,
	XCT_NTA_SPAT_PORT,
	XCT_NTA_DPAT_PORT,
	XCT_NTA_NAT_SEQ_ADJ,
	XCT_NTA_SCTP_STATE,
	XCT_NTA_SCTP_VTAG_ORIG,
	XCT_NTA_SCTP_VTAG_REPL,
	XCT_NTA_DCCP_STATE,
	XCT_NTA_DCCP_ROLE,
	XCT_NTA_ICMP_TYPE,
	XCT_NTA_ICMP_CODE,
	XCT_NTA_ICMP_ID,
	XCT_NTA_TCP_WSCALE_ORIG,
	XCT_NTA_TCP_WSCALE_REPL,
	XCT_NTA_HELPER_NAME,
	XCT_NTA_LABELS,
	XCT_NTA_SNAT_IPV6,
	XCT_NTA_DNAT_IPV6,
	XCT_NTA_SYNPROXY,
	XCT_NTA_ZONE,
	XCT_NTA_MAX, /* conntrackd 1.4.7's NTA_MAX */
};

#define XCT_CTSYNC_HELPER_MAX 16  /* NFCT_HELPER_NAME_MAX, with the NUL */
#define XCT_CTSYNC_LABELS_MAX 128 /* NTA_LABELS_MAX_SIZE: a 1024-bit map */

/*
 * The payload size of each attribute; 0 for the two of variable length
 * (helper name, labels), which have a maximum instead.  An attribute whose
 * nta_len is not 4 + this size fails the message.
 */
XCT_INLINE __u16 xct_ctsync_attr_size(__u16 type)
{
	switch (type) {
	case XCT_NTA_IPV4:
	case XCT_NTA_MASTER_IPV4:
		return 8;
	case XCT_NTA_IPV6:
	case XCT_NTA_MASTER_IPV6:
		return 32;
	case XCT_NTA_L4PROTO:
	case XCT_NTA_TCP_STATE:
	case XCT_NTA_MASTER_L4PROTO:
	case XCT_NTA_SCTP_STATE:
	case XCT_NTA_DCCP_STATE:
	case XCT_NTA_DCCP_ROLE:
	case XCT_NTA_ICMP_TYPE:
	case XCT_NTA_ICMP_CODE:
	case XCT_NTA_TCP_WSCALE_ORIG:
	case XCT_NTA_TCP_WSCALE_REPL:
		return 1;
	case XCT_NTA_SPAT_PORT:
	case XCT_NTA_DPAT_PORT:
	case XCT_NTA_ICMP_ID:
	case XCT_NTA_ZONE:
		return 2;
	case XCT_NTA_PORT:
	case XCT_NTA_MASTER_PORT:
	case XCT_NTA_STATUS:
	case XCT_NTA_TIMEOUT:
	case XCT_NTA_MARK:
	case XCT_NTA_SNAT_IPV4:
	case XCT_NTA_DNAT_IPV4:
	case XCT_NTA_SCTP_VTAG_ORIG:
	case XCT_NTA_SCTP_VTAG_REPL:
		return 4;
	case XCT_NTA_SYNPROXY:
		return 12;
	case XCT_NTA_SNAT_IPV6:
	case XCT_NTA_DNAT_IPV6:
		return 16;
	case XCT_NTA_NAT_SEQ_ADJ:
		return 24;
	default: /* helper name, labels */
		return 0;
	}
}

/* nf_conntrack's IPS_* status bits, as the wire carries them. */
#define XCT_IPS_EXPECTED     0x0001
#define XCT_IPS_SEEN_REPLY   0x0002
#define XCT_IPS_ASSURED	     0x0004
#define XCT_IPS_CONFIRMED    0x0008
#define XCT_IPS_SRC_NAT	     0x0010
#define XCT_IPS_DST_NAT	     0x0020
#define XCT_IPS_SRC_NAT_DONE 0x0080
#define XCT_IPS_DST_NAT_DONE 0x0100

/*
 * One connection as a sync message carries it.  Addresses and TCP/UDP
 * ports in network order, as xct's key holds them; everything else in host
 * order.  `attrs` has bit (1 << XCT_NTA_*) for each attribute present,
 * which is also what the encoder writes (in conntrackd's order).
 */
struct xct_ctsync_conn {
	__u64 attrs;
	__u8 family; /* XCT_AF_INET or XCT_AF_INET6 */
	__u8 proto;
	__u8 tcp_state; /* TCP_CONNTRACK_* (enum xct_tcp_state) */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 wscale[2]; /* by enum xct_dir */
	__u8 pad;
	__u16 icmp_id; /* host order */
	__u16 zone;
	union xct_addr src, dst; /* original direction */
	__u16 sport, dport;	 /* original direction, network order */
	__u32 status;		 /* XCT_IPS_* */
	__u32 timeout;		 /* seconds left */
	__u32 mark;
	union xct_addr snat, dnat; /* reply dst / reply src, when translated */
	__u16 spat, dpat;	   /* reply dst / reply src port, network order */
	__u32 synproxy[3];
};

/* Why a message was refused, for the counters. */
enum xct_ctsync_error {
	XCT_CTSYNC_OK = 0,
	XCT_CTSYNC_ERR_TRUNCATED,    /* shorter than its header or its len */
	XCT_CTSYNC_ERR_VERSION,	     /* not protocol version 1 */
	XCT_CTSYNC_ERR_ATTR_LEN,     /* an attribute's length below 4 or past the end */
	XCT_CTSYNC_ERR_ATTR_UNKNOWN, /* an attribute type this side does not know */
	XCT_CTSYNC_ERR_ATTR_SIZE,    /* an attribute whose length is not its type's */
	XCT_CTSYNC_ERR_INCOMPLETE,   /* no address, protocol or ports to key it by */
	XCT_CTSYNC_ERR_COUNT,
};

struct xct_ctsync_hdr {
	__u8 version;
	__u8 type;
	__u8 flags;
	__u16 len;
	__u32 seq;
	__u32 from, to; /* control messages with a range only */
};

XCT_INLINE __u16 xct_ctsync_get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

XCT_INLINE __u32 xct_ctsync_get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

XCT_INLINE void xct_ctsync_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

XCT_INLINE void xct_ctsync_put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

XCT_INLINE void xct_ctsync_copy(void *dst, const void *src, __u32 n)
{
	__u8 *d = (__u8 *)dst;
	const __u8 *s = (const __u8 *)src;
	__u32 i;

	for (i = 0; i < n; i++)
		d[i] = s[i];
}

/*
 * The header of the message at buf (avail bytes left in the datagram):
 * 0, or -EBADMSG with *err set.  A control message with ACK, NACK or
 * RESYNC must hold its range.
 */
XCT_INLINE int xct_ctsync_parse_hdr(const __u8 *buf, __u32 avail, struct xct_ctsync_hdr *h,
				    enum xct_ctsync_error *err)
{
	if (avail < XCT_CTSYNC_HDR_LEN) {
		*err = XCT_CTSYNC_ERR_TRUNCATED;
		return -EBADMSG;
	}
	h->version = buf[0] >> 4;
	h->type = buf[0] & 0x0f;
	h->flags = buf[1];
	h->len = xct_ctsync_get16(buf + 2);
	h->seq = xct_ctsync_get32(buf + 4);
	h->from = h->to = 0;
	if (h->len < XCT_CTSYNC_HDR_LEN || h->len > avail) {
		*err = XCT_CTSYNC_ERR_TRUNCATED;
		return -EBADMSG;
	}
	if (h->version != XCT_CTSYNC_VERSION) {
		*err = XCT_CTSYNC_ERR_VERSION;
		return -EBADMSG;
	}
	if (h->type == XCT_CTSYNC_CTL && (h->flags & XCT_CTSYNC_F_RANGE)) {
		if (h->len < XCT_CTSYNC_CTL_LEN) {
			*err = XCT_CTSYNC_ERR_TRUNCATED;
			return -EBADMSG;
		}
		h->from = xct_ctsync_get32(buf + 8);
		h->to = xct_ctsync_get32(buf + 12);
	}
	*err = XCT_CTSYNC_OK;
	return 0;
}

/* Writes a header; the caller has checked the room. */
XCT_INLINE void xct_ctsync_put_hdr(__u8 *buf, __u8 type, __u8 flags, __u16 len, __u32 seq)
{
	buf[0] = XCT_CTSYNC_VERSION << 4 | (type & 0x0f);
	buf[1] = flags;
	xct_ctsync_put16(buf + 2, len);
	xct_ctsync_put32(buf + 4, seq);
}

/*
 * A control message: 16 bytes when flags ask for a range (ACK, NACK,
 * RESYNC), else the bare 8-byte header (ALIVE, HELLO).  Its length, or
 * -ENOSPC.
 */
XCT_INLINE int xct_ctsync_build_ctl(__u8 *buf, __u32 cap, __u8 flags, __u32 seq, __u32 from,
				    __u32 to)
{
	__u16 len = (flags & XCT_CTSYNC_F_RANGE) ? XCT_CTSYNC_CTL_LEN : XCT_CTSYNC_HDR_LEN;

	if (cap < len)
		return -ENOSPC;
	xct_ctsync_put_hdr(buf, XCT_CTSYNC_CTL, flags, len, seq);
	if (len == XCT_CTSYNC_CTL_LEN) {
		xct_ctsync_put32(buf + 8, from);
		xct_ctsync_put32(buf + 12, to);
	}
	return len;
}

/* The little-endian quirk of conntrackd's u16 attributes (SPAT, DPAT,
 * ICMP_ID): libnetfilter_conntrack holds the ports in network order and
 * build.c applies htons() on top, so from an x86 sender a port of 1000 is
 * on the wire as e8 03.  xct writes what such a sender writes, and reads it
 * back the same way, whatever its own byte order. */
XCT_INLINE __u16 xct_ctsync_quirk16(const __u8 *p)
{
	return (__u16)(p[1] << 8 | p[0]);
}

/* One attribute's payload into c. */
XCT_INLINE void xct_ctsync_take(struct xct_ctsync_conn *c, __u16 type, const __u8 *p, __u16 n)
{
	switch (type) {
	case XCT_NTA_IPV4:
		c->family = XCT_AF_INET;
		xct_ctsync_copy(&c->src.v4, p, 4);
		xct_ctsync_copy(&c->dst.v4, p + 4, 4);
		break;
	case XCT_NTA_IPV6:
		c->family = XCT_AF_INET6;
		xct_ctsync_copy(c->src.bytes, p, 16);
		xct_ctsync_copy(c->dst.bytes, p + 16, 16);
		break;
	case XCT_NTA_L4PROTO:
		c->proto = p[0];
		break;
	case XCT_NTA_PORT:
		xct_ctsync_copy(&c->sport, p, 2);
		xct_ctsync_copy(&c->dport, p + 2, 2);
		break;
	case XCT_NTA_TCP_STATE:
		c->tcp_state = p[0];
		break;
	case XCT_NTA_STATUS:
		c->status = xct_ctsync_get32(p);
		break;
	case XCT_NTA_TIMEOUT:
		c->timeout = xct_ctsync_get32(p);
		break;
	case XCT_NTA_MARK:
		c->mark = xct_ctsync_get32(p);
		break;
	case XCT_NTA_SNAT_IPV4:
		xct_ctsync_copy(&c->snat.v4, p, 4);
		break;
	case XCT_NTA_DNAT_IPV4:
		xct_ctsync_copy(&c->dnat.v4, p, 4);
		break;
	case XCT_NTA_SNAT_IPV6:
		xct_ctsync_copy(c->snat.bytes, p, 16);
		break;
	case XCT_NTA_DNAT_IPV6:
		xct_ctsync_copy(c->dnat.bytes, p, 16);
		break;
	case XCT_NTA_SPAT_PORT:
		c->spat = xct_htons(xct_ctsync_quirk16(p));
		break;
	case XCT_NTA_DPAT_PORT:
		c->dpat = xct_htons(xct_ctsync_quirk16(p));
		break;
	case XCT_NTA_ICMP_TYPE:
		c->icmp_type = p[0];
		break;
	case XCT_NTA_ICMP_CODE:
		c->icmp_code = p[0];
		break;
	case XCT_NTA_ICMP_ID:
		c->icmp_id = xct_ctsync_quirk16(p);
		break;
	case XCT_NTA_TCP_WSCALE_ORIG:
		c->wscale[XCT_DIR_ORIGINAL] = p[0];
		break;
	case XCT_NTA_TCP_WSCALE_REPL:
		c->wscale[XCT_DIR_REPLY] = p[0];
		break;
	case XCT_NTA_SYNPROXY:
		c->synproxy[0] = xct_ctsync_get32(p);
		c->synproxy[1] = xct_ctsync_get32(p + 4);
		c->synproxy[2] = xct_ctsync_get32(p + 8);
		break;
	case XCT_NTA_ZONE:
		c->zone = xct_ctsync_get16(p);
		break;
	default:
		/* Master tuple, NAT sequence adjustment, SCTP, DCCP, helper,
		 * labels: checked and known to be there, not kept. */
		break;
	}
}

#define XCT_CTSYNC_ICMP_ATTRS                                                                      \
	(1ULL << XCT_NTA_ICMP_TYPE | 1ULL << XCT_NTA_ICMP_CODE | 1ULL << XCT_NTA_ICMP_ID)

/*
 * Whether a decoded connection holds what an entry is keyed by: an address
 * pair and a protocol, the ports for TCP and UDP, and for ICMP and ICMPv6
 * the type, code and id (build.c sends those three together or not at all,
 * so a message with only some of them is not one conntrackd wrote).
 */
XCT_INLINE int xct_ctsync_keyable(const struct xct_ctsync_conn *c)
{
	if (!(c->attrs & (1ULL << XCT_NTA_IPV4 | 1ULL << XCT_NTA_IPV6)) ||
	    !(c->attrs & 1ULL << XCT_NTA_L4PROTO))
		return 0;
	switch (c->proto) {
	case XCT_IPPROTO_TCP:
	case XCT_IPPROTO_UDP:
		return !!(c->attrs & 1ULL << XCT_NTA_PORT);
	case XCT_IPPROTO_ICMP:
	case XCT_IPPROTO_ICMPV6:
		return (c->attrs & XCT_CTSYNC_ICMP_ATTRS) == XCT_CTSYNC_ICMP_ATTRS;
	default:
		return 1;
	}
}

/*
 * The connection in the data message msg (len bytes, its header already
 * checked by xct_ctsync_parse_hdr): 0, or -EBADMSG with *err set.  The
 * attributes must tile the message exactly, each padded to 4 bytes.
 */
XCT_INLINE int xct_ctsync_decode_conn(const __u8 *msg, __u32 len, struct xct_ctsync_conn *c,
				      enum xct_ctsync_error *err)
{
	__u32 off = XCT_CTSYNC_HDR_LEN;
	__u8 *z = (__u8 *)c;
	__u32 i;

	for (i = 0; i < sizeof(*c); i++)
		z[i] = 0;
	while (off < len) {
		__u16 alen, type, size;

		if (len - off < XCT_CTSYNC_ATTR_HDR) {
			*err = XCT_CTSYNC_ERR_ATTR_LEN;
			return -EBADMSG;
		}
		alen = xct_ctsync_get16(msg + off);
		type = xct_ctsync_get16(msg + off + 2);
		if (alen < XCT_CTSYNC_ATTR_HDR || alen > len - off) {
			*err = XCT_CTSYNC_ERR_ATTR_LEN;
			return -EBADMSG;
		}
		if (type >= XCT_NTA_MAX) {
			*err = XCT_CTSYNC_ERR_ATTR_UNKNOWN;
			return -EBADMSG;
		}
		size = xct_ctsync_attr_size(type);
		if (size ? alen != XCT_CTSYNC_ATTR_HDR + size
			 : alen > XCT_CTSYNC_ATTR_HDR + (type == XCT_NTA_HELPER_NAME
								 ? XCT_CTSYNC_HELPER_MAX
								 : XCT_CTSYNC_LABELS_MAX)) {
			*err = XCT_CTSYNC_ERR_ATTR_SIZE;
			return -EBADMSG;
		}
		xct_ctsync_take(c, type, msg + off + XCT_CTSYNC_ATTR_HDR,
				alen - XCT_CTSYNC_ATTR_HDR);
		c->attrs |= 1ULL << type;
		off += (alen + 3U) & ~3U;
	}
	if (off != len) { /* the last attribute's padding runs past len */
		*err = XCT_CTSYNC_ERR_ATTR_LEN;
		return -EBADMSG;
	}
	if (!xct_ctsync_keyable(c)) {
		*err = XCT_CTSYNC_ERR_INCOMPLETE;
		return -EBADMSG;
	}
	*err = XCT_CTSYNC_OK;
	return 0;
}

/* Appends one attribute (payload n bytes, zero-padded); the new offset,
 * or 0 when it does not fit. */
XCT_INLINE __u32 xct_ctsync_put_attr(__u8 *buf, __u32 cap, __u32 off, __u16 type,
				     const void *payload, __u16 n)
{
	__u32 total = (XCT_CTSYNC_ATTR_HDR + n + 3U) & ~3U;
	__u32 i;

	if (!off || off > cap || cap - off < total)
		return 0;
	xct_ctsync_put16(buf + off, XCT_CTSYNC_ATTR_HDR + n);
	xct_ctsync_put16(buf + off + 2, type);
	xct_ctsync_copy(buf + off + XCT_CTSYNC_ATTR_HDR, payload, n);
	for (i = XCT_CTSYNC_ATTR_HDR + n; i < total; i++)
		buf[off + i] = 0;
	return off + total;
}

XCT_INLINE __u32 xct_ctsync_put_attr32(__u8 *buf, __u32 cap, __u32 off, __u16 type, __u32 v)
{
	__u8 b[4];

	xct_ctsync_put32(b, v);
	return xct_ctsync_put_attr(buf, cap, off, type, b, 4);
}

XCT_INLINE __u32 xct_ctsync_put_quirk16(__u8 *buf, __u32 cap, __u32 off, __u16 type, __u16 v)
{
	__u8 b[2] = {(__u8)v, (__u8)(v >> 8)};

	return xct_ctsync_put_attr(buf, cap, off, type, b, 2);
}

#define XCT_CTSYNC_HAS(c, a) ((c)->attrs & (1ULL << (a)))

/*
 * A data message (type CT_NEW, CT_UPD or CT_DEL) for c, its attributes in
 * the order conntrackd's build.c emits them: only those in c->attrs, so a
 * peer of an older version is never sent one it would refuse.  The
 * message's length, or -ENOSPC.
 */
XCT_INLINE int xct_ctsync_encode_conn(__u8 *buf, __u32 cap, __u8 type, __u8 flags, __u32 seq,
				      const struct xct_ctsync_conn *c)
{
	__u32 off = XCT_CTSYNC_HDR_LEN;
	__u8 b[32];

	if (cap < XCT_CTSYNC_HDR_LEN || cap > 0xffff)
		return -ENOSPC;
	if (XCT_CTSYNC_HAS(c, XCT_NTA_IPV4)) {
		xct_ctsync_copy(b, &c->src.v4, 4);
		xct_ctsync_copy(b + 4, &c->dst.v4, 4);
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_IPV4, b, 8);
	} else if (XCT_CTSYNC_HAS(c, XCT_NTA_IPV6)) {
		xct_ctsync_copy(b, c->src.bytes, 16);
		xct_ctsync_copy(b + 16, c->dst.bytes, 16);
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_IPV6, b, 32);
	}
	if (XCT_CTSYNC_HAS(c, XCT_NTA_STATUS))
		off = xct_ctsync_put_attr32(buf, cap, off, XCT_NTA_STATUS, c->status);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_L4PROTO))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_L4PROTO, &c->proto, 1);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_PORT)) {
		xct_ctsync_copy(b, &c->sport, 2);
		xct_ctsync_copy(b + 2, &c->dport, 2);
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_PORT, b, 4);
	}
	if (XCT_CTSYNC_HAS(c, XCT_NTA_TCP_STATE))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_TCP_STATE, &c->tcp_state, 1);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_TCP_WSCALE_ORIG))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_TCP_WSCALE_ORIG,
					  &c->wscale[XCT_DIR_ORIGINAL], 1);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_TCP_WSCALE_REPL))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_TCP_WSCALE_REPL,
					  &c->wscale[XCT_DIR_REPLY], 1);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_ICMP_TYPE))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_ICMP_TYPE, &c->icmp_type, 1);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_ICMP_CODE))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_ICMP_CODE, &c->icmp_code, 1);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_ICMP_ID))
		off = xct_ctsync_put_quirk16(buf, cap, off, XCT_NTA_ICMP_ID, c->icmp_id);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_TIMEOUT))
		off = xct_ctsync_put_attr32(buf, cap, off, XCT_NTA_TIMEOUT, c->timeout);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_MARK))
		off = xct_ctsync_put_attr32(buf, cap, off, XCT_NTA_MARK, c->mark);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_SNAT_IPV4))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_SNAT_IPV4, &c->snat.v4, 4);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_DNAT_IPV4))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_DNAT_IPV4, &c->dnat.v4, 4);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_SNAT_IPV6))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_SNAT_IPV6, c->snat.bytes, 16);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_DNAT_IPV6))
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_DNAT_IPV6, c->dnat.bytes, 16);
	if (XCT_CTSYNC_HAS(c, XCT_NTA_SPAT_PORT))
		off = xct_ctsync_put_quirk16(buf, cap, off, XCT_NTA_SPAT_PORT, xct_ntohs(c->spat));
	if (XCT_CTSYNC_HAS(c, XCT_NTA_DPAT_PORT))
		off = xct_ctsync_put_quirk16(buf, cap, off, XCT_NTA_DPAT_PORT, xct_ntohs(c->dpat));
	if (XCT_CTSYNC_HAS(c, XCT_NTA_SYNPROXY)) {
		xct_ctsync_put32(b, c->synproxy[0]);
		xct_ctsync_put32(b + 4, c->synproxy[1]);
		xct_ctsync_put32(b + 8, c->synproxy[2]);
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_SYNPROXY, b, 12);
	}
	if (XCT_CTSYNC_HAS(c, XCT_NTA_ZONE)) {
		xct_ctsync_put16(b, c->zone);
		off = xct_ctsync_put_attr(buf, cap, off, XCT_NTA_ZONE, b, 2);
	}
	if (!off)
		return -ENOSPC;
	xct_ctsync_put_hdr(buf, type, flags, (__u16)off, seq);
	return (int)off;
}

#endif /* XCT_CTSYNC_H */
