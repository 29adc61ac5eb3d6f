/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sizing the datapath before load: the connection table and the ring of
 * eviction candidates that goes with it (bpf/ct_table.h, "Table full").
 * Every loader of the programs (xct attach, xct replay, the BPF tests, the
 * benchmarks) sizes them here, so that the ring always matches its table.
 */
#ifndef XCT_DATAPATH_SIZE_H
#define XCT_DATAPATH_SIZE_H

#include <bpf/libbpf.h>
#include "xct/abi.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"

/* Returns 0 or -errno from libbpf. */
static inline int xct_datapath_size(struct xct_bpf *skel, __u32 max_entries)
{
	__u32 slots = xct_recent_slots(max_entries);
	int err;

	err = bpf_map__set_max_entries(skel->maps.xct_ct, max_entries);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.xct_ct_recent, slots);
	/* Every connection may have labels. */
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.xct_ct_labels, max_entries);
	if (!err)
		skel->rodata->cfg_recent_mask = slots - 1;
	return err;
}

#endif /* XCT_DATAPATH_SIZE_H */
