// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the owner logic the cgroup and sockops programs share with
 * userspace (include/xct/owner.h): the key a socket's connection is filed
 * under is the table's key for it, from either end; owner rules match by
 * uid, gid, cgroup, destination and port, negated or not.
 */
#include <arpa/inet.h>

#include "addr.h"
#include "check.h"
#include "xct/owner.h"

/* xct_owner_key() from the socket's end gives the key xct_key_from_tuple()
 * gives the connection's packets, in both directions. */
static void check_owner_key(__u8 family, __u8 proto, union xct_addr l, __u16 lport,
			    union xct_addr r, __u16 rport)
{
	struct xct_ct_key owner, out, in;
	struct xct_tuple t;
	__u8 side;

	xct_owner_key(family, proto, &l, htons(lport), &r, htons(rport), &owner);
	memset(&t, 0, sizeof(t));
	t.family = family;
	t.proto = proto;
	t.src = l;
	t.dst = r;
	t.sport = htons(lport);
	t.dport = htons(rport);
	CHECK_EQ(xct_key_from_tuple(&t, &out, &side), 0);
	t.src = r;
	t.dst = l;
	t.sport = htons(rport);
	t.dport = htons(lport);
	CHECK_EQ(xct_key_from_tuple(&t, &in, &side), 0);
	CHECK(memcmp(&owner, &out, sizeof(owner)) == 0);
	CHECK(memcmp(&owner, &in, sizeof(owner)) == 0);
}

TEST(owner_key_is_the_table_key)
{
	check_owner_key(XCT_AF_INET, XCT_IPPROTO_TCP, v4("10.0.0.2"), 40000, v4("10.0.0.1"), 80);
	check_owner_key(XCT_AF_INET, XCT_IPPROTO_TCP, v4("10.0.0.1"), 40000, v4("10.0.0.2"), 80);
	check_owner_key(XCT_AF_INET, XCT_IPPROTO_UDP, v4("1.0.0.2"), 9, v4("2.0.0.1"), 8);
	check_owner_key(XCT_AF_INET6, XCT_IPPROTO_TCP, v6("2001:db8::1:0"), 5000,
			v6("2001:db8::ffff"), 22);
	check_owner_key(XCT_AF_INET6, XCT_IPPROTO_UDP, v6("fd00::2"), 53, v6("fd00::1"), 5353);
}

TEST(owner_key_same_address_orders_by_port)
{
	/* Loopback: both ends have one address; the ports decide. */
	check_owner_key(XCT_AF_INET, XCT_IPPROTO_TCP, v4("127.0.0.1"), 40000, v4("127.0.0.1"), 80);
	check_owner_key(XCT_AF_INET, XCT_IPPROTO_TCP, v4("127.0.0.1"), 80, v4("127.0.0.1"), 40000);
	check_owner_key(XCT_AF_INET, XCT_IPPROTO_UDP, v4("127.0.0.1"), 7, v4("127.0.0.1"), 7);
}

static struct xct_owner_attempt attempt(__u32 uid, __u32 gid, const char *dst, __u16 dport)
{
	struct xct_owner_attempt a;

	memset(&a, 0, sizeof(a));
	a.family = XCT_AF_INET;
	a.proto = XCT_IPPROTO_TCP;
	a.daddr = v4(dst);
	a.uid = uid;
	a.gid = gid;
	a.dport = dport;
	return a;
}

TEST(owner_rule_uid_range_and_negation)
{
	struct xct_owner_rule r;
	struct xct_owner_attempt a = attempt(1000, 100, "10.0.0.1", 80);

	memset(&r, 0, sizeof(r));
	r.match = XCT_OM_UID;
	r.uid_lo = 1000;
	r.uid_hi = 1999;
	CHECK(xct_owner_rule_match(&r, &a, 0));
	a.uid = 2000;
	CHECK(!xct_owner_rule_match(&r, &a, 0));
	r.match |= XCT_OM_UID_NEG;
	CHECK(xct_owner_rule_match(&r, &a, 0));
	a.uid = 1500;
	CHECK(!xct_owner_rule_match(&r, &a, 0));
}

TEST(owner_rule_cgroup_and_destination)
{
	struct xct_owner_rule r;
	struct xct_owner_attempt a = attempt(0, 0, "10.1.2.3", 443);

	memset(&r, 0, sizeof(r));
	r.match = XCT_OM_CGROUP | XCT_OM_DADDR | XCT_OM_DPORT;
	r.cgroup_id = 4242;
	r.family = XCT_AF_INET;
	r.daddr = v4("10.1.0.0");
	r.dprefix = 16;
	r.dport_lo = 443;
	r.dport_hi = 443;
	CHECK(xct_owner_rule_match(&r, &a, 4242));
	CHECK(!xct_owner_rule_match(&r, &a, 4243));
	a.daddr = v4("10.2.2.3");
	CHECK(!xct_owner_rule_match(&r, &a, 4242));
	a.daddr = v4("10.1.200.1");
	a.dport = 80;
	CHECK(!xct_owner_rule_match(&r, &a, 4242));
	r.match |= XCT_OM_CG_NEG;
	a.dport = 443;
	CHECK(xct_owner_rule_match(&r, &a, 1));
}
