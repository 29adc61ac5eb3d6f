/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One packet against one table entry: the protocol trackers (TCP in tcp.h;
 * UDP, ICMP and the generic tracker here), then the connection-wide rules
 * nf_conntrack applies around them: SEEN_REPLY after the first accepted
 * reply, accounting, the expiry time.
 *
 * Like tcp.h these functions only touch the entry they are given, which the
 * datapath holds under its lock, so they run unchanged in the unit tests.
 */
#ifndef XCT_CT_H
#define XCT_CT_H

#include "compat.h"
#include "abi.h"
#include "parse.h"
#include "tuple.h"
#include "tcp.h"

#define XCT_UDP_TIMEOUT_UNREPLIED 30
#define XCT_UDP_TIMEOUT_REPLIED	  120
#define XCT_UDP_STREAM_NS	  (2 * XCT_NSEC_PER_SEC)
#define XCT_ICMP_TIMEOUT	  30
#define XCT_GENERIC_TIMEOUT	  600

/* What happened to a packet, for counters and, later, for policy. */
struct xct_ct_result {
	__u8 ct_state; /* enum xct_ct_state */
	__u8 dir;      /* enum xct_dir */
	__u8 reason;   /* enum xct_reason */
	__u8 kill;     /* the entry must disappear now */
	__u8 reopen;   /* start a new connection on this tuple */
	__u8 assured;  /* became ASSURED with this packet */
	__u8 counted;  /* accounted in the entry's counters */
	__u8 started;  /* this packet started the connection on the entry */
	__u16 status;  /* the entry's XCT_CT_* as this packet's update left
			* it; 0 when no update was committed */
};

XCT_INLINE int xct_entry_alive(const struct xct_ct_entry *ct, __u64 now_ns)
{
	return !(ct->status & XCT_CT_DYING) && ct->expires_ns > now_ns;
}

/*
 * May the first packet of a connection create an entry, and with what
 * protocol state?  Fills a fresh entry; returns XCT_R_OK or the reason not.
 */
XCT_INLINE __u8 xct_ct_init(struct xct_ct_entry *ct, const struct xct_pkt *pkt, __u8 sender_side,
			    __u64 now_ns)
{
	__u8 reason = XCT_R_OK;

	ct->state = 0;
	ct->orig_side = sender_side;
	ct->status = 0;
	ct->mark = 0;
	ct->first_seen_ns = now_ns;
	ct->last_seen_ns = now_ns;
	ct->expires_ns = now_ns;
	ct->packets[0] = ct->packets[1] = 0;
	ct->bytes[0] = ct->bytes[1] = 0;
	__builtin_memset(&ct->proto, 0, sizeof(ct->proto));

	switch (pkt->t.proto) {
	case XCT_IPPROTO_TCP:
		reason = xct_tcp_new(ct, &pkt->tcp);
		break;
	case XCT_IPPROTO_UDP:
		ct->proto.udp.stream_ns = now_ns + XCT_UDP_STREAM_NS;
		break;
	}
	if (xct_is_icmp(pkt->t.family, pkt->t.proto)) {
		int is_reply;

		/* Only a query may open an ICMP "connection"; a reply that
		 * comes first, or any other type, cannot. */
		if (xct_icmp_query(pkt->t.family, pkt->t.icmp_type, &is_reply) < 0 || is_reply)
			reason = XCT_R_ICMP_INVALID_NEW;
	}
	return reason;
}

XCT_INLINE void xct_ct_account(struct xct_ct_entry *ct, int dir, const struct xct_pkt *pkt,
			       __u64 now_ns, __u32 timeout_s, struct xct_ct_result *res)
{
	ct->packets[dir & 1] += 1;
	ct->bytes[dir & 1] += pkt->l3_len;
	ct->last_seen_ns = now_ns;
	ct->expires_ns = now_ns + (__u64)timeout_s * XCT_NSEC_PER_SEC;
	res->counted = 1;
}

/*
 * One packet of a connection (including its first packet, after
 * xct_ct_init()).  Updates the entry and fills res; never fails.
 */
XCT_INLINE void xct_ct_packet(struct xct_ct_entry *ct, int dir, const struct xct_pkt *pkt,
			      __u64 now_ns, struct xct_ct_result *res)
{
	int seen_reply = !!(ct->status & XCT_CT_SEEN_REPLY);
	__u32 timeout;

	res->dir = dir;
	res->ct_state = (dir == XCT_DIR_REPLY || seen_reply) ? XCT_CTS_ESTABLISHED : XCT_CTS_NEW;
	res->reason = XCT_R_OK;

	if (pkt->t.proto == XCT_IPPROTO_TCP) {
		struct xct_tcp_verdict v = xct_tcp_packet(ct, dir, &pkt->tcp, now_ns);

		res->reason = v.reason;
		res->assured = v.assured;
		switch (v.action) {
		case XCT_TCP_INVALID:
			res->ct_state = XCT_CTS_INVALID;
			return; /* neither counted nor SEEN_REPLY */
		case XCT_TCP_REOPEN:
			res->reopen = 1;
			return;
		case XCT_TCP_IGNORE:
			break;
		case XCT_TCP_NOREFRESH:
			break;
		case XCT_TCP_KILL:
			xct_ct_account(ct, dir, pkt, now_ns, 0, res);
			res->kill = 1;
			break;
		default:
			xct_ct_account(ct, dir, pkt, now_ns, v.timeout, res);
		}
	} else if (pkt->t.proto == XCT_IPPROTO_UDP) {
		timeout = XCT_UDP_TIMEOUT_UNREPLIED;
		if (seen_reply && now_ns > ct->proto.udp.stream_ns) {
			/* Still active two seconds after it started, both
			 * ways: a stream, not a one-shot query. */
			timeout = XCT_UDP_TIMEOUT_REPLIED;
			if (!(ct->status & XCT_CT_ASSURED)) {
				ct->status |= XCT_CT_ASSURED;
				res->assured = 1;
			}
		}
		xct_ct_account(ct, dir, pkt, now_ns, timeout, res);
	} else if (xct_is_icmp(pkt->t.family, pkt->t.proto)) {
		/* Kept after the reply, for duplicate replies. */
		xct_ct_account(ct, dir, pkt, now_ns, XCT_ICMP_TIMEOUT, res);
	} else {
		xct_ct_account(ct, dir, pkt, now_ns, XCT_GENERIC_TIMEOUT, res);
	}

	/* nf_conntrack_in(): SEEN_REPLY after the first valid reply. */
	if (dir == XCT_DIR_REPLY)
		ct->status |= XCT_CT_SEEN_REPLY;
}

/*
 * Does this packet start a new connection on the entry's tuple?  Yes when
 * the entry is dead, and when TCP reopens a closed connection.  Deciding it
 * before the tracker runs lets the datapath run the tracker once per packet.
 */
XCT_INLINE int xct_ct_starts_over(const struct xct_ct_entry *ct, int dir, const struct xct_pkt *pkt,
				  __u64 now_ns)
{
	if (ct->expires_ns <= now_ns)
		return 1;
	return pkt->t.proto == XCT_IPPROTO_TCP && xct_tcp_reopens(ct, dir, &pkt->tcp);
}

/*
 * One packet against an entry the caller holds exclusively: a new
 * connection starts over in place (nf_conntrack would destroy the old ct and
 * create a new one; the result is the same), anything else goes to the
 * tracker.  The entry is left dead when the packet kills the connection or
 * could not start one.
 */
XCT_INLINE void xct_ct_apply(struct xct_ct_entry *ct, __u8 sender_side, const struct xct_pkt *pkt,
			     __u64 now_ns, struct xct_ct_result *res)
{
	int dir = sender_side == ct->orig_side ? XCT_DIR_ORIGINAL : XCT_DIR_REPLY;
	int fresh = xct_ct_starts_over(ct, dir, pkt, now_ns);

	if (fresh) {
		__u8 reason = xct_ct_init(ct, pkt, sender_side, now_ns);

		if (reason != XCT_R_OK) {
			res->ct_state = XCT_CTS_INVALID;
			res->reason = reason;
			ct->expires_ns = 0;
			return;
		}
		dir = XCT_DIR_ORIGINAL;
	}
	xct_ct_packet(ct, dir, pkt, now_ns, res);
	if (res->kill || (fresh && res->ct_state == XCT_CTS_INVALID))
		ct->expires_ns = 0;
	else if (fresh) {
		res->ct_state = XCT_CTS_NEW;
		res->started = 1;
	}
}

/*
 * ICMP errors: which connection does the quoted packet belong to?  The
 * quoted packet travelled from the connection's sender towards the host that
 * answered with the error, so the error must be addressed to the quoted
 * packet's source (nf_conntrack_inet_error()'s anti-spoofing check).
 * Returns XCT_R_OK with the key to look up, or the reason it cannot belong.
 */
XCT_INLINE __u8 xct_icmp_error_key(const struct xct_pkt *pkt, struct xct_ct_key *key)
{
	__u8 side;

	if (xct_is_icmp(pkt->inner.family, pkt->inner.proto) &&
	    xct_icmp_is_error(pkt->inner.family, pkt->inner.icmp_type))
		return XCT_R_ICMP_ERROR_NO_CONN; /* no errors about errors */
	if (xct_key_from_tuple(&pkt->inner, key, &side) < 0)
		return XCT_R_ICMP_ERROR_NO_CONN;
	if (!xct_addr_eq(&pkt->t.dst, &pkt->inner.src))
		return XCT_R_ICMP_ERROR_SPOOFED;
	return XCT_R_OK;
}

/* ICMPv6 messages nf_conntrack leaves untracked (noct_valid_new[]). */
XCT_INLINE int xct_icmpv6_untracked(__u8 type)
{
	return (type >= 130 && type <= 136) || type == 143 || (type >= 151 && type <= 153) ||
	       type == 137; /* redirect: not matched to a connection */
}

#endif /* XCT_CT_H */
