// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event readers announce themselves to the datapath through the pinned
 * xct_subs array (include/xct/abi.h): a reader writes the time into its
 * kind's slot when it starts and again at least every XCT_SUB_REFRESH_NS
 * while it reads.  There is nothing to undo at exit: the slot goes stale by
 * itself.  The paths of the streams these readers follow are here too.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "daemon/stream.h"
#include "xct.h"

int xct_sub_open(struct xct_sub *sub, enum xct_sub_kind kind)
{
	return xct_sub_open_at(sub, xct_opts.pin_path, kind);
}

int xct_sub_open_at(struct xct_sub *sub, const char *pin_path, enum xct_sub_kind kind)
{
	char path[4096];

	sub->kind = kind;
	sub->last_ns = 0;
	snprintf(path, sizeof(path), "%s/xct_subs", pin_path);
	sub->fd = bpf_obj_get(path);
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

void xct_sub_end(struct xct_sub *sub)
{
	__u32 key = sub->kind;
	__u64 seen = 0, zero = 0;

	if (sub->fd >= 0 && sub->last_ns && bpf_map_lookup_elem(sub->fd, &key, &seen) == 0 &&
	    seen == sub->last_ns)
		bpf_map_update_elem(sub->fd, &key, &zero, BPF_ANY);
	sub->last_ns = 0;
}

struct xct_stream_paths *xct_cli_stream_paths(struct xct_stream_paths *p)
{
	static char sock[256];

	p->pin_path = xct_opts.pin_path;
	if (!xct_opts.socket_path)
		xct_default_socket(xct_opts.pin_path, sock, sizeof(sock));
	p->socket_path = xct_opts.socket_path ? xct_opts.socket_path : sock;
	p->run_dir = XCT_RUN_DIR;
	return p;
}

void xct_sub_close(struct xct_sub *sub)
{
	if (sub->fd >= 0)
		close(sub->fd);
	sub->fd = -1;
}
