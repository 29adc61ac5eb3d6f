/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy in the datapath: the maps a compiled ruleset lives in, and the
 * evaluation of one packet against the active generation (the layout and
 * the classification scheme are explained in include/xct/policy.h).
 *
 * Cost.  One lookup per field a rule uses, then only the 512-rule chunks
 * whose summaries all say "something may match here", then one record per
 * candidate rule.  Chunks and candidates are walked with bpf_loop and the
 * per-rule check is a global function, so the verifier sees each once
 * however many rules there are.
 */
#ifndef XCT_BPF_POLICY_H
#define XCT_BPF_POLICY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ct_table.h" /* counters */
#include "maps.h"
#include "xct/policy.h"

/* ---- Maps, all pinned: a reload or a second xct command sees them ---- */

/* xct_policy_ctl, the generations' headers, is in maps.h: NAT reads it. */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_class_ref);
	__uint(max_entries, XCT_POLICY_GENS *XCT_META_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xct_cls_iface_key);
	__type(value, struct xct_class_ref);
	__uint(max_entries, 4096);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_iface SEC(".maps");

/* Read by xct attach only (include/xct/policy.h), pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_iface_name_key);
	__type(value, struct xct_class_ref);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_iface_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_cls_v4_key);
	__type(value, struct xct_class_ref);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_cls_v6_key);
	__type(value, struct xct_class_ref);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_v6 SEC(".maps");

/* Indexed by (gen * 2 + dir) * 65536 + port. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_class_ref);
	__uint(max_entries, XCT_POLICY_GENS * 2 * 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_port SEC(".maps");

/* Indexed by gen * 65536 + (type << 8 | code). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_class_ref);
	__uint(max_entries, XCT_POLICY_GENS * 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_icmp SEC(".maps");

/* Indexed by gen * 256 + TCP flags. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_class_ref);
	__uint(max_entries, XCT_POLICY_GENS * 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_cls_flags SEC(".maps");

/* The non-zero chunks of every class's bit vector. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_chunk_key);
	__type(value, struct xct_chunk);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_chunks SEC(".maps");

/* Rules, counters and rate-limit state, indexed by gen * XCT_RULES_MAX +
 * rule; the last index of each generation stands for the policy line. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_rule_rec);
	__uint(max_entries, XCT_POLICY_GENS *XCT_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_rule_stats);
	__uint(max_entries, XCT_POLICY_GENS *XCT_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64); /* GCRA theoretical arrival time */
	__uint(max_entries, XCT_POLICY_GENS *XCT_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_limits SEC(".maps");

/* Per-source buckets ("limit ... per saddr"): LRU, so a scan from many
 * addresses recycles the oldest buckets rather than failing. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xct_limit_src_key);
	__type(value, __u64);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_limits_src SEC(".maps");

/* The event stream (include/xct/abi.h), and each rule's log sampler. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCT_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_events SEC(".maps");

/* The datapath's drops and rejects (XCT_EV_DROP), for xct trace: a ring of
 * their own, so that a trace and a reader of log events never take each
 * other's events (a ring buffer has one consumer position). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCT_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_drop_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64); /* GCRA theoretical arrival time */
	__uint(max_entries, XCT_POLICY_GENS *XCT_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_log_limits SEC(".maps");

/*
 * Named sets' elements: one trie per element type and generation, held in
 * an array of maps by generation.  A load puts fresh tries in the slot of
 * the generation it fills, so the old elements go with the old tries, freed
 * by the kernel, however many there were.  Replacing a slot from userspace
 * also waits for an RCU grace period, which is what makes reusing the
 * inactive generation safe (src/rules/install.c).
 */
/* Sizes rather than types: clang emits only a declaration of a key type
 * that no map instance names, and libbpf cannot size that. */
struct xct_set_v4_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct xct_set_v4_key));
	__uint(value_size, 1);
	__uint(max_entries, XCT_SET_ELEMS_MAX);
};

struct xct_set_v6_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct xct_set_v6_key));
	__uint(value_size, 1);
	__uint(max_entries, XCT_SET_ELEMS_MAX);
};

struct xct_set_port_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct xct_set_port_key));
	__uint(value_size, 1);
	__uint(max_entries, XCT_SET_ELEMS_MAX);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, XCT_POLICY_GENS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xct_set_v4_trie);
} xct_sets_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, XCT_POLICY_GENS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xct_set_v6_trie);
} xct_sets_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, XCT_POLICY_GENS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xct_set_port_trie);
} xct_sets_port SEC(".maps");

/* Concatenations' sets: one hash table per generation, keyed by the set
 * id and the tuple (include/xct/policy.h), swapped in with the tries. */
struct xct_set_concat_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct xct_set_concat_key));
	__uint(value_size, 1);
	__uint(max_entries, XCT_SET_ELEMS_MAX);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, XCT_POLICY_GENS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xct_set_concat_hash);
} xct_sets_concat SEC(".maps");

/* A concatenation's key is built in a per-CPU buffer: the offset of each
 * component varies with the ones before it, which a map value takes and
 * the stack of the candidate check could not spare.  The slack behind the
 * key keeps every masked write in bounds (xct_concat_key()). */
struct xct_concat_buf {
	struct xct_set_concat_key k;
	__u8 slack[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_concat_buf);
	__uint(max_entries, 1);
} xct_concat_buf SEC(".maps");

/* For the CLI only: set names and rule texts of both generations. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_set_info);
	__uint(max_entries, XCT_POLICY_GENS *XCT_SETS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_set_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct xct_rule_text);
	__uint(max_entries, XCT_POLICY_GENS *XCT_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_rule_text SEC(".maps");

/* ---- Evaluation ---- */

/* What rules match on, taken from the parsed packet and the tracker. */
struct xct_policy_in {
	union xct_addr saddr;
	union xct_addr daddr;
	__u64 now;
	__u32 ifindex;
	__u32 len;   /* IP length, for byte limits and counters */
	__u16 sport; /* host order */
	__u16 dport;
	__u8 hook; /* enum xct_rule_hook */
	__u8 family;
	__u8 proto;
	__u8 state; /* enum xct_ct_state, or XCT_STAGE_RAW */
	__u8 has_ports;
	__u8 is_icmp;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 is_tcp;
	__u8 tcp_flags;
	__u8 hop_limit; /* TTL or hop limit, for ip ttl / ip6 hoplimit */
	__u8 dscp;
	__u8 pad[2];
	/* The connection's XCT_CTS_BIT_* and mark, and the packet's mark
	 * (skb->mark, 0 at XDP); a rule's ct/meta mark set changes the
	 * marks here, so that the rules after it see the new values, and
	 * the caller stores them when the walk is done. */
	__u16 ct_status;
	__u32 ct_mark;
	__u32 meta_mark;
};

/* The walk over candidate rules, for one packet. */
struct xct_walk {
	__u32 gen;
	__u32 n_classes;
	__u32 class_id[XCT_F_COUNT];
	__u64 summary; /* chunks still to visit */
	__u32 chunk;   /* the chunk being visited */
	__u32 found;
	__u32 dflt;	      /* the verdict if no rule decides */
	__u32 skip_to;	      /* a return matched: no candidate before this rule */
	struct xct_chunk acc; /* its candidates not yet checked */
};

/*
 * An evaluation's state lives in a per-CPU map value, not on the stack: the
 * walk runs in bpf_loop callbacks two frames below the entry program, and
 * the stack of every frame on that chain counts against one 512-byte limit.
 */
struct xct_policy_scratch {
	struct xct_policy_in in;
	struct xct_policy_out out;
	struct xct_walk w;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_policy_scratch);
	__uint(max_entries, 1);
} xct_policy_scratch SEC(".maps");

static __always_inline struct xct_policy_scratch *xct_policy_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xct_policy_scratch, &zero);
}

static __always_inline int xct_set_has_addr(__u32 gen, __u32 set_id, __u8 family,
					    const union xct_addr *a)
{
	void *trie;

	if (family == XCT_AF_INET) {
		struct xct_set_v4_key k = {.prefixlen = XCT_SET_KEY_BITS + 32,
					   .set_id = xct_htonl(set_id)};

		trie = bpf_map_lookup_elem(&xct_sets_v4, &gen);
		if (!trie)
			return 0;
		__builtin_memcpy(k.addr, a->bytes, 4);
		return bpf_map_lookup_elem(trie, &k) != 0;
	} else {
		struct xct_set_v6_key k = {.prefixlen = XCT_SET_KEY_BITS + 128,
					   .set_id = xct_htonl(set_id)};

		trie = bpf_map_lookup_elem(&xct_sets_v6, &gen);
		if (!trie)
			return 0;
		__builtin_memcpy(k.addr, a->bytes, 16);
		return bpf_map_lookup_elem(trie, &k) != 0;
	}
}

static __always_inline int xct_set_has_port(__u32 gen, __u32 set_id, __u16 port)
{
	struct xct_set_port_key k = {.prefixlen = XCT_SET_KEY_BITS + 16,
				     .set_id = xct_htonl(set_id),
				     .port = xct_htons(port)};
	void *trie = bpf_map_lookup_elem(&xct_sets_port, &gen);

	return trie && bpf_map_lookup_elem(trie, &k) != 0;
}

/*
 * Whether the packet's tuple of the rule's concatenation is in its set.
 * Ports exist for TCP and UDP only, a ct mark for a packet with a
 * connection: without them the tuple is in no set.
 */
static __always_inline int xct_set_has_concat(__u32 gen, const struct xct_rule_rec *rec,
					      const struct xct_policy_in *in)
{
	struct xct_concat_pkt pk = {.saddr = in->saddr.bytes,
				    .daddr = in->daddr.bytes,
				    .sport = in->sport,
				    .dport = in->dport,
				    .proto = in->proto,
				    .meta_mark = in->meta_mark,
				    .ct_mark = in->ct_mark};
	struct xct_concat_buf *b;
	__u32 zero = 0, f, i;
	void *hash;

	for (i = 0; i < XCT_CONCAT_MAX; i++) {
		f = (rec->concat_fields >> (4 * i)) & 0xf;
		if ((f == XCT_CF_SPORT || f == XCT_CF_DPORT) && !in->has_ports)
			return 0;
	}
	hash = bpf_map_lookup_elem(&xct_sets_concat, &gen);
	b = bpf_map_lookup_elem(&xct_concat_buf, &zero);
	if (!hash || !b)
		return 0;
	__builtin_memset(b, 0, sizeof(*b));
	b->k.set_id = rec->concat_set;
	xct_concat_key(rec->concat_fields, &pk, b->k.data);
	return bpf_map_lookup_elem(hash, &b->k) != 0;
}

/* Takes cost from a GCRA bucket; 1 if the packet is within the limit.  A
 * lost compare-and-swap means another CPU took from the bucket: retry. */
static __always_inline int xct_limit_take(__u64 *tat, __u64 now, __u64 cost, __u64 burst)
{
	int i;

	for (i = 0; i < 4; i++) {
		__u64 old = *tat;
		__u64 next = xct_limit_next(old, now, cost, burst);

		if (!next)
			return 0;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return 1;
	}
	return 0;
}

static __always_inline int xct_rule_limit(__u32 idx, const struct xct_rule_rec *rec,
					  const struct xct_policy_in *in)
{
	__u64 cost = rec->limit_cost;
	__u64 *tat;

	if (rec->flags & XCT_RULE_LIMIT_BYTES)
		cost *= in->len;
	if (!(rec->flags & XCT_RULE_LIMIT_PER_SADDR)) {
		tat = bpf_map_lookup_elem(&xct_limits, &idx);
		return tat && xct_limit_take(tat, in->now, cost, rec->limit_burst);
	} else {
		struct xct_limit_src_key k = {.rule = idx, .family = in->family, .addr = in->saddr};
		__u64 first;

		tat = bpf_map_lookup_elem(&xct_limits_src, &k);
		if (tat)
			return xct_limit_take(tat, in->now, cost, rec->limit_burst);
		/* A new source starts with a full bucket. */
		first = xct_limit_next(0, in->now, cost, rec->limit_burst);
		if (!first)
			return 0;
		if (bpf_map_update_elem(&xct_limits_src, &k, &first, BPF_NOEXIST) == 0)
			return 1;
		tat = bpf_map_lookup_elem(&xct_limits_src, &k);
		return tat && xct_limit_take(tat, in->now, cost, rec->limit_burst);
	}
}

/* An event about the packet the policy sees. */
static __always_inline void xct_event_fill(struct xct_event *ev, const struct xct_policy_in *in,
					   __u8 type, __u8 verdict, __u8 ct_state, __u8 reason,
					   __u8 flags, __u32 line)
{
	ev->time_ns = xct_now_fine();
	ev->type = type;
	ev->verdict = verdict;
	ev->ct_state = ct_state;
	ev->family = in->family;
	ev->proto = in->proto;
	ev->hook = in->hook;
	ev->reason = reason;
	ev->flags = flags;
	ev->ifindex = in->ifindex;
	ev->line = line;
	ev->src = in->saddr;
	ev->dst = in->daddr;
	ev->sport = in->is_icmp ? (__u16)(in->icmp_type << 8 | in->icmp_code) : in->sport;
	ev->dport = in->dport;
	ev->len = in->len;
}

/* A log rule decided the packet: one event, if its sampler allows. */
static __always_inline void xct_rule_log(__u32 idx, const struct xct_rule_rec *rec,
					 const struct xct_policy_in *in)
{
	__u64 cost = xct_limit_cost(XCT_LOG_RATE, XCT_NSEC_PER_SEC);
	__u64 *tat = bpf_map_lookup_elem(&xct_log_limits, &idx);
	struct xct_event *ev;

	if (!tat || !xct_limit_take(tat, in->now, cost, cost * XCT_LOG_RATE)) {
		xct_count(XCT_S_LOG_SAMPLED_OUT);
		return;
	}
	ev = bpf_ringbuf_reserve(&xct_events, sizeof(*ev), 0);
	if (!ev) {
		xct_count(XCT_S_EVENTS_LOST);
		return;
	}
	xct_event_fill(ev, in, XCT_EV_RULE_LOG, rec->action, in->state, 0, XCT_EVF_MATCHED,
		       rec->line);
	bpf_ringbuf_submit(ev, 0);
	xct_count(XCT_S_LOG_EVENTS);
}

/* Counts a packet of len bytes against a rule of generation gen, or
 * against the policy line's slot (XCT_RULES_MAX - 1). */
static __always_inline void xct_policy_count(__u32 gen, __u32 rule, __u32 len)
{
	__u32 idx = (gen & 1) * XCT_RULES_MAX + (rule & (XCT_RULES_MAX - 1));
	struct xct_rule_stats *st = bpf_map_lookup_elem(&xct_rule_stats, &idx);

	if (st) {
		st->packets++;
		st->bytes += len;
	}
}

/*
 * ct mark, meta mark and ct status, from the values the tracker and the
 * rules before left in in.  Only a packet with a connection (NEW,
 * ESTABLISHED, RELATED) has a ct mark or status: for the others a ct
 * match is false, negated or not (the compiler keeps such rules out of
 * their classes already).
 */
static __always_inline int xct_rule_conn_match(const struct xct_rule_rec *rec,
					       const struct xct_policy_in *in)
{
	if ((rec->flags & (XCT_RULE_CT_MARK | XCT_RULE_CT_STATUS)) && in->state > XCT_CTS_RELATED)
		return 0;
	if ((rec->flags & XCT_RULE_CT_MARK) && !xct_mark_cmp_match(&rec->ct_mark, in->ct_mark))
		return 0;
	if ((rec->flags & XCT_RULE_META_MARK) &&
	    !xct_mark_cmp_match(&rec->meta_mark, in->meta_mark))
		return 0;
	if ((rec->flags & XCT_RULE_CT_STATUS) &&
	    !xct_ct_status_match(in->ct_status, rec->ct_status,
				 rec->flags & XCT_RULE_CT_STATUS_NEG))
		return 0;
	return 1;
}

/*
 * A matching rule's mark statements, on the values in in: both computed
 * from the marks as they were before the rule, so that "ct mark set meta
 * mark meta mark set ct mark" swaps them.  The ct mark is kept for a
 * packet whose connection has an entry of its own key (NEW, ESTABLISHED);
 * the caller writes it there (xct_commit()).
 */
static __always_inline void xct_rule_stmts(const struct xct_rule_rec *rec, struct xct_policy_in *in,
					   struct xct_policy_out *out)
{
	__u32 ct = in->ct_mark, meta = in->meta_mark;

	if ((rec->stmts & XCT_STMT_CT_MARK_SET) && in->state <= XCT_CTS_ESTABLISHED) {
		in->ct_mark = xct_mark_op_apply(&rec->ct_mark_set,
						(rec->stmts & XCT_STMT_CT_FROM_META) ? meta : ct);
		out->ct_mark_set = 1;
	}
	if (rec->stmts & XCT_STMT_META_MARK_SET) {
		in->meta_mark = xct_mark_op_apply(&rec->meta_mark_set,
						  (rec->stmts & XCT_STMT_META_FROM_CT) ? ct : meta);
		out->meta_mark_set = 1;
	}
}

/*
 * The checks a candidate rule's bit cannot stand for: named sets, marks,
 * ct status and the rate limit (taken last, so a packet only spends tokens
 * of a rule that otherwise matches); then the rule's statements.  idx is
 * gen * XCT_RULES_MAX + rule.  Returns 1 if the rule matches and decides;
 * a continue rule that matches applies its statements and returns 0, so
 * that the walk goes on.
 */
__noinline int xct_rule_check(__u32 idx, struct xct_policy_in *in, struct xct_policy_out *out)
{
	struct xct_rule_rec *rec;
	__u32 gen;
	int m;

	if (!in || !out)
		return 0;
	idx = xct_mask(idx, XCT_POLICY_GENS * XCT_RULES_MAX - 1);
	gen = idx / XCT_RULES_MAX;
	rec = bpf_map_lookup_elem(&xct_rules, &idx);
	if (!rec)
		return 0;
	if (rec->saddr_set) {
		m = xct_set_has_addr(gen, rec->saddr_set, in->family, &in->saddr);
		if (m == !!(rec->flags & XCT_RULE_SADDR_NEG))
			return 0;
	}
	if (rec->daddr_set) {
		m = xct_set_has_addr(gen, rec->daddr_set, in->family, &in->daddr);
		if (m == !!(rec->flags & XCT_RULE_DADDR_NEG))
			return 0;
	}
	if (rec->sport_set) {
		m = in->has_ports && xct_set_has_port(gen, rec->sport_set, in->sport);
		if (m == !!(rec->flags & XCT_RULE_SPORT_NEG))
			return 0;
	}
	if (rec->dport_set) {
		m = in->has_ports && xct_set_has_port(gen, rec->dport_set, in->dport);
		if (m == !!(rec->flags & XCT_RULE_DPORT_NEG))
			return 0;
	}
	if (rec->flags & XCT_RULE_CONCAT) {
		/* A ct mark is a connection's: none, no match either way, as
		 * for ct mark itself (xct_rule_conn_match()). */
		if (xct_concat_has_ct_mark(rec->concat_fields) && in->state > XCT_CTS_RELATED)
			return 0;
		m = xct_set_has_concat(gen, rec, in);
		if (m == !!(rec->flags & XCT_RULE_CONCAT_NEG))
			return 0;
	}
	if ((rec->flags & XCT_RULE_CONN_MATCHES) && !xct_rule_conn_match(rec, in))
		return 0;
	if ((rec->flags & XCT_RULE_HDR) && !xct_rule_hdr_match(rec, in->hop_limit, in->dscp))
		return 0;
	/* A packet within the rate spends its tokens either way, as in
	 * nftables: "over" only inverts what the bucket says. */
	if ((rec->flags & XCT_RULE_LIMIT) &&
	    !xct_rule_limit(idx, rec, in) == !(rec->flags & XCT_RULE_LIMIT_OVER))
		return 0;
	if (rec->flags & XCT_RULE_LOG)
		xct_rule_log(idx, rec, in);
	if (rec->stmts)
		xct_rule_stmts(rec, in, out);
	if (rec->action == XCT_VERDICT_CONTINUE) {
		/* Counted as a match of its own: the walk goes on. */
		xct_policy_count(gen, idx & (XCT_RULES_MAX - 1), in->len);
		return 0;
	}
	out->verdict = rec->action;
	out->reject = rec->reject;
	out->line = rec->line;
	out->skip_to = rec->skip_to;
	return 1;
}

/* Drops the current chunk's candidates before rule w.skip_to. */
static __always_inline void xct_walk_clear_below(struct xct_policy_scratch *s)
{
	__u32 to = s->w.skip_to, j, base;

	for (j = 0; j < XCT_CHUNK_WORDS; j++) {
		base = s->w.chunk * XCT_CHUNK_BITS + j * 64;
		if (to >= base + 64)
			s->w.acc.w[j] = 0;
		else if (to > base)
			s->w.acc.w[j] &= ~((1ULL << ((to - base) & 63)) - 1);
	}
}

/*
 * A return matched (an inlined user chain's, src/rules/chains.c): the walk
 * goes on from rule `to'.  The candidates before it go, in this chunk now,
 * in a later chunk when it is visited (xct_walk_chunk), and the chunks
 * wholly before it from the summary.
 */
static __always_inline void xct_walk_skip(struct xct_policy_scratch *s, __u32 to)
{
	__u32 chunk = to / XCT_CHUNK_BITS;

	s->w.skip_to = to;
	if (chunk > s->w.chunk)
		s->w.summary &= ~((1ULL << (chunk & (XCT_CHUNKS - 1))) - 1);
	xct_walk_clear_below(s);
}

/* One candidate of the current chunk, lowest first: check its rule. */
static long xct_walk_candidate(__u32 i, void *unused)
{
	struct xct_policy_scratch *s = xct_policy_scratch_get();
	__u64 word = 0;
	__u32 j, rule;

	if (!s)
		return 1;
	for (j = 0; j < XCT_CHUNK_WORDS; j++) {
		word = s->w.acc.w[j];
		if (word)
			break;
	}
	if (!word)
		return 1;
	j &= XCT_CHUNK_WORDS - 1;
	s->w.acc.w[j] = word & (word - 1);
	rule = s->w.chunk * XCT_CHUNK_BITS + j * 64 + xct_ctz64(word);
	if (!xct_rule_check(s->w.gen * XCT_RULES_MAX + rule, &s->in, &s->out))
		return 0;
	if (s->out.verdict == XCT_VERDICT_RETURN) {
		/* Counted as the rule it is; the default stands until a
		 * later rule decides. */
		xct_policy_count(s->w.gen, rule, s->in.len);
		s->out.verdict = s->w.dflt;
		s->out.line = 0;
		xct_walk_skip(s, s->out.skip_to);
		return 0;
	}
	s->out.rule = rule;
	s->out.matched = 1;
	s->w.found = 1;
	return 1;
}

/* One chunk, lowest first: AND the classes' words, then walk the
 * candidates.  A chunk that any class has all zero holds none. */
static long xct_walk_chunk(__u32 i, void *unused)
{
	struct xct_policy_scratch *s = xct_policy_scratch_get();
	struct xct_chunk_key k;
	struct xct_chunk *c;
	__u32 f, j;

	if (!s || !s->w.summary)
		return 1;
	s->w.chunk = xct_ctz64(s->w.summary) & (XCT_CHUNKS - 1);
	s->w.summary &= s->w.summary - 1;

	k.chunk = s->w.chunk;
	for (f = 0; f < XCT_F_COUNT; f++) {
		if (f >= s->w.n_classes)
			break;
		k.class_id = s->w.class_id[f];
		c = bpf_map_lookup_elem(&xct_chunks, &k);
		if (!c)
			return 0;
		for (j = 0; j < XCT_CHUNK_WORDS; j++)
			s->w.acc.w[j] = f ? s->w.acc.w[j] & c->w[j] : c->w[j];
	}
	if (s->w.skip_to)
		xct_walk_clear_below(s);
	bpf_loop(XCT_CHUNK_BITS, xct_walk_candidate, NULL, 0);
	return s->w.found ? 1 : 0;
}

static __always_inline int xct_walk_add(struct xct_walk *w, const struct xct_class_ref *ref)
{
	if (!ref)
		return 0;
	w->summary &= ref->summary;
	if (w->n_classes < XCT_F_COUNT)
		w->class_id[w->n_classes++ & (XCT_F_COUNT - 1)] = ref->class_id;
	return 1;
}

static __always_inline const struct xct_class_ref *xct_addr_class(__u32 gen, __u8 dir, __u8 family,
								  const union xct_addr *a)
{
	if (family == XCT_AF_INET) {
		struct xct_cls_v4_key k = {
			.prefixlen = XCT_CLS_KEY_BITS + 32, .gen = gen, .dir = dir};

		__builtin_memcpy(k.addr, a->bytes, 4);
		return bpf_map_lookup_elem(&xct_cls_v4, &k);
	} else {
		struct xct_cls_v6_key k = {
			.prefixlen = XCT_CLS_KEY_BITS + 128, .gen = gen, .dir = dir};

		__builtin_memcpy(k.addr, a->bytes, 16);
		return bpf_map_lookup_elem(&xct_cls_v6, &k);
	}
}

/*
 * The first rule of the active ruleset that matches s->in, into s->out; or
 * the default: at ingress the policy for NEW and INVALID packets, accept
 * for the rest (their connection was admitted already) and for everything
 * the host sends (as nftables' output chain, which the input policy does not
 * govern).  With no ruleset loaded everything is accepted.
 */
__noinline int xct_policy_eval(struct xct_policy_scratch *s)
{
	const struct xct_class_ref *ref;
	struct xct_policy_ctl *ctl;
	struct xct_policy_gen *g;
	struct xct_policy_in *in;
	struct xct_walk *w;
	__u32 zero = 0, idx, gen;
	__u16 used;

	if (!s)
		return 0;
	in = &s->in;
	w = &s->w;
	s->out.verdict = XCT_VERDICT_ACCEPT;
	s->out.matched = 0;
	s->out.reject = XCT_REJECT_DEFAULT;
	s->out.line = 0;
	s->out.ct_mark_set = 0;
	s->out.meta_mark_set = 0;
	ctl = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!ctl || !ctl->loaded)
		return 0;
	gen = ctl->active_gen & 1;
	g = &ctl->gen[gen];
	if (in->hook == XCT_HOOK_INGRESS &&
	    (in->state == XCT_CTS_NEW || in->state == XCT_CTS_INVALID))
		s->out.verdict = g->policy;
	s->out.rule = XCT_RULES_MAX - 1;
	used = g->fields_used;

	w->gen = gen;
	w->dflt = s->out.verdict;
	w->skip_to = 0;
	w->n_classes = 0;
	w->found = 0;
	w->summary = ~0ULL;

	idx = gen * XCT_META_ENTRIES +
	      xct_mask(xct_meta_index(in->hook, in->family, in->state, in->proto),
		       XCT_META_ENTRIES - 1);
	ref = bpf_map_lookup_elem(&xct_cls_meta, &idx);
	if (!xct_walk_add(w, ref) || !w->summary)
		goto out;
	if (ref->decided) {
		/* The first candidate needs no other field (see the compiler's
		 * mark_decided()). */
		idx = ref->decided - 1;
		if (xct_rule_check(gen * XCT_RULES_MAX + idx, in, &s->out)) {
			s->out.rule = idx;
			s->out.matched = 1;
		}
		goto out;
	}
	if (used & (1 << XCT_F_IFACE)) {
		struct xct_cls_iface_key k = {.gen = gen, .ifindex = in->ifindex};

		ref = bpf_map_lookup_elem(&xct_cls_iface, &k);
		if (ref) {
			xct_walk_add(w, ref);
		} else {
			struct xct_class_ref dflt = {.class_id = g->iface_default,
						     .summary = g->iface_default_summary};

			xct_walk_add(w, &dflt);
		}
	}
	if ((used & (1 << XCT_F_SADDR)) &&
	    !xct_walk_add(w, xct_addr_class(gen, 0, in->family, &in->saddr)))
		goto out;
	if ((used & (1 << XCT_F_DADDR)) &&
	    !xct_walk_add(w, xct_addr_class(gen, 1, in->family, &in->daddr)))
		goto out;
	if (in->has_ports && (used & (1 << XCT_F_SPORT))) {
		idx = (gen * 2 + 0) * 65536 + in->sport;
		if (!xct_walk_add(w, bpf_map_lookup_elem(&xct_cls_port, &idx)))
			goto out;
	}
	if (in->has_ports && (used & (1 << XCT_F_DPORT))) {
		idx = (gen * 2 + 1) * 65536 + in->dport;
		if (!xct_walk_add(w, bpf_map_lookup_elem(&xct_cls_port, &idx)))
			goto out;
	}
	if (in->is_icmp && (used & (1 << XCT_F_ICMP))) {
		idx = gen * 65536 + ((__u32)in->icmp_type << 8 | in->icmp_code);
		if (!xct_walk_add(w, bpf_map_lookup_elem(&xct_cls_icmp, &idx)))
			goto out;
	}
	if (in->is_tcp && (used & (1 << XCT_F_FLAGS))) {
		idx = gen * 256 + in->tcp_flags;
		if (!xct_walk_add(w, bpf_map_lookup_elem(&xct_cls_flags, &idx)))
			goto out;
	}
	if (w->summary)
		bpf_loop(XCT_CHUNKS, xct_walk_chunk, NULL, 0);

out:
	/* Count against the rule, or against the policy line's slot when the
	 * policy decided; packets of admitted connections that no rule
	 * matched are not the policy's doing. */
	if (!s->out.matched && (in->hook != XCT_HOOK_INGRESS ||
				(in->state != XCT_CTS_NEW && in->state != XCT_CTS_INVALID)))
		return 0;
	xct_policy_count(gen, s->out.rule, in->len);
	return 0;
}

/*
 * The verdict of generation gen for a packet in ct state `state' (neither
 * NEW nor INVALID, whose default is the policy's) when its META fields
 * alone decide it: no rule applies to such packets, or the first that does
 * is META-only (the compiler's `decided') and has no named set, concatenation, rate
 * limit, log or mark statement, so that it matches whatever the packet's
 * other fields are and needs nothing done besides its verdict.  1
 * with *out as xct_policy_eval() fills it, the caller counting a matched
 * rule with xct_policy_count(); 0 when only the full evaluation can say.
 */
static __always_inline int xct_policy_meta_verdict(__u32 gen, __u8 hook, __u8 family, __u8 state,
						   __u8 proto, struct xct_policy_out *out)
{
	const struct xct_class_ref *ref;
	const struct xct_rule_rec *rec;
	__u32 idx, rule;

	gen &= 1;
	idx = gen * XCT_META_ENTRIES +
	      xct_mask(xct_meta_index(hook, family, state, proto), XCT_META_ENTRIES - 1);
	ref = bpf_map_lookup_elem(&xct_cls_meta, &idx);
	if (!ref)
		return 0;
	out->verdict = XCT_VERDICT_ACCEPT;
	out->matched = 0;
	out->line = 0;
	out->rule = XCT_RULES_MAX - 1;
	if (!ref->summary)
		return 1;
	if (!ref->decided)
		return 0;
	rule = (ref->decided - 1) & (XCT_RULES_MAX - 1);
	idx = gen * XCT_RULES_MAX + rule;
	rec = bpf_map_lookup_elem(&xct_rules, &idx);
	if (!rec || rec->saddr_set || rec->daddr_set || rec->sport_set || rec->dport_set ||
	    rec->stmts ||
	    (rec->flags & (XCT_RULE_LOG | XCT_RULE_LIMIT | XCT_RULE_CONN_MATCHES | XCT_RULE_HDR |
			   XCT_RULE_CONCAT)))
		return 0;
	out->verdict = rec->action;
	out->reject = rec->reject;
	out->matched = 1;
	out->line = rec->line;
	out->rule = rule;
	return 1;
}

/*
 * The raw stage, before tracking: does a notrack rule take this packet?
 * Costs one read of the generation header when no notrack rule exists.
 */
static __always_inline int xct_policy_raw(struct xct_policy_scratch *s)
{
	struct xct_policy_ctl *ctl;
	__u32 zero = 0;

	ctl = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	if (!ctl || !ctl->loaded || !ctl->gen[ctl->active_gen & 1].has_raw)
		return 0;
	xct_policy_eval(s);
	return s->out.matched && s->out.verdict == XCT_VERDICT_NOTRACK;
}

#endif /* XCT_BPF_POLICY_H */
