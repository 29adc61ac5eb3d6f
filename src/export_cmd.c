// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct export ipfix|netflow9: the connection events as IPFIX (or NetFlow
 * v9) flow and NAT records to a collector, in the foreground.  The events come from the reader of
 * xct ct events (its sink), the records from the exporter in src/export/.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ct_events.h"
#include "export/exporter.h"
#include "xct.h"

static const char export_usage[] =
	"Usage: xct export ipfix|netflow9 HOST[:PORT] [--count N] [--timeout SECONDS]\n"
	"                 [--domain ID] [--template-refresh SECONDS] [--mtu BYTES]\n"
	"\n"
	"Sends IPFIX (RFC 7011) over UDP to the collector at HOST:PORT (port 4739 if\n"
	"not given; an IPv6 address in brackets): a flow record for every connection\n"
	"that ends, with both directions' packets and bytes, and NAT session records\n"
	"(RFC 8158) when a translated connection starts and ends.  Runs until Ctrl-C,\n"
	"until N records are sent, or for SECONDS; then says how many records it sent\n"
	"and how many connection events the datapath could not queue.  Exits 1 if a\n"
	"message could not be sent.  netflow9 sends the same records as NetFlow v9\n"
	"(RFC 3954), without the TCP state (an enterprise element, which v9 lacks).\n"
	"\n"
	"Options:\n"
	"      --count N                   end after N records\n"
	"      --timeout SECONDS           end after SECONDS\n"
	"      --domain ID                 observation domain ID, v9's source ID (default 0)\n"
	"      --template-refresh SECONDS  resend the templates this often (default 60)\n"
	"      --mtu BYTES                 largest message, 256-65535 (default 512)\n"
	"  -h, --help\n"
	"\n"
	"The templates and how to run nfdump's nfcapd against it: docs/IPFIX.md.\n"
	"\n"
	"Examples:\n"
	"  xct export ipfix 192.0.2.10:4739 --domain 7\n"
	"  xct export ipfix [2001:db8::10]:9995 --template-refresh 30 --mtu 1400\n"
	"  xct export netflow9 192.0.2.10:2055\n";

enum { OPT_COUNT = 256, OPT_TIMEOUT, OPT_DOMAIN, OPT_REFRESH, OPT_MTU };

static const struct option export_options[] = {
	{"count", required_argument, NULL, OPT_COUNT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"domain", required_argument, NULL, OPT_DOMAIN},
	{"template-refresh", required_argument, NULL, OPT_REFRESH},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int sink(void *ctx, const struct xct_ct_event *ev)
{
	return xct_ipfix_exporter_event(ctx, ev);
}

static void tick(void *ctx)
{
	xct_ipfix_exporter_tick(ctx);
}

static int do_export(int argc, char **argv, int netflow9)
{
	struct xct_ipfix_exporter_cfg cfg = {.template_refresh_s = XCT_IPFIX_TEMPLATE_REFRESH_S,
					     .mtu = XCT_IPFIX_MTU_DEFAULT,
					     .netflow9 = netflow9};
	struct xct_ct_events_opts o = {.mask = XCT_CTE_MASK(XCT_CTE_NEW) |
					       XCT_CTE_MASK(XCT_CTE_DESTROY)};
	struct xct_ipfix_exporter x;
	struct xct_filter filter;
	const char *where = NULL;
	char addr[300];
	struct xct_table t;
	int c, rc;
	__u64 v;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", export_options, NULL)) != -1) {
		switch (c) {
		case OPT_COUNT:
			if (xct_parse_count_opt(optarg, &o.count))
				return XCT_EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (xct_parse_timeout_opt(optarg, &o.timeout_s))
				return XCT_EXIT_USAGE;
			break;
		case OPT_DOMAIN:
			if (xct_parse_u64(optarg, 0, 0xffffffffULL, &v))
				return xct_usage_error("--domain: '%s' is not a number from 0 to "
						       "4294967295",
						       optarg);
			cfg.domain = (__u32)v;
			break;
		case OPT_REFRESH:
			if (xct_parse_u64(optarg, 1, 86400, &v))
				return xct_usage_error(
					"--template-refresh: '%s' is not a number of seconds "
					"from 1 to 86400",
					optarg);
			cfg.template_refresh_s = (unsigned int)v;
			break;
		case OPT_MTU:
			if (xct_parse_u64(optarg, XCT_IPFIX_MTU_MIN, XCT_IPFIX_MTU_MAX, &v))
				return xct_usage_error("--mtu: '%s' is not a size from %d to %d",
						       optarg, XCT_IPFIX_MTU_MIN,
						       XCT_IPFIX_MTU_MAX);
			cfg.mtu = (size_t)v;
			break;
		case 'h':
			fputs(export_usage, stdout);
			return XCT_EXIT_OK;
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (where)
			return xct_usage_error("unexpected argument '%s'", argv[optind]);
		where = argv[optind];
	}
	if (!where)
		return xct_usage_error("export %s needs the collector, HOST:PORT", argv[0]);
	if (xct_ipfix_parse_addr(where, addr, sizeof(addr), &cfg.host, &cfg.port))
		return xct_usage_error("'%s' is not HOST:PORT (an IPv6 address in brackets)",
				       where);

	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	if (xct_ipfix_exporter_open(&x, &cfg)) {
		xct_table_close(&t);
		return XCT_EXIT_RUNTIME;
	}
	xct_filter_init(&filter);
	o.sink = sink;
	o.tick = tick;
	o.ctx = &x;
	rc = xct_ct_events_run(&t, &filter, &o);
	xct_ipfix_exporter_close(&x);
	xct_table_close(&t);
	fprintf(stderr, "xct: %llu %s records sent to %s in %llu messages (domain %u)\n",
		(unsigned long long)x.stats.records, netflow9 ? "NetFlow v9" : "IPFIX", where,
		(unsigned long long)x.stats.messages, cfg.domain);
	if (x.stats.send_errors) {
		xct_err("%llu messages (%llu records) could not be sent: %s",
			(unsigned long long)x.stats.send_errors, (unsigned long long)x.stats.lost,
			strerror(x.last_errno));
		rc = XCT_EXIT_RUNTIME;
	}
	return rc;
}

int cmd_export(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		fputs(export_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	if (strcmp(argv[1], "ipfix") && strcmp(argv[1], "netflow9"))
		return xct_usage_error("'export %s': unknown format (ipfix, netflow9)", argv[1]);
	return do_export(argc - 1, argv + 1, !strcmp(argv[1], "netflow9"));
}
