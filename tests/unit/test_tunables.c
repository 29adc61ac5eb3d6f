// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the tunables' accessor (include/xct/timeouts.h) over the
 * plain struct that stands for the datapath's map in userspace: the
 * defaults until written, then the written values, in the trackers'
 * timeouts and switches.
 */
#include <string.h>

#include "check.h"
#include "config.h"
#include "xct/ct.h"

static void reset(void)
{
	memset(&xct_tunables_user, 0, sizeof(xct_tunables_user));
}

TEST(tunables_defaults_until_written)
{
	int i;

	reset();
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_ESTABLISHED), 432000);
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_SYN_SENT), 120);
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_CLOSE), 10);
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_SYN_SENT2), 120);
	CHECK_EQ(XCT_UDP_TIMEOUT_UNREPLIED, 30);
	CHECK_EQ(XCT_UDP_TIMEOUT_REPLIED, 120);
	CHECK_EQ(XCT_GENERIC_TIMEOUT, 600);
	CHECK_EQ(XCT_TCP_MAX_RETRANS, 3);
	CHECK_EQ(xct_tunable(XCT_TUNABLE_TCP_LOOSE), 1);
	CHECK_EQ(xct_tunable(XCT_TUNABLE_TCP_BE_LIBERAL), 0);
	/* The table and the accessor's defaults are one. */
	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		CHECK_EQ(xct_tunable((enum xct_tunable)i), xct_tunable_info[i].def);
	CHECK_EQ(xct_tunable_by_name("nf_conntrack_icmpv6_timeout"), XCT_TUNABLE_ICMPV6);
	CHECK_EQ(xct_tunable_by_name("net.netfilter.nf_conntrack_icmpv6_timeout"), -1);
}

TEST(tunables_written_values_in_force)
{
	int i;

	reset();
	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		xct_tunables_user.v[i] = xct_tunable_info[i].def;
	xct_tunables_user.v[XCT_TUNABLE_TCP_ESTABLISHED] = 7;
	xct_tunables_user.v[XCT_TUNABLE_UDP] = 0;
	xct_tunables_user.v[XCT_TUNABLE_TCP_BE_LIBERAL] = 1;
	/* Not in force before the write is complete. */
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_ESTABLISHED), 432000);
	xct_tunables_user.written = XCT_TUNABLES_WRITTEN;
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_ESTABLISHED), 7);
	CHECK_EQ(XCT_UDP_TIMEOUT_UNREPLIED, 0);
	CHECK_EQ(xct_tcp_timeout(XCT_TCP_TIME_WAIT), 120);
	CHECK_EQ(xct_tunable(XCT_TUNABLE_TCP_BE_LIBERAL), 1);
	reset();
}

TEST(tunables_tcp_loose_off_refuses_a_pickup)
{
	struct xct_ct_entry ct;
	struct xct_tcp_info ack = {.flags = XCT_TCPF_ACK, .seq = 1000, .window = 100};
	struct xct_tcp_info syn = {.flags = XCT_TCPF_SYN, .seq = 1000, .window = 100};
	int i;

	reset();
	memset(&ct, 0, sizeof(ct));
	CHECK_EQ(xct_tcp_new(&ct, &ack), XCT_R_OK);
	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		xct_tunables_user.v[i] = xct_tunable_info[i].def;
	xct_tunables_user.v[XCT_TUNABLE_TCP_LOOSE] = 0;
	xct_tunables_user.written = XCT_TUNABLES_WRITTEN;
	CHECK_EQ(xct_tcp_new(&ct, &ack), XCT_R_TCP_INVALID_NEW);
	CHECK_EQ(xct_tcp_new(&ct, &syn), XCT_R_OK);
	reset();
}
