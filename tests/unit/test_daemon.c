// SPDX-License-Identifier: GPL-2.0-only
/*
 * xctd's small parsers: the --metrics-listen address, and the stream table
 * the readers and xctd agree on.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "daemon/daemon.h"
#include "daemon/rulelog.h"
#include "xct/abi.h"
#include "xct/parse.h"
#include "xct/policy.h"

TEST(daemon_listen_ipv4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	unsigned int len = 0;

	CHECK_EQ(xctd_parse_listen("127.0.0.1:9474", &ss, &len), 0);
	CHECK_EQ(ss.ss_family, AF_INET);
	CHECK_EQ(len, sizeof(*v4));
	CHECK_EQ(ntohs(v4->sin_port), 9474);
	CHECK_EQ(ntohl(v4->sin_addr.s_addr), 0x7f000001);
	CHECK_EQ(xctd_parse_listen("0.0.0.0:65535", &ss, &len), 0);
	CHECK_EQ(ntohs(v4->sin_port), 65535);
}

TEST(daemon_listen_ipv6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr lo = IN6ADDR_LOOPBACK_INIT;
	unsigned int len = 0;

	CHECK_EQ(xctd_parse_listen("[::1]:9474", &ss, &len), 0);
	CHECK_EQ(ss.ss_family, AF_INET6);
	CHECK_EQ(len, sizeof(*v6));
	CHECK_EQ(ntohs(v6->sin6_port), 9474);
	CHECK(!memcmp(&v6->sin6_addr, &lo, sizeof(lo)));
}

TEST(daemon_listen_bad)
{
	static const char *const bad[] = {
		"",
		"nowhere",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"1.2.3.4:70000",
		"1.2.3.4:-1",
		"1.2.3.4:80x",
		"::1:80",
		"[::1]80",
		"[1.2.3.4]:80",
		"[::1]:0",
		"localhost:9474",
		"[fe80::1%lo]:80",
		":9474",
	};
	struct sockaddr_storage ss;
	unsigned int len;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!xctd_parse_listen(bad[i], &ss, &len))
			CHECK_FAIL("'%s' accepted", bad[i]);
	}
}

/* Each stream names its ring, its subscription and its lost counter. */
TEST(daemon_stream_table)
{
	const struct xct_stream_info *ct = xct_stream_info(XCT_STREAM_CT_EVENTS);
	const struct xct_stream_info *ev = xct_stream_info(XCT_STREAM_EVENTS);
	const struct xct_stream_info *dr = xct_stream_info(XCT_STREAM_DROPS);

	CHECK(ct && ev && dr);
	if (!ct || !ev || !dr)
		return;
	CHECK_STR(ct->ring, "xct_ct_events");
	CHECK_EQ(ct->sub_kind, XCT_SUB_CT_EVENTS);
	CHECK_EQ(ct->lost_stat, XCT_S_CT_EVENTS_LOST);
	CHECK_STR(ev->ring, "xct_events");
	CHECK_EQ(ev->sub_kind, -1);
	CHECK_EQ(ev->lost_stat, XCT_S_EVENTS_LOST);
	CHECK_STR(dr->ring, "xct_drop_events");
	CHECK_EQ(dr->sub_kind, XCT_SUB_DROPS);
	CHECK_EQ(dr->lost_stat, XCT_S_DROP_EVENTS_LOST);
	CHECK(xct_stream_info(XCT_STREAM_KINDS) == NULL);
}

/* A rule's log line as nf_log writes nftables' (its prefix, then IN= at
 * once), with the fields xct's event carries. */
TEST(daemon_rulelog_format)
{
	struct xct_event ev;
	char buf[512];

	memset(&ev, 0, sizeof(ev));
	ev.type = XCT_EV_RULE_LOG;
	ev.family = XCT_AF_INET;
	ev.proto = XCT_IPPROTO_TCP;
	ev.hook = XCT_HOOK_INGRESS;
	inet_pton(AF_INET, "10.0.0.2", &ev.src);
	inet_pton(AF_INET, "10.0.0.1", &ev.dst);
	ev.sport = 40000;
	ev.dport = 22;
	ev.len = 60;
	xctd_rulelog_format(buf, sizeof(buf), "ssh in: ", "eth0", &ev);
	CHECK_STR(buf, "ssh in: IN=eth0 OUT= SRC=10.0.0.2 DST=10.0.0.1 LEN=60 PROTO=TCP SPT=40000 "
		       "DPT=22");

	ev.hook = XCT_HOOK_EGRESS;
	ev.family = XCT_AF_INET6;
	ev.proto = XCT_IPPROTO_ICMPV6;
	inet_pton(AF_INET6, "fd00::1", &ev.src);
	inet_pton(AF_INET6, "fd00::2", &ev.dst);
	ev.sport = 128 << 8;
	ev.len = 104;
	xctd_rulelog_format(buf, sizeof(buf), "", "eth1", &ev);
	CHECK_STR(buf, "IN= OUT=eth1 SRC=fd00::1 DST=fd00::2 LEN=104 PROTO=ICMPv6 TYPE=128 CODE=0");

	ev.proto = 132;
	xctd_rulelog_format(buf, sizeof(buf), "x ", "eth1", &ev);
	CHECK_STR(buf, "x IN= OUT=eth1 SRC=fd00::1 DST=fd00::2 LEN=104 PROTO=132");
}
