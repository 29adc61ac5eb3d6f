// SPDX-License-Identifier: GPL-2.0-only
/*
 * The xct command: global options, then a command found by unique prefix,
 * as iproute2 and bpftool do ("xct st" is "xct status").
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "netns.h"
#include "xct.h"

static const char usage[] =
	"Usage: xct [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"A stateful connection tracker on XDP and TC, with nf_conntrack's semantics.\n"
	"\n"
	"Commands:\n"
	"  attach IFACE... [--mode native|generic|tc] [--max-entries N]\n"
	"  detach IFACE... | --all\n"
	"  attach-cgroup CGROUP        record which process owns each connection it makes\n"
	"  detach-cgroup CGROUP        stop recording there\n"
	"  status                      interfaces, programs, table fill; exit 1 if a hook is MISSING\n"
	"  up [--config FILE]          bring up the firewall of /etc/xct/xct.conf (or FILE)\n"
	"  down [--config FILE]        take it down: no hook, pin or filter left\n"
	"  reload [--config FILE]      load its rules again; connections are kept\n"
	"  ct list|get|delete|flush|count|stats|events [FILTER...]  (see 'xct ct help')\n"
	"  rules load|check FILE | show | clear               (see 'xct rules help')\n"
	"  set add|del NAME ELEMENT... | list [NAME]          (see 'xct set help')\n"
	"  events [--count N] [--timeout S]                   the event stream (log rules)\n"
	"  replay FILE [--rules FILE] [--verdicts] [-o json]  a capture through the datapath, offline\n"
	"  trace drops|resets [FILTER...] [--summary N]       why packets die, why connections reset\n"
	"  metrics                     every counter, in Prometheus' text format\n"
	"  export ipfix|netflow9 HOST:PORT [--count N] ...    flow and NAT records to a collector\n"
	"  timeouts                    the trackers' timeouts, by nf_conntrack's sysctl names\n"
	"  set-timeout NAME VALUE      change one; live connections at their next packet\n"
	"  sync commit|flush           the HA peer's connections into the table, or away\n"
	"  sync resync|stats           ask the HA peer for its table; the sync link's counters\n"
	"  version\n"
	"\n"
	"Options:\n"
	"  -j, --json                  JSON output\n"
	"      --pin-path DIR          where the state is pinned (or $XCT_PIN_PATH); one\n"
	"                              xct instance per path.  Default: " XCT_PIN_PATH_DEFAULT "\n"
	"                              in the initial network namespace, else\n"
	"                              " XCT_PIN_PATH_DEFAULT "-netns-INODE (the namespace's\n"
	"                              inode, as /proc/self/ns/net shows it), on the host's\n"
	"                              BPF filesystem from any mount namespace\n"
	"      --socket PATH           xctd's socket, through which the event commands read\n"
	"                              when xctd runs (default /run/xct/xctd.sock for the\n"
	"                              host's default instance, else the instance's own,\n"
	"                              as xctd picks it; or $XCT_SOCKET)\n"
	"  -v, --verbose               libbpf's messages and the verifier's log\n"
	"  -h, --help\n"
	"\n"
	"Examples:\n"
	"  xct up --config /etc/xct/xct.conf\n"
	"  xct attach eth0 eth1\n"
	"  xct attach-cgroup /sys/fs/cgroup\n"
	"  xct ct list -p tcp --state ESTABLISHED\n"
	"  xct ct stats\n"
	"  xct ct events -e DESTROY -o json\n"
	"  xct rules load /etc/xct/rules.xct\n"
	"  xct set add blocklist 203.0.113.0/24\n"
	"  xct replay trace.pcap --rules new.xct --verdicts\n"
	"  xct trace drops --port 443\n"
	"  xct export ipfix 192.0.2.10:4739 --domain 7\n"
	"  xct --pin-path /run/xct-test/xct status\n";

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!xct_opts.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: xct version\n\nPrints xct's version and libbpf's.\n");
		return XCT_EXIT_OK;
	}
	printf("xct %s (libbpf %s)\n", XCT_VERSION, libbpf_version_string());
	return XCT_EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
	fputs(usage, stdout);
	return XCT_EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{"attach", cmd_attach},	    {"detach", cmd_detach},
	{"status", cmd_status},	    {"ct", cmd_ct},
	{"rules", cmd_rules},	    {"set", cmd_set},
	{"version", cmd_version},   {"help", cmd_help},
	{"replay", cmd_replay},	    {"events", cmd_events},
	{"trace", cmd_trace},	    {"metrics", cmd_metrics},
	{"export", cmd_export},	    {"up", cmd_up},
	{"down", cmd_down},	    {"reload", cmd_reload},
	{"timeouts", cmd_timeouts}, {"set-timeout", cmd_set_timeout},
	{"sync", cmd_sync},
	{"attach-cgroup", cmd_attach_cgroup}, {"detach-cgroup", cmd_detach_cgroup},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"pin-path", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"socket", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	static char default_pin_path[4096];
	const char *env = getenv("XCT_PIN_PATH"), *sock_env = getenv("XCT_SOCKET");
	bool pin_given = false;
	int c, found = -1;
	size_t i, len;

	if (env && *env) {
		xct_opts.pin_path = env;
		pin_given = true;
	}
	if (sock_env && *sock_env)
		xct_opts.socket_path = sock_env;
	opterr = 0;
	/* "+": stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:jvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			xct_opts.json = true;
			break;
		case 'P':
			if (!*optarg || optarg[0] != '/')
				return xct_usage_error("--pin-path needs an absolute path");
			xct_opts.pin_path = optarg;
			pin_given = true;
			break;
		case 'S':
			if (optarg[0] != '/')
				return xct_usage_error("--socket needs an absolute path");
			xct_opts.socket_path = optarg;
			break;
		case 'v':
			xct_opts.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return XCT_EXIT_OK;
		case 'V':
			return cmd_version(0, NULL);
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return XCT_EXIT_USAGE;
	}
	libbpf_set_print(print_libbpf);

	len = strlen(argv[optind]);
	/* A whole name wins over the longer ones it begins ("set"). */
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			found = (int)i;
	for (i = 0; found < 0 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (len && !strncmp(argv[optind], commands[i].name, len)) {
			if (found >= 0)
				return xct_usage_error("'%s' is ambiguous", argv[optind]);
			found = (int)i;
		}
	}
	if (found < 0)
		return xct_usage_error("unknown command '%s'", argv[optind]);
	/* The default depends on the namespaces xct runs in (src/netns.c). */
	xct_opts.pin_path_given = pin_given;
	if (!pin_given && commands[found].fn != cmd_help && commands[found].fn != cmd_version) {
		if (xct_default_pin_path(default_pin_path, sizeof(default_pin_path)))
			return XCT_EXIT_RUNTIME;
		xct_opts.pin_path = default_pin_path;
	}
	return commands[found].fn(argc - optind, argv + optind);
}
