// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the connection-level rules in include/xct/ct.h for the
 * trackers other than TCP: UDP's unreplied/stream timeouts and ASSURED after
 * two seconds, ICMP queries, the generic tracker, and the key an ICMP error
 * is matched with (including the anti-spoofing check).
 */
#include <arpa/inet.h>

#include "addr.h"
#include "check.h"
#include "xct/ct.h"

#define SEC XCT_NSEC_PER_SEC
#define T0  (5000 * SEC)

struct conn {
	struct xct_ct_entry e;
	struct xct_ct_result res;
	__u64 now;
};

static struct xct_pkt l4_pkt(__u8 family, __u8 proto, union xct_addr src, __u16 sport,
			     union xct_addr dst, __u16 dport, __u32 l3_len)
{
	struct xct_pkt p;

	memset(&p, 0, sizeof(p));
	p.t.family = family;
	p.t.proto = proto;
	p.t.src = src;
	p.t.dst = dst;
	p.t.sport = htons(sport);
	p.t.dport = htons(dport);
	p.l3_len = l3_len;
	return p;
}

static struct xct_pkt icmp_pkt(__u8 family, union xct_addr src, union xct_addr dst, __u8 type,
			       __u16 id)
{
	struct xct_pkt p =
		l4_pkt(family, family == XCT_AF_INET ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6, src,
		       0, dst, 0, 84);

	p.t.icmp_type = type;
	p.t.sport = id;
	return p;
}

/* Sends a packet as the datapath does: key it, then apply it. */
static void send_one(struct conn *c, const struct xct_pkt *p)
{
	struct xct_ct_key key;
	__u8 side = 0;

	CHECK_EQ(xct_key_from_tuple(&p->t, &key, &side), 0);
	memset(&c->res, 0, sizeof(c->res));
	xct_ct_apply(&c->e, side, p, c->now, &c->res);
}

static void conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->now = T0;
}

#define CHECK_TIMEOUT(c, secs)                                                                     \
	CHECK_EQ((long long)((c)->e.expires_ns - (c)->now), (long long)(secs) * (long long)SEC)

TEST(udp_request_response_not_assured)
{
	struct xct_pkt q = l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.1"), 40000,
				  v4("10.0.0.53"), 53, 60);
	struct xct_pkt a = l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.53"), 53, v4("10.0.0.1"),
				  40000, 120);
	struct conn c;

	conn_init(&c);
	send_one(&c, &q);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.status, 0);
	CHECK_EQ(c.e.state, 0);
	CHECK_TIMEOUT(&c, 30);

	c.now += SEC / 2;
	send_one(&c, &a);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.dir, XCT_DIR_REPLY);
	CHECK_EQ(c.res.assured, 0);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	CHECK_TIMEOUT(&c, 30);

	/* Still within two seconds of the first packet: no stream yet. */
	c.now += SEC;
	send_one(&c, &q);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	CHECK_TIMEOUT(&c, 30);

	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(c.e.bytes[XCT_DIR_ORIGINAL], 120);
	CHECK_EQ(c.e.bytes[XCT_DIR_REPLY], 120);
}

TEST(udp_stream_assured_after_two_seconds)
{
	struct xct_pkt q = l4_pkt(XCT_AF_INET6, XCT_IPPROTO_UDP, v6("2001:db8::9"), 5004,
				  v6("2001:db8::1"), 5004, 200);
	struct xct_pkt a = l4_pkt(XCT_AF_INET6, XCT_IPPROTO_UDP, v6("2001:db8::1"), 5004,
				  v6("2001:db8::9"), 5004, 200);
	struct conn c;

	conn_init(&c);
	send_one(&c, &q);
	c.now += SEC;
	send_one(&c, &a);
	CHECK_TIMEOUT(&c, 30);

	c.now = T0 + 2 * SEC + 1;
	send_one(&c, &q);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.assured, 1);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_TIMEOUT(&c, 120);

	/* ASSURED is reported once. */
	c.now += SEC;
	send_one(&c, &a);
	CHECK_EQ(c.res.assured, 0);
	CHECK_TIMEOUT(&c, 120);
}

TEST(udp_unreplied_stays_short)
{
	struct xct_pkt q = l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.1"), 40000,
				  v4("10.0.0.2"), 9999, 60);
	struct conn c;

	conn_init(&c);
	send_one(&c, &q);
	c.now += 10 * SEC;
	send_one(&c, &q);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.e.status, 0);
	CHECK_TIMEOUT(&c, 30);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 2);

	/* Once expired, the next packet starts a new connection. */
	c.now += 31 * SEC;
	send_one(&c, &q);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(c.e.first_seen_ns, c.now);
}

TEST(icmp_echo_request_and_reply)
{
	struct xct_pkt req = icmp_pkt(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 8, 99);
	struct xct_pkt rep = icmp_pkt(XCT_AF_INET, v4("10.0.0.2"), v4("10.0.0.1"), 0, 99);
	struct conn c;

	conn_init(&c);
	send_one(&c, &req);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.orig_side, 0);
	CHECK_EQ(c.e.status, 0);
	CHECK_TIMEOUT(&c, 30);

	c.now += SEC;
	send_one(&c, &rep);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.dir, XCT_DIR_REPLY);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	CHECK_TIMEOUT(&c, 30);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 1);
}

TEST(icmpv6_echo_request_and_reply)
{
	struct xct_pkt req = icmp_pkt(XCT_AF_INET6, v6("fd00::2"), v6("fd00::1"), 128, 7);
	struct xct_pkt rep = icmp_pkt(XCT_AF_INET6, v6("fd00::1"), v6("fd00::2"), 129, 7);
	struct conn c;

	conn_init(&c);
	send_one(&c, &req);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_TIMEOUT(&c, 30);
	send_one(&c, &rep);
	CHECK_EQ(c.res.dir, XCT_DIR_REPLY);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
}

TEST(icmp_reply_first_invalid)
{
	struct xct_pkt rep = icmp_pkt(XCT_AF_INET, v4("10.0.0.2"), v4("10.0.0.1"), 0, 99);
	struct xct_pkt rep6 = icmp_pkt(XCT_AF_INET6, v6("fd00::1"), v6("fd00::2"), 129, 7);
	struct conn c;

	conn_init(&c);
	send_one(&c, &rep);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_ICMP_INVALID_NEW);
	CHECK(!xct_entry_alive(&c.e, c.now));
	CHECK_EQ(c.e.packets[0] + c.e.packets[1], 0);

	conn_init(&c);
	send_one(&c, &rep6);
	CHECK_EQ(c.res.reason, XCT_R_ICMP_INVALID_NEW);
	CHECK(!xct_entry_alive(&c.e, c.now));
}

TEST(generic_protocol_timeout)
{
	struct xct_pkt fwd = l4_pkt(XCT_AF_INET, 47, v4("192.0.2.1"), 0, v4("192.0.2.2"), 0, 100);
	struct xct_pkt back = l4_pkt(XCT_AF_INET, 47, v4("192.0.2.2"), 0, v4("192.0.2.1"), 0, 80);
	struct conn c;

	conn_init(&c);
	send_one(&c, &fwd);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.e.status, 0);
	CHECK_TIMEOUT(&c, 600);
	c.now += 100 * SEC;
	send_one(&c, &back);
	CHECK_EQ(c.res.dir, XCT_DIR_REPLY);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	CHECK_TIMEOUT(&c, 600);
	CHECK_EQ(c.e.bytes[XCT_DIR_ORIGINAL], 100);
	CHECK_EQ(c.e.bytes[XCT_DIR_REPLY], 80);
}

/* An ICMP error from `from` to `to`, quoting inner. */
static struct xct_pkt icmp_error(__u8 family, union xct_addr from, union xct_addr to, __u8 type,
				 const struct xct_tuple *inner)
{
	struct xct_pkt p = icmp_pkt(family, from, to, type, 0);

	p.icmp_error = 1;
	p.inner = *inner;
	return p;
}

/* The datapath decides whether a packet may open a connection before the
 * policy, without filling an entry (xct_ct_may_open()), and the tracker
 * fills one after: both must say the same of every packet. */
TEST(may_open_agrees_with_init)
{
	struct xct_ct_entry e;
	struct xct_pkt p;
	unsigned int i;

	for (i = 0; i < 256; i++) {
		p = l4_pkt(XCT_AF_INET, XCT_IPPROTO_TCP, v4("10.0.0.1"), 40000, v4("10.0.0.2"), 80,
			   40);
		p.tcp.flags = (__u8)i;
		memset(&e, 0, sizeof(e));
		CHECK_EQ(xct_ct_may_open(&p), xct_ct_init(&e, &p, 0, T0));
	}
	for (i = 0; i < 512; i++) {
		p = icmp_pkt(i < 256 ? XCT_AF_INET : XCT_AF_INET6, v4("10.0.0.1"), v4("10.0.0.2"),
			     (__u8)i, 7);
		memset(&e, 0, sizeof(e));
		CHECK_EQ(xct_ct_may_open(&p), xct_ct_init(&e, &p, 0, T0));
	}
	p = l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.1"), 40000, v4("10.0.0.2"), 53, 40);
	CHECK_EQ(xct_ct_may_open(&p), XCT_R_OK);
	CHECK_EQ(xct_ct_init(&e, &p, 0, T0), XCT_R_OK);
}

TEST(icmp_error_key_matches_connection)
{
	struct xct_pkt q =
		l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.1"), 40000, v4("10.0.0.2"), 53, 60);
	struct xct_pkt a =
		l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.2"), 53, v4("10.0.0.1"), 40000, 60);
	struct xct_ct_key conn_key, err_key;
	struct xct_pkt err;
	__u8 side;

	CHECK_EQ(xct_key_from_tuple(&q.t, &conn_key, &side), 0);

	/* A router on the way tells the client its datagram did not go
	 * through. */
	err = icmp_error(XCT_AF_INET, v4("10.0.0.254"), v4("10.0.0.1"), 3, &q.t);
	memset(&err_key, 0xaa, sizeof(err_key));
	CHECK_EQ(xct_icmp_error_key(&err, &err_key), XCT_R_OK);
	CHECK(memcmp(&err_key, &conn_key, sizeof(err_key)) == 0);

	/* The client itself reports the server's answer undeliverable. */
	err = icmp_error(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 3, &a.t);
	memset(&err_key, 0xaa, sizeof(err_key));
	CHECK_EQ(xct_icmp_error_key(&err, &err_key), XCT_R_OK);
	CHECK(memcmp(&err_key, &conn_key, sizeof(err_key)) == 0);
}

TEST(icmpv6_error_key_matches_tcp_connection)
{
	struct xct_pkt syn = l4_pkt(XCT_AF_INET6, XCT_IPPROTO_TCP, v6("2001:db8:1::10"), 51000,
				    v6("2001:db8:2::20"), 443, 1500);
	struct xct_ct_key conn_key, err_key;
	struct xct_pkt err;
	__u8 side;

	CHECK_EQ(xct_key_from_tuple(&syn.t, &conn_key, &side), 0);
	err = icmp_error(XCT_AF_INET6, v6("2001:db8:1::1"), v6("2001:db8:1::10"), 2, &syn.t);
	CHECK_EQ(xct_icmp_error_key(&err, &err_key), XCT_R_OK);
	CHECK(memcmp(&err_key, &conn_key, sizeof(err_key)) == 0);
}

TEST(icmp_error_key_quoting_echo)
{
	struct xct_pkt req = icmp_pkt(XCT_AF_INET, v4("10.0.0.1"), v4("10.9.9.9"), 8, 4);
	struct xct_ct_key conn_key, err_key;
	struct xct_pkt err;
	__u8 side;

	CHECK_EQ(xct_key_from_tuple(&req.t, &conn_key, &side), 0);
	err = icmp_error(XCT_AF_INET, v4("10.0.0.254"), v4("10.0.0.1"), 11, &req.t);
	CHECK_EQ(xct_icmp_error_key(&err, &err_key), XCT_R_OK);
	CHECK(memcmp(&err_key, &conn_key, sizeof(err_key)) == 0);
}

TEST(icmp_error_spoofed_or_unmatched)
{
	struct xct_pkt q =
		l4_pkt(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.0.0.1"), 40000, v4("10.0.0.2"), 53, 60);
	struct xct_pkt inner_err = icmp_pkt(XCT_AF_INET, v4("10.0.0.1"), v4("10.0.0.2"), 3, 0);
	struct xct_ct_key key;
	struct xct_pkt err;

	/* Addressed to someone other than the quoted packet's sender. */
	err = icmp_error(XCT_AF_INET, v4("10.0.0.254"), v4("10.0.0.9"), 3, &q.t);
	CHECK_EQ(xct_icmp_error_key(&err, &key), XCT_R_ICMP_ERROR_SPOOFED);
	/* Addressed to the quoted packet's destination. */
	err = icmp_error(XCT_AF_INET, v4("10.0.0.254"), v4("10.0.0.2"), 3, &q.t);
	CHECK_EQ(xct_icmp_error_key(&err, &key), XCT_R_ICMP_ERROR_SPOOFED);

	/* No errors about errors. */
	err = icmp_error(XCT_AF_INET, v4("10.0.0.254"), v4("10.0.0.1"), 3, &inner_err.t);
	CHECK_EQ(xct_icmp_error_key(&err, &key), XCT_R_ICMP_ERROR_NO_CONN);
}
