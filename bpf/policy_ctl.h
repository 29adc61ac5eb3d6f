/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy's header map on its own, for the programs that read which
 * generation of the rules runs without the rest of the datapath's maps:
 * the owner programs (bpf/owner.bpf.c) walk the owner rules of the active
 * generation, switched by the same store as the filter rules.
 */
#ifndef XCT_BPF_POLICY_CTL_H
#define XCT_BPF_POLICY_CTL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xct/policy.h"

/* The policy's header: the active generation and each generation's
 * header, memory-mapped by the loader, which switches generations with
 * one store to active_gen (src/rules/install.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xct_policy_ctl);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xct_policy_ctl SEC(".maps");

/* The active generation's header; NULL only if the map is missing. */
static __always_inline const struct xct_policy_gen *xct_active_gen(void)
{
	struct xct_policy_ctl *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&xct_policy_ctl, &zero);
	return c ? &c->gen[c->active_gen & 1] : NULL;
}

#endif /* XCT_BPF_POLICY_CTL_H */
