/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xctd's flow and NAT logs: connection events as JSON lines in a file,
 * rotated by size (FILE, FILE.1 ... FILE.KEEP, the oldest dropped), or
 * one line a record to the journal (syslog, facility daemon) for the path
 * XCTD_LOG_JOURNAL.
 */
#ifndef XCT_DAEMON_FLOWLOG_H
#define XCT_DAEMON_FLOWLOG_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "xct/abi.h"

#define XCTD_LOG_JOURNAL "journal"

struct xctd_log {
	const char *path;
	bool journal;
	FILE *f;
	__u64 size, max_size;
	unsigned int keep;
	__u64 written, failed;
};

/* Whether the log takes records: a file open, or the journal. */
static inline bool xctd_log_on(const struct xctd_log *l)
{
	return l->f || l->journal;
}

/* Opens (appends to) path, a regular file of root's, mode 0600; 0 or
 * -errno after a message. */
int xctd_log_open(struct xctd_log *l, const char *path, __u64 max_size, unsigned int keep);

/* Writes one event as 'xct ct events -o json' prints it, then rotates the
 * file if it has reached its size. */
void xctd_log_event(struct xctd_log *l, const struct xct_ct_event *ev, __s64 mono_to_real);

void xctd_log_close(struct xctd_log *l);

#endif /* XCT_DAEMON_FLOWLOG_H */
