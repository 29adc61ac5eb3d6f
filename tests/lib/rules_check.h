/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rules parser's checks the unit tests share: a text that must parse,
 * and one that must fail with a message at FILE:LINE:COLUMN, leaving an
 * empty ruleset.  FNAME names the text in messages.
 */
#ifndef XCT_TESTS_RULES_CHECK_H
#define XCT_TESTS_RULES_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "rules/ruleset.h"

static inline int rules_parse_text(const char *file, const char *text, struct xct_ruleset *rs,
				   struct xct_rules_error *err)
{
	memset(err, 0, sizeof(*err));
	return xct_rules_parse(file, text, strlen(text), rs, err);
}

static inline bool rules_ruleset_empty(const struct xct_ruleset *rs)
{
	static const struct xct_ruleset zero;

	return !memcmp(rs, &zero, sizeof(zero));
}

/* Parses text that must parse; a failure shows the parser's error and
 * leaves rs empty. */
#define RULES_OK(fname, text, rs)                                                                  \
	do {                                                                                       \
		struct xct_rules_error __e;                                                        \
		if (rules_parse_text((fname), (text), (rs), &__e)) {                               \
			CHECK_FAIL("parsing \"%s\" failed: %u:%u: %s", (text), __e.loc.line,       \
				   __e.loc.col, __e.msg);                                          \
			memset((rs), 0, sizeof(*(rs)));                                            \
		}                                                                                  \
	} while (0)

/* Parses text that must fail with msg at line:col of fname, leaving
 * nothing. */
#define RULES_ERR(fname, text, l, c, m)                                                            \
	do {                                                                                       \
		struct xct_ruleset __rs;                                                           \
		struct xct_rules_error __e;                                                        \
		int __r = rules_parse_text((fname), (text), &__rs, &__e);                          \
		CHECK_EQ(__r, -EINVAL);                                                            \
		CHECK_STR(__e.file, (fname));                                                      \
		CHECK_EQ(__e.loc.line, (l));                                                       \
		CHECK_EQ(__e.loc.col, (c));                                                        \
		CHECK_STR(__e.msg, (m));                                                           \
		CHECK(rules_ruleset_empty(&__rs));                                                 \
		if (!__r)                                                                          \
			xct_ruleset_free(&__rs);                                                   \
	} while (0)

#endif /* XCT_TESTS_RULES_CHECK_H */
