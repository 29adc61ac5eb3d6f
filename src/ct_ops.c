// SPDX-License-Identifier: GPL-2.0-only
/*
 * The table's writers outside the datapath.  An update goes through the
 * control program, which changes the entry under its lock: a
 * read-modify-write of the whole value from here would undo what a packet
 * changed in between.  A create writes the map itself: there is no
 * previous state to keep, and BPF_NOEXIST makes it lose against a packet
 * that created the connection first.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "ct_ops.h"
#include "xct.h"
#include "xct/ct.h"

int xct_ctl_open(const char *pin_path)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/xct_ctl", pin_path);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int xct_ctl_run(int ctl_fd, void *msg, __u32 size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = msg, .data_size_in = size, .data_out = msg,
		    .data_size_out = size, .repeat = 1);

	if (bpf_prog_test_run_opts(ctl_fd, &opts))
		return -errno;
	return ((struct xct_ctl_msg *)msg)->ret;
}

int xct_ct_create(const struct xct_table *t, const struct xct_ct_key *key,
		  const struct xct_ct_entry *e)
{
	struct xct_ct_entry old, n = *e;

	/* The key it is created under, as the datapath's insert records it. */
	n.ident = xct_key_ident(key);
	e = &n;
	if (bpf_map_update_elem(t->ct_fd, key, e, BPF_NOEXIST) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (bpf_map_lookup_elem_flags(t->ct_fd, key, &old, BPF_F_LOCK))
		return errno == ENOENT ? -EAGAIN : -errno;
	if (xct_entry_alive(&old, e->first_seen_ns))
		return -EEXIST;
	/* A packet may revive a dead entry as a new connection meanwhile;
	 * then this create replaces it, as a create racing a packet would
	 * in nf_conntrack's confirm. */
	return bpf_map_update_elem(t->ct_fd, key, e, BPF_EXIST | BPF_F_LOCK) ? -errno : 0;
}

int xct_ct_labels_get(const struct xct_table *t, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e, __u64 bits[2])
{
	struct xct_ct_labels l;

	bits[0] = bits[1] = 0;
	if (t->labels_fd < 0 || !(e->status & XCT_CT_LABELS))
		return 0;
	if (bpf_map_lookup_elem(t->labels_fd, key, &l))
		return errno == ENOENT ? 0 : -errno;
	/* Left by an earlier connection on the tuple. */
	if (l.first_seen_ns != e->first_seen_ns)
		return 0;
	bits[0] = l.bits[0];
	bits[1] = l.bits[1];
	return 0;
}

int xct_ct_labels_set(const struct xct_table *t, int ctl_fd, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e, const __u64 bits[2])
{
	struct xct_ct_labels l = {.bits = {bits[0], bits[1]}, .first_seen_ns = e->first_seen_ns};
	struct xct_ctl_ct_update m = {
		.ct.hdr.cmd = XCT_CTL_CT_UPDATE,
		.ct.key = *key,
		.flags = XCT_UPD_LABELS,
		.first_seen_ns = e->first_seen_ns,
	};
	int err;

	if (t->labels_fd < 0)
		return -EOPNOTSUPP;
	/* The labels first, then the entry's bit that says they are there:
	 * a delete in between finds no bit, and the labels' stale time
	 * keeps them from a later connection. */
	if (bpf_map_update_elem(t->labels_fd, key, &l, BPF_ANY))
		return -errno;
	err = xct_ctl_run(ctl_fd, &m, sizeof(m));
	if (err)
		bpf_map_delete_elem(t->labels_fd, key);
	return err;
}
