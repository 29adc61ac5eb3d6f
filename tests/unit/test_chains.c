// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of user chains and verdict maps as written (src/rules/parse.c)
 * and as expanded (src/rules/chains.c): the expanded list of each jump,
 * goto and return combination, rule by rule, and every error with its
 * FILE:LINE:COLUMN.  That the expanded list decides as the chains would is
 * the randomized test of test_rules_compile.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rules/ruleset.h"
#include "rules_check.h"
#include "xct/abi.h"

#define C_FILE "c.rules"

#define CHAIN_OK(text, rs)	  RULES_OK(C_FILE, text, rs)
#define CHAIN_ERR(text, l, c, m) RULES_ERR(C_FILE, text, l, c, m)

/* The expanded list, one word per rule: "A" accept, "D" drop, "R>N" a
 * return going on from rule N; each followed by ":LINE". */
static void shape(const struct xct_ruleset *rs, char *buf, size_t n)
{
	static const char *const a[] = {[XCT_ACTION_ACCEPT] = "A",
					[XCT_ACTION_DROP] = "D",
					[XCT_ACTION_REJECT] = "J",
					[XCT_ACTION_NOTRACK] = "N"};
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; i < rs->n_rules && off < n; i++) {
		const struct xct_rule *r = &rs->rules[i];

		if (r->action == XCT_ACTION_RETURN)
			off += snprintf(buf + off, n - off, "%sR>%u:%u", i ? " " : "", r->skip_to,
					r->loc.line);
		else
			off += snprintf(buf + off, n - off, "%s%s:%u", i ? " " : "",
					r->action <= XCT_ACTION_NOTRACK ? a[r->action] : "?",
					r->loc.line);
	}
}

#define CHECK_SHAPE(text, want)                                                                    \
	do {                                                                                       \
		struct xct_ruleset __rs;                                                           \
		char __b[512];                                                                     \
		CHAIN_OK((text), &__rs);                                                           \
		shape(&__rs, __b, sizeof(__b));                                                    \
		CHECK_STR(__b, (want));                                                            \
		xct_ruleset_free(&__rs);                                                           \
	} while (0)

TEST(chains_jump_inlines_with_the_jumps_matches)
{
	struct xct_ruleset rs;

	CHAIN_OK("jump web tcp saddr 10.0.0.0/8\n"
		 "accept udp\n"
		 "chain web {\n"
		 "\taccept dport 80\n"
		 "\tdrop saddr 10.1.0.0/16\n"
		 "}\n",
		 &rs);
	CHECK_EQ(rs.n_written, 4);
	CHECK_EQ(rs.n_chains, 1);
	CHECK_STR(rs.chains[0].name, "web");
	CHECK_EQ(rs.n_rules, 3);
	if (rs.n_rules == 3) {
		/* accept tcp saddr 10.0.0.0/8 dport 80 */
		CHECK_EQ(rs.rules[0].action, XCT_ACTION_ACCEPT);
		CHECK(rs.rules[0].has_proto && rs.rules[0].proto == 6);
		CHECK_EQ(rs.rules[0].saddr.n, 1);
		CHECK_EQ(rs.rules[0].saddr.list[0].plen, 8);
		CHECK_EQ(rs.rules[0].dport.n, 1);
		CHECK_EQ(rs.rules[0].dport.list[0].lo, 80);
		CHECK_EQ(rs.rules[0].src, 2);
		CHECK_STR(rs.rules[0].text, "accept dport 80");
		/* drop tcp saddr 10.1.0.0/16: the longer prefix of the two */
		CHECK_EQ(rs.rules[1].action, XCT_ACTION_DROP);
		CHECK_EQ(rs.rules[1].saddr.n, 1);
		CHECK_EQ(rs.rules[1].saddr.list[0].plen, 16);
		CHECK(rs.rules[1].has_proto);
		CHECK_EQ(rs.rules[2].action, XCT_ACTION_ACCEPT);
		CHECK_EQ(rs.rules[2].proto, 17);
		CHECK_EQ(rs.rules[2].src, 1);
	}
	xct_ruleset_free(&rs);
}

TEST(chains_expanded_shapes)
{
	/* return: on from the first rule after the chain's copy */
	CHECK_SHAPE("jump a\naccept tcp\nchain a {\nreturn dport 22\ndrop udp\n}\n",
		    "R>2:4 D:5 A:2");
	/* a return that ends a chain changes nothing, and is left out */
	CHECK_SHAPE("jump a\naccept\nchain a {\ndrop udp\nreturn dport 22\n}\n", "D:4 A:2");
	/* an unconditional return: the rest of its chain is never reached */
	CHECK_SHAPE("jump a tcp\naccept\nchain a {\ndrop dport 1\nreturn\ndrop dport 2\n}\n",
		    "D:4 R>2:5 A:2");
	/* goto: the chain, then a return with the goto's matches */
	CHECK_SHAPE("jump a\naccept\nchain a {\ngoto b tcp\ndrop udp\n}\nchain b {\ndrop dport "
		    "1\n}\n",
		    "D:8 R>3:4 D:5 A:2");
	/* goto in the base list goes to the policy */
	CHECK_SHAPE("goto b tcp\naccept\nchain b {\ndrop dport 1\n}\n", "D:4 R>3:1 A:2");
	/* nested jumps: each copy patched to its own end */
	CHECK_SHAPE("jump a\naccept\nchain a {\njump b udp\nreturn dport 5\ndrop\n}\nchain b "
		    "{\nreturn sport 7\nreject dport 8\ndrop dport 9\n}\n",
		    "R>3:9 J:10 D:11 R>5:5 D:6 A:2");
	/* a chain jumped to twice is copied twice */
	CHECK_SHAPE("jump a tcp\njump a udp\nchain a {\naccept dport 1\n}\n", "A:4 A:4");
	/* conflicting matches: no copy at all */
	CHECK_SHAPE("jump a ip tcp\nchain a {\naccept udp\naccept ip6\n}\n", "");
	/* a chain no one jumps to is allowed, and costs nothing */
	CHECK_SHAPE("accept\nchain unused {\ndrop\n}\n", "A:1");
	/* vmap: a rule per element, jump elements inlined */
	CHECK_SHAPE("tcp dport vmap { 22 : accept, 23 : drop, 80-89 : jump web }\naccept\n"
		    "chain web {\nreject saddr 10.0.0.0/8\n}\n",
		    "A:1 D:1 J:4 A:2");
}

TEST(chains_conjunction_of_lists)
{
	struct xct_ruleset rs;

	/* ports: in the jump's and the rule's; saddr: in one, not the other */
	CHAIN_OK("jump a dport 10-20 saddr != 10.0.0.0/24\n"
		 "chain a {\n"
		 "accept dport { 15-30, 5 } saddr 10.0.0.0/16\n"
		 "drop dport != 12 iif != eth0\n"
		 "}\n",
		 &rs);
	CHECK_EQ(rs.n_rules, 2);
	if (rs.n_rules == 2) {
		const struct xct_rule *r = &rs.rules[0];
		size_t i;

		CHECK_EQ(r->dport.n, 1);
		CHECK_EQ(r->dport.list[0].lo, 15);
		CHECK_EQ(r->dport.list[0].hi, 20);
		CHECK(!r->saddr.negate);
		/* 10.0.0.0/16 without 10.0.0.0/24: 8 prefixes, /17 to /24 */
		CHECK_EQ(r->saddr.n, 8);
		for (i = 0; i < r->saddr.n; i++)
			CHECK_EQ(r->saddr.list[i].plen, 17 + i);
		r = &rs.rules[1];
		CHECK(!r->dport.negate);
		CHECK_EQ(r->dport.n, 2);
		CHECK_EQ(r->dport.list[0].hi, 11);
		CHECK_EQ(r->dport.list[1].lo, 13);
		CHECK(r->saddr.negate);
		CHECK_EQ(r->n_ifaces, 1);
		CHECK(r->iface_negate);
	}
	xct_ruleset_free(&rs);
}

TEST(chains_errors)
{
	CHAIN_ERR("jump web\n", 1, 6, "unknown chain 'web'");
	CHAIN_ERR("accept saddr vmap { 10.0.0.0/8 : drop }\n", 1, 1,
		  "a vmap rule takes its verdict from the map: write it without 'accept' (tcp "
		  "dport vmap { 22 : accept })");
	CHAIN_ERR("jump\n", 1, 5, "expected a chain name after 'jump', got end of line");
	CHAIN_ERR("chain a {\njump b\n}\nchain b {\ngoto a tcp\n}\n", 5, 6,
		  "jump loop: chain 'a' is reached again from chain 'b'");
	CHAIN_ERR("chain a {\njump a\n}\n", 2, 6,
		  "jump loop: chain 'a' is reached again from chain 'a'");
	/* a loop among chains no rule reaches is an error too, as in nft */
	CHAIN_ERR("accept\nchain a {\ndport vmap { 1 : jump b }\n}\nchain b {\njump a\n}\n", 6, 6,
		  "jump loop: chain 'a' is reached again from chain 'b'");
	CHAIN_ERR("chain a {\naccept\n", 1, 9, "unterminated chain 'a' (its '}' is missing)");
	CHAIN_ERR("chain a {\nchain b {\n}\n}\n", 2, 1,
		  "chains do not nest: chain 'a' (line 1) is not closed");
	CHAIN_ERR("chain a {\n}\nchain a {\n}\n", 3, 7, "chain 'a' is already defined (at line 1)");
	CHAIN_ERR("chain a { accept\n}\n", 1, 11,
		  "expected end of line after '{' (a chain's rules start on the next line), got "
		  "'accept'");
	CHAIN_ERR("jump a limit 10/second\nchain a {\n}\n", 1, 1,
		  "'limit' cannot be used with 'jump' (put it on the rules of the chain)");
	CHAIN_ERR("goto a log\nchain a {\n}\n", 1, 1,
		  "'log' cannot be used with 'goto' (put it on the rules of the chain)");
	CHAIN_ERR("jump a tcp\njump a udp\nchain a {\naccept limit 5/second\n}\n", 2, 6,
		  "the rule on line 4 has a 'limit' and is reached from more than one jump: each "
		  "copy would have a bucket of its own");
	CHAIN_ERR("set s { 10.0.0.0/8 }\njump a saddr 10.0.0.0/8\nchain a {\naccept saddr @s\n}\n",
		  2, 6,
		  "this rule and the rule on line 4 cannot be combined: a set (@name) and another "
		  "match on the same address (xct copies a jump's matches into each rule of its "
		  "chain)");
	CHAIN_ERR("jump a ct state established\nchain a {\nnotrack udp\n}\n", 1, 6,
		  "this rule and the rule on line 3 cannot be combined: 'ct state' of the jump and "
		  "'notrack' (decided before tracking) (xct copies a jump's matches into each rule "
		  "of its chain)");
	CHAIN_ERR("}\n", 1, 1, "unexpected '}' (no '{' is open)");
	CHAIN_ERR("chain a {\npolicy drop\n}\n", 2, 1,
		  "'policy' cannot be inside a chain (chain 'a', line 1, is not closed)");
	CHAIN_ERR("chain a {\nset s { 80 }\n}\n", 2, 1,
		  "'set' cannot be inside a chain (chain 'a', line 1, is not closed)");
	CHAIN_ERR("chain a {\nmasquerade oif lo\n}\n", 2, 1,
		  "NAT rules are a list of their own: 'masquerade' cannot be inside a chain");
}

TEST(chains_depth_limit)
{
	char text[4096];
	size_t off = 0;
	int i;

	/* 15 nested jumps are nft's most (a jump stack of 16 with the base
	 * chain); the 16th is refused at its jump. */
	off += snprintf(text + off, sizeof(text) - off, "jump c1\n");
	for (i = 1; i <= 15; i++)
		off += snprintf(text + off, sizeof(text) - off, "chain c%d {\njump c%d\n}\n", i,
				i + 1);
	off += snprintf(text + off, sizeof(text) - off, "chain c16 {\naccept\n}\n");
	CHAIN_ERR(text, 3 + 3 * 14, 6,
		  "jumps nest deeper than 15 chains (as nftables' jump stack allows): 'c16' is "
		  "reached through 16");
	off = 0;
	off += snprintf(text + off, sizeof(text) - off, "jump c1\n");
	for (i = 1; i <= 14; i++)
		off += snprintf(text + off, sizeof(text) - off, "chain c%d {\njump c%d\n}\n", i,
				i + 1);
	off += snprintf(text + off, sizeof(text) - off, "chain c15 {\naccept\n}\n");
	CHECK_SHAPE(text, "A:45");
}

TEST(chains_expansion_bound)
{
	/* Each level doubles: 2^15 rules do not fit in 32,767. */
	char text[4096];
	size_t off = 0;
	int i;

	off += snprintf(text + off, sizeof(text) - off, "jump c1\n");
	for (i = 1; i <= 14; i++)
		off += snprintf(text + off, sizeof(text) - off,
				"chain c%d {\njump c%d saddr 10.0.0.0/8\njump c%d daddr "
				"10.0.0.0/8\n}\n",
				i, i + 1, i + 1);
	off += snprintf(text + off, sizeof(text) - off,
			"chain c15 {\naccept dport 1\naccept dport 2\n}\n");
	CHAIN_ERR(text, 4 + 4 * 13, 6,
		  "the chains expand to more than 32767 rules, the most a ruleset holds (each "
		  "jump copies its chain's rules)");
}

TEST(vmap_parse_and_errors)
{
	struct xct_ruleset rs;

	CHAIN_OK("saddr vmap { 10.0.0.0/8 : drop, 2001:db8::/32 : accept, 192.0.2.1: reject }\n",
		 &rs);
	CHECK_EQ(rs.n_written, 1);
	CHECK_EQ(rs.n_rules, 3);
	if (rs.n_rules == 3) {
		CHECK_EQ(rs.rules[0].action, XCT_ACTION_DROP);
		CHECK_EQ(rs.rules[0].saddr.n, 1);
		CHECK_EQ(rs.rules[1].saddr.list[0].family, XCT_AF_INET6);
		CHECK_EQ(rs.rules[2].action, XCT_ACTION_REJECT);
		CHECK_EQ(rs.rules[2].saddr.list[0].plen, 32);
	}
	xct_ruleset_free(&rs);

	CHAIN_ERR("tcp dport vmap { 22 : accept, 20-30 : drop }\n", 1, 11,
		  "the keys of the vmap overlap: 20-30 and 22-22");
	CHAIN_ERR("tcp dport vmap { 22 accept }\n", 1, 21,
		  "expected ':' and a verdict after '22', got 'accept'");
	CHAIN_ERR("tcp dport vmap { 22 : notrack }\n", 1, 23,
		  "expected a verdict (accept, drop, reject, jump NAME, goto NAME or return) after "
		  "'22 :', got 'notrack'");
	CHAIN_ERR("tcp dport vmap { 22 : jump nowhere }\n", 1, 28, "unknown chain 'nowhere'");
	CHAIN_ERR("tcp dport 22 dport vmap { 22 : accept }\n", 1, 14, "'dport' given twice");
	CHAIN_ERR("tcp dport vmap { 22 : accept } dport 22\n", 1, 1,
		  "'dport' given twice (it is the key of the vmap)");
	CHAIN_ERR("ip6 saddr vmap { 10.0.0.1 : accept }\n", 1, 18,
		  "'10.0.0.1' is IPv4, but the vmap holds IPv6 addresses");
	CHAIN_ERR("tcp dport vmap @nope\n", 1, 16, "unknown map '@nope'");
	CHAIN_ERR("tcp dport 22\n", 1, 1,
		  "a rule starts with its action (accept, drop, reject or notrack), got 'tcp'");
}

TEST(map_declared_and_used)
{
	struct xct_ruleset rs;

	CHAIN_OK("map ports {\n"
		 "\ttype inet_service : verdict\n"
		 "\telements = { 22 : accept,\n"
		 "\t\t80 : jump web }\n"
		 "}\n"
		 "tcp dport vmap @ports\n"
		 "chain web {\n"
		 "\tdrop saddr 10.0.0.0/8\n"
		 "\taccept\n"
		 "}\n",
		 &rs);
	CHECK_EQ(rs.n_maps, 1);
	CHECK_STR(rs.maps[0].name, "ports");
	CHECK_EQ(rs.maps[0].n, 2);
	CHECK_EQ(rs.n_rules, 3);
	if (rs.n_rules == 3) {
		CHECK_EQ(rs.rules[0].action, XCT_ACTION_ACCEPT);
		CHECK_EQ(rs.rules[0].dport.list[0].lo, 22);
		CHECK_EQ(rs.rules[1].action, XCT_ACTION_DROP);
		CHECK_EQ(rs.rules[1].dport.list[0].lo, 80);
		CHECK_EQ(rs.rules[2].dport.list[0].lo, 80);
	}
	xct_ruleset_free(&rs);

	CHAIN_ERR("map m { type inet_service : verdict }\nsaddr vmap @m\n", 2, 12,
		  "map 'm' is keyed by ports, not addresses");
	CHAIN_ERR("map m { type ipv4_addr : verdict; elements = { 2001:db8::1 : drop } }\n", 1, 48,
		  "'2001:db8::1' is IPv6, but m holds IPv4 addresses");
	CHAIN_ERR("map m { type ether_addr : verdict }\n", 1, 14,
		  "expected inet_service, ipv4_addr or ipv6_addr after 'type', got 'ether_addr'");
	CHAIN_ERR("map m { elements = { 1 : drop } }\n", 1, 9,
		  "'type' comes before 'elements' in map 'm'");
}
