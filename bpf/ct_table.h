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
 * Recycling.  The table hands a deleted entry's memory to the next insert
 * at once, while a program that found the entry before the delete may
 * still hold it.  Every entry carries a fold of the key it was created
 * under (ident), written with it and never changed, and whoever writes
 * into an entry it found checks, under the entry's lock, that it still
 * holds that key (xct_ct_holds()): one that now holds another connection
 * is left alone, as a DYING one is.  nf_conntrack does the same with its
 * SLAB_TYPESAFE_BY_RCU objects, re-checking the tuple after the lookup.
 * Creation is serialised by the map itself: a new entry is inserted with
 * BPF_NOEXIST, and the loser of a race (-EEXIST) applies its packet to the
 * winner's entry, as nf_conntrack's clash resolution does, instead of
 * dropping it.
 *
 * Expiry.  An entry whose expires_ns has passed is dead: lookups ignore it,
 * and the next packet that may open a connection on that tuple reuses it in
 * place.  The GC deletes dead entries; to delete without racing a packet
 * that is reviving the same entry, it first marks the entry DYING under the
 * lock, and a DYING entry is never revived.  Whoever set DYING, the GC or
 * an insert making room (below), is the only one to delete the entry: a
 * second deleter could otherwise delete, by key, a new connection created
 * on the same tuple in between.  A claimant whose delete fails takes
 * DYING back and leaves the entry dead for the next one.
 *
 * Table full.  An insert that finds the table full makes room at once by
 * deleting one entry that is not ASSURED, then inserts again (twice at
 * most, if another CPU's insert took the room first); an ASSURED entry is
 * never evicted, so established connections survive any flood.
 * Candidates come from a ring of the keys of recently started connections
 * (xct_ct_recent), examined oldest first, at most XCT_EVICT_SCAN slots per
 * insert: a dead entry or an unreplied one (a flood's SYN or UDP packet:
 * nobody answered) goes first.  An entry that saw a reply but is not yet
 * ASSURED is moved to the ring's head instead (a second chance), unless it
 * is the XCT_EVICT_REPLIED-th such entry the scan meets: then it goes.  A
 * legitimate handshake in progress is young and has its SYN/ACK: the last
 * kind to go.  Entries that became
 * ASSURED or were deleted leave the ring when examined.  The ring's tail is
 * a ticket counter, so inserts on several CPUs examine different slots.
 * The victim is claimed with DYING under its lock, as the GC does, so it
 * cannot be revived, updated or claimed twice.  Only when no candidate is
 * found is the packet dropped (table_full), and only when the ring is
 * empty is the GC woken to early-drop under pressure.  This is
 * nf_conntrack's early_drop without its failure mode: it looks at the 8
 * hash buckets of the new tuple only, drops the packet if they hold only
 * assured entries, and picks victims there regardless of age or replies.
 */
#ifndef XCT_BPF_CT_TABLE_H
#define XCT_BPF_CT_TABLE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <asm-generic/errno-base.h>
#include "maps.h"
#include "common.h"
#include "ct_events.h"
#include "xct/tcp.h"

/*
 * The TCP tracker as a global function (defined below): verified once,
 * with any entry and segment, where inlined into xct_ct_apply() it was
 * verified again on every path there that reaches it, three quarters of
 * the main programs' verification.  Only the tracked copy is passed (a
 * global function may neither take an entry holding a bpf_spin_lock nor
 * be called under one).
 */
static __always_inline struct xct_tcp_verdict
xct_tcp_packet_once(struct xct_ct_entry *ct, int dir, const struct xct_tcp_info *tcp, __u64 now_ns);
#define XCT_TCP_PACKET xct_tcp_packet_once
#include "xct/ct.h"

struct bpf_map;

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

/* The verdict comes back packed in the return value rather than through
 * a pointer to the caller's stack: under xct_settle(), xct_commit() and,
 * for a connection another CPU inserted first, xct_ct_apply_copy(), the
 * tracker's frame is the fifth, against the 512-byte limit of the
 * combined stack. */
__noinline __u64 xct_tcp_track(struct xct_ct_entry_scratch *copy, int dir,
			       const struct xct_tcp_info *tcp, __u64 now)
{
	struct xct_tcp_verdict v;

	if (!copy || !tcp)
		return XCT_TCP_INVALID;
	v = xct_tcp_packet((struct xct_ct_entry *)copy, dir, tcp, now);
	return (__u64)v.timeout << 32 | (__u32)v.assured << 16 | (__u32)v.reason << 8 | v.action;
}

static __always_inline struct xct_tcp_verdict
xct_tcp_packet_once(struct xct_ct_entry *ct, int dir, const struct xct_tcp_info *tcp, __u64 now_ns)
{
	__u64 r = xct_tcp_track((struct xct_ct_entry_scratch *)ct, dir, tcp, now_ns);
	struct xct_tcp_verdict v = {
		.action = (__u8)r,
		.reason = (__u8)(r >> 8),
		.assured = (__u8)(r >> 16),
		.timeout = (__u32)(r >> 32),
	};

	return v;
}

/* The tracker on the copy of an entry.  The fast path and a new
 * connection's insert inline it, so that an established segment and a SYN
 * make one call, to the TCP tracker, as when it was all one function; an
 * update on the full path calls xct_ct_apply_copy(). */
static __always_inline void xct_ct_track_copy(struct xct_ct_entry_scratch *copy, __u32 side,
					      const struct xct_pkt *pkt, __u64 now,
					      struct xct_ct_result *res)
{
	xct_ct_apply((struct xct_ct_entry *)copy, side, pkt, now, res);
	/* After the tracker, which clears the status of a connection that
	 * starts over on a dead entry. */
	if (pkt->local)
		((struct xct_ct_entry *)copy)->status |= XCT_CT_LOCAL;
}

/* The tracker on a copy, for the full path: a global function, verified
 * once. */
__noinline int xct_ct_apply_copy(struct xct_ct_entry_scratch *copy, __u32 side,
				 const struct xct_pkt *pkt, __u64 now, struct xct_ct_result *res)
{
	if (!copy || !pkt || !res)
		return 0;
	xct_ct_track_copy(copy, side, pkt, now, res);
	return 0;
}

#define XCT_UPDATE_TRIES 4

static __always_inline void xct_ct_counts_take(struct xct_ct_counts *t,
					       const struct xct_ct_entry *c)
{
	t->packets[0] = c->packets[0];
	t->packets[1] = c->packets[1];
	t->bytes[0] = c->bytes[0];
	t->bytes[1] = c->bytes[1];
}

/*
 * Writes an update's tracked copy c back into the entry, under its lock.
 * The counters go in as what the update changed them by, with atomics:
 * the fast path accounts a UDP flow's packets without the lock
 * (xct_ct_account_atomic()), and what it added since the copy was taken
 * (at t) must stay.  The connection started over on the entry has
 * counters from zero, and the difference says that too.
 */
static __always_inline void xct_ct_write_back(struct xct_ct_entry *ct, const struct xct_ct_entry *c,
					      const struct xct_ct_counts *t)
{
	__builtin_memcpy((__u8 *)ct + sizeof(struct bpf_spin_lock),
			 (const __u8 *)c + sizeof(struct bpf_spin_lock),
			 offsetof(struct xct_ct_entry, packets) - sizeof(struct bpf_spin_lock));
	__sync_fetch_and_add(&ct->packets[0], c->packets[0] - t->packets[0]);
	__sync_fetch_and_add(&ct->packets[1], c->packets[1] - t->packets[1]);
	__sync_fetch_and_add(&ct->bytes[0], c->bytes[0] - t->bytes[0]);
	__sync_fetch_and_add(&ct->bytes[1], c->bytes[1] - t->bytes[1]);
	__builtin_memcpy(&ct->proto, &c->proto, sizeof(ct->proto));
}

/* xct_ct_save_prev(): an old connection's DESTROY is due, no reader. */
#define XCT_PREV_NO_READER 2

/*
 * Might this packet start a new connection over the entry's old one?  A
 * cheap superset of xct_ct_starts_over(): the entry is dead, or TCP in a
 * state a SYN can reopen.
 */
static __always_inline int xct_ct_may_start_over(const struct xct_ct_key *key,
						 const struct xct_ct_entry *ct, __u64 now)
{
	return ct->expires_ns <= now ||
	       (key->proto == XCT_IPPROTO_TCP && ct->state >= XCT_TCP_TIME_WAIT);
}

/*
 * The events of an update that committed.  If the old connection is no
 * longer in the entry, its DESTROY (from the copy saved in xct_ct_prev):
 * a new connection took the entry over, or a packet that cannot open one
 * met the expired entry and cleared it.  Otherwise an UPDATE when the TCP
 * state or a status bit changed.  A new connection's NEW waits for the
 * policy's verdict (xct_commit()).
 */
static __always_inline void xct_ct_update_events(const struct xct_ct_key *key,
						 const struct xct_ct_entry_scratch *copy,
						 __u8 old_state, __u16 old_status, int saved,
						 const struct xct_ct_result *res, __u64 now)
{
	const struct xct_ct_entry *c = (const struct xct_ct_entry *)copy;
	struct xct_ct_entry_scratch *prev;
	int lived, changed;
	__u32 zero = 0;
	__u8 end;

	/* Most packets: nothing an event would announce. */
	changed = c->state != old_state || ((c->status ^ old_status) & XCT_CTE_STATUS_BITS);
	if (!saved && !res->started && !changed)
		return;
	lived = xct_entry_lived(c);
	if (saved && (res->started || !lived)) {
		if (saved == XCT_PREV_NO_READER) {
			xct_ct_events_unbuilt(1);
			return;
		}
		end = res->started ? XCT_CTE_END_REUSED : XCT_CTE_END_EXPIRED;
		if (res->kill)
			end = XCT_CTE_END_KILLED;
		prev = bpf_map_lookup_elem(&xct_ct_prev, &zero);
		if (prev)
			xct_ct_event_emit(key, prev, XCT_CTE(XCT_CTE_DESTROY, end), now);
		return;
	}
	/* A copy kept for a DESTROY that was not needed (an ACK in
	 * TIME_WAIT) announces nothing by itself; nor does the change of a
	 * connection the packet killed, whose DESTROY follows (nf_conntrack
	 * delivers no cached event of a dying connection). */
	if (res->started || !lived || !changed || res->kill)
		return;
	if (xct_ct_events_wanted(now))
		xct_ct_event_emit(key, copy, XCT_CTE(XCT_CTE_UPDATE, XCT_CTE_END_NONE), now);
	else
		xct_ct_events_unbuilt(1);
}

/* Keeps the entry's copy before a packet that may start a new connection
 * over it, if its connection lived and a reader wants the DESTROY: 1 if
 * kept, XCT_PREV_NO_READER if a DESTROY would need it but no reader is
 * subscribed (so that it is counted), else 0.  The copy itself is out of
 * line: on the path of every packet, even untaken, it cost an established
 * packet 14 ns (bench/prog_cost events). */
static __always_inline int xct_ct_save_prev(const struct xct_ct_key *key,
					    const struct xct_ct_entry_scratch *copy, __u64 now)
{
	const struct xct_ct_entry *c = (const struct xct_ct_entry *)copy;

	if (!xct_ct_may_start_over(key, c, now) || !xct_entry_lived(c))
		return 0;
	if (!xct_ct_events_wanted(now))
		return XCT_PREV_NO_READER;
	return xct_ct_keep_prev(copy);
}

/*
 * A packet killed the connection (a RST, its only reply): nf_conntrack
 * deletes it at once, and its DESTROY shows the time that was left.  The
 * copy, with that time, is kept for the DESTROY, as for a connection
 * another one replaces, and the entry is left as one whose connection was
 * announced over (no packet in the original direction), so that the GC
 * frees it without a second DESTROY.  Returns what xct_ct_save_prev()
 * does.
 */
static __always_inline int xct_ct_save_killed(struct xct_ct_entry_scratch *copy, __u64 expires,
					      __u64 now)
{
	struct xct_ct_entry *c = (struct xct_ct_entry *)copy;
	__u64 dead = c->expires_ns;
	int saved = XCT_PREV_NO_READER;

	if (xct_ct_events_wanted(now)) {
		c->expires_ns = expires;
		saved = xct_ct_keep_prev(copy);
		c->expires_ns = dead;
	}
	c->packets[XCT_DIR_ORIGINAL] = 0;
	return saved;
}

/*
 * Applies a packet to an existing entry: copy under the lock, run the
 * tracker on the copy, commit if no other update came in between.  Returns
 * the sequence number the update committed, or 0 when it could not.  The
 * committed copy stays in xct_scratch, for the events.
 */
static __always_inline __u32 xct_ct_update(const struct xct_ct_key *key, struct xct_ct_entry *ct,
					   __u8 side, const struct xct_pkt *pkt, __u64 now,
					   struct xct_ct_result *res)
{
	__u32 zero = 0, seq;
	struct xct_ct_entry_scratch *copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	struct xct_ct_entry *c = (struct xct_ct_entry *)copy;
	__u64 old_expires;
	__u16 old_status;
	__u8 old_state;
	int attempt, saved;

	if (!copy)
		goto failed;
	/* A connection to this host: its first packet never left, so its
	 * NEW waited for this packet, and goes first, as it was. */
	if (ct->status & XCT_CT_NEW_PENDING)
		xct_ct_flush_new(key, now);
	/* The key's ident, kept in the copy, off the stack; every copy
	 * taken below carries the same once checked. */
	c->ident = xct_key_ident(key);
	for (attempt = 0; attempt < XCT_UPDATE_TRIES; attempt++) {
		bpf_spin_lock(&ct->lock);
		if ((ct->status & XCT_CT_DYING) || !xct_ct_holds(ct, c->ident)) {
			bpf_spin_unlock(&ct->lock);
			goto busy;
		}
		seq = ct->seq;
		__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
				 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
		bpf_spin_unlock(&ct->lock);

		xct_ct_counts_take(&copy->taken, c);
		old_state = c->state;
		old_status = c->status;
		old_expires = c->expires_ns;
		saved = xct_ct_save_prev(key, copy, now);
		__builtin_memset(res, 0, sizeof(*res));
		xct_ct_apply_copy(copy, side, pkt, now, res);
		if (res->kill && !saved && xct_entry_lived(c))
			saved = xct_ct_save_killed(copy, old_expires, now);
		c->seq = seq + 1;

		bpf_spin_lock(&ct->lock);
		if (ct->seq == seq && !(ct->status & XCT_CT_DYING) && xct_ct_holds(ct, c->ident)) {
			xct_ct_write_back(ct, c, &copy->taken);
			bpf_spin_unlock(&ct->lock);
			res->status = c->status;
			res->mark = c->mark;
			if (old_status & ~c->status & XCT_CT_LIBERAL)
				xct_count(XCT_S_LIBERAL_END);
			xct_ct_update_events(key, copy, old_state, old_status, saved, res, now);
			return seq + 1 ? seq + 1 : 1;
		}
		bpf_spin_unlock(&ct->lock);
	}

busy:
	/* The GC is deleting this tuple's dead entry (or deleted it, and its
	 * memory holds another connection now), or the entry is under a
	 * storm of concurrent updates; the next packet will get through.
	 * This one was not applied to its connection: INVALID for the policy,
	 * never waved through as untracked (nf_conntrack would find no entry
	 * in a dying one and create another; xct cannot until it is gone). */
	__builtin_memset(res, 0, sizeof(*res));
	res->ct_state = XCT_CTS_INVALID;
	res->reason = XCT_R_TABLE_BUSY;
	return 0;
failed:
	__builtin_memset(res, 0, sizeof(*res));
	res->ct_state = XCT_CTS_INVALID;
	res->reason = XCT_R_INTERNAL_ERROR;
	return 0;
}

/*
 * The tracker's verdict on one parsed packet of a trackable tuple whose
 * entry exists.  When there is none, nothing is inserted yet: the packet is
 * reported NEW (or INVALID if it cannot open a connection) and 1 is
 * returned, so that the policy decides before the table spends an entry on
 * it; xct_ct_create() then inserts it.  *seq gets what xct_ct_update()
 * committed; *missed says that the key has no entry at all, and when it
 * says so on the way in, the fast path's lookup of the key just missed,
 * and the key is not looked up again (an entry another CPU created since
 * is met by the insert, as any clash).
 */
static __always_inline int xct_ct_process(const struct xct_ct_key *key, __u8 side,
					  const struct xct_pkt *pkt, __u64 now,
					  struct xct_ct_result *res, __u32 *seq, __u8 *missed)
{
	struct xct_ct_entry *ct = *missed ? 0 : bpf_map_lookup_elem(&xct_ct, key);
	__u8 reason;

	*seq = 0;
	*missed = !ct;
	if (ct) {
		xct_count(XCT_S_FOUND);
		*seq = xct_ct_update(key, ct, side, pkt, now, res);
		return 0;
	}
	reason = xct_ct_may_open(pkt);
	res->dir = XCT_DIR_ORIGINAL;
	res->reason = reason;
	res->ct_state = reason == XCT_R_OK ? XCT_CTS_NEW : XCT_CTS_INVALID;
	return reason == XCT_R_OK;
}

/* ---- Table full: eviction at insert time ---- */

/*
 * Where a deleter copies an entry for its DESTROY (too large for the
 * stack next to the rest).  One slot per context that may delete on a
 * CPU: the control program (process context), and the GC's timer and an
 * insert making room (softirqs, which may interrupt it).
 */
enum {
	XCT_DYING_CTL = 0,
	XCT_DYING_TIMER = 1,
	XCT_DYING_INSERT = 2,
	XCT_DYING_SLOTS,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_ct_entry_scratch);
	__uint(max_entries, XCT_DYING_SLOTS);
} xct_dying SEC(".maps");

/* The DESTROY of an entry its deleter copied under the lock. */
static __always_inline void xct_ct_announce_end(const struct xct_ct_key *key,
						struct xct_ct_entry_scratch *copy, __u8 end,
						__u64 now)
{
	struct xct_ct_key k;

	if (!xct_entry_lived((const struct xct_ct_entry *)copy))
		return;
	/* A global function's pointers must be writable: not a map key. */
	__builtin_memcpy(&k, key, sizeof(k));
	/* A NEW still waiting goes first. */
	if (((const struct xct_ct_entry *)copy)->status & XCT_CT_NEW_PENDING)
		xct_ct_event_emit(&k, copy, XCT_CTE(XCT_CTE_NEW, XCT_CTE_END_NONE), now);
	xct_ct_event_emit(&k, copy, XCT_CTE(XCT_CTE_DESTROY, end), now);
}

/* Slots a full insert examines at most; the number of entries that saw a
 * reply it meets before one of them goes. */
#define XCT_EVICT_SCAN	  32
#define XCT_EVICT_REPLIED 2
#define XCT_EVICT_ROUNDS  2

/* What an examined candidate turned out to be; from DEAD on, it was
 * claimed and deleted. */
enum xct_candidate {
	XCT_CAND_GONE = 0, /* deleted, ASSURED, or claimed by another: leaves the ring */
	XCT_CAND_KEEP,	   /* saw a reply: spared while unreplied ones are evicted */
	XCT_CAND_DEAD,
	XCT_CAND_UNREPLIED,
	XCT_CAND_REPLIED,
};

/* What xct_ct_claim_slot() does with an entry that saw a reply. */
enum xct_claim_mode {
	XCT_CLAIM_REQUEUE = 0, /* move it to the head: a second chance */
	XCT_CLAIM_TAKE,	       /* evict it */
};

/* Appends a key to the ring.  Slots are written without a lock: a torn or
 * overwritten key only names no entry, or another one, and every candidate
 * is checked under its entry's lock before anything is done to it. */
static __always_inline void xct_ct_ring_push(const struct xct_ct_key *key)
{
	struct xct_ct_recent_pos *pos;
	struct xct_ct_key *slot;
	__u32 zero = 0, i;

	pos = bpf_map_lookup_elem(&xct_ct_recent_pos, &zero);
	if (!pos)
		return;
	i = (__u32)__sync_fetch_and_add(&pos->head, 1) & cfg_recent_mask;
	slot = bpf_map_lookup_elem(&xct_ct_recent, &i);
	if (slot)
		*slot = *key;
}

/*
 * A rule's ct mark set: the connection's mark, under its lock, as
 * nft_ct_set_eval() writes ct->mark.  The seq moves on, so that an update
 * another CPU tracked meanwhile on a copy taken before does not write the
 * old mark back (xct_ct_process() then tracks that packet again).
 */
static __always_inline void xct_ct_set_mark(const struct xct_ct_key *key, __u32 mark, __u64 now)
{
	struct xct_ct_entry *ct = bpf_map_lookup_elem(&xct_ct, key);

	if (!ct)
		return;
	bpf_spin_lock(&ct->lock);
	if (ct->mark != mark && xct_entry_alive(ct, now) && xct_ct_holds(ct, xct_key_ident(key))) {
		ct->mark = mark;
		ct->seq++;
	}
	bpf_spin_unlock(&ct->lock);
}

/* Remembers a connection that just started, as a candidate for eviction. */
static __always_inline void xct_ct_remember(const struct xct_ct_key *key)
{
	xct_ct_ring_push(key);
}

/*
 * Examines the candidate in ring slot idx and, if it may go, claims and
 * deletes it; what happens to one that saw a reply is the mode's.  A
 * global function: the verifier checks it once, not once per turn of the
 * scan.
 */
__noinline int xct_ct_claim_slot(__u32 idx, __u64 now, int mode)
{
	struct xct_ct_entry_scratch *copy = 0;
	__u32 dying = XCT_DYING_INSERT;
	struct xct_ct_entry *ct;
	struct xct_evict_scan *st;
	struct xct_ct_key *slot;
	__u16 status = 0;
	__u64 born = 0, orig_packets = 0;
	__u32 zero = 0;
	int c;

	/* The candidate's key and ident are kept in this CPU's scan state,
	 * off the stack. */
	st = bpf_map_lookup_elem(&xct_evict_scans, &zero);
	slot = bpf_map_lookup_elem(&xct_ct_recent, &idx);
	if (!st || !slot || !slot->family)
		return XCT_CAND_GONE;
	st->key = *slot;  /* the slot may be rewritten meanwhile; the delete needs this key */
	slot->family = 0; /* examined: skipped without a lookup from now on */
	st->ident = xct_key_ident(&st->key);
	ct = bpf_map_lookup_elem(&xct_ct, &st->key);
	if (!ct)
		return XCT_CAND_GONE;
	if (xct_ct_events_wanted(now))
		copy = bpf_map_lookup_elem(&xct_dying, &dying);
	bpf_spin_lock(&ct->lock);
	if ((ct->status & XCT_CT_DYING) || !xct_ct_holds(ct, st->ident))
		c = XCT_CAND_GONE;
	else if (ct->expires_ns <= now)
		c = XCT_CAND_DEAD;
	else if (ct->status & XCT_CT_ASSURED)
		c = XCT_CAND_GONE;
	else if (!(ct->status & XCT_CT_SEEN_REPLY))
		c = XCT_CAND_UNREPLIED;
	else
		c = mode == XCT_CLAIM_TAKE ? XCT_CAND_REPLIED : XCT_CAND_KEEP;
	if (c >= XCT_CAND_DEAD) {
		status = ct->status;
		born = ct->first_seen_ns;
		orig_packets = ct->packets[XCT_DIR_ORIGINAL];
		if (copy) /* for its DESTROY */
			__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
					 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
		ct->status |= XCT_CT_DYING;
	}
	bpf_spin_unlock(&ct->lock);

	if (c == XCT_CAND_KEEP) {
		xct_ct_ring_push(&st->key);
		return c;
	}
	if (c >= XCT_CAND_DEAD && bpf_map_delete_elem(&xct_ct, &st->key)) {
		/* Not deleted (a concurrent flush, or the bucket busy):
		 * release the claim, dead, for the GC or the next insert. */
		bpf_spin_lock(&ct->lock);
		ct->status &= ~XCT_CT_DYING;
		ct->expires_ns = 0;
		bpf_spin_unlock(&ct->lock);
		return XCT_CAND_GONE;
	}
	/* The DESTROY before the binding goes: it shows the translation. */
	if (copy)
		xct_ct_announce_end(
			&st->key, copy,
			c == XCT_CAND_DEAD ? XCT_CTE_END_EXPIRED : XCT_CTE_END_EARLY_DROP, now);
	else
		xct_ct_end_unbuilt(orig_packets, status);
	xct_ct_release_extras(&st->key, status, born);
	if (c == XCT_CAND_DEAD) {
		xct_count(XCT_S_EXPIRED);
	} else if (c == XCT_CAND_UNREPLIED) {
		xct_count(XCT_S_EARLY_DROP);
		xct_count(XCT_S_EARLY_DROP_UNREPLIED);
	} else if (c == XCT_CAND_REPLIED) {
		xct_count(XCT_S_EARLY_DROP);
		xct_count(XCT_S_EARLY_DROP_REPLIED);
	}
	return c;
}

/*
 * Takes the ring's oldest slot for this scan alone: the tail is a ticket
 * counter, so that inserts on several CPUs examine different slots rather
 * than race through the same ones.  Returns the slot's position, -1 when
 * the ring holds nothing more, -2 when other CPUs kept winning the race.
 */
__noinline long xct_ct_ring_take(void)
{
	__u64 slots = (__u64)cfg_recent_mask + 1, head, t;
	struct xct_ct_recent_pos *pos;
	__u32 zero = 0;
	int i;

	pos = bpf_map_lookup_elem(&xct_ct_recent_pos, &zero);
	if (!pos)
		return -1;
	for (i = 0; i < 4; i++) {
		t = *(volatile __u64 *)&pos->tail;
		head = *(volatile __u64 *)&pos->head;
		if (t >= head)
			return -1;
		if (head - t > slots) {
			/* Overwritten before they were examined. */
			__sync_val_compare_and_swap(&pos->tail, t, head - slots);
			continue;
		}
		if (__sync_val_compare_and_swap(&pos->tail, t, t + 1) == t)
			return (long)(t & 0x7fffffffffffffffULL);
	}
	return -2;
}

/*
 * Frees one entry of a full table for a new connection (see "Table full"
 * above).  From the ring's tail, at most XCT_EVICT_SCAN slots: the first
 * dead or unreplied entry goes.  Entries that saw a reply are moved to the
 * head as they are met, a second chance, except the XCT_EVICT_REPLIED-th,
 * which goes: unreplied entries are preferred over that many replied ones.
 * Returns 1 when it deleted an entry, 0 when the slots it examined held
 * nothing to evict (the next insert goes on from there), -1 when the ring
 * has no candidate left.
 */
__noinline int xct_ct_make_room(__u64 now)
{
	int n, c = XCT_CAND_GONE;
	struct xct_evict_scan *st;
	__u32 zero = 0;
	long t = -1;

	st = bpf_map_lookup_elem(&xct_evict_scans, &zero);
	if (!st)
		return 0;
	st->replied = 0;
	for (n = 0; n < XCT_EVICT_SCAN; n++) {
		t = xct_ct_ring_take();
		if (t < 0)
			break;
		c = xct_ct_claim_slot((__u32)t & cfg_recent_mask, now,
				      st->replied + 1 >= XCT_EVICT_REPLIED ? XCT_CLAIM_TAKE
									   : XCT_CLAIM_REQUEUE);
		if (c >= XCT_CAND_DEAD)
			return 1;
		if (c == XCT_CAND_KEEP)
			st->replied++;
	}
	return t == -1 ? -1 : 0;
}

/* A packet the table could not take: INVALID for the policy, which judges
 * it again (xct_track()), so that `policy drop` drops what could not be
 * tracked instead of passing it untracked. */
static __always_inline void xct_ct_fail(struct xct_ct_result *res, __u8 reason)
{
	__builtin_memset(res, 0, sizeof(*res));
	res->ct_state = XCT_CTS_INVALID;
	res->reason = reason;
}

/*
 * Creates the entry of a packet xct_ct_process() found new and the policy
 * admitted.  The first packet is applied to a dead copy by the same
 * tracker as any other (which starts the connection on it, as on an
 * expired entry, filling it), and the live result is inserted at once: one
 * write, and no instant at which other CPUs see a placeholder.  An insert
 * that loses the race to another CPU's (-EEXIST) applies the packet to the
 * winner's entry instead.  When the entry cannot be had, res says INVALID
 * and why.
 */
static __always_inline void xct_ct_create(const struct xct_ct_key *key, __u8 side,
					  const struct xct_pkt *pkt, __u64 now,
					  struct xct_ct_result *res)
{
	struct xct_ct_entry_scratch *copy;
	struct xct_ct_entry *ct, *c;
	int room = 0, attempt;
	__u32 zero = 0;
	long err;

	copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	if (!copy) {
		xct_ct_fail(res, XCT_R_INTERNAL_ERROR);
		return;
	}
	/* Dead: the tracker starts the connection on it, and fills every
	 * field but these (xct_ct_init()). */
	c = (struct xct_ct_entry *)copy;
	c->orig_side = side;
	c->expires_ns = 0;
	c->seq = 0;
	c->pad = 0;
	__builtin_memset(res, 0, sizeof(*res));
	xct_ct_track_copy(copy, side, pkt, now, res);
	if (!res->started) {
		/* xct_ct_process() found the packet able to open a
		 * connection; the tracker must agree. */
		xct_ct_fail(res, XCT_R_INTERNAL_ERROR);
		return;
	}
	c->seq = 1; /* its events count from 1 */
	c->ident = xct_key_ident(key);
	err = bpf_map_update_elem(&xct_ct, key, copy, BPF_NOEXIST);
	/* Full: make room and insert again.  Another CPU's insert may take
	 * the room first; then once more, no further, to keep the work per
	 * packet bounded. */
	for (attempt = 0; attempt < XCT_EVICT_ROUNDS && err == -E2BIG; attempt++) {
		room = xct_ct_make_room(now);
		if (room <= 0)
			break;
		err = bpf_map_update_elem(&xct_ct, key, copy, BPF_NOEXIST);
	}
	if (err == 0) {
		xct_count(XCT_S_INSERT);
		res->status = c->status;
		return;
	}
	if (err != -EEXIST) {
		xct_count(XCT_S_INSERT_FAILED);
		xct_count(XCT_S_DROP);
		xct_ct_fail(res, err == -E2BIG ? XCT_R_TABLE_FULL : XCT_R_INSERT_ERROR);
		/* The ring knows no candidate any more: the GC early-drops
		 * what is left (unassured entries the ring forgot, closing
		 * connections).  Not before: its sweep would leave the ring
		 * full of deleted keys to walk through, and a lost race for
		 * freed room is not worth a sweep either. */
		if (err == -E2BIG && room < 0)
			xct_gc_kick(now);
		return;
	}
	/* Another CPU created it first: this packet goes to that entry,
	 * after it. */
	xct_count(XCT_S_CLASH_RESOLVE);
	ct = bpf_map_lookup_elem(&xct_ct, key);
	if (!ct) {
		/* Deleted again already (a full table's eviction on another
		 * CPU). */
		xct_ct_fail(res, XCT_R_TABLE_BUSY);
		return;
	}
	xct_ct_update(key, ct, side, pkt, now, res);
}

/* The NEW of a connection the policy admitted, from the copy its first
 * packet's update committed (still in xct_scratch); one that started at
 * ingress may wait for its NAT decision (xct_ct_defer_new()). */
static __always_inline void xct_ct_announce_new(const struct xct_ct_key *key, __u64 now,
						int at_ingress)
{
	struct xct_ct_entry_scratch *copy;
	__u32 zero = 0;

	if (!xct_ct_events_wanted(now)) {
		xct_ct_events_unbuilt(1);
		return;
	}
	if (at_ingress && xct_ct_defer_new(key))
		return;
	copy = bpf_map_lookup_elem(&xct_scratch, &zero);
	if (copy)
		xct_ct_event_emit(key, copy, XCT_CTE(XCT_CTE_NEW, XCT_CTE_END_NONE), now);
}

/*
 * The policy refused a packet that started a connection over an old entry
 * (an expired one, or a TCP reopen): the connection must not exist.  Unless
 * another packet has updated the entry since (seq moved), it is left dead,
 * as if the packet had never come; the GC frees it, without a DESTROY
 * for a connection that never was (xct_entry_lived()).
 */
static __always_inline void xct_ct_forget(const struct xct_ct_key *key, __u32 seq)
{
	struct xct_ct_entry *ct = bpf_map_lookup_elem(&xct_ct, key);

	if (!ct || !seq)
		return;
	bpf_spin_lock(&ct->lock);
	if (ct->seq == seq && xct_ct_holds(ct, xct_key_ident(key))) {
		ct->expires_ns = 0;
		ct->packets[XCT_DIR_ORIGINAL] = 0;
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
		else
			res->mark = ct->mark; /* racy, as a read of a u32 may be */
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
	__u32 flush;	  /* xct ct flush: delete every entry */
	__u32 events;	  /* a reader wants the DESTROYs */
	__u32 dying_slot; /* of xct_dying */
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

/*
 * To delete without racing a packet that is reviving the entry, the GC
 * decides and marks the entry DYING under its lock (an update never
 * commits into a DYING entry), then deletes it.  With a reader, the entry
 * is copied under that same lock for its DESTROY, which only the deleter
 * whose delete succeeded sends.
 */
static long xct_gc_entry(struct bpf_map *map, struct xct_ct_key *key, struct xct_ct_entry *ct,
			 struct xct_gc_ctx *g)
{
	struct xct_ct_entry_scratch *copy = 0;
	__u8 end = XCT_CTE_END_NONE;
	__u32 slot = g->dying_slot;
	__u16 status;
	__u64 born, orig_packets;

	g->seen++;
	if (g->events)
		copy = bpf_map_lookup_elem(&xct_dying, &slot);
	bpf_spin_lock(&ct->lock);
	if (ct->status & XCT_CT_DYING)
		end = XCT_CTE_END_NONE; /* another's claim: it deletes the entry */
	else if (!xct_ct_holds(ct, xct_key_ident(key)))
		end = XCT_CTE_END_NONE; /* recycled under the sweep: read torn */
	else if (g->flush)
		end = XCT_CTE_END_DELETED;
	else if (ct->expires_ns <= g->now)
		end = XCT_CTE_END_EXPIRED;
	else if (g->early_drop && xct_gc_can_early_drop(key, ct))
		end = XCT_CTE_END_EARLY_DROP;
	if (end != XCT_CTE_END_NONE) {
		if (copy)
			__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
					 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
		ct->status |= XCT_CT_DYING;
	}
	status = ct->status;
	born = ct->first_seen_ns;
	orig_packets = ct->packets[XCT_DIR_ORIGINAL];
	bpf_spin_unlock(&ct->lock);

	if (end == XCT_CTE_END_NONE)
		return 0;
	if (bpf_map_delete_elem(map, key)) {
		/* Not deleted: release the claim, dead, for the next sweep. */
		bpf_spin_lock(&ct->lock);
		ct->status &= ~XCT_CT_DYING;
		ct->expires_ns = 0;
		bpf_spin_unlock(&ct->lock);
		return 0;
	}
	if (end == XCT_CTE_END_EARLY_DROP)
		g->early_dropped++;
	else
		g->deleted++;
	if (copy)
		xct_ct_announce_end(key, copy, end, g->now);
	else
		xct_ct_end_unbuilt(orig_packets, status);
	/* A translated connection gives its tuple back, after its DESTROY
	 * has shown the translation. */
	xct_ct_release_extras(key, status, born);
	return 0;
}

/* max(a, b) of two 32-bit values without a branch: fifteen branches in a
 * row would be 2^15 paths to the verifier.  The empty asm keeps clang from
 * turning the mask back into a branch. */
static __always_inline __u64 xct_max_nobranch(__u64 a, __u64 b)
{
	__u64 d = b - a, m = (d >> 63) - 1; /* all ones when b >= a */

	asm volatile("" : "+r"(m));
	return a + (d & m);
}

/* The longest timeout in force: no entry lives longer unseen. */
static __always_inline __u64 xct_longest_timeout_ns(void)
{
	__u64 t = 0;

#define XCT_MAX_TUNABLE(id) t = xct_max_nobranch(t, xct_tunable(XCT_TUNABLE_##id));
	XCT_MAX_TUNABLE(GENERIC)
	XCT_MAX_TUNABLE(TCP_SYN_SENT)
	XCT_MAX_TUNABLE(TCP_SYN_RECV)
	XCT_MAX_TUNABLE(TCP_ESTABLISHED)
	XCT_MAX_TUNABLE(TCP_FIN_WAIT)
	XCT_MAX_TUNABLE(TCP_CLOSE_WAIT)
	XCT_MAX_TUNABLE(TCP_LAST_ACK)
	XCT_MAX_TUNABLE(TCP_TIME_WAIT)
	XCT_MAX_TUNABLE(TCP_CLOSE)
	XCT_MAX_TUNABLE(TCP_RETRANS)
	XCT_MAX_TUNABLE(TCP_UNACK)
	XCT_MAX_TUNABLE(UDP)
	XCT_MAX_TUNABLE(UDP_STREAM)
	XCT_MAX_TUNABLE(ICMP)
	XCT_MAX_TUNABLE(ICMPV6)
#undef XCT_MAX_TUNABLE
	return t * 1000000000ULL;
}

struct xct_owner_sweep_ctx {
	__u64 now; /* bpf_ktime_get_ns(): the clock the records carry */
	__u64 longest_ns;
};

/* One owner record: swept when no entry holds it and it is sweepable. */
static long xct_owner_sweep_one(struct bpf_map *map, struct xct_ct_key *key, struct xct_owner *o,
				struct xct_owner_sweep_ctx *w)
{
	__u32 slot = XCT_OWNER_S_SWEPT;
	__u64 *c;
	int released;

	if (bpf_map_lookup_elem(&xct_ct, key))
		return 0; /* the entry removes it when it ends */
	released = !bpf_map_lookup_elem(&xct_owner_sock, &o->cookie);
	if (!xct_owner_sweepable(o, w->now, released, w->longest_ns))
		return 0;
	/* Counted here, not in w: a callback that changes its context at each
	 * call gives the verifier a new state for each. */
	if (!bpf_map_delete_elem(map, key)) {
		c = bpf_map_lookup_elem(&xct_owner_stats, &slot);
		if (c)
			*c += 1;
	}
	return 0;
}

/* The owner records no entry will ever remove (include/xct/owner.h): swept
 * after the table, while owners are recorded at all.  A global function,
 * verified once on its own rather than in each caller's states. */
__noinline int xct_owner_sweep(void)
{
	struct xct_owner_sweep_ctx w = {};

	if (!xct_owner_on())
		return 0;
	w.now = bpf_ktime_get_ns();
	w.longest_ns = xct_longest_timeout_ns();
	bpf_for_each_map_elem(&xct_owner, xct_owner_sweep_one, &w, 0);
	return 0;
}

/* One sweep of the whole table; adapts the next sweep's delay. */
static __always_inline void xct_gc_sweep(struct xct_gc *gc, __u64 now, struct xct_gc_ctx *g)
{
	__u64 interval = gc->interval_ns, start, took;

	g->now = now;
	g->early_drop = gc->pressure != 0;
	g->events = xct_ct_events_wanted(now);
	gc->pressure = 0;
	/* The real clock, not xct_now(): a test's fixed clock would make
	 * every sweep take no time. */
	start = bpf_ktime_get_ns();
	bpf_for_each_map_elem(&xct_ct, xct_gc_entry, g, 0);
	took = bpf_ktime_get_ns() - start;

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
	gc->last_duration_ns = took;
	/* The timer and a flush may sweep at once, on two CPUs. */
	__sync_fetch_and_add(&gc->duration_ns, took);

	xct_count(XCT_S_GC_RUNS);
	xct_count_add(XCT_S_EXPIRED, g->deleted);
	xct_count_add(XCT_S_EARLY_DROP, g->early_dropped);
	if (!g->flush)
		xct_owner_sweep();
}

static int xct_gc_timer(void *map, __u32 *key, struct xct_gc *gc)
{
	struct xct_gc_ctx g = {.dying_slot = XCT_DYING_TIMER};

	xct_gc_sweep(gc, xct_now(), &g);
	bpf_timer_start(&gc->timer, gc->interval_ns, 0);
	return 0;
}

#endif /* XCT_BPF_CT_TABLE_H */
