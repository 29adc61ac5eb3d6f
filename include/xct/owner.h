/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which process owns a connection: the record the cgroup and sockops
 * programs (bpf/owner.bpf.c) make in the owner's own context, the keys they
 * file it under, and the owner rules (meta skuid, meta skgid, socket
 * cgroupv2) those programs decide at connect() and sendmsg().  Shared by
 * the datapath, the CLI and the unit tests.
 *
 * The record lives in maps of its own, never in struct xct_ct_entry, as
 * nf_conntrack keeps its extensions apart: xct_owner under the table's key
 * (removed with the entry), xct_owner_sock under the socket cookie (removed
 * when the socket is released), xct_owner_listen under a bound port.
 */
#ifndef XCT_OWNER_H
#define XCT_OWNER_H

#include "compat.h"
#include "abi.h"
#include "parse.h"
#include "tuple.h"

/* How the owner was learnt (struct xct_owner.how). */
enum xct_owner_how {
	XCT_OWNER_NONE = 0,
	XCT_OWNER_CONNECT,  /* TCP: connect(), in the connecting thread */
	XCT_OWNER_SEND,	    /* UDP: connect() or the first sendmsg() to the peer */
	XCT_OWNER_LISTENER, /* accepted: the thread that bound the listening port */
	XCT_OWNER_BIND,	    /* a bound socket (xct_owner_listen) */
};

#define XCT_OWNER_COMM_LEN 16

/* Who owns a socket, as seen in its owner's context. */
struct xct_owner {
	__u64 cookie;	 /* the socket's cookie (ss -e shows it as sk:) */
	__u64 time_ns;	 /* when it was recorded (CLOCK_MONOTONIC) */
	__u64 cgroup_id; /* the owner's cgroup v2 (its directory's inode) */
	__u32 pid;	 /* the thread: what the kernel calls pid */
	__u32 tgid;	 /* the process: what ps calls the pid */
	__u32 uid;
	__u32 gid;
	char comm[XCT_OWNER_COMM_LEN];
	__u8 how; /* enum xct_owner_how */
	__u8 pad[7];
};

/* A bound socket, for the connections its listener accepts. */
struct xct_owner_listen_key {
	union xct_addr addr; /* all zero: bound to every address */
	__u16 port;	     /* network order */
	__u8 family;
	__u8 proto;
};

/* A connection event (bpf/ct_events.h) of an owned connection: the event,
 * then its owner.  Readers tell the two by the record's size. */
struct xct_ct_event_owned {
	struct xct_ct_event ev;
	struct xct_owner owner;
};

/* Whether the owner programs record for this instance (xct_owner_ctl). */
struct xct_owner_ctl {
	__u64 netns_cookie; /* only sockets of this network namespace count */
	__u32 on;	    /* xct attach-cgroup has attached them somewhere */
	__u32 n_rules[2];   /* owner rules in use, by policy generation */
	__u32 pad;
};

/* What the owner programs count (xct_owner_stats, per CPU). */
enum xct_owner_stat {
	XCT_OWNER_S_RECORDED,	 /* an owner filed under a connection's key */
	XCT_OWNER_S_FULL,	 /* one that found its map full: not attributed */
	XCT_OWNER_S_REFUSED,	 /* a connect() or sendmsg() an owner rule refused */
	XCT_OWNER_S_NO_LISTENER, /* an accepted connection whose listener was not seen */
	XCT_OWNER_S_SWEPT,	 /* a record no entry held, swept (xct_owner_sweepable()) */
	XCT_OWNER_STATS_COUNT,
};

/*
 * A record under a connection's key that no entry holds is never removed
 * with one: its connection went over an interface xct is not attached to
 * (lo, most often), or its entry ended before it was filed.  The collector
 * sweeps it once its socket is released (no longer in xct_owner_sock),
 * after a grace that covers a record filed just before its connection's
 * first packet makes the entry; and whatever its socket, once it is older
 * than the longest timeout, which no entry outlives unseen.
 */
#define XCT_OWNER_SWEEP_GRACE_NS (2ULL * 1000000000ULL)

XCT_INLINE int xct_owner_sweepable(const struct xct_owner *o, __u64 now_ns, int released,
				   __u64 longest_ns)
{
	__u64 age = now_ns > o->time_ns ? now_ns - o->time_ns : 0;

	if (released && age >= XCT_OWNER_SWEEP_GRACE_NS)
		return 1;
	return age >= longest_ns;
}

/* Owner rules: what a rule with meta skuid, meta skgid or socket cgroupv2
 * matches, decided at connect() and sendmsg() (xct_owner_rule_match()).
 * One rule of the file may take several (a list is one per element);
 * xct_owner_rules holds them at gen * XCT_OWNER_RULES_MAX + i, the
 * generation being the policy's, switched by the same store. */
#define XCT_OWNER_RULES_MAX 64

#define XCT_OM_UID	    0x0001
#define XCT_OM_UID_NEG	    0x0002
#define XCT_OM_GID	    0x0004
#define XCT_OM_GID_NEG	    0x0008
#define XCT_OM_CGROUP	    0x0010
#define XCT_OM_CG_NEG	    0x0020
#define XCT_OM_FAMILY	    0x0040
#define XCT_OM_PROTO	    0x0080
#define XCT_OM_DADDR	    0x0100
#define XCT_OM_DADDR_NEG    0x0200
#define XCT_OM_DPORT	    0x0400
#define XCT_OM_DPORT_NEG    0x0800

/* What the caller of connect() or sendmsg() sees of a refusal is what
 * nft's output chain gives it: reject answers a TCP SYN with ICMP port
 * unreachable (ECONNREFUSED) and drops a datagram (EPERM); drop fails
 * both with EPERM (nft's drop leaves a connect() resending its SYN until
 * it times out: xct refuses at once, see docs/RULES.md). */
enum xct_owner_verdict {
	XCT_OWNER_ACCEPT = 1,
	XCT_OWNER_DROP,
	XCT_OWNER_REJECT,
};

/* The error a refused attempt of protocol proto gets: 0 when accepted. */
XCT_INLINE int xct_owner_verdict_errno(__u8 verdict, __u8 proto)
{
	if (verdict == XCT_OWNER_REJECT && proto == XCT_IPPROTO_TCP)
		return 111; /* ECONNREFUSED */
	if (verdict == XCT_OWNER_DROP || verdict == XCT_OWNER_REJECT)
		return 1; /* EPERM */
	return 0;
}

struct xct_owner_rule {
	__u64 cgroup_id; /* the cgroup at level cg_level of the owner's */
	__u32 uid_lo, uid_hi;
	__u32 gid_lo, gid_hi;
	union xct_addr daddr;	  /* network order, masked to dprefix */
	__u16 dport_lo, dport_hi; /* host order */
	__u16 match;		  /* XCT_OM_* */
	__u8 verdict;		  /* enum xct_owner_verdict */
	__u8 cg_level;
	__u8 family;
	__u8 proto;
	__u8 dprefix;
	__u8 pad;
};

/* What a connection attempt shows the owner rules. */
struct xct_owner_attempt {
	union xct_addr daddr;
	__u32 uid, gid;
	__u16 dport; /* host order */
	__u8 family;
	__u8 proto;
};

/* Whether a lies in the prefix p/len (both network order). */
XCT_INLINE int xct_owner_addr_in(const union xct_addr *a, const union xct_addr *p, __u8 len,
				 __u8 family)
{
	int i;

	if (family == XCT_AF_INET) {
		__u32 mask = len ? xct_htonl(~0U << (32 - (len > 32 ? 32 : len))) : 0;

		return (a->v4 & mask) == p->v4;
	}
	for (i = 0; i < 4; i++) {
		int bits = (int)len - 32 * i;
		__u32 mask;

		if (bits <= 0)
			break;
		mask = bits >= 32 ? ~0U : xct_htonl(~0U << (32 - bits));
		if ((a->v6[i] & mask) != p->v6[i])
			return 0;
	}
	return 1;
}

/* Whether the rule matches an attempt; cg is the owner's cgroup at the
 * rule's cg_level (0 where it has none that deep). */
XCT_INLINE int xct_owner_rule_match(const struct xct_owner_rule *r,
				    const struct xct_owner_attempt *a, __u64 cg)
{
	__u16 m = r->match;

	if ((m & XCT_OM_FAMILY) && a->family != r->family)
		return 0;
	if ((m & XCT_OM_PROTO) && a->proto != r->proto)
		return 0;
	if ((m & XCT_OM_UID) &&
	    ((a->uid >= r->uid_lo && a->uid <= r->uid_hi) == !!(m & XCT_OM_UID_NEG)))
		return 0;
	if ((m & XCT_OM_GID) &&
	    ((a->gid >= r->gid_lo && a->gid <= r->gid_hi) == !!(m & XCT_OM_GID_NEG)))
		return 0;
	if ((m & XCT_OM_CGROUP) && ((cg == r->cgroup_id) == !!(m & XCT_OM_CG_NEG)))
		return 0;
	if (m & XCT_OM_DADDR) {
		if (a->family != r->family)
			return 0;
		if (xct_owner_addr_in(&a->daddr, &r->daddr, r->dprefix, a->family) ==
		    !!(m & XCT_OM_DADDR_NEG))
			return 0;
	}
	if ((m & XCT_OM_DPORT) &&
	    ((a->dport >= r->dport_lo && a->dport <= r->dport_hi) == !!(m & XCT_OM_DPORT_NEG)))
		return 0;
	return 1;
}

/*
 * The table's key of a connection a socket holds, from its local and remote
 * address and port (network order): the key xct_key_from_tuple() gives its
 * entry, whichever side sent the first packet (TCP and UDP only).  Written
 * with constant indices: the datapath's form indexes the key by the side,
 * which clang may turn into an OR on a stack pointer that the verifier
 * refuses in the sockops and cgroup programs.
 */
XCT_INLINE void xct_owner_key(__u8 family, __u8 proto, const union xct_addr *laddr, __u16 lport,
			      const union xct_addr *raddr, __u16 rport, struct xct_ct_key *key)
{
	int cmp = xct_addr_cmp(laddr, raddr);

	if (cmp == 0)
		cmp = xct_ntohs(lport) <= xct_ntohs(rport) ? -1 : 1;
	__builtin_memset(key, 0, sizeof(*key));
	key->family = family;
	key->proto = proto;
	if (cmp > 0) {
		key->addr[0] = *raddr;
		key->addr[1] = *laddr;
		key->port[0] = rport;
		key->port[1] = lport;
	} else {
		key->addr[0] = *laddr;
		key->addr[1] = *raddr;
		key->port[0] = lport;
		key->port[1] = rport;
	}
}

_Static_assert(sizeof(struct xct_owner) == 64, "owner layout");
_Static_assert(sizeof(struct xct_owner_rule) == 56, "owner rule layout");
_Static_assert(sizeof(struct xct_ct_event_owned) == sizeof(struct xct_ct_event) + 64,
	       "owned event layout");

#endif /* XCT_OWNER_H */
