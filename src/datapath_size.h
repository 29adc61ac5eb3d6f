/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sizing the datapath before load: the connection table and the ring of
 * eviction candidates that goes with it (bpf/ct_table.h, "Table full"),
 * and what the kernel lets the programs use.
 * Every loader of the programs (xct attach, xct replay, the BPF tests, the
 * benchmarks) sizes them here, so that the ring always matches its table.
 */
#ifndef XCT_DATAPATH_SIZE_H
#define XCT_DATAPATH_SIZE_H

#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xct/abi.h"
#include "xct.skel.h"

/*
 * What the kernel offers that the programs may use: XDP metadata
 * (cfg_xdp_meta), which some kernels are built without; the programs then
 * load without the calls.
 */
static inline void xct_datapath_probe(struct xct_bpf *skel)
{
	/* r2 = -4; call bpf_xdp_adjust_meta; r0 = XDP_PASS; exit.  Loaded
	 * rather than asked of libbpf_probe_bpf_helper(), which takes the
	 * verifier's "cannot use helper" for support. */
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = -4},
		{.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_meta},
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	skel->rodata->cfg_xdp_meta = fd >= 0;
	if (fd >= 0)
		close(fd);
}

/* Returns 0 or -errno from libbpf.  Probes the kernel too. */
static inline int xct_datapath_size(struct xct_bpf *skel, __u32 max_entries)
{
	__u32 slots = xct_recent_slots(max_entries);
	int err;

	xct_datapath_probe(skel);

	err = bpf_map__set_max_entries(skel->maps.xct_ct, max_entries);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.xct_ct_recent, slots);
	if (!err)
		skel->rodata->cfg_recent_mask = slots - 1;
	return err;
}

#endif /* XCT_DATAPATH_SIZE_H */
