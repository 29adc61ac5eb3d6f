// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct events: follows the datapath's event stream (the xct_events ring
 * buffer) and prints one line per event, or one JSON object per line with
 * -j.  The datapath never waits for a reader: events it had no room for are
 * counted (events_lost) and reported here when the command ends.  Through
 * xctd when it runs, so that several readers each get every event.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ct_format.h"
#include "daemon/stream.h"
#include "table.h"
#include "xct.h"
#include "xct/parse.h"
#include "xct/policy.h"

static const char events_usage[] =
	"Usage: xct events [--count N] [--timeout SECONDS]\n"
	"\n"
	"Prints the events of the datapath as they come: for now, the packets that\n"
	"rules with 'log' decide (at most 100 a second per rule).  Ends after N\n"
	"events, after SECONDS, or on Ctrl-C, and then says how many events the\n"
	"datapath could not queue.  (xct's drops and rejects: 'xct trace drops'.)\n"
	"\n"
	"Examples:\n"
	"  xct events\n"
	"  xct -j events --count 10\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct events_ctx {
	__u64 seen;
	__u64 wanted;
	__s64 mono_to_real; /* ns to add to a monotonic time for wall time */
};

static const char *verdict_name(__u8 v)
{
	/* "return": a logged return of a user chain, and "continue": a log
	 * event of a continue rule; neither decides anything. */
	static const char *const names[] = {"accept", "drop",	  "reject",
					    "notrack", "return", "continue"};

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

static const char *state_name(__u8 s)
{
	static const char *const names[] = {"new", "established", "related", "invalid",
					    "untracked"};

	return s < 5 ? names[s] : "raw";
}

static int print_event(void *ctx, void *data, size_t size)
{
	struct events_ctx *ec = ctx;
	const struct xct_event *ev = data;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE] = "?", pbuf[8];
	int af = ev->family == XCT_AF_INET6 ? AF_INET6 : AF_INET;
	__u64 real = ev->time_ns + (__u64)ec->mono_to_real;
	time_t secs = (time_t)(real / XCT_NSEC_PER_SEC);
	const char *proto = xct_proto_label(ev->proto, pbuf, sizeof(pbuf));
	int ports = ev->proto == XCT_IPPROTO_TCP || ev->proto == XCT_IPPROTO_UDP;
	struct tm tm;
	char when[32];

	if (size < sizeof(*ev) || ev->type != XCT_EV_RULE_LOG)
		return 0;
	inet_ntop(af, &ev->src, src, sizeof(src));
	inet_ntop(af, &ev->dst, dst, sizeof(dst));
	if_indextoname(ev->ifindex, ifname);
	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (xct_opts.json) {
		printf("{\"time\":%llu.%06llu,\"event\":\"log\",\"line\":%u,\"verdict\":\"%s\","
		       "\"state\":\"%s\",\"%s\":\"%s\",\"proto\":\"%s\",\"src\":\"%s\","
		       "\"dst\":\"%s\"",
		       (unsigned long long)(real / XCT_NSEC_PER_SEC),
		       (unsigned long long)(real % XCT_NSEC_PER_SEC / 1000), ev->line,
		       verdict_name(ev->verdict), state_name(ev->ct_state),
		       ev->hook == XCT_HOOK_EGRESS ? "oif" : "iif", ifname, proto, src, dst);
		if (ports)
			printf(",\"sport\":%u,\"dport\":%u", ev->sport, ev->dport);
		printf(",\"bytes\":%u}\n", ev->len);
	} else {
		printf("%s.%06llu log line %u %s %s %s %s %s", when,
		       (unsigned long long)(real % XCT_NSEC_PER_SEC / 1000), ev->line,
		       verdict_name(ev->verdict), state_name(ev->ct_state),
		       ev->hook == XCT_HOOK_EGRESS ? "oif" : "iif", ifname, proto);
		if (ports)
			printf(" %s:%u -> %s:%u", src, ev->sport, dst, ev->dport);
		else if (ev->proto == XCT_IPPROTO_ICMP || ev->proto == XCT_IPPROTO_ICMPV6)
			printf(" %s -> %s type %u code %u", src, dst, ev->sport >> 8,
			       ev->sport & 0xff);
		else
			printf(" %s -> %s", src, dst);
		printf(" len %u\n", ev->len);
	}
	fflush(stdout);
	ec->seen++;
	return ec->wanted && ec->seen >= ec->wanted ? 1 : 0;
}

static __s64 mono_to_real(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return ((__s64)real.tv_sec - mono.tv_sec) * (__s64)XCT_NSEC_PER_SEC +
	       (real.tv_nsec - mono.tv_nsec);
}

int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{"count", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct events_ctx ec = {.mono_to_real = mono_to_real()};
	__u64 timeout_s = 0, lost_before = 0, lost_after = 0;
	struct xct_stream_paths paths;
	struct xct_stream *s = NULL;
	struct xct_table t;
	int c, err = 0, rc = XCT_EXIT_OK;
	time_t deadline = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (xct_parse_count_opt(optarg, &ec.wanted))
				return XCT_EXIT_USAGE;
			break;
		case 't':
			if (xct_parse_timeout_opt(optarg, &timeout_s))
				return XCT_EXIT_USAGE;
			break;
		case 'h':
			fputs(events_usage, stdout);
			return XCT_EXIT_OK;
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s' for 'events'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return xct_usage_error("'events' takes no arguments ('%s')", argv[optind]);
	if (xct_require_root() || xct_prepare_pin_path(xct_opts.pin_path, false))
		return XCT_EXIT_RUNTIME;
	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	lost_before = xct_counter_total(&t, XCT_S_EVENTS_LOST);
	if (xct_stream_open(&s, xct_cli_stream_paths(&paths), XCT_STREAM_EVENTS, print_event,
			    &ec)) {
		xct_table_close(&t);
		return XCT_EXIT_RUNTIME;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (timeout_s)
		deadline = time(NULL) + (time_t)timeout_s;
	while (!stop && (!ec.wanted || ec.seen < ec.wanted)) {
		err = xct_stream_poll(s, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			if (err != -EPROTO)
				xct_err("reading events: %s", strerror(-err));
			rc = XCT_EXIT_RUNTIME;
			break;
		}
		if (deadline && time(NULL) >= deadline)
			break;
	}
	lost_after = xct_counter_total(&t, XCT_S_EVENTS_LOST) + xct_stream_lost(s);
	if (lost_after > lost_before)
		fprintf(stderr, "xct: %llu events lost (the datapath found the stream full)\n",
			(unsigned long long)(lost_after - lost_before));
	xct_stream_close(s);
	xct_table_close(&t);
	return rc;
}
