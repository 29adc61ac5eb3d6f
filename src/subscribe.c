// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event readers announce themselves to the datapath through the pinned
 * xct_subs array (include/xct/abi.h): a reader writes the time into its
 * kind's slot when it starts and again at least every XCT_SUB_REFRESH_NS
 * while it reads.  There is nothing to undo at exit: the slot goes stale by
 * itself.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "xct.h"

int xct_sub_open(struct xct_sub *sub, enum xct_sub_kind kind)
{
	char path[256];

	sub->kind = kind;
	sub->last_ns = 0;
	sub->fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_subs"));
	if (sub->fd < 0) {
		xct_err("cannot open %s: %s (is xct attached?)", path, strerror(errno));
		return -errno;
	}
	return xct_sub_refresh(sub);
}

int xct_sub_refresh(struct xct_sub *sub)
{
	__u64 now = xct_now_ns();
	__u32 key = sub->kind;

	if (sub->last_ns && now - sub->last_ns < XCT_SUB_REFRESH_NS)
		return 0;
	if (bpf_map_update_elem(sub->fd, &key, &now, BPF_ANY)) {
		xct_err("cannot subscribe to events: %s", strerror(errno));
		return -errno;
	}
	sub->last_ns = now;
	return 0;
}

void xct_sub_close(struct xct_sub *sub)
{
	if (sub->fd >= 0)
		close(sub->fd);
	sub->fd = -1;
}
