// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the map-free policy logic in include/xct/policy.h that the
 * datapath runs: the branch-free lowest-set-bit, GCRA rate limits (also
 * after a long uptime), and port ranges split into prefixes.
 */
#include "check.h"
#include "xct/policy.h"

TEST(policy_ctz64_every_bit)
{
	__u32 i;

	for (i = 0; i < 64; i++) {
		CHECK_EQ(xct_ctz64(1ULL << i), i);
		CHECK_EQ(xct_ctz64(~0ULL << i), i);
		CHECK_EQ(xct_ctz64((1ULL << i) | (1ULL << 63)), i);
	}
}

/* `burst` packets back to back, then one per 1/rate. */
static void check_limit_at(__u64 t0)
{
	__u64 cost = xct_limit_cost(10, XCT_NSEC_PER_SEC), burst = 20 * cost, tat = 0, next;
	int i, passed = 0;

	for (i = 0; i < 25; i++) {
		next = xct_limit_next(tat, t0, cost, burst);
		if (next) {
			tat = next;
			passed++;
		}
	}
	CHECK_EQ(passed, 20);
	CHECK(!xct_limit_next(tat, t0 + XCT_NSEC_PER_SEC / 10 - 1, cost, burst));
	CHECK(xct_limit_next(tat, t0 + XCT_NSEC_PER_SEC / 10, cost, burst));
}

TEST(policy_limit_gcra)
{
	check_limit_at(5 * XCT_NSEC_PER_SEC);
}

TEST(policy_limit_after_years_of_uptime)
{
	/* 300 days and 30 years of uptime: the clock in 1/16 ns must not wrap. */
	check_limit_at(300ULL * 86400 * XCT_NSEC_PER_SEC);
	check_limit_at(30ULL * 365 * 86400 * XCT_NSEC_PER_SEC);
}

TEST(policy_limit_cost_never_zero)
{
	CHECK_EQ(xct_limit_cost(0, XCT_NSEC_PER_SEC), XCT_NSEC_PER_SEC << XCT_LIMIT_SHIFT);
	CHECK_EQ(xct_limit_cost(~0ULL, XCT_NSEC_PER_SEC), 1);
}

TEST(policy_range_prefix_len)
{
	CHECK_EQ(xct_range_prefix_len(80, 80, 16), 16);
	CHECK_EQ(xct_range_prefix_len(0, 65535, 16), 0);
	CHECK_EQ(xct_range_prefix_len(8000, 8099, 16), 10); /* 8000-8063 */
	CHECK_EQ(xct_range_prefix_len(8064, 8099, 16), 11); /* 8064-8095 */
	CHECK_EQ(xct_range_prefix_len(8096, 8099, 16), 14);
	CHECK_EQ(xct_range_prefix_len(1, 65535, 16), 16);
}
