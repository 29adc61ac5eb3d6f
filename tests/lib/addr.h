/* SPDX-License-Identifier: GPL-2.0-only */
/* Addresses from text, for tests: abort() on a typo rather than test zeros. */
#ifndef XCT_TEST_ADDR_H
#define XCT_TEST_ADDR_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "xct/abi.h"

static inline union xct_addr v4(const char *s)
{
	union xct_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.v4) != 1)
		abort();
	return a;
}

static inline union xct_addr v6(const char *s)
{
	union xct_addr a;

	if (inet_pton(AF_INET6, s, a.bytes) != 1)
		abort();
	return a;
}

#endif /* XCT_TEST_ADDR_H */
