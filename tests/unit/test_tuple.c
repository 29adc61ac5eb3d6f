// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the canonical connection key (include/xct/tuple.h): one key
 * for both directions of a TCP/UDP/generic flow with the sender's side, the
 * ordering of addresses and ports in network byte order, the ICMP query key
 * with the requester on side 0, and the original and reply tuples rebuilt
 * from a key.
 */
#include <arpa/inet.h>

#include "addr.h"
#include "check.h"
#include "xct/tuple.h"

static struct xct_tuple ports_tuple(__u8 family, __u8 proto, union xct_addr src, __u16 sport,
				    union xct_addr dst, __u16 dport)
{
	struct xct_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = family;
	t.proto = proto;
	t.src = src;
	t.dst = dst;
	t.sport = htons(sport);
	t.dport = htons(dport);
	return t;
}

static struct xct_tuple icmp_tuple(__u8 family, union xct_addr src, union xct_addr dst, __u8 type,
				   __u16 id)
{
	struct xct_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = family;
	t.proto = family == XCT_AF_INET ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6;
	t.src = src;
	t.dst = dst;
	t.icmp_type = type;
	t.sport = id;
	return t;
}

static struct xct_tuple reversed(const struct xct_tuple *t)
{
	struct xct_tuple r = *t;

	r.src = t->dst;
	r.dst = t->src;
	r.sport = t->dport;
	r.dport = t->sport;
	return r;
}

static int same_key(const struct xct_ct_key *a, const struct xct_ct_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static int same_addr(const union xct_addr *a, const union xct_addr *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Both directions of a flow give one key; returns the forward sender side. */
static int check_both_directions(const struct xct_tuple *fwd, struct xct_ct_key *key)
{
	struct xct_tuple back = reversed(fwd);
	struct xct_ct_key k2;
	__u8 s1 = 9, s2 = 9;

	CHECK_EQ(xct_key_from_tuple(fwd, key, &s1), 0);
	CHECK_EQ(xct_key_from_tuple(&back, &k2, &s2), 0);
	CHECK(same_key(key, &k2));
	CHECK(s1 <= 1);
	CHECK_EQ(s2, !s1);
	CHECK(same_addr(&key->addr[s1], &fwd->src));
	CHECK(same_addr(&key->addr[!s1], &fwd->dst));
	CHECK_EQ(key->family, fwd->family);
	CHECK_EQ(key->proto, fwd->proto);
	CHECK_EQ(key->zone, 0);
	return s1;
}

TEST(tuple_tcp_v4_both_directions)
{
	struct xct_tuple t = ports_tuple(XCT_AF_INET, XCT_IPPROTO_TCP, v4("10.0.0.2"), 40000,
					 v4("10.0.0.1"), 80);
	struct xct_ct_key key;

	CHECK_EQ(check_both_directions(&t, &key), 1);
	CHECK(same_addr(&key.addr[0], &t.dst));
	CHECK_EQ(key.port[0], htons(80));
	CHECK_EQ(key.port[1], htons(40000));
	CHECK_EQ(key.addr[0].v6[1] | key.addr[0].v6[2] | key.addr[0].v6[3], 0);
}

TEST(tuple_udp_v4_address_order_is_network_order)
{
	/* 1.0.0.2 < 2.0.0.1 byte by byte, though not as little-endian
	 * integers. */
	struct xct_tuple t =
		ports_tuple(XCT_AF_INET, XCT_IPPROTO_UDP, v4("1.0.0.2"), 9, v4("2.0.0.1"), 8);
	struct xct_ct_key key;

	CHECK_EQ(check_both_directions(&t, &key), 0);
	CHECK_EQ(key.port[0], htons(9));
	CHECK_EQ(key.port[1], htons(8));
}

TEST(tuple_tcp_udp_v6_both_directions)
{
	struct xct_tuple t = ports_tuple(XCT_AF_INET6, XCT_IPPROTO_TCP, v6("2001:db8::1:0"), 5000,
					 v6("2001:db8::ffff"), 22);
	struct xct_ct_key key;

	/* The addresses differ in their last two words: ...:1:0 is higher. */
	CHECK_EQ(check_both_directions(&t, &key), 1);
	CHECK_EQ(key.port[1], htons(5000));

	t = ports_tuple(XCT_AF_INET6, XCT_IPPROTO_UDP, v6("2001:db8::2"), 53, v6("2002::1"), 1053);
	CHECK_EQ(check_both_directions(&t, &key), 0);
	CHECK_EQ(key.port[0], htons(53));
	CHECK_EQ(key.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(key.family, XCT_AF_INET6);
}

TEST(tuple_same_address_ordered_by_port)
{
	/* Ports compare in host order: 256 > 1 although htons(256) < htons(1)
	 * on a little-endian machine. */
	struct xct_tuple t =
		ports_tuple(XCT_AF_INET, XCT_IPPROTO_TCP, v4("127.0.0.1"), 256, v4("127.0.0.1"), 1);
	struct xct_ct_key key;

	CHECK_EQ(check_both_directions(&t, &key), 1);
	CHECK_EQ(key.port[0], htons(1));
	CHECK_EQ(key.port[1], htons(256));

	t = ports_tuple(XCT_AF_INET6, XCT_IPPROTO_UDP, v6("::1"), 4000, v6("::1"), 5000);
	CHECK_EQ(check_both_directions(&t, &key), 0);
	CHECK_EQ(key.port[0], htons(4000));
}

TEST(tuple_generic_protocol_has_no_ports)
{
	struct xct_tuple t = ports_tuple(XCT_AF_INET, 47, v4("192.0.2.9"), 0, v4("192.0.2.3"), 0);
	struct xct_ct_key key;

	t.sport = 0x1234; /* whatever is there is not part of the key */
	t.dport = 0x5678;
	CHECK_EQ(check_both_directions(&t, &key), 1);
	CHECK_EQ(key.port[0], 0);
	CHECK_EQ(key.port[1], 0);
	CHECK_EQ(key.proto, 47);
}

TEST(tuple_icmp_echo_request_and_reply)
{
	/* The requester has the higher address: still side 0. */
	struct xct_tuple req = icmp_tuple(XCT_AF_INET, v4("10.0.0.9"), v4("10.0.0.2"), 8, 77);
	struct xct_tuple rep = icmp_tuple(XCT_AF_INET, v4("10.0.0.2"), v4("10.0.0.9"), 0, 77);
	struct xct_ct_key k1, k2;
	__u8 s1 = 9, s2 = 9;

	CHECK_EQ(xct_key_from_tuple(&req, &k1, &s1), 0);
	CHECK_EQ(xct_key_from_tuple(&rep, &k2, &s2), 0);
	CHECK(same_key(&k1, &k2));
	CHECK_EQ(s1, 0);
	CHECK_EQ(s2, 1);
	CHECK(same_addr(&k1.addr[0], &req.src));
	CHECK(same_addr(&k1.addr[1], &req.dst));
	CHECK_EQ(k1.port[0], 77);
	CHECK_EQ(k1.port[1], 8 << 8);
	CHECK_EQ(k1.proto, XCT_IPPROTO_ICMP);

	req = icmp_tuple(XCT_AF_INET6, v6("2001:db8::1"), v6("2001:db8::2"), 128, 5);
	rep = icmp_tuple(XCT_AF_INET6, v6("2001:db8::2"), v6("2001:db8::1"), 129, 5);
	CHECK_EQ(xct_key_from_tuple(&req, &k1, &s1), 0);
	CHECK_EQ(xct_key_from_tuple(&rep, &k2, &s2), 0);
	CHECK(same_key(&k1, &k2));
	CHECK_EQ(s1, 0);
	CHECK_EQ(s2, 1);
	CHECK_EQ(k1.port[1], 128 << 8);
}

TEST(tuple_icmp_query_kinds_apart)
{
	struct xct_tuple echo = icmp_tuple(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 8, 77);
	struct xct_tuple ts = icmp_tuple(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 13, 77);
	struct xct_tuple ts_reply = icmp_tuple(XCT_AF_INET, v4("10.0.0.2"), v4("10.0.0.1"), 14, 77);
	struct xct_tuple other_id = icmp_tuple(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 8, 78);
	struct xct_ct_key k_echo, k_ts, k_ts_reply, k_other;
	__u8 side = 0;

	CHECK_EQ(xct_key_from_tuple(&echo, &k_echo, &side), 0);
	CHECK_EQ(xct_key_from_tuple(&ts, &k_ts, &side), 0);
	CHECK_EQ(xct_key_from_tuple(&ts_reply, &k_ts_reply, &side), 0);
	CHECK_EQ(side, 1);
	CHECK_EQ(xct_key_from_tuple(&other_id, &k_other, &side), 0);
	CHECK(!same_key(&k_echo, &k_ts));
	CHECK(same_key(&k_ts, &k_ts_reply));
	CHECK_EQ(k_ts.port[1], 13 << 8);
	CHECK(!same_key(&k_echo, &k_other));
}

TEST(tuple_icmp_non_query_has_no_key)
{
	static const __u8 v4_types[] = {3, 4, 5, 9, 10, 11, 12, 42};
	static const __u8 v6_types[] = {1, 2, 3, 4, 133, 135, 136, 0};
	struct xct_ct_key key;
	unsigned int i;
	__u8 side = 0;

	for (i = 0; i < sizeof(v4_types); i++) {
		struct xct_tuple t =
			icmp_tuple(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), v4_types[i], 1);

		if (xct_key_from_tuple(&t, &key, &side) != -1)
			CHECK_FAIL("ICMP type %u made a key", v4_types[i]);
	}
	for (i = 0; i < sizeof(v6_types); i++) {
		struct xct_tuple t = icmp_tuple(XCT_AF_INET6, v6("::1"), v6("::2"), v6_types[i], 1);

		if (xct_key_from_tuple(&t, &key, &side) != -1)
			CHECK_FAIL("ICMPv6 type %u made a key", v6_types[i]);
	}
}

static void check_same_tuple(const struct xct_tuple *got, const struct xct_tuple *want)
{
	CHECK(same_addr(&got->src, &want->src));
	CHECK(same_addr(&got->dst, &want->dst));
	CHECK_EQ(got->sport, want->sport);
	CHECK_EQ(got->dport, want->dport);
	CHECK_EQ(got->family, want->family);
	CHECK_EQ(got->proto, want->proto);
	CHECK_EQ(got->icmp_type, want->icmp_type);
	CHECK_EQ(got->icmp_code, want->icmp_code);
}

TEST(tuple_from_key_round_trip_ports)
{
	static const struct {
		const char *src, *dst;
		__u16 sport, dport;
		__u8 family, proto;
	} flows[] = {
		{"10.0.0.2", "10.0.0.1", 40000, 80, XCT_AF_INET, XCT_IPPROTO_TCP},
		{"10.0.0.1", "10.0.0.2", 40000, 80, XCT_AF_INET, XCT_IPPROTO_UDP},
		{"2001:db8::9", "2001:db8::1", 1, 2, XCT_AF_INET6, XCT_IPPROTO_TCP},
		{"::1", "::1", 6000, 5000, XCT_AF_INET6, XCT_IPPROTO_UDP},
	};
	unsigned int i;

	for (i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		union xct_addr s =
			flows[i].family == XCT_AF_INET ? v4(flows[i].src) : v6(flows[i].src);
		union xct_addr d =
			flows[i].family == XCT_AF_INET ? v4(flows[i].dst) : v6(flows[i].dst);
		struct xct_tuple orig = ports_tuple(flows[i].family, flows[i].proto, s,
						    flows[i].sport, d, flows[i].dport);
		struct xct_tuple reply = reversed(&orig), got;
		struct xct_ct_key key;
		__u8 side = 0;

		CHECK_EQ(xct_key_from_tuple(&orig, &key, &side), 0);
		xct_tuple_from_key(&key, side, XCT_DIR_ORIGINAL, &got);
		check_same_tuple(&got, &orig);
		xct_tuple_from_key(&key, side, XCT_DIR_REPLY, &got);
		check_same_tuple(&got, &reply);
	}
}

TEST(tuple_from_key_round_trip_icmp)
{
	struct xct_tuple req = icmp_tuple(XCT_AF_INET, v4("10.0.0.9"), v4("10.0.0.2"), 8, 77);
	struct xct_tuple want, got;
	struct xct_ct_key key;
	__u8 side = 0;

	CHECK_EQ(xct_key_from_tuple(&req, &key, &side), 0);
	xct_tuple_from_key(&key, side, XCT_DIR_ORIGINAL, &got);
	check_same_tuple(&got, &req);
	xct_tuple_from_key(&key, side, XCT_DIR_REPLY, &got);
	want = icmp_tuple(XCT_AF_INET, v4("10.0.0.2"), v4("10.0.0.9"), 0, 77);
	check_same_tuple(&got, &want);

	req = icmp_tuple(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 13, 3);
	CHECK_EQ(xct_key_from_tuple(&req, &key, &side), 0);
	xct_tuple_from_key(&key, side, XCT_DIR_REPLY, &got);
	CHECK_EQ(got.icmp_type, 14);

	req = icmp_tuple(XCT_AF_INET6, v6("2001:db8::1"), v6("2001:db8::2"), 128, 4242);
	CHECK_EQ(xct_key_from_tuple(&req, &key, &side), 0);
	xct_tuple_from_key(&key, side, XCT_DIR_ORIGINAL, &got);
	check_same_tuple(&got, &req);
	xct_tuple_from_key(&key, side, XCT_DIR_REPLY, &got);
	want = icmp_tuple(XCT_AF_INET6, v6("2001:db8::2"), v6("2001:db8::1"), 129, 4242);
	check_same_tuple(&got, &want);
}
