// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of ct mark, meta mark and ct status in the rules language:
 * the parser (src/rules/parse_ct.h) field by field and every error with
 * its line and column, the mark arithmetic the datapath runs
 * (include/xct/policy.h), and the records and META decisions the
 * compiler makes of such rules.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "rules/compile.h"
#include "rules/ruleset.h"
#include "rules_check.h"
#include "xct/policy.h"

#define M_FILE "m.rules"

#define MPARSE_OK(text, rs)	     RULES_OK(M_FILE, text, rs)
#define MCHECK_PERR(text, l, c, m) RULES_ERR(M_FILE, text, l, c, m)

TEST(rules_marks_match_parse)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	MPARSE_OK("accept ct mark 0x10\n"
		  "drop ct mark != 16\n"
		  "accept ct mark and 0xff == 0x10\n"
		  "accept ct mark & 0xff00 != 0x100\n"
		  "accept ct mark { 1, 2, 0x3 }\n"
		  "drop meta mark != { 4, 5 }\n"
		  "accept meta mark 4294967295\n",
		  &rs);
	CHECK_EQ(rs.n_rules, 7);
	if (rs.n_rules != 7)
		goto out;
	r = &rs.rules[0];
	CHECK(r->ct_mark.present && !r->meta_mark.present);
	CHECK_EQ(r->ct_mark.cmp.mask, 0xffffffffu);
	CHECK_EQ(r->ct_mark.cmp.n, 1);
	CHECK_EQ(r->ct_mark.cmp.val[0], 0x10);
	CHECK_EQ(r->ct_mark.cmp.negate, 0);
	r = &rs.rules[1];
	CHECK_EQ(r->ct_mark.cmp.negate, 1);
	CHECK_EQ(r->ct_mark.cmp.val[0], 16);
	r = &rs.rules[2];
	CHECK_EQ(r->ct_mark.cmp.mask, 0xff);
	CHECK_EQ(r->ct_mark.cmp.val[0], 0x10);
	r = &rs.rules[3];
	CHECK_EQ(r->ct_mark.cmp.mask, 0xff00);
	CHECK_EQ(r->ct_mark.cmp.negate, 1);
	CHECK_EQ(r->ct_mark.cmp.val[0], 0x100);
	r = &rs.rules[4];
	CHECK_EQ(r->ct_mark.cmp.n, 3);
	CHECK_EQ(r->ct_mark.cmp.val[2], 3);
	r = &rs.rules[5];
	CHECK(r->meta_mark.present && !r->ct_mark.present);
	CHECK_EQ(r->meta_mark.cmp.negate, 1);
	CHECK_EQ(r->meta_mark.cmp.n, 2);
	CHECK_EQ(r->meta_mark.cmp.val[1], 5);
	CHECK_EQ(rs.rules[6].meta_mark.cmp.val[0], 0xffffffffu);
out:
	xct_ruleset_free(&rs);
}

TEST(rules_marks_set_parse)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	MPARSE_OK("accept tcp dport 22 ct mark set 0x10\n"
		  "continue ct mark set ct mark and 0xff00 or 0x1\n"
		  "continue ct mark set ct mark | 0x4\n"
		  "accept ct mark set meta mark\n"
		  "accept meta mark set ct mark and 0xff\n"
		  "continue meta mark set 7 ct mark set 9\n"
		  "continue ct mark set ct mark xor 0x3\n",
		  &rs);
	CHECK_EQ(rs.n_rules, 7);
	if (rs.n_rules != 7)
		goto out;
	r = &rs.rules[0];
	CHECK_EQ(r->action, XCT_ACTION_ACCEPT);
	CHECK(r->ct_mark_set.present && !r->ct_mark_set.from_other);
	CHECK_EQ(r->ct_mark_set.op.mask, 0);
	CHECK_EQ(r->ct_mark_set.op.xor, 0x10);
	r = &rs.rules[1];
	CHECK_EQ(r->action, XCT_ACTION_CONTINUE);
	/* (m & 0xff00) | 1 */
	CHECK_EQ(r->ct_mark_set.op.mask, 0xff00);
	CHECK_EQ(r->ct_mark_set.op.xor, 0x1);
	r = &rs.rules[2];
	CHECK_EQ(r->ct_mark_set.op.mask, ~0x4u);
	CHECK_EQ(r->ct_mark_set.op.xor, 0x4);
	r = &rs.rules[3];
	CHECK(r->ct_mark_set.from_other);
	CHECK_EQ(r->ct_mark_set.op.mask, 0xffffffffu);
	r = &rs.rules[4];
	CHECK(r->meta_mark_set.present && r->meta_mark_set.from_other);
	CHECK_EQ(r->meta_mark_set.op.mask, 0xff);
	r = &rs.rules[5];
	CHECK(r->meta_mark_set.present && r->ct_mark_set.present);
	CHECK_EQ(r->meta_mark_set.op.xor, 7);
	CHECK_EQ(r->ct_mark_set.op.xor, 9);
	r = &rs.rules[6];
	CHECK_EQ(r->ct_mark_set.op.mask, 0xffffffffu);
	CHECK_EQ(r->ct_mark_set.op.xor, 3);
out:
	xct_ruleset_free(&rs);
}

TEST(rules_marks_status_parse)
{
	struct xct_ruleset rs;

	MPARSE_OK("accept ct status dnat\n"
		  "accept ct status snat,dnat\n"
		  "drop ct status != { assured, seen-reply }\n"
		  "accept ct status confirmed,expected\n",
		  &rs);
	CHECK_EQ(rs.n_rules, 4);
	if (rs.n_rules != 4)
		goto out;
	CHECK_EQ(rs.rules[0].ct_status, XCT_CTS_BIT_DNAT);
	CHECK(!rs.rules[0].ct_status_negate);
	CHECK_EQ(rs.rules[1].ct_status, XCT_CTS_BIT_SNAT | XCT_CTS_BIT_DNAT);
	CHECK_EQ(rs.rules[2].ct_status, XCT_CTS_BIT_ASSURED | XCT_CTS_BIT_SEEN_REPLY);
	CHECK(rs.rules[2].ct_status_negate);
	CHECK_EQ(rs.rules[3].ct_status, XCT_CTS_BIT_CONFIRMED | XCT_CTS_BIT_EXPECTED);
out:
	xct_ruleset_free(&rs);
}

TEST(rules_marks_errors)
{
	MCHECK_PERR("accept ct mark", 1, 15,
		    "expected a mark (a number such as 16 or 0x10) after 'mark', got end of file");
	MCHECK_PERR("accept ct mark 0x100000000", 1, 16,
		    "mark 0x100000000 is out of range (at most 0xffffffff)");
	MCHECK_PERR("accept ct mark 4294967296", 1, 16,
		    "mark 4294967296 is out of range (at most 0xffffffff)");
	MCHECK_PERR("accept ct mark 0xfg", 1, 16, "'0xfg' is not a number (0x takes hex digits)");
	MCHECK_PERR("accept ct mark and 0xff == 0x100", 1, 28,
		    "mark 0x100 has bits outside the mask 0xff: the match can never be true");
	MCHECK_PERR("accept ct mark 1 ct mark 2", 1, 18, "'ct mark' given twice");
	MCHECK_PERR("accept ct mark set 1 ct mark set 2", 1, 22, "'ct mark set' given twice");
	MCHECK_PERR("accept ct mark set", 1, 19,
		    "expected a mark (a number such as 16 or 0x10) after 'set', got end of file");
	MCHECK_PERR("accept ct mark set ct", 1, 22, "expected 'mark' after 'ct', got end of file");
	MCHECK_PERR("accept ct mark set ct mark or", 1, 30,
		    "expected a mark (a number such as 16 or 0x10) after 'or', got end of file");
	MCHECK_PERR("accept ct mark { 1, 2, 3, 4, 5, 6, 7, 8, 9 }", 1, 42,
		    "too many marks in a list (at most 8)");
	MCHECK_PERR("notrack ct mark 1", 1, 9,
		    "'ct mark' cannot be used with 'notrack' (notrack decides before a packet is "
		    "tracked)");
	MCHECK_PERR("notrack meta mark set 1", 1, 9,
		    "'meta mark set' cannot be used with 'notrack' (notrack decides before a "
		    "packet is tracked)");
	MCHECK_PERR(
		"accept ct status", 1, 17,
		"expected a status (expected, seen-reply, assured, confirmed, snat, dnat) after "
		"'status', got end of file");
	MCHECK_PERR("accept ct status dant", 1, 18,
		    "unknown ct status 'dant' (did you mean 'dnat'?)");
	MCHECK_PERR("accept ct status bogus", 1, 18,
		    "unknown ct status 'bogus' (expected, seen-reply, assured, confirmed, snat or "
		    "dnat)");
	MCHECK_PERR("accept ct status dnat ct status snat", 1, 23, "'ct status' given twice");
	MCHECK_PERR("accept mark 1", 1, 8,
		    "'mark' must follow 'ct' or 'meta' (ct mark 0x10, meta mark set 1)");
	MCHECK_PERR("continue tcp dport 22", 1, 1,
		    "a 'continue' rule needs a statement ('ct mark set', 'meta mark set' or "
		    "'log'), or it does nothing");
	MCHECK_PERR("snat to 10.0.0.1 meta mark 1", 1, 18,
		    "'meta mark' cannot be used with 'snat' (a NAT rule sees only a connection's "
		    "first packet, before the filter rules)");
	MCHECK_PERR("accept\naccept ct mark set 1 drop", 2, 22,
		    "a rule has one action, at its start: 'drop' after 'accept' (is a newline or "
		    "';' missing?)");
}

TEST(rules_marks_arith)
{
	struct xct_mark_op op = {.mask = 0xffffffff, .xor = 0};
	struct xct_mark_cmp c = {.mask = 0xff, .val = {0x10, 0x20}, .n = 2};
	__u32 x;

	/* ct mark set ct mark and 0xff00 or 0x1, as nft computes it */
	xct_mark_op_and(&op, 0xff00);
	xct_mark_op_or(&op, 0x1);
	for (x = 0; x < 0x20000; x += 0x3f1)
		CHECK_EQ(xct_mark_op_apply(&op, x), (x & 0xff00) | 0x1);
	/* ... | 0x4 ^ 0x5 & 0xf0f */
	op = (struct xct_mark_op){.mask = 0xffffffff};
	xct_mark_op_or(&op, 0x4);
	xct_mark_op_xor(&op, 0x5);
	xct_mark_op_and(&op, 0xf0f);
	for (x = 0; x < 0x20000; x += 0x3f1)
		CHECK_EQ(xct_mark_op_apply(&op, x), (((x | 0x4) ^ 0x5) & 0xf0f));
	/* a constant ignores the old mark */
	op = (struct xct_mark_op){.mask = 0, .xor = 0x42};
	CHECK_EQ(xct_mark_op_apply(&op, 0xdead), 0x42);

	CHECK(xct_mark_cmp_match(&c, 0x110));
	CHECK(xct_mark_cmp_match(&c, 0x20));
	CHECK(!xct_mark_cmp_match(&c, 0x30));
	c.negate = 1;
	CHECK(!xct_mark_cmp_match(&c, 0x110));
	CHECK(xct_mark_cmp_match(&c, 0x30));

	CHECK(xct_ct_status_match(XCT_CTS_BIT_DNAT | XCT_CTS_BIT_CONFIRMED, XCT_CTS_BIT_DNAT, 0));
	CHECK(!xct_ct_status_match(XCT_CTS_BIT_CONFIRMED, XCT_CTS_BIT_DNAT | XCT_CTS_BIT_SNAT, 0));
	CHECK(xct_ct_status_match(XCT_CTS_BIT_CONFIRMED, XCT_CTS_BIT_DNAT, 1));
	CHECK(!xct_ct_status_match(XCT_CTS_BIT_SNAT, XCT_CTS_BIT_DNAT | XCT_CTS_BIT_SNAT, 1));
}

static __u32 no_iface(const char *name, void *ctx)
{
	return 0;
}

TEST(rules_marks_compile)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct xct_rules_error err;
	const struct xct_rule_rec *rec;
	__u32 est, inv;

	MPARSE_OK("continue ct mark set ct mark or 0x4\n"
		  "accept ct state established ct mark and 0xf == 0x4\n"
		  "drop ct status != dnat meta mark 3\n"
		  "accept meta mark set ct mark\n",
		  &rs);
	if (rs.n_rules != 4)
		goto out_rs;
	if (xct_rules_compile(&rs, M_FILE, no_iface, NULL, &c, &err)) {
		CHECK_FAIL("compile: %s", err.msg);
		goto out_rs;
	}
	rec = &c.recs[0];
	CHECK_EQ(rec->action, XCT_VERDICT_CONTINUE);
	CHECK_EQ(rec->stmts, XCT_STMT_CT_MARK_SET);
	CHECK_EQ(rec->ct_mark_set.mask, ~0x4u);
	CHECK_EQ(rec->ct_mark_set.xor, 0x4);
	rec = &c.recs[1];
	CHECK_EQ(rec->flags & XCT_RULE_CONN_MATCHES, XCT_RULE_CT_MARK);
	CHECK_EQ(rec->ct_mark.mask, 0xf);
	CHECK_EQ(rec->ct_mark.val[0], 0x4);
	rec = &c.recs[2];
	CHECK_EQ(rec->flags & (XCT_RULE_CONN_MATCHES | XCT_RULE_CT_STATUS_NEG),
		 XCT_RULE_CT_STATUS | XCT_RULE_CT_STATUS_NEG | XCT_RULE_META_MARK);
	CHECK_EQ(rec->ct_status, XCT_CTS_BIT_DNAT);
	rec = &c.recs[3];
	CHECK_EQ(rec->stmts, XCT_STMT_META_MARK_SET | XCT_STMT_META_FROM_CT);

	/* A continue rule or a rule on marks never decides a META class by
	 * itself: established packets go on to rule 1, then to the walk. */
	est = c.meta[xct_meta_index(XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_ESTABLISHED, 6)];
	CHECK_EQ(c.classes[est].decided, 0);
	/* The ct status rule is out of an INVALID packet's class (it has no
	 * connection); the others without a ct state are in. */
	inv = c.meta[xct_meta_index(XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_INVALID, 6)];
	CHECK_EQ(c.classes[inv].n_chunks, 1);
	if (c.classes[inv].n_chunks == 1)
		CHECK_EQ(c.classes[inv].chunks[0].w[0], 0x9);
	xct_compiled_free(&c);
out_rs:
	xct_ruleset_free(&rs);
}
