/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The datapath's maps.  The ones pinned by name under the pin path
 * (/sys/fs/bpf/xct by default) are the state every program instance and
 * every xct command shares: attaching another interface, or a newer xct,
 * reuses them, so connections survive.
 */
#ifndef XCT_BPF_MAPS_H
#define XCT_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xct/abi.h"
#include "xct/parse.h"
#include "xct/nat.h"
#include "xct/policy.h"
#include "xct/timeouts.h"
#include "policy_ctl.h"
#include "owner_maps.h"

/*
 * The packet being decided, per CPU: the parse result is too large for the
 * entry program's stack (its frame and the global functions' below it share
 * 512 bytes), and the reject programs, reached by tail call, read it here.
 */
struct xct_pkt_slot {
	struct xct_pkt pkt;
	__u32 copied;  /* bytes of the packet in xct_hdrs */
	__u8 hook;     /* enum xct_rule_hook */
	__u8 parsed;   /* pkt holds every header: an answer can be built */
	__u8 nat_hint; /* xct_nat_ingress()'s word to the tracker it tail-calls */
	__u8 nat_side;
	__u8 nat_dnat; /* tracked and accepted: xct_nat_ingress() may dnat it */
	/* The fast path looked the packet's key up in xct_ct just now and
	 * found no entry: the full path need not look again. */
	__u8 fast_missed;
	__u8 reject; /* enum xct_reject_kind: how a rejected packet is answered */
	__u8 pad;
	/* A reply to a destination-translated connection: the tuple it
	 * arrived with (nat_rkey) is tracked as side nat_side of nat_key. */
	struct xct_ct_key nat_rkey;
	struct xct_ct_key nat_key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_pkt_slot);
	__uint(max_entries, 1);
} xct_pkt_slots SEC(".maps");

/* What the first half of the fast path (bpf/fast.h) hands the second, per
 * CPU: off the stack, which the tracker below them takes most of. */
struct xct_fast_state {
	struct xct_ct_key key;
	__u32 ident; /* the key's (xct_key_ident()) */
	/* The rules' verdict for an ESTABLISHED packet (0) and for a NEW one
	 * (1), a connection's original direction before any reply: usable
	 * where bit i of ok is set. */
	struct xct_policy_out out[2];
	__u32 gen; /* the generation that gave them */
	__u8 ok;
	__u8 count; /* bit i: verdict i is counted against its rule */
	__u8 hook;  /* enum xct_rule_hook */
	__u8 side;  /* the packet's side of the key */
	__u8 dnat;  /* dnat is in use under gen */
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_fast_state);
	__uint(max_entries, 1);
} xct_fast_states SEC(".maps");

/*
 * The connection table, preallocated: an insert takes an element from a
 * per-CPU free list instead of allocating one (249 against 644 ns a new
 * connection on this kernel), and the memory is the table's from load on.
 * Either way a deleted element is reused at once by the next insert on the
 * CPU that freed it (BPF_F_NO_PREALLOC's allocator does the same since
 * Linux 6.1), under any program still holding a pointer to it: whoever
 * writes into an entry it found checks under the entry's lock that it
 * still holds the key it was looked up by (xct_ct_holds()), as
 * nf_conntrack re-checks the tuple of a SLAB_TYPESAFE_BY_RCU object.
 * max_entries is set by the loader before load (xct attach --max-entries).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xct_ct_key);
	__type(value, struct xct_ct_entry);
	__uint(max_entries, XCT_MAX_ENTRIES_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_ct SEC(".maps");

/*
 * The trackers' tunables (struct xct_tunables), written whole by xct and
 * zeroed (the defaults) until then.  A global in a section of its own
 * rather than a map of .maps: libbpf makes it a one-entry array that the
 * loader pins as xct_timeouts (src/attach.c), and the programs read it as
 * memory, without a helper call, which the trackers may then make while
 * they hold an entry's lock.
 */
struct xct_tunables xct_timeouts SEC(".data.xct_timeouts") = {};

XCT_INLINE const struct xct_tunables *xct_tunables_now(void)
{
	return &xct_timeouts;
}

/*
 * Keys of recently started connections and the ring's cursors (struct
 * xct_ct_recent_pos): where an insert into a full table finds an entry to
 * evict (bpf/ct_table.h).  The loader sizes the ring with
 * xct_recent_slots() and sets cfg_recent_mask to match.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_ct_key);
	__uint(max_entries, XCT_RECENT_SLOTS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_ct_recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_ct_recent_pos);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_ct_recent_pos SEC(".maps");

/* A full insert's scan of the ring, per CPU: kept in memory rather than
 * in registers, so that the verifier does not follow each of its values
 * through every turn of the scan. */
struct xct_evict_scan {
	__u32 replied;	       /* entries that saw a reply met so far */
	__u32 ident;	       /* of the examined candidate's key (xct_ct_claim_slot()) */
	struct xct_ct_key key; /* the examined candidate's */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_evict_scan);
	__uint(max_entries, 1);
} xct_evict_scans SEC(".maps");

const volatile __u32 cfg_recent_mask = XCT_RECENT_SLOTS_MAX - 1;

/* Per-CPU counters: enum xct_stat, then one slot per enum xct_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XCT_COUNTER_SLOTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_counters SEC(".maps");

/* Interfaces with xct attached, by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct xct_iface);
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_ifaces SEC(".maps");

/*
 * Conntrack zones: the zone of the connections that a packet arriving on
 * (or, sent by this host, leaving by) an interface belongs to, by ifindex
 * (xct attach --zone, src/zones.c).  An interface without an entry is in
 * zone 0.  xct_zone_cfg.zoned counts the entries, and the datapath looks
 * the map up only while it is not 0: a host without zones pays one load
 * per packet for them.  A global of a section of its own, pinned as
 * xct_zone_cfg by the loader like xct_timeouts, read as memory.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u16);
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_zones SEC(".maps");

struct xct_zone_cfg xct_zone_cfg SEC(".data.xct_zone_cfg") = {};

/* The zone of a packet seen on ifindex. */
static __always_inline __u16 xct_iface_zone(__u32 ifindex)
{
	const __u16 *z;

	if (!XCT_READ_ONCE(xct_zone_cfg.zoned))
		return 0;
	z = bpf_map_lookup_elem(&xct_zones, &ifindex);
	return z ? *z : 0;
}

/* The garbage collector's timer and state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_gc);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_gc SEC(".maps");

/* The counters of an entry as an update's copy took them (ct_table.h's
 * xct_ct_write_back()). */
struct xct_ct_counts {
	__u64 packets[2];
	__u64 bytes[2];
};

/*
 * Where a new entry is built before it is inserted: an entry is too large
 * to sit on the BPF stack next to the parsed packet.  Same layout as
 * struct xct_ct_entry, but a per-CPU map may not hold a bpf_spin_lock, so
 * BTF sees it as raw bytes.
 */
struct xct_ct_entry_scratch {
	__u8 raw[sizeof(struct xct_ct_entry)];
	struct xct_ct_counts taken; /* kept here, not on the stack */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_ct_entry_scratch);
	__uint(max_entries, 1);
} xct_scratch SEC(".maps");

/* The copy of each packet's first bytes that the parser reads. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_hdr_buf);
	__uint(max_entries, 1);
} xct_hdrs SEC(".maps");

/* When each kind of event reader last showed itself (enum xct_sub_kind). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XCT_SUB_KINDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_subs SEC(".maps");

/* Whether a reader of kind wants events now.  A reader's refresh and the
 * packet's clock are both CLOCK_MONOTONIC; a refresh a little ahead of a
 * CPU's now wraps the difference and counts as fresh. */
static __always_inline int xct_subscribed(__u32 kind, __u64 now)
{
	__u64 *seen = bpf_map_lookup_elem(&xct_subs, &kind);

	return seen && *seen && (__s64)(now - *seen) < (__s64)XCT_SUB_TTL_NS;
}

/*
 * Fragmented datagrams whose first fragment was decided (bpf/frag.h), by
 * the identity the kernel reassembles them by: a later fragment passes
 * only if its datagram's first was accepted.  LRU hashes, so that an
 * insert never fails: when full, the least recently used datagram is
 * forgotten (its later fragments are then dropped, and the sender's
 * transport retransmits), where a plain hash would refuse every new
 * datagram until entries expired.  Only a first fragment the policy
 * accepted takes room in xct_frags, so filling it to push others' datagrams
 * out takes a flow the rules admit; refused first fragments, which anyone
 * can send, go to a map of their own and cannot push out accepted ones.
 */
struct xct_frag_key {
	union xct_addr src;
	union xct_addr dst;
	__u32 id; /* struct xct_pkt's frag_id */
	__u8 family;
	__u8 proto; /* IPv4's protocol; 0 for IPv6, which reassembles without it */
	__u8 pad[2];
};

struct xct_frag_val {
	__u64 expires_ns;	/* the reassembly timeout, from the first fragment */
	struct xct_ct_key conn; /* the connection its bytes count to */
	__u8 side;		/* of conn, the datagram's sender */
	__u8 tracked;		/* conn is a connection */
	__u8 ct_state;		/* the first fragment's, for the later ones */
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xct_frag_key);
	__type(value, struct xct_frag_val);
	__uint(max_entries, XCT_FRAGS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xct_frag_key);
	__type(value, __u64); /* expires_ns */
	__uint(max_entries, XCT_FRAGS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_frags_refused SEC(".maps");

/*
 * NAT (include/xct/nat.h): each translated connection's binding, keyed by
 * its table key, and the claim on its translated tuple, keyed by that
 * tuple's canonical key and pointing back at the connection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_ct_key);
	__type(value, struct xct_nat_binding);
	__uint(max_entries, XCT_NAT_MAX_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_ct_key);
	__type(value, struct xct_ct_key);
	__uint(max_entries, XCT_NAT_MAX_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_nat_rev SEC(".maps");

/* Connection labels (abi.h struct xct_ct_labels), set by xct ct update;
 * an entry whose status has XCT_CT_LABELS has one here.  Allocated as
 * labels are set: a ruleset that uses none pays nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_ct_key);
	__type(value, struct xct_ct_labels);
	__uint(max_entries, XCT_MAX_ENTRIES_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_ct_labels SEC(".maps");

/* Each generation's NAT rule count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_nat_ctl);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_nat_ctl SEC(".maps");

/* The NAT rules, indexed by gen * XCT_NAT_RULES_MAX + rule; the generation
 * is the policy's (xct_policy_ctl), flipped by the same store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_nat_rule);
	__uint(max_entries, 2 * XCT_NAT_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_nat_rules SEC(".maps");

/*
 * Frees the claim on tuple rkey, if it is still owner's.  It may not be: a
 * binding outlives its entry when the entry expires and a new packet
 * revives it, and a late answer to the old tuple then frees the claim
 * (xct_nat_ingress()), which another connection may take.  Deleting by key
 * alone would take that connection's claim away, and the tuple would be
 * given out twice.  (The claim can only change hands between the lookup
 * and the delete if it is freed and taken again in between, by two other
 * CPUs.)
 */
static __always_inline void xct_nat_free_claim(const struct xct_ct_key *rkey,
					       const struct xct_ct_key *owner)
{
	struct xct_ct_key *o = bpf_map_lookup_elem(&xct_nat_rev, rkey);

	if (o && xct_key_eq(o, owner))
		bpf_map_delete_elem(&xct_nat_rev, rkey);
}

/*
 * Frees a connection's binding b (under key) and its claim.  A
 * destination-translated connection's inner tuple may have a source
 * translation of its own, bound under the inner tuple's key (hairpin NAT):
 * it goes too.
 */
static __always_inline void xct_nat_free(const struct xct_ct_key *key,
					 const struct xct_nat_binding *b)
{
	struct xct_nat_binding *inner;

	if (b->manip == XCT_CT_DST_NAT) {
		inner = bpf_map_lookup_elem(&xct_nat, &b->rkey);
		if (inner && inner->manip == XCT_CT_SRC_NAT &&
		    inner->first_seen_ns == b->first_seen_ns) {
			xct_nat_free_claim(&inner->rkey, &b->rkey);
			bpf_map_delete_elem(&xct_nat, &b->rkey);
		}
	}
	xct_nat_free_claim(&b->rkey, key);
	bpf_map_delete_elem(&xct_nat, key);
}

/* The same, by the connection's key. */
static __always_inline void xct_nat_release(const struct xct_ct_key *key)
{
	struct xct_nat_binding *b = bpf_map_lookup_elem(&xct_nat, key);

	if (b)
		xct_nat_free(key, b);
}

/*
 * An entry is deleted (status and first_seen read under its lock before):
 * frees its binding, or a stale one an earlier connection on the key left.
 * An entry revived in place carries no NAT status of its own, but the
 * binding of the connection it replaced is still there when the revived
 * one never reached the NAT: freed here, it does not hold its tuple for
 * ever.  While NAT is not in use no entry can have one, and nothing is
 * looked up.  A binding newer than the entry is a new connection's on the
 * key, made since the delete, and is kept.
 */
static __always_inline void xct_nat_release_entry(const struct xct_ct_key *key, __u16 status,
						  __u64 first_seen)
{
	const struct xct_policy_gen *g;
	struct xct_nat_binding *b;

	if (!(status & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT))) {
		g = xct_active_gen();
		if (!g || !g->nat)
			return;
	}
	b = bpf_map_lookup_elem(&xct_nat, key);
	if (b && b->first_seen_ns <= first_seen)
		xct_nat_free(key, b);
}

/*
 * An entry is deleted: what it had apart from the entry goes with it (its
 * NAT binding, see above, its owner and its labels).  The labels map is
 * looked at only when the entry had labels; labels newer than the entry
 * are a new connection's on the key and are kept.
 */
static __always_inline void xct_ct_release_extras(const struct xct_ct_key *key, __u16 status,
						  __u64 first_seen)
{
	struct xct_ct_labels *l;

	xct_nat_release_entry(key, status, first_seen);
	xct_owner_release(key, status);
	if (!(status & XCT_CT_LABELS))
		return;
	l = bpf_map_lookup_elem(&xct_ct_labels, key);
	if (l && l->first_seen_ns <= first_seen)
		bpf_map_delete_elem(&xct_ct_labels, key);
}

#endif /* XCT_BPF_MAPS_H */
