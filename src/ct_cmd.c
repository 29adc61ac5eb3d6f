// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct ct list|get|delete|flush|count|stats|events: the connection table, in
 * the manner of conntrack -L/-G/-D/-F/-C/-S/-E, with the same filters,
 * output lines and summary lines (on stderr), and -o json.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct_events.h"
#include "ct_filter.h"
#include "ct_format.h"
#include "ct_state.h"
#include "owner.h"
#include "table.h"
#include "xct.h"

#define SUMMARY_PREFIX "xct v" XCT_VERSION " (xct): "

static const char ct_usage[] =
	"Usage: xct ct list   [FILTER...] [-o json|extended|process]\n"
	"       xct ct get    -p PROTO -s ADDR -d ADDR [--sport N --dport N] [-o json|process]\n"
	"       xct ct delete FILTER...\n"
	"       xct ct flush\n"
	"       xct ct count\n"
	"       xct ct stats  [--reasons]\n"
	"       xct ct events [FILTER...] [-e NEW,UPDATE,DESTROY] [--count N]\n"
	"                     [--timeout SECONDS] [-o json|extended|timestamp]\n"
	"       xct ct save    FILE|-\n"
	"       xct ct restore FILE|-\n"
	"\n"
	"FILTER (as conntrack(8)):\n"
	"  -p, --proto PROTO          tcp, udp, icmp, icmpv6 or a number 0-255\n"
	"  -s, --src, --orig-src ADDR[/LEN]\n"
	"  -d, --dst, --orig-dst ADDR[/LEN]\n"
	"  -r, --reply-src ADDR[/LEN]\n"
	"  -q, --reply-dst ADDR[/LEN]\n"
	"      --sport, --orig-port-src PORT\n"
	"      --dport, --orig-port-dst PORT\n"
	"      --state STATE          TCP state: SYN_SENT, ESTABLISHED, TIME_WAIT...\n"
	"  -f, --family ipv4|ipv6\n"
	"  -u, --status ASSURED|SEEN_REPLY|UNSET[,...]\n"
	"  -m, --mark MARK[/MASK]\n"
	"      --icmp-type N, --icmp-code N, --icmp-id N\n"
	"      --src-nat, --dst-nat, --any-nat\n"
	"                             translated connections only (source, destination, either)\n"
	"\n"
	"A translated connection shows its reply tuple as conntrack does: the tuple\n"
	"the other end answers to (after masquerade, its destination is the router;\n"
	"after dnat, its source is the inner server).\n"
	"\n"
	"Unlike conntrack -L, list shows both address families unless -f is given.\n"
	"\n"
	"-o process adds the owner of each connection this host made or accepted\n"
	"(recorded since xct attach-cgroup): pid= tid= comm= uid= gid= cgroup= and\n"
	"exe= while the process runs; with -o json an \"owner\" object.  events show\n"
	"the owner on NEW and DESTROY whenever it is recorded.\n"
	"\n"
	"stats prints conntrack -S's counters per CPU, then how a full table made\n"
	"room: an insert that finds the table full evicts one entry that is not\n"
	"ASSURED (a dead one, or one that saw no reply, first; one that did gets a\n"
	"second chance), never an ASSURED one.  early_drop_unreplied and\n"
	"early_drop_replied count those by kind; early_drop counts them and the GC's\n"
	"early drops together.  With nothing to evict the packet is dropped\n"
	"(insert_failed, drop, reason table_full).  -j prints every counter.\n"
	"\n"
	"events follows the table as conntrack -E does: NEW when a connection is\n"
	"admitted, UPDATE when its TCP state or SEEN_REPLY/ASSURED changes, DESTROY\n"
	"when it goes (timed out, early-dropped, deleted, or its tuple reused),\n"
	"with both directions' counters and delta-time=SECONDS: a flow log.  The\n"
	"reply tuple is the translated one of a NATed connection: while NAT is in\n"
	"use, NEW waits for the translation, decided when the first packet leaves.\n"
	"  -e, --event-mask LIST      NEW, UPDATE, DESTROY or ALL, comma-separated\n"
	"      --count N              end after N events\n"
	"      --timeout SECONDS      end after SECONDS\n"
	"  -o json                    one object per line; a last {\"event\":\"END\"}\n"
	"                             object has the counts of shown and lost events\n"
	"  -o timestamp               prefix lines with [seconds.microseconds]\n"
	"Events the datapath had no room for in the ring are counted, and their\n"
	"number is reported at the end (stderr).  One reader at a time.\n"
	"\n"
	"save writes every live connection (with its translation) to FILE, and\n"
	"restore puts them back, so that established connections survive a\n"
	"planned reboot, a kernel upgrade or a detach and attach.  The time the\n"
	"table was down is taken off every timeout; a tuple the table has already\n"
	"is left as it is.  Restored TCP connections relearn their windows: the\n"
	"window check is relaxed until both directions have been seen again (ct\n"
	"stats: liberal_end).  A bad file restores nothing (FILE:LINE:COLUMN).\n"
	"\n"
	"Examples:\n"
	"  xct ct list -p tcp --state ESTABLISHED\n"
	"  xct ct list -s 10.0.0.0/8 -o json\n"
	"  xct ct list --src-nat -p tcp\n"
	"  xct ct list -p tcp -o process\n"
	"  xct ct get -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 40000 --dport 22\n"
	"  xct ct delete -p udp --dport 53\n"
	"  xct ct events -p tcp --dport 443 -e DESTROY -o json\n"
	"  xct ct save /var/lib/xct/conntrack.state\n";

enum {
	OPT_SPORT = 256,
	OPT_DPORT,
	OPT_STATE,
	OPT_ICMP_TYPE,
	OPT_ICMP_CODE,
	OPT_ICMP_ID,
	OPT_REASONS,
	OPT_COUNT,
	OPT_TIMEOUT,
	OPT_SRC_NAT,
	OPT_DST_NAT,
	OPT_ANY_NAT,
};

static const struct option ct_options[] = {
	{"proto", required_argument, NULL, 'p'},
	{"src", required_argument, NULL, 's'},
	{"orig-src", required_argument, NULL, 's'},
	{"dst", required_argument, NULL, 'd'},
	{"orig-dst", required_argument, NULL, 'd'},
	{"reply-src", required_argument, NULL, 'r'},
	{"reply-dst", required_argument, NULL, 'q'},
	{"sport", required_argument, NULL, OPT_SPORT},
	{"orig-port-src", required_argument, NULL, OPT_SPORT},
	{"dport", required_argument, NULL, OPT_DPORT},
	{"orig-port-dst", required_argument, NULL, OPT_DPORT},
	{"state", required_argument, NULL, OPT_STATE},
	{"family", required_argument, NULL, 'f'},
	{"status", required_argument, NULL, 'u'},
	{"mark", required_argument, NULL, 'm'},
	{"icmp-type", required_argument, NULL, OPT_ICMP_TYPE},
	{"icmp-code", required_argument, NULL, OPT_ICMP_CODE},
	{"icmp-id", required_argument, NULL, OPT_ICMP_ID},
	{"output", required_argument, NULL, 'o'},
	{"reasons", no_argument, NULL, OPT_REASONS},
	{"event-mask", required_argument, NULL, 'e'},
	{"count", required_argument, NULL, OPT_COUNT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"src-nat", no_argument, NULL, OPT_SRC_NAT},
	{"dst-nat", no_argument, NULL, OPT_DST_NAT},
	{"any-nat", no_argument, NULL, OPT_ANY_NAT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct ct_args {
	struct xct_filter filter;
	unsigned int fmt_flags;
	bool reasons;
	bool has_filter;
	struct xct_ct_events_opts ev;
	bool ev_given; /* an option only events takes */
};

static int parse_port(const char *opt, const char *s, int *out)
{
	__u64 v;

	if (xct_parse_u64(s, 0, 65535, &v))
		return xct_usage_error("%s: '%s' is not a port (0-65535)", opt, s);
	*out = (int)v;
	return 0;
}

static int parse_small(const char *opt, const char *s, __u64 max, int *out)
{
	__u64 v;

	if (xct_parse_u64(s, 0, max, &v))
		return xct_usage_error("%s: '%s' is not a number from 0 to %llu", opt, s,
				       (unsigned long long)max);
	*out = (int)v;
	return 0;
}

/* -o json|extended|timestamp|process, or a comma-separated list of them. */
static int parse_output(const char *s, struct ct_args *a)
{
	char buf[64], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "json"))
			xct_opts.json = true;
		else if (!strcmp(tok, "extended"))
			a->fmt_flags |= XCT_FMT_EXTENDED;
		else if (!strcmp(tok, "timestamp"))
			a->fmt_flags |= XCT_FMT_TIMESTAMP;
		else if (!strcmp(tok, "process"))
			a->fmt_flags |= XCT_FMT_PROCESS;
		else
			return -EINVAL;
	}
	return 0;
}

/* Parses the options after "xct ct SUBCOMMAND"; returns 0 or an exit status. */
static int parse_ct_args(int argc, char **argv, struct ct_args *a)
{
	static const char *const addr_opt[] = {"-s", "-d", "-r", "-q"};
	struct xct_filter *f = &a->filter;
	int c, field, err, i;

	memset(a, 0, sizeof(*a));
	xct_filter_init(f);
	a->ev.mask = XCT_CTE_MASK_ALL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:s:d:r:q:f:u:m:o:e:h", ct_options, NULL)) != -1) {
		err = 0;
		field = -1;
		switch (c) {
		case 'p':
			if (xct_parse_proto(optarg, &f->proto))
				return xct_usage_error("-p: unknown protocol '%s'", optarg);
			break;
		case 's':
			field = XCT_F_ORIG_SRC;
			break;
		case 'd':
			field = XCT_F_ORIG_DST;
			break;
		case 'r':
			field = XCT_F_REPLY_SRC;
			break;
		case 'q':
			field = XCT_F_REPLY_DST;
			break;
		case OPT_SPORT:
			err = parse_port("--sport", optarg, &f->sport);
			break;
		case OPT_DPORT:
			err = parse_port("--dport", optarg, &f->dport);
			break;
		case OPT_STATE:
			if (xct_parse_tcp_state(optarg, &f->state))
				return xct_usage_error("--state: unknown TCP state '%s'", optarg);
			break;
		case 'f':
			if (xct_parse_family(optarg, &f->family))
				return xct_usage_error("-f: '%s' is not ipv4 or ipv6", optarg);
			break;
		case 'u':
			if (xct_parse_status(optarg, &f->status_set, &f->status_unset))
				return xct_usage_error(
					"--status: '%s' is not ASSURED, SEEN_REPLY or UNSET",
					optarg);
			break;
		case 'm':
			if (xct_parse_mark(optarg, &f->mark, &f->mark_mask))
				return xct_usage_error("--mark: '%s' is not MARK[/MASK]", optarg);
			break;
		case OPT_ICMP_TYPE:
			err = parse_small("--icmp-type", optarg, 255, &f->icmp_type);
			break;
		case OPT_ICMP_CODE:
			err = parse_small("--icmp-code", optarg, 255, &f->icmp_code);
			break;
		case OPT_ICMP_ID:
			err = parse_small("--icmp-id", optarg, 65535, &f->icmp_id);
			break;
		case 'o':
			if (parse_output(optarg, a))
				return xct_usage_error(
					"-o: '%s' is not json, extended, timestamp or process",
					optarg);
			break;
		case 'e':
			if (xct_parse_event_mask(optarg, &a->ev.mask))
				return xct_usage_error(
					"-e: '%s' is not a list of NEW, UPDATE, DESTROY or ALL",
					optarg);
			a->ev_given = true;
			break;
		case OPT_COUNT:
			if (xct_parse_count_opt(optarg, &a->ev.count))
				return XCT_EXIT_USAGE;
			a->ev_given = true;
			break;
		case OPT_TIMEOUT:
			if (xct_parse_timeout_opt(optarg, &a->ev.timeout_s))
				return XCT_EXIT_USAGE;
			a->ev_given = true;
			break;
		case OPT_REASONS:
			a->reasons = true;
			break;
		case OPT_SRC_NAT:
			f->nat_any |= XCT_CT_SRC_NAT;
			break;
		case OPT_DST_NAT:
			f->nat_any |= XCT_CT_DST_NAT;
			break;
		case OPT_ANY_NAT:
			f->nat_any |= XCT_CT_SRC_NAT | XCT_CT_DST_NAT;
			break;
		case 'h':
			fputs(ct_usage, stdout);
			exit(XCT_EXIT_OK);
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s'", argv[optind - 1]);
		}
		if (err)
			return err;
		if (field >= 0) {
			char why[160];

			if (xct_parse_cidr_msg(optarg, &f->addr[field], why, sizeof(why)))
				return xct_usage_error("%s: %s", addr_opt[field], why);
			f->has_addr[field] = true;
		}
		if (c != 'o' && c != OPT_REASONS && c != 'e' && c != OPT_COUNT && c != OPT_TIMEOUT)
			a->has_filter = true;
	}
	if (optind < argc)
		return xct_usage_error("unexpected argument '%s'", argv[optind]);

	/* An address implies its family; two families cannot both match. */
	for (i = 0; i < XCT_F_ADDR_COUNT; i++) {
		if (!f->has_addr[i])
			continue;
		if (f->family && f->family != f->addr[i].family)
			return xct_usage_error("address family mismatch: %s is %s, not %s",
					       addr_opt[i], xct_family_name(f->addr[i].family),
					       xct_family_name(f->family));
		f->family = f->addr[i].family;
	}
	if ((f->sport >= 0 || f->dport >= 0) && f->proto >= 0 && f->proto != 6 && f->proto != 17)
		return xct_usage_error("--sport/--dport need -p tcp or -p udp");
	if (f->state >= 0 && f->proto >= 0 && f->proto != 6)
		return xct_usage_error("--state needs -p tcp");
	return 0;
}

struct list_ctx {
	const struct ct_args *args;
	struct xct_nat_view nat;      /* the translated connections' bindings */
	struct xct_owner_view owners; /* -o process */
	__u64 now;
	unsigned long shown;
	/* delete: the matching keys, deleted after the walk */
	struct xct_ct_key *keys;
	size_t nkeys, cap;
};

/* The entry's JSON object with its owner as "owner", the last member. */
static void print_owned_json(struct list_ctx *l, const struct xct_ct_key *key,
			     const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			     const struct xct_nat_binding *inner, const struct xct_owner *owner)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m) {
		xct_print_conn_json_nat(stdout, key, e, nat, inner, l->now);
		return;
	}
	xct_print_conn_json_nat(m, key, e, nat, inner, l->now);
	fclose(m);
	if (len && buf[len - 1] == '}')
		len--;
	fwrite(buf, 1, len, stdout);
	fputs(",\"owner\":", stdout);
	xct_owner_json(stdout, &l->owners, owner);
	fputc('}', stdout);
	free(buf);
}

static void print_entry(struct list_ctx *l, const struct xct_ct_key *key,
			const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			const struct xct_nat_binding *inner)
{
	bool process = l->args->fmt_flags & XCT_FMT_PROCESS;
	struct xct_owner owner;
	bool owned = process && !xct_owner_find(&l->owners, key, e->orig_side, &owner);
	char line[1024];

	if (xct_opts.json) {
		fputs(l->shown ? ",\n" : "[\n", stdout);
		if (owned)
			print_owned_json(l, key, e, nat, inner, &owner);
		else
			xct_print_conn_json_nat(stdout, key, e, nat, inner, l->now);
	} else {
		int n = xct_format_conn_nat(line, sizeof(line) - 1, key, e, nat, inner, l->now,
					    l->args->fmt_flags);

		if (owned)
			n += xct_owner_format(&l->owners, &owner, line + n,
					      sizeof(line) - 1 - (size_t)n);
		line[n] = '\n';
		fwrite(line, 1, (size_t)n + 1, stdout);
	}
	l->shown++;
}

static int list_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	struct list_ctx *l = ctx;
	const struct xct_nat_binding *nat = xct_nat_view_find(&l->nat, key, e);
	const struct xct_nat_binding *inner = xct_nat_view_inner(&l->nat, nat);

	if (xct_filter_match_nat(&l->args->filter, key, e, nat, inner))
		print_entry(l, key, e, nat, inner);
	return 0;
}

static void end_json(const struct list_ctx *l)
{
	if (xct_opts.json)
		puts(l->shown ? "\n]" : "[]");
}

static int collect_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	struct list_ctx *l = ctx;
	const struct xct_nat_binding *nat = xct_nat_view_find(&l->nat, key, e);
	const struct xct_nat_binding *inner = xct_nat_view_inner(&l->nat, nat);

	if (!xct_filter_match_nat(&l->args->filter, key, e, nat, inner))
		return 0;
	if (l->nkeys == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct xct_ct_key *keys = realloc(l->keys, cap * sizeof(*keys));

		if (!keys)
			return -ENOMEM;
		l->keys = keys;
		l->cap = cap;
	}
	l->keys[l->nkeys++] = *key;
	print_entry(l, key, e, nat, inner);
	return 0;
}

static int do_list(struct xct_table *t, const struct ct_args *a, bool get)
{
	/* A million lines go out in 64 KiB writes rather than 4 KiB ones. */
	static char out[64 * 1024];
	struct list_ctx l = {.args = a, .now = xct_now_ns()};
	int err;

	setvbuf(stdout, out, _IOFBF, sizeof(out));
	xct_owner_view_open(&l.owners, xct_opts.pin_path);
	err = xct_nat_view_load(t, &l.nat);
	if (!err)
		err = xct_table_walk(t, l.now, list_one, &l);
	xct_nat_view_free(&l.nat);
	xct_owner_view_close(&l.owners);

	end_json(&l);
	if (err)
		return XCT_EXIT_RUNTIME;
	fprintf(stderr, SUMMARY_PREFIX "%lu flow entries have been shown.\n", l.shown);
	if (get && l.shown == 0) {
		xct_err("such connection does not exist");
		return XCT_EXIT_RUNTIME;
	}
	return XCT_EXIT_OK;
}

/*
 * Deletes go through the datapath's control program (pinned by attach as
 * xct_ctl), which deletes as the GC does and sends the DESTROY a reader of
 * xct ct events expects; userspace cannot write into the ring.  An xct
 * attached before the control program was pinned gets plain map deletes.
 */
static int open_ctl(void)
{
	char path[4096];
	int fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_ctl"));

	if (fd < 0)
		xct_err("%s: %s; deleting without DESTROY events (re-attach with --replace)", path,
			strerror(errno));
	return fd;
}

/* Runs a control command; its ret, or -errno if it could not run. */
static int run_ctl(int ctl_fd, void *msg, __u32 size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = msg, .data_size_in = size, .data_out = msg,
		    .data_size_out = size, .repeat = 1);

	if (bpf_prog_test_run_opts(ctl_fd, &opts))
		return -errno;
	return ((struct xct_ctl_msg *)msg)->ret;
}

static int delete_key(struct xct_table *t, int ctl_fd, const struct xct_ct_key *key)
{
	struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE, .key = *key};

	if (ctl_fd >= 0)
		return run_ctl(ctl_fd, &m, sizeof(m));
	if (bpf_map_delete_elem(t->ct_fd, key))
		return -errno;
	xct_nat_forget(t, key); /* the control program does this itself */
	return 0;
}

static int do_delete(struct xct_table *t, const struct ct_args *a)
{
	struct list_ctx l = {.args = a, .now = xct_now_ns()};
	unsigned long deleted = 0;
	int err, ctl_fd;
	size_t i;

	err = xct_nat_view_load(t, &l.nat);
	if (!err)
		err = xct_table_walk(t, l.now, collect_one, &l);
	xct_nat_view_free(&l.nat);
	end_json(&l);
	if (err) {
		free(l.keys);
		return XCT_EXIT_RUNTIME;
	}
	ctl_fd = open_ctl();
	for (i = 0; i < l.nkeys; i++)
		if (delete_key(t, ctl_fd, &l.keys[i]) == 0)
			deleted++;
	if (ctl_fd >= 0)
		close(ctl_fd);
	free(l.keys);
	fprintf(stderr, SUMMARY_PREFIX "%lu flow entries have been deleted.\n", deleted);
	if (deleted == 0) {
		xct_err("no connection matched");
		return XCT_EXIT_RUNTIME;
	}
	return XCT_EXIT_OK;
}

/* Deletes every entry, live or dead, a batch at a time (no control
 * program to do it with DESTROY events). */
static int flush_batches(struct xct_table *t, unsigned long *n)
{
	__u32 batch_size = 4096, count;
	struct xct_ct_key *keys = calloc(batch_size, sizeof(*keys));
	struct xct_ct_entry *values = calloc(batch_size, sizeof(*values));
	__u64 in_batch = 0, out_batch = 0;
	bool first = true;
	int err = 0;

	if (!keys || !values) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		count = batch_size;
		err = bpf_map_lookup_and_delete_batch(t->ct_fd, first ? NULL : &in_batch,
						      &out_batch, keys, values, &count, NULL);
		err = err ? -errno : 0;
		*n += count;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err)
			break;
		in_batch = out_batch;
		first = false;
	}
out:
	free(keys);
	free(values);
	return err;
}

/* Empties the translation maps (NAT), for a flush without the control
 * program. */
static void flush_translations(struct xct_table *t)
{
	struct xct_ct_key k;

	if (t->nat_fd < 0)
		return;
	while (bpf_map_get_next_key(t->nat_fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(t->nat_fd, &k))
			break;
	while (bpf_map_get_next_key(t->nat_rev_fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(t->nat_rev_fd, &k))
			break;
}

/* Deletes every entry, live or dead: one sweep of the control program. */
static int do_flush(struct xct_table *t)
{
	struct xct_ctl_msg m = {.cmd = XCT_CTL_CT_FLUSH};
	unsigned long n = 0;
	int ctl_fd = open_ctl(), err;

	if (ctl_fd >= 0) {
		err = run_ctl(ctl_fd, &m, sizeof(m));
		n = m.deleted;
		close(ctl_fd);
	} else {
		err = flush_batches(t, &n);
		/* The control program frees translations with their
		 * connections; without it they go here. */
		if (!err)
			flush_translations(t);
	}
	if (err) {
		xct_err("cannot flush the connection table: %s", strerror(-err));
		return XCT_EXIT_RUNTIME;
	}
	fprintf(stderr, SUMMARY_PREFIX "connection tracking table has been emptied.\n");
	if (xct_opts.verbose)
		xct_err("%lu entries deleted", n);
	return XCT_EXIT_OK;
}

static int count_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	(*(unsigned long *)ctx)++;
	return 0;
}

static int do_count(struct xct_table *t)
{
	unsigned long n = 0;

	if (xct_table_walk(t, xct_now_ns(), count_one, &n))
		return XCT_EXIT_RUNTIME;
	if (xct_opts.json)
		printf("{\"count\":%lu,\"max\":%u}\n", n, t->max_entries);
	else
		printf("%lu\n", n);
	return XCT_EXIT_OK;
}

#define XCT_STAT_NAME(name, str) str,
static const char *const stat_names[] = {XCT_STATS(XCT_STAT_NAME)};
#undef XCT_STAT_NAME
#define XCT_REASON_NAME(name, str, why) str,
static const char *const reason_names[] = {XCT_REASONS(XCT_REASON_NAME)};
#undef XCT_REASON_NAME
#define XCT_REASON_WHY(name, str, why) why,
static const char *const reason_whys[] = {XCT_REASONS(XCT_REASON_WHY)};
#undef XCT_REASON_WHY

/* The counters conntrack -S prints on this kernel, in its order. */
static const int conntrack_stats[] = {
	XCT_S_FOUND,	     XCT_S_INVALID,	 XCT_S_INSERT, XCT_S_INSERT_FAILED,
	XCT_S_DROP,	     XCT_S_EARLY_DROP,	 XCT_S_ERROR,  XCT_S_SEARCH_RESTART,
	XCT_S_CLASH_RESOLVE, XCT_S_CHAINTOOLONG,
};

/* xct's own, after conntrack's: how a full table made room. */
static const int table_full_stats[] = {
	XCT_S_EARLY_DROP_UNREPLIED,
	XCT_S_EARLY_DROP_REPLIED,
};

static int do_stats(struct xct_table *t, const struct ct_args *a)
{
	int ncpus = libbpf_num_possible_cpus(), cpu, i, err = 0;
	__u64 *vals;
	size_t n = XCT_COUNTER_SLOTS;

	if (ncpus <= 0)
		return XCT_EXIT_RUNTIME;
	vals = calloc(n * (size_t)ncpus, sizeof(__u64));
	if (!vals)
		return XCT_EXIT_RUNTIME;
	for (i = 0; i < (int)n && !err; i++)
		err = xct_counters_read(t, (__u32)i, vals + (size_t)i * ncpus, ncpus);
	if (err) {
		xct_err("cannot read counters: %s", strerror(-err));
		free(vals);
		return XCT_EXIT_RUNTIME;
	}
#define VAL(slot, c) (vals[(size_t)(slot)*ncpus + (c)])
	if (xct_opts.json) {
		printf("{\"cpus\":[");
		for (cpu = 0; cpu < ncpus; cpu++) {
			printf("%s{\"cpu\":%d", cpu ? "," : "", cpu);
			for (i = 0; i < XCT_S_COUNT; i++)
				printf(",\"%s\":%llu", stat_names[i],
				       (unsigned long long)VAL(i, cpu));
			printf("}");
		}
		printf("],\"reasons\":{");
		for (i = 0; i < XCT_R_COUNT; i++) {
			__u64 sum = 0;

			for (cpu = 0; cpu < ncpus; cpu++)
				sum += VAL(XCT_REASON_SLOT(i), cpu);
			printf("%s\"%s\":%llu", i ? "," : "", reason_names[i],
			       (unsigned long long)sum);
		}
		printf("}}\n");
	} else if (a->reasons) {
		for (i = 0; i < XCT_R_COUNT; i++) {
			__u64 sum = 0;

			for (cpu = 0; cpu < ncpus; cpu++)
				sum += VAL(XCT_REASON_SLOT(i), cpu);
			if (sum)
				printf("%-24s %12llu  %s\n", reason_names[i],
				       (unsigned long long)sum, reason_whys[i]);
		}
	} else {
		for (cpu = 0; cpu < ncpus; cpu++) {
			printf("cpu=%-4d\t", cpu);
			for (i = 0; i < (int)(sizeof(conntrack_stats) / sizeof(int)); i++)
				printf("%s=%llu ", stat_names[conntrack_stats[i]],
				       (unsigned long long)VAL(conntrack_stats[i], cpu));
			for (i = 0; i < (int)(sizeof(table_full_stats) / sizeof(int)); i++)
				printf("%s=%llu ", stat_names[table_full_stats[i]],
				       (unsigned long long)VAL(table_full_stats[i], cpu));
			printf("\n");
		}
	}
#undef VAL
	free(vals);
	return XCT_EXIT_OK;
}

/* ct save FILE / ct restore FILE (src/ct_state.c). */
static int do_state(bool save, int argc, char **argv)
{
	struct xct_ct_state_counts c;
	struct xct_table t;
	char err[512];
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(ct_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc != 2)
		return xct_usage_error("ct %s needs one FILE (or - for standard %s)", argv[0],
				       save ? "output" : "input");
	if (argv[1][0] == '-' && argv[1][1])
		return xct_usage_error("ct %s: unknown option '%s'", argv[0], argv[1]);
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	if (save) {
		ret = xct_ct_save_file(&t, argv[1], &c);
		if (!ret)
			fprintf(stderr, SUMMARY_PREFIX "%lu connections saved.\n", c.saved);
	} else {
		ret = xct_ct_restore_file(&t, argv[1], &c, err, sizeof(err));
		if (ret)
			xct_err("%s", err);
		else
			fprintf(stderr,
				SUMMARY_PREFIX "%lu connections restored (%lu TCP relearning "
					       "their windows); %lu already in the table, %lu "
					       "expired, %lu translation clashes, %lu refused (table "
					       "full).\n",
				c.restored, c.liberal, c.exists, c.expired, c.nat_clash, c.failed);
	}
	xct_table_close(&t);
	if (ret == -EINVAL && !save)
		return XCT_EXIT_USAGE;
	return ret ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
}

int cmd_ct(int argc, char **argv)
{
	static const char *const subs[] = {"list",  "get",    "delete", "flush",  "count",
					   "stats", "events", "save",   "restore"};
	struct xct_table t;
	struct ct_args a;
	const char *sub;
	int ret, which = -1;
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		fputs(ct_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	sub = argv[1];
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strncmp(sub, subs[i], strlen(sub)))
			which = which < 0 ? (int)i : -2; /* prefixes must be unique */
	if (which < 0)
		return xct_usage_error("'ct %s': unknown or ambiguous command", sub);
	if (which == 7 || which == 8)
		return do_state(which == 7, argc - 1, argv + 1);

	ret = parse_ct_args(argc - 1, argv + 1, &a);
	if (ret)
		return ret;
	if (which == 1) {
		const struct xct_filter *f = &a.filter;

		if (f->proto < 0 || !f->has_addr[XCT_F_ORIG_SRC] || !f->has_addr[XCT_F_ORIG_DST] ||
		    ((f->proto == 6 || f->proto == 17) && (f->sport < 0 || f->dport < 0)))
			return xct_usage_error(
				"ct get needs -p, -s, -d, and --sport/--dport for tcp and udp");
	}
	if (which == 2 && !a.has_filter)
		return xct_usage_error("ct delete needs a filter (use 'ct flush' to delete all)");
	if ((which == 3 || which == 4 || which == 5) && a.has_filter)
		return xct_usage_error("'ct %s' takes no filter", subs[which]);
	if (a.reasons && which != 5)
		return xct_usage_error("--reasons goes with 'ct stats'");
	if (a.ev_given && which != 6)
		return xct_usage_error("-e, --count and --timeout go with 'ct events'");
	if ((a.fmt_flags & XCT_FMT_TIMESTAMP) && which != 6)
		return xct_usage_error("-o timestamp goes with 'ct events'");
	/* JSON has fields of its own; a text format asked for with it would be
	 * silently dropped. */
	if (xct_opts.json && (a.fmt_flags & (XCT_FMT_EXTENDED | XCT_FMT_TIMESTAMP)))
		return xct_usage_error("-o %s is a text format: it cannot be combined with JSON "
				       "(-j or -o json)",
				       a.fmt_flags & XCT_FMT_EXTENDED ? "extended" : "timestamp");

	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	switch (which) {
	case 0:
		ret = do_list(&t, &a, false);
		break;
	case 1:
		ret = do_list(&t, &a, true);
		break;
	case 2:
		ret = do_delete(&t, &a);
		break;
	case 3:
		ret = do_flush(&t);
		break;
	case 4:
		ret = do_count(&t);
		break;
	case 6:
		a.ev.fmt_flags = a.fmt_flags;
		ret = xct_ct_events_run(&t, &a.filter, &a.ev);
		break;
	default:
		ret = do_stats(&t, &a);
	}
	xct_table_close(&t);
	return ret;
}
