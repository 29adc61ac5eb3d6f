// SPDX-License-Identifier: GPL-2.0-only
/*
 * xctd: the daemon's command line over src/daemon/.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>

#include "daemon/daemon.h"
#include "daemon/flowlog.h"
#include "daemon/sync_link.h"
#include "export/exporter.h"
#include "config.h"
#include "ct_format.h"
#include "netns.h"
#include "xct.h"

static const char usage[] =
	"Usage: xctd [--pin-path DIR] [--socket PATH] [--metrics-listen ADDR:PORT]\n"
	"            [--config FILE] [--foreground]\n"
	"            [--flow-log FILE] [--nat-log FILE] [--log-max-size BYTES] [--log-keep N]\n"
	"            [--rule-log journal|off]\n"
	"            [--sync-peer ADDR:PORT [--sync-listen ADDR:PORT]\n"
	"             [--sync-transport udp|tcp] | --sync-multicast GROUP:PORT]\n"
	"            [--sync-interface IFNAME] [--sync-mode MODE]\n"
	"            [--sync-ignore-address ADDR]... [--sync-state-accept STATES]\n"
	"            [--sync-commit-on-receive]\n"
	"            [--ipfix-collector HOST:PORT] [--ipfix-domain N]\n"
	"\n"
	"The daemon beside xct's datapath.  It owns the datapath's event rings\n"
	"(connection events, log rules' events, xct's drops) and gives every event\n"
	"to every reader: 'xct ct events', 'xct events' and 'xct trace' read through\n"
	"it while it runs.  With --metrics-listen it serves the metrics of\n"
	"'xct metrics' over HTTP (GET /metrics), for Prometheus; with\n"
	"--ipfix-collector it sends the flow and NAT records of 'xct export ipfix'\n"
	"to an IPFIX collector.  Connections and rules never depend on it;\n"
	"restarted, it goes on where the rings stand.\n"
	"\n"
	"Options:\n"
	"      --pin-path DIR         the xct instance (default " XCT_PIN_PATH_DEFAULT
	", or $XCT_PIN_PATH)\n"
	"      --socket PATH          where readers connect (default " XCT_SOCKET_DEFAULT "\n"
	"                             for the host's instance, else one of the instance's\n"
	"                             own under " XCT_RUN_DIR "); its directory must be\n"
	"                             root's, mode 0700\n"
	"      --metrics-listen ADDR:PORT  serve /metrics there ([ADDR]:PORT for IPv6)\n"
	"      --config FILE          xct.conf: pin-path, [daemon] and [sync] (default\n"
	"                             " XCT_CONFIG_DEFAULT " when it exists); options given\n"
	"                             here win over the file; a bad file exits 2\n"
	"      --foreground           stay in the foreground, log to stderr (for systemd)\n"
	"      --flow-log FILE        every connection's end (DESTROY, with both directions'\n"
	"                             counters) as 'xct ct events -o json' prints it;\n"
	"                             'journal' sends each record to syslog instead\n"
	"      --nat-log FILE         translated connections' NEW and DESTROY, the same way\n"
	"      --log-max-size BYTES   rotate a log at this size (default 64 MiB): FILE\n"
	"                             becomes FILE.1, FILE.1 FILE.2...\n"
	"      --log-keep N           rotated files kept (default 3)\n"
	"      --rule-log journal|off  each packet a rule with 'log' logs, as one syslog\n"
	"                             line at the rule's level with its prefix, in\n"
	"                             nftables' format (default journal)\n"
	"      --sync-peer ADDR:PORT  the HA peer (an xctd or a conntrackd): every\n"
	"                             connection's NEW, UPDATE and DESTROY go there in\n"
	"                             conntrackd's sync protocol (conntrackd's\n"
	"                             IPv4_Destination_Address and Port)\n"
	"      --sync-listen ADDR:PORT  where the peer's messages come in (default: any\n"
	"                             address, the peer's port, as conntrackd's Port;\n"
	"                             conntrackd's IPv4_address)\n"
	"      --sync-transport T     udp (default), tcp (as conntrackd's TCP: connect to\n"
	"                             the peer, accept its connection on the listening\n"
	"                             address) or multicast (with --sync-multicast)\n"
	"      --sync-multicast GROUP:PORT  sync over multicast to this group and port\n"
	"                             instead of a peer (conntrackd's Multicast\n"
	"                             IPv4_address and Group; [GROUP]:PORT for IPv6)\n"
	"      --sync-interface IFNAME  the sync link's interface: multicast joins and\n"
	"                             sends there (needed); UDP and TCP bind to it\n"
	"                             (conntrackd's Interface)\n"
	"      --sync-mode MODE       notrack (default: best effort, and what either\n"
	"                             kind of conntrackd peer takes) or ftfw (reliable:\n"
	"                             acknowledged, resent on loss; the peer in FTFW too)\n"
	"      --sync-ignore-address ADDR  connections from or to ADDR (or translated\n"
	"                             to it) are not sent, as conntrackd's Address\n"
	"                             Ignore; repeated for several (at most 32)\n"
	"      --sync-state-accept STATE[,STATE...]  TCP connections are sent only\n"
	"                             in these states (ESTABLISHED, CLOSE_WAIT...), as\n"
	"                             conntrackd's State Accept; other protocols all\n"
	"      --sync-commit-on-receive  the peer's connections go into the table as\n"
	"                             they arrive, its DESTROYs take them out, as\n"
	"                             conntrackd's DisableExternalCache (active-active,\n"
	"                             or a backup without a commit step)\n"
	"      --ipfix-collector HOST:PORT  send IPFIX flow and NAT records there over\n"
	"                             UDP (port 4739 if not given; [ADDR]:PORT for IPv6)\n"
	"      --ipfix-domain N       the observation domain ID (default 0)\n"
	"  -v, --verbose              libbpf's messages\n"
	"  -h, --help\n"
	"\n"
	"Examples:\n"
	"  xctd --foreground --metrics-listen 127.0.0.1:9474\n"
	"  xctd --pin-path /sys/fs/bpf/xct-lab --socket /run/xct-lab/xctd.sock\n"
	"  xctd --flow-log /var/log/xct/flows.jsonl --nat-log /var/log/xct/nat.jsonl\n"
	"  xctd --sync-peer 10.0.9.2:3780 --sync-listen 10.0.9.1:3780\n"
	"  xctd --sync-peer 10.0.9.2:3780 --sync-listen 10.0.9.1:3780 --sync-mode ftfw\n"
	"  xctd --sync-transport tcp --sync-peer 10.0.9.2:3780\n"
	"  xctd --sync-multicast 225.0.0.50:3780 --sync-interface sync0 --sync-mode ftfw\n"
	"  xctd --sync-peer 10.0.9.2:3780 \\\n"
	"       --sync-state-accept ESTABLISHED,CLOSED,TIME_WAIT,CLOSE_WAIT\n"

	"  xctd --ipfix-collector 192.0.2.10:4739 --ipfix-domain 7\n";

_Static_assert(XCT_CONFIG_SYNC_IGNORE_MAX == XCTD_SYNC_IGNORE_MAX,
	       "xct.conf's ignore-address and --sync-ignore-address take as many");

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("xctd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'xctd --help' for more information.\n", stderr);
	return XCT_EXIT_USAGE;
}

static const char *opt_name(const struct option *opts, int c)
{
	for (; opts->name; opts++)
		if (opts->val == c)
			return opts->name;
	return "?";
}

/* udp, tcp or multicast, as --sync-transport and xct.conf's transport. */
static int xctd_parse_transport(const char *s, int *kind)
{
	if (!strcmp(s, "udp"))
		*kind = XCTD_LINK_UDP;
	else if (!strcmp(s, "tcp"))
		*kind = XCTD_LINK_TCP;
	else if (!strcmp(s, "multicast"))
		*kind = XCTD_LINK_MCAST;
	else
		return -EINVAL;
	return 0;
}

/* GROUP:PORT of an IPv4 or IPv6 multicast group. */
static int xctd_parse_group(const char *s)
{
	struct sockaddr_storage ss;
	unsigned int len;

	if (xctd_parse_listen(s, &ss, &len))
		return -EINVAL;
	if (ss.ss_family == AF_INET)
		return IN_MULTICAST(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr)) ? 0
											 : -EINVAL;
	return IN6_IS_ADDR_MULTICAST(&((struct sockaddr_in6 *)&ss)->sin6_addr) ? 0 : -EINVAL;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return xct_opts.verbose ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-path", required_argument, NULL, 'P'},
		{"socket", required_argument, NULL, 's'},
		{"metrics-listen", required_argument, NULL, 'm'},
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"flow-log", required_argument, NULL, 'F'},
		{"nat-log", required_argument, NULL, 'N'},
		{"log-max-size", required_argument, NULL, 'M'},
		{"log-keep", required_argument, NULL, 'K'},
		{"rule-log", required_argument, NULL, 'R'},
		{"sync-peer", required_argument, NULL, 'S'},
		{"sync-listen", required_argument, NULL, 'L'},
		{"ipfix-collector", required_argument, NULL, 'I'},
		{"ipfix-domain", required_argument, NULL, 'D'},
		{"sync-mode", required_argument, NULL, 'Y'},
		{"sync-ignore-address", required_argument, NULL, 'G'},
		{"sync-transport", required_argument, NULL, 'T'},
		{"sync-multicast", required_argument, NULL, 'U'},
		{"sync-interface", required_argument, NULL, 'i'},
		{"sync-state-accept", required_argument, NULL, 'A'},
		{"sync-commit-on-receive", no_argument, NULL, 'C'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct xctd_config cfg = {
		.pin_path = XCT_PIN_PATH_DEFAULT,
		.socket_path = XCT_SOCKET_DEFAULT,
		.run_dir = XCT_RUN_DIR,
		.log_max_size = XCTD_LOG_MAX_SIZE_DEFAULT,
		.log_keep = XCTD_LOG_KEEP_DEFAULT,
		.rule_log = true,
	};
	static char default_pin_path[4096], default_socket[256];
	static struct xct_config conf;
	const char *conf_path = NULL;
	bool sock_given = false, metrics_given = false, flow_given = false, nat_given = false;
	bool size_given = false, ipfix_given = false, domain_given = false;
	bool sync_peer_given = false, sync_listen_given = false;
	static char ipfix_buf[XCT_CONFIG_ADDR_MAX + 8];
	bool sync_mode_given = false, sync_transport_given = false, rule_log_given = false;
	bool sync_states_given = false, sync_direct_given = false;
	const char *sync_multicast = NULL;
	char err[512];
	__u64 n;
	const char *env = getenv("XCT_PIN_PATH");
	struct sockaddr_storage ss;
	unsigned int len;
	bool pin_given = false;
	int c;

	if (env && *env) {
		cfg.pin_path = env;
		pin_given = true;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
		case 's':
		case 'F':
		case 'N':
			/* The paths: absolute, as the daemon changes directory. */
			if (optarg[0] != '/' &&
			    !((c == 'F' || c == 'N') && !strcmp(optarg, XCTD_LOG_JOURNAL)))
				return usage_error("--%s needs an absolute path%s",
						   opt_name(opts, c),
						   c == 'F' || c == 'N' ? " or 'journal'" : "");
			pin_given |= c == 'P';
			sock_given |= c == 's';
			flow_given |= c == 'F';
			nat_given |= c == 'N';
			*(c == 'P'   ? &cfg.pin_path
			  : c == 's' ? &cfg.socket_path
			  : c == 'F' ? &cfg.flow_log
				     : &cfg.nat_log) = optarg;
			break;
		case 'R':
			if (strcmp(optarg, "journal") && strcmp(optarg, "off"))
				return usage_error("--rule-log takes 'journal' or 'off', not '%s'",
						   optarg);
			cfg.rule_log = !strcmp(optarg, "journal");
			rule_log_given = true;
			break;
		case 'm':
			if (xctd_parse_listen(optarg, &ss, &len))
				return usage_error("--metrics-listen: '%s' is not ADDR:PORT or "
						   "[ADDR]:PORT",
						   optarg);
			cfg.metrics_listen = optarg;
			metrics_given = true;
			break;
		case 'S':
		case 'L':
			if (xctd_parse_listen(optarg, &ss, &len))
				return usage_error("--%s: '%s' is not ADDR:PORT or [ADDR]:PORT",
						   opt_name(opts, c), optarg);
			*(c == 'S' ? &cfg.sync_peer : &cfg.sync_listen) = optarg;
			sync_peer_given |= c == 'S';
			sync_listen_given |= c == 'L';
			break;
		case 'G': {
			struct in6_addr a6;

			if (inet_pton(AF_INET, optarg, &a6) != 1 &&
			    inet_pton(AF_INET6, optarg, &a6) != 1)
				return usage_error("--sync-ignore-address: '%s' is not an address",
						   optarg);
			if (cfg.n_sync_ignore >= XCTD_SYNC_IGNORE_MAX)
				return usage_error("--sync-ignore-address: at most %d addresses",
						   XCTD_SYNC_IGNORE_MAX);
			cfg.sync_ignore[cfg.n_sync_ignore++] = optarg;
			break;
		}
		case 'T':
			if (xctd_parse_transport(optarg, &cfg.sync_transport))
				return usage_error("--sync-transport: '%s' is not udp, tcp or "
						   "multicast",
						   optarg);
			sync_transport_given = true;
			break;
		case 'U':
			if (xctd_parse_group(optarg))
				return usage_error("--sync-multicast: '%s' is not GROUP:PORT of a "
						   "multicast group ([GROUP]:PORT for IPv6)",
						   optarg);
			sync_multicast = optarg;
			break;
		case 'i':
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE || strchr(optarg, '/') ||
			    strchr(optarg, ' '))
				return usage_error(
					"--sync-interface: '%s' is not an interface name", optarg);
			cfg.sync_interface = optarg;
			break;
		case 'A': {
			const char *bad;
			char why[256];

			if (xct_tcp_state_list(optarg, &cfg.sync_state_accept, &bad))
				return usage_error("--sync-state-accept: %s",
						   xct_tcp_state_list_error(bad, why, sizeof(why)));
			sync_states_given = true;
			break;
		}
		case 'C':
			cfg.sync_commit_on_receive = true;
			sync_direct_given = true;
			break;
		case 'Y':
			if (!strcasecmp(optarg, "notrack"))
				cfg.sync_mode = XCTD_SYNC_MODE_NOTRACK;
			else if (!strcasecmp(optarg, "ftfw"))
				cfg.sync_mode = XCTD_SYNC_MODE_FTFW;
			else
				return usage_error("--sync-mode: '%s' is not notrack or ftfw",
						   optarg);
			sync_mode_given = true;
			break;
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			cfg.foreground = true;
			break;
		case 'M':
			if (xct_parse_u64(optarg, 1024, 1ULL << 40, &cfg.log_max_size))
				return usage_error("--log-max-size: '%s' is not a number of bytes "
						   "from 1024",
						   optarg);
			size_given = true;
			break;
		case 'K':
			if (xct_parse_u64(optarg, 1, 1000, &n))
				return usage_error(
					"--log-keep: '%s' is not a number from 1 to 1000", optarg);
			cfg.log_keep = (unsigned int)n;
			break;
		case 'I':
			if (xct_ipfix_parse_addr(optarg, ipfix_buf, sizeof(ipfix_buf),
						 &cfg.ipfix_host, &cfg.ipfix_port))
				return usage_error("--ipfix-collector: '%s' is not HOST:PORT (an "
						   "IPv6 address in brackets)",
						   optarg);
			cfg.ipfix_collector = optarg;
			ipfix_given = true;
			break;
		case 'D':
			if (xct_parse_u64(optarg, 0, 0xffffffffULL, &n))
				return usage_error("--ipfix-domain: '%s' is not a number from 0 to "
						   "4294967295",
						   optarg);
			cfg.ipfix_domain = (__u32)n;
			domain_given = true;
			break;
		case 'v':
			xct_opts.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return XCT_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("xctd takes no arguments ('%s')", argv[optind]);
	/* xct.conf: what the command line did not say. */
	if (conf_path || access(XCT_CONFIG_DEFAULT, F_OK) == 0) {
		int ret = xct_config_load(conf_path ? conf_path : XCT_CONFIG_DEFAULT, &conf, err,
					  sizeof(err));

		if (ret) {
			fprintf(stderr, "xctd: %s\n", err);
			return ret == -EINVAL ? XCT_EXIT_USAGE : XCT_EXIT_RUNTIME;
		}
		if (conf.pin_path[0] && !pin_given) {
			cfg.pin_path = conf.pin_path;
			pin_given = true;
		}
		if (conf.daemon.socket[0] && !sock_given) {
			cfg.socket_path = conf.daemon.socket;
			sock_given = true;
		}
		if (conf.daemon.metrics_listen[0] && !metrics_given)
			cfg.metrics_listen = conf.daemon.metrics_listen;
		/* One destination for the flow and the NAT log. */
		if (conf.daemon.flow_log[0] && !flow_given && !nat_given)
			cfg.flow_log = cfg.nat_log = conf.daemon.flow_log;
		if (conf.daemon.rule_log >= 0 && !rule_log_given)
			cfg.rule_log = conf.daemon.rule_log;
		if (conf.daemon.flow_log_max_size && !size_given)
			cfg.log_max_size = conf.daemon.flow_log_max_size;
		if (conf.daemon.ipfix_collector[0] && !ipfix_given) {
			if (xct_ipfix_parse_addr(conf.daemon.ipfix_collector, ipfix_buf,
						 sizeof(ipfix_buf), &cfg.ipfix_host,
						 &cfg.ipfix_port)) {
				fprintf(stderr, "xctd: ipfix-collector '%s' is not HOST:PORT\n",
					conf.daemon.ipfix_collector);
				return XCT_EXIT_USAGE;
			}
			cfg.ipfix_collector = conf.daemon.ipfix_collector;
		}
		if (!domain_given)
			cfg.ipfix_domain = conf.daemon.ipfix_domain;
		/* A multicast group on the command line replaces the file's
		 * peer; the file's group gives way to a peer or transport
		 * given here. */
		if (conf.sync.peer[0] && !sync_peer_given && !sync_multicast)
			cfg.sync_peer = conf.sync.peer;
		if (conf.sync.listen[0] && !sync_listen_given && !sync_multicast)
			cfg.sync_listen = conf.sync.listen;
		if (conf.sync.mode && !sync_mode_given)
			cfg.sync_mode = conf.sync.mode == XCT_CONFIG_SYNC_MODE_FTFW
						? XCTD_SYNC_MODE_FTFW
						: XCTD_SYNC_MODE_NOTRACK;
		if (conf.sync.commit_on_receive && !sync_direct_given)
			cfg.sync_commit_on_receive =
				conf.sync.commit_on_receive == XCT_CONFIG_SYNC_YES;
		if (conf.sync.state_accept && !sync_states_given)
			cfg.sync_state_accept = conf.sync.state_accept;
		/* The list as a whole: the command line's replaces the file's. */
		if (!cfg.n_sync_ignore)
			for (unsigned int i = 0; i < conf.sync.n_ignore; i++)
				cfg.sync_ignore[cfg.n_sync_ignore++] = conf.sync.ignore[i];
		if (conf.sync.transport[0] && !sync_transport_given && !sync_multicast)
			xctd_parse_transport(conf.sync.transport, &cfg.sync_transport);
		if (conf.sync.multicast[0] && !sync_peer_given && !sync_transport_given &&
		    !sync_multicast)
			sync_multicast = conf.sync.multicast;
		if (conf.sync.interface[0] && !cfg.sync_interface)
			cfg.sync_interface = conf.sync.interface;
	}
	if (sync_multicast) {
		if (sync_transport_given && cfg.sync_transport != XCTD_LINK_MCAST)
			return usage_error("--sync-multicast is for --sync-transport multicast");
		if (sync_peer_given)
			return usage_error("--sync-multicast and --sync-peer: one or the other");
		if (cfg.sync_listen)
			return usage_error("--sync-listen is for udp and tcp, not multicast");
		if (!cfg.sync_interface)
			return usage_error("--sync-multicast needs --sync-interface");
		cfg.sync_transport = XCTD_LINK_MCAST;
		cfg.sync_peer = sync_multicast;
	} else if (cfg.sync_transport == XCTD_LINK_MCAST) {
		return usage_error("--sync-transport multicast needs --sync-multicast GROUP:PORT");
	}
	if (cfg.sync_listen && !cfg.sync_peer)
		return usage_error("--sync-listen needs --sync-peer");
	if (sync_transport_given && !cfg.sync_peer)
		return usage_error("--sync-transport needs --sync-peer");
	if (cfg.sync_interface && !cfg.sync_peer)
		return usage_error("--sync-interface needs --sync-peer or --sync-multicast");
	if (sync_mode_given && !cfg.sync_peer)
		return usage_error("--sync-mode needs --sync-peer or --sync-multicast");
	if (cfg.n_sync_ignore && !cfg.sync_peer)
		return usage_error("--sync-ignore-address needs --sync-peer or --sync-multicast");
	if (sync_states_given && !cfg.sync_peer)
		return usage_error("--sync-state-accept needs --sync-peer or --sync-multicast");
	if (sync_direct_given && !cfg.sync_peer)
		return usage_error("--sync-commit-on-receive needs --sync-peer or --sync-multicast");
	libbpf_set_print(print_libbpf);
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	/* The instance of this network namespace, as xct's commands find it. */
	if (!pin_given) {
		if (xct_default_pin_path(default_pin_path, sizeof(default_pin_path)))
			return XCT_EXIT_RUNTIME;
		cfg.pin_path = default_pin_path;
	}
	if (!sock_given) {
		xct_default_socket(cfg.pin_path, default_socket, sizeof(default_socket));
		cfg.socket_path = default_socket;
	}
	return xctd_run(&cfg);
}
