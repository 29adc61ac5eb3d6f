/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy's shared ABI and its exact logic: how a compiled ruleset is laid
 * out in maps, and the pieces of rule evaluation that do not touch a map
 * (field keys, the candidate walk over bit vectors, rate limits), compiled
 * both for the datapath and for the userspace compiler and its tests.
 *
 * Classification.  A linear walk over 10,000 rules per new connection is
 * too slow for XDP, so rules are classified by field, as in Polycube's and
 * the classic "bit vector" packet classifiers: for each field (protocol and
 * state, interface, source and destination address, ports, ICMP type, TCP
 * flags) the compiler splits the field's values into the regions no rule
 * tells apart and gives each region a class: the bit vector of the rules the
 * field lets match.  A packet looks up one class per field (an array index,
 * or a longest-prefix match for addresses), ANDs the vectors, and the lowest
 * set bit is the first rule that matches, since first match wins.
 *
 * Vectors are stored in chunks of 512 rules, and only the chunks that are
 * not all zero; each class also carries a 64-bit summary with a bit per
 * non-zero chunk.  The AND of the summaries says which chunks can hold a
 * match at all, so a packet reads the few chunks that matter rather than
 * every rule: the cost grows with the rules that match a packet's fields,
 * not with the ruleset.  Established packets only meet the rules that apply
 * to established packets, usually one.
 *
 * What a bit vector cannot say is checked per candidate rule: membership in
 * a named set (sets change at run time, without recompiling classes, so
 * they are looked up in their own tries) and rate limits.
 *
 * Reloads.  Every map that describes a ruleset holds two generations; the
 * datapath reads the active one from xct_policy_ctl, a loader fills the
 * other and flips the index with one atomic store (see src/rules/install.c).
 */
#ifndef XCT_POLICY_H
#define XCT_POLICY_H

#include "xct/compat.h"
#include "xct/abi.h"

#define XCT_RULES_MAX	    32768
#define XCT_CHUNK_BITS	    512
#define XCT_CHUNK_WORDS	    (XCT_CHUNK_BITS / 64)
#define XCT_CHUNKS	    (XCT_RULES_MAX / XCT_CHUNK_BITS) /* 64: one summary word */
#define XCT_POLICY_GENS	    2
#define XCT_SETS_MAX	    256
#define XCT_SET_ELEMS_MAX   (4 << 20) /* elements of each kind in one generation */
#define XCT_POLICY_TEXT_MAX 240
/* The protocol the policy sees for a packet whose transport header was
 * not parsed (bpf/xct.bpf.c). */
#define XCT_PROTO_NO_L4	    255
#define XCT_CLASS_GEN_SHIFT 31 /* class ids carry their generation in the top bit */

/* Which hook a rule applies at: rules without iif/oif apply to packets
 * arriving on attached interfaces; "oif" rules to packets the host sends. */
enum xct_rule_hook {
	XCT_HOOK_INGRESS = 0,
	XCT_HOOK_EGRESS = 1,
};

/* Verdicts, in the order of their strength in the counters. */
enum xct_verdict {
	XCT_VERDICT_ACCEPT = 0,
	XCT_VERDICT_DROP,
	XCT_VERDICT_REJECT,
	XCT_VERDICT_NOTRACK,
	/* Not a verdict: a 'return' of a user chain, inlined (src/rules/
	 * chains.c).  The walk goes on from the rule's skip_to. */
	XCT_VERDICT_RETURN,
	/* A rule's, never a packet's: the rule's statements (ct mark set,
	 * meta mark set) apply and the walk goes on to the next rule, as a
	 * rule with no verdict does in nftables. */
	XCT_VERDICT_CONTINUE,
};

enum xct_field {
	XCT_F_META = 0, /* hook, family, ct state, protocol */
	XCT_F_IFACE,
	XCT_F_SADDR,
	XCT_F_DADDR,
	XCT_F_SPORT,
	XCT_F_DPORT,
	XCT_F_ICMP,  /* type << 8 | code */
	XCT_F_FLAGS, /* TCP flags */
	XCT_F_COUNT,
};

/*
 * The META field's index.  "state" is an enum xct_ct_state, or
 * XCT_STAGE_RAW for the pass before tracking, where only notrack rules
 * apply.
 */
#define XCT_STAGE_RAW	 5
#define XCT_META_STATES	 8
#define XCT_META_ENTRIES (2 * 2 * XCT_META_STATES * 256)

XCT_INLINE __u32 xct_meta_index(__u32 hook, __u8 family, __u32 state, __u8 proto)
{
	__u32 fam = family == XCT_AF_INET6;

	return (((hook & 1) * 2 + fam) * XCT_META_STATES + (state & 7)) * 256 + proto;
}

/* What every field lookup returns. */
struct xct_class_ref {
	__u32 class_id;
	__u32 decided; /* META only: rule + 1 that decides with no other lookup */
	__u64 summary; /* bit c: chunk c of the class is not all zero */
};

struct xct_chunk_key {
	__u32 class_id;
	__u32 chunk;
};

struct xct_chunk {
	__u64 w[XCT_CHUNK_WORDS];
};

/* Keys of the address class tries: the generation and direction are part
 * of the prefix, so prefixlen = 32 + the address prefix length. */
struct xct_cls_v4_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 dir; /* 0 source, 1 destination */
	__u8 pad[2];
	__u8 addr[4];
};

struct xct_cls_v6_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 dir;
	__u8 pad[2];
	__u8 addr[16];
};

#define XCT_CLS_KEY_BITS 32

struct xct_cls_iface_key {
	__u32 gen;
	__u32 ifindex;
};

/*
 * Keys of xct_iface_names, which the datapath never reads: what a
 * generation's rules say of interface names (iifname "eth0", "veth*"),
 * kept so that a later xct attach can write the class of an interface
 * created after the load into xct_cls_iface (src/rules/install.c).  An
 * interface iif or oif names has an entry by index (name empty): its
 * class is the load's, whatever it is called now.
 */
#define XCT_IFNAME_LEN 16 /* IFNAMSIZ */

struct xct_iface_name_key {
	__u32 gen;
	__u32 ifindex; /* 0: name is a name or a wildcard ("veth*") */
	char name[XCT_IFNAME_LEN];
};

/* Named sets: one trie per element type, the set id part of the prefix.
 * Ids are unique across loads, so a reload never mixes two sets' elements. */
struct xct_set_v4_key {
	__u32 prefixlen; /* 32 + prefix length */
	__u32 set_id;	 /* network order, so that it compares as a prefix */
	__u8 addr[4];
};

struct xct_set_v6_key {
	__u32 prefixlen;
	__u32 set_id;
	__u8 addr[16];
};

struct xct_set_port_key {
	__u32 prefixlen; /* 32 + 0..16: a port range is stored as prefixes */
	__u32 set_id;
	__u16 port; /* network order */
	__u16 pad;
};

#define XCT_SET_KEY_BITS 32

/*
 * Concatenations (ip saddr . tcp dport @allowed): a set whose elements
 * are tuples of exact values, in a hash table per generation keyed by the
 * set id and the values laid end to end.  Each component takes 4 bytes
 * (an IPv6 address 16), as in nftables' registers: an IPv4 address and a
 * port in network order, a protocol in its first byte, a mark in host
 * order; the rest of the key is zero.  XCT_CONCAT_MAX components of at
 * most XCT_CONCAT_DATA bytes in all, as nft's 64-byte keys.
 */
#define XCT_CONCAT_MAX	5
#define XCT_CONCAT_DATA 64

/* What a rule's component reads from the packet: a nibble each in
 * xct_rule_rec.concat_fields, the first component in the low nibble. */
enum xct_concat_field {
	XCT_CF_NONE = 0,
	XCT_CF_SADDR4,
	XCT_CF_DADDR4,
	XCT_CF_SADDR6,
	XCT_CF_DADDR6,
	XCT_CF_SPORT,
	XCT_CF_DPORT,
	XCT_CF_PROTO,
	XCT_CF_META_MARK,
	XCT_CF_CT_MARK,
};

struct xct_set_concat_key {
	__u32 set_id;
	__u8 data[XCT_CONCAT_DATA];
};

/* Rule flags. */
#define XCT_RULE_LOG		 0x0001
#define XCT_RULE_LIMIT		 0x0002
#define XCT_RULE_LIMIT_PER_SADDR 0x0004
#define XCT_RULE_LIMIT_BYTES	 0x0008
#define XCT_RULE_SADDR_NEG	 0x0010
#define XCT_RULE_DADDR_NEG	 0x0020
#define XCT_RULE_SPORT_NEG	 0x0040
#define XCT_RULE_DPORT_NEG	 0x0080
/* Matches on the connection and the packet that no class stands for:
 * checked per candidate, from the record (struct xct_mark_cmp). */
#define XCT_RULE_CT_MARK       0x0100
#define XCT_RULE_META_MARK     0x0200
#define XCT_RULE_CT_STATUS     0x0400
#define XCT_RULE_CT_STATUS_NEG 0x0800
/* Any of the per-candidate matches above: such a rule never decides a
 * META class alone (the compiler's mark_decided()). */
#define XCT_RULE_CONN_MATCHES (XCT_RULE_CT_MARK | XCT_RULE_META_MARK | XCT_RULE_CT_STATUS)

/* Statements, in xct_rule_rec.stmts: what a matching rule does besides
 * its verdict. */
#define XCT_STMT_CT_MARK_SET   0x01 /* ct mark set ... */
#define XCT_STMT_META_MARK_SET 0x02 /* meta mark set ... */
#define XCT_STMT_CT_FROM_META  0x04 /* ct mark set meta mark ... */
#define XCT_STMT_META_FROM_CT  0x08 /* meta mark set ct mark ... */

/*
 * ct status bits a rule may name: the kernel's IPS_* values, which
 * struct xct_ct_entry's status uses too.  CONFIRMED is not kept in an
 * entry (every entry in xct's table is confirmed): the datapath sets it
 * for any packet of a connection past its first, as the kernel's
 * conntrack is confirmed once its first packet has passed.  EXPECTED
 * stays clear: xct runs no helper that would expect a connection.
 */
#define XCT_CTS_BIT_EXPECTED   0x0001
#define XCT_CTS_BIT_SEEN_REPLY 0x0002
#define XCT_CTS_BIT_ASSURED    0x0004
#define XCT_CTS_BIT_CONFIRMED  0x0008
#define XCT_CTS_BIT_SNAT       0x0010
#define XCT_CTS_BIT_DNAT       0x0020

/* The most values of one mark match's list: ct mark { 1, 2, 3 }. */
#define XCT_MARK_VALUES_MAX 8

/* A mark match: (mark & mask) is one of val[0..n) (or none of them,
 * negated); ct mark 0x10 has mask 0xffffffff and one value. */
struct xct_mark_cmp {
	__u32 mask;
	__u32 val[XCT_MARK_VALUES_MAX];
	__u8 n;
	__u8 negate;
	__u8 pad[2];
};

/*
 * A mark statement as nft's bitwise expression computes it:
 * mark = (source & mask) ^ xor, where the source is the mark being set
 * (ct mark set ct mark or 0x4) or the other one (ct mark set meta mark).
 * A constant has mask 0; "and M" and "or V" and "xor V" compose (see
 * xct_mark_op_and() and its siblings).
 */
struct xct_mark_op {
	__u32 mask;
	__u32 xor ;
};

/* Matches on the packet's header that no class stands for: checked per
 * candidate, from the record. */
#define XCT_RULE_TTL		 0x1000 /* ip ttl, ip6 hoplimit */
#define XCT_RULE_TTL_NEG	 0x2000
#define XCT_RULE_DSCP		 0x4000
#define XCT_RULE_DSCP_NEG	 0x8000
#define XCT_RULE_HDR		 (XCT_RULE_TTL | XCT_RULE_DSCP) /* checked per candidate */
#define XCT_RULE_LIMIT_OVER	 0x10000 /* limit rate over: matches past the rate */
/* A concatenation's lookup (xct_rule_rec.concat_set), checked per
 * candidate; _NEG: the tuple must not be in the set. */
#define XCT_RULE_CONCAT		 0x1000000
#define XCT_RULE_CONCAT_NEG	 0x2000000

/*
 * What a reject rule answers (reject with ...): the meaning of an ICMP
 * destination unreachable, whose code depends on the family (nftables'
 * icmpx), or a TCP RST.  XCT_REJECT_DEFAULT is xct's plain reject: a RST
 * for TCP, port unreachable for the rest.
 */
enum xct_reject_kind {
	XCT_REJECT_DEFAULT = 0,
	XCT_REJECT_TCP_RESET,
	XCT_REJECT_NO_ROUTE,	 /* IPv4 net-unreachable (0), IPv6 no-route (0) */
	XCT_REJECT_HOST_UNREACH, /* IPv4 host-unreachable (1), IPv6 addr-unreachable (3) */
	XCT_REJECT_PROT_UNREACH, /* IPv4 prot-unreachable (2); IPv4 only */
	XCT_REJECT_PORT_UNREACH, /* IPv4 port-unreachable (3), IPv6 port-unreachable (4) */
	XCT_REJECT_ADMIN,	 /* IPv4 admin-prohibited (13), IPv6 admin-prohibited (1) */
	XCT_REJECT_KINDS,
};

/* One rule, for the checks that follow its bit: sets and rate limit. */
struct xct_rule_rec {
	__u8 action;	 /* enum xct_verdict */
	__u8 stmts;	 /* XCT_STMT_* */
	__u8 reject;	 /* enum xct_reject_kind, for XCT_VERDICT_REJECT */
	__u8 pad;
	__u32 flags;	 /* XCT_RULE_* */
	__u32 saddr_set; /* set ids, 0 for none */
	__u32 daddr_set;
	__u32 sport_set;
	__u32 dport_set;
	__u32 line;		       /* in the rules file, for events and xct rules show */
	__u32 skip_to;		       /* XCT_VERDICT_RETURN: the first rule after its chain */
	__u32 src;		       /* the rule as written, for xct rules show's counters */
	__u8 ttl_lo, ttl_hi;	       /* XCT_RULE_TTL: the range it takes (or not, _NEG) */
	__u8 dscp_lo, dscp_hi;	       /* XCT_RULE_DSCP */
	__u64 limit_cost;	       /* credit one packet (or byte) costs, see xct_limit_take */
	__u64 limit_burst;	       /* credit the bucket holds */
	struct xct_mark_cmp ct_mark;   /* XCT_RULE_CT_MARK */
	struct xct_mark_cmp meta_mark; /* XCT_RULE_META_MARK */
	struct xct_mark_op ct_mark_set;
	struct xct_mark_op meta_mark_set;
	__u16 ct_status; /* XCT_RULE_CT_STATUS: any of these XCT_CTS_BIT_* */
	__u16 pad2[3];
	__u32 concat_set;    /* XCT_RULE_CONCAT: the set's id */
	__u32 concat_fields; /* its components, enum xct_concat_field a nibble each */
};

_Static_assert(sizeof(struct xct_rule_rec) == 168, "rule record layout");

/* Key of a per-source rate-limit bucket ("limit ... per saddr"). */
struct xct_limit_src_key {
	__u32 rule; /* gen * XCT_RULES_MAX + rule */
	__u32 family;
	union xct_addr addr;
};

struct xct_rule_stats {
	__u64 packets;
	__u64 bytes;
};

/* The policy's verdict on one packet, and the rule that gave it. */
struct xct_policy_out {
	__u8 verdict;	    /* enum xct_verdict */
	__u8 matched;	    /* a rule decided, rather than the default */
	__u8 ct_mark_set;   /* a rule set the connection's mark (xct_policy_in) */
	__u8 meta_mark_set; /* ... the packet's mark */
	__u32 rule;
	__u32 line;
	__u32 skip_to; /* of a matching return (XCT_VERDICT_RETURN) */
	__u8 reject;   /* enum xct_reject_kind of a rejecting rule */
	__u8 pad[3];
};

/* A generation's header. */
struct xct_policy_gen {
	__u32 n_rules;
	__u8 policy;	     /* enum xct_verdict for NEW and INVALID packets no rule decides */
	__u8 has_raw;	     /* notrack rules exist: run the raw stage */
	__u16 fields_used;   /* bit per enum xct_field some rule matches on */
	__u32 iface_default; /* class of interfaces no rule names */
	/* Whether packets must be looked at for NAT under this generation:
	 * they are the generation's, so they switch with its NAT rules. */
	__u8 nat;  /* NAT rules or bindings may exist: look at forwarded packets */
	__u8 dnat; /* dnat rules or their bindings may exist: look at arriving packets */
	/* A rule on arriving packets reads or sets meta mark, which XDP
	 * cannot run (xct attach checks). */
	__u8 meta_mark_in;
	__u8 pad;
	__u64 iface_default_summary;
};

/*
 * The single element of xct_policy_ctl, a memory-mapped array: the loader
 * flips active_gen with one atomic store, and a packet reads it once.
 */
struct xct_policy_ctl {
	__u32 active_gen;
	__u32 loaded;	   /* a ruleset has been installed */
	__u64 load_serial; /* loads so far: set ids and class ids derive from it */
	struct xct_policy_gen gen[XCT_POLICY_GENS];
};

/* What xct set add/list need: name, id and kind of each set, per gen. */
struct xct_set_info {
	char name[32]; /* "" for an anonymous concatenation, which no command names */
	__u32 id;
	__u8 kind;     /* enum xct_set_kind of src/rules/ruleset.h */
	__u8 ctype[3]; /* XCT_SET_CONCAT: enum xct_concat_type a nibble each, first low */
};

/* A written rule's text for xct rules show, keyed by gen << 16 | rule
 * as written (xct_rule_rec.src); rule XCT_RULES_MAX - 1 of each
 * generation holds the policy line. */
enum xct_text_kind {
	XCT_TEXT_RULE = 0,
	XCT_TEXT_FLOW,	      /* jump or goto: counted by the rules it reaches */
	XCT_TEXT_CHAIN_OPEN,  /* chain NAME { */
	XCT_TEXT_CHAIN_CLOSE, /* } */
	XCT_TEXT_MAP,	      /* map NAME { ... }, on one line */
};

struct xct_rule_text {
	__u32 line;
	char text[XCT_POLICY_TEXT_MAX];
	__u8 kind; /* enum xct_text_kind */
	__u8 pad[3];
};

/* Entries of xct_rule_text a generation may hold besides the policy line:
 * the written rules and a line per chain's '{' and '}'. */
#define XCT_TEXTS_MAX (XCT_RULES_MAX - 1)

/* ---- Logic ---- */

/*
 * Index of the lowest set bit of a non-zero word.  BPF has no ctz, and a
 * binary search branches six times, which multiplies the verifier's states
 * in a loop; this is branch-free: the bits below the lowest set one,
 * counted with a SWAR popcount.
 */
XCT_INLINE __u32 xct_ctz64(__u64 x)
{
	__u64 v = (x & -x) - 1;

	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (__u32)((v * 0x0101010101010101ULL) >> 56);
}

/*
 * Rate limits as GCRA (a token bucket kept as one timestamp): tat is the
 * "theoretical arrival time" after which the bucket is full again.  A packet
 * costing cost fits when the bucket, after it, is not more than burst in
 * debt.  Times are in 1/16 ns (ns << XCT_LIMIT_SHIFT), so that a byte
 * costs a non-zero amount up to 16 GB/s, while the monotonic clock still
 * takes 36 years to overflow them (with a shift of 10 it would take 208
 * days of uptime).  Returns the new tat, or 0 when the packet is over the
 * limit.
 */
#define XCT_LIMIT_SHIFT 4

XCT_INLINE __u64 xct_limit_next(__u64 tat, __u64 now_ns, __u64 cost, __u64 burst)
{
	__u64 now = now_ns << XCT_LIMIT_SHIFT;
	__u64 start = tat > now ? tat : now;
	__u64 next = start + cost;

	if (next - now > burst)
		return 0;
	return next;
}

/* Credit per packet for RATE per UNIT_NS, and the bucket for BURST. */
XCT_INLINE __u64 xct_limit_cost(__u64 rate, __u64 unit_ns)
{
	__u64 cost = (unit_ns << XCT_LIMIT_SHIFT) / (rate ? rate : 1);

	return cost ? cost : 1;
}

/*
 * The header matches of a rule (ip ttl, ip6 hoplimit, ip dscp): checked
 * for a candidate rule after its bit, so that they cost nothing to a
 * packet whose candidates use none.  hop_limit is IPv4's TTL or IPv6's
 * hop limit, dscp the top six bits of the TOS or traffic class.
 */
XCT_INLINE int xct_rule_hdr_match(const struct xct_rule_rec *rec, __u8 hop_limit, __u8 dscp)
{
	if (rec->flags & XCT_RULE_TTL) {
		int in = hop_limit >= rec->ttl_lo && hop_limit <= rec->ttl_hi;

		if (in == !!(rec->flags & XCT_RULE_TTL_NEG))
			return 0;
	}
	if (rec->flags & XCT_RULE_DSCP) {
		int in = dscp >= rec->dscp_lo && dscp <= rec->dscp_hi;

		if (in == !!(rec->flags & XCT_RULE_DSCP_NEG))
			return 0;
	}
	return 1;
}

/* The port a prefix of a port range covers: used to split a range into the
 * fewest prefixes (at most 30 for 16-bit ports). */
XCT_INLINE __u32 xct_range_prefix_len(__u32 lo, __u32 hi, __u32 bits)
{
	__u32 len = bits;

	/* Grow the block while lo stays aligned to it and it stays in range. */
	while (len > 0) {
		__u64 size = 1ULL << (bits - len + 1);

		if ((lo & (size - 1)) || lo + size - 1 > hi)
			break;
		len--;
	}
	return len;
}

/* ---- Concatenations ---- */

/* Bytes a component takes in a concatenation's key. */
XCT_INLINE __u32 xct_concat_field_len(__u32 f)
{
	return f == XCT_CF_SADDR6 || f == XCT_CF_DADDR6 ? 16 : 4;
}

/* Whether a concatenation reads the connection's mark. */
XCT_INLINE int xct_concat_has_ct_mark(__u32 fields)
{
	__u32 i;

	for (i = 0; i < XCT_CONCAT_MAX; i++)
		if (((fields >> (4 * i)) & 0xf) == XCT_CF_CT_MARK)
			return 1;
	return 0;
}

/* The packet's values a concatenation may read. */
struct xct_concat_pkt {
	const __u8 *saddr; /* 4 or 16 bytes, network order */
	const __u8 *daddr;
	__u16 sport, dport; /* host order */
	__u8 proto;
	__u32 meta_mark, ct_mark;
};

/*
 * The key data of a packet's lookup in a set of `fields' (nibbles of enum
 * xct_concat_field): data must hold XCT_CONCAT_DATA + 16 zeroed bytes (the
 * offset of each write is masked to stay in bounds for the verifier, and a
 * 16-byte write may start at the last byte).  Userspace writes a set's
 * elements with the same function, so both sides agree on the layout.
 */
XCT_INLINE void xct_concat_key(__u32 fields, const struct xct_concat_pkt *pk, __u8 *data)
{
	__u32 off = 0, i, j;

	for (i = 0; i < XCT_CONCAT_MAX; i++) {
		__u32 f = (fields >> (4 * i)) & 0xf, len = xct_concat_field_len(f);
		__u8 w[4] = {0, 0, 0, 0};
		const __u8 *src = w;

		switch (f) {
		case XCT_CF_SADDR4:
		case XCT_CF_SADDR6:
			src = pk->saddr;
			break;
		case XCT_CF_DADDR4:
		case XCT_CF_DADDR6:
			src = pk->daddr;
			break;
		case XCT_CF_SPORT:
		case XCT_CF_DPORT: {
			__u16 port = f == XCT_CF_SPORT ? pk->sport : pk->dport;

			w[0] = (__u8)(port >> 8);
			w[1] = (__u8)port;
			break;
		}
		case XCT_CF_PROTO:
			w[0] = pk->proto;
			break;
		case XCT_CF_META_MARK:
		case XCT_CF_CT_MARK:
			__builtin_memcpy(w, f == XCT_CF_META_MARK ? &pk->meta_mark : &pk->ct_mark,
					 4);
			break;
		default:
			return;
		}
		off &= XCT_CONCAT_DATA - 1;
		for (j = 0; j < 16; j++)
			if (j < len)
				data[off + j] = src[j];
		off += len;
	}
}

/* ---- Marks ---- */

/* Does mark pass the match? */
XCT_INLINE int xct_mark_cmp_match(const struct xct_mark_cmp *c, __u32 mark)
{
	__u32 v = mark & c->mask, i;
	int hit = 0;

	for (i = 0; i < XCT_MARK_VALUES_MAX; i++)
		if (i < c->n && c->val[i] == v)
			hit = 1;
	return hit != !!c->negate;
}

XCT_INLINE __u32 xct_mark_op_apply(const struct xct_mark_op *op, __u32 src)
{
	return (src & op->mask) ^ op->xor ;
}

/* The op's result, then "and m": ((x & mask) ^ xor) & m. */
XCT_INLINE void xct_mark_op_and(struct xct_mark_op *op, __u32 m)
{
	op->mask &= m;
	op->xor &= m;
}

/* ... then "or v": the bits of v set, whatever they were. */
XCT_INLINE void xct_mark_op_or(struct xct_mark_op *op, __u32 v)
{
	op->mask &= ~v;
	op->xor = (op->xor &~v) | v;
}

/* ... then "xor v". */
XCT_INLINE void xct_mark_op_xor(struct xct_mark_op *op, __u32 v)
{
	op->xor ^= v;
}

/* Does a connection with these XCT_CTS_BIT_* pass ct status (bits: any
 * of them set; negated: none of them)? */
XCT_INLINE int xct_ct_status_match(__u16 have, __u16 bits, int negate)
{
	return !!(have & bits) != !!negate;
}

#endif /* XCT_POLICY_H */
