/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connection table in the datapath: finding a packet's entry, creating
 * it, updating it under its lock, and the in-kernel garbage collector that
 * frees expired entries with no xct process running.
 *
 * Concurrency.  Both directions of a connection can be processed on two CPUs
 * at the same instant.  An update copies the entry under the bpf_spin_lock
 * inside it, runs the tracker on the copy, and commits the copy under the
 * lock only if no other update committed in between (the entry's seq did
 * not move); otherwise it starts again from the newer entry.  So every
 * packet's transition is applied to the state left by the previous one, in
 * some order, and none is lost, as with nf_conntrack's ct->lock.  The
 * tracker runs outside the lock because it is a global BPF function: the
 * verifier checks it once, on its own, rather than once per way the packet
 * was parsed, and the verifier forbids such calls under a lock.  Packets of
 * different connections never contend.
 * Creation is serialised by the map itself: a new entry is inserted with
 * BPF_NOEXIST, and the loser of a race (-EEXIST) applies its packet to the
 * winner's entry, as nf_conntrack's clash resolution does, instead of
 * dropping it.
 *
 * Expiry.  An entry whose expires_ns has passed is dead: lookups ignore it,
 * and the next packet that may open a connection on that tuple reuses it in
 * place.  The GC deletes dead entries; to delete without racing a packet
 * that is reviving the same entry, it first marks the entry DYING under the
 * lock, and a DYING entry is never revived.
 */
#ifndef XCT_BPF_CT_TABLE_H
#define XCT_BPF_CT_TABLE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <asm-generic/errno-base.h>
#include "maps.h"
#include "xct/ct.h"

struct bpf_map;

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
#endif

/* Set before load by the BPF tests: time then comes from fake_now_ns, which
 * they advance at will, so every timeout is tested without sleeping. */
const volatile __u8 cfg_fake_clock = 0;
__u64 fake_now_ns = 0;

static __always_inline __u64 xct_now(void)
{
	if (cfg_fake_clock)
		return fake_now_ns;
	return bpf_ktime_get_ns();
}

static __always_inline void xct_count_add(__u32 slot, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&xct_counters, &slot);

	if (c)
		*c += n; /* per-CPU: no atomics needed */
}

static __always_inline void xct_count(__u32 slot)
{
	xct_count_add(slot, 1);
}

static __always_inline void xct_count_reason(__u8 reason)
{
	xct_count(XCT_REASON_SLOT(reason));
}

/* An insert failed for lack of room: wake the GC early (at most every
 * XCT_GC_KICK_MIN_NS) and let it early-drop unassured entries. */
static __always_inline void xct_gc_kick(__u64 now)
{
	__u32 zero = 0;
	struct xct_gc *gc = bpf_map_lookup_elem(&xct_gc, &zero);

	if (!gc)
		return;
	gc->pressure = 1;
	if (now - gc->last_kick_ns < XCT_GC_KICK_MIN_NS)
		return;
	gc->last_kick_ns = now;
	bpf_timer_start(&gc->timer, 0, 0);
}

/* The tracker, verified once as a global function (see above). */
__noinline int xct_ct_apply_copy(struct xct_ct_entry_scratch *copy, __u32 side,
				 const struct xct_pkt *pkt, __u64 now, struct xct_ct_result *res)
{
	if (!copy || !pkt || !res)
		return 0;
	xct_ct_apply((struct xct_ct_entry *)copy, side, pkt, now, res);
	return 0;
}

/* Entry bytes after the lock: what an update copies out and back. */
#define XCT_ENTRY_BODY	 (sizeof(struct xct_ct_entry) - sizeof(struct bpf_spin_lock))
#define XCT_UPDATE_TRIES 4

/*
 * Applies a packet to an existing entry: copy under the lock, run the
 * tracker on the copy, commit if no other update came in between.  Returns
 * the sequence number the update committed, or 0 when it could not.
 */
static __always_inline __u32 xct_ct_update(struct xct_ct_entry *ct, __u8 side,
					   const struct xct_pkt *pkt, __u64 now,
					   struct xct_ct_result *res)
{
	__u32 zero = 0, seq;
	struct xct_ct_entry_scratch *copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	int attempt;

	if (!copy)
		goto busy;
	for (attempt = 0; attempt < XCT_UPDATE_TRIES; attempt++) {
		bpf_spin_lock(&ct->lock);
		if (ct->status & XCT_CT_DYING) {
			bpf_spin_unlock(&ct->lock);
			goto busy;
		}
		seq = ct->seq;
		__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
				 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
		bpf_spin_unlock(&ct->lock);

		__builtin_memset(res, 0, sizeof(*res));
		xct_ct_apply_copy(copy, side, pkt, now, res);

		bpf_spin_lock(&ct->lock);
		if (ct->seq == seq && !(ct->status & XCT_CT_DYING)) {
			__builtin_memcpy((__u8 *)ct + sizeof(struct bpf_spin_lock),
					 copy->raw + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
			ct->seq = seq + 1;
			bpf_spin_unlock(&ct->lock);
			return seq + 1 ? seq + 1 : 1;
		}
		bpf_spin_unlock(&ct->lock);
	}

busy:
	/* The GC is deleting this tuple's dead entry, or the entry is under
	 * a storm of concurrent updates; the next packet will get through. */
	__builtin_memset(res, 0, sizeof(*res));
	res->ct_state = XCT_CTS_UNTRACKED;
	res->reason = XCT_R_TABLE_BUSY;
	return 0;
}

/*
 * The tracker's verdict on one parsed packet of a trackable tuple whose
 * entry exists.  When there is none, nothing is inserted yet: the packet is
 * reported NEW (or INVALID if it cannot open a connection) and 1 is
 * returned, so that the policy decides before the table spends an entry on
 * it; xct_ct_create() then inserts it.  *seq gets what xct_ct_update()
 * committed; *missed says that the key has no entry at all.
 */
static __always_inline int xct_ct_process(const struct xct_ct_key *key, __u8 side,
					  const struct xct_pkt *pkt, __u64 now,
					  struct xct_ct_result *res, __u32 *seq, __u8 *missed)
{
	struct xct_ct_entry *ct = bpf_map_lookup_elem(&xct_ct, key);
	struct xct_ct_entry_scratch *copy;
	__u32 zero = 0;
	__u8 reason;

	*seq = 0;
	*missed = !ct;
	if (ct) {
		xct_count(XCT_S_FOUND);
		*seq = xct_ct_update(ct, side, pkt, now, res);
		return 0;
	}
	copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	if (!copy)
		return 0;
	reason = xct_ct_init((struct xct_ct_entry *)copy, pkt, side, now);
	res->dir = XCT_DIR_ORIGINAL;
	res->reason = reason;
	res->ct_state = reason == XCT_R_OK ? XCT_CTS_NEW : XCT_CTS_INVALID;
	return reason == XCT_R_OK;
}

/*
 * Creates the entry of a packet xct_ct_process() found new and the policy
 * admitted.  It is first inserted as a dead placeholder, then brought to
 * life by the same update as any expired entry: creation and revival are
 * one path.
 */
static __always_inline void xct_ct_create(const struct xct_ct_key *key, __u8 side,
					  const struct xct_pkt *pkt, __u64 now,
					  struct xct_ct_result *res)
{
	struct xct_ct_entry_scratch *copy;
	struct xct_ct_entry *ct;
	__u32 zero = 0;
	long err;

	copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	if (!copy)
		return;
	if (xct_ct_init((struct xct_ct_entry *)copy, pkt, side, now) != XCT_R_OK)
		return;
	((struct xct_ct_entry *)copy)->expires_ns = 0; /* a placeholder: dead until applied */
	err = bpf_map_update_elem(&xct_ct, key, copy, BPF_NOEXIST);
	if (err == 0) {
		xct_count(XCT_S_INSERT);
	} else if (err == -EEXIST) {
		/* Another CPU created it first: this packet goes to that
		 * entry, after it. */
		xct_count(XCT_S_CLASH_RESOLVE);
	} else {
		xct_count(XCT_S_INSERT_FAILED);
		xct_count(XCT_S_DROP);
		__builtin_memset(res, 0, sizeof(*res));
		res->ct_state = XCT_CTS_UNTRACKED;
		res->reason = err == -E2BIG ? XCT_R_TABLE_FULL : XCT_R_INSERT_ERROR;
		if (err == -E2BIG)
			xct_gc_kick(now);
		return;
	}
	ct = bpf_map_lookup_elem(&xct_ct, key);
	if (!ct) {
		__builtin_memset(res, 0, sizeof(*res));
		res->ct_state = XCT_CTS_UNTRACKED;
		res->reason = XCT_R_TABLE_BUSY;
		return;
	}
	xct_ct_update(ct, side, pkt, now, res);
}

/*
 * The policy refused a packet that started a connection over an old entry
 * (an expired one, or a TCP reopen): the connection must not exist.  Unless
 * another packet has updated the entry since (seq moved), it is left dead,
 * as if the packet had never come; the GC frees it.
 */
static __always_inline void xct_ct_forget(const struct xct_ct_key *key, __u32 seq)
{
	struct xct_ct_entry *ct = bpf_map_lookup_elem(&xct_ct, key);

	if (!ct || !seq)
		return;
	bpf_spin_lock(&ct->lock);
	if (ct->seq == seq) {
		ct->expires_ns = 0;
		ct->seq = seq + 1;
	}
	bpf_spin_unlock(&ct->lock);
}

/*
 * An ICMP error: RELATED to the connection of the packet it quotes, if that
 * connection is alive and the error is addressed to its sender.  It changes
 * nothing in the entry, as in nf_conntrack.
 */
static __always_inline void xct_ct_related(const struct xct_pkt *pkt, __u64 now,
					   struct xct_ct_result *res)
{
	struct xct_ct_key key;
	struct xct_ct_entry *ct;
	__u8 reason;

	reason = xct_icmp_error_key(pkt, &key);
	if (reason == XCT_R_OK) {
		ct = bpf_map_lookup_elem(&xct_ct, &key);
		/* A racy read of expires_ns and status is fine: the entry
		 * is only asked whether it is alive. */
		if (!ct || !xct_entry_alive(ct, now))
			reason = XCT_R_ICMP_ERROR_NO_CONN;
	}
	res->reason = reason;
	res->ct_state = reason == XCT_R_OK ? XCT_CTS_RELATED : XCT_CTS_INVALID;
}

/* ---- Garbage collection ---- */

struct xct_gc_ctx {
	__u64 now;
	__u32 seen;
	__u32 deleted;
	__u32 early_dropped;
	__u32 early_drop; /* under pressure: also drop unassured entries */
};

/*
 * nf_conntrack's gc_worker under early-drop pressure kills entries that are
 * not ASSURED, and TCP entries that are closing anyway; an established,
 * assured connection is never chosen.
 */
static __always_inline int xct_gc_can_early_drop(const struct xct_ct_key *key,
						 const struct xct_ct_entry *ct)
{
	if (!(ct->status & XCT_CT_ASSURED))
		return 1;
	return key->proto == XCT_IPPROTO_TCP && xct_tcp_can_early_drop(ct->state);
}

static long xct_gc_entry(struct bpf_map *map, struct xct_ct_key *key, struct xct_ct_entry *ct,
			 struct xct_gc_ctx *g)
{
	int drop = 0;
	__u16 status;

	g->seen++;
	bpf_spin_lock(&ct->lock);
	if (ct->status & XCT_CT_DYING || ct->expires_ns <= g->now)
		drop = 1;
	else if (g->early_drop && xct_gc_can_early_drop(key, ct))
		drop = 2;
	if (drop)
		ct->status |= XCT_CT_DYING;
	status = ct->status;
	bpf_spin_unlock(&ct->lock);

	if (drop && bpf_map_delete_elem(map, key) == 0) {
		/* A translated connection gives its tuple back. */
		if (status & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT))
			xct_nat_release(key);
		if (drop == 1) {
			g->deleted++;
		} else {
			g->early_dropped++;
		}
	}
	return 0;
}

/* One sweep of the whole table; adapts the next sweep's delay. */
static __always_inline void xct_gc_sweep(struct xct_gc *gc, __u64 now, struct xct_gc_ctx *g)
{
	__u64 interval = gc->interval_ns;

	g->now = now;
	g->early_drop = gc->pressure != 0;
	gc->pressure = 0;
	bpf_for_each_map_elem(&xct_ct, xct_gc_entry, g, 0);

	/* Like nf_conntrack's gc_worker: sweep often while much expires,
	 * back off while little does. */
	if (g->early_drop || (__u64)(g->deleted + g->early_dropped) * 4 > g->seen)
		interval = XCT_GC_INTERVAL_MIN_NS;
	else
		interval *= 2;
	if (interval < XCT_GC_INTERVAL_MIN_NS)
		interval = XCT_GC_INTERVAL_MIN_NS;
	if (interval > XCT_GC_INTERVAL_MAX_NS)
		interval = XCT_GC_INTERVAL_MAX_NS;
	gc->interval_ns = interval;
	gc->last_run_ns = now;
	gc->last_seen = g->seen;
	gc->last_deleted = g->deleted + g->early_dropped;

	xct_count(XCT_S_GC_RUNS);
	xct_count_add(XCT_S_EXPIRED, g->deleted);
	xct_count_add(XCT_S_EARLY_DROP, g->early_dropped);
}

static int xct_gc_timer(void *map, __u32 *key, struct xct_gc *gc)
{
	struct xct_gc_ctx g = {};

	xct_gc_sweep(gc, xct_now(), &g);
	bpf_timer_start(&gc->timer, gc->interval_ns, 0);
	return 0;
}

#endif /* XCT_BPF_CT_TABLE_H */
