/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xct ct events: the datapath's connection events (NEW, UPDATE, DESTROY)
 * read from the xct_ct_events ring and printed as conntrack -E prints them.
 */
#ifndef XCT_CT_EVENTS_H
#define XCT_CT_EVENTS_H

#include <stdio.h>

#include "ct_filter.h"
#include "table.h"

#define XCT_CTE_MASK(type) (1u << (type))
#define XCT_CTE_MASK_ALL                                                                           \
	(XCT_CTE_MASK(XCT_CTE_NEW) | XCT_CTE_MASK(XCT_CTE_UPDATE) | XCT_CTE_MASK(XCT_CTE_DESTROY))

struct xct_ct_events_opts {
	unsigned int mask; /* XCT_CTE_MASK() of the event types to show */
	__u64 count;	   /* end after this many shown; 0: no limit */
	__u64 timeout_s;   /* end after this long; 0: no limit */
	unsigned int fmt_flags;
	/* When set, the events that pass the filter go to sink instead of
	 * stdout: it returns how many it counts against count, or -errno to
	 * end the run; tick runs after every wait for events (at least every
	 * 100 ms).  No summary line is printed: the caller says what it did. */
	int (*sink)(void *ctx, const struct xct_ct_event *ev);
	void (*tick)(void *ctx);
	void *ctx;
};

/* "NEW,UPDATE,DESTROY", "UPDATES" or "ALL", any case; 0 or -EINVAL. */
int xct_parse_event_mask(const char *s, unsigned int *mask);

/* The entry an event carries, for the filters and the formatters. */
void xct_event_entry(const struct xct_ct_event *ev, struct xct_ct_entry *e);

/* One record of the ring into *ev: 0, or -1 when it is too short to be
 * an event.  An older datapath's shorter events read as untranslated. */
int xct_ct_event_decode(const void *data, size_t size, struct xct_ct_event *ev);

/* The translation an event carries, as bindings for xct_nat_reply_tuple():
 * manip 0 in either when it has none of that kind. */
void xct_event_nat(const struct xct_ct_event *ev, struct xct_nat_binding *nat,
		   struct xct_nat_binding *inner);

/* What to add to a monotonic time (the datapath's clock) for wall time. */
__s64 xct_mono_to_real(void);

/* One event as the JSON object of 'xct ct events -o json', and a newline;
 * mono_to_real turns its monotonic times into wall times.  0, or -EINVAL
 * for an event of no known type. */
int xct_ct_event_json(FILE *f, const struct xct_ct_event *ev, __s64 mono_to_real);

/* Follows the events until the count, the timeout or a signal; an exit
 * status. */
int xct_ct_events_run(struct xct_table *t, const struct xct_filter *f,
		      const struct xct_ct_events_opts *o);

#endif /* XCT_CT_EVENTS_H */
