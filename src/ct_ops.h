/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Changing the table from userspace, as ctnetlink does for conntrack(8):
 * create an entry (-I), update one (-U, -L -z) through the datapath's
 * control program, and read and write a connection's labels.
 */
#ifndef XCT_CT_OPS_H
#define XCT_CT_OPS_H

#include "table.h"

/* The pinned control program (xct_ctl under pin_path); -errno if there is
 * none. */
int xct_ctl_open(const char *pin_path);

/* Runs a control command in msg (size bytes, starting with struct
 * xct_ctl_msg); its ret, or -errno if it could not run. */
int xct_ctl_run(int ctl_fd, void *msg, __u32 size);

/*
 * Inserts a new connection's entry, as conntrack -I: -EEXIST when a live
 * connection has the key.  A dead entry on the key (expired, not yet
 * collected) is replaced.
 */
int xct_ct_create(const struct xct_table *t, const struct xct_ct_key *key,
		  const struct xct_ct_entry *e);

/* The connection's labels into bits (zero when it has none); 0 or -errno. */
int xct_ct_labels_get(const struct xct_table *t, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e, __u64 bits[2]);

/*
 * Sets the labels of the connection e (read from the table) to bits,
 * through ctl_fd for the entry's XCT_CT_LABELS bit: -ENOENT when the
 * connection went meanwhile, -EOPNOTSUPP under an xct without labels.
 */
int xct_ct_labels_set(const struct xct_table *t, int ctl_fd, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e, const __u64 bits[2]);

#endif /* XCT_CT_OPS_H */
