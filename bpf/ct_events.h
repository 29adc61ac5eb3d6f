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
 * up, so most packets never even do that.  An event not built for want of
 * a subscription is counted in ct_events_no_reader: a reader whose
 * subscription lapsed while it was stalled (writing to a consumer that
 * stopped reading) reports those as lost too, so that nothing it missed
 * goes uncounted.
 *
 * Consistency.  An event is built from a copy of the entry taken under its
 * lock: the copy an update commits, or the one a deleter took while it
 * marked the entry DYING.  It is sent after the lock is released (the
 * verifier allows no helper call under a lock), so by then another CPU may
 * have moved the entry on, and two CPUs' events for one entry may reach
 * the ring in the other order; seq, the entry's update count, orders them.
 */
#ifndef XCT_BPF_CT_EVENTS_H
#define XCT_BPF_CT_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"
#include "common.h"
#include "xct/tcp.h"

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
 * A translated connection's translation, for its event: from its binding,
 * and a destination-translated connection's inner tuple's own (hairpin).
 * A binding left by an earlier connection on the same tuple is not this
 * one's.
 */
static __always_inline void xct_ct_event_nat(const struct xct_ct_key *key,
					     const struct xct_ct_entry *ct, struct xct_ct_event *ev)
{
	struct xct_nat_binding *b = bpf_map_lookup_elem(&xct_nat, key), *inner;

	if (!b || b->first_seen_ns != ct->first_seen_ns)
		return;
	if (b->manip == XCT_CT_DST_NAT) {
		ev->nat_dst_addr = b->addr;
		ev->nat_dst_port = b->port;
		ev->nat_manip |= XCT_CT_DST_NAT;
		inner = bpf_map_lookup_elem(&xct_nat, &b->rkey);
		if (!inner || inner->first_seen_ns != b->first_seen_ns)
			return;
		b = inner;
	}
	if (b->manip == XCT_CT_SRC_NAT) {
		ev->nat_src_addr = b->addr;
		ev->nat_src_port = b->port;
		ev->nat_manip |= XCT_CT_SRC_NAT;
	}
}

/* Fills an event from the entry's copy e. */
static __always_inline void xct_ct_event_fill(struct xct_ct_event *ev, const struct xct_ct_key *key,
					      const struct xct_ct_entry *ct, __u32 what, __u64 now)
{
	ev->time_ns = now;
	ev->type = (__u8)what;
	ev->end = (__u8)(what >> 8);
	ev->state = ct->state;
	ev->orig_side = ct->orig_side;
	ev->status = ct->status & ~(XCT_CT_DYING | XCT_CT_NEW_PENDING | XCT_CT_LOCAL);
	ev->wscale[0] = ev->wscale[1] = 0;
	if (key->proto == XCT_IPPROTO_TCP && xct_tcp_scales_known(ct)) {
		ev->wscale[XCT_DIR_ORIGINAL] =
			ct->proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale | XCT_CTE_WSCALE_KNOWN;
		ev->wscale[XCT_DIR_REPLY] =
			ct->proto.tcp.seen[XCT_DIR_REPLY].td_scale | XCT_CTE_WSCALE_KNOWN;
	}
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
	__builtin_memset(&ev->nat_dst_addr, 0, 40);
	if (ct->status & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT))
		xct_ct_event_nat(key, ct, ev);
}

/*
 * The owner of a connection this host took part in (XCT_CT_LOCAL) whose
 * DESTROY is being sent, while owners are recorded (xct attach-cgroup):
 * one lookup per such DESTROY, none otherwise.
 * The DESTROY is sent before the owner is removed with the entry, so it
 * names who talked to whom; the reader could not find it later.  A NEW
 * looks nothing up: its owner, filed before the connection's first packet
 * left (sockops TCP_CONNECT_CB, cgroup_skb egress), is still there when the
 * reader shows the event, so forwarded connections, which have none, pay
 * no lookup when they start.
 */
static __always_inline const struct xct_owner *
xct_ct_event_owner(const struct xct_ct_key *key, const struct xct_ct_entry *ct, __u32 what)
{
	if ((__u8)what != XCT_CTE_DESTROY || !(ct->status & XCT_CT_LOCAL) || !xct_owner_on())
		return 0;
	return bpf_map_lookup_elem(&xct_owner, key);
}

/*
 * Sends one event: what is XCT_CTE(type, end), e the entry's copy; an owned
 * connection's DESTROY carries the owner after the event
 * (struct xct_ct_event_owned).  A global function, so that the verifier
 * checks it once however many paths lead to it.
 */
__noinline int xct_ct_event_emit(const struct xct_ct_key *key, const struct xct_ct_entry_scratch *e,
				 __u32 what, __u64 now)
{
	const struct xct_ct_entry *ct = (const struct xct_ct_entry *)e;
	const struct xct_owner *owner;
	struct xct_ct_event_owned *owned;
	struct xct_ct_event *ev;

	if (!key || !e)
		return 0;
	owner = xct_ct_event_owner(key, ct, what);
	if (owner) {
		owned = bpf_ringbuf_reserve(&xct_ct_events, sizeof(*owned), 0);
		if (!owned) {
			xct_count(XCT_S_CT_EVENTS_LOST);
			return 0;
		}
		xct_ct_event_fill(&owned->ev, key, ct, what, now);
		__builtin_memcpy(&owned->owner, owner, sizeof(owned->owner));
		bpf_ringbuf_submit(owned, 0);
		xct_count(XCT_S_CT_EVENTS);
		return 0;
	}
	ev = bpf_ringbuf_reserve(&xct_ct_events, sizeof(*ev), 0);
	if (!ev) {
		xct_count(XCT_S_CT_EVENTS_LOST);
		return 0;
	}
	xct_ct_event_fill(ev, key, ct, what, now);
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

/* n events that would have been sent, had a reader been subscribed. */
static __always_inline void xct_ct_events_unbuilt(__u64 n)
{
	xct_count_add(XCT_S_CT_EVENTS_NO_READER, n);
}

/* The events a deletion without a reader did not build: the DESTROY of a
 * connection that lived (packets in its original direction), and its NEW
 * if that still waited. */
static __always_inline void xct_ct_end_unbuilt(__u64 orig_packets, __u16 status)
{
	if (orig_packets)
		xct_ct_events_unbuilt(1 + !!(status & XCT_CT_NEW_PENDING));
}

/*
 * A NEW that waits for the connection's NAT decision.  nf_conntrack sends
 * NEW when the connection is confirmed, after POSTROUTING, so that it
 * carries the translated reply tuple; xct creates the entry at ingress,
 * before routing, and source NAT is decided at egress.  So while NAT is in
 * use, a connection that starts at ingress is marked XCT_CT_NEW_PENDING,
 * and its NEW is sent by the first of: the NAT egress program once it has
 * decided (xct_nat_egress()), the connection's next tracked packet (a
 * connection to this host, whose first packet never leaves), or its end
 * (the NEW then just before the DESTROY).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_ct_entry_scratch);
	__uint(max_entries, 1);
} xct_ct_new_copy SEC(".maps");

/* Marks a connection's NEW as waiting; 1 if it does, 0 if it must be sent
 * now (no NAT in use, or the entry is gone). */
static __always_inline int xct_ct_defer_new(const struct xct_ct_key *key)
{
	const struct xct_policy_gen *g = xct_active_gen();
	struct xct_ct_entry *ct;

	if (!g || !g->nat)
		return 0;
	ct = bpf_map_lookup_elem(&xct_ct, key);
	if (!ct)
		return 0;
	/* The seq bump makes an update that copied the entry before start
	 * again rather than write the bit away. */
	bpf_spin_lock(&ct->lock);
	if (!xct_ct_holds(ct, xct_key_ident(key))) {
		bpf_spin_unlock(&ct->lock);
		return 0;
	}
	ct->status |= XCT_CT_NEW_PENDING;
	ct->seq++;
	bpf_spin_unlock(&ct->lock);
	return 1;
}

/* Sends a waiting NEW, once: whoever clears the bit under the lock sends
 * it, from the copy taken there.  A global function: verified once. */
__noinline int xct_ct_send_pending_new(const struct xct_ct_key *key, __u64 now)
{
	struct xct_ct_entry_scratch *copy;
	struct xct_ct_entry *ct;
	__u32 zero = 0;
	int send = 0;

	if (!key)
		return 0;
	copy = bpf_map_lookup_elem(&xct_ct_new_copy, &zero);
	ct = bpf_map_lookup_elem(&xct_ct, key);
	if (!copy || !ct)
		return 0;
	bpf_spin_lock(&ct->lock);
	if ((ct->status & XCT_CT_NEW_PENDING) && !(ct->status & XCT_CT_DYING) &&
	    xct_ct_holds(ct, xct_key_ident(key))) {
		ct->status &= ~XCT_CT_NEW_PENDING;
		ct->seq++;
		__builtin_memcpy(copy->raw + sizeof(struct bpf_spin_lock),
				 (__u8 *)ct + sizeof(struct bpf_spin_lock), XCT_ENTRY_BODY);
		send = 1;
	}
	bpf_spin_unlock(&ct->lock);
	/* The NEW is the first packet's, and as of its time: a NEW sent
	 * later shows the timeout that packet set, as nf_conntrack's NEW
	 * at confirmation does (120, not 119). */
	if (send && xct_ct_events_wanted(now))
		xct_ct_event_emit(key, copy, XCT_CTE(XCT_CTE_NEW, XCT_CTE_END_NONE),
				  ((struct xct_ct_entry *)copy)->last_seen_ns);
	else if (send)
		xct_ct_events_unbuilt(1);
	return 0;
}

/* The same from a pointer the verifier may not pass on (a map's). */
static __always_inline void xct_ct_flush_new(const struct xct_ct_key *key, __u64 now)
{
	struct xct_ct_key k;

	__builtin_memcpy(&k, key, sizeof(k));
	xct_ct_send_pending_new(&k, now);
}

#endif /* XCT_BPF_CT_EVENTS_H */
