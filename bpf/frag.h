/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fragments.  nf_conntrack sees a fragmented datagram once, reassembled
 * (nf_defrag), so the rules decide it as a whole.  XDP and TC cannot
 * reassemble; only the first fragment carries the transport header, so it
 * is the one tracked and judged, and its verdict is remembered for the
 * reassembly timeout under the identity the kernel reassembles by (source,
 * destination, IP id, and IPv4's protocol), as Cilium's fragment map does.
 * A later fragment passes only if its datagram's first fragment was
 * accepted; otherwise it is INVALID (frag_first_dropped, frag_no_first)
 * and the policy decides it, so that `policy drop` drops it.
 *
 * Deviations from reassembly: a later fragment that arrives before its
 * first is dropped (the kernel would queue it), and a datagram's bytes are
 * counted to its connection as they come (one packet, the reassembled
 * length, as nf_conntrack counts it), not once when it is complete.
 */
#ifndef XCT_BPF_FRAG_H
#define XCT_BPF_FRAG_H

#include "ct_table.h"
#include "xct/policy.h" /* verdicts */

/* The kernel's default reassembly timeouts: net.ipv4.ipfrag_time and
 * net.ipv6.ip6frag_time. */
#define XCT_FRAG_TIMEOUT_V4_NS (30ULL * 1000 * 1000 * 1000)
#define XCT_FRAG_TIMEOUT_V6_NS (60ULL * 1000 * 1000 * 1000)

/* The datagram a fragment belongs to. */
static __always_inline void xct_frag_key_of(const struct xct_pkt *pkt, struct xct_frag_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src = pkt->t.src;
	k->dst = pkt->t.dst;
	k->id = pkt->frag_id;
	k->family = pkt->t.family;
	/* RFC 8200: an IPv6 datagram's fragments may name different next
	 * headers, only the first one's counts; IPv4 reassembles by
	 * protocol too (ip_frag_key). */
	k->proto = pkt->t.family == XCT_AF_INET ? pkt->t.proto : 0;
}

/*
 * A first fragment was decided: remember the verdict until the datagram
 * would time out in reassembly.  conn, when the first fragment was
 * tracked, is its connection, for the later fragments' bytes.  An insert
 * into an LRU map does not fail for lack of room; should it fail anyway,
 * the later fragments find nothing and are dropped: the failure fails
 * closed.
 */
static __always_inline void xct_frag_first(const struct xct_pkt *pkt, __u8 verdict, __u64 now,
					   const struct xct_ct_key *conn, __u8 side, __u8 ct_state)
{
	__u64 expires = now + (pkt->t.family == XCT_AF_INET ? XCT_FRAG_TIMEOUT_V4_NS
							     : XCT_FRAG_TIMEOUT_V6_NS);
	struct xct_frag_val v = {};
	struct xct_frag_key k;

	xct_frag_key_of(pkt, &k);
	if (verdict != XCT_VERDICT_ACCEPT) {
		/* A refused datagram reusing an accepted one's id: its
		 * later fragments must not pass on the old verdict. */
		bpf_map_delete_elem(&xct_frags, &k);
		bpf_map_update_elem(&xct_frags_refused, &k, &expires, BPF_ANY);
		return;
	}
	v.expires_ns = expires;
	v.ct_state = ct_state;
	if (conn) {
		v.conn = *conn;
		v.side = side;
		v.tracked = 1;
	}
	bpf_map_update_elem(&xct_frags, &k, &v, BPF_ANY);
}

/*
 * A later fragment's bytes count to its datagram's connection: nf_conntrack
 * counts the reassembled datagram, one packet of its whole length, and the
 * first fragment was counted as the packet.  The entry is updated under its
 * lock with its sequence number bumped, so that an update that copied the
 * entry before (bpf/ct_table.h) starts again rather than write back the
 * old count.  The payload is the fragment less its IP header (and, for
 * IPv6, the fragment header; extension headers before it are not told
 * apart).
 */
static __always_inline void xct_frag_account(const struct xct_frag_val *v,
					     const struct xct_pkt *pkt, __u32 ip_hlen)
{
	struct xct_ct_entry *ct;
	__u32 bytes;
	__u8 dir;

	if (!v->tracked || pkt->l3_len <= ip_hlen)
		return;
	bytes = pkt->l3_len - ip_hlen;
	ct = bpf_map_lookup_elem(&xct_ct, &v->conn);
	if (!ct)
		return;
	bpf_spin_lock(&ct->lock);
	dir = v->side == ct->orig_side ? XCT_DIR_ORIGINAL : XCT_DIR_REPLY;
	if (!(ct->status & XCT_CT_DYING) && xct_ct_holds(ct, xct_key_ident(&v->conn))) {
		ct->bytes[dir & 1] += bytes;
		ct->seq++;
	}
	bpf_spin_unlock(&ct->lock);
}

/*
 * A later fragment: 1 if its datagram's first fragment was accepted (res
 * then says the first's state), 0 if not, res then INVALID with the reason.
 */
static __always_inline int xct_frag_later(const struct xct_pkt *pkt, __u64 now, __u32 ip_hlen,
					  struct xct_ct_result *res)
{
	struct xct_frag_val *v;
	struct xct_frag_key k;
	__u64 *refused;

	xct_frag_key_of(pkt, &k);
	v = bpf_map_lookup_elem(&xct_frags, &k);
	if (v && now < v->expires_ns) {
		res->ct_state = v->ct_state;
		res->reason = XCT_R_FRAGMENT;
		xct_frag_account(v, pkt, ip_hlen);
		return 1;
	}
	refused = bpf_map_lookup_elem(&xct_frags_refused, &k);
	res->ct_state = XCT_CTS_INVALID;
	res->reason = refused && now < *refused ? XCT_R_FRAG_FIRST_DROPPED : XCT_R_FRAG_NO_FIRST;
	return 0;
}

/* Whether a later fragment's reason says its datagram was not accepted:
 * it is dropped whatever the rules, as its first fragment was (or, never
 * seen, could not be judged). */
static __always_inline int xct_frag_refused(__u8 reason)
{
	return reason == XCT_R_FRAG_NO_FIRST || reason == XCT_R_FRAG_FIRST_DROPPED;
}

#endif /* XCT_BPF_FRAG_H */
