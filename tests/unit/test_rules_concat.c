// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of concatenations (ip saddr . tcp dport @allowed): the parser
 * (src/rules/parse_concat.h) field by field and its errors with line and
 * column, the key layout the datapath and the loader share
 * (xct_concat_key() against xct_concat_elem_key()), the command line's
 * element parser, the vmap's expansion into rules, and the records and
 * META decisions the compiler makes of such rules.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rules/compile.h"
#include "rules/ruleset.h"
#include "rules_check.h"
#include "xct/policy.h"

#define C_FILE			   "c.rules"

#define CPARSE_OK(text, rs)	   RULES_OK(C_FILE, text, rs)
#define CCHECK_PERR(text, l, c, m) RULES_ERR(C_FILE, text, l, c, m)

static const char concat_rules[] =
	"set allowed { type ipv4_addr . inet_service; elements = { 10.0.0.1 . 22, 10.0.0.2 . 80 } }\n"
	"set marks {\n"
	"\ttype ipv6_addr . inet_proto . mark\n"
	"\telements = {\n"
	"\t\t2001:db8::1 . tcp . 0x10,\n"
	"\t\t2001:db8::2 . 17 . 7,\n"
	"\t}\n"
	"}\n"
	"set empty { type ipv4_addr . ipv4_addr; }\n"
	"accept ip saddr . tcp dport @allowed\n"
	"accept ip saddr . tcp dport { 10.0.0.3 . 22, 10.0.0.4 . 443 }\n"
	"drop ip daddr . udp sport != 10.0.0.9 . 53\n"
	"accept ip6 saddr . meta l4proto . meta mark @marks\n"
	"accept ct mark . ip saddr . th dport { 5 . 192.0.2.1 . 8080 }\n"
	"drop ip saddr . ip daddr @empty\n";

TEST(rules_concat_parse)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;
	const struct xct_set_def *d;

	CPARSE_OK(concat_rules, &rs);
	CHECK_EQ(rs.n_rules, 6);
	CHECK_EQ(rs.n_sets, 6); /* three named, three anonymous */
	if (rs.n_rules != 6 || rs.n_sets != 6)
		goto out;

	d = &rs.sets[0];
	CHECK_STR(d->name, "allowed");
	CHECK_EQ(d->kind, XCT_SET_CONCAT);
	CHECK(!d->anon);
	CHECK_EQ(d->n_ctypes, 2);
	CHECK_EQ(d->ctypes[0], XCT_CT_IPV4);
	CHECK_EQ(d->ctypes[1], XCT_CT_SERVICE);
	CHECK_EQ(d->n_elems, 2);
	CHECK_EQ(d->elems[1].v[0].prefix.addr[3], 2);
	CHECK_EQ(d->elems[1].v[1].ports.lo, 80);

	d = &rs.sets[1];
	CHECK_EQ(d->n_ctypes, 3);
	CHECK_EQ(d->ctypes[2], XCT_CT_MARK);
	CHECK_EQ(d->n_elems, 2);
	CHECK_EQ(d->elems[0].v[0].prefix.family, XCT_AF_INET6);
	CHECK_EQ(d->elems[0].v[1].num, 6);
	CHECK_EQ(d->elems[0].v[2].num, 0x10);
	CHECK_EQ(d->elems[1].v[1].num, 17);
	CHECK_EQ(rs.sets[2].n_elems, 0);

	r = &rs.rules[0];
	CHECK(r->concat.present && !r->concat.negate);
	CHECK_EQ(r->concat.set, 0);
	CHECK_EQ(r->concat.n, 2);
	CHECK_EQ(r->concat.fields[0], XCT_CF_SADDR4);
	CHECK_EQ(r->concat.fields[1], XCT_CF_DPORT);
	/* What the components imply, as nft's dependencies. */
	CHECK_EQ(r->family, XCT_AF_INET);
	CHECK(r->has_proto && r->proto == 6);
	CHECK(!r->saddr.present && !r->dport.present);

	r = &rs.rules[1];
	CHECK_EQ(r->concat.set, 3);
	CHECK(rs.sets[3].anon);
	CHECK_EQ(rs.sets[3].n_elems, 2);
	CHECK_EQ(rs.sets[3].elems[1].v[1].ports.lo, 443);

	r = &rs.rules[2];
	CHECK(r->concat.negate);
	CHECK_EQ(r->concat.fields[0], XCT_CF_DADDR4);
	CHECK_EQ(r->concat.fields[1], XCT_CF_SPORT);
	CHECK(r->has_proto && r->proto == 17);
	CHECK_EQ(rs.sets[r->concat.set].n_elems, 1);

	r = &rs.rules[3];
	CHECK_EQ(r->family, XCT_AF_INET6);
	CHECK(!r->has_proto);
	CHECK_EQ(r->concat.fields[0], XCT_CF_SADDR6);
	CHECK_EQ(r->concat.fields[1], XCT_CF_PROTO);
	CHECK_EQ(r->concat.fields[2], XCT_CF_META_MARK);

	r = &rs.rules[4];
	CHECK_EQ(r->concat.n, 3);
	CHECK_EQ(r->concat.fields[0], XCT_CF_CT_MARK);
	CHECK_EQ(r->concat.fields[2], XCT_CF_DPORT);
	CHECK(!r->has_proto);
	CHECK_EQ(rs.sets[r->concat.set].elems[0].v[0].num, 5);

	r = &rs.rules[5];
	CHECK_EQ(r->concat.set, 2);
out:
	xct_ruleset_free(&rs);
}

TEST(rules_concat_errors)
{
	CCHECK_PERR("accept ip saddr . tcp dport { 10.0.0.0/8 . 22 }", 1, 31,
		    "'10.0.0.0/8' is a prefix: a concatenation's set holds exact values (nft's "
		    "intervals in concatenations are not supported)");
	CCHECK_PERR("accept ip saddr . tcp dport { 10.0.0.1 . 20-30 }", 1, 42,
		    "'20-30' is a port range: a concatenation's set holds exact values (nft's "
		    "intervals in concatenations are not supported)");
	CCHECK_PERR("accept saddr . tcp dport { 10.0.0.1 . 22 }", 1, 8,
		    "'saddr' in a concatenation needs its family: 'ip saddr' or 'ip6 saddr'");
	CCHECK_PERR("set s { type ipv4_addr . ipv4_addr; }\naccept ip saddr . tcp dport @s", 2, 29,
		    "datatype mismatch, expected concatenation of (IPv4 address, internet network "
		    "service), set 's' has type concatenation of (IPv4 address, IPv4 address)");
	CCHECK_PERR("set s { 10.0.0.1 }\naccept ip saddr . tcp dport @s", 2, 29,
		    "datatype mismatch, expected concatenation of (IPv4 address, internet network "
		    "service), set 's' has type address");
	CCHECK_PERR("accept ip saddr . tcp dport { 22 . 10.0.0.1 }", 1, 31,
		    "expected an IPv4 address, got '22'");
	CCHECK_PERR(
		"accept ip saddr . tcp dport { 2001:db8::1 . 22 }", 1, 31,
		"'2001:db8::1' is an IPv6 address, but the concatenation expects an IPv4 address");
	CCHECK_PERR(
		"accept ip saddr . tcp dport { 10.0.0.1 . 22 . 3 }", 1, 45,
		"the element has more than the 2 values of its type (ipv4_addr . inet_service)");
	CCHECK_PERR("accept ip saddr . tcp dport { 10.0.0.1 }", 1, 40,
		    "expected '.' and a internet network service after '10.0.0.1' (the set's type "
		    "is ipv4_addr . inet_service), got '}'");
	CCHECK_PERR("accept ip saddr . ip6 daddr { 10.0.0.1 . ::1 }", 1, 19,
		    "'ip6' conflicts with 'ip' earlier in the rule (IPv6 and IPv4)");
	CCHECK_PERR("accept ip saddr . ip saddr { 10.0.0.1 . 10.0.0.1 }", 1, 19,
		    "'ip saddr' is twice in the concatenation");
	CCHECK_PERR("accept ip saddr . icmp type { 1.1.1.1 . 3 }", 1, 19,
		    "expected a field after '.' (ip saddr, ip6 daddr, tcp dport, th sport, meta "
		    "l4proto, meta mark, ct mark), got 'icmp'");
	CCHECK_PERR("accept ip saddr . tcp dport @nope", 1, 29, "unknown set '@nope'");
	CCHECK_PERR("set s { type ipv4_addr . inet_service; flags interval; }", 1, 46,
		    "'flags interval' in a concatenation is not supported: xct's concatenations "
		    "hold exact values, in a hash table");
	CCHECK_PERR("set s { type ipv4_addr . inet_service; elements = { 10.0.0.1 . x } }", 1, 64,
		    "expected a port (0-65535), got 'x'");
	CCHECK_PERR("set s { elements = { 1 } }", 1, 9,
		    "'elements' is not needed: a set lists its elements, as in 'set s { "
		    "10.0.0.0/8, 192.0.2.1 }'");
	CCHECK_PERR("set s { type ipv6_addr . ipv6_addr . ipv6_addr . ipv6_addr . mark; }", 1, 62,
		    "the concatenation is longer than 64 bytes, as nft allows");
	CCHECK_PERR(
		"accept ip saddr . tcp dport . ip daddr . udp sport { 1.1.1.1 . 1 . 2.2.2.2 . 2 }",
		1, 42, "protocol 'udp' conflicts with 'tcp' earlier in the rule");
	CCHECK_PERR("set x { type ipv4_addr . inet_service; }\n"
		    "accept ip saddr . tcp dport @x ip daddr . tcp sport @x",
		    2, 35, "a rule has one concatenation");
	CCHECK_PERR("accept ip saddr . meta mark { 1.1.1.1 . zz }", 1, 41,
		    "expected a mark (a number such as 16 or 0x10), got 'zz'");
	CCHECK_PERR("notrack ip saddr . ct mark { 1.1.1.1 . 1 }", 1, 20,
		    "'ct mark' cannot be used with 'notrack' (notrack decides before a packet is "
		    "tracked)");
	CCHECK_PERR(
		"ip saddr . tcp dport vmap { 10.0.0.0/8 . 20-30 : accept, 10.1.0.0/16 . 22 : drop }",
		1, 22, "the keys of the vmap overlap: 10.0.0.0/8 . 20-30 and 10.1.0.0/16 . 22");
	CCHECK_PERR(
		"ip saddr . tcp dport vmap { 10.0.0.1 . 22 : nope }", 1, 45,
		"expected a verdict (accept, drop, reject, jump NAME, goto NAME or return) after "
		"'22 :', got 'nope'");
	CCHECK_PERR("tcp dport 22 ip saddr . tcp dport vmap { 10.0.0.1 . 22 : accept }", 1, 1,
		    "'th dport' is in the vmap's concatenation and matched again in the rule");
	CCHECK_PERR("map m { type inet_service : verdict; elements = { 22 : accept } }\n"
		    "ip saddr . tcp dport vmap @m",
		    2, 27,
		    "datatype mismatch, expected concatenation of (IPv4 address, internet network "
		    "service), map 'm' has type internet network service");
	CCHECK_PERR("masquerade ip saddr . tcp dport { 1.1.1.1 . 1 }", 1, 15,
		    "a NAT rule cannot match a concatenation");
}

/* nft's typed declaration of a set of one type is the set it names. */
TEST(rules_concat_typed_single)
{
	struct xct_ruleset rs;

	CPARSE_OK("set a { type ipv4_addr; elements = { 10.0.0.0/8, 192.0.2.1 } }\n"
		  "set p { type inet_service; flags interval; elements = { 22, 8000-8099 } }\n"
		  "set e { type ipv6_addr; }\n"
		  "accept saddr @a tcp dport @p\n",
		  &rs);
	CHECK_EQ(rs.n_sets, 3);
	if (rs.n_sets == 3) {
		CHECK_EQ(rs.sets[0].kind, XCT_SET_ADDR);
		CHECK_EQ(rs.sets[0].n_prefixes, 2);
		CHECK_EQ(rs.sets[0].n_ctypes, 0);
		CHECK_EQ(rs.sets[1].kind, XCT_SET_PORT);
		CHECK_EQ(rs.sets[1].n_ports, 2);
		CHECK_EQ(rs.sets[2].kind, XCT_SET_ADDR);
	}
	xct_ruleset_free(&rs);
	CCHECK_PERR("set a { type ipv4_addr; elements = { 2001:db8::1 } }", 1, 7,
		    "set 'a' of type ipv4_addr holds an IPv6 address");
}

/* The loader's element keys and the datapath's packet keys agree. */
TEST(rules_concat_key_layout)
{
	const __u8 types[] = {XCT_CT_IPV4, XCT_CT_SERVICE, XCT_CT_PROTO, XCT_CT_MARK};
	const __u8 types6[] = {XCT_CT_IPV6, XCT_CT_IPV6, XCT_CT_SERVICE};
	__u8 a[XCT_CONCAT_DATA + 16], b[XCT_CONCAT_DATA + 16];
	__u8 s4[4] = {10, 0, 0, 1}, d6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2},
	     s6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	struct xct_concat_elem e, back;
	struct xct_concat_pkt pk = {.saddr = s4, .dport = 22, .proto = 6, .meta_mark = 0x10};
	__u32 fields;

	memset(&e, 0, sizeof(e));
	e.v[0].prefix.family = XCT_AF_INET;
	e.v[0].prefix.plen = 32;
	memcpy(e.v[0].prefix.addr, s4, 4);
	e.v[1].ports.lo = e.v[1].ports.hi = 22;
	e.v[2].num = 6;
	e.v[3].num = 0x10;
	xct_concat_elem_key(&e, types, 4, a);
	memset(b, 0, sizeof(b));
	fields = XCT_CF_SADDR4 | XCT_CF_DPORT << 4 | XCT_CF_PROTO << 8 | XCT_CF_META_MARK << 12;
	xct_concat_key(fields, &pk, b);
	CHECK(!memcmp(a, b, sizeof(a)));
	/* network order, 4 bytes a component */
	CHECK_EQ(b[4], 0);
	CHECK_EQ(b[5], 22);
	CHECK_EQ(b[8], 6);
	/* another port is another key */
	pk.dport = 23;
	memset(b, 0, sizeof(b));
	xct_concat_key(fields, &pk, b);
	CHECK(memcmp(a, b, sizeof(a)));
	xct_concat_elem_from_key(a, types, 4, &back);
	CHECK(!memcmp(&back, &e, sizeof(e)));

	/* IPv6: 16 bytes each; the destination in the second slot */
	memset(&e, 0, sizeof(e));
	e.v[0].prefix = (struct xct_prefix){.family = XCT_AF_INET6, .plen = 128};
	memcpy(e.v[0].prefix.addr, s6, 16);
	e.v[1].prefix = (struct xct_prefix){.family = XCT_AF_INET6, .plen = 128};
	memcpy(e.v[1].prefix.addr, d6, 16);
	e.v[2].ports.lo = e.v[2].ports.hi = 443;
	xct_concat_elem_key(&e, types6, 3, a);
	pk = (struct xct_concat_pkt){.saddr = s6, .daddr = d6, .sport = 443};
	memset(b, 0, sizeof(b));
	xct_concat_key(XCT_CF_SADDR6 | XCT_CF_DADDR6 << 4 | XCT_CF_SPORT << 8, &pk, b);
	CHECK(!memcmp(a, b, sizeof(a)));
	CHECK_EQ(b[31], 2);
	CHECK_EQ(b[32], 443 >> 8);
	CHECK_EQ(b[33], 443 & 0xff);
	/* swapped fields are a different tuple */
	memset(b, 0, sizeof(b));
	xct_concat_key(XCT_CF_DADDR6 | XCT_CF_SADDR6 << 4 | XCT_CF_SPORT << 8, &pk, b);
	CHECK(memcmp(a, b, sizeof(a)));
	CHECK_EQ(xct_concat_has_ct_mark(XCT_CF_SADDR4 | XCT_CF_CT_MARK << 8), 1);
	CHECK_EQ(xct_concat_has_ct_mark(fields), 0);
}

/* xct set add|del's elements, and their text back. */
TEST(rules_concat_cli_elems)
{
	const __u8 types[] = {XCT_CT_IPV4, XCT_CT_SERVICE};
	const __u8 tm[] = {XCT_CT_PROTO, XCT_CT_MARK};
	struct xct_concat_elem *v;
	char msg[256], buf[256];
	size_t n;

	CHECK_EQ(xct_parse_concat_elems("{ 10.0.0.1 . 22, 10.0.0.2 . 80 }", types, 2, &v, &n, msg,
					sizeof(msg)),
		 0);
	CHECK_EQ(n, 2);
	if (n == 2) {
		CHECK_EQ(v[1].v[1].ports.lo, 80);
		xct_concat_elem_format(&v[0], types, 2, buf, sizeof(buf));
		CHECK_STR(buf, "10.0.0.1 . 22");
	}
	free(v);
	CHECK_EQ(xct_parse_concat_elems("10.0.0.3 . 443", types, 2, &v, &n, msg, sizeof(msg)), 0);
	CHECK_EQ(n, 1);
	free(v);
	CHECK_EQ(xct_parse_concat_elems("udp . 0x10", tm, 2, &v, &n, msg, sizeof(msg)), 0);
	if (n == 1) {
		xct_concat_elem_format(&v[0], tm, 2, buf, sizeof(buf));
		CHECK_STR(buf, "udp . 0x00000010");
	}
	free(v);
	CHECK_EQ(xct_parse_concat_elems("10.0.0.1 22", types, 2, &v, &n, msg, sizeof(msg)),
		 -EINVAL);
	CHECK_STR(msg,
		  "an element of this set has 2 values joined by ' . ' (ipv4_addr . inet_service)");
	CHECK_EQ(xct_parse_concat_elems("10.0.0.0/8 . 22", types, 2, &v, &n, msg, sizeof(msg)),
		 -EINVAL);
	CHECK_STR(msg, "'10.0.0.0/8' is a prefix: a concatenation's set holds exact values (nft's "
		       "intervals in concatenations are not supported)");
	CHECK_EQ(xct_parse_concat_elems("{ 10.0.0.1 . 22 ", types, 2, &v, &n, msg, sizeof(msg)),
		 -EINVAL);
	CHECK_STR(msg, "expected ',' or '}' after an element");
	CHECK_EQ(xct_parse_concat_elems("10.0.0.1 . 22 . 1", types, 2, &v, &n, msg, sizeof(msg)),
		 -EINVAL);
	CHECK_EQ(xct_parse_concat_elems("{ }", types, 2, &v, &n, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "no element given");
}

/* A concatenation's vmap is a rule per element, with a match per
 * component: prefixes and ranges are fine there. */
TEST(rules_concat_vmap)
{
	struct xct_ruleset rs;
	const struct xct_rule *r;

	CPARSE_OK("map m { type ipv4_addr . inet_service : verdict; elements = { 10.9.0.1 . 53 : "
		  "accept } }\n"
		  "chain web {\n\taccept\n}\n"
		  "ip saddr . tcp dport vmap { 10.1.0.0/16 . 22 : accept, 10.2.0.1 . 80-90 : jump "
		  "web, 10.2.0.1 . 91 : drop }\n"
		  "ip saddr . udp dport vmap @m\n"
		  "meta mark . th dport vmap { 7 . 22 : reject }\n",
		  &rs);
	CHECK_EQ(rs.n_rules, 5);
	if (rs.n_rules != 5)
		goto out;
	r = &rs.rules[0];
	CHECK_EQ(r->action, XCT_ACTION_ACCEPT);
	CHECK(r->saddr.present && r->saddr.n == 1 && r->saddr.list[0].plen == 16);
	CHECK(r->dport.present && r->dport.list[0].lo == 22);
	CHECK(r->has_proto && r->proto == 6);
	CHECK(!r->concat.present);
	r = &rs.rules[1]; /* the chain's accept, with the element's matches */
	CHECK_EQ(r->action, XCT_ACTION_ACCEPT);
	CHECK(r->dport.present && r->dport.list[0].lo == 80 && r->dport.list[0].hi == 90);
	r = &rs.rules[2];
	CHECK_EQ(r->action, XCT_ACTION_DROP);
	r = &rs.rules[3];
	CHECK(r->has_proto && r->proto == 17);
	CHECK(r->dport.present && r->dport.list[0].lo == 53);
	r = &rs.rules[4];
	CHECK_EQ(r->action, XCT_ACTION_REJECT);
	CHECK(r->meta_mark.present && r->meta_mark.cmp.val[0] == 7 && r->meta_mark.cmp.n == 1);
	CHECK_EQ(r->meta_mark.cmp.mask, 0xffffffffu);
out:
	xct_ruleset_free(&rs);
}

static __u32 no_iface(const char *name, void *ctx)
{
	return 0;
}

/* Records, the fast path's exclusion, and a jump's copies. */
TEST(rules_concat_compile)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct xct_rules_error err;
	const struct xct_rule_rec *rec;
	__u32 est;

	CPARSE_OK("set allowed { type ipv4_addr . inet_service; elements = { 10.0.0.1 . 22 } }\n"
		  "chain c {\n\taccept ct state established\n\tdrop\n}\n"
		  "accept ip saddr . tcp dport @allowed\n"
		  "drop ip saddr . ct mark != { 1.1.1.1 . 5 }\n"
		  "jump c ip saddr . tcp dport @allowed\n",
		  &rs);
	if (rs.n_rules != 4)
		goto out_rs;
	if (xct_rules_compile(&rs, C_FILE, no_iface, NULL, &c, &err)) {
		CHECK_FAIL("compile: %s", err.msg);
		goto out_rs;
	}
	rec = &c.recs[0];
	CHECK_EQ(rec->flags & (XCT_RULE_CONCAT | XCT_RULE_CONCAT_NEG), XCT_RULE_CONCAT);
	CHECK_EQ(rec->concat_set, 1);
	CHECK_EQ(rec->concat_fields, XCT_CF_SADDR4 | XCT_CF_DPORT << 4);
	rec = &c.recs[1];
	CHECK_EQ(rec->flags & (XCT_RULE_CONCAT | XCT_RULE_CONCAT_NEG),
		 XCT_RULE_CONCAT | XCT_RULE_CONCAT_NEG);
	CHECK_EQ(rec->concat_set, 2);
	CHECK_EQ(rec->concat_fields, XCT_CF_SADDR4 | XCT_CF_CT_MARK << 4);
	/* the chain's rules carry the jump's concatenation */
	rec = &c.recs[2];
	CHECK_EQ(rec->flags & XCT_RULE_CONCAT, XCT_RULE_CONCAT);
	CHECK_EQ(rec->concat_set, 1);
	CHECK_EQ(c.recs[3].concat_set, 1);
	/* An established packet's class starts with the chain's copy of
	 * 'accept ct state established', which needs the set: it must not
	 * decide alone. */
	est = c.meta[xct_meta_index(XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_ESTABLISHED, 6)];
	CHECK_EQ(c.classes[est].decided, 0);
	xct_compiled_free(&c);
out_rs:
	xct_ruleset_free(&rs);
}

/* A jump's concatenation and its chain's cannot be one lookup. */
TEST(rules_concat_jump_conflict)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;
	int r = rules_parse_text(C_FILE,
				 "chain c {\n\taccept ip daddr . tcp dport { 2.2.2.2 . 1 }\n}\n"
				 "jump c ip saddr . tcp dport { 1.1.1.1 . 1 }\n",
				 &rs, &err);

	CHECK_EQ(r, -EINVAL);
	CHECK(strstr(err.msg, "a concatenation of the jump and one of its chain's rule") != NULL);
	if (!r)
		xct_ruleset_free(&rs);
}
