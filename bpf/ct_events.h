/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection events (xct ct events): NEW, UPDATE and DESTROY, the events
 * conntrack -E shows, through the pinned xct_ct_events ring buffer.
 *
 * Cost.  The datapath never waits for a reader: an event the ring has no
 * room for is counted in ct_events_lost and dropped.  With no reader
 * subscribed (XCT_SUB_CT_EVENTS in xct_subs) nothing is built: a packet
 * first asks whether it changed anything an event would announce, a few
 * compares on the copy it commits, and only then looks the subscription
 * up, so most packets never even do that.
 *
 * Consistency.  An event is built from a copy of the entry taken under its
 * lock: the copy an update commits, or the one a deleter took while it
 * marked the entry DYING.  It is sent after the lock is released (the
 * verifier allows no helper call under a lock), so by then another CPU may
 * have moved the entry on, and two CPUs' events for one entry may reach
 * the ring in the other order; seq, the entry's update count, orders them.
 *
 * This file is included from ct_table.h, after the counter helpers.
 */
#ifndef XCT_BPF_CT_EVENTS_H
#define XCT_BPF_CT_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"

/* Its size is set by the loader before load (xct attach --ct-events-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XCT_CT_EVENTS_BYTES_DEFAULT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_ct_events SEC(".maps");

/*
 * The entry as it was before a packet started a new connection over it,
 * for the old connection's DESTROY once the update has committed.  Only
 * the datapath uses it, which never nests on a CPU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_ct_entry_scratch);
	__uint(max_entries, 1);
} xct_ct_prev SEC(".maps");

#define XCT_CTE(type, end) ((__u32)(type) | (__u32)(end) << 8)

/* Status bits whose change is an UPDATE, as IPCT_REPLY and IPCT_ASSURED
 * are in nf_conntrack. */
#define XCT_CTE_STATUS_BITS (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED)

/*
 * A connection lived in the entry: it was announced with NEW.  A
 * placeholder that was never brought to life, or a new connection the
 * policy refused (xct_ct_forget()), has no packet in the original
 * direction, and ends without a DESTROY.
 */
static __always_inline int xct_entry_lived(const struct xct_ct_entry *ct)
{
	return ct->packets[XCT_DIR_ORIGINAL] != 0;
}

/*
 * Sends one event: what is XCT_CTE(type, end), e the entry's copy.  A
 * global function, so that the verifier checks it once however many paths
 * lead to it.
 */
__noinline int xct_ct_event_emit(const struct xct_ct_key *key, const struct xct_ct_entry_scratch *e,
				 __u32 what, __u64 now)
{
	const struct xct_ct_entry *ct = (const struct xct_ct_entry *)e;
	struct xct_ct_event *ev;

	if (!key || !e)
		return 0;
	ev = bpf_ringbuf_reserve(&xct_ct_events, sizeof(*ev), 0);
	if (!ev) {
		xct_count(XCT_S_CT_EVENTS_LOST);
		return 0;
	}
	ev->time_ns = now;
	ev->type = (__u8)what;
	ev->end = (__u8)(what >> 8);
	ev->state = ct->state;
	ev->orig_side = ct->orig_side;
	ev->status = ct->status & ~XCT_CT_DYING;
	ev->pad = 0;
	ev->mark = ct->mark;
	ev->seq = ct->seq;
	__builtin_memcpy(&ev->key, key, sizeof(ev->key));
	ev->first_seen_ns = ct->first_seen_ns;
	ev->last_seen_ns = ct->last_seen_ns;
	ev->expires_ns = ct->expires_ns;
	ev->packets[0] = ct->packets[0];
	ev->packets[1] = ct->packets[1];
	ev->bytes[0] = ct->bytes[0];
	ev->bytes[1] = ct->bytes[1];
	bpf_ringbuf_submit(ev, 0);
	xct_count(XCT_S_CT_EVENTS);
	return 0;
}

/* Copies the entry into xct_ct_prev, for the DESTROY of the connection a
 * packet is about to replace; 1 if done. */
__noinline int xct_ct_keep_prev(const struct xct_ct_entry_scratch *copy)
{
	struct xct_ct_entry_scratch *prev;
	__u32 zero = 0;

	if (!copy)
		return 0;
	prev = bpf_map_lookup_elem(&xct_ct_prev, &zero);
	if (!prev)
		return 0;
	__builtin_memcpy(prev->raw, copy->raw, sizeof(prev->raw));
	return 1;
}

static __always_inline int xct_ct_events_wanted(__u64 now)
{
	return xct_subscribed(XCT_SUB_CT_EVENTS, now);
}

#endif /* XCT_BPF_CT_EVENTS_H */
