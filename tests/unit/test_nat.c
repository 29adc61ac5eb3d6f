// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of NAT: the masquerade, snat and dnat statements of the rules file
 * (fields, errors with line and column), their compiled form, and the
 * logic of include/xct/nat.h the datapath runs (which rule applies, the
 * port ranges and the order ports are tried in, the address of a range,
 * the reply tuple conntrack shows).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "check.h"
#include "rules/compile.h"
#include "rules/ruleset.h"
#include "xct/csum.h"
#include "xct/nat.h"

#define T_FILE "nat.rules"

static __u32 nat_ifindex(const char *name, void *ctx)
{
	(void)ctx;
	if (!strcmp(name, "eth0"))
		return 7;
	if (!strcmp(name, "wan"))
		return 9;
	return 0;
}

static int parse(const char *text, struct xct_ruleset *rs, struct xct_rules_error *err)
{
	return xct_rules_parse(T_FILE, text, strlen(text), rs, err);
}

#define NAT_PERR(text, l, c, m)                                                                    \
	do {                                                                                       \
		struct xct_ruleset __rs;                                                           \
		struct xct_rules_error __e;                                                        \
		CHECK_EQ(parse((text), &__rs, &__e), -EINVAL);                                     \
		CHECK_EQ(__e.loc.line, (l));                                                       \
		CHECK_EQ(__e.loc.col, (c));                                                        \
		CHECK_STR(__e.msg, (m));                                                           \
		CHECK_EQ(__rs.n_nat_rules, 0);                                                     \
	} while (0)

static __u32 v4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

TEST(nat_parse_rules)
{
	const char *text = "masquerade oif wan\n"
			   "accept tcp dport 22\n"
			   "snat to 192.0.2.1-192.0.2.4:1024-2047 oif eth0 saddr 10.0.0.0/8 tcp\n"
			   "masquerade to :20000-20099 oif != eth0 udp dport != 53\n"
			   "snat to 2001:db8::1 ip6 daddr 2001:db8:1::/48\n";
	struct xct_rules_error err;
	struct xct_ruleset rs;
	const struct xct_rule *r;

	CHECK_EQ(parse(text, &rs, &err), 0);
	CHECK_EQ(rs.n_rules, 1); /* the filter rule only */
	CHECK_EQ(rs.n_nat_rules, 4);
	r = &rs.nat_rules[0];
	CHECK_EQ(r->action, XCT_ACTION_MASQUERADE);
	CHECK_EQ(r->hook, XCT_HOOK_EGRESS);
	CHECK_EQ(r->n_ifaces, 1);
	CHECK_STR(r->ifaces[0], "wan");
	CHECK_EQ(r->nat_to.family, 0);
	CHECK(!r->nat_to.has_ports);
	CHECK_STR(r->text, "masquerade oif wan");

	r = &rs.nat_rules[1];
	CHECK_EQ(r->action, XCT_ACTION_SNAT);
	CHECK_EQ(r->loc.line, 3);
	CHECK_EQ(r->nat_to.family, XCT_AF_INET);
	CHECK(!memcmp(r->nat_to.addr_lo, "\xc0\x00\x02\x01", 4));
	CHECK(!memcmp(r->nat_to.addr_hi, "\xc0\x00\x02\x04", 4));
	CHECK(r->nat_to.has_ports);
	CHECK_EQ(r->nat_to.port_lo, 1024);
	CHECK_EQ(r->nat_to.port_hi, 2047);
	CHECK(r->saddr.present);
	CHECK_EQ(r->saddr.list[0].plen, 8);
	CHECK_EQ(r->proto, 6);

	r = &rs.nat_rules[2];
	CHECK_EQ(r->action, XCT_ACTION_MASQUERADE);
	CHECK(r->iface_negate);
	CHECK_EQ(r->nat_to.port_lo, 20000);
	CHECK_EQ(r->nat_to.port_hi, 20099);
	CHECK(r->dport.negate);

	r = &rs.nat_rules[3];
	CHECK_EQ(r->nat_to.family, XCT_AF_INET6);
	CHECK(!r->nat_to.has_ports);
	xct_ruleset_free(&rs);
}

TEST(nat_parse_modes)
{
	const char *text = "masquerade oif wan random,persistent\n"
			   "masquerade to :20000-20099 fully-random oif wan\n"
			   "snat to 192.0.2.1-192.0.2.4 persistent oif eth0\n"
			   "snat to 192.0.2.1 oif eth0\n";
	struct xct_rules_error err;
	struct xct_ruleset rs;

	CHECK_EQ(parse(text, &rs, &err), 0);
	CHECK_EQ(rs.n_nat_rules, 4);
	CHECK_EQ(rs.nat_rules[0].nat_to.mode, XCT_NAT_MODE_RANDOM | XCT_NAT_MODE_PERSISTENT);
	CHECK_STR(rs.nat_rules[0].text, "masquerade oif wan random,persistent");
	CHECK_EQ(rs.nat_rules[1].nat_to.mode, XCT_NAT_MODE_FULLY_RANDOM);
	CHECK_EQ(rs.nat_rules[1].nat_to.port_lo, 20000);
	CHECK_EQ(rs.nat_rules[2].nat_to.mode, XCT_NAT_MODE_PERSISTENT);
	CHECK_EQ(rs.nat_rules[3].nat_to.mode, 0);
	xct_ruleset_free(&rs);

	NAT_PERR("masquerade random,\n", 1, 19,
		 "expected random, fully-random or persistent after ',', got end of line");
	NAT_PERR("masquerade random random\n", 1, 19, "'random' given twice");
	NAT_PERR("masquerade random,fully-random\n", 1, 19,
		 "'random' and 'fully-random' exclude each other");
	NAT_PERR("dnat to 10.0.0.1 iif eth0 persistent\n", 1, 27,
		 "'persistent' applies to masquerade and snat, which choose a port; dnat "
		 "translates to the port it is given");
}

TEST(nat_parse_errors)
{
	NAT_PERR("snat 192.0.2.1\n", 1, 6,
		 "expected 'to' after 'snat' (snat to ADDR[:PORT-PORT]), got '192.0.2.1'");
	NAT_PERR("snat to\n", 1, 8, "expected an address after 'to', got end of line");
	NAT_PERR("snat to 10.0.0.0/8\n", 1, 9,
		 "snat translates to an address, not a prefix: '10.0.0.0/8'");
	NAT_PERR("snat to 10.0.0.300\n", 1, 9, "invalid IPv4 address '10.0.0.300'");
	NAT_PERR("snat to 10.0.0.9-10.0.0.1\n", 1, 9,
		 "address range '10.0.0.9-10.0.0.1' is reversed");
	NAT_PERR("snat to 10.0.0.1:2000-1000\n", 1, 9,
		 "port range 2000-1000 is reversed (did you mean 1000-2000?)");
	NAT_PERR("snat to 10.0.0.1:0-10\n", 1, 9, "a translated port must be at least 1, got 0");
	NAT_PERR("snat to 2001:db8::1-2001:db8::9\n", 1, 9,
		 "an IPv6 snat address range is not supported: give one address");
	NAT_PERR("snat to 2001:db8::1 ip saddr 10.0.0.0/8\n", 1, 21,
		 "'ip' conflicts with '2001:db8::1' earlier in the rule (IPv4 and IPv6)");
	NAT_PERR("masquerade to 10.0.0.1\n", 1, 15,
		 "masquerade translates to the outgoing interface's address: only ports may "
		 "follow 'to' (to :1024-65535), got '10.0.0.1'");
	NAT_PERR("masquerade iif eth0\n", 1, 12,
		 "'masquerade' is decided after routing, on the way out: use 'oif', not 'iif'");
	NAT_PERR("masquerade ct state new\n", 1, 12,
		 "'ct state' cannot be used with 'masquerade' (a NAT rule sees only a "
		 "connection's first packet)");
	NAT_PERR("masquerade oif eth0 log\n", 1, 21, "'log' cannot be used with 'masquerade'");
	NAT_PERR("snat to 10.0.0.1 saddr { 10.1.0.0/16, 10.2.0.0/16 }\n", 1, 18,
		 "'saddr' in a 'snat' rule takes one address or prefix");
	NAT_PERR("set s { 80 }\nmasquerade dport @s\n", 2, 12,
		 "'dport' in a 'masquerade' rule takes one port or port range");
	NAT_PERR("masquerade oif { eth0, wan }\n", 1, 12,
		 "'oif' in a 'masquerade' rule takes one interface");
	NAT_PERR("masquerade meta l4proto gre\n", 1, 12,
		 "'masquerade' translates tcp, udp, icmp and icmpv6 only, not 'gre'");
	NAT_PERR("masquerade oif eth0 to :1000-2000\n", 1, 21,
		 "'to' must follow 'masquerade' directly");
}

TEST(nat_compile_rules)
{
	const char *text = "snat to 192.0.2.1-192.0.2.4:1024-2047 oif eth0 saddr 10.0.0.0/8 tcp\n"
			   "masquerade oif != wan udp dport 5000-5010\n";
	struct xct_rules_error err;
	struct xct_compiled c;
	struct xct_ruleset rs;
	const struct xct_nat_rule *n;

	CHECK_EQ(parse(text, &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), 0);
	CHECK_EQ(c.n_nat, 2);
	n = &c.nat[0];
	CHECK_EQ(n->kind, XCT_NAT_SNAT);
	CHECK_EQ(n->family, XCT_AF_INET);
	CHECK_EQ(n->line, 1);
	CHECK_EQ(n->ifindex, 7);
	CHECK_EQ(n->flags, XCT_NATM_PROTO | XCT_NATM_IFACE | XCT_NATM_SADDR | XCT_NATM_PORT_RANGE);
	CHECK_EQ(n->proto, 6);
	CHECK_EQ(n->saddr.v4, v4("10.0.0.0"));
	CHECK_EQ(n->splen, 8);
	CHECK_EQ(n->to_lo.v4, v4("192.0.2.1"));
	CHECK_EQ(n->to_hi.v4, v4("192.0.2.4"));
	CHECK_EQ(n->to_port_lo, 1024);
	CHECK_EQ(n->to_port_hi, 2047);
	n = &c.nat[1];
	CHECK_EQ(n->kind, XCT_NAT_MASQUERADE);
	CHECK_EQ(n->family, 0);
	CHECK_EQ(n->ifindex, 9);
	CHECK_EQ(n->flags, XCT_NATM_PROTO | XCT_NATM_IFACE | XCT_NATM_IFACE_NEG | XCT_NATM_DPORT);
	CHECK_EQ(n->dport_lo, 5000);
	CHECK_EQ(n->dport_hi, 5010);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);

	/* An unknown interface is found at compile time, at its name. */
	CHECK_EQ(parse("masquerade oif eth9\n", &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_EQ(err.loc.line, 1);
	CHECK_EQ(err.loc.col, 16);
	CHECK_STR(err.msg, "interface 'eth9' does not exist");
	xct_ruleset_free(&rs);
}

static struct xct_tuple tuple4(const char *src, __u16 sport, const char *dst, __u16 dport,
			       __u8 proto)
{
	struct xct_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = XCT_AF_INET;
	t.proto = proto;
	t.src.v4 = v4(src);
	t.dst.v4 = v4(dst);
	t.sport = htons(sport);
	t.dport = htons(dport);
	return t;
}

TEST(nat_rule_match)
{
	struct xct_nat_rule r;
	struct xct_tuple t = tuple4("10.1.2.3", 40000, "192.0.2.9", 80, 6);

	memset(&r, 0, sizeof(r));
	CHECK(xct_nat_rule_match(&r, &t, 3)); /* no match: everything */
	r.flags = XCT_NATM_IFACE;
	r.ifindex = 3;
	CHECK(xct_nat_rule_match(&r, &t, 3));
	CHECK(!xct_nat_rule_match(&r, &t, 4));
	r.flags |= XCT_NATM_IFACE_NEG;
	CHECK(!xct_nat_rule_match(&r, &t, 3));
	CHECK(xct_nat_rule_match(&r, &t, 4));

	memset(&r, 0, sizeof(r));
	r.flags = XCT_NATM_SADDR;
	r.saddr.v4 = v4("10.0.0.0");
	r.splen = 8;
	CHECK(xct_nat_rule_match(&r, &t, 1));
	r.splen = 16; /* 10.0.0.0/16 */
	CHECK(!xct_nat_rule_match(&r, &t, 1));
	r.flags |= XCT_NATM_SADDR_NEG;
	CHECK(xct_nat_rule_match(&r, &t, 1));

	memset(&r, 0, sizeof(r));
	r.flags = XCT_NATM_DPORT;
	r.dport_lo = 80;
	r.dport_hi = 80;
	CHECK(xct_nat_rule_match(&r, &t, 1));
	r.dport_lo = 81;
	r.dport_hi = 90;
	CHECK(!xct_nat_rule_match(&r, &t, 1));
	/* A port match never matches a protocol without ports. */
	t.proto = 1;
	r.flags |= XCT_NATM_DPORT_NEG;
	CHECK(!xct_nat_rule_match(&r, &t, 1));

	memset(&r, 0, sizeof(r));
	r.family = XCT_AF_INET6;
	CHECK(!xct_nat_rule_match(&r, &t, 1));
	r.family = 0;
	r.flags = XCT_NATM_PROTO;
	r.proto = 17;
	CHECK(!xct_nat_rule_match(&r, &t, 1));
}

TEST(nat_port_choice)
{
	struct xct_nat_rule r;
	__u16 lo, hi;
	__u32 i, seen[4] = {0};

	memset(&r, 0, sizeof(r));
	/* nf_nat's ranges: below 512 stays below 512, below 1024 below 1024. */
	xct_nat_port_range(&r, XCT_AF_INET, 6, 80, &lo, &hi);
	CHECK(lo == 1 && hi == 511);
	xct_nat_port_range(&r, XCT_AF_INET, 6, 800, &lo, &hi);
	CHECK(lo == 600 && hi == 1023);
	xct_nat_port_range(&r, XCT_AF_INET, 17, 40000, &lo, &hi);
	CHECK(lo == 1024 && hi == 65535);
	xct_nat_port_range(&r, XCT_AF_INET, 1, 7, &lo, &hi);
	CHECK(lo == 0 && hi == 65535);
	r.flags = XCT_NATM_PORT_RANGE;
	r.to_port_lo = 20000;
	r.to_port_hi = 20003;
	xct_nat_port_range(&r, XCT_AF_INET, 6, 40000, &lo, &hi);
	CHECK(lo == 20000 && hi == 20003);

	/* The connection's own port first when the range holds it. */
	CHECK_EQ(xct_nat_port_try(0, 40000, 1024, 65535, 12345, 1), 40000);
	CHECK_EQ(xct_nat_port_try(1, 40000, 1024, 65535, 0, 1), 1025);
	/* random, fully-random: the walk from the random start, at once. */
	CHECK_EQ(xct_nat_port_try(0, 40000, 1024, 65535, 12345, 0), 1024 + 12345);
	/* Outside the range: the walk starts at once; it covers every port
	 * of the range exactly once in size tries. */
	for (i = 0; i < 4; i++)
		seen[xct_nat_port_try(i, 40000, 20000, 20003, 0xfffffffeU, 1) - 20000]++;
	CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1);
	CHECK_EQ(xct_nat_port_try(65535, 1, 1, 65535, 0xffffffffU, 1),
		 (__u16)(1 + (0xffffffffU + 65535U) % 65535));
}

TEST(nat_pick_addr)
{
	struct xct_nat_rule r;
	union xct_addr src, dst, a, b;
	__u32 lo = ntohl(v4("192.0.2.1")), n, i, j, hits[4] = {0}, moved = 0;

	memset(&r, 0, sizeof(r));
	r.to_lo.v4 = v4("192.0.2.1");
	r.to_hi.v4 = v4("192.0.2.4");
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	dst.v4 = v4("198.51.100.7");
	for (i = 0; i < 256; i++) {
		src.v4 = htonl(0x0a000000 + i);
		a = xct_nat_pick_addr(&r, &src, &dst, XCT_AF_INET);
		b = xct_nat_pick_addr(&r, &src, &dst, XCT_AF_INET);
		CHECK_EQ(a.v4, b.v4); /* one source and destination, one address */
		n = ntohl(a.v4) - lo;
		CHECK(n < 4);
		if (n < 4)
			hits[n]++;
	}
	/* Sources spread over the whole range. */
	CHECK(hits[0] && hits[1] && hits[2] && hits[3]);

	/* Without persistent, one source reaches other servers from other
	 * addresses; with it, from one. */
	for (i = 0; i < 16; i++) {
		src.v4 = htonl(0x0a000000 + i);
		dst.v4 = v4("198.51.100.1");
		r.mode = 0;
		a = xct_nat_pick_addr(&r, &src, &dst, XCT_AF_INET);
		for (j = 2; j < 10; j++) {
			dst.v4 = htonl(ntohl(v4("198.51.100.0")) + j);
			r.mode = 0;
			b = xct_nat_pick_addr(&r, &src, &dst, XCT_AF_INET);
			moved += a.v4 != b.v4;
			r.mode = XCT_NAT_MODE_PERSISTENT;
			CHECK_EQ(xct_nat_pick_addr(&r, &src, &dst, XCT_AF_INET).v4,
				 xct_nat_pick_addr(&r, &src, &src, XCT_AF_INET).v4);
		}
	}
	CHECK(moved > 16 * 8 / 2);
}

TEST(nat_reply_tuple)
{
	struct xct_tuple t = tuple4("10.0.0.2", 40000, "192.0.2.9", 80, 6), out, reply;
	struct xct_nat_binding b;
	struct xct_ct_key key, rkey;
	union xct_addr a;
	__u16 port;
	__u8 side = 0;

	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	memset(&b, 0, sizeof(b));
	b.manip = XCT_CT_SRC_NAT;
	b.addr.v4 = v4("198.51.100.1");
	b.port = htons(1234);
	xct_nat_reply_tuple(&key, side, &b, NULL, &reply);
	CHECK_EQ(reply.src.v4, v4("192.0.2.9"));
	CHECK_EQ(reply.dst.v4, v4("198.51.100.1"));
	CHECK_EQ(ntohs(reply.sport), 80);
	CHECK_EQ(ntohs(reply.dport), 1234);
	/* Without a binding: the plain reply. */
	xct_nat_reply_tuple(&key, side, NULL, NULL, &reply);
	CHECK_EQ(reply.dst.v4, v4("10.0.0.2"));

	/* The claimed key is the reply packet's own key. */
	xct_nat_src_tuple(&t, &b.addr, b.port, &out);
	CHECK_EQ(xct_key_from_tuple(&out, &rkey, &side), 0);
	{
		struct xct_tuple back = tuple4("192.0.2.9", 80, "198.51.100.1", 1234, 6);
		struct xct_ct_key k2;
		__u8 s2;

		CHECK_EQ(xct_key_from_tuple(&back, &k2, &s2), 0);
		CHECK(xct_key_eq(&k2, &rkey));
		CHECK(!xct_key_eq(&k2, &key));
	}
	/* And the reply is put back to the original source. */
	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	xct_nat_orig_source(&key, side, &a, &port);
	CHECK_EQ(a.v4, v4("10.0.0.2"));
	CHECK_EQ(ntohs(port), 40000);

	/* ICMP echo: the identifier is translated in both directions. */
	memset(&t, 0, sizeof(t));
	t.family = XCT_AF_INET;
	t.proto = 1;
	t.src.v4 = v4("10.0.0.2");
	t.dst.v4 = v4("192.0.2.9");
	t.icmp_type = 8;
	t.sport = 700; /* host order, as the parser gives it */
	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	b.port = 701;
	xct_nat_reply_tuple(&key, side, &b, NULL, &reply);
	CHECK_EQ(reply.icmp_type, 0);
	CHECK_EQ(reply.sport, 701);
	CHECK_EQ(reply.dst.v4, v4("198.51.100.1"));
	xct_nat_orig_source(&key, side, &a, &port);
	CHECK_EQ(a.v4, v4("10.0.0.2"));
	CHECK_EQ(port, 700);
}

/* The checksum of n 16-bit words, as the packet would carry it. */
static __u16 full_csum(const __u16 *w, int n)
{
	__u32 sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += w[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

TEST(nat_csum_incremental_equals_full)
{
	__u16 w[16], hc;
	__u32 seed = 12345, i, k, old32, new32, old128[4], new128[4];

	for (k = 0; k < 2000; k++) {
		for (i = 0; i < 16; i++) {
			seed = seed * 1103515245 + 12345;
			w[i] = (__u16)(seed >> 8);
		}
		/* Words that make the sum all ones: RFC 1624's corner. */
		if (k == 0) {
			memset(w, 0, sizeof(w));
			w[0] = 0xffff;
		}
		hc = full_csum(w, 16);
		seed = seed * 1103515245 + 12345;
		i = seed % 16;
		hc = xct_csum_replace16(hc, w[i], (__u16)(seed >> 16));
		w[i] = (__u16)(seed >> 16);
		CHECK_EQ(hc, full_csum(w, 16));

		memcpy(&old32, &w[4], 4);
		new32 = seed ^ 0x5a5a1234;
		hc = xct_csum_replace32(hc, old32, new32);
		memcpy(&w[4], &new32, 4);
		CHECK_EQ(hc, full_csum(w, 16));

		/* An IPv6 address: words 8 to 15. */
		memcpy(old128, &w[8], 16);
		for (i = 0; i < 4; i++) {
			seed = seed * 1103515245 + 12345;
			new128[i] = seed;
		}
		hc = xct_csum_replace128(hc, old128, new128);
		memcpy(&w[8], new128, 16);
		CHECK_EQ(hc, full_csum(w, 16));
	}
}

TEST(dnat_parse_rules)
{
	const char *text = "dnat to 10.231.2.2:80 iif wan tcp dport 8080\n"
			   "dnat to 192.0.2.7 udp daddr 198.51.100.0/24 dport 5000-5010\n"
			   "dnat to 2001:db8::7 ip6 iif != eth0\n";
	struct xct_rules_error err;
	struct xct_ruleset rs;
	const struct xct_rule *r;

	CHECK_EQ(parse(text, &rs, &err), 0);
	CHECK_EQ(rs.n_rules, 0);
	CHECK_EQ(rs.n_nat_rules, 3);
	r = &rs.nat_rules[0];
	CHECK_EQ(r->action, XCT_ACTION_DNAT);
	CHECK_EQ(r->hook, XCT_HOOK_INGRESS);
	CHECK_EQ(r->n_ifaces, 1);
	CHECK_STR(r->ifaces[0], "wan");
	CHECK_EQ(r->nat_to.family, XCT_AF_INET);
	CHECK(r->nat_to.has_ports);
	CHECK_EQ(r->nat_to.port_lo, 80);
	CHECK_EQ(r->nat_to.port_hi, 80);
	CHECK_STR(r->text, "dnat to 10.231.2.2:80 iif wan tcp dport 8080");
	r = &rs.nat_rules[1];
	CHECK(!r->nat_to.has_ports);
	CHECK(r->daddr.present);
	CHECK_EQ(r->dport.n, 1);
	r = &rs.nat_rules[2];
	CHECK_EQ(r->nat_to.family, XCT_AF_INET6);
	CHECK(r->iface_negate);
	xct_ruleset_free(&rs);
}

TEST(dnat_parse_errors)
{
	NAT_PERR("dnat 10.0.0.1\n", 1, 6,
		 "expected 'to' after 'dnat' (dnat to ADDR[:PORT]), got '10.0.0.1'");
	NAT_PERR("dnat to\n", 1, 8, "expected an address after 'to', got end of line");
	NAT_PERR("dnat to :80 tcp\n", 1, 9, "expected an address after 'to', got ':80'");
	NAT_PERR("dnat to 10.0.0.0/8\n", 1, 9,
		 "dnat translates to an address, not a prefix: '10.0.0.0/8'");
	NAT_PERR("dnat to 10.0.0.1-10.0.0.4 tcp\n", 1, 9,
		 "dnat translates to one address (dnat to ADDR[:PORT]), got '10.0.0.1-10.0.0.4'");
	NAT_PERR("dnat to 10.0.0.1:80-90 tcp\n", 1, 9,
		 "dnat translates to one port (dnat to ADDR[:PORT]), got '10.0.0.1:80-90'");
	NAT_PERR("dnat to 10.0.0.1:80 dport 8080\n", 1, 1,
		 "'dnat to ADDR:PORT' needs 'tcp' or 'udp' in the rule");
	NAT_PERR("dnat to 10.0.0.1:80 icmp\n", 1, 1,
		 "'dnat to ADDR:PORT' needs 'tcp' or 'udp' in the rule");
	NAT_PERR("dnat to 10.0.0.1 oif eth0\n", 1, 18,
		 "'dnat' is decided before routing, on the way in: use 'iif', not 'oif'");
	NAT_PERR("dnat to 10.0.0.1 iif { eth0, wan }\n", 1, 18,
		 "'iif' in a 'dnat' rule takes one interface");
	NAT_PERR("dnat to 10.0.0.1 ct state new\n", 1, 18,
		 "'ct state' cannot be used with 'dnat' (a NAT rule sees only a "
		 "connection's first packet)");
	NAT_PERR("dnat to 2001:db8::1 ip daddr 10.0.0.0/8\n", 1, 21,
		 "'ip' conflicts with '2001:db8::1' earlier in the rule (IPv4 and IPv6)");
}

TEST(dnat_compile_rules)
{
	const char *text = "dnat to 10.231.2.2:80 iif wan tcp dport 8080\n"
			   "masquerade oif eth0\n";
	struct xct_rules_error err;
	struct xct_compiled c;
	struct xct_ruleset rs;
	const struct xct_nat_rule *n;

	CHECK_EQ(parse(text, &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), 0);
	CHECK_EQ(c.n_nat, 2);
	CHECK_EQ(c.has_dnat, 1);
	n = &c.nat[0];
	CHECK_EQ(n->kind, XCT_NAT_DNAT);
	CHECK_EQ(n->family, XCT_AF_INET);
	CHECK_EQ(n->ifindex, 9);
	CHECK_EQ(n->flags, XCT_NATM_PROTO | XCT_NATM_IFACE | XCT_NATM_DPORT | XCT_NATM_PORT_RANGE);
	CHECK_EQ(n->dport_lo, 8080);
	CHECK_EQ(n->dport_hi, 8080);
	CHECK_EQ(n->to_lo.v4, v4("10.231.2.2"));
	CHECK_EQ(n->to_port_lo, 80);
	CHECK_EQ(c.nat[1].kind, XCT_NAT_MASQUERADE);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);

	CHECK_EQ(parse("masquerade oif eth0\n", &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), 0);
	CHECK_EQ(c.has_dnat, 0);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);

	CHECK_EQ(parse("dnat to 10.0.0.1 iif eth9\n", &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_EQ(err.loc.line, 1);
	CHECK_EQ(err.loc.col, 22);
	CHECK_STR(err.msg, "interface 'eth9' does not exist");
	xct_ruleset_free(&rs);
}

/* dnat to { ... }: a set of backends, each with its port or none. */
TEST(dnat_backends_compile)
{
	const char *text = "dnat to { 10.0.0.2:80, 10.0.0.3:8080,\n"
			   "          10.0.0.4 } iif wan tcp dport 80\n"
			   "dnat to { 2001:db8::2, 2001:db8::3 } iif wan\n";
	struct xct_rules_error err;
	struct xct_compiled c;
	struct xct_ruleset rs;
	const struct xct_nat_rule *n;
	union xct_addr a6;

	CHECK_EQ(parse(text, &rs, &err), 0);
	CHECK_EQ(rs.n_nat_rules, 2);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), 0);
	CHECK_EQ(c.n_nat, 2);
	n = &c.nat[0];
	CHECK_EQ(n->kind, XCT_NAT_DNAT);
	CHECK_EQ(n->family, XCT_AF_INET);
	CHECK_EQ(n->n_backends, 3);
	CHECK_EQ(n->flags, XCT_NATM_PROTO | XCT_NATM_IFACE | XCT_NATM_DPORT);
	CHECK_EQ(n->backends[0].addr.v4, v4("10.0.0.2"));
	CHECK_EQ(n->backends[0].port, 80);
	CHECK_EQ(n->backends[1].addr.v4, v4("10.0.0.3"));
	CHECK_EQ(n->backends[1].port, 8080);
	CHECK_EQ(n->backends[2].addr.v4, v4("10.0.0.4"));
	CHECK_EQ(n->backends[2].port, 0);
	CHECK_EQ(n->line, 1);
	n = &c.nat[1];
	CHECK_EQ(n->family, XCT_AF_INET6);
	CHECK_EQ(n->n_backends, 2);
	CHECK_EQ(inet_pton(AF_INET6, "2001:db8::3", a6.bytes), 1);
	CHECK_EQ(memcmp(n->backends[1].addr.bytes, a6.bytes, 16), 0);
	CHECK_EQ(n->backends[1].port, 0);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);

	/* One target stays what it was: no set. */
	CHECK_EQ(parse("dnat to 10.0.0.2:80 tcp\n", &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, T_FILE, nat_ifindex, NULL, &c, &err), 0);
	CHECK_EQ(c.nat[0].n_backends, 0);
	CHECK_EQ(c.nat[0].to_lo.v4, v4("10.0.0.2"));
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
}

TEST(dnat_backends_errors)
{
	char many[512];
	int i, o;

	o = snprintf(many, sizeof(many), "dnat to {");
	for (i = 0; i < 17; i++)
		o += snprintf(many + o, sizeof(many) - o, "%s10.0.0.%d", i ? ", " : " ", i + 1);
	snprintf(many + o, sizeof(many) - o, " }\n");
	/* The 17th backend, at column 10 + 16 * 10 - ... : find it. */
	NAT_PERR(many, 1, (unsigned)(strstr(many, "10.0.0.17") - many) + 1,
		 "dnat takes at most 16 backends");
	NAT_PERR("dnat to { 10.0.0.2, 2001:db8::2 }\n", 1, 21,
		 "the backends of one dnat rule are of one family: '2001:db8::2' is IPv6, "
		 "'10.0.0.2' before it is IPv4");
	NAT_PERR("dnat to { 10.0.0.2:80, 10.0.0.3 }\n", 1, 1,
		 "'dnat to ADDR:PORT' needs 'tcp' or 'udp' in the rule");
	NAT_PERR("dnat to { 10.0.0.2, 10.0.0.3:80 } icmp\n", 1, 1,
		 "'dnat to ADDR:PORT' needs 'tcp' or 'udp' in the rule");
	NAT_PERR("dnat to { }\n", 1, 9, "empty list '{ }' after 'dnat to'");
	NAT_PERR("dnat to { 10.0.0.2,\n  10.0.0.0/24 } tcp\n", 2, 3,
		 "dnat translates to an address, not a prefix: '10.0.0.0/24'");
	NAT_PERR("dnat to { 10.0.0.2-10.0.0.9 }\n", 1, 11,
		 "dnat translates to one address (dnat to ADDR[:PORT]), got '10.0.0.2-10.0.0.9'");
	NAT_PERR("snat to { 10.0.0.2, 10.0.0.3 }\n", 1, 9,
		 "only dnat takes a set of targets, snat translates to one");
	NAT_PERR("dnat to { 10.0.0.2 10.0.0.3 }\n", 1, 20,
		 "expected ',' or '}' after '10.0.0.2', got '10.0.0.3'");
}

/* The starting backend is the same for the same tuple and spread over
 * the backends for many. */
TEST(dnat_backend_hash)
{
	unsigned int n, i, k;

	/* Client ports alone must spread, for two backends and for more. */
	for (n = 2; n <= 5; n++) {
		unsigned int seen[5] = {0};

		for (i = 0; i < 3000; i++) {
			struct xct_tuple t =
				tuple4("203.0.113.5", (__u16)(20000 + i), "198.51.100.1", 80, 6);
			__u32 h = xct_nat_backend_hash(&t);

			CHECK_EQ(xct_nat_backend_hash(&t), h);
			seen[h % n]++;
		}
		for (k = 0; k < n; k++)
			CHECK(seen[k] > 3000 / n * 8 / 10 && seen[k] < 3000 / n * 12 / 10);
	}
}

/* A port-forwarded connection as conntrack shows it: the original tuple
 * to the public address, the reply from the inner server; the claimed key
 * is the reply packet's own, and the reply's source goes back to the
 * public address and port. */
TEST(dnat_reply_tuple)
{
	struct xct_tuple t = tuple4("203.0.113.5", 40000, "198.51.100.1", 8080, 6), out, reply;
	struct xct_tuple back = tuple4("10.231.2.2", 80, "203.0.113.5", 40000, 6);
	struct xct_ct_key key, rkey, k2;
	struct xct_nat_binding b, snat;
	union xct_addr a, inner;
	__u16 port;
	__u8 side = 0, s2;

	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	inner.v6[0] = inner.v6[1] = inner.v6[2] = inner.v6[3] = 0;
	inner.v4 = v4("10.231.2.2");
	memset(&b, 0, sizeof(b));
	b.manip = XCT_CT_DST_NAT;
	b.addr = inner;
	b.port = htons(80);
	xct_nat_reply_tuple(&key, side, &b, NULL, &reply);
	CHECK_EQ(reply.src.v4, v4("10.231.2.2"));
	CHECK_EQ(reply.dst.v4, v4("203.0.113.5"));
	CHECK_EQ(ntohs(reply.sport), 80);
	CHECK_EQ(ntohs(reply.dport), 40000);

	/* The inner tuple source-translated too (hairpin): the server
	 * answers to the router's address and port, as conntrack shows. */
	memset(&snat, 0, sizeof(snat));
	snat.manip = XCT_CT_SRC_NAT;
	snat.addr.v4 = v4("10.231.2.1");
	snat.port = htons(61000);
	xct_nat_reply_tuple(&key, side, &b, &snat, &reply);
	CHECK_EQ(reply.src.v4, v4("10.231.2.2"));
	CHECK_EQ(ntohs(reply.sport), 80);
	CHECK_EQ(reply.dst.v4, v4("10.231.2.1"));
	CHECK_EQ(ntohs(reply.dport), 61000);

	xct_nat_dst_tuple(&t, &inner, htons(80), &out);
	CHECK_EQ(out.src.v4, v4("203.0.113.5"));
	CHECK_EQ(ntohs(out.dport), 80);
	CHECK_EQ(xct_key_from_tuple(&out, &rkey, &s2), 0);
	CHECK_EQ(xct_key_from_tuple(&back, &k2, &s2), 0);
	CHECK(xct_key_eq(&k2, &rkey));
	CHECK(!xct_key_eq(&k2, &key));
	xct_nat_orig_dest(&key, side, &a, &port);
	CHECK_EQ(a.v4, v4("198.51.100.1"));
	CHECK_EQ(ntohs(port), 8080);

	/* ICMP echo keeps its identifier; only the address moves. */
	memset(&t, 0, sizeof(t));
	t.family = XCT_AF_INET;
	t.proto = 1;
	t.src.v4 = v4("203.0.113.5");
	t.dst.v4 = v4("198.51.100.1");
	t.icmp_type = 8;
	t.sport = 700;
	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	b.port = 0;
	xct_nat_reply_tuple(&key, side, &b, NULL, &reply);
	CHECK_EQ(reply.src.v4, v4("10.231.2.2"));
	CHECK_EQ(reply.icmp_type, 0);
	CHECK_EQ(reply.sport, 700);
	xct_nat_dst_tuple(&t, &inner, 0, &out);
	CHECK_EQ(out.sport, 700);
	CHECK_EQ(out.dst.v4, v4("10.231.2.2"));
	xct_nat_orig_dest(&key, side, &a, &port);
	CHECK_EQ(a.v4, v4("198.51.100.1"));
}
