/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every part of the datapath uses: its clock, its per-CPU counters
 * and the check that an entry still holds its key's connection.  Above
 * the maps (maps.h) and below everything else: events, the table, the
 * policy and NAT.
 */
#ifndef XCT_BPF_COMMON_H
#define XCT_BPF_COMMON_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "maps.h"

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
#endif

/* Set before load by the BPF tests: time then comes from fake_now_ns, which
 * they advance at will, so every timeout is tested without sleeping. */
const volatile __u8 cfg_fake_clock = 0;
__u64 fake_now_ns = 0;

/*
 * The datapath's clock: CLOCK_MONOTONIC_COARSE, the monotonic clock as of
 * the last timer tick.  Its resolution (a tick: 4 ms at HZ=250) is finer
 * than anything timed with it needs (timeouts are seconds; nf_conntrack's
 * own are jiffies), and it costs a read of the timekeeper's last update
 * instead of a clocksource read: bpf_ktime_get_ns() took 35 ns a packet on
 * a virtual machine's TSC (bench/prog_cost).  Every reader of the table
 * uses this one clock, so times in it only move forward; userspace, which
 * reads CLOCK_MONOTONIC, sees them at most a tick behind.
 */
static __always_inline __u64 xct_now(void)
{
	if (cfg_fake_clock)
		return fake_now_ns;
	return bpf_ktime_get_coarse_ns();
}

/* CLOCK_MONOTONIC itself, for the drop and log events, which `xct trace'
 * lines up with the kernel's tracepoints, stamped with it: a tick of
 * difference would part the two records of one packet.  Only a packet
 * that sends such an event pays for it. */
static __always_inline __u64 xct_now_fine(void)
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

/* Whether an entry found by a key whose ident (xct_key_ident()) is given
 * still holds that key's connection, or was recycled for another: read
 * under the entry's lock, or where a racy answer only declines. */
static __always_inline int xct_ct_holds(const struct xct_ct_entry *ct, __u32 ident)
{
	return XCT_READ_ONCE(ct->ident) == ident;
}

/* Entry bytes after the lock: what an update copies out and back. */
#define XCT_ENTRY_BODY (sizeof(struct xct_ct_entry) - sizeof(struct bpf_spin_lock))

#endif /* XCT_BPF_COMMON_H */
