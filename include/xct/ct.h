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

/* Timeouts in seconds (nf_conntrack_{udp,icmp,icmpv6,generic}_timeout*). */
#define XCT_UDP_TIMEOUT_UNREPLIED xct_tunable(XCT_TUNABLE_UDP)
#define XCT_UDP_TIMEOUT_REPLIED	  xct_tunable(XCT_TUNABLE_UDP_STREAM)
#define XCT_UDP_STREAM_NS	  (2 * XCT_NSEC_PER_SEC)
#define XCT_ICMP_TIMEOUT	  xct_tunable(XCT_TUNABLE_ICMP)
#define XCT_ICMPV6_TIMEOUT	  xct_tunable(XCT_TUNABLE_ICMPV6)
#define XCT_GENERIC_TIMEOUT	  xct_tunable(XCT_TUNABLE_GENERIC)

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
	__u32 mark;    /* the connection's mark, for the rules: of the entry
			* updated, or of the one an ICMP error is related to */
};

XCT_INLINE int xct_entry_alive(const struct xct_ct_entry *ct, __u64 now_ns)
{
	return !(ct->status & XCT_CT_DYING) && ct->expires_ns > now_ns;
}

/*
 * May the first packet of a connection create an entry?  XCT_R_OK or the
 * reason not; what xct_ct_init() returns, without filling anything.
 */
XCT_INLINE __u8 xct_ct_may_open(const struct xct_pkt *pkt)
{
	int is_reply;

	if (pkt->t.proto == XCT_IPPROTO_TCP)
		return xct_tcp_may_open(&pkt->tcp);
	/* Only a query may open an ICMP "connection"; a reply that comes
	 * first, or any other type, cannot. */
	if (xct_is_icmp(pkt->t.family, pkt->t.proto) &&
	    (xct_icmp_query(pkt->t.family, pkt->t.icmp_type, &is_reply) < 0 || is_reply))
		return XCT_R_ICMP_INVALID_NEW;
	return XCT_R_OK;
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
	if (xct_is_icmp(pkt->t.family, pkt->t.proto))
		reason = xct_ct_may_open(pkt);
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
 * Is a UDP flow a stream (nf_conntrack_udp_packet())?  It has seen a reply
 * and is still active two seconds after it started, both ways: not a
 * one-shot query.  A stream gets the stream timeout and becomes ASSURED.
 */
XCT_INLINE int xct_udp_stream(const struct xct_ct_entry *ct, __u16 status, __u64 now_ns)
{
	return (status & XCT_CT_SEEN_REPLY) && now_ns > ct->proto.udp.stream_ns;
}

/* The timeout a UDP flow's packet gives it. */
XCT_INLINE __u32 xct_udp_timeout(const struct xct_ct_entry *ct, __u16 status, __u64 now_ns)
{
	return xct_udp_stream(ct, status, now_ns) ? XCT_UDP_TIMEOUT_REPLIED
						  : XCT_UDP_TIMEOUT_UNREPLIED;
}

/*
 * Does this packet change anything of a UDP flow but its counters and
 * expiry?  A first reply sets SEEN_REPLY; a replied flow past its stream
 * time becomes ASSURED.  Any other packet only accounts and refreshes,
 * which the datapath's fast path does without the entry's lock
 * (xct_ct_account_atomic()).
 */
XCT_INLINE int xct_udp_changes(const struct xct_ct_entry *ct, __u16 status, int dir, __u64 now_ns)
{
	return (!(status & XCT_CT_SEEN_REPLY) && dir == XCT_DIR_REPLY) ||
	       (!(status & XCT_CT_ASSURED) && xct_udp_stream(ct, status, now_ns));
}

/*
 * xct_ct_account() for an entry other CPUs update at the same time: the
 * counters with atomic adds, so that no packet is lost to a concurrent
 * one; the last-seen time and the expiry are plain stores, each CPU's
 * value being this instant's give or take the packets in flight.
 */
XCT_INLINE void xct_ct_account_atomic(struct xct_ct_entry *ct, int dir, const struct xct_pkt *pkt,
				      __u64 now_ns, __u32 timeout_s, struct xct_ct_result *res)
{
	__sync_fetch_and_add(&ct->packets[dir & 1], 1);
	__sync_fetch_and_add(&ct->bytes[dir & 1], (__u64)pkt->l3_len);
	ct->last_seen_ns = now_ns;
	ct->expires_ns = now_ns + (__u64)timeout_s * XCT_NSEC_PER_SEC;
	res->counted = 1;
}

/*
 * nf_conntrack_udp_packet(): the UDP tracker.  Once a flow is ASSURED
 * (it has SEEN_REPLY too), this only accounts the packet and refreshes
 * the timeout: the datapath's fast path does that itself then, without
 * the lock (xct_udp_changes()).
 */
XCT_INLINE void xct_udp_packet(struct xct_ct_entry *ct, int dir, const struct xct_pkt *pkt,
			       __u64 now_ns, struct xct_ct_result *res)
{
	if (xct_udp_stream(ct, ct->status, now_ns) && !(ct->status & XCT_CT_ASSURED)) {
		ct->status |= XCT_CT_ASSURED;
		res->assured = 1;
	}
	xct_ct_account(ct, dir, pkt, now_ns, xct_udp_timeout(ct, ct->status, now_ns), res);
}

/*
 * How xct_ct_packet() runs the TCP tracker: inline here and in the unit
 * tests; the datapath defines it before including this file, to have the
 * verifier check the tracker once, as a function of its own
 * (bpf/ct_table.h), instead of once for every path that reaches it.
 */
#ifndef XCT_TCP_PACKET
#define XCT_TCP_PACKET xct_tcp_packet
#endif

/*
 * One packet of a connection (including its first packet, after
 * xct_ct_init()).  Updates the entry and fills res; never fails.
 */
XCT_INLINE void xct_ct_packet(struct xct_ct_entry *ct, int dir, const struct xct_pkt *pkt,
			      __u64 now_ns, struct xct_ct_result *res)
{
	int seen_reply = !!(ct->status & XCT_CT_SEEN_REPLY);

	res->dir = dir;
	res->ct_state = (dir == XCT_DIR_REPLY || seen_reply) ? XCT_CTS_ESTABLISHED : XCT_CTS_NEW;
	res->reason = XCT_R_OK;

	if (pkt->t.proto == XCT_IPPROTO_TCP) {
		struct xct_tcp_verdict v = XCT_TCP_PACKET(ct, dir, &pkt->tcp, now_ns);

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
			xct_tcp_liberal_done(ct);
			xct_ct_account(ct, dir, pkt, now_ns, v.timeout, res);
		}
	} else if (pkt->t.proto == XCT_IPPROTO_UDP) {
		xct_udp_packet(ct, dir, pkt, now_ns, res);
	} else if (xct_is_icmp(pkt->t.family, pkt->t.proto)) {
		/* Kept after the reply, for duplicate replies. */
		xct_ct_account(
			ct, dir, pkt, now_ns,
			pkt->t.family == XCT_AF_INET6 ? XCT_ICMPV6_TIMEOUT : XCT_ICMP_TIMEOUT, res);
	} else {
		xct_ct_account(ct, dir, pkt, now_ns, XCT_GENERIC_TIMEOUT, res);
	}

	/* nf_conntrack_in(): SEEN_REPLY after the first valid reply.  A RST
	 * that was the only reply killed the connection first, and its
	 * DESTROY says [UNREPLIED], as nf_conntrack's does. */
	if (dir == XCT_DIR_REPLY && !res->kill)
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
	key->zone = pkt->zone;
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

XCT_INLINE int xct_addr_link_local6(const union xct_addr *a)
{
	return a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80; /* fe80::/10 */
}

XCT_INLINE int xct_addr_unspec6(const union xct_addr *a)
{
	return !(a->v6[0] | a->v6[1] | a->v6[2] | a->v6[3]);
}

/*
 * Whether an untracked ICMPv6 message (xct_icmpv6_untracked()) is what it
 * claims to be: a message of the link it arrived on, well formed, which the
 * receiving stack acts on.  Anything else with those types would pass
 * untracked, a way around the policy, so it is INVALID.  hop_limit is the
 * IPv6 header's, len the ICMPv6 message's length.
 *  - Neighbour discovery (RFC 4861 section 6.1, 7.1, 8.1): hop limit 255
 *    (no router forwarded it), code 0, at least the fixed part; a router
 *    advertisement and a redirect come from a link-local source.
 *  - MLD (RFC 2710 section 3, RFC 3810 section 5) and multicast router
 *    discovery (RFC 4286 section 2): hop limit 1, a link-local source (or,
 *    for an MLDv2 report, the unspecified address of a host without one
 *    yet), at least the fixed part.
 * Returns XCT_R_OK or the reason it is INVALID.
 */
XCT_INLINE __u8 xct_icmpv6_link_check(__u8 type, __u8 code, __u8 hop_limit, __u32 len,
				      const union xct_addr *src)
{
	__u32 min = 8;

	if (type >= 133 && type <= 137) {
		if (type == 134)
			min = 16;
		else if (type == 135 || type == 136)
			min = 24;
		else if (type == 137)
			min = 40;
		if (hop_limit != 255 || code != 0 || len < min)
			return XCT_R_ICMPV6_ND_INVALID;
		if ((type == 134 || type == 137) && !xct_addr_link_local6(src))
			return XCT_R_ICMPV6_ND_INVALID;
		return XCT_R_OK;
	}
	if (type >= 130 && type <= 132)
		min = 24;
	if (hop_limit != 1 || len < min)
		return XCT_R_ICMPV6_MLD_INVALID;
	if (!xct_addr_link_local6(src) && !(type == 143 && xct_addr_unspec6(src)))
		return XCT_R_ICMPV6_MLD_INVALID;
	return XCT_R_OK;
}

#endif /* XCT_CT_H */
