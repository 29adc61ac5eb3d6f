// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct ct list|get|delete|flush|count|stats|events|create|update: the
 * connection table, in the manner of conntrack -L/-G/-D/-F/-C/-S/-E/-I/-U,
 * with the same filters, output lines and summary lines (on stderr), and
 * -o json.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct_events.h"
#include "ct_filter.h"
#include "ct_format.h"
#include "ct_state.h"
#include "owner.h"
#include "ct_labels.h"
#include "ct_ops.h"
#include "table.h"
#include "xct.h"
#include "xct/ct.h"

#define SUMMARY_PREFIX "xct v" XCT_VERSION " (xct): "

static const char ct_usage[] =
	"Usage: xct ct list   [conntrack|dying|unconfirmed] [FILTER...] [-z] [-o FORMAT]\n"
	"       xct ct get    -p PROTO -s ADDR -d ADDR [--sport N --dport N] [-o FORMAT]\n"
	"       xct ct get    --id ID [-o FORMAT]\n"
	"       xct ct delete FILTER...\n"
	"       xct ct create -p PROTO -s ADDR -d ADDR [--sport N --dport N] -t SECONDS\n"
	"                     [--state STATE] [-u STATUS] [-m MARK] [-l LABELS]\n"
	"       xct ct update FILTER... [-m MARK[/MASK]] [-u STATUS] [-t SECONDS]\n"
	"                     [--label-add LABELS] [--label-del [LABELS]]\n"
	"       xct ct flush\n"
	"       xct ct count\n"
	"       xct ct stats  [--reasons]\n"
	"       xct ct events [FILTER...] [-e NEW,UPDATE,DESTROY] [--count N]\n"
	"                     [--timeout SECONDS] [-o json|extended|timestamp]\n"
	"       xct ct save    FILE|-\n"
	"       xct ct restore FILE|-\n"
	"conntrack(8)'s letters name the same commands: -L list, -G get, -D delete,\n"
	"-I create, -U update, -F flush, -C count, -S stats, -E events.\n"
	"\n"
	"FILTER (as conntrack(8)):\n"
	"  -p, --proto PROTO          tcp, udp, icmp, icmpv6 or a number 0-255\n"
	"  -s, --src, --orig-src ADDR[/LEN]\n"
	"  -d, --dst, --orig-dst ADDR[/LEN]\n"
	"  -r, --reply-src ADDR[/LEN]\n"
	"  -q, --reply-dst ADDR[/LEN]\n"
	"      --mask-src MASK, --mask-dst MASK\n"
	"                             netmask of -s, -d (255.255.255.0 or ffff:ffff::)\n"
	"      --sport, --orig-port-src PORT\n"
	"      --dport, --orig-port-dst PORT\n"
	"      --reply-port-src PORT, --reply-port-dst PORT\n"
	"      --state STATE          TCP state: SYN_SENT, ESTABLISHED, TIME_WAIT...\n"
	"  -f, --family ipv4|ipv6\n"
	"  -u, --status ASSURED|SEEN_REPLY|UNSET[,...]\n"
	"  -m, --mark MARK[/MASK]\n"
	"  -l, --label LABEL[,...]    has every label of the list; -l again: or another list\n"
	"      --id ID                the connection -o id shows\n"
	"  -t, --timeout SECONDS      at most SECONDS left (list, get, delete)\n"
	"      --icmp-type N, --icmp-code N, --icmp-id N\n"
	"      --src-nat [IP[:PORT]], --dst-nat [IP[:PORT]], --any-nat [IP[:PORT]]\n"
	"                             translated connections only (source, destination,\n"
	"                             either), or only those translated to IP[:PORT]\n"
	"  -w, --zone N               in conntrack zone N (xct attach --zone); get\n"
	"                             looks in zone 0 without it\n"
	"      --orig-zone N, --reply-zone N\n"
	"                             a zone of one direction only: xct's zones hold\n"
	"                             both, so 0 matches every connection, another none\n"
	"\n"
	"FORMAT: json, extended, id, ktimestamp, labels, comma-separated\n"
	"(-o extended,id,labels); json goes with none of the text ones but labels.\n"
	"  -z, --zero                 list: zero the counters of what is shown\n"
	"      --label-file FILE      label names (default " XCT_CONNLABEL_CONF ")\n"
	"\n"
	"create inserts a connection as conntrack -I does: -p, both addresses (or\n"
	"the reply tuple's, -r and -q), ports for tcp and udp (--icmp-type, -code and\n"
	"-id for icmp), -t, and --state for tcp.  It is not translated (xct translates\n"
	"through rules) and it is in zone 0 or -w's.  update changes what matches its filter\n"
	"as conntrack -U does: -m MARK/MASK sets mark = (mark & ~MASK) ^ MARK, -u sets\n"
	"status bits (never clears them), -t the seconds left (until the next\n"
	"packet, as in nf_conntrack), --label-add and --label-del the labels\n"
	"(--label-del alone removes them all).\n"
	"list dying shows the entries that expired or are being deleted but are\n"
	"still in the table; list unconfirmed those whose first packet has not\n"
	"left yet (their NAT undecided).\n"
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
	"  xct ct create -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 40000 --dport 22 \\\n"
	"                --state ESTABLISHED -t 3600 -u ASSURED --mark 5\n"
	"  xct ct update -p tcp --dport 22 --mark 0x10/0xf0 --label-add ssh\n"
	"  xct ct list -o extended,id,labels -l ssh\n"
	"  xct ct list -p udp -z\n"
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
	OPT_MASK_SRC,
	OPT_MASK_DST,
	OPT_REPLY_SPORT,
	OPT_REPLY_DPORT,
	OPT_ID,
	OPT_LABEL_ADD,
	OPT_LABEL_DEL,
	OPT_LABEL_FILE,
	OPT_ORIG_ZONE,
	OPT_REPLY_ZONE,
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
	{"timeout", required_argument, NULL, 't'},
	{"src-nat", optional_argument, NULL, OPT_SRC_NAT},
	{"dst-nat", optional_argument, NULL, OPT_DST_NAT},
	{"any-nat", optional_argument, NULL, OPT_ANY_NAT},
	{"mask-src", required_argument, NULL, OPT_MASK_SRC},
	{"mask-dst", required_argument, NULL, OPT_MASK_DST},
	{"reply-port-src", required_argument, NULL, OPT_REPLY_SPORT},
	{"reply-port-dst", required_argument, NULL, OPT_REPLY_DPORT},
	{"id", required_argument, NULL, OPT_ID},
	{"zero", no_argument, NULL, 'z'},
	{"label", required_argument, NULL, 'l'},
	{"label-add", required_argument, NULL, OPT_LABEL_ADD},
	{"label-del", optional_argument, NULL, OPT_LABEL_DEL},
	{"label-file", required_argument, NULL, OPT_LABEL_FILE},
	{"zone", required_argument, NULL, 'w'},
	{"orig-zone", required_argument, NULL, OPT_ORIG_ZONE},
	{"reply-zone", required_argument, NULL, OPT_REPLY_ZONE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* What list, get, delete and update take apart from the filter. */
struct ct_args {
	struct xct_filter filter;
	unsigned int fmt_flags;
	bool reasons;
	bool has_filter;
	struct xct_ct_events_opts ev;
	bool ev_given;	     /* an option only events takes */
	const char *timeout; /* -t/--timeout, read once the subcommand is known */
	const char *table;   /* list's conntrack, dying or unconfirmed */
	bool zero;	     /* -z */
	bool has_mark_opt;   /* -m given: a filter, or update's new mark */
	bool has_status_opt; /* -u given */
	bool has_state_opt;  /* --state given */
	bool nat_given;	     /* --src-nat, --dst-nat or --any-nat */
	const char *mask[2]; /* --mask-src, --mask-dst */
	const char *label_filter[XCT_F_LABEL_SETS]; /* -l, parsed once the names are read */
	int nlabel_filters;
	const char *label_add, *label_del; /* --label-add, --label-del */
	bool label_del_all;		   /* --label-del without a list */
	const char *label_file;
	struct xct_labelmap labels; /* the names, read when an option needs them */
	bool labels_loaded;
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
		else if (!strcmp(tok, "id"))
			a->fmt_flags |= XCT_FMT_ID;
		else if (!strcmp(tok, "ktimestamp"))
			a->fmt_flags |= XCT_FMT_KTIMESTAMP;
		else if (!strcmp(tok, "labels"))
			a->fmt_flags |= XCT_FMT_LABELS;
		else if (!strcmp(tok, "process"))
			a->fmt_flags |= XCT_FMT_PROCESS;
		else
			return -EINVAL;
	}
	return 0;
}

/*
 * An optional argument as conntrack takes one: "--src-nat 10.0.0.1" as
 * well as "--src-nat=10.0.0.1"; the next word is the argument unless it
 * is an option.
 */
static const char *optional_arg(int argc, char **argv)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

static int parse_zone(const char *opt, const char *s, int *zone)
{
	if (parse_small(opt, s, 65535, zone))
		return XCT_EXIT_USAGE;
	return 0;
}

static int parse_nat_opt(const char *opt, const char *arg, __u16 bits, struct xct_nat_match *m,
			 struct ct_args *a)
{
	a->filter.nat_any |= bits;
	a->nat_given = true;
	if (arg && xct_parse_nat_match(arg, m))
		return xct_usage_error("%s: '%s' is not IP[:PORT]", opt, arg);
	return 0;
}

/* Parses the options after "xct ct SUBCOMMAND"; returns 0 or an exit status. */
static int parse_ct_args(int argc, char **argv, struct ct_args *a)
{
	static const char *const addr_opt[] = {"-s", "-d", "-r", "-q"};
	struct xct_filter *f = &a->filter;
	int c, field, err, i;
	const char *arg;

	memset(a, 0, sizeof(*a));
	xct_filter_init(f);
	a->ev.mask = XCT_CTE_MASK_ALL;
	a->label_file = XCT_CONNLABEL_CONF;
	optind = 0;
	opterr = 0;
	/* list's table name comes first, as in conntrack -L dying. */
	if (argc > 1 && argv[1][0] != '-') {
		a->table = argv[1];
		optind = 2;
	}
	while ((c = getopt_long(argc, argv, ":p:s:d:r:q:f:u:m:o:e:t:l:w:zh", ct_options, NULL)) !=
	       -1) {
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
		case OPT_REPLY_SPORT:
			err = parse_port("--reply-port-src", optarg, &f->reply_sport);
			break;
		case OPT_REPLY_DPORT:
			err = parse_port("--reply-port-dst", optarg, &f->reply_dport);
			break;
		case OPT_MASK_SRC:
			a->mask[0] = optarg;
			break;
		case OPT_MASK_DST:
			a->mask[1] = optarg;
			break;
		case OPT_STATE:
			if (xct_parse_tcp_state(optarg, &f->state))
				return xct_usage_error("--state: unknown TCP state '%s'", optarg);
			a->has_state_opt = true;
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
			a->has_status_opt = true;
			break;
		case 'm':
			if (xct_parse_mark(optarg, &f->mark, &f->mark_mask))
				return xct_usage_error("--mark: '%s' is not MARK[/MASK]", optarg);
			a->has_mark_opt = true;
			break;
		case 'l':
			if (a->nlabel_filters == XCT_F_LABEL_SETS)
				return xct_usage_error("-l: at most %d lists", XCT_F_LABEL_SETS);
			a->label_filter[a->nlabel_filters++] = optarg;
			break;
		case OPT_LABEL_ADD:
			a->label_add = optarg;
			break;
		case OPT_LABEL_DEL:
			a->label_del = optional_arg(argc, argv);
			a->label_del_all = !a->label_del;
			break;
		case OPT_LABEL_FILE:
			a->label_file = optarg;
			break;
		case OPT_ID: {
			__u64 v;

			if (xct_parse_u64(optarg, 0, 0xffffffff, &v))
				return xct_usage_error("--id: '%s' is not a connection id", optarg);
			f->has_id = true;
			f->id = (__u32)v;
			break;
		}
		case 'w':
			err = parse_zone("--zone", optarg, &f->zone);
			break;
		case OPT_ORIG_ZONE:
			err = parse_zone("--orig-zone", optarg, &f->dir_zone);
			break;
		case OPT_REPLY_ZONE:
			err = parse_zone("--reply-zone", optarg, &f->dir_zone);
			break;
		case 'z':
			a->zero = true;
			break;
		case 't':
			a->timeout = optarg;
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
					"-o: '%s' is not json, extended, id, ktimestamp, "
					"labels, timestamp or process",
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
		case OPT_REASONS:
			a->reasons = true;
			break;
		case OPT_SRC_NAT:
			arg = optional_arg(argc, argv);
			err = parse_nat_opt("--src-nat", arg, XCT_CT_SRC_NAT, &f->snat, a);
			break;
		case OPT_DST_NAT:
			arg = optional_arg(argc, argv);
			err = parse_nat_opt("--dst-nat", arg, XCT_CT_DST_NAT, &f->dnat, a);
			break;
		case OPT_ANY_NAT:
			arg = optional_arg(argc, argv);
			err = parse_nat_opt("--any-nat", arg, XCT_CT_SRC_NAT | XCT_CT_DST_NAT,
					    &f->anynat, a);
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
		if (c != 'o' && c != OPT_REASONS && c != 'e' && c != OPT_COUNT && c != 't' &&
		    c != 'z' && c != OPT_LABEL_ADD && c != OPT_LABEL_DEL && c != OPT_LABEL_FILE)
			a->has_filter = true;
	}
	if (optind < argc)
		return xct_usage_error("unexpected argument '%s'", argv[optind]);

	/* --mask-src/--mask-dst narrow -s/-d to a network, as a prefix would. */
	for (i = 0; i < 2; i++) {
		__u8 family, plen;

		if (!a->mask[i])
			continue;
		if (xct_parse_netmask(a->mask[i], &family, &plen))
			return xct_usage_error("--mask-%s: '%s' is not a netmask",
					       i ? "dst" : "src", a->mask[i]);
		if (!f->has_addr[i] || f->addr[i].family != family)
			return xct_usage_error("--mask-%s needs %s with an address of its family",
					       i ? "dst" : "src", addr_opt[i]);
		f->addr[i].prefix = plen;
	}
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
	if ((f->sport >= 0 || f->dport >= 0 || f->reply_sport >= 0 || f->reply_dport >= 0) &&
	    f->proto >= 0 && f->proto != 6 && f->proto != 17)
		return xct_usage_error("--sport/--dport need -p tcp or -p udp");
	if (f->state >= 0 && f->proto >= 0 && f->proto != 6)
		return xct_usage_error("--state needs -p tcp");
	return 0;
}

/* The label names, read once, when an option names labels or shows them. */
static int load_labels(struct ct_args *a, bool required)
{
	int err;

	if (a->labels_loaded)
		return 0;
	/* Without a label file, labels are shown as their bit numbers. */
	err = xct_labelmap_load(a->label_file, &a->labels, !required);
	if (err && (required || err != -ENOENT))
		return XCT_EXIT_USAGE;
	a->labels_loaded = true;
	return 0;
}

static int parse_label_list(struct ct_args *a, const char *opt, const char *list, __u64 bits[2])
{
	char bad[128];

	if (load_labels(a, true))
		return XCT_EXIT_USAGE;
	if (xct_labels_parse(&a->labels, list, bits, bad, sizeof(bad)))
		return xct_usage_error("%s: unknown label '%s' (not in %s)", opt, bad,
				       a->label_file);
	return 0;
}

/* A walk's state: list, get, delete and update share it. */
struct list_ctx {
	const struct ct_args *args;
	struct xct_table *t;
	struct xct_nat_view nat;      /* the translated connections' bindings */
	struct xct_owner_view owners; /* -o process */
	__u64 now;
	struct xct_fmt_ext ext;
	int ctl_fd;	  /* -z */
	int table;	  /* enum list_table */
	bool want_labels; /* read each connection's labels */
	unsigned long shown;
	/* delete and update: the matching entries, changed after the walk */
	struct xct_ct_key *keys;
	struct xct_ct_entry *entries;
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
		xct_print_conn_json_ext(stdout, key, e, nat, inner, l->now, &l->ext);
		return;
	}
	xct_print_conn_json_ext(m, key, e, nat, inner, l->now, &l->ext);
	fclose(m);
	if (len && buf[len - 1] == '}')
		len--;
	fwrite(buf, 1, len, stdout);
	fputs(",\"owner\":", stdout);
	xct_owner_json(stdout, &l->owners, owner);
	fputc('}', stdout);
	free(buf);
}

enum list_table {
	LIST_CONNTRACK = 0,
	LIST_DYING,	  /* expired or claimed, still in the map */
	LIST_UNCONFIRMED, /* first packet not gone yet: NAT undecided */
};

static void print_entry(struct list_ctx *l, const struct xct_ct_key *key,
			const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			const struct xct_nat_binding *inner, const __u64 *labels)
{
	bool process = l->args->fmt_flags & XCT_FMT_PROCESS;
	struct xct_owner owner;
	bool owned = process && !xct_owner_find(&l->owners, key, e->orig_side, &owner);
	char line[1536];

	l->ext.labels = labels;
	if (xct_opts.json) {
		fputs(l->shown ? ",\n" : "[\n", stdout);
		if (owned)
			print_owned_json(l, key, e, nat, inner, &owner);
		else
			xct_print_conn_json_ext(stdout, key, e, nat, inner, l->now, &l->ext);
	} else {
		int n = xct_format_conn_ext(line, sizeof(line) - 1, key, e, nat, inner, l->now,
					    l->args->fmt_flags, &l->ext);

		if (owned)
			n += xct_owner_format(&l->owners, &owner, line + n,
					      sizeof(line) - 1 - (size_t)n);
		line[n] = '\n';
		fwrite(line, 1, (size_t)n + 1, stdout);
	}
	l->shown++;
}

/* Does the entry match, and with what translation and labels? */
static bool entry_matches(struct list_ctx *l, const struct xct_ct_key *key,
			  const struct xct_ct_entry *e, const struct xct_nat_binding **nat,
			  const struct xct_nat_binding **inner, __u64 labels[2])
{
	*nat = xct_nat_view_find(&l->nat, key, e);
	*inner = xct_nat_view_inner(&l->nat, *nat);
	labels[0] = labels[1] = 0;
	switch (l->table) {
	case LIST_DYING:
		if (xct_entry_alive(e, l->now))
			return false;
		break;
	case LIST_UNCONFIRMED:
		if (!xct_entry_alive(e, l->now) || !(e->status & XCT_CT_NEW_PENDING))
			return false;
		break;
	}
	if (l->want_labels && xct_ct_labels_get(l->t, key, e, labels))
		labels[0] = labels[1] = 0;
	return xct_filter_match_ext(&l->args->filter, key, e, *nat, *inner, labels, l->now);
}

/* -z: the counters go to 0 as the line shows them, in one step under the
 * entry's lock, so that no packet is counted twice or never. */
static void zero_counters(struct list_ctx *l, const struct xct_ct_key *key, struct xct_ct_entry *e)
{
	struct xct_ctl_ct_update m = {
		.ct.hdr.cmd = XCT_CTL_CT_UPDATE,
		.ct.key = *key,
		.flags = XCT_UPD_ZERO,
		.first_seen_ns = e->first_seen_ns,
	};

	if (xct_ctl_run(l->ctl_fd, &m, sizeof(m)))
		return;
	e->packets[0] = m.packets[0];
	e->packets[1] = m.packets[1];
	e->bytes[0] = m.bytes[0];
	e->bytes[1] = m.bytes[1];
}

static int list_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	struct list_ctx *l = ctx;
	const struct xct_nat_binding *nat, *inner;
	struct xct_ct_entry copy;
	__u64 labels[2];

	if (!entry_matches(l, key, e, &nat, &inner, labels))
		return 0;
	if (l->args->zero) {
		copy = *e;
		zero_counters(l, key, &copy);
		e = &copy;
	}
	print_entry(l, key, e, nat, inner, labels);
	return 0;
}

static void end_json(const struct list_ctx *l)
{
	if (xct_opts.json)
		puts(l->shown ? "\n]" : "[]");
}

/* delete and update: what matches is kept, to be changed after the walk
 * (changing the map under a batch walk could skip or repeat entries). */
static int collect_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	struct list_ctx *l = ctx;
	const struct xct_nat_binding *nat, *inner;
	__u64 labels[2];

	if (!entry_matches(l, key, e, &nat, &inner, labels))
		return 0;
	if (l->nkeys == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct xct_ct_key *keys = realloc(l->keys, cap * sizeof(*keys));
		struct xct_ct_entry *entries;

		if (!keys)
			return -ENOMEM;
		l->keys = keys;
		entries = realloc(l->entries, cap * sizeof(*entries));
		if (!entries)
			return -ENOMEM;
		l->entries = entries;
		l->cap = cap;
	}
	l->keys[l->nkeys] = *key;
	l->entries[l->nkeys++] = *e;
	return 0;
}

/* The line of the i-th collected entry, with its translation. */
static void print_collected(struct list_ctx *l, size_t i, const __u64 *labels)
{
	const struct xct_nat_binding *nat = xct_nat_view_find(&l->nat, &l->keys[i], &l->entries[i]);

	print_entry(l, &l->keys[i], &l->entries[i], nat, xct_nat_view_inner(&l->nat, nat), labels);
}

static void print_delete(struct list_ctx *l, size_t i)
{
	print_collected(l, i, NULL);
}

static void list_ctx_free(struct list_ctx *l)
{
	xct_nat_view_free(&l->nat);
	xct_owner_view_close(&l->owners);
	free(l->keys);
	free(l->entries);
	if (l->ctl_fd >= 0)
		close(l->ctl_fd);
}

/* The control program; reported when it is missing. */
static int open_ctl(void)
{
	int fd = xct_ctl_open(xct_opts.pin_path);

	if (fd < 0)
		xct_err("%s/xct_ctl: %s (re-attach with --replace)", xct_opts.pin_path,
			strerror(-fd));
	return fd;
}

/* Walks the table for list, get, delete or update (collect: keep what
 * matches rather than print it). */
static int walk_table(struct xct_table *t, struct ct_args *a, struct list_ctx *l, bool collect)
{
	struct timespec wall, mono;
	int err;

	memset(l, 0, sizeof(*l));
	l->args = a;
	l->t = t;
	l->ctl_fd = -1;
	l->owners.owner_fd = l->owners.listen_fd = -1;
	if (a->fmt_flags & XCT_FMT_PROCESS)
		xct_owner_view_open(&l->owners, xct_opts.pin_path);
	l->now = xct_now_ns();
	if (a->table && !strcmp(a->table, "dying"))
		l->table = LIST_DYING;
	else if (a->table && !strcmp(a->table, "unconfirmed"))
		l->table = LIST_UNCONFIRMED;
	l->want_labels = xct_filter_wants_labels(&a->filter) || (a->fmt_flags & XCT_FMT_LABELS) ||
			 xct_opts.json || a->label_add || a->label_del || a->label_del_all;
	if (l->want_labels) {
		if (load_labels(a, false))
			return XCT_EXIT_USAGE;
		l->ext.labelmap = &a->labels;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	l->ext.wall_offset_ns =
		(wall.tv_sec - mono.tv_sec) * 1000000000LL + (wall.tv_nsec - mono.tv_nsec);
	if (a->zero && (l->ctl_fd = open_ctl()) < 0)
		return XCT_EXIT_RUNTIME;
	err = xct_nat_view_load(t, &l->nat);
	if (!err && l->table == LIST_DYING)
		err = xct_table_walk_all(t, collect ? collect_one : list_one, l);
	else if (!err)
		err = xct_table_walk(t, l->now, collect ? collect_one : list_one, l);
	return err ? XCT_EXIT_RUNTIME : 0;
}

static int do_list(struct xct_table *t, struct ct_args *a, bool get)
{
	/* A million lines go out in 64 KiB writes rather than 4 KiB ones. */
	static char out[64 * 1024];
	struct list_ctx l;
	int ret;

	setvbuf(stdout, out, _IOFBF, sizeof(out));
	ret = walk_table(t, a, &l, false);
	end_json(&l);
	list_ctx_free(&l);
	if (ret)
		return ret;
	/* As conntrack -G: a tuple not found is an error, not an empty list. */
	if (!get || l.shown)
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
static int delete_key(struct xct_table *t, int ctl_fd, const struct xct_ct_key *key)
{
	struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE, .key = *key};

	if (ctl_fd >= 0)
		return xct_ctl_run(ctl_fd, &m, sizeof(m));
	if (bpf_map_delete_elem(t->ct_fd, key))
		return -errno;
	xct_nat_forget(t, key); /* the control program does this itself */
	if (t->labels_fd >= 0)
		bpf_map_delete_elem(t->labels_fd, key);
	return 0;
}

static int do_delete(struct xct_table *t, struct ct_args *a)
{
	unsigned long deleted = 0;
	struct list_ctx l;
	int ret, ctl_fd;
	size_t i;

	ret = walk_table(t, a, &l, true);
	if (ret) {
		list_ctx_free(&l);
		return ret;
	}
	ctl_fd = xct_ctl_open(xct_opts.pin_path);
	if (ctl_fd < 0)
		xct_err("%s/xct_ctl: %s; deleting without DESTROY events (re-attach with "
			"--replace)",
			xct_opts.pin_path, strerror(-ctl_fd));
	for (i = 0; i < l.nkeys; i++) {
		if (delete_key(t, ctl_fd, &l.keys[i]))
			continue;
		print_delete(&l, i);
		deleted++;
	}
	end_json(&l);
	if (ctl_fd >= 0)
		close(ctl_fd);
	list_ctx_free(&l);
	fprintf(stderr, SUMMARY_PREFIX "%lu flow entries have been deleted.\n", deleted);
	if (deleted == 0) {
		xct_err("no connection matched");
		return XCT_EXIT_RUNTIME;
	}
	return XCT_EXIT_OK;
}

/* What update changes, from its options (the rest of them filter). */
struct update_spec {
	struct xct_ctl_ct_update msg; /* flags, mark and status, timeout */
	__u64 add[2], del[2];	      /* labels */
	bool labels;
};

static int update_one(struct xct_table *t, int ctl_fd, const struct update_spec *u,
		      const struct xct_ct_key *key, struct xct_ct_entry *e)
{
	struct xct_ctl_ct_update m = u->msg;
	__u64 bits[2];
	int err;

	if (u->labels) {
		err = xct_ct_labels_get(t, key, e, bits);
		if (err)
			return err;
		bits[0] = (bits[0] & ~u->del[0]) | u->add[0];
		bits[1] = (bits[1] & ~u->del[1]) | u->add[1];
		err = xct_ct_labels_set(t, ctl_fd, key, e, bits);
		if (err)
			return err;
	}
	m.ct.hdr.cmd = XCT_CTL_CT_UPDATE;
	m.ct.key = *key;
	m.first_seen_ns = e->first_seen_ns;
	err = xct_ctl_run(ctl_fd, &m, sizeof(m));
	if (err)
		return err;
	/* The entry as it is now, for its line. */
	if (bpf_map_lookup_elem_flags(t->ct_fd, key, e, BPF_F_LOCK))
		return -errno;
	return 0;
}

static int do_update(struct xct_table *t, struct ct_args *a, struct update_spec *u)
{
	unsigned long updated = 0;
	struct list_ctx l;
	int ret, ctl_fd, err;
	size_t i;

	ret = walk_table(t, a, &l, true);
	if (ret) {
		list_ctx_free(&l);
		return ret;
	}
	ctl_fd = open_ctl();
	if (ctl_fd < 0) {
		list_ctx_free(&l);
		return XCT_EXIT_RUNTIME;
	}
	for (i = 0; i < l.nkeys; i++) {
		__u64 labels[2];

		err = update_one(t, ctl_fd, u, &l.keys[i], &l.entries[i]);
		if (err == -ENOENT)
			continue; /* gone meanwhile, as conntrack -U skips it */
		if (err == -EOPNOTSUPP) {
			xct_err("labels: the attached xct has no label map (re-attach with "
				"--replace)");
			break;
		}
		if (err) {
			xct_err("cannot update a connection: %s", strerror(-err));
			break;
		}
		if (xct_ct_labels_get(t, &l.keys[i], &l.entries[i], labels))
			labels[0] = labels[1] = 0;
		print_collected(&l, i, labels);
		updated++;
	}
	end_json(&l);
	close(ctl_fd);
	list_ctx_free(&l);
	fprintf(stderr, SUMMARY_PREFIX "%lu flow entries have been updated.\n", updated);
	if (i < l.nkeys)
		return XCT_EXIT_RUNTIME;
	if (updated == 0) {
		xct_err("no connection matched");
		return XCT_EXIT_RUNTIME;
	}
	return XCT_EXIT_OK;
}

/* A filter address that must name one host: create's. */
static bool host_addr(const struct xct_filter *f, int field)
{
	return f->has_addr[field] &&
	       f->addr[field].prefix == (f->addr[field].family == XCT_AF_INET6 ? 128 : 32);
}

/*
 * create's connection from its options, as conntrack -I builds one: the
 * original tuple from -s/-d/--sport/--dport or, missing, from the reply
 * tuple's -r/-q/--reply-port-src/--reply-port-dst turned around.  A reply
 * tuple that is not the original's inverse would be a translation, which
 * xct makes only through rules.
 */
static int build_create(const struct ct_args *a, __u64 now, struct xct_ct_key *key,
			struct xct_ct_entry *e)
{
	const struct xct_filter *f = &a->filter;
	bool orig = f->has_addr[XCT_F_ORIG_SRC] || f->has_addr[XCT_F_ORIG_DST];
	bool reply = f->has_addr[XCT_F_REPLY_SRC] || f->has_addr[XCT_F_REPLY_DST];
	int src = orig ? XCT_F_ORIG_SRC : XCT_F_REPLY_DST;
	int dst = orig ? XCT_F_ORIG_DST : XCT_F_REPLY_SRC;
	int sport = orig ? f->sport : f->reply_dport, dport = orig ? f->dport : f->reply_sport;
	struct xct_tuple t = {};
	__u64 timeout;
	__u8 side;

	if (f->proto < 0)
		return xct_usage_error("ct create needs -p");
	if (!host_addr(f, src) || !host_addr(f, dst))
		return xct_usage_error(
			"ct create needs -s and -d (or -r and -q), each one address");
	if (reply && orig &&
	    (!host_addr(f, XCT_F_REPLY_SRC) || !host_addr(f, XCT_F_REPLY_DST) ||
	     memcmp(&f->addr[XCT_F_REPLY_SRC].addr, &f->addr[XCT_F_ORIG_DST].addr,
		    sizeof(union xct_addr)) ||
	     memcmp(&f->addr[XCT_F_REPLY_DST].addr, &f->addr[XCT_F_ORIG_SRC].addr,
		    sizeof(union xct_addr)) ||
	     (f->reply_sport >= 0 && f->reply_sport != f->dport) ||
	     (f->reply_dport >= 0 && f->reply_dport != f->sport)))
		return xct_usage_error("ct create: the reply tuple must be the original's inverse "
				       "(xct translates through snat/dnat rules, not by create)");
	if (a->nat_given)
		return xct_usage_error("ct create: --src-nat/--dst-nat: xct translates through "
				       "snat/dnat rules, not by create");
	if (!a->timeout)
		return xct_usage_error("ct create needs -t SECONDS");
	if (xct_parse_u64(a->timeout, 1, 0x7fffffff, &timeout))
		return xct_usage_error("-t: '%s' is not a number of seconds", a->timeout);
	t.family = f->addr[src].family;
	t.proto = (__u8)f->proto;
	t.src = f->addr[src].addr;
	t.dst = f->addr[dst].addr;
	if (xct_has_ports(t.proto)) {
		if (sport < 0 || dport < 0)
			return xct_usage_error("ct create -p %s needs --sport and --dport (or "
					       "--reply-port-src and --reply-port-dst)",
					       xct_proto_name(t.proto));
		t.sport = htons((__u16)sport);
		t.dport = htons((__u16)dport);
	} else if (xct_is_icmp(t.family, t.proto)) {
		int is_reply;

		if (f->icmp_type < 0 || f->icmp_code < 0 || f->icmp_id < 0)
			return xct_usage_error("ct create -p %s needs --icmp-type, --icmp-code and "
					       "--icmp-id",
					       xct_proto_name(t.proto));
		if (xct_icmp_query(t.family, (__u8)f->icmp_type, &is_reply) < 0 || is_reply)
			return xct_usage_error("--icmp-type %d is not a query (echo request...)",
					       f->icmp_type);
		t.icmp_type = (__u8)f->icmp_type;
		t.icmp_code = (__u8)f->icmp_code;
		t.sport = (__u16)f->icmp_id;
	} else if (t.proto == XCT_IPPROTO_ICMP || t.proto == 58) {
		return xct_usage_error("-p %s does not go with these addresses' family",
				       xct_proto_name(t.proto));
	}
	if (t.proto == XCT_IPPROTO_TCP && f->state < 0)
		return xct_usage_error("ct create -p tcp needs --state");
	if (t.proto != XCT_IPPROTO_TCP && f->state >= 0)
		return xct_usage_error("--state needs -p tcp");
	if (f->status_unset)
		return xct_usage_error("ct create: -u UNSET is a filter");
	if (xct_key_from_tuple(&t, key, &side))
		return xct_usage_error("ct create: not a connection's tuple");
	key->zone = f->zone > 0 ? (__u16)f->zone : 0;
	memset(e, 0, sizeof(*e));
	e->orig_side = side;
	e->state = f->state >= 0 ? (__u8)f->state : 0;
	e->status = f->status_set;
	e->mark = f->mark_mask ? f->mark : 0;
	e->first_seen_ns = e->last_seen_ns = now;
	e->expires_ns = now + timeout * 1000000000ULL;
	return 0;
}

static int do_create(struct xct_table *t, struct ct_args *a, const struct xct_ct_key *key,
		     struct xct_ct_entry *e, const __u64 labels[2])
{
	int err = xct_ct_create(t, key, e), ctl_fd;
	char line[1024];

	if (err == -EEXIST) {
		xct_err("such connection already exists");
		return XCT_EXIT_RUNTIME;
	}
	if (err) {
		xct_err("cannot create the connection: %s", strerror(-err));
		return XCT_EXIT_RUNTIME;
	}
	if (labels[0] | labels[1]) {
		ctl_fd = open_ctl();
		err = ctl_fd < 0 ? ctl_fd : xct_ct_labels_set(t, ctl_fd, key, e, labels);
		if (ctl_fd >= 0)
			close(ctl_fd);
		if (err) {
			xct_err("connection created, but its labels could not be set: %s",
				strerror(-err));
			return XCT_EXIT_RUNTIME;
		}
		e->status |= XCT_CT_LABELS;
	}
	xct_format_conn(line, sizeof(line), key, e, e->first_seen_ns, 0);
	if (xct_opts.verbose)
		xct_err("%s", line);
	fprintf(stderr, SUMMARY_PREFIX "1 flow entries have been created.\n");
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
		err = xct_ctl_run(ctl_fd, &m, sizeof(m));
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
				SUMMARY_PREFIX
				"%lu connections restored (%lu TCP relearning "
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

enum ct_sub {
	SUB_LIST,
	SUB_GET,
	SUB_DELETE,
	SUB_FLUSH,
	SUB_COUNT,
	SUB_STATS,
	SUB_EVENTS,
	SUB_CREATE,
	SUB_UPDATE,
	SUB_SAVE,
	SUB_RESTORE,
};

/* What update changes, taken out of the options that elsewhere filter:
 * -m, -u and -t set the mark, the status and the timeout there. */
static int build_update(struct ct_args *a, struct update_spec *u)
{
	struct xct_filter *f = &a->filter;
	__u64 timeout;
	int ret;

	memset(u, 0, sizeof(*u));
	if (a->has_mark_opt) {
		u->msg.flags |= XCT_UPD_MARK;
		u->msg.mark_xor = f->mark;
		u->msg.mark_mask = f->mark_mask;
		f->mark = f->mark_mask = 0;
	}
	if (a->has_status_opt) {
		if (f->status_unset)
			return xct_usage_error("ct update: -u UNSET is a filter; update sets bits");
		u->msg.flags |= XCT_UPD_STATUS;
		u->msg.status_set = f->status_set;
		f->status_set = 0;
	}
	if (a->timeout) {
		if (xct_parse_u64(a->timeout, 0, 0x7fffffff, &timeout))
			return xct_usage_error("-t: '%s' is not a number of seconds", a->timeout);
		u->msg.flags |= XCT_UPD_TIMEOUT;
		u->msg.timeout_s = (__u32)timeout;
	}
	if (a->label_add) {
		ret = parse_label_list(a, "--label-add", a->label_add, u->add);
		if (ret)
			return ret;
		u->labels = true;
	}
	if (a->label_del) {
		ret = parse_label_list(a, "--label-del", a->label_del, u->del);
		if (ret)
			return ret;
		u->labels = true;
	}
	if (a->label_del_all) {
		u->del[0] = u->del[1] = ~0ULL;
		u->labels = true;
	}
	if (!u->msg.flags && !u->labels)
		return xct_usage_error("ct update needs something to change: -m, -u, -t, "
				       "--label-add or --label-del");
	return 0;
}

/* Checks that the options go with the subcommand; 0 or an exit status. */
static int check_ct_args(enum ct_sub which, const char *name, struct ct_args *a)
{
	struct xct_filter *f = &a->filter;
	int i, ret;

	if (a->table && which != SUB_LIST)
		return xct_usage_error("unexpected argument '%s'", a->table);
	if (a->table && strcmp(a->table, "conntrack") && strcmp(a->table, "dying") &&
	    strcmp(a->table, "unconfirmed"))
		return xct_usage_error("ct list: unknown table '%s' (conntrack, dying or "
				       "unconfirmed)",
				       a->table);
	if (which == SUB_CREATE && f->dir_zone >= 0)
		return xct_usage_error("ct create: xct's zones hold both directions of a "
				       "connection: --zone N, not --orig-zone or --reply-zone");
	/* A tuple names a connection of one zone: the default one, unless
	 * -w names another (conntrack -G looks in zone 0). */
	if (which == SUB_GET && f->zone < 0)
		f->zone = 0;
	if (a->zero && which != SUB_LIST)
		return xct_usage_error("-z goes with 'ct list'");
	if ((a->label_add || a->label_del || a->label_del_all) && which != SUB_UPDATE)
		return xct_usage_error("--label-add and --label-del go with 'ct update'");
	if (a->timeout) {
		__u64 v;

		switch (which) {
		case SUB_EVENTS:
			if (xct_parse_timeout_opt(a->timeout, &a->ev.timeout_s))
				return XCT_EXIT_USAGE;
			a->ev_given = true;
			break;
		case SUB_LIST:
		case SUB_GET:
		case SUB_DELETE:
			if (xct_parse_u64(a->timeout, 0, 0x7fffffff, &v))
				return xct_usage_error("-t: '%s' is not a number of seconds",
						       a->timeout);
			f->timeout_max = (long long)v;
			a->has_filter = true;
			break;
		case SUB_CREATE:
		case SUB_UPDATE:
			break;
		default:
			return xct_usage_error("-t goes with list, get, delete, create, update "
					       "and events");
		}
	}
	if (which != SUB_CREATE) {
		for (i = 0; i < a->nlabel_filters; i++) {
			ret = parse_label_list(a, "-l", a->label_filter[i], f->labels[i]);
			if (ret)
				return ret;
		}
		f->nlabel_sets = a->nlabel_filters;
	}
	if (which == SUB_GET && !f->has_id &&
	    (f->proto < 0 || !f->has_addr[XCT_F_ORIG_SRC] || !f->has_addr[XCT_F_ORIG_DST] ||
	     ((f->proto == 6 || f->proto == 17) && (f->sport < 0 || f->dport < 0))))
		return xct_usage_error(
			"ct get needs --id, or -p, -s, -d, and --sport/--dport for tcp and udp");
	if (which == SUB_DELETE && !a->has_filter)
		return xct_usage_error("ct delete needs a filter (use 'ct flush' to delete all)");
	if ((which == SUB_FLUSH || which == SUB_COUNT || which == SUB_STATS) && a->has_filter)
		return xct_usage_error("'ct %s' takes no filter", name);
	if (a->reasons && which != SUB_STATS)
		return xct_usage_error("--reasons goes with 'ct stats'");
	if (a->ev_given && which != SUB_EVENTS)
		return xct_usage_error("-e and --count go with 'ct events'");
	if ((a->fmt_flags & XCT_FMT_TIMESTAMP) && which != SUB_EVENTS)
		return xct_usage_error("-o timestamp goes with 'ct events'");
	if ((a->fmt_flags & (XCT_FMT_ID | XCT_FMT_KTIMESTAMP | XCT_FMT_LABELS)) &&
	    (which == SUB_EVENTS || which == SUB_CREATE))
		return xct_usage_error("-o id, ktimestamp and labels go with list, get, delete "
				       "and update");
	/* JSON has fields of its own (the id and the labels among them); a
	 * text format asked for with it would be silently dropped. */
	if (xct_opts.json &&
	    (a->fmt_flags & (XCT_FMT_EXTENDED | XCT_FMT_TIMESTAMP | XCT_FMT_KTIMESTAMP)))
		return xct_usage_error("-o %s is a text format: it cannot be combined with JSON "
				       "(-j or -o json)",
				       a->fmt_flags & XCT_FMT_EXTENDED	  ? "extended"
				       : a->fmt_flags & XCT_FMT_TIMESTAMP ? "timestamp"
									  : "ktimestamp");
	return 0;
}

int cmd_ct(int argc, char **argv)
{
	static const char *const subs[] = {"list",   "get",    "delete", "flush", "count",  "stats",
					   "events", "create", "update", "save",  "restore"};
	struct update_spec upd;
	struct xct_ct_entry e;
	struct xct_ct_key key;
	__u64 labels[2] = {0, 0};
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
	/* conntrack(8)'s command letters, for the hands that know them. */
	if (sub[0] == '-' && sub[1] && !sub[2]) {
		static const char letters[] = "LGDIUFCSE";
		static const char *const as[] = {"list",  "get",   "delete", "create", "update",
						 "flush", "count", "stats",  "events"};
		const char *l = strchr(letters, sub[1]);

		if (l)
			sub = argv[1] = (char *)as[l - letters];
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strncmp(sub, subs[i], strlen(sub)))
			which = which < 0 ? (int)i : -2; /* prefixes must be unique */
	if (which < 0)
		return xct_usage_error("'ct %s': unknown or ambiguous command", sub);
	if (which == SUB_SAVE || which == SUB_RESTORE)
		return do_state(which == SUB_SAVE, argc - 1, argv + 1);

	ret = parse_ct_args(argc - 1, argv + 1, &a);
	if (!ret)
		ret = check_ct_args(which, subs[which], &a);
	if (!ret && which == SUB_UPDATE)
		ret = build_update(&a, &upd);
	if (!ret && which == SUB_CREATE) {
		ret = build_create(&a, xct_now_ns(), &key, &e);
		if (!ret && a.nlabel_filters > 1)
			ret = xct_usage_error("ct create takes one -l list");
		if (!ret && a.nlabel_filters)
			ret = parse_label_list(&a, "-l", a.label_filter[0], labels);
	}
	if (ret)
		goto out;

	ret = XCT_EXIT_RUNTIME;
	if (xct_require_root() || xct_table_open(&t))
		goto out;
	switch (which) {
	case SUB_LIST:
		ret = do_list(&t, &a, false);
		break;
	case SUB_GET:
		ret = do_list(&t, &a, true);
		break;
	case SUB_DELETE:
		ret = do_delete(&t, &a);
		break;
	case SUB_FLUSH:
		ret = do_flush(&t);
		break;
	case SUB_COUNT:
		ret = do_count(&t);
		break;
	case SUB_EVENTS:
		a.ev.fmt_flags = a.fmt_flags;
		ret = xct_ct_events_run(&t, &a.filter, &a.ev);
		break;
	case SUB_CREATE:
		/* The entry's clock starts when it goes in. */
		e.expires_ns += xct_now_ns() - e.first_seen_ns;
		e.first_seen_ns = e.last_seen_ns = xct_now_ns();
		ret = do_create(&t, &a, &key, &e, labels);
		break;
	case SUB_UPDATE:
		ret = do_update(&t, &a, &upd);
		break;
	default:
		ret = do_stats(&t, &a);
	}
	xct_table_close(&t);
out:
	xct_labelmap_free(&a.labels);
	return ret;
}
