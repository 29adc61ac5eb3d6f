// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the rules-file parser (src/rules/parse.c): the example
 * ruleset of the documentation field by field, every match and option,
 * comments, ';', lists across lines and CRLF files, every error message with
 * its line and column, the error printer's caret, files that cannot be
 * read, the element helpers of xct set add, and a set of 100,000 prefixes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "rules/ruleset.h"
#include "rules_check.h"
#include "xct/abi.h"

#define T_FILE "t.rules"

static int parse_text(const char *text, struct xct_ruleset *rs, struct xct_rules_error *err)
{
	return rules_parse_text(T_FILE, text, rs, err);
}

#define ruleset_empty rules_ruleset_empty
#define PARSE_OK(text, rs)	    RULES_OK(T_FILE, text, rs)
#define CHECK_PERR(text, l, c, m) RULES_ERR(T_FILE, text, l, c, m)

static const struct xct_rule zero_rule = {
	.saddr.set = -1, .daddr.set = -1, .sport.set = -1, .dport.set = -1};

/* Rule i of rs, or a rule that fails the checks when there is none. */
static const struct xct_rule *rule_at(const struct xct_ruleset *rs, size_t i)
{
	if (i >= rs->n_rules) {
		CHECK_FAIL("no rule %zu (%zu rules)", i, rs->n_rules);
		return &zero_rule;
	}
	return &rs->rules[i];
}

static bool prefix_is(const struct xct_prefix *p, const char *text)
{
	struct xct_prefix want;

	if (xct_parse_prefix(text, &want))
		abort(); /* a typo in the test */
	return p->family == want.family && p->plen == want.plen &&
	       !memcmp(p->addr, want.addr, sizeof(want.addr));
}

static bool range_is(const struct xct_port_range *r, unsigned int lo, unsigned int hi)
{
	return r->lo == lo && r->hi == hi;
}

#define ST(s) (1u << XCT_CTS_##s)

/* ---- The documented example ---- */

static const char example[] =
	"set blocklist { 203.0.113.0/24, 2001:db8:bad::/48 }\n"
	"set web_ports { 80, 443, 8000-8099 }\n"
	"policy drop                                # for new connections no rule accepts\n"
	"drop  saddr @blocklist                     # every packet, whatever its state\n"
	"accept ct state established,related\n"
	"drop  ct state invalid\n"
	"accept tcp dport @web_ports\n"
	"accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20\n"
	"accept udp dport 53\n"
	"accept icmp type echo-request\n"
	"reject tcp dport 25                        # TCP RST; ICMP port unreachable for UDP\n";

/* The parts of a rule the example leaves unset. */
static void check_plain(const struct xct_rule *r)
{
	CHECK_EQ(r->hook, XCT_HOOK_INGRESS);
	CHECK_EQ(r->n_ifaces, 0);
	CHECK(r->ifaces == NULL);
	CHECK(!r->iface_negate);
	CHECK(!r->has_tcp_flags);
	CHECK(!r->log);
	CHECK(!r->saddr.negate && !r->daddr.negate && !r->sport.negate && !r->dport.negate);
}

TEST(rules_parse_example)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;
	const struct xct_set_def *s;

	PARSE_OK(example, &rs);
	CHECK_EQ(rs.policy, XCT_POLICY_DROP);
	CHECK_EQ(rs.policy_loc.line, 3);
	CHECK_EQ(rs.policy_loc.col, 1);
	CHECK_EQ(rs.n_sets, 2);
	CHECK_EQ(rs.n_rules, 8);
	if (rs.n_sets != 2 || rs.n_rules != 8) {
		xct_ruleset_free(&rs);
		return;
	}

	s = &rs.sets[0];
	CHECK_STR(s->name, "blocklist");
	CHECK_EQ(s->kind, XCT_SET_ADDR);
	CHECK_EQ(s->loc.line, 1);
	CHECK_EQ(s->loc.col, 1);
	CHECK_EQ(s->n_prefixes, 2);
	CHECK_EQ(s->n_ports, 0);
	CHECK(s->n_prefixes == 2 && prefix_is(&s->prefixes[0], "203.0.113.0/24"));
	CHECK(s->n_prefixes == 2 && prefix_is(&s->prefixes[1], "2001:db8:bad::/48"));
	CHECK_EQ(s->prefixes[0].family, XCT_AF_INET);
	CHECK_EQ(s->prefixes[0].plen, 24);
	CHECK_EQ(s->prefixes[0].addr[0], 203);
	CHECK_EQ(s->prefixes[0].addr[2], 113);
	CHECK_EQ(s->prefixes[1].family, XCT_AF_INET6);
	CHECK_EQ(s->prefixes[1].plen, 48);
	CHECK_EQ(s->prefixes[1].addr[0], 0x20);
	CHECK_EQ(s->prefixes[1].addr[5], 0xad);

	s = &rs.sets[1];
	CHECK_STR(s->name, "web_ports");
	CHECK_EQ(s->kind, XCT_SET_PORT);
	CHECK_EQ(s->loc.line, 2);
	CHECK_EQ(s->n_ports, 3);
	CHECK_EQ(s->n_prefixes, 0);
	CHECK(s->n_ports == 3 && range_is(&s->ports[0], 80, 80));
	CHECK(s->n_ports == 3 && range_is(&s->ports[1], 443, 443));
	CHECK(s->n_ports == 3 && range_is(&s->ports[2], 8000, 8099));

	/* drop  saddr @blocklist */
	r = &rs.rules[0];
	check_plain(r);
	CHECK_EQ(r->loc.line, 4);
	CHECK_EQ(r->loc.col, 1);
	CHECK_STR(r->text, "drop  saddr @blocklist");
	CHECK_EQ(r->action, XCT_ACTION_DROP);
	CHECK_EQ(r->family, 0);
	CHECK(!r->has_proto);
	CHECK(r->saddr.present);
	CHECK_EQ(r->saddr.set, 0);
	CHECK_EQ(r->saddr.n, 0);
	CHECK(!r->daddr.present && !r->sport.present && !r->dport.present);
	CHECK_EQ(r->ct_states, 0);
	CHECK(!r->limit.present);
	CHECK_EQ(r->n_icmp, 0);

	/* accept ct state established,related */
	r = &rs.rules[1];
	check_plain(r);
	CHECK_EQ(r->loc.line, 5);
	CHECK_STR(r->text, "accept ct state established,related");
	CHECK_EQ(r->action, XCT_ACTION_ACCEPT);
	CHECK_EQ(r->ct_states, ST(ESTABLISHED) | ST(RELATED));
	CHECK_EQ(r->ct_states, 6);
	CHECK(!r->saddr.present && !r->has_proto);

	/* drop  ct state invalid */
	r = &rs.rules[2];
	check_plain(r);
	CHECK_EQ(r->loc.line, 6);
	CHECK_STR(r->text, "drop  ct state invalid");
	CHECK_EQ(r->action, XCT_ACTION_DROP);
	CHECK_EQ(r->ct_states, ST(INVALID));

	/* accept tcp dport @web_ports */
	r = &rs.rules[3];
	check_plain(r);
	CHECK_EQ(r->loc.line, 7);
	CHECK_STR(r->text, "accept tcp dport @web_ports");
	CHECK(r->has_proto);
	CHECK_EQ(r->proto, 6);
	CHECK(r->dport.present);
	CHECK_EQ(r->dport.set, 1);
	CHECK_EQ(r->dport.n, 0);
	CHECK(!r->sport.present);
	CHECK_EQ(r->ct_states, 0);

	/* accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20 */
	r = &rs.rules[4];
	check_plain(r);
	CHECK_EQ(r->loc.line, 8);
	CHECK_STR(r->text, "accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20");
	CHECK_EQ(r->proto, 6);
	CHECK_EQ(r->dport.set, -1);
	CHECK_EQ(r->dport.n, 1);
	CHECK(r->dport.n == 1 && range_is(&r->dport.list[0], 22, 22));
	CHECK_EQ(r->saddr.set, -1);
	CHECK_EQ(r->saddr.n, 1);
	CHECK(r->saddr.n == 1 && prefix_is(&r->saddr.list[0], "10.0.0.0/8"));
	CHECK_EQ(r->family, 0); /* an address does not restrict the family */
	CHECK(r->limit.present);
	CHECK_EQ(r->limit.rate, 10);
	CHECK_EQ(r->limit.unit_ns, 1000000000ULL);
	CHECK_EQ(r->limit.burst, 20);
	CHECK(!r->limit.bytes);
	CHECK(!r->limit.per_saddr);

	/* accept udp dport 53 */
	r = &rs.rules[5];
	check_plain(r);
	CHECK_STR(r->text, "accept udp dport 53");
	CHECK_EQ(r->proto, 17);
	CHECK(r->dport.n == 1 && range_is(&r->dport.list[0], 53, 53));

	/* accept icmp type echo-request */
	r = &rs.rules[6];
	check_plain(r);
	CHECK_STR(r->text, "accept icmp type echo-request");
	CHECK_EQ(r->family, XCT_AF_INET);
	CHECK(r->has_proto);
	CHECK_EQ(r->proto, 1);
	CHECK_EQ(r->n_icmp, 1);
	CHECK(r->n_icmp == 1 && r->icmp[0].type == 8 && r->icmp[0].code == -1);
	CHECK(!r->dport.present);

	/* reject tcp dport 25 */
	r = &rs.rules[7];
	check_plain(r);
	CHECK_EQ(r->loc.line, 11);
	CHECK_STR(r->text, "reject tcp dport 25");
	CHECK_EQ(r->action, XCT_ACTION_REJECT);
	CHECK_EQ(r->proto, 6);
	CHECK(r->dport.n == 1 && range_is(&r->dport.list[0], 25, 25));

	CHECK_EQ(xct_ruleset_find_set(&rs, "blocklist"), 0);
	CHECK_EQ(xct_ruleset_find_set(&rs, "web_ports"), 1);
	CHECK_EQ(xct_ruleset_find_set(&rs, "web"), -1);
	CHECK_EQ(xct_ruleset_find_set(&rs, ""), -1);

	xct_ruleset_free(&rs);
	CHECK(ruleset_empty(&rs));
}

TEST(rules_parse_empty_input)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;

	CHECK_EQ(xct_rules_parse(T_FILE, NULL, 0, &rs, &err), 0);
	CHECK(ruleset_empty(&rs)); /* policy accept, no sets, no rules */
	CHECK_EQ(XCT_POLICY_ACCEPT, 0);

	PARSE_OK("# nothing but comments\n\n   \t\n;;\n# and no newline at the end", &rs);
	CHECK_EQ(rs.n_rules, 0);
	CHECK_EQ(rs.n_sets, 0);
	CHECK_EQ(rs.policy, XCT_POLICY_ACCEPT);
	CHECK_EQ(rs.policy_loc.line, 0);
	xct_ruleset_free(&rs);

	/* A rule with no match at all: every packet. */
	PARSE_OK("accept", &rs);
	CHECK_EQ(rs.n_rules, 1);
	CHECK_STR(rule_at(&rs, 0)->text, "accept");
	xct_ruleset_free(&rs);
	xct_ruleset_free(NULL);
}

/* ---- Sets ---- */

TEST(rules_parse_sets)
{
	struct xct_ruleset rs;
	const struct xct_set_def *s;

	PARSE_OK("set a { 10.0.0.1, ::1, 192.0.2.0/24, }\n"
		 "set p {\n"
		 "\t22,   # ssh\n"
		 "\n"
		 "\t1024-65535,\n"
		 "}\n"
		 "set e4 addr { }\n"
		 "set e6 port {}\n"
		 "set k addr { 2001:db8::/32 }\n"
		 "set Z_9-x port { 0, 65535, 0-65535 }\n"
		 "set tcp { 1 }\n",
		 &rs);
	CHECK_EQ(rs.n_sets, 7);
	if (rs.n_sets != 7) {
		xct_ruleset_free(&rs);
		return;
	}
	s = &rs.sets[0];
	CHECK_EQ(s->kind, XCT_SET_ADDR);
	CHECK_EQ(s->n_prefixes, 3);
	CHECK(prefix_is(&s->prefixes[0], "10.0.0.1/32"));
	CHECK_EQ(s->prefixes[0].plen, 32);
	CHECK(prefix_is(&s->prefixes[1], "::1/128"));
	CHECK_EQ(s->prefixes[1].plen, 128);
	CHECK(prefix_is(&s->prefixes[2], "192.0.2.0/24"));

	s = &rs.sets[1];
	CHECK_STR(s->name, "p");
	CHECK_EQ(s->loc.line, 2);
	CHECK_EQ(s->kind, XCT_SET_PORT);
	CHECK_EQ(s->n_ports, 2);
	CHECK(range_is(&s->ports[0], 22, 22));
	CHECK(range_is(&s->ports[1], 1024, 65535));

	CHECK_EQ(rs.sets[2].kind, XCT_SET_ADDR);
	CHECK_EQ(rs.sets[2].n_prefixes, 0);
	CHECK_EQ(rs.sets[2].loc.line, 7);
	CHECK_EQ(rs.sets[3].kind, XCT_SET_PORT);
	CHECK_EQ(rs.sets[3].n_ports, 0);
	CHECK_EQ(rs.sets[4].kind, XCT_SET_ADDR);
	CHECK_EQ(rs.sets[4].n_prefixes, 1);
	CHECK_STR(rs.sets[5].name, "Z_9-x");
	CHECK_EQ(rs.sets[5].n_ports, 3);
	CHECK(range_is(&rs.sets[5].ports[2], 0, 65535));
	CHECK_STR(rs.sets[6].name, "tcp"); /* after '@' a name is never a keyword */
	CHECK_EQ(xct_ruleset_find_set(&rs, "e6"), 3);
	xct_ruleset_free(&rs);

	/* The longest name, and a set used by the rules after it. */
	PARSE_OK("set n234567890123456789012345678901 { 1 }\n"
		 "accept dport @n234567890123456789012345678901",
		 &rs);
	CHECK_EQ(rs.n_sets, 1);
	CHECK_EQ(rule_at(&rs, 0)->dport.set, 0);
	xct_ruleset_free(&rs);
}

TEST(rules_parse_set_errors)
{
	CHECK_PERR("set m { 10.0.0.0/8, 80 }", 1, 21,
		   "'80' is a port, but set 'm' holds addresses");
	CHECK_PERR("set m { 80, 10.0.0.1 }", 1, 13,
		   "'10.0.0.1' is an address, but set 'm' holds ports");
	CHECK_PERR("set m port { 10.0.0.1 }", 1, 14,
		   "'10.0.0.1' is an address, but set 'm' holds ports");
	CHECK_PERR("set m addr { 80 }", 1, 14, "'80' is a port, but set 'm' holds addresses");
	CHECK_PERR("set a { 1 }\nset a { 2 }", 2, 5, "set 'a' is already defined (at line 1)");
	CHECK_PERR("set 1a { 1 }", 1, 5,
		   "invalid set name '1a' (a letter or '_', then letters, digits, '_' or '-')");
	CHECK_PERR("set a.b { 1 }", 1, 5,
		   "invalid set name 'a.b' (a letter or '_', then letters, digits, '_' or '-')");
	CHECK_PERR(
		"set n2345678901234567890123456789012 { 1 }", 1, 5,
		"set name 'n2345678901234567890123456789012' is too long (at most 31 characters)");
	CHECK_PERR("set\n", 1, 4, "expected a set name after 'set', got end of line");
	CHECK_PERR("set { 1 }", 1, 5, "expected a set name after 'set', got '{'");
	CHECK_PERR("set x 1, 2", 1, 7, "expected '{', 'addr' or 'port' after 'set x', got '1'");
	CHECK_PERR("set x addr 1", 1, 12, "expected '{' after 'addr', got '1'");
	CHECK_PERR("set x { }", 1, 7,
		   "empty set 'x' needs a kind: 'set x addr { }' or 'set x port { }'");
	CHECK_PERR("set x {\n\n}", 1, 7,
		   "empty set 'x' needs a kind: 'set x addr { }' or 'set x port { }'");
	CHECK_PERR("set x { 1 2 }", 1, 11, "expected ',' or '}' after '1', got '2'");
	CHECK_PERR("set x { 1,, 2 }", 1, 11, "expected a port or a port range in set 'x', got ','");
	CHECK_PERR("set x { , }", 1, 9,
		   "expected an address, a prefix, a port or a port range in set 'x', got ','");
	CHECK_PERR("set x { http }", 1, 9,
		   "expected an address, a prefix, a port or a port range in set 'x', got 'http'");
	CHECK_PERR("set x addr { foo }", 1, 14,
		   "expected an address or a prefix in set 'x', got 'foo'");
	CHECK_PERR(
		"set x { flags interval; }", 1, 9,
		"'flags' is not needed: a set lists its elements, as in 'set x { 10.0.0.0/8, 192.0.2.1 }'");
	CHECK_PERR("set y { 1 }\nset x { @y }", 2, 9, "a set cannot hold another set ('@y')");
	CHECK_PERR("set x { 1, { 2 } }", 1, 12, "unexpected '{' inside a list (lists do not nest)");
	CHECK_PERR("set x { 1 } accept", 1, 13, "expected end of line after '}', got 'accept'");
	CHECK_PERR("set x { 1.2.3.4/33 }", 1, 9,
		   "prefix length 33 is out of range for IPv4 (0-32)");
	CHECK_PERR("set x { 70000 }", 1, 9, "port 70000 is out of range (0-65535)");

	/* A missing '}' is reported at its '{', whatever comes after it. */
	CHECK_PERR("set x { 1, 2", 1, 7, "unterminated '{' (opened at line 1)");
	CHECK_PERR("\n\nset x {\n 1,\n 2\n\n", 3, 7, "unterminated '{' (opened at line 3)");
	CHECK_PERR("set x { 1, 2\naccept tcp dport @x", 1, 7,
		   "unterminated '{' (opened at line 1)");
	CHECK_PERR("set x { 1,\nset y { 2 }", 1, 7, "unterminated '{' (opened at line 1)");
}

TEST(rules_parse_too_many_sets)
{
	size_t cap = 300 * 32, len = 0;
	char *text = malloc(cap);
	struct xct_ruleset rs;
	struct xct_rules_error err;
	int i;

	for (i = 0; i < 256; i++)
		len += (size_t)snprintf(text + len, cap - len, "set s%d port { }\n", i);
	CHECK_EQ(xct_rules_parse(T_FILE, text, len, &rs, &err), 0);
	CHECK_EQ(rs.n_sets, 256);
	xct_ruleset_free(&rs);

	len += (size_t)snprintf(text + len, cap - len, "set s256 port { }\n");
	CHECK_EQ(xct_rules_parse(T_FILE, text, len, &rs, &err), -EINVAL);
	CHECK_EQ(err.loc.line, 257);
	CHECK_EQ(err.loc.col, 1);
	CHECK_STR(err.msg, "too many sets (at most 256)");
	CHECK(ruleset_empty(&rs));
	free(text);
}

TEST(rules_parse_too_many_rules)
{
	size_t n = XCT_RULES_MAX - 1, len = 7 * (n + 1);
	char *text = malloc(len + 1);
	struct xct_ruleset rs;
	struct xct_rules_error err;
	size_t i;

	for (i = 0; i <= n; i++)
		memcpy(text + 7 * i, "accept\n", 7);
	CHECK_EQ(xct_rules_parse(T_FILE, text, len - 7, &rs, &err), 0);
	CHECK_EQ(rs.n_rules, n);
	xct_ruleset_free(&rs);

	CHECK_EQ(xct_rules_parse(T_FILE, text, len, &rs, &err), -EINVAL);
	CHECK_EQ(err.loc.line, XCT_RULES_MAX);
	CHECK_EQ(err.loc.col, 1);
	CHECK_STR(err.msg, "too many rules (at most 32767)");
	CHECK(ruleset_empty(&rs));
	free(text);
}

/* The parser must stay linear: 100,000 elements, half of them IPv6, on
 * separate lines and with comments in between. */
TEST(rules_parse_big_set)
{
	size_t n = 100000, cap = n * 40 + 128, len = 0, i;
	char *text = malloc(cap);
	struct xct_ruleset rs;
	struct xct_rules_error err;
	int r;

	len += (size_t)snprintf(text + len, cap - len, "set big {\n");
	for (i = 0; i < n; i++) {
		if (i & 1)
			len += (size_t)snprintf(text + len, cap - len, "  2001:db8:%zx::/48,%s\n",
						i >> 1, i % 1000 == 1 ? " # a comment" : "");
		else
			len += (size_t)snprintf(text + len, cap - len, "  10.%zu.%zu.0/24,\n",
						(i >> 8) & 0xff, i & 0xff);
	}
	len += (size_t)snprintf(text + len, cap - len, "}\ndrop saddr @big\n");
	r = xct_rules_parse(T_FILE, text, len, &rs, &err);
	CHECK_EQ(r, 0);
	if (r) {
		CHECK_FAIL("%u:%u: %s", err.loc.line, err.loc.col, err.msg);
		free(text);
		return;
	}
	CHECK_EQ(rs.n_sets, 1);
	CHECK_EQ(rs.sets[0].n_prefixes, n);
	CHECK_EQ(rs.sets[0].kind, XCT_SET_ADDR);
	CHECK(prefix_is(&rs.sets[0].prefixes[0], "10.0.0.0/24"));
	CHECK(prefix_is(&rs.sets[0].prefixes[1], "2001:db8::/48"));
	CHECK(prefix_is(&rs.sets[0].prefixes[n - 1], "2001:db8:c34f::/48"));
	CHECK_EQ(rule_at(&rs, 0)->loc.line, n + 3);
	xct_ruleset_free(&rs);

	/* The same elements as one literal list of a rule, on one line. */
	len = 0;
	len += (size_t)snprintf(text + len, cap - len, "accept dport {");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, " %zu-%zu,", i % 60000,
					i % 60000 + 5);
	len += (size_t)snprintf(text + len, cap - len, " }");
	r = xct_rules_parse(T_FILE, text, len, &rs, &err);
	CHECK_EQ(r, 0);
	CHECK_EQ(rule_at(&rs, 0)->dport.n, n);
	CHECK_EQ(strlen(rule_at(&rs, 0)->text), len);
	xct_ruleset_free(&rs);
	free(text);
}

/* ---- policy ---- */

TEST(rules_parse_policy)
{
	struct xct_ruleset rs;

	PARSE_OK("accept\n\n  policy accept # explicit\n", &rs);
	CHECK_EQ(rs.policy, XCT_POLICY_ACCEPT);
	CHECK_EQ(rs.policy_loc.line, 3);
	CHECK_EQ(rs.policy_loc.col, 3);
	xct_ruleset_free(&rs);

	PARSE_OK("policy drop; accept", &rs);
	CHECK_EQ(rs.policy, XCT_POLICY_DROP);
	CHECK_EQ(rs.n_rules, 1);
	xct_ruleset_free(&rs);

	CHECK_PERR("policy drop\naccept\npolicy accept", 3, 1,
		   "'policy' given twice (first at line 1)");
	CHECK_PERR("policy reject", 1, 8,
		   "expected 'accept' or 'drop' after 'policy', got 'reject'");
	CHECK_PERR("policy", 1, 7, "expected 'accept' or 'drop' after 'policy', got end of file");
	CHECK_PERR("policy drop now", 1, 13, "expected end of line after 'policy drop', got 'now'");
}

/* ---- Interfaces ---- */

TEST(rules_parse_iface)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept iif eth0\n"
		 "accept oif != \"veth-a.100\"\n"
		 "drop iif { lo, eth_1,\n br0 }\n"
		 "accept iif != { wlan0 } tcp\n"
		 "accept iif abcdefghijklmno\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 5);
	r = rule_at(&rs, 0);
	CHECK_EQ(r->hook, XCT_HOOK_INGRESS);
	CHECK_EQ(r->n_ifaces, 1);
	CHECK(r->n_ifaces == 1 && !strcmp(r->ifaces[0], "eth0"));
	CHECK(!r->iface_negate);
	r = rule_at(&rs, 1);
	CHECK_EQ(r->hook, XCT_HOOK_EGRESS);
	CHECK(r->iface_negate);
	CHECK(r->n_ifaces == 1 && !strcmp(r->ifaces[0], "veth-a.100"));
	CHECK_STR(r->text, "accept oif != \"veth-a.100\"");
	r = rule_at(&rs, 2);
	CHECK_EQ(r->n_ifaces, 3);
	CHECK(r->n_ifaces == 3 && !strcmp(r->ifaces[2], "br0"));
	CHECK_STR(r->text, "drop iif { lo, eth_1, br0 }");
	r = rule_at(&rs, 3);
	CHECK(r->iface_negate);
	CHECK_EQ(r->n_ifaces, 1);
	CHECK_EQ(r->proto, 6);
	r = rule_at(&rs, 4);
	CHECK(r->n_ifaces == 1 && !strcmp(r->ifaces[0], "abcdefghijklmno"));
	xct_ruleset_free(&rs);

	CHECK_PERR(
		"accept iif eth0 oif eth1", 1, 17,
		"'iif' and 'oif' cannot be combined in one rule (a rule applies at ingress or at egress)");
	CHECK_PERR(
		"accept oif a iif b", 1, 14,
		"'iif' and 'oif' cannot be combined in one rule (a rule applies at ingress or at egress)");
	CHECK_PERR("accept iif a iif b", 1, 14, "'iif' given twice");
	CHECK_PERR("accept oif a tcp oif b", 1, 18, "'oif' given twice");
	CHECK_PERR("accept iif abcdefghijklmnop", 1, 12,
		   "interface name 'abcdefghijklmnop' is too long (at most 15 characters)");
	CHECK_PERR("accept iif eth0:1", 1, 12,
		   "invalid interface name 'eth0:1' (letters, digits, '_', '-' and '.')");
	CHECK_PERR("accept iif \"a b\"", 1, 12,
		   "invalid interface name '\"a b\"' (letters, digits, '_', '-' and '.')");
	CHECK_PERR("accept iif \"\"", 1, 12, "empty interface name");

	/* By name, with wildcards: nothing is resolved at parse time. */
	PARSE_OK("accept iifname \"veth*\"\n"
		 "drop oifname != { eth0, \"wg*\" } tcp\n"
		 "accept iifname \"*\"\n"
		 "accept iifname \"abcdefghijklmn*\"\n",
		 &rs);
	r = rule_at(&rs, 0);
	CHECK(r->iface_by_name);
	CHECK_EQ(r->hook, XCT_HOOK_INGRESS);
	CHECK(r->n_ifaces == 1 && !strcmp(r->ifaces[0], "veth*"));
	CHECK_STR(r->text, "accept iifname \"veth*\"");
	r = rule_at(&rs, 1);
	CHECK(r->iface_by_name && r->iface_negate);
	CHECK_EQ(r->hook, XCT_HOOK_EGRESS);
	CHECK(r->n_ifaces == 2 && !strcmp(r->ifaces[1], "wg*"));
	r = rule_at(&rs, 2);
	CHECK(r->n_ifaces == 1 && !strcmp(r->ifaces[0], "*"));
	r = rule_at(&rs, 3);
	CHECK(r->n_ifaces == 1 && !strcmp(r->ifaces[0], "abcdefghijklmn*"));
	xct_ruleset_free(&rs);
	CHECK_PERR("accept iif \"veth*\"", 1, 12,
		   "'iif' matches one interface by its index, without wildcards: "
		   "'iifname \"veth*\"' matches names");
	CHECK_PERR("accept iifname \"ve*th\"", 1, 16,
		   "a wildcard '*' ends an interface name: '\"ve*th\"'");
	CHECK_PERR("accept iifname \"abcdefghijklmno*\"", 1, 16,
		   "interface name 'abcdefghijklmno*' is too long (at most 15 characters)");
	CHECK_PERR("accept iifname a iif b", 1, 18,
		   "'iifname' and 'iif' cannot be combined in one rule");
	CHECK_PERR("accept iifname a iifname b", 1, 18, "'iifname' given twice");
	CHECK_PERR("accept oifname a iif b", 1, 18,
		   "'iif' and 'oifname' cannot be combined in one rule (a rule applies at ingress "
		   "or at egress)");
	CHECK_PERR("masquerade oifname \"eth*\"", 1, 12,
		   "'masquerade' rules match their interface by index: use 'oif', not 'oifname'");
	CHECK_PERR("accept iif", 1, 11,
		   "expected an interface name or '{' after 'iif', got end of file");
	CHECK_PERR("accept oif != ,", 1, 15,
		   "expected an interface name or '{' after 'oif', got ','");
	CHECK_PERR("accept iif { }", 1, 12, "empty list '{ }' after 'iif'");
	CHECK_PERR("accept iif { a, 1.2.3.4/8 }", 1, 17,
		   "invalid interface name '1.2.3.4/8' (letters, digits, '_', '-' and '.')");
	CHECK_PERR("accept iif { a, ; }", 1, 17, "expected an interface name after ',', got ';'");
	CHECK_PERR("accept iif \"eth0", 1, 12, "unterminated string (a closing '\"' is missing)");
}

/* ---- Families and protocols ---- */

TEST(rules_parse_family_proto)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept ip\n"
		 "accept ip6\n"
		 "accept tcp\n"
		 "accept udp\n"
		 "accept icmp\n"
		 "accept icmpv6\n"
		 "accept meta l4proto 47\n"
		 "accept meta l4proto sctp\n"
		 "accept ip tcp ip tcp dport 1\n"
		 "accept meta l4proto icmpv6 icmpv6 ip6\n"
		 "accept meta l4proto 0\n"
		 "accept meta l4proto 255 ip6\n"
		 "accept meta l4proto esp; accept meta l4proto ah; accept meta l4proto gre\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 15);
	r = rule_at(&rs, 0);
	CHECK_EQ(r->family, XCT_AF_INET);
	CHECK(!r->has_proto);
	r = rule_at(&rs, 1);
	CHECK_EQ(r->family, XCT_AF_INET6);
	r = rule_at(&rs, 2);
	CHECK_EQ(r->family, 0);
	CHECK(r->has_proto);
	CHECK_EQ(r->proto, 6);
	CHECK_EQ(rule_at(&rs, 3)->proto, 17);
	r = rule_at(&rs, 4);
	CHECK_EQ(r->proto, 1);
	CHECK_EQ(r->family, XCT_AF_INET);
	CHECK_EQ(r->n_icmp, 0);
	r = rule_at(&rs, 5);
	CHECK_EQ(r->proto, 58);
	CHECK_EQ(r->family, XCT_AF_INET6);
	r = rule_at(&rs, 6);
	CHECK(r->has_proto);
	CHECK_EQ(r->proto, 47);
	CHECK_EQ(r->family, 0);
	CHECK_EQ(rule_at(&rs, 7)->proto, 132);
	r = rule_at(&rs, 8);
	CHECK_EQ(r->family, XCT_AF_INET);
	CHECK_EQ(r->proto, 6);
	r = rule_at(&rs, 9);
	CHECK_EQ(r->family, XCT_AF_INET6);
	CHECK_EQ(r->proto, 58);
	r = rule_at(&rs, 10);
	CHECK(r->has_proto);
	CHECK_EQ(r->proto, 0);
	CHECK_EQ(rule_at(&rs, 11)->proto, 255);
	CHECK_EQ(rule_at(&rs, 12)->proto, 50);
	CHECK_EQ(rule_at(&rs, 13)->proto, 51);
	CHECK_EQ(rule_at(&rs, 14)->proto, 47);
	xct_ruleset_free(&rs);

	CHECK_PERR("accept ip ip6", 1, 11,
		   "'ip6' conflicts with 'ip' earlier in the rule (IPv6 and IPv4)");
	CHECK_PERR("accept icmp ip6", 1, 13,
		   "'ip6' conflicts with 'icmp' earlier in the rule (IPv6 and IPv4)");
	CHECK_PERR("accept ip6 icmp", 1, 12,
		   "'icmp' conflicts with 'ip6' earlier in the rule (IPv4 and IPv6)");
	CHECK_PERR("accept ip meta l4proto icmpv6", 1, 24,
		   "'meta l4proto icmpv6' conflicts with 'ip' earlier in the rule (IPv6 and IPv4)");
	CHECK_PERR("accept tcp udp", 1, 12,
		   "protocol 'udp' conflicts with 'tcp' earlier in the rule");
	CHECK_PERR("accept udp icmp", 1, 12,
		   "protocol 'icmp' conflicts with 'udp' earlier in the rule");
	CHECK_PERR("accept tcp meta l4proto 17", 1, 25,
		   "protocol 'udp' conflicts with 'tcp' earlier in the rule");
	CHECK_PERR("accept meta l4proto 99 tcp", 1, 24,
		   "protocol 'tcp' conflicts with '99' earlier in the rule");
	CHECK_PERR("accept meta l4proto 256", 1, 21, "protocol 256 is out of range (0-255)");
	CHECK_PERR("accept meta l4proto tpc", 1, 21,
		   "unknown protocol 'tpc' (did you mean 'tcp'?)");
	CHECK_PERR("accept meta l4proto foo", 1, 21, "unknown protocol 'foo'");
	CHECK_PERR(
		"accept meta l4proto", 1, 20,
		"expected a protocol (tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or 0-255) after 'l4proto', got end of file");
	CHECK_PERR(
		"accept meta l4proto 6x", 1, 21,
		"expected a protocol (tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or 0-255) after 'l4proto', got '6x'");
	CHECK_PERR("accept meta foo 1", 1, 13,
		   "expected 'l4proto', 'mark', 'skuid' or 'skgid' after 'meta', got 'foo'");
}

/* ---- Addresses ---- */

TEST(rules_parse_addr)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("set a { 10.0.0.0/8 }\n"
		 "set six addr { }\n"
		 "accept saddr 192.0.2.1\n"
		 "accept daddr != 2001:db8::/32\n"
		 "accept saddr { 10.0.0.0/8, ::ffff:0:0/96,\n 0.0.0.0/0, } daddr @a\n"
		 "drop saddr != @six ip6\n"
		 "accept ip saddr 10.1.0.0/16 ip daddr 10.2.0.0/16\n"
		 "accept ip6 daddr ::/0\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 6);
	r = rule_at(&rs, 0);
	CHECK(r->saddr.present);
	CHECK(!r->saddr.negate);
	CHECK_EQ(r->saddr.set, -1);
	CHECK_EQ(r->saddr.n, 1);
	CHECK(r->saddr.n == 1 && prefix_is(&r->saddr.list[0], "192.0.2.1/32"));
	CHECK(!r->daddr.present);
	CHECK_EQ(r->daddr.set, -1);
	r = rule_at(&rs, 1);
	CHECK(r->daddr.present);
	CHECK(r->daddr.negate);
	CHECK(r->daddr.n == 1 && prefix_is(&r->daddr.list[0], "2001:db8::/32"));
	r = rule_at(&rs, 2);
	CHECK_EQ(r->saddr.n, 3);
	CHECK(r->saddr.n == 3 && prefix_is(&r->saddr.list[1], "::ffff:0:0/96"));
	CHECK(r->saddr.n == 3 && r->saddr.list[2].plen == 0 &&
	      r->saddr.list[2].family == XCT_AF_INET);
	CHECK_EQ(r->daddr.set, 0);
	CHECK_EQ(r->family, 0);
	CHECK_STR(r->text, "accept saddr { 10.0.0.0/8, ::ffff:0:0/96, 0.0.0.0/0, } daddr @a");
	r = rule_at(&rs, 3);
	CHECK(r->saddr.negate);
	CHECK_EQ(r->saddr.set, 1);
	CHECK_EQ(r->family, XCT_AF_INET6); /* sets hold both families */
	r = rule_at(&rs, 4);
	CHECK_EQ(r->family, XCT_AF_INET);
	CHECK(prefix_is(&r->daddr.list[0], "10.2.0.0/16"));
	xct_ruleset_free(&rs);

	CHECK_PERR("accept saddr 10.0.0.1/8", 1, 14,
		   "host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)");
	CHECK_PERR("accept daddr 2001:db8::1/32", 1, 14,
		   "host bits set in 2001:db8::1/32 (did you mean 2001:db8::/32?)");
	CHECK_PERR("accept saddr 10.0.0.255/31", 1, 14,
		   "host bits set in 10.0.0.255/31 (did you mean 10.0.0.254/31?)");
	CHECK_PERR("accept saddr 300.0.0.1", 1, 14, "invalid IPv4 address '300.0.0.1'");
	CHECK_PERR("accept saddr 10.0.0", 1, 14, "invalid IPv4 address '10.0.0'");
	CHECK_PERR("accept saddr 2001:db8::g", 1, 14, "invalid IPv6 address '2001:db8::g'");
	CHECK_PERR("accept saddr 1::2::3", 1, 14, "invalid IPv6 address '1::2::3'");
	CHECK_PERR("accept saddr 10.0.0.0/33", 1, 14,
		   "prefix length 33 is out of range for IPv4 (0-32)");
	CHECK_PERR("accept saddr ::/129", 1, 14,
		   "prefix length 129 is out of range for IPv6 (0-128)");
	CHECK_PERR("accept saddr 10.0.0.0/", 1, 14, "invalid prefix length '' in '10.0.0.0/'");
	CHECK_PERR("accept saddr 10.0.0.0/8/8", 1, 14,
		   "invalid prefix length '8/8' in '10.0.0.0/8/8'");
	CHECK_PERR("accept saddr foo", 1, 14,
		   "expected an address, a prefix, a set (@name) or '{' after 'saddr', got 'foo'");
	CHECK_PERR("accept daddr 80", 1, 14,
		   "expected an address, a prefix, a set (@name) or '{' after 'daddr', got '80'");
	CHECK_PERR(
		"accept saddr != \n", 1, 17,
		"expected an address, a prefix, a set (@name) or '{' after 'saddr', got end of line");
	CHECK_PERR("accept saddr @blocklst", 1, 14, "unknown set '@blocklst'");
	CHECK_PERR("set blocklist { 10.0.0.0/8 }\naccept saddr @blocklst", 2, 14,
		   "unknown set '@blocklst' (did you mean '@blocklist'?)");
	CHECK_PERR("accept saddr @\n", 1, 14, "unknown set '@'");
	CHECK_PERR("set web_ports { 80 }\naccept saddr @web_ports", 2, 14,
		   "set 'web_ports' holds ports, not addresses");
	CHECK_PERR("accept saddr { 10.0.0.1, 80 }", 1, 26,
		   "expected an address or a prefix in the list after 'saddr', got '80'");
	CHECK_PERR("set a { 10.0.0.1 }\naccept saddr { @a }", 2, 16,
		   "a set ('@a') cannot be an element of a list");
	CHECK_PERR("accept saddr { }", 1, 14, "empty list '{ }' after 'saddr'");
	CHECK_PERR("accept saddr 10.0.0.1 saddr 10.0.0.2", 1, 23, "'saddr' given twice");
	CHECK_PERR("accept ip6 saddr 10.0.0.1", 1, 18,
		   "'10.0.0.1' is IPv4, but the rule matches IPv6 only ('ip6')");
	CHECK_PERR("accept icmp daddr { 10.0.0.1, ::1 }", 1, 31,
		   "'::1' is IPv6, but the rule matches IPv4 only ('icmp')");
	CHECK_PERR("accept saddr 10.0.0.1 ip6", 1, 23,
		   "'ip6' conflicts with the IPv4 address 10.0.0.1 earlier in the rule");
	CHECK_PERR("accept daddr { 10.0.0.0/8, 2001:db8::/32 } icmpv6", 1, 44,
		   "'icmpv6' conflicts with the IPv4 address 10.0.0.0/8 earlier in the rule");
}

/* ---- Ports ---- */

TEST(rules_parse_ports)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("set p { 1 }\n"
		 "accept dport 22\n"
		 "accept tcp sport 1024-65535 dport != 0\n"
		 "accept udp dport { 53, 67-68,\n\t123 , }\n"
		 "accept sport != @p udp\n"
		 "accept tcp dport 5-5\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 5);
	r = rule_at(&rs, 0);
	CHECK(!r->has_proto); /* the compiler restricts it to tcp and udp */
	CHECK(r->dport.present);
	CHECK_EQ(r->dport.set, -1);
	CHECK(r->dport.n == 1 && range_is(&r->dport.list[0], 22, 22));
	CHECK(!r->sport.present);
	r = rule_at(&rs, 1);
	CHECK(r->sport.n == 1 && range_is(&r->sport.list[0], 1024, 65535));
	CHECK(!r->sport.negate);
	CHECK(r->dport.negate);
	CHECK(r->dport.n == 1 && range_is(&r->dport.list[0], 0, 0));
	r = rule_at(&rs, 2);
	CHECK_EQ(r->proto, 17);
	CHECK_EQ(r->dport.n, 3);
	CHECK(r->dport.n == 3 && range_is(&r->dport.list[1], 67, 68));
	CHECK(r->dport.n == 3 && range_is(&r->dport.list[2], 123, 123));
	CHECK_STR(r->text, "accept udp dport { 53, 67-68, 123 , }");
	r = rule_at(&rs, 3);
	CHECK(r->sport.negate);
	CHECK_EQ(r->sport.set, 0);
	CHECK_EQ(r->sport.n, 0);
	CHECK_EQ(r->proto, 17);
	CHECK(range_is(&rule_at(&rs, 4)->dport.list[0], 5, 5));
	xct_ruleset_free(&rs);

	CHECK_PERR("accept tcp dport http", 1, 18,
		   "expected a port, a port range, a set (@name) or '{' after 'dport', got 'http'");
	CHECK_PERR(
		"accept sport", 1, 13,
		"expected a port, a port range, a set (@name) or '{' after 'sport', got end of file");
	CHECK_PERR("accept tcp dport 70000", 1, 18, "port 70000 is out of range (0-65535)");
	CHECK_PERR("accept tcp dport 1-99999999999999999999", 1, 18,
		   "port 99999999999999999999 is out of range (0-65535)");
	CHECK_PERR("accept tcp dport 9000-8000", 1, 18,
		   "port range 9000-8000 is reversed (did you mean 8000-9000?)");
	CHECK_PERR("accept tcp dport 80-", 1, 18, "invalid port range '80-'");
	CHECK_PERR("accept tcp dport 1-2-3", 1, 18, "invalid port range '1-2-3'");
	CHECK_PERR("accept tcp dport 22 dport 23", 1, 21, "'dport' given twice");
	CHECK_PERR("accept sport 1 tcp sport 2", 1, 20, "'sport' given twice");
	CHECK_PERR("accept icmp dport 1", 1, 13,
		   "'dport' needs protocol 'tcp' or 'udp', but the rule matches 'icmp'");
	CHECK_PERR("accept meta l4proto sctp sport 1", 1, 26,
		   "'sport' needs protocol 'tcp' or 'udp', but the rule matches 'sctp'");
	CHECK_PERR("accept dport 1 icmp", 1, 16,
		   "protocol 'icmp' has no ports, but the rule matches 'dport'");
	CHECK_PERR("accept sport 1 dport 2 meta l4proto 47", 1, 37,
		   "protocol 'gre' has no ports, but the rule matches 'sport'");
	CHECK_PERR("set a { 10.0.0.0/8 }\naccept dport @a", 2, 14,
		   "set 'a' holds addresses, not ports");
	CHECK_PERR("accept dport @nope", 1, 14, "unknown set '@nope'");
	CHECK_PERR("accept dport { 80, 10.0.0.1 }", 1, 20,
		   "expected a port or a port range in the list after 'dport', got '10.0.0.1'");
	CHECK_PERR("accept dport { 80, 443", 1, 14, "unterminated '{' (opened at line 1)");
	CHECK_PERR("accept dport { 80,\n 443\ndrop", 1, 14, "unterminated '{' (opened at line 1)");
	CHECK_PERR("accept dport { 80 ; }", 1, 19, "expected ',' or '}' after '80', got ';'");
}

/* ---- tcp flags ---- */

TEST(rules_parse_tcp_flags)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept tcp flags syn\n"
		 "accept tcp flags syn,ack\n"
		 "accept tcp flags syn|ack dport 22\n"
		 "accept tcp flags == syn|ack\n"
		 "accept tcp flags & (syn|ack) == syn\n"
		 "accept tcp flags & (fin|syn|rst|psh|ack|urg|ecn|cwr) == fin|psh|urg\n"
		 "accept tcp flags & syn == syn\n"
		 "drop tcp flags (fin|rst)\n"
		 "drop tcp flags == (syn)\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 9);
	r = rule_at(&rs, 0);
	CHECK(r->has_tcp_flags);
	CHECK(r->tcp_flags_any);
	CHECK_EQ(r->tcp_flags_mask, 0x02);
	CHECK_EQ(r->tcp_flags_value, 0x02);
	CHECK(r->has_proto);
	CHECK_EQ(r->proto, 6);
	r = rule_at(&rs, 1);
	CHECK(r->tcp_flags_any);
	CHECK_EQ(r->tcp_flags_mask, 0x12);
	CHECK_EQ(r->tcp_flags_value, 0x12);
	r = rule_at(&rs, 2);
	CHECK(r->tcp_flags_any);
	CHECK_EQ(r->tcp_flags_mask, 0x12);
	CHECK(r->dport.present);
	r = rule_at(&rs, 3);
	CHECK(!r->tcp_flags_any);
	CHECK_EQ(r->tcp_flags_mask, 0xff);
	CHECK_EQ(r->tcp_flags_value, 0x12);
	r = rule_at(&rs, 4);
	CHECK(!r->tcp_flags_any);
	CHECK_EQ(r->tcp_flags_mask, 0x12);
	CHECK_EQ(r->tcp_flags_value, 0x02);
	CHECK_STR(r->text, "accept tcp flags & (syn|ack) == syn");
	r = rule_at(&rs, 5);
	CHECK_EQ(r->tcp_flags_mask, 0xff);
	CHECK_EQ(r->tcp_flags_value, 0x01 | 0x08 | 0x20);
	r = rule_at(&rs, 6);
	CHECK_EQ(r->tcp_flags_mask, 0x02);
	CHECK_EQ(r->tcp_flags_value, 0x02);
	r = rule_at(&rs, 7);
	CHECK(r->tcp_flags_any);
	CHECK_EQ(r->tcp_flags_mask, 0x05);
	r = rule_at(&rs, 8);
	CHECK_EQ(r->tcp_flags_mask, 0xff);
	CHECK_EQ(r->tcp_flags_value, 0x02);
	xct_ruleset_free(&rs);

	CHECK_PERR("accept tcp flags sin", 1, 18, "unknown TCP flag 'sin' (did you mean 'syn'?)");
	CHECK_PERR("accept tcp flags foo", 1, 18,
		   "unknown TCP flag 'foo' (fin, syn, rst, psh, ack, urg, ecn or cwr)");
	CHECK_PERR(
		"accept tcp flags", 1, 17,
		"expected a TCP flag (fin, syn, rst, psh, ack, urg, ecn, cwr) after 'flags', got end of file");
	CHECK_PERR(
		"accept tcp flags syn|", 1, 22,
		"expected a TCP flag (fin, syn, rst, psh, ack, urg, ecn, cwr) after '|', got end of file");
	CHECK_PERR("accept tcp flags & (syn|ack) == fin", 1, 33,
		   "'fin' is outside the mask (syn|ack), so the rule could never match");
	CHECK_PERR("accept tcp flags & (syn|ack) == syn|fin|rst", 1, 41,
		   "'fin|rst' is outside the mask (syn|ack), so the rule could never match");
	CHECK_PERR("accept tcp flags & (syn|ack) syn", 1, 30,
		   "expected '==' after the mask, got 'syn'");
	CHECK_PERR("accept tcp flags & (syn|ack", 1, 28,
		   "expected '|' or ')' after 'ack', got end of file");
	CHECK_PERR("accept tcp flags == syn,ack", 1, 24,
		   "',' cannot combine flags here: use '|' (syn|ack)");
	CHECK_PERR("accept tcp flags syn tcp flags ack", 1, 22, "'tcp flags' given twice");
	CHECK_PERR("accept udp tcp flags syn", 1, 12,
		   "protocol 'tcp' conflicts with 'udp' earlier in the rule");
	CHECK_PERR("accept tcp flags syn udp", 1, 22,
		   "protocol 'udp' conflicts with 'tcp' earlier in the rule");
	CHECK_PERR("accept udp flags syn", 1, 12, "'flags' must follow 'tcp' (tcp flags syn)");
	CHECK_PERR("accept tcp flags = syn", 1, 18, "unexpected '=' (did you mean '=='?)");
}

/* ---- ICMP ---- */

TEST(rules_parse_icmp)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK(
		"accept icmp type echo-request\n"
		"accept icmp type 3 code 4\n"
		"accept icmp type destination-unreachable code 0\n"
		"accept icmp type { echo-reply, 8, time-exceeded,\n address-mask-reply }\n"
		"accept icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, mld2-listener-report }\n"
		"accept icmpv6 type packet-too-big\n"
		"accept icmpv6 type 255 code 255\n",
		&rs);
	CHECK_EQ(rs.n_rules, 7);
	r = rule_at(&rs, 0);
	CHECK_EQ(r->n_icmp, 1);
	CHECK(r->n_icmp == 1 && r->icmp[0].type == 8 && r->icmp[0].code == -1);
	r = rule_at(&rs, 1);
	CHECK(r->n_icmp == 1 && r->icmp[0].type == 3 && r->icmp[0].code == 4);
	r = rule_at(&rs, 2);
	CHECK(r->n_icmp == 1 && r->icmp[0].type == 3 && r->icmp[0].code == 0);
	r = rule_at(&rs, 3);
	CHECK_EQ(r->n_icmp, 4);
	CHECK(r->n_icmp == 4 && r->icmp[0].type == 0 && r->icmp[1].type == 8 &&
	      r->icmp[2].type == 11 && r->icmp[3].type == 18);
	CHECK(r->n_icmp == 4 && r->icmp[3].code == -1);
	CHECK_EQ(r->family, XCT_AF_INET);
	r = rule_at(&rs, 4);
	CHECK_EQ(r->family, XCT_AF_INET6);
	CHECK_EQ(r->proto, 58);
	CHECK(r->n_icmp == 3 && r->icmp[0].type == 135 && r->icmp[1].type == 136 &&
	      r->icmp[2].type == 143);
	CHECK(rule_at(&rs, 5)->n_icmp == 1 && rule_at(&rs, 5)->icmp[0].type == 2);
	r = rule_at(&rs, 6);
	CHECK(r->n_icmp == 1 && r->icmp[0].type == 255 && r->icmp[0].code == 255);
	xct_ruleset_free(&rs);

	/* Every name of both tables. */
	PARSE_OK("accept icmp type { echo-reply, destination-unreachable, source-quench, redirect,"
		 " echo-request, router-advertisement, router-solicitation, time-exceeded,"
		 " parameter-problem, timestamp-request, timestamp-reply, info-request,"
		 " info-reply, address-mask-request, address-mask-reply }\n"
		 "accept icmpv6 type { destination-unreachable, packet-too-big, time-exceeded,"
		 " parameter-problem, echo-request, echo-reply, mld-listener-query,"
		 " mld-listener-report, mld-listener-done, nd-router-solicit, nd-router-advert,"
		 " nd-neighbor-solicit, nd-neighbor-advert, nd-redirect, mld2-listener-report }\n",
		 &rs);
	{
		static const int v4[] = {0, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
		static const int v6[] = {1,   2,   3,	4,   128, 129, 130, 131,
					 132, 133, 134, 135, 136, 137, 143};
		size_t i;

		CHECK_EQ(rule_at(&rs, 0)->n_icmp, 15);
		CHECK_EQ(rule_at(&rs, 1)->n_icmp, 15);
		for (i = 0; i < 15 && rs.n_rules == 2 && rs.rules[0].n_icmp == 15 &&
			    rs.rules[1].n_icmp == 15;
		     i++) {
			CHECK_EQ(rs.rules[0].icmp[i].type, v4[i]);
			CHECK_EQ(rs.rules[1].icmp[i].type, v6[i]);
		}
	}
	xct_ruleset_free(&rs);

	CHECK_PERR("accept icmp type echo-requst", 1, 18,
		   "unknown ICMP type 'echo-requst' (did you mean 'echo-request'?)");
	CHECK_PERR("accept icmp type packet-too-big", 1, 18, "unknown ICMP type 'packet-too-big'");
	CHECK_PERR("accept icmpv6 type router-advertisement", 1, 20,
		   "unknown ICMPv6 type 'router-advertisement'");
	CHECK_PERR("accept icmp type 256", 1, 18, "ICMP type 256 is out of range (0-255)");
	CHECK_PERR("accept icmp type 3 code 256", 1, 25, "ICMP code 256 is out of range (0-255)");
	CHECK_PERR("accept icmp type 3 code x", 1, 25,
		   "expected an ICMP code (0-255) after 'code', got 'x'");
	CHECK_PERR("accept icmpv6 type 1 code", 1, 26,
		   "expected an ICMPv6 code (0-255) after 'code', got end of file");
	CHECK_PERR(
		"accept icmp type", 1, 17,
		"expected an ICMP type (a name such as 'echo-request', or 0-255) after 'type', got end of file");
	CHECK_PERR(
		"accept icmp type 8x", 1, 18,
		"expected an ICMP type (a name such as 'echo-request', or 0-255) after 'type', got '8x'");
	CHECK_PERR("accept icmp type { 0, 8 } code 1", 1, 27,
		   "'code' cannot follow a list of types (write one rule per type and code)");
	CHECK_PERR("accept icmp type 8 icmp type 0", 1, 20, "'icmp type' given twice");
	CHECK_PERR("accept icmp type 8 icmpv6 type 128", 1, 20,
		   "protocol 'icmpv6' conflicts with 'icmp' earlier in the rule");
	CHECK_PERR("accept ip6 icmp type 8", 1, 12,
		   "'icmp' conflicts with 'ip6' earlier in the rule (IPv4 and IPv6)");
	CHECK_PERR("accept tcp type 8", 1, 12,
		   "'type' must follow 'icmp' or 'icmpv6' (icmp type echo-request)");
	CHECK_PERR("accept icmp code 3", 1, 13,
		   "'code' must follow an ICMP type (icmp type destination-unreachable code 3)");
	CHECK_PERR("accept icmp type { }", 1, 18, "empty list '{ }' after 'type'");
}

/* ---- ct state ---- */

TEST(rules_parse_ct_state)
{
	struct xct_ruleset rs;

	PARSE_OK("accept ct state new\n"
		 "accept ct state established, related ,untracked\n"
		 "accept ct state { invalid,\n new }\n"
		 "accept ct state new,new\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 4);
	CHECK_EQ(rule_at(&rs, 0)->ct_states, ST(NEW));
	CHECK_EQ(rule_at(&rs, 0)->ct_states, 1);
	CHECK_EQ(rule_at(&rs, 1)->ct_states, ST(ESTABLISHED) | ST(RELATED) | ST(UNTRACKED));
	CHECK_EQ(rule_at(&rs, 1)->ct_states, 0x16);
	CHECK_EQ(rule_at(&rs, 2)->ct_states, ST(INVALID) | ST(NEW));
	CHECK_EQ(rule_at(&rs, 3)->ct_states, ST(NEW));
	xct_ruleset_free(&rs);

	CHECK_PERR("accept ct state establised", 1, 17,
		   "unknown ct state 'establised' (did you mean 'established'?)");
	CHECK_PERR("accept ct state foo", 1, 17,
		   "unknown ct state 'foo' (new, established, related, invalid or untracked)");
	CHECK_PERR(
		"accept ct state", 1, 16,
		"expected a state (new, established, related, invalid, untracked) after 'state', got end of file");
	CHECK_PERR(
		"accept ct state new,", 1, 21,
		"expected a state (new, established, related, invalid, untracked) after ',', got end of file");
	CHECK_PERR("accept ct zone 1", 1, 11,
		   "expected 'state', 'status' or 'mark' after 'ct', got 'zone'");
	CHECK_PERR("accept ct state new ct state invalid", 1, 21, "'ct state' given twice");
	CHECK_PERR(
		"notrack ct state new", 1, 9,
		"'ct state' cannot be used with 'notrack' (notrack decides before a packet is tracked)");
	CHECK_PERR("accept state new", 1, 8, "'state' must follow 'ct' (ct state established)");
}

/* ---- Options ---- */

TEST(rules_parse_limit)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept limit 10/second\n"
		 "accept limit rate 5/minute burst 7 packets\n"
		 "accept limit 2/hour per saddr\n"
		 "accept limit rate 1/day burst 3 per saddr\n"
		 "accept limit 10 mbytes/second\n"
		 "accept limit rate 100 kbytes/minute burst 64 kbytes\n"
		 "accept limit 1500 bytes/second burst 3000 bytes\n"
		 "accept limit 1 mbytes/hour burst 2 mbytes per saddr\n"
		 "accept limit 4294967295/second per saddr burst 1\n"
		 "accept tcp limit 3/second log dport 22\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 10);
	r = rule_at(&rs, 0);
	CHECK(r->limit.present);
	CHECK_EQ(r->limit.rate, 10);
	CHECK_EQ(r->limit.unit_ns, 1000000000ULL);
	CHECK_EQ(r->limit.burst, 10);
	CHECK(!r->limit.bytes && !r->limit.per_saddr);
	r = rule_at(&rs, 1);
	CHECK_EQ(r->limit.rate, 5);
	CHECK_EQ(r->limit.unit_ns, 60000000000ULL);
	CHECK_EQ(r->limit.burst, 7);
	r = rule_at(&rs, 2);
	CHECK_EQ(r->limit.unit_ns, 3600000000000ULL);
	CHECK_EQ(r->limit.burst, 2);
	CHECK(r->limit.per_saddr);
	r = rule_at(&rs, 3);
	CHECK_EQ(r->limit.rate, 1);
	CHECK_EQ(r->limit.unit_ns, 86400000000000ULL);
	CHECK_EQ(r->limit.burst, 3);
	CHECK(r->limit.per_saddr);
	r = rule_at(&rs, 4);
	CHECK(r->limit.bytes);
	CHECK_EQ(r->limit.rate, 10 * 1024 * 1024);
	CHECK_EQ(r->limit.burst, 10 * 1024 * 1024);
	CHECK_EQ(r->limit.unit_ns, 1000000000ULL);
	r = rule_at(&rs, 5);
	CHECK(r->limit.bytes);
	CHECK_EQ(r->limit.rate, 100 * 1024);
	CHECK_EQ(r->limit.unit_ns, 60000000000ULL);
	CHECK_EQ(r->limit.burst, 64 * 1024);
	r = rule_at(&rs, 6);
	CHECK_EQ(r->limit.rate, 1500);
	CHECK_EQ(r->limit.burst, 3000);
	r = rule_at(&rs, 7);
	CHECK_EQ(r->limit.rate, 1024 * 1024);
	CHECK_EQ(r->limit.burst, 2 * 1024 * 1024);
	CHECK(r->limit.per_saddr);
	r = rule_at(&rs, 8);
	CHECK_EQ(r->limit.rate, 4294967295ULL);
	CHECK_EQ(r->limit.burst, 1);
	r = rule_at(&rs, 9);
	CHECK(r->limit.present);
	CHECK(r->log);
	CHECK(r->dport.present);
	CHECK_STR(r->text, "accept tcp limit 3/second log dport 22");
	xct_ruleset_free(&rs);

	CHECK_PERR("accept limit 0/second", 1, 14, "limit rate must be at least 1, got 0");
	CHECK_PERR("accept limit 0 mbytes/second", 1, 14, "limit rate must be at least 1, got 0");
	CHECK_PERR("accept limit 4294967296/second", 1, 14,
		   "limit rate 4294967296 is too large (at most 4294967295)");
	CHECK_PERR("accept limit 10/sec", 1, 14,
		   "unknown time unit 'sec' in '10/sec' (second, minute, hour or day)");
	CHECK_PERR("accept limit 10 mbytes/week", 1, 17,
		   "unknown time unit 'week' in 'mbytes/week' (second, minute, hour or day)");
	CHECK_PERR("accept limit fast", 1, 14,
		   "expected a rate (10/second, 10 mbytes/second) after 'limit', got 'fast'");
	CHECK_PERR("accept limit rate", 1, 18,
		   "expected a rate (10/second, 10 mbytes/second) after 'rate', got end of file");
	CHECK_PERR("accept limit x/second", 1, 14,
		   "expected a rate (10/second, 10 mbytes/second) after 'limit', got 'x/second'");
	CHECK_PERR(
		"accept limit 10 second", 1, 17,
		"expected '/UNIT' or 'bytes/UNIT' after '10' (10/second, 10 mbytes/second), got 'second'");
	CHECK_PERR(
		"accept limit 10 gbytes/second", 1, 17,
		"expected '/UNIT' or 'bytes/UNIT' after '10' (10/second, 10 mbytes/second), got 'gbytes/second'");
	{
		struct xct_ruleset rs;

		PARSE_OK("drop limit rate over 10/second burst 5\n", &rs);
		CHECK(rule_at(&rs, 0)->limit.over && rule_at(&rs, 0)->limit.rate == 10 &&
		      rule_at(&rs, 0)->limit.burst == 5);
		xct_ruleset_free(&rs);
	}
	CHECK_PERR("accept limit rate over x", 1, 24,
		   "expected a rate (10/second, 10 mbytes/second) after 'over', got 'x'");
	CHECK_PERR("accept limit 10/second burst 0", 1, 30, "burst must be at least 1, got 0");
	CHECK_PERR("accept limit 10/second burst", 1, 29,
		   "expected a number after 'burst', got end of file");
	CHECK_PERR("accept limit 10/second burst x", 1, 30,
		   "expected a number after 'burst', got 'x'");
	CHECK_PERR("accept limit 10/second burst 5 burst 6", 1, 32, "'burst' given twice");
	CHECK_PERR("accept limit 10/second burst 5 bytes", 1, 32,
		   "the burst of a packet limit is in packets, not bytes");
	CHECK_PERR("accept limit 10 kbytes/second burst 5 packets", 1, 39,
		   "the burst of a byte limit is in bytes, not packets");
	CHECK_PERR("accept limit 10/second per daddr", 1, 28,
		   "expected 'saddr' after 'per', got 'daddr'");
	CHECK_PERR("accept limit 10/second per saddr per saddr", 1, 34, "'per' given twice");
	CHECK_PERR("accept limit 1/second limit 2/second", 1, 23, "'limit' given twice");
	CHECK_PERR("notrack limit 1/second", 1, 9,
		   "'limit' cannot be used with 'notrack' (notrack rules are not rate-limited)");
	CHECK_PERR("accept burst 5", 1, 8, "'burst' must follow a rate (limit 10/second burst 20)");
	CHECK_PERR("accept rate 5/second", 1, 8,
		   "'rate' must follow 'limit' (limit rate 10/second)");
	CHECK_PERR("accept per saddr", 1, 8,
		   "'per' must follow a rate (limit 10/second per saddr)");
}

TEST(rules_parse_log_counter_actions)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept log\n"
		 "drop counter\n"
		 "reject counter log counter\n"
		 "notrack udp dport 4789 log\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 4);
	r = rule_at(&rs, 0);
	CHECK(r->log);
	CHECK_EQ(r->action, XCT_ACTION_ACCEPT);
	r = rule_at(&rs, 1);
	CHECK(!r->log);
	CHECK_EQ(r->action, XCT_ACTION_DROP);
	r = rule_at(&rs, 2);
	CHECK(r->log);
	CHECK_EQ(r->action, XCT_ACTION_REJECT);
	CHECK_STR(r->text, "reject counter log counter");
	r = rule_at(&rs, 3);
	CHECK_EQ(r->action, XCT_ACTION_NOTRACK);
	CHECK(r->log);
	CHECK_EQ(r->proto, 17);
	xct_ruleset_free(&rs);

	CHECK_PERR("accept log log", 1, 12, "'log' given twice");
}

TEST(rules_parse_log_prefix_level)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;
	char prefix[XCT_LOG_PREFIX_MAX + 1];
	int level;

	PARSE_OK("accept tcp dport 22 log prefix \"ssh in: \" level notice\n"
		 "drop log level debug prefix \"level prefix\" udp\n"
		 "accept log\n",
		 &rs);
	r = rule_at(&rs, 0);
	CHECK(r->log);
	CHECK_STR(r->log_prefix, "ssh in: ");
	CHECK_EQ(r->log_level, LOG_NOTICE);
	r = rule_at(&rs, 1);
	CHECK_STR(r->log_prefix, "level prefix");
	CHECK_EQ(r->log_level, LOG_DEBUG);
	CHECK_EQ(r->proto, 17);
	r = rule_at(&rs, 2);
	CHECK(!r->log_prefix);
	CHECK_EQ(r->log_level, LOG_WARNING); /* nft's default */

	/* xctd reads them back from the text the datapath keeps. */
	CHECK_EQ(xct_rule_log_options(rule_at(&rs, 0)->text, prefix, sizeof(prefix), &level), 0);
	CHECK_STR(prefix, "ssh in: ");
	CHECK_EQ(level, LOG_NOTICE);
	CHECK_EQ(xct_rule_log_options(rule_at(&rs, 1)->text, prefix, sizeof(prefix), &level), 0);
	CHECK_STR(prefix, "level prefix");
	CHECK_EQ(level, LOG_DEBUG);
	CHECK_EQ(xct_rule_log_options(rule_at(&rs, 2)->text, prefix, sizeof(prefix), &level), 0);
	CHECK_STR(prefix, "");
	CHECK_EQ(level, LOG_WARNING);
	CHECK_EQ(xct_rule_log_options("accept tcp dport 22 comment \"log\"", prefix,
				      sizeof(prefix), &level),
		 -ENOENT);
	xct_ruleset_free(&rs);

	CHECK_PERR("accept log prefix", 1, 18,
		   "expected a string in double quotes after 'log prefix', got end of file");
	CHECK_PERR("accept log level loud", 1, 18,
		   "expected a log level (emerg, alert, crit, err, warn, notice, info, debug), got "
		   "'loud'");
	CHECK_PERR("accept log level audit", 1, 18,
		   "log level audit (the kernel's audit log) is not supported: xctd writes to syslog");
	CHECK_PERR("accept log level info level info", 1, 23, "'level' given twice");
	CHECK_PERR("accept log prefix \"a\" prefix \"b\"", 1, 23, "'prefix' given twice");
	CHECK_PERR("accept log group 2", 1, 12,
		   "'log group' is not supported: xct logs to its event stream and, through xctd, "
		   "to syslog (log prefix \"...\" level LEVEL)");
	CHECK_PERR("accept log prefix \"0123456789012345678901234567890123456789012345678901234567"
		   "8901234567890123456789012345678901234567890123456789012345678901234567\"",
		   1, 19, "log prefix is 128 bytes long, at most 127 are allowed");
}

/* ---- Text: comments, ';', lines ---- */

TEST(rules_parse_text_and_separators)
{
	struct xct_ruleset rs;

	PARSE_OK("  accept\ttcp  dport 22   # ssh\n"
		 "accept udp dport 53; accept tcp dport 53 ;drop # dns\n"
		 "accept tcp dport {   # web\n"
		 "\t80,\n"
		 "  # a whole comment line\n"
		 "\n"
		 "\t443 }  log\n"
		 "set s { 1 }; accept dport @s\n"
		 "accept#no space before the comment\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 7);
	CHECK_STR(rule_at(&rs, 0)->text, "accept\ttcp  dport 22");
	CHECK_EQ(rule_at(&rs, 0)->loc.line, 1);
	CHECK_EQ(rule_at(&rs, 0)->loc.col, 3);
	CHECK_STR(rule_at(&rs, 1)->text, "accept udp dport 53");
	CHECK_STR(rule_at(&rs, 2)->text, "accept tcp dport 53");
	CHECK_EQ(rule_at(&rs, 2)->loc.line, 2);
	CHECK_EQ(rule_at(&rs, 2)->loc.col, 22);
	CHECK_STR(rule_at(&rs, 3)->text, "drop");
	CHECK_EQ(rule_at(&rs, 3)->loc.col, 43);
	CHECK_STR(rule_at(&rs, 4)->text, "accept tcp dport { 80, 443 }  log");
	CHECK_EQ(rule_at(&rs, 4)->loc.line, 3);
	CHECK_EQ(rule_at(&rs, 4)->dport.n, 2);
	CHECK(rule_at(&rs, 4)->log);
	CHECK_STR(rule_at(&rs, 5)->text, "accept dport @s");
	CHECK_EQ(rule_at(&rs, 5)->loc.line, 8);
	CHECK_EQ(rule_at(&rs, 5)->loc.col, 14);
	CHECK_STR(rule_at(&rs, 6)->text, "accept");
	CHECK_EQ(rs.n_sets, 1);
	xct_ruleset_free(&rs);

	/* A statement ends at the newline, not at the next keyword. */
	CHECK_PERR("accept tcp\ndport 22", 2, 1,
		   "a rule starts with its action (accept, drop, reject or notrack), got 'dport'");
}

TEST(rules_parse_crlf)
{
	static const char text[] = "set s { 10.0.0.0/8,\r\n  192.0.2.0/24 }\r\n"
				   "policy drop\r\n"
				   "accept saddr @s tcp dport 22\r\n"
				   "accept udp dport { 53,\r\n 123 } # ntp\r\n"
				   "\r\n";
	struct xct_ruleset rs;
	struct xct_rules_error err;

	PARSE_OK(text, &rs);
	CHECK_EQ(rs.n_sets, 1);
	CHECK_EQ(rs.sets[0].n_prefixes, 2);
	CHECK_EQ(rs.policy, XCT_POLICY_DROP);
	CHECK_EQ(rs.n_rules, 2);
	CHECK_STR(rule_at(&rs, 0)->text, "accept saddr @s tcp dport 22");
	CHECK_EQ(rule_at(&rs, 0)->loc.line, 4);
	CHECK_STR(rule_at(&rs, 1)->text, "accept udp dport { 53, 123 }");
	xct_ruleset_free(&rs);

	/* The line of an error has no CR in it. */
	CHECK_PERR("accept\r\naccept tcp dport x\r\n", 2, 18,
		   "expected a port, a port range, a set (@name) or '{' after 'dport', got 'x'");
	CHECK_EQ(parse_text("accept\r\naccept tcp dport x\r\n", &rs, &err), -EINVAL);
	CHECK_STR(err.line_text, "accept tcp dport x");
	CHECK_EQ(parse_text("policy\r\n", &rs, &err), -EINVAL);
	CHECK_STR(err.msg, "expected 'accept' or 'drop' after 'policy', got end of line");
	CHECK_EQ(err.loc.col, 8);
}

/* ---- Keywords, punctuation and bytes that are no token ---- */

TEST(rules_parse_reject_with)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("reject with icmp type admin-prohibited\n"
		 "reject tcp dport 22 with icmp host-unreachable\n"
		 "reject with icmpv6 type no-route\n"
		 "reject with icmpx type port-unreachable\n"
		 "reject with tcp reset dport 23\n"
		 "reject udp\n",
		 &rs);
	r = rule_at(&rs, 0);
	CHECK_EQ(r->reject, XCT_REJECT_ADMIN);
	CHECK_EQ(r->family, XCT_AF_INET);
	r = rule_at(&rs, 1);
	CHECK_EQ(r->reject, XCT_REJECT_HOST_UNREACH);
	CHECK_EQ(r->proto, 6);
	r = rule_at(&rs, 2);
	CHECK_EQ(r->reject, XCT_REJECT_NO_ROUTE);
	CHECK_EQ(r->family, XCT_AF_INET6);
	r = rule_at(&rs, 3);
	CHECK_EQ(r->reject, XCT_REJECT_PORT_UNREACH);
	CHECK_EQ(r->family, 0);
	r = rule_at(&rs, 4);
	CHECK_EQ(r->reject, XCT_REJECT_TCP_RESET);
	CHECK(r->has_proto && r->proto == 6 && r->dport.present);
	CHECK_STR(r->text, "reject with tcp reset dport 23");
	r = rule_at(&rs, 5);
	CHECK_EQ(r->reject, XCT_REJECT_DEFAULT);
	xct_ruleset_free(&rs);

	CHECK_PERR("drop with tcp reset", 1, 6,
		   "'with' follows 'reject' only (reject with icmp type T, reject with tcp reset)");
	CHECK_PERR("reject with tcp reset with tcp reset", 1, 23, "'with' given twice");
	CHECK_PERR("reject udp with tcp reset", 1, 17,
		   "protocol 'tcp' conflicts with 'udp' earlier in the rule");
	CHECK_PERR("reject ip6 with icmp type admin-prohibited", 1, 17,
		   "'reject with icmp' conflicts with 'ip6' earlier in the rule (IPv4 and IPv6)");
	CHECK_PERR("reject with tcp rst", 1, 17, "expected 'reset' after 'with tcp', got 'rst'");
	CHECK_PERR("reject with icmp type no-route", 1, 23,
		   "expected an icmp type to reject with (net-unreachable, host-unreachable, "
		   "prot-unreachable, port-unreachable or admin-prohibited), got 'no-route'");
	CHECK_PERR("reject with icmpv6 type host-unreachable", 1, 25,
		   "expected an icmpv6 type to reject with (no-route, addr-unreachable, "
		   "port-unreachable or admin-prohibited), got 'host-unreachable'");
	CHECK_PERR("reject with udp", 1, 13,
		   "expected 'icmp', 'icmpv6', 'icmpx' or 'tcp reset' after 'with', got 'udp'");
}

TEST(rules_parse_header_matches)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("drop ip ttl < 5\n"
		 "accept ip6 hoplimit 1-2\n"
		 "accept ip dscp ef\n"
		 "accept ip dscp != cs0-cs1 ip ttl >= 200\n"
		 "accept ip6 dscp 63 ip6 hoplimit > 250\n"
		 "accept ip ttl <= 10 tcp dport 22\n"
		 "accept ip ttl != 64\n",
		 &rs);
	r = rule_at(&rs, 0);
	CHECK(r->ttl.present && !r->ttl.negate && r->ttl.lo == 0 && r->ttl.hi == 4);
	CHECK_EQ(r->family, XCT_AF_INET);
	r = rule_at(&rs, 1);
	CHECK(r->ttl.present && r->ttl.lo == 1 && r->ttl.hi == 2);
	CHECK_EQ(r->family, XCT_AF_INET6);
	r = rule_at(&rs, 2);
	CHECK(r->dscp.present && r->dscp.lo == 46 && r->dscp.hi == 46 && !r->ttl.present);
	r = rule_at(&rs, 3);
	CHECK(r->dscp.present && r->dscp.negate && r->dscp.lo == 0 && r->dscp.hi == 8);
	CHECK(r->ttl.present && r->ttl.lo == 200 && r->ttl.hi == 255);
	r = rule_at(&rs, 4);
	CHECK(r->dscp.lo == 63 && r->ttl.lo == 251 && r->ttl.hi == 255);
	r = rule_at(&rs, 5);
	CHECK(r->ttl.lo == 0 && r->ttl.hi == 10 && r->dport.present);
	r = rule_at(&rs, 6);
	CHECK(r->ttl.negate && r->ttl.lo == 64 && r->ttl.hi == 64);
	xct_ruleset_free(&rs);

	CHECK_PERR("accept ip ttl 256", 1, 15, "'ttl' 256 is out of range (0-255)");
	CHECK_PERR("accept ip dscp 64", 1, 16, "'dscp' 64 is out of range (0-63)");
	CHECK_PERR("accept ip ttl 9-3", 1, 15, "range 9-3 is reversed (did you mean 3-9?)");
	CHECK_PERR("accept ip ttl < 0", 1, 17, "'ttl < 0' matches nothing");
	CHECK_PERR("accept ip dscp > 63", 1, 18, "'dscp > 63' matches nothing");
	CHECK_PERR("accept ip ttl 1 ip ttl 2", 1, 20, "'ttl' given twice");
	CHECK_PERR("accept ip dscp ef2", 1, 16,
		   "expected a DSCP value (0-63) or name (cs0-cs7, af11-af43, ef, va, le) after "
		   "'dscp', got 'ef2'");
	CHECK_PERR("accept ip6 ttl 3", 1, 12,
		   "'ip6 ttl' is not a field: IPv4 has 'ip ttl', IPv6 'ip6 hoplimit'");
	CHECK_PERR("accept ip ttl 5 ip6 saddr ::1", 1, 17,
		   "'ip6' conflicts with 'ip' earlier in the rule (IPv6 and IPv4)");
}

TEST(rules_parse_th_and_ip_protocol)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	PARSE_OK("accept th dport 53\n"
		 "accept ip protocol udp th sport { 67, 68 }\n"
		 "accept ip protocol 47\n",
		 &rs);
	r = rule_at(&rs, 0);
	CHECK(r->dport.present && !r->has_proto && r->family == 0);
	r = rule_at(&rs, 1);
	CHECK(r->sport.present && r->has_proto && r->proto == 17 && r->family == XCT_AF_INET);
	r = rule_at(&rs, 2);
	CHECK(r->has_proto && r->proto == 47 && r->family == XCT_AF_INET);
	xct_ruleset_free(&rs);
	CHECK_PERR("accept th port 53", 1, 11,
		   "expected 'sport' or 'dport' after 'th', got 'port'");
	CHECK_PERR("accept ip protocol 300", 1, 20, "protocol 300 is out of range (0-255)");
	CHECK_PERR("accept ip protocol icmpv6", 1, 20,
		   "'ip protocol icmpv6' is not IPv4's: use 'icmpv6'");
	CHECK_PERR("accept ip protocol tcp udp", 1, 24,
		   "protocol 'udp' conflicts with 'tcp' earlier in the rule");
	CHECK_PERR("accept ip protocol gre th dport 1", 1, 27,
		   "'dport' needs protocol 'tcp' or 'udp', but the rule matches 'gre'");
}

TEST(rules_parse_keyword_errors)
{
	CHECK_PERR("acept tcp", 1, 1, "unknown keyword 'acept' (did you mean 'accept'?)");
	CHECK_PERR("\n  notrak", 2, 3, "unknown keyword 'notrak' (did you mean 'notrack'?)");
	CHECK_PERR("sett x { 1 }", 1, 1, "unknown keyword 'sett' (did you mean 'set'?)");
	CHECK_PERR(
		"permit tcp", 1, 1,
		"unknown keyword 'permit' (expected 'set', 'policy' or a rule: accept, drop, reject, notrack)");
	CHECK_PERR("tcp dport 22 accept", 1, 1,
		   "a rule starts with its action (accept, drop, reject or notrack), got 'tcp'");
	CHECK_PERR(
		"10.0.0.1", 1, 1,
		"expected 'set', 'policy' or a rule (accept, drop, reject, notrack), got '10.0.0.1'");
	CHECK_PERR("{ }", 1, 1,
		   "expected 'set', 'policy' or a rule (accept, drop, reject, notrack), got '{'");
	CHECK_PERR("accept }", 1, 8, "expected a match or an option, got '}'");
	CHECK_PERR("}", 1, 1, "unexpected '}' (no '{' is open)");
	CHECK_PERR("accept tcp dprot 22", 1, 12, "unknown keyword 'dprot' (did you mean 'dport'?)");
	CHECK_PERR("accept tcp sadr 1.2.3.4", 1, 12,
		   "unknown keyword 'sadr' (did you mean 'saddr'?)");
	CHECK_PERR(
		"accept tcp foo", 1, 12,
		"unknown keyword 'foo' (expected a match such as 'tcp dport 22', or 'limit', 'log', 'counter')");
	CHECK_PERR("accept tcp 22", 1, 12,
		   "expected a match or an option, got '22' (did you mean 'dport 22'?)");
	CHECK_PERR("accept 22", 1, 8, "expected a match or an option, got '22'");
	CHECK_PERR(
		"accept tcp dport 22 drop", 1, 21,
		"a rule has one action, at its start: 'drop' after 'accept' (is a newline or ';' missing?)");
	CHECK_PERR("accept tcp set x { 1 }", 1, 12,
		   "unexpected 'set' in a rule (is a newline or ';' missing?)");
	CHECK_PERR("accept l4proto 6", 1, 8, "'l4proto' must follow 'meta' (meta l4proto sctp)");
	CHECK_PERR("accept saddr ! 10.0.0.1", 1, 14, "unexpected '!' (did you mean '!='?)");
	CHECK_PERR("accept iif $lan", 1, 12, "undefined variable '$lan'");
	CHECK_PERR("accept iif $", 1, 12,
		   "expected a variable name after '$' (define NAME = VALUE, then $NAME)");
	CHECK_PERR("accept tcp dport 22 \xe2\x80\x9c", 1, 21,
		   "unexpected character '\xe2\x80\x9c'");
	CHECK_PERR("accept tcp dport 22,", 1, 20,
		   "expected a match or an option, got ',' (a list is written in braces: "
		   "'{ 80, 443 }')");
}

TEST(rules_parse_bad_bytes)
{
	static const char nul[] = "accept\naccept tcp\0dport 22\n";
	struct xct_ruleset rs;
	struct xct_rules_error err;

	CHECK_EQ(xct_rules_parse(T_FILE, nul, sizeof(nul) - 1, &rs, &err), -EINVAL);
	CHECK_EQ(err.loc.line, 2);
	CHECK_EQ(err.loc.col, 11);
	CHECK_STR(err.msg, "NUL byte (a rules file is text, not binary)");
	CHECK_STR(err.line_text, "accept tcp?dport 22");
	CHECK(ruleset_empty(&rs));

	/* Bad bytes are found before any syntax error after them... */
	CHECK_PERR("acept\n# \xff\n", 2, 3, "invalid UTF-8 byte 0xff (a rules file is UTF-8 text)");
	/* ...and in comments too, where the lexer would not look. */
	CHECK_PERR("accept # caf\xc3\n", 1, 13,
		   "invalid UTF-8 byte 0xc3 (a rules file is UTF-8 text)");
	CHECK_PERR("accept \xc0\xaf", 1, 8, "invalid UTF-8 byte 0xc0 (a rules file is UTF-8 text)");
	CHECK_PERR("accept \xed\xa0\x80", 1, 8,
		   "invalid UTF-8 byte 0xed (a rules file is UTF-8 text)");
	CHECK_PERR("accept\x01", 1, 7, "control character 0x01 (a rules file is text)");
	CHECK_PERR("accept\x7f", 1, 7, "control character 0x7f (a rules file is text)");
	CHECK_PERR("accept\x0b", 1, 7, "control character 0x0b (a rules file is text)");

	/* UTF-8 in comments is fine. */
	PARSE_OK("# règles — ünïcode ✓ 🔥\naccept # café\n", &rs);
	CHECK_EQ(rs.n_rules, 1);
	xct_ruleset_free(&rs);
}

/* Errors at the end of the file and the end of a line. */
TEST(rules_parse_eof_eol)
{
	CHECK_PERR(
		"accept tcp dport", 1, 17,
		"expected a port, a port range, a set (@name) or '{' after 'dport', got end of file");
	CHECK_PERR(
		"accept tcp dport\n", 1, 17,
		"expected a port, a port range, a set (@name) or '{' after 'dport', got end of line");
	CHECK_PERR(
		"accept tcp dport # 22\n", 1, 18,
		"expected a port, a port range, a set (@name) or '{' after 'dport', got end of line");
	CHECK_PERR("accept tcp dport;", 1, 17,
		   "expected a port, a port range, a set (@name) or '{' after 'dport', got ';'");
}

/* A failure after many allocations still leaves nothing behind. */
TEST(rules_parse_error_leaves_nothing)
{
	CHECK_PERR("set a { 10.0.0.0/8, ::1 }\nset b { 1, 2 }\n"
		   "accept saddr { 10.0.0.0/8, ::1 } dport { 1, 2 } iif { a, b } icmp type 8\n"
		   "accept iif { a, b, c } saddr { ::1, ::2 } dport { 1 } sport 1 log bad\n",
		   3, 62, "protocol 'icmp' has no ports, but the rule matches 'dport'");
	CHECK_PERR(
		"set a { 10.0.0.0/8 }\naccept iif x sport { 1, 2 } daddr { ::1 } icmpv6 type { 1, 2 }"
		" ct state new limit 1/second log nonsense\n",
		2, 43, "protocol 'icmpv6' has no ports, but the rule matches 'sport'");
	CHECK_PERR(
		"set a { 10.0.0.0/8 }\naccept iif x daddr { ::1 } icmpv6 type { 1, 2 }"
		" ct state new limit 1/second log nonsense\n",
		2, 81,
		"unknown keyword 'nonsense' (expected a match such as 'tcp dport 22', or 'limit', 'log', 'counter')");
}

/* ---- Printing errors ---- */

static char *print_error(const struct xct_rules_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	xct_rules_error_print(f, err);
	fclose(f);
	return buf;
}

static char *parse_and_print(const char *text)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;

	if (!parse_text(text, &rs, &err)) {
		xct_ruleset_free(&rs);
		return strdup("(parsed)");
	}
	return print_error(&err);
}

TEST(rules_parse_error_print)
{
	struct xct_rules_error err;
	char *out;

	out = parse_and_print("set web_ports { 80 }\naccept tcp dport http  # web\n");
	CHECK_STR(out, "t.rules:2:18: error: expected a port, a port range, a set (@name) or '{' "
		       "after 'dport', got 'http'\n"
		       "    accept tcp dport http  # web\n"
		       "                     ^\n");
	free(out);

	/* Tabs stay tabs, so the caret lines up however wide they are. */
	out = parse_and_print("\taccept\ttcp dport\t70000");
	CHECK_STR(out, "t.rules:1:19: error: port 70000 is out of range (0-65535)\n"
		       "    \taccept\ttcp dport\t70000\n"
		       "    \t      \t         \t^\n");
	free(out);

	/* A multi-byte character counts once on the caret line. */
	out = parse_and_print("accept é");
	CHECK_STR(out, "t.rules:1:8: error: unexpected character 'é'\n"
		       "    accept é\n"
		       "           ^\n");
	free(out);
	out = parse_and_print("accept iif \"größe0\" \"");
	CHECK_STR(out, "t.rules:1:12: error: invalid interface name '\"größe0\"' (letters, digits, "
		       "'_', '-' and '.')\n"
		       "    accept iif \"größe0\" \"\n"
		       "               ^\n");
	free(out);

	/* The caret of an unterminated list sits under its '{'. */
	out = parse_and_print("set a {\n  1,\n  2\n");
	CHECK_STR(out, "t.rules:1:7: error: unterminated '{' (opened at line 1)\n"
		       "    set a {\n"
		       "          ^\n");
	free(out);

	/* At the end of a line the caret sits past its last character. */
	out = parse_and_print("policy\n");
	CHECK_STR(out, "t.rules:1:7: error: expected 'accept' or 'drop' after 'policy', got end "
		       "of line\n"
		       "    policy\n"
		       "          ^\n");
	free(out);

	/* Files that cannot be read have no line. */
	memset(&err, 0, sizeof(err));
	snprintf(err.file, sizeof(err.file), "/etc/xct/rules");
	snprintf(err.msg, sizeof(err.msg), "cannot open rules file: No such file or directory");
	out = print_error(&err);
	CHECK_STR(out,
		  "/etc/xct/rules: error: cannot open rules file: No such file or directory\n");
	free(out);

	/* A line longer than line_text keeps its start; no caret past it. */
	memset(&err, 0, sizeof(err));
	snprintf(err.file, sizeof(err.file), "f");
	snprintf(err.msg, sizeof(err.msg), "m");
	snprintf(err.line_text, sizeof(err.line_text), "abc");
	err.loc.line = 1;
	err.loc.col = 300;
	out = print_error(&err);
	CHECK_STR(out, "f:1:300: error: m\n    abc\n");
	free(out);
}

TEST(rules_parse_long_line)
{
	size_t n = 2000, i;
	char *text = malloc(n + 32);
	struct xct_ruleset rs;
	struct xct_rules_error err;

	memcpy(text, "accept dport {", 14);
	for (i = 14; i + 3 <= n; i += 3)
		memcpy(text + i, " 1,", 3);
	memcpy(text + i, " x }", 5);
	CHECK_EQ(parse_text(text, &rs, &err), -EINVAL);
	CHECK_EQ(err.loc.col, i + 2);
	CHECK_STR(err.msg, "expected a port or a port range in the list after 'dport', got 'x'");
	CHECK_EQ(strlen(err.line_text), sizeof(err.line_text) - 1);
	CHECK(!strncmp(err.line_text, "accept dport { 1, 1,", 20));
	free(text);
}

/* ---- Files ---- */

TEST(rules_parse_file)
{
	char path[] = "/tmp/xct-rules-test.XXXXXX";
	struct xct_ruleset rs;
	struct xct_rules_error err;
	size_t n = 200000, i;
	FILE *f;
	int fd, r;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	/* Larger than any first read, to test the growing buffer. */
	fputs("set p {\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "\t%zu,\n", i % 65536);
	fputs("}\npolicy drop\naccept tcp dport @p\n", f);
	fclose(f);

	r = xct_rules_parse_file(path, &rs, &err);
	CHECK_EQ(r, 0);
	CHECK_EQ(rs.n_sets, 1);
	CHECK_EQ(rs.n_sets ? rs.sets[0].n_ports : 0, n);
	CHECK_EQ(rs.policy, XCT_POLICY_DROP);
	CHECK_EQ(rule_at(&rs, 0)->loc.line, n + 4);
	xct_ruleset_free(&rs);

	f = fopen(path, "w");
	fputs("accept\naccept tcp dport 1-\n", f);
	fclose(f);
	r = xct_rules_parse_file(path, &rs, &err);
	CHECK_EQ(r, -EINVAL);
	CHECK_STR(err.file, path);
	CHECK_EQ(err.loc.line, 2);
	CHECK_EQ(err.loc.col, 18);
	CHECK_STR(err.msg, "invalid port range '1-'");
	CHECK_STR(err.line_text, "accept tcp dport 1-");
	CHECK(ruleset_empty(&rs));
	unlink(path);

	r = xct_rules_parse_file(path, &rs, &err);
	CHECK_EQ(r, -ENOENT);
	CHECK_STR(err.file, path);
	CHECK_EQ(err.loc.line, 0);
	CHECK_EQ(err.loc.col, 0);
	CHECK_STR(err.msg, "cannot open rules file: No such file or directory");
	CHECK(ruleset_empty(&rs));

	r = xct_rules_parse_file("/tmp", &rs, &err);
	CHECK_EQ(r, -EISDIR);
	CHECK_EQ(err.loc.line, 0);
	CHECK_STR(err.msg, "cannot read rules file: Is a directory");
	CHECK(ruleset_empty(&rs));

	/* An empty file is an empty ruleset. */
	r = xct_rules_parse_file("/dev/null", &rs, &err);
	CHECK_EQ(r, 0);
	CHECK(ruleset_empty(&rs));
}

/* ---- The element helpers of xct set add ---- */

TEST(rules_parse_prefix_helper)
{
	struct xct_prefix p;
	char msg[256];

	CHECK_EQ(xct_parse_prefix("10.0.0.0/8", &p), 0);
	CHECK_EQ(p.family, XCT_AF_INET);
	CHECK_EQ(p.plen, 8);
	CHECK(p.addr[0] == 10 && p.addr[1] == 0 && p.addr[3] == 0);
	CHECK(!memcmp(p.addr + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12));
	CHECK_EQ(xct_parse_prefix("192.0.2.1", &p), 0);
	CHECK_EQ(p.plen, 32);
	CHECK(p.addr[0] == 192 && p.addr[3] == 1);
	CHECK_EQ(xct_parse_prefix("0.0.0.0/0", &p), 0);
	CHECK_EQ(p.plen, 0);
	CHECK_EQ(xct_parse_prefix("2001:db8::1", &p), 0);
	CHECK_EQ(p.family, XCT_AF_INET6);
	CHECK_EQ(p.plen, 128);
	CHECK(p.addr[0] == 0x20 && p.addr[1] == 0x01 && p.addr[15] == 1);
	CHECK_EQ(xct_parse_prefix("2001:db8:bad::/48", &p), 0);
	CHECK_EQ(p.plen, 48);
	CHECK_EQ(xct_parse_prefix("::/0", &p), 0);
	CHECK_EQ(xct_parse_prefix("::ffff:192.0.2.0/120", &p), 0);
	CHECK_EQ(p.family, XCT_AF_INET6);
	CHECK_EQ(xct_parse_prefix("10.0.0.128/25", &p), 0);

	CHECK_EQ(xct_parse_prefix("10.0.0.1/8", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("10.0.0.0/33", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("::/129", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("10.0.0.0/-1", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("10.0.0.0/ 8", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("10.0.0", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("/8", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("eth0", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("1:2:3:4:5:6:7:8:9", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("10.0.0.0/8 ", &p), -EINVAL);
	CHECK_EQ(xct_parse_prefix("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa::",
				  &p),
		 -EINVAL);

	CHECK_EQ(xct_parse_prefix_msg("10.0.0.1/8", &p, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)");
	CHECK_EQ(xct_parse_prefix_msg("fe80::1/10", &p, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "host bits set in fe80::1/10 (did you mean fe80::/10?)");
	CHECK_EQ(xct_parse_prefix_msg("::/200", &p, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "prefix length 200 is out of range for IPv6 (0-128)");
	CHECK_EQ(xct_parse_prefix_msg("10.0.0.0/99999", &p, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "prefix length 99999 is out of range for IPv4 (0-32)");
	CHECK_EQ(xct_parse_prefix_msg("1.2.3.4.5", &p, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "invalid IPv4 address '1.2.3.4.5'");
	CHECK_EQ(xct_parse_prefix_msg("1.2.3.0/8x", &p, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "invalid prefix length '8x' in '1.2.3.0/8x'");
	CHECK_EQ(xct_parse_prefix_msg("10.0.0.0/8", &p, NULL, 0), 0);
}

TEST(rules_parse_port_helper)
{
	struct xct_port_range r;
	char msg[256];

	CHECK_EQ(xct_parse_port_range("80", &r), 0);
	CHECK(range_is(&r, 80, 80));
	CHECK_EQ(xct_parse_port_range("0", &r), 0);
	CHECK(range_is(&r, 0, 0));
	CHECK_EQ(xct_parse_port_range("65535", &r), 0);
	CHECK(range_is(&r, 65535, 65535));
	CHECK_EQ(xct_parse_port_range("8000-8099", &r), 0);
	CHECK(range_is(&r, 8000, 8099));
	CHECK_EQ(xct_parse_port_range("0-65535", &r), 0);
	CHECK(range_is(&r, 0, 65535));
	CHECK_EQ(xct_parse_port_range("007", &r), 0);
	CHECK(range_is(&r, 7, 7));

	CHECK_EQ(xct_parse_port_range("65536", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("http", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("-", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("-80", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("80-", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("90-80", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("1-2-3", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range(" 80", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("+80", &r), -EINVAL);
	CHECK_EQ(xct_parse_port_range("0x50", &r), -EINVAL);

	CHECK_EQ(xct_parse_port_range_msg("70000", &r, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "port 70000 is out of range (0-65535)");
	CHECK_EQ(xct_parse_port_range_msg("1-70000", &r, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "port 70000 is out of range (0-65535)");
	CHECK_EQ(xct_parse_port_range_msg("90-80", &r, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "port range 90-80 is reversed (did you mean 80-90?)");
	CHECK_EQ(xct_parse_port_range_msg("http", &r, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "invalid port 'http'");
	CHECK_EQ(xct_parse_port_range_msg("1-x", &r, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "invalid port range '1-x'");
}
