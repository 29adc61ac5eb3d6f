// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct ct events: follows the connection events of the datapath (the
 * xct_ct_events ring buffer, bpf/ct_events.h) as conntrack -E follows
 * nf_conntrack's, with the same filters as xct ct list.
 *
 * The datapath builds events only while a reader is subscribed (xct_subs),
 * so this command subscribes and refreshes its subscription while it
 * reads.  It never slows the datapath down: what the ring had no room for
 * is counted (ct_events_lost) and reported when the command ends, and so
 * is what the datapath did not build while the subscription had lapsed
 * (ct_events_no_reader: this reader stalled for longer than XCT_SUB_TTL_NS,
 * blocked on a consumer that stopped reading), so that what it shows plus
 * what it reports lost is every event of its lifetime.  The events come
 * through xctd when it runs, so that every reader gets every one of them
 * (src/daemon/stream.h); without it a second reader is refused.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct_events.h"
#include "ct_format.h"
#include "daemon/stream.h"
#include "owner.h"
#include "xct.h"

#define SUMMARY_PREFIX "xct v" XCT_VERSION " (xct): "

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

int xct_parse_event_mask(const char *s, unsigned int *mask)
{
	char buf[128], *tok, *save = NULL;
	unsigned int m = 0;

	if (!s || !*s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(tok, "NEW"))
			m |= XCT_CTE_MASK(XCT_CTE_NEW);
		else if (!strcasecmp(tok, "UPDATE") || !strcasecmp(tok, "UPDATES"))
			m |= XCT_CTE_MASK(XCT_CTE_UPDATE);
		else if (!strcasecmp(tok, "DESTROY"))
			m |= XCT_CTE_MASK(XCT_CTE_DESTROY);
		else if (!strcasecmp(tok, "ALL"))
			m |= XCT_CTE_MASK_ALL;
		else
			return -EINVAL;
	}
	if (!m)
		return -EINVAL;
	*mask = m;
	return 0;
}

void xct_event_entry(const struct xct_ct_event *ev, struct xct_ct_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->state = ev->state;
	e->orig_side = ev->orig_side;
	e->status = ev->status;
	e->mark = ev->mark;
	e->seq = ev->seq;
	e->first_seen_ns = ev->first_seen_ns;
	e->last_seen_ns = ev->last_seen_ns;
	e->expires_ns = ev->expires_ns;
	e->packets[0] = ev->packets[0];
	e->packets[1] = ev->packets[1];
	e->bytes[0] = ev->bytes[0];
	e->bytes[1] = ev->bytes[1];
}

int xct_ct_event_decode(const void *data, size_t size, struct xct_ct_event *ev)
{
	/* An older datapath's events end before the translation. */
	if (size < XCT_CT_EVENT_BASE_SIZE)
		return -1;
	memset(ev, 0, sizeof(*ev));
	memcpy(ev, data, size < sizeof(*ev) ? size : sizeof(*ev));
	return 0;
}

void xct_event_nat(const struct xct_ct_event *ev, struct xct_nat_binding *nat,
		   struct xct_nat_binding *inner)
{
	memset(nat, 0, sizeof(*nat));
	memset(inner, 0, sizeof(*inner));
	if (ev->nat_manip & XCT_CT_DST_NAT) {
		nat->manip = XCT_CT_DST_NAT;
		nat->addr = ev->nat_dst_addr;
		nat->port = ev->nat_dst_port;
		if (ev->nat_manip & XCT_CT_SRC_NAT) {
			nat = inner;
		} else {
			return;
		}
	}
	if (ev->nat_manip & XCT_CT_SRC_NAT) {
		nat->manip = XCT_CT_SRC_NAT;
		nat->addr = ev->nat_src_addr;
		nat->port = ev->nat_src_port;
	}
}

struct reader {
	const struct xct_filter *filter;
	const struct xct_ct_events_opts *opts;
	__s64 mono_to_real; /* ns to add to a monotonic time for wall time */
	__u64 shown;
	int sink_err;
	struct xct_owner_view owners;
};

static const char *const type_names[] = {
	[XCT_CTE_NEW] = "NEW",
	[XCT_CTE_UPDATE] = "UPDATE",
	[XCT_CTE_DESTROY] = "DESTROY",
};

static const char *const end_names[] = {
	[XCT_CTE_END_NONE] = "",
	[XCT_CTE_END_EXPIRED] = "expired",
	[XCT_CTE_END_EARLY_DROP] = "early_drop",
	[XCT_CTE_END_DELETED] = "deleted",
	[XCT_CTE_END_REUSED] = "reused",
	[XCT_CTE_END_KILLED] = "killed",
};

static void print_wall(FILE *f, __u64 real_ns)
{
	fprintf(f, "%llu.%06llu", (unsigned long long)(real_ns / 1000000000ULL),
		(unsigned long long)(real_ns % 1000000000ULL / 1000));
}

static void print_json(FILE *f, __s64 mono_to_real, const struct xct_ct_event *ev,
		       const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
		       const struct xct_nat_binding *inner, struct xct_owner_view *ov,
		       const struct xct_owner *owner)
{
	fprintf(f, "{\"time\":");
	print_wall(f, ev->time_ns + (__u64)mono_to_real);
	fprintf(f, ",\"event\":\"%s\",\"seq\":%u", type_names[ev->type], ev->seq);
	if (ev->type == XCT_CTE_DESTROY) {
		fprintf(f, ",\"end\":\"%s\",\"start\":",
			ev->end < sizeof(end_names) / sizeof(end_names[0]) ? end_names[ev->end]
									   : "?");
		print_wall(f, ev->first_seen_ns + (__u64)mono_to_real);
		fprintf(f, ",\"duration_ms\":%llu",
			(unsigned long long)(xct_event_duration_ns(e, ev->time_ns) / 1000000));
	}
	fprintf(f, ",\"conn\":");
	xct_print_conn_json_nat(f, &ev->key, e, nat, inner, ev->time_ns);
	if (owner) {
		fprintf(f, ",\"owner\":");
		xct_owner_json(f, ov, owner);
	}
	fprintf(f, "}\n");
}

int xct_ct_event_json(FILE *f, const struct xct_ct_event *ev, __s64 mono_to_real)
{
	struct xct_nat_binding nat, inner;
	struct xct_ct_entry e;

	if (ev->type < XCT_CTE_NEW || ev->type > XCT_CTE_DESTROY)
		return -EINVAL;
	xct_event_entry(ev, &e);
	xct_event_nat(ev, &nat, &inner);
	print_json(f, mono_to_real, ev, &e, nat.manip ? &nat : NULL, inner.manip ? &inner : NULL,
		   NULL, NULL);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct reader *r = ctx;
	struct xct_nat_binding nat_b, inner_b;
	const struct xct_nat_binding *nat, *inner;
	struct xct_ct_event copy;
	const struct xct_ct_event *ev = &copy;
	struct xct_owner owner_b;
	const struct xct_owner *owner;
	struct xct_ct_entry e;
	char line[1024];
	int n;

	if (xct_ct_event_decode(data, size, &copy))
		return 0;
	if (ev->type < XCT_CTE_NEW || ev->type > XCT_CTE_DESTROY ||
	    !(r->opts->mask & XCT_CTE_MASK(ev->type)))
		return 0;
	if (r->opts->count && r->shown >= r->opts->count)
		return 0;
	xct_event_entry(ev, &e);
	xct_event_nat(ev, &nat_b, &inner_b);
	nat = nat_b.manip ? &nat_b : NULL;
	inner = inner_b.manip ? &inner_b : NULL;
	if (!xct_filter_match_nat(r->filter, &ev->key, &e, nat, inner))
		return 0;
	/* A DESTROY brings its owner along; a NEW's is looked up here (the
	 * datapath spares forwarded connections the lookup), and an accepted
	 * connection, not yet established, shows its listener's. */
	owner = xct_event_owner(data, size, &owner_b) ? &owner_b : NULL;
	if (!owner && ev->type == XCT_CTE_NEW &&
	    !xct_owner_find(&r->owners, &ev->key, ev->orig_side, &owner_b))
		owner = &owner_b;
	if (r->opts->sink) {
		n = r->opts->sink(r->opts->ctx, ev);
		if (n < 0)
			return r->sink_err = n;
		r->shown += (__u64)n;
		return 0;
	}
	if (xct_opts.json) {
		print_json(stdout, r->mono_to_real, ev, &e, nat, inner, &r->owners, owner);
	} else {
		if (r->opts->fmt_flags & XCT_FMT_TIMESTAMP) {
			__u64 real = ev->time_ns + (__u64)r->mono_to_real;

			/* conntrack -E -o timestamp's "[%-8ld.%-6ld]\t" */
			printf("[%-8llu.%-6llu]\t", (unsigned long long)(real / 1000000000ULL),
			       (unsigned long long)(real % 1000000000ULL / 1000));
		}
		n = xct_format_event(line, sizeof(line) - 1, &ev->key, &e, nat, inner, ev->type,
				     ev->end, ev->time_ns, r->opts->fmt_flags);
		if (owner)
			n += xct_owner_format(&r->owners, owner, line + n,
					      sizeof(line) - 1 - (size_t)n);
		line[n] = '\n';
		fwrite(line, 1, (size_t)n + 1, stdout);
	}
	r->shown++;
	return 0;
}

__s64 xct_mono_to_real(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((__s64)real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

int xct_ct_events_run(struct xct_table *t, const struct xct_filter *f,
		      const struct xct_ct_events_opts *o)
{
	struct reader r = {.filter = f, .opts = o, .mono_to_real = xct_mono_to_real()};
	struct xct_stream_paths paths;
	struct xct_stream *s = NULL;
	__u64 full_before, unbuilt_before, full, unbuilt, lost;
	int err, rc = XCT_EXIT_OK;
	time_t deadline = 0;

	xct_owner_view_open(&r.owners, xct_opts.pin_path);
	full_before = xct_counter_total(t, XCT_S_CT_EVENTS_LOST);
	unbuilt_before = xct_counter_total(t, XCT_S_CT_EVENTS_NO_READER);
	if (xct_stream_open(&s, xct_cli_stream_paths(&paths), XCT_STREAM_CT_EVENTS, on_event, &r)) {
		xct_owner_view_close(&r.owners);
		return XCT_EXIT_RUNTIME;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
	if (o->timeout_s)
		deadline = time(NULL) + (time_t)o->timeout_s;
	while (!stop && (!o->count || r.shown < o->count)) {
		err = xct_stream_poll(s, 100);
		fflush(stdout);
		if (err == -EINTR)
			break;
		if (r.sink_err) {
			rc = XCT_EXIT_RUNTIME;
			break;
		}
		if (o->tick)
			o->tick(o->ctx);
		if (err < 0) {
			if (err != -EPROTO)
				xct_err("reading connection events: %s", strerror(-err));
			rc = XCT_EXIT_RUNTIME;
			break;
		}
		if (deadline && time(NULL) >= deadline)
			break;
	}
	/* What was queued before the end still counts as seen, not lost. */
	if (rc == XCT_EXIT_OK && (!o->count || r.shown < o->count))
		xct_stream_drain(s);
	/* The ring's overflow and what xctd could not queue for this reader
	 * are both "the ring buffer was full" to the reader. */
	full = xct_counter_total(t, XCT_S_CT_EVENTS_LOST) - full_before + xct_stream_lost(s);
	unbuilt = xct_counter_total(t, XCT_S_CT_EVENTS_NO_READER) - unbuilt_before;
	lost = full + unbuilt;
	if (xct_opts.json && !o->sink)
		printf("{\"event\":\"END\",\"shown\":%llu,\"lost\":%llu,\"lost_ring_full\":%llu,"
		       "\"lost_not_read\":%llu}\n",
		       (unsigned long long)r.shown, (unsigned long long)lost,
		       (unsigned long long)full, (unsigned long long)unbuilt);
	fflush(stdout);
	if (!o->sink)
		fprintf(stderr, SUMMARY_PREFIX "%llu flow events have been shown.\n",
			(unsigned long long)r.shown);
	if (lost)
		fprintf(stderr,
			"xct: %llu connection events lost (%llu: the ring buffer was full; %llu: "
			"not read for more than %llu s, so not built)\n",
			(unsigned long long)lost, (unsigned long long)full,
			(unsigned long long)unbuilt,
			(unsigned long long)(XCT_SUB_TTL_NS / 1000000000ULL));
	xct_stream_close(s);
	xct_owner_view_close(&r.owners);
	return rc;
}
