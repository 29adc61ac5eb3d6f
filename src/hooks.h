/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the kernel has on an interface's hooks (src/hooks.c): the XDP
 * programs, the TC filter at xct's handle and priority, a pinned XDP link,
 * and who holds a program that is not this instance's.  attach asks before
 * it changes anything, detach before it deletes, status to say what is
 * really there rather than what the registry remembers.
 */
#ifndef XCT_HOOKS_H
#define XCT_HOOKS_H

#include <stddef.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

/* The program in the TC filter at xct's handle and priority on ifindex's
 * ingress or egress, or 0 when there is none (no filter, no clsact). */
__u32 xct_tc_prog_at(int ifindex, enum bpf_tc_attach_point point);

/* How many filters of anyone's are on ifindex's clsact ingress or egress,
 * or -errno. */
int xct_tc_filter_count(int ifindex, enum bpf_tc_attach_point point);

/* The XDP program on ifindex, in whichever mode, or 0. */
__u32 xct_xdp_prog_on(int ifindex);

/* The XDP link pinned at path: 0 with its id, its program and the
 * interface it is attached to (0 once someone detached it), or -errno. */
int xct_link_at(const char *path, __u32 *link_id, __u32 *prog_id, __u32 *ifindex);

/* A program's name ("?" if it is gone). */
void xct_prog_name(__u32 prog_id, char *buf, size_t len);

/*
 * Who holds program prog_id, for a refusal's message: the program's name
 * and id, and the state directory of the xct instance whose registry
 * lists it, when one can be found on a mounted BPF filesystem.
 */
void xct_describe_holder(__u32 prog_id, char *buf, size_t len);

#endif /* XCT_HOOKS_H */
