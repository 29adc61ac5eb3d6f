/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What xct replay's batch feeder (bpf/replay.bpf.c) and the command
 * (src/replay_cmd.c) share: a batch of packets in a memory-mapped array,
 * each with its clock and, once run, the datapath's decision.
 */
#ifndef XCT_REPLAY_H
#define XCT_REPLAY_H

#include <linux/types.h>
#include "xct/abi.h"
#include "xct/parse.h"

/* Packets per BPF_PROG_TEST_RUN. */
#define XCT_REPLAY_BATCH 1024

/* The longest frame a batch slot holds: an Ethernet frame of a 1500-byte
 * MTU, with two VLAN tags. */
#define XCT_REPLAY_HDR_MAX 1536

/* The longest frame: an IP packet of 65535 bytes and its Ethernet header. */
#define XCT_REPLAY_FRAME_MAX (65535 + 14)

struct xct_replay_slot {
	__u64 now_ns; /* the datapath's clock for this packet */
	__u32 len;    /* frame length, 14..XCT_REPLAY_FRAME_MAX */
	__u32 pad;
	struct xct_decision decision; /* filled by the feeder */
	/* The whole frame (longer ones are run alone). */
	__u8 hdr[XCT_REPLAY_HDR_MAX];
};

/* The feeder's state, in its .bss. */
struct xct_replay_ctl {
	__u32 start;   /* first slot of this run */
	__u32 next;    /* slot the next iteration feeds */
	__u32 n;       /* slots filled */
	__u32 stopped; /* the feeder could not set up slot next: run it alone */
};

/* The datapath's .bss, as the feeder maps it (checked against the
 * skeleton's struct xct_bpf__bss in src/replay_cmd.c). */
struct xct_replay_dp_bss {
	__u64 fake_now_ns;
	struct xct_decision last_decision;
};

#endif /* XCT_REPLAY_H */
