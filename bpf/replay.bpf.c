// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct replay's batch feeder.  One BPF_PROG_TEST_RUN per packet costs a
 * system call and the test run's set-up, several times what the datapath
 * itself costs; so a batch of packets is run in one call: with repeat =
 * n + 1, each iteration of this program records the decision of the packet
 * before, puts the next packet's first bytes and length in the test skb,
 * sets the datapath's fake clock, and tail-calls the real xct_tc_ingress,
 * which runs as it does at TC ingress on a wire (xct attach --mode tc).
 * The last iteration only records.
 *
 * Why TC and not XDP: an XDP test run with repeat > 1 registers the program
 * with the kernel's XDP dispatcher and removes it afterwards, two text
 * patches with an RCU grace period each, about 28 ms per call; a TC test
 * run has no such step.  Both entry programs hand the packet to the same
 * xct_track(), as ingress, with the same interface (lo, in a test run).
 *
 * The skb is the test run's, kept between iterations: its length is set
 * with bpf_skb_change_tail, and the whole frame is written: the parser
 * may read a header anywhere in it.  A reject's answer rewrites it; the next packet overwrites
 * that in turn.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "xct/replay.h"

/* xct's .bss (fake_now_ns, last_decision), shared by fd before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xct_replay_dp_bss);
	__uint(max_entries, 1);
} xct_dp_bss SEC(".maps");

/* The batch, memory-mapped by the command. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xct_replay_slot);
	__uint(max_entries, XCT_REPLAY_BATCH);
} xct_replay_slots SEC(".maps");

/* [0]: xct_tc_ingress of the datapath object. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xct_replay_dp SEC(".maps");

struct xct_replay_ctl ctl = {};

SEC("tc")
int xct_replay_feed(struct __sk_buff *skb)
{
	struct xct_replay_dp_bss *dp;
	struct xct_replay_slot *slot;
	__u32 zero = 0, i = ctl.next, prev, len, n;

	dp = bpf_map_lookup_elem(&xct_dp_bss, &zero);
	if (!dp)
		return TC_ACT_SHOT;
	if (i > ctl.start) {
		prev = i - 1;
		slot = bpf_map_lookup_elem(&xct_replay_slots, &prev);
		if (slot)
			slot->decision = dp->last_decision;
	}
	if (ctl.stopped || i >= ctl.n)
		return TC_ACT_OK;
	slot = bpf_map_lookup_elem(&xct_replay_slots, &i);
	if (!slot)
		goto failed;
	len = slot->len;
	if (len < 14 || len > XCT_REPLAY_FRAME_MAX)
		goto failed;
	if (skb->len != len && bpf_skb_change_tail(skb, len, 0))
		goto failed;
	n = len < XCT_REPLAY_HDR_MAX ? len : XCT_REPLAY_HDR_MAX;
	if (bpf_skb_store_bytes(skb, 0, slot->hdr, n, 0))
		goto failed;
	ctl.next = i + 1;
	dp->fake_now_ns = slot->now_ns;
	bpf_tail_call(skb, &xct_replay_dp, 0);
	ctl.next = i; /* the tail call failed: not run */
failed:
	ctl.stopped = 1;
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
