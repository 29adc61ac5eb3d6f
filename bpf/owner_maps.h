/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The maps of connection ownership (include/xct/owner.h), pinned by name
 * next to the table: the datapath (maps.h includes this) creates them with
 * the table and removes an owner with its entry; the owner programs
 * (bpf/owner.bpf.c), loaded later by xct attach-cgroup, reuse them.  None is
 * preallocated, so an instance whose owners are not recorded pays no memory.
 */
#ifndef XCT_BPF_OWNER_MAPS_H
#define XCT_BPF_OWNER_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xct/owner.h"

/* Sized for a host's own connections, not a router's table: a host with
 * more live sockets than this loses the attribution of the newest (counted
 * by the owner programs as owner_full). */
#define XCT_OWNER_MAX 65536

/* The owner of each connection, under the table's key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_ct_key);
	__type(value, struct xct_owner);
	__uint(max_entries, XCT_OWNER_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner SEC(".maps");

/* The owner of each socket, under its cookie, until it is released: a UDP
 * socket's from its connect() or first sendmsg(), filed under a
 * connection's key at its first datagram, when the source address and port
 * are known; a TCP socket's from its connect() or accept(), so that the
 * collector knows which records' sockets are gone. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct xct_owner);
	__uint(max_entries, XCT_OWNER_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner_sock SEC(".maps");

/* The owner of each bound socket, under its address and port: the owner
 * given to the connections a listener accepts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xct_owner_listen_key);
	__type(value, struct xct_owner);
	__uint(max_entries, XCT_OWNER_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner_listen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_owner_ctl);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner_ctl SEC(".maps");

/* The owner rules, in order, at gen * XCT_OWNER_RULES_MAX + i for the
 * policy's generation gen; xct_owner_ctl.n_rules[gen] of them are in use. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xct_owner_rule);
	__uint(max_entries, 2 * XCT_OWNER_RULES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner_rules SEC(".maps");

/* What the owner programs count, per CPU (enum xct_owner_stat). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XCT_OWNER_STATS_COUNT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_owner_stats SEC(".maps");

/* Whether owners are recorded: an array load, so that a deletion or an
 * event of an instance that records none looks nothing up. */
static __always_inline int xct_owner_on(void)
{
	__u32 zero = 0;
	struct xct_owner_ctl *c = bpf_map_lookup_elem(&xct_owner_ctl, &zero);

	return c && c->on;
}

/* An entry of status status is deleted: so is its owner.  Only a
 * connection this host took part in (XCT_CT_LOCAL) can have one: a
 * forwarded connection's end looks nothing up. */
static __always_inline void xct_owner_release(const struct xct_ct_key *key, __u16 status)
{
	if ((status & XCT_CT_LOCAL) && xct_owner_on())
		bpf_map_delete_elem(&xct_owner, key);
}

#endif /* XCT_BPF_OWNER_MAPS_H */
