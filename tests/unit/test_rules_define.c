// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the rules file's structure (src/rules/parse.c): variables
 * (define NAME = VALUE, $NAME), included files with errors reported at
 * their own FILE:LINE:COLUMN, include loops and wildcards, and comments
 * kept with a rule.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "rules/ruleset.h"
#include "xct/abi.h"

static int parse_str(const char *text, struct xct_ruleset *rs, struct xct_rules_error *err)
{
	return xct_rules_parse("d.rules", text, strlen(text), rs, err);
}

/* A directory of rules files for one test, removed by its cleanup. */
struct tdir {
	char path[64];
	char files[16][PATH_MAX];
	int n;
};

static void tdir_make(struct tdir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/xct-rules-inc.XXXXXX");
	d->n = 0;
	if (!mkdtemp(d->path))
		abort();
}

/* Writes NAME in the directory; returns its path. */
static const char *tdir_file(struct tdir *d, const char *name, const char *text)
{
	char *p;

	if (d->n >= 16)
		abort();
	p = d->files[d->n++];
	size_t dl = strlen(d->path), nl = strlen(name);
	FILE *f;

	if (dl + 1 + nl >= PATH_MAX)
		abort();
	memcpy(p, d->path, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return p;
}

static void tdir_remove(struct tdir *d)
{
	while (d->n > 0)
		unlink(d->files[--d->n]);
	rmdir(d->path);
}

TEST(rules_define_values)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;
	int r;

	r = parse_str("define lan = 10.0.0.0/8\n"
		      "define web = { 80,\n  443 }  # ports\n"
		      "define both = $lan\n"
		      "define act = accept tcp\n"
		      "accept saddr $lan tcp dport $web\n"
		      "drop daddr $both; $act dport 22\n",
		      &rs, &err);
	CHECK_EQ(r, 0);
	if (r) {
		fprintf(stderr, "  %u:%u: %s\n", err.loc.line, err.loc.col, err.msg);
		return;
	}
	CHECK_EQ(rs.n_rules, 3);
	CHECK_EQ(rs.rules[0].saddr.n, 1);
	CHECK_EQ(rs.rules[0].saddr.list[0].plen, 8);
	CHECK_EQ(rs.rules[0].dport.n, 2);
	CHECK_EQ(rs.rules[0].dport.list[1].lo, 443);
	/* The text shown reads back without the definitions. */
	CHECK_STR(rs.rules[0].text, "accept saddr 10.0.0.0/8 tcp dport { 80, 443 }");
	CHECK_STR(rs.rules[1].text, "drop daddr 10.0.0.0/8");
	CHECK_EQ(rs.rules[2].action, XCT_ACTION_ACCEPT);
	CHECK_EQ(rs.rules[2].dport.list[0].lo, 22);
	CHECK_STR(rs.rules[2].text, "accept tcp dport 22");
	/* An error in a value is reported where the variable is used. */
	r = parse_str("define p = 1-\naccept tcp dport $p\n", &rs, &err);
	CHECK_EQ(r, -EINVAL);
	CHECK_EQ(err.loc.line, 2);
	CHECK_EQ(err.loc.col, 18);
	CHECK_STR(err.msg, "invalid port range '1-'");
}

TEST(rules_define_errors)
{
	static const struct {
		const char *text;
		unsigned int line, col;
		const char *msg;
	} cases[] = {
		{"accept tcp dport $web", 1, 18, "undefined variable '$web'"},
		{"define webs = 80\naccept tcp dport $web", 2, 18,
		 "undefined variable '$web' (did you mean '$webs'?)"},
		{"define x = 1\ndefine x = 2", 2, 8,
		 "variable 'x' is already defined (at d.rules:1)"},
		{"define", 1, 7, "expected a variable name after 'define', got end of file"},
		{"define 9x = 1", 1, 8,
		 "invalid variable name '9x' (a letter or '_', then letters, digits, '_' or '-')"},
		{"define x 1", 1, 10, "expected '=' after 'define x', got '1'"},
		{"define x =\n", 1, 11, "expected a value after 'define x =', got end of line"},
		{"define x = { 1,\n 2\n", 1, 12, "unterminated '{' (opened at line 1)"},
		{"define x = $y", 1, 12, "undefined variable '$y'"},
		{"define x = 1 }", 1, 14, "unexpected '}' (no '{' is open)"},
	};
	struct xct_ruleset rs;
	struct xct_rules_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(parse_str(cases[i].text, &rs, &err), -EINVAL);
		CHECK_EQ(err.loc.line, cases[i].line);
		CHECK_EQ(err.loc.col, cases[i].col);
		CHECK_STR(err.msg, cases[i].msg);
		CHECK_EQ(rs.n_rules, 0);
	}
}

/* A definition made of others cannot grow without bound. */
TEST(rules_define_growth)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;
	char text[2048];
	size_t o;
	int i;

	o = (size_t)snprintf(text, sizeof(text), "define v0 = 1\n");
	for (i = 1; i <= 24; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "define v%d = $v%d $v%d\n", i,
				      i - 1, i - 1);
	CHECK_EQ(parse_str(text, &rs, &err), -EINVAL);
	CHECK_STR(err.msg, "the value of 'v20' is longer than 1024 KiB");
}

TEST(rules_comment)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;
	char longc[200];
	int r;

	r = parse_str("accept tcp dport 22 comment \"ssh # from the office\" # not this\n"
		      "drop comment \"\"\n",
		      &rs, &err);
	CHECK_EQ(r, 0);
	if (r)
		return;
	CHECK_STR(rs.rules[0].comment, "ssh # from the office");
	CHECK_STR(rs.rules[0].text, "accept tcp dport 22 comment \"ssh # from the office\"");
	CHECK_STR(rs.rules[1].comment, "");
	xct_ruleset_free(&rs);

	CHECK_EQ(parse_str("accept comment ssh", &rs, &err), -EINVAL);
	CHECK_STR(err.msg, "expected a string in double quotes after 'comment', got 'ssh'");
	CHECK_EQ(parse_str("accept comment \"a\" comment \"b\"", &rs, &err), -EINVAL);
	CHECK_EQ(err.loc.col, 20);
	CHECK_STR(err.msg, "'comment' given twice");
	memset(longc, 'c', 129);
	snprintf(longc + 129, sizeof(longc) - 129, "\"");
	{
		char text[256];

		snprintf(text, sizeof(text), "accept comment \"%s", longc);
		CHECK_EQ(parse_str(text, &rs, &err), -EINVAL);
		CHECK_STR(err.msg, "comment is 129 bytes long, at most 128 are kept");
	}
}

TEST(rules_include)
{
	struct tdir d;
	struct xct_ruleset rs;
	struct xct_rules_error err;
	const char *top;
	char want[PATH_MAX];
	int r;

	tdir_make(&d);
	tdir_file(&d, "defs.rules", "define ssh = 22\nset admins { 192.0.2.0/24 }\n");
	tdir_file(&d, "10-a.part", "accept tcp dport $ssh saddr @admins\n");
	tdir_file(&d, "20-b.part", "drop udp\n");
	top = tdir_file(&d, "top.rules",
			"include \"defs.rules\"\n"
			"include \"*.part\"\n"
			"include \"*.none\"   # no match is no error\n"
			"policy drop\n"
			"accept tcp dport $ssh\n");
	r = xct_rules_parse_file(top, &rs, &err);
	CHECK_EQ(r, 0);
	if (!r) {
		CHECK_EQ(rs.n_sets, 1);
		CHECK_EQ(rs.n_rules, 3);
		CHECK_STR(rs.rules[0].text, "accept tcp dport 22 saddr @admins");
		CHECK_STR(rs.rules[1].text, "drop udp");
		CHECK_EQ(rs.rules[2].loc.line, 5);
		CHECK_EQ(rs.policy, XCT_POLICY_DROP);
		xct_ruleset_free(&rs);
	} else {
		fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.loc.line, err.loc.col, err.msg);
	}

	/* An error inside an included file is the included file's. */
	tdir_file(&d, "bad.rules", "accept tcp dport 22\n\naccept tcp dport 70000\n");
	top = tdir_file(&d, "top2.rules", "include \"bad.rules\"\n");
	CHECK_EQ(xct_rules_parse_file(top, &rs, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s/bad.rules", d.path);
	CHECK_STR(err.file, want);
	CHECK_EQ(err.loc.line, 3);
	CHECK_EQ(err.loc.col, 18);
	CHECK_STR(err.line_text, "accept tcp dport 70000");
	CHECK_EQ(rs.n_rules, 0);

	/* A missing file is an error at the include. */
	top = tdir_file(&d, "top3.rules", "accept\n  include \"nope.rules\"\n");
	CHECK_EQ(xct_rules_parse_file(top, &rs, &err), -EINVAL);
	CHECK_STR(err.file, top);
	CHECK_EQ(err.loc.line, 2);
	CHECK_EQ(err.loc.col, 11);
	snprintf(want, sizeof(want), "cannot open '%s/nope.rules': No such file or directory",
		 d.path);
	CHECK_STR(err.msg, want);

	/* A loop, through another file. */
	tdir_file(&d, "loop-a.rules", "accept\ninclude \"loop-b.rules\"\n");
	top = tdir_file(&d, "loop-b.rules", "include \"loop-a.rules\"\n");
	CHECK_EQ(xct_rules_parse_file(top, &rs, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s/loop-a.rules", d.path);
	CHECK_STR(err.file, want);
	CHECK_EQ(err.loc.line, 2);
	snprintf(want, sizeof(want), "include loop: '%s/loop-b.rules' is being read already",
		 d.path);
	CHECK_STR(err.msg, want);

	CHECK_EQ(parse_str("include rules", &rs, &err), -EINVAL);
	CHECK_STR(err.msg, "expected a file name in double quotes after 'include', got 'rules'");
	CHECK_EQ(parse_str("include \"/tmp\"", &rs, &err), -EINVAL);
	CHECK_STR(err.msg, "cannot include '/tmp': it is a directory (include \"/tmp/*\")");
	tdir_remove(&d);
}
