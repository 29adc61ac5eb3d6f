// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the owner logic the cgroup and sockops programs share with
 * userspace (include/xct/owner.h): the key a socket's connection is filed
 * under is the table's key for it, from either end; owner rules match by
 * uid, gid, cgroup, destination and port, negated or not.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "check.h"
#include "rules/compile.h"
#include "rules/ruleset.h"
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

TEST(owner_rule_range_edges_and_negated_family)
{
	struct xct_owner_rule r;
	struct xct_owner_attempt a = attempt(0, 0, "10.0.0.1", 0);

	memset(&r, 0, sizeof(r));
	r.match = XCT_OM_UID | XCT_OM_GID | XCT_OM_DPORT;
	r.uid_lo = 0;
	r.uid_hi = 0;
	r.gid_lo = 0xfffffffe;
	r.gid_hi = 0xfffffffe;
	r.dport_lo = 0;
	r.dport_hi = 65535;
	CHECK(!xct_owner_rule_match(&r, &a, 0));
	a.gid = 0xfffffffe;
	CHECK(xct_owner_rule_match(&r, &a, 0));
	a.dport = 65535;
	CHECK(xct_owner_rule_match(&r, &a, 0));
	/* daddr != an IPv4 address: an IPv6 attempt is not "another IPv4
	 * address", it is outside the rule (nft's ip daddr != X). */
	memset(&r, 0, sizeof(r));
	r.match = XCT_OM_DADDR | XCT_OM_DADDR_NEG;
	r.family = XCT_AF_INET;
	r.daddr = v4("10.0.0.1");
	r.dprefix = 32;
	a = attempt(0, 0, "10.0.0.2", 80);
	CHECK(xct_owner_rule_match(&r, &a, 0));
	a.daddr = v4("10.0.0.1");
	CHECK(!xct_owner_rule_match(&r, &a, 0));
	a.family = XCT_AF_INET6;
	CHECK(!xct_owner_rule_match(&r, &a, 0));
}

/* A cgroup rule of a level deeper than the owner's cgroup: the datapath
 * passes 0 (bpf_get_current_ancestor_cgroup_id() has no ancestor there),
 * which no cgroup's id is. */
TEST(owner_rule_cgroup_level_deeper_than_owner)
{
	struct xct_owner_rule r;
	struct xct_owner_attempt a = attempt(0, 0, "10.0.0.1", 80);

	memset(&r, 0, sizeof(r));
	r.match = XCT_OM_CGROUP;
	r.cgroup_id = 77;
	r.cg_level = 3;
	CHECK(!xct_owner_rule_match(&r, &a, 0));
	r.match |= XCT_OM_CG_NEG;
	CHECK(xct_owner_rule_match(&r, &a, 0));
}

TEST(owner_verdict_errno_as_nft_output)
{
	CHECK_EQ(xct_owner_verdict_errno(XCT_OWNER_REJECT, XCT_IPPROTO_TCP), ECONNREFUSED);
	CHECK_EQ(xct_owner_verdict_errno(XCT_OWNER_REJECT, XCT_IPPROTO_UDP), EPERM);
	CHECK_EQ(xct_owner_verdict_errno(XCT_OWNER_DROP, XCT_IPPROTO_TCP), EPERM);
	CHECK_EQ(xct_owner_verdict_errno(XCT_OWNER_DROP, XCT_IPPROTO_UDP), EPERM);
	CHECK_EQ(xct_owner_verdict_errno(XCT_OWNER_ACCEPT, XCT_IPPROTO_TCP), 0);
	CHECK_EQ(xct_owner_verdict_errno(0, XCT_IPPROTO_TCP), 0);
}

TEST(owner_sweepable_released_after_grace_or_past_longest_timeout)
{
	struct xct_owner o;
	__u64 t0 = 1000ULL * 1000000000ULL, longest = 432000ULL * 1000000000ULL;

	memset(&o, 0, sizeof(o));
	o.time_ns = t0;
	CHECK(!xct_owner_sweepable(&o, t0, 1, longest));
	CHECK(!xct_owner_sweepable(&o, t0 + XCT_OWNER_SWEEP_GRACE_NS - 1, 1, longest));
	CHECK(xct_owner_sweepable(&o, t0 + XCT_OWNER_SWEEP_GRACE_NS, 1, longest));
	CHECK(!xct_owner_sweepable(&o, t0 + longest - 1, 0, longest));
	CHECK(xct_owner_sweepable(&o, t0 + longest, 0, longest));
	/* A clock before the record (a record of another CPU's later time). */
	CHECK(!xct_owner_sweepable(&o, t0 - 5, 1, longest));
}

static __u32 no_ifindex(const char *name, void *ctx)
{
	return 0;
}

/* The compiled owner rules of text, evaluated as owner.bpf.c walks them:
 * the first that matches decides; 0 when none does. */
static __u8 owner_decide(const char *text, __u32 uid, __u32 gid, __u16 dport)
{
	struct xct_owner_attempt a = attempt(uid, gid, "192.0.2.1", dport);
	struct xct_rules_error err;
	struct xct_ruleset rs;
	struct xct_compiled c;
	__u8 v = 0;
	__u32 i;

	if (xct_rules_parse("t", text, strlen(text), &rs, &err)) {
		CHECK_FAIL("%s: %s", text, err.msg);
		return 0xff;
	}
	if (xct_rules_compile(&rs, "t", no_ifindex, NULL, &c, &err)) {
		CHECK_FAIL("%s: %s", text, err.msg);
		xct_ruleset_free(&rs);
		return 0xff;
	}
	for (i = 0; i < c.n_owner && !v; i++)
		if (xct_owner_rule_match(&c.owner[i], &a, 0))
			v = c.owner[i].verdict;
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
	return v;
}

TEST(owner_compiled_lists_ranges_and_negated_lists)
{
	const char *neg = "drop meta skuid != { 1000, 1002-1004, 0 }";

	CHECK_EQ(owner_decide("reject meta skuid { 5, 1000-2000 }", 1000, 0, 80), XCT_OWNER_REJECT);
	CHECK_EQ(owner_decide("reject meta skuid { 5, 1000-2000 }", 2001, 0, 80), 0);
	CHECK_EQ(owner_decide("reject meta skuid { 5, 1000-2000 }", 5, 0, 80), XCT_OWNER_REJECT);
	/* A negated list: every id but those. */
	CHECK_EQ(owner_decide(neg, 0, 0, 80), 0);
	CHECK_EQ(owner_decide(neg, 1000, 0, 80), 0);
	CHECK_EQ(owner_decide(neg, 1001, 0, 80), XCT_OWNER_DROP);
	CHECK_EQ(owner_decide(neg, 1003, 0, 80), 0);
	CHECK_EQ(owner_decide(neg, 1005, 0, 80), XCT_OWNER_DROP);
	CHECK_EQ(owner_decide(neg, 0xfffffffe, 0, 80), XCT_OWNER_DROP);
	/* A negated list that leaves nothing out matches nothing. */
	CHECK_EQ(owner_decide("drop meta skuid != { 0-4294967294 }", 7, 0, 80), 0);
	/* uid x gid x dport, first match wins. */
	CHECK_EQ(owner_decide("accept meta skgid 10 dport { 80, 443 }\n"
			      "reject meta skuid 1000",
			      1000, 10, 443),
		 XCT_OWNER_ACCEPT);
	CHECK_EQ(owner_decide("accept meta skgid 10 dport { 80, 443 }\n"
			      "reject meta skuid 1000",
			      1000, 10, 22),
		 XCT_OWNER_REJECT);
	CHECK_EQ(owner_decide("drop meta skuid 1 dport != { 22, 80 }", 1, 0, 443), XCT_OWNER_DROP);
	CHECK_EQ(owner_decide("drop meta skuid 1 dport != { 22, 80 }", 1, 0, 80), 0);
}

TEST(owner_compiled_too_many_is_an_error)
{
	const char *text = "drop meta skuid { 1, 2, 3, 4, 5, 6, 7, 8 } "
			   "dport { 1, 2, 3, 4, 5, 6, 7, 8, 9 }";
	struct xct_rules_error err;
	struct xct_ruleset rs;
	struct xct_compiled c;

	CHECK_EQ(xct_rules_parse("t", text, strlen(text), &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, "t", no_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_EQ(err.loc.line, 1);
	CHECK_STR(err.msg, "too many owner rules: this one takes 72 (one for each combination of "
			   "its lists' elements), 64 are left of 64");
	xct_ruleset_free(&rs);
}
