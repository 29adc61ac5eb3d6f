// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the xct.conf parser (src/config.c): a complete file key by
 * key, the defaults, comments and CRLF, and every kind of mistake with its
 * line and column, after which nothing of the file is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "xct/abi.h"

static int parse(const char *text, struct xct_config *cfg, char *err, size_t errlen)
{
	return xct_config_parse("t.conf", text, strlen(text), cfg, err, errlen);
}

/* text must fail with exactly msg ("t.conf:LINE:COL: ..."), keeping nothing. */
#define CHECK_CERR(text, msg)                                                                      \
	do {                                                                                       \
		static struct xct_config __c;                                                      \
		char __e[512];                                                                     \
		CHECK_EQ(parse((text), &__c, __e, sizeof(__e)), -EINVAL);                          \
		CHECK_STR(__e, (msg));                                                             \
		CHECK_EQ(__c.n_ifaces, 0);                                                         \
		CHECK_EQ(__c.tunables_set, 0);                                                     \
		CHECK_EQ(__c.table_size, 0);                                                       \
		CHECK_STR(__c.rules, XCT_CONFIG_RULES_DEFAULT);                                    \
	} while (0)

static const char full[] = "# xct.conf\n"
			   "pin-path = /sys/fs/bpf/fw\n"
			   "rules=/etc/xct/fw.xct   # trailing comment\n"
			   "table-size = 1048576\n"
			   "events-ring-size = 8M\n"
			   "\n"
			   "[interface eth0]\n"
			   "mode = native\n"
			   "[ interface  eth1 ]\r\n"
			   "\tmode = tc\r\n"
			   "[interface wan#1]\n"
			   "[timeouts]\n"
			   "nf_conntrack_tcp_timeout_established = 3600\n"
			   "nf_conntrack_udp_timeout = 0\n"
			   "nf_conntrack_tcp_be_liberal = 1\n"
			   "[daemon]\n"
			   "socket = /run/xct/xctd.sock\n"
			   "metrics-listen = [::1]:9467\n"
			   "ipfix-collector = 127.0.0.1:4739\n"
			   "ipfix-domain = 4294967295\n"
			   "flow-log = journal\n"
			   "flow-log-max-size = 64K\n"
			   "rule-log = off\n"
			   "[sync]\n"
			   "peer = 10.0.9.2:3780\n"
			   "listen = [fd00::1]:3781\n"
			   "mode = ftfw\n"
			   "ignore-address = 10.0.9.1,fd00::9 ,  127.0.0.1\n"
			   "state-accept = ESTABLISHED, closed,TIME_WAIT , CLOSE_WAIT\n"
			   "commit-on-receive = yes\n";

TEST(config_full_file_key_by_key)
{
	static struct xct_config c;
	char err[256] = "";

	CHECK_EQ(parse(full, &c, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.path, "t.conf");
	CHECK_STR(c.pin_path, "/sys/fs/bpf/fw");
	CHECK_STR(c.rules, "/etc/xct/fw.xct");
	CHECK_EQ(c.table_size, 1048576);
	CHECK_EQ(c.events_ring_size, 8 << 20);
	CHECK_EQ(c.n_ifaces, 3);
	CHECK_STR(c.ifaces[0].name, "eth0");
	CHECK_EQ(c.ifaces[0].mode, XCT_MODE_NATIVE);
	CHECK_EQ(c.ifaces[0].line, 7);
	CHECK_STR(c.ifaces[1].name, "eth1");
	CHECK_EQ(c.ifaces[1].mode, XCT_MODE_TC);
	/* '#' inside a word is not a comment; no mode means native. */
	CHECK_STR(c.ifaces[2].name, "wan#1");
	CHECK_EQ(c.ifaces[2].mode, XCT_MODE_NATIVE);
	CHECK_EQ(c.tunables[XCT_TUNABLE_TCP_ESTABLISHED], 3600);
	CHECK_EQ(c.tunables[XCT_TUNABLE_UDP], 0);
	CHECK_EQ(c.tunables[XCT_TUNABLE_TCP_BE_LIBERAL], 1);
	CHECK_EQ(c.tunables_set, (1U << XCT_TUNABLE_TCP_ESTABLISHED) | (1U << XCT_TUNABLE_UDP) |
					 (1U << XCT_TUNABLE_TCP_BE_LIBERAL));
	/* Keys not given keep the kernel's defaults. */
	CHECK_EQ(c.tunables[XCT_TUNABLE_TCP_SYN_SENT], 120);
	CHECK_EQ(c.tunables[XCT_TUNABLE_TCP_LOOSE], 1);
	CHECK_STR(c.daemon.socket, "/run/xct/xctd.sock");
	CHECK_STR(c.daemon.metrics_listen, "[::1]:9467");
	CHECK_STR(c.daemon.ipfix_collector, "127.0.0.1:4739");
	CHECK_EQ(c.daemon.ipfix_domain, 4294967295U);
	CHECK_STR(c.daemon.flow_log, "journal");
	CHECK_EQ(c.daemon.flow_log_max_size, 65536);
	CHECK_EQ(c.daemon.rule_log, 0);
	CHECK_STR(c.sync.peer, "10.0.9.2:3780");
	CHECK_STR(c.sync.listen, "[fd00::1]:3781");
	CHECK_EQ(c.sync.mode, XCT_CONFIG_SYNC_MODE_FTFW);
	CHECK_EQ(c.sync.n_ignore, 3);
	CHECK_STR(c.sync.ignore[0], "10.0.9.1");
	CHECK_STR(c.sync.ignore[1], "fd00::9");
	CHECK_STR(c.sync.ignore[2], "127.0.0.1");
	CHECK_EQ(c.sync.state_accept, (1U << XCT_TCP_ESTABLISHED) | (1U << XCT_TCP_CLOSE) |
					      (1U << XCT_TCP_TIME_WAIT) |
					      (1U << XCT_TCP_CLOSE_WAIT));
}

TEST(config_empty_file_is_defaults)
{
	static struct xct_config c;
	char err[256];

	CHECK_EQ(parse("# nothing\n\n   \n", &c, err, sizeof(err)), 0);
	CHECK_STR(c.rules, XCT_CONFIG_RULES_DEFAULT);
	CHECK_STR(c.pin_path, "");
	CHECK_EQ(c.n_ifaces, 0);
	CHECK_EQ(c.table_size, 0);
	CHECK_EQ(c.events_ring_size, 0);
	CHECK_EQ(c.tunables[XCT_TUNABLE_TCP_ESTABLISHED], 432000);
	CHECK_EQ(c.tunables[XCT_TUNABLE_GENERIC], 600);
	CHECK_STR(c.daemon.socket, "");
	CHECK_STR(c.sync.peer, "");
	CHECK_EQ(c.daemon.rule_log, -1); /* unset: xctd's default, journal */
	CHECK_STR(c.sync.listen, "");
	CHECK_EQ(c.sync.mode, XCT_CONFIG_SYNC_MODE_UNSET);
	CHECK_EQ(c.sync.n_ignore, 0);
	CHECK_EQ(c.sync.state_accept, 0);
	CHECK_EQ(c.sync.commit_on_receive, 0);
}

TEST(config_errors_with_line_and_column)
{
	CHECK_CERR("[interface eth0]\nmode = fast\n",
		   "t.conf:2:8: 'fast' is not native, generic or tc");
	CHECK_CERR("table-size = 0\n", "t.conf:1:14: 0 is out of range (1 to 67108864)");
	CHECK_CERR("table-size = 12x\n", "t.conf:1:16: '12x' is not a number");
	CHECK_CERR("events-ring-size = 12288\n", "t.conf:1:20: '12288' is not a power of 2");
	CHECK_CERR("events-ring-size = 1K\n",
		   "t.conf:1:20: '1K' is not a size from 4096 to 1073741824 bytes");
	CHECK_CERR("colour = blue\n", "t.conf:1:1: unknown key 'colour' (pin-path, rules, "
				      "table-size, events-ring-size, state-file, or a [section])");
	CHECK_CERR("[interface eth0]\nrules = /x\n",
		   "t.conf:2:1: unknown key 'rules' in [interface] (mode)");
	CHECK_CERR("rules = x.xct\n", "t.conf:1:9: 'x.xct' is not an absolute path");
	CHECK_CERR("rules = /a\nrules = /b\n", "t.conf:2:1: 'rules' given twice");
	CHECK_CERR("state-file = var/lib/xct\n",
		   "t.conf:1:14: 'var/lib/xct' is not an absolute path");
	CHECK_CERR("rules /a\n", "t.conf:1:7: '=' expected after 'rules'");
	CHECK_CERR("rules =   \n", "t.conf:1:8: 'rules' needs a value");
	CHECK_CERR("= 3\n", "t.conf:1:1: a key expected, or [section]");
	CHECK_CERR("[interface eth0\n", "t.conf:1:16: ']' expected");
	CHECK_CERR("[interface]\n", "t.conf:1:2: [interface NAME]: which interface?");
	CHECK_CERR("[interface eth0]\n[interface eth1]\n\n[interface eth0]\n",
		   "t.conf:4:12: [interface eth0] given twice (first on line 1)");
	CHECK_CERR(
		"[interface averyveryverylongname]\n",
		"t.conf:1:12: 'averyveryverylongname' is longer than an interface name can be (15)");
	CHECK_CERR("[interface a/b]\n", "t.conf:1:13: 'a/b' is not an interface name");
	CHECK_CERR(
		"[timeout]\n",
		"t.conf:1:2: unknown section 'timeout' (interface NAME, timeouts, daemon, sync)");
	CHECK_CERR("[daemon x]\n", "t.conf:1:9: [daemon] takes no name");
	CHECK_CERR("[daemon] x\n", "t.conf:1:9: unexpected ' x' after the section name");
	CHECK_CERR("[timeouts]\nnf_conntrack_tcp_timeout_establish = 5\n",
		   "t.conf:2:1: unknown timeout 'nf_conntrack_tcp_timeout_establish' (the names of "
		   "nf_conntrack's sysctls, e.g. nf_conntrack_tcp_timeout_established)");
	CHECK_CERR("[timeouts]\nnf_conntrack_tcp_loose = 2\n",
		   "t.conf:2:26: 2 is out of range (0 to 1)");
	CHECK_CERR("[timeouts]\nnf_conntrack_udp_timeout = 5\nnf_conntrack_udp_timeout = 6\n",
		   "t.conf:3:1: 'nf_conntrack_udp_timeout' given twice");
	CHECK_CERR("[timeouts]\nnf_conntrack_udp_timeout = -1\n",
		   "t.conf:2:28: '-1' is not a number");
	CHECK_CERR("[daemon]\nmetrics-listen = 127.0.0.1\n",
		   "t.conf:2:18: '127.0.0.1' is not ADDR:PORT ([IPv6]:PORT for IPv6)");
	CHECK_CERR("[daemon]\nmetrics-listen = 127.0.0.300:80\n",
		   "t.conf:2:18: '127.0.0.300' is not an IPv4 address");
	CHECK_CERR("[daemon]\nipfix-collector = [::1]:0\n",
		   "t.conf:2:25: '0' is not a port from 1 to 65535");
	CHECK_CERR("[daemon]\nmetrics-listen = ::1:9100\n",
		   "t.conf:2:18: '::1:9100' is not ADDR:PORT ([IPv6]:PORT for IPv6)");
	CHECK_CERR("[daemon]\nflow-log = flows.log\n",
		   "t.conf:2:12: 'flows.log' is neither 'journal' nor an absolute path");
	CHECK_CERR("[daemon]\nflow-log-max-size = 1\n",
		   "t.conf:2:21: '1' is not a size from 4096 to 1099511627776 bytes");
	CHECK_CERR("[daemon]\nmode = tc\n",
		   "t.conf:2:1: unknown key 'mode' in [daemon] (socket, metrics-listen, "
		   "ipfix-collector, ipfix-domain, flow-log, flow-log-max-size, rule-log)");
	CHECK_CERR("[daemon]\nrule-log = file\n",
		   "t.conf:2:12: 'file' is neither 'journal' nor 'off'");
	CHECK_CERR("[sync]\npeer = 10.0.9.2\n",
		   "t.conf:2:8: '10.0.9.2' is not ADDR:PORT ([IPv6]:PORT for IPv6)");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\n  listen = 10.0.9.1:70000\n",
		   "t.conf:3:21: '70000' is not a port from 1 to 65535");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\npeer = 10.0.9.3:3780\n",
		   "t.conf:3:1: 'peer' given twice");
	CHECK_CERR("[sync]\nsync-peer = 10.0.9.2:3780\n",
		   "t.conf:2:1: unknown key 'sync-peer' in [sync] (peer, listen, transport, "
		   "multicast, interface, mode, ignore-address, state-accept, "
		   "commit-on-receive)");
	/* A multicast group is a peer for the keys that need one. */
	CHECK_CERR("[sync]\nmode = ftfw\nmulticast = 225.0.0.50:3780\n",
		   "t.conf:3:1: 'multicast' in [sync] needs an 'interface'");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\ncommit-on-receive = on\n",
		   "t.conf:3:21: 'on' is not yes or no");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nmode = alarm\n",
		   "t.conf:3:8: 'alarm' is not notrack or ftfw");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nignore-address = 10.0.9.1, 10.0.9\n",
		   "t.conf:3:28: '10.0.9' is not an address");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nignore-address = 10.0.9.1 10.0.9.3\n",
		   "t.conf:3:27: ',' expected between addresses");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nignore-address = 10.0.9.1,\n",
		   "t.conf:3:27: an address expected");
	CHECK_CERR("[sync]\nmode = ftfw\n", "t.conf:2:1: 'mode' in [sync] needs a 'peer'");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nstate-accept = ESTABLISHED, LISTEN\n",
		   "t.conf:3:29: 'LISTEN' is not a TCP state (SYN_SENT, SYN_RECV, ESTABLISHED, "
		   "FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE or CLOSED, SYN_SENT2, NONE)");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nstate-accept = ESTABLISHED TIME_WAIT\n",
		   "t.conf:3:28: ',' expected between TCP states");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nstate-accept = ESTABLISHED,\n",
		   "t.conf:3:28: a TCP state expected");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\n[daemon]\n[sync]\n",
		   "t.conf:4:2: [sync] given twice (first on line 1)");
	/* The peer's address is what starts the sync; reported where listen is. */
	CHECK_CERR("[sync]\n\tlisten = 10.0.9.1:3780\n[daemon]\n",
		   "t.conf:2:2: 'listen' in [sync] needs a 'peer'");
	/* A good first part is not kept either. */
	CHECK_CERR("table-size = 5\n[interface eth0]\n[timeouts]\nnf_conntrack_udp_timeout = 1\n"
		   "[bogus]\n",
		   "t.conf:5:2: unknown section 'bogus' (interface NAME, timeouts, daemon, sync)");
}

TEST(config_sync_transports)
{
	static struct xct_config c;
	char err[256] = "";

	CHECK_EQ(parse("[sync]\ntransport = tcp\npeer = 10.0.9.2:3780\nlisten = 10.0.9.1:3780\n"
		       "interface = sync0\n",
		       &c, err, sizeof(err)),
		 0);
	CHECK_STR(err, "");
	CHECK_STR(c.sync.transport, "tcp");
	CHECK_STR(c.sync.interface, "sync0");
	CHECK_STR(c.sync.multicast, "");
	CHECK_EQ(parse("[sync]\nmulticast = [ff02::3780]:3780\ninterface = sync0\n", &c, err,
		       sizeof(err)),
		 0);
	CHECK_STR(c.sync.multicast, "[ff02::3780]:3780");
	CHECK_STR(c.sync.transport, "");
	CHECK_EQ(parse("[sync]\ntransport = multicast\nmulticast = 225.0.0.50:3780\n"
		       "interface = sync0\n",
		       &c, err, sizeof(err)),
		 0);
	CHECK_STR(c.sync.multicast, "225.0.0.50:3780");
}

TEST(config_sync_transport_errors)
{
	CHECK_CERR("[sync]\ntransport = sctp\n",
		   "t.conf:2:13: 'sctp' is not udp, tcp or multicast");
	CHECK_CERR("[sync]\nmulticast = 10.0.9.2:3780\ninterface = sync0\n",
		   "t.conf:2:13: '10.0.9.2:3780' is not a multicast group");
	CHECK_CERR("[sync]\nmulticast = [fd00::1]:3780\ninterface = sync0\n",
		   "t.conf:2:13: '[fd00::1]:3780' is not a multicast group");
	CHECK_CERR("[sync]\nmulticast = 225.0.0.50\n",
		   "t.conf:2:13: '225.0.0.50' is not ADDR:PORT ([IPv6]:PORT for IPv6)");
	CHECK_CERR("[sync]\n  multicast = 225.0.0.50:3780\n",
		   "t.conf:2:3: 'multicast' in [sync] needs an 'interface'");
	CHECK_CERR("[sync]\npeer = 10.0.9.2:3780\nmulticast = 225.0.0.50:3780\ninterface = sync0\n",
		   "t.conf:3:1: 'multicast' in [sync] and 'peer': one or the other");
	CHECK_CERR("[sync]\ntransport = tcp\nmulticast = 225.0.0.50:3780\ninterface = sync0\n",
		   "t.conf:3:1: 'multicast' in [sync] is for transport = multicast");
	CHECK_CERR("[sync]\ninterface = sync0\n\ttransport = multicast\n",
		   "t.conf:3:2: transport = multicast needs 'multicast = GROUP:PORT'");
	CHECK_CERR("[sync]\ninterface = a/b\n", "t.conf:2:13: 'a/b' is not an interface name");
	CHECK_CERR("[sync]\n transport = tcp\n",
		   "t.conf:2:2: 'transport' in [sync] needs a 'peer'");
	CHECK_CERR("[sync]\ninterface = sync0\n",
		   "t.conf:2:1: 'interface' in [sync] needs a 'peer' or 'multicast'");
	CHECK_CERR("[sync]\ninterface = abcdefghijklmnopq\n",
		   "t.conf:2:13: 'abcdefghijklmnopq' is longer than an interface name can be (15)");
	CHECK_CERR("[sync]\ntransport = tcp\ntransport = udp\n",
		   "t.conf:3:1: 'transport' given twice");
}

TEST(config_load_file_and_unreadable)
{
	static struct xct_config c;
	char path[] = "/tmp/xct-conf-test.XXXXXX", err[512];
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "[interface lo]\nmode = generic\n", 30), 30);
	close(fd);
	CHECK_EQ(xct_config_load(path, &c, err, sizeof(err)), 0);
	CHECK_EQ(c.n_ifaces, 1);
	CHECK_EQ(c.ifaces[0].mode, XCT_MODE_GENERIC);
	CHECK_STR(c.path, path);
	unlink(path);
	CHECK_EQ(xct_config_load(path, &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot read /tmp/xct-conf-test.") && strstr(err, "No such file"));
	/* Read up to a limit, never to the end of an endless file. */
	CHECK_EQ(xct_config_load("/dev/zero", &c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "/dev/zero: larger than 1048576 bytes: not a configuration file");
	CHECK_EQ(xct_config_parse("t.conf", "rules = /a\0b\n", 13, &c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "t.conf: a NUL byte: not a text file");
}
