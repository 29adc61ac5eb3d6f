/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The connection table saved to a file and restored from it, so that
 * established connections survive a planned reboot, a kernel upgrade or a
 * detach and attach (xct ct save / xct ct restore, and xct down / xct up
 * with state-file set).  The format is text, one connection a line, with
 * relative times, so that it outlives the boot and the xct that wrote it;
 * it is described in xct(8), CONNECTION STATE FILES.
 */
#ifndef XCT_CT_STATE_H
#define XCT_CT_STATE_H

#include <stdio.h>

#include "table.h"

#define XCT_CT_STATE_VERSION 1

struct xct_ct_state_counts {
	unsigned long saved;	/* connections written */
	unsigned long restored; /* connections inserted */
	unsigned long liberal;	/* of them TCP, relearning their windows */
	unsigned long exists;	/* the table had the tuple already: left as it was */
	unsigned long expired;	/* timed out while the table was down */
	unsigned long nat_clash; /* translated tuple taken by another connection */
	unsigned long failed;	/* the table refused the insert (full) */
};

/* Writes every live connection of t, with its translation, to out; 0 or
 * -errno (reported). */
int xct_ct_save(const struct xct_table *t, FILE *out, struct xct_ct_state_counts *c);

/*
 * Reads a saved table from in (name for errors) and inserts its
 * connections into t.  The whole file is read and checked first: a bad
 * file inserts nothing and returns -EINVAL with "NAME:LINE:COLUMN: message"
 * in err.  Restored TCP connections relearn their windows (XCT_CT_LIBERAL);
 * the time the table was down (from the file's realtime stamp) is taken off
 * every timeout.  Restored connections announce no NEW event; their
 * DESTROY comes as any other's.
 */
int xct_ct_restore(const struct xct_table *t, FILE *in, const char *name,
		   struct xct_ct_state_counts *c, char *err, size_t errlen);

/*
 * One connection into t, as a restore or a sync commit puts it there: its
 * translation first (nat[0..n_nat), as xct_nat_reply_tuple() takes them;
 * the bindings and the claims on the translated tuples, so that no packet
 * sees the entry without them), then the entry, with BPF_NOEXIST.  The
 * caller sets e's times.  A TCP connection relearns its windows
 * (xct_tcp_set_liberal()).  A tuple the table has is left alone: the
 * datapath saw it last.  Counted in c (restored, liberal, exists,
 * nat_clash, failed); 0, or -errno for any other failure.
 */
struct xct_nat_binding;
int xct_ct_insert(const struct xct_table *t, const struct xct_ct_key *key, struct xct_ct_entry *e,
		  const struct xct_nat_binding *nat, int n_nat, struct xct_ct_state_counts *c);

/* The same on files: "-" is standard output (input).  A save is written
 * beside path (mode 0600) and renamed over it, so a save cut short leaves
 * the previous one whole. */
int xct_ct_save_file(const struct xct_table *t, const char *path, struct xct_ct_state_counts *c);
int xct_ct_restore_file(const struct xct_table *t, const char *path,
			struct xct_ct_state_counts *c, char *err, size_t errlen);

#endif /* XCT_CT_STATE_H */
