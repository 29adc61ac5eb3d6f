// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IPFIX encoder (src/export/ipfix.c) on exact bytes: the message
 * header, the template set, flow and NAT session records built from
 * connection events; and the exporter's sequence numbers on a real UDP
 * socket on the loopback.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "addr.h"
#include "ct_events.h"
#include "export/exporter.h"
#include "export/ipfix.h"
#include "xct/tuple.h"

/* Big-endian byte lists, for expected messages written out in full. */
#define B16(v)		(__u8)((v) >> 8), (__u8)(v)
#define B32(v)		B16((v) >> 16), B16((v)&0xffff)
#define B64(v)		B32((__u64)(v) >> 32), B32((__u64)(v)&0xffffffff)
#define IP4(a, b, c, d) a, b, c, d
/* A field specifier: IANA, or enterprise (E bit and PEN). */
#define FS(id, len)	   B16(id), B16(len)
#define FS_E(id, len, pen) B16(0x8000 | (id)), B16(len), B32(pen)

#define MONO_TO_REAL	   1700000000000000000LL /* 2023-11-14T22:13:20Z */

/* An event of a connection whose original direction is t. */
static struct xct_ct_event event(__u8 type, __u8 end, const struct xct_tuple *t)
{
	struct xct_ct_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.end = end;
	if (xct_key_from_tuple(t, &ev.key, &ev.orig_side))
		abort();
	ev.first_seen_ns = 1000ULL * 1000000000ULL + 250000000; /* 1000.25 s */
	ev.last_seen_ns = 1042ULL * 1000000000ULL + 7000000;	/* 1042.007 s */
	ev.time_ns = 1044ULL * 1000000000ULL + 999999;		/* 1044.000999 s */
	return ev;
}

/* A TCP or UDP tuple; ports in host order. */
static struct xct_tuple tuple(__u8 family, __u8 proto, union xct_addr src, union xct_addr dst,
			      __u16 sport, __u16 dport)
{
	struct xct_tuple t = {.family = family, .proto = proto, .src = src, .dst = dst};

	t.sport = htons(sport);
	t.dport = htons(dport);
	return t;
}

static struct xct_tuple tcp4(void)
{
	/* the client's address above the server's: orig_side 1 */
	return tuple(XCT_AF_INET, XCT_IPPROTO_TCP, v4("10.231.9.2"), v4("10.231.2.2"), 40001, 8080);
}

TEST(ipfix_template_set)
{
	/* clang-format off */
	static const __u8 want[] = {
		/* header: version 10, length, export time, sequence, domain */
		B16(10), B16(252), B32(0x65536c00), B32(7), B32(42),
		/* template set */
		B16(2), B16(236),
		B16(256), B16(14), FS(152, 8), FS(153, 8), FS(8, 4), FS(12, 4), FS(7, 2), FS(11, 2),
		FS(4, 1), FS(32, 2), FS(1, 8), FS(2, 8), FS(23, 8), FS(24, 8), FS(136, 1),
		FS_E(1, 1, 32473),
		B16(257), B16(14), FS(152, 8), FS(153, 8), FS(27, 16), FS(28, 16), FS(7, 2),
		FS(11, 2), FS(4, 1), FS(139, 2), FS(1, 8), FS(2, 8), FS(23, 8), FS(24, 8),
		FS(136, 1), FS_E(1, 1, 32473),
		B16(258), B16(12), FS(323, 8), FS(230, 1), FS(8, 4), FS(12, 4), FS(7, 2), FS(11, 2),
		FS(4, 1), FS(32, 2), FS(225, 4), FS(226, 4), FS(227, 2), FS(228, 2),
		B16(259), B16(12), FS(323, 8), FS(230, 1), FS(27, 16), FS(28, 16), FS(7, 2),
		FS(11, 2), FS(4, 1), FS(139, 2), FS(281, 16), FS(282, 16), FS(227, 2), FS(228, 2),
	};
	/* clang-format on */
	struct xct_ipfix_msg m;
	__u8 buf[512];

	_Static_assert(sizeof(want) == 252, "expected template message");
	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_templates(&m), 0);
	CHECK_EQ(m.records, 0);
	CHECK_EQ(xct_ipfix_msg_finish(&m, 0x65536c00, 7, 42), sizeof(want));
	CHECK(check_bytes_equal(buf, want, sizeof(want)));
	/* The record lengths the templates promise. */
	CHECK_EQ(xct_ipfix_record_len(&xct_ipfix_templates[0]), 65);
	CHECK_EQ(xct_ipfix_record_len(&xct_ipfix_templates[1]), 89);
	CHECK_EQ(xct_ipfix_record_len(&xct_ipfix_templates[2]), 36);
	CHECK_EQ(xct_ipfix_record_len(&xct_ipfix_templates[3]), 84);

	/* No room: nothing written. */
	xct_ipfix_msg_init(&m, buf, 200);
	CHECK_EQ(xct_ipfix_put_templates(&m), -ENOSPC);
	CHECK_EQ(m.len, XCT_IPFIX_HEADER_LEN);
}

TEST(ipfix_flow_record_v4)
{
	struct xct_tuple t = tcp4();
	struct xct_ct_event ev = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	/* clang-format off */
	static const __u8 want[] = {
		B16(10), B16(16 + 4 + 65), B32(1700001044), B32(1000), B32(0),
		B16(256), B16(4 + 65),
		B64(1700001000250ULL), /* flowStartMilliseconds: the first packet */
		B64(1700001042007ULL), /* flowEndMilliseconds: the last one */
		IP4(10, 231, 9, 2), IP4(10, 231, 2, 2), B16(40001), B16(8080), 6, B16(0),
		B64(0x123456789aULL), B64(5000000000ULL), /* original direction */
		B64(77), B64(3),			  /* reply direction */
		3,					  /* end of flow detected */
		7,					  /* TIME_WAIT */
	};
	/* clang-format on */
	struct xct_ipfix_msg m;
	__u8 buf[512];

	CHECK_EQ(ev.orig_side, 1);
	ev.state = XCT_TCP_TIME_WAIT;
	ev.bytes[XCT_DIR_ORIGINAL] = 0x123456789aULL;
	ev.packets[XCT_DIR_ORIGINAL] = 5000000000ULL;
	ev.bytes[XCT_DIR_REPLY] = 77;
	ev.packets[XCT_DIR_REPLY] = 3;
	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 1);
	CHECK_EQ(m.records, 1);
	CHECK_EQ(xct_ipfix_msg_finish(&m, 1700001044, 1000, 0), sizeof(want));
	CHECK(check_bytes_equal(buf, want, sizeof(want)));

	/* An UPDATE makes no record; a NEW only for a translated connection. */
	ev.type = XCT_CTE_UPDATE;
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 0);
	ev.type = XCT_CTE_NEW;
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 0);
	CHECK_EQ(m.records, 1);
}

static struct xct_ct_event masqueraded_udp(__u8 type, __u8 end)
{
	struct xct_tuple t =
		tuple(XCT_AF_INET, XCT_IPPROTO_UDP, v4("10.231.1.2"), v4("10.231.2.2"), 5353, 53);
	struct xct_ct_event ev = event(type, end, &t);

	ev.nat_manip = XCT_CT_SRC_NAT;
	ev.nat_src_addr = v4("10.231.2.1");
	ev.nat_src_port = htons(1024);
	ev.bytes[0] = 64;
	ev.packets[0] = 1;
	ev.bytes[1] = 128;
	ev.packets[1] = 2;
	return ev;
}

/* A masqueraded UDP flow: its NEW makes a NAT44 create; its DESTROY the
 * flow record and a NAT44 delete, each in the set of its template. */
TEST(ipfix_nat44_records)
{
	struct xct_ct_event ev = masqueraded_udp(XCT_CTE_NEW, XCT_CTE_END_NONE);
	/* clang-format off */
	static const __u8 want_new[] = {
		B16(10), B16(16 + 4 + 36), B32(1), B32(5), B32(9),
		B16(258), B16(4 + 36),
		B64(1700001044000ULL), 4, IP4(10, 231, 1, 2), IP4(10, 231, 2, 2), B16(5353),
		B16(53), 17, B16(0), IP4(10, 231, 2, 1), IP4(10, 231, 2, 2), B16(1024), B16(53),
	};
	/* clang-format on */
	/* clang-format off */
	static const __u8 want_destroy[] = {
		B16(10), B16(16 + 4 + 65 + 4 + 36), B32(2), B32(6), B32(9),
		B16(256), B16(4 + 65),
		B64(1700001000250ULL), B64(1700001042007ULL), IP4(10, 231, 1, 2),
		IP4(10, 231, 2, 2), B16(5353), B16(53), 17, B16(0), B64(64), B64(1), B64(128),
		B64(2), 4, 0, /* forced end (ct delete); no TCP state */
		B16(258), B16(4 + 36),
		B64(1700001044000ULL), 5, IP4(10, 231, 1, 2), IP4(10, 231, 2, 2), B16(5353),
		B16(53), 17, B16(0), IP4(10, 231, 2, 1), IP4(10, 231, 2, 2), B16(1024), B16(53),
	};
	/* clang-format on */
	struct xct_ipfix_msg m;
	__u8 buf[512];

	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 1);
	CHECK_EQ(xct_ipfix_msg_finish(&m, 1, 5, 9), sizeof(want_new));
	CHECK(check_bytes_equal(buf, want_new, sizeof(want_new)));

	ev = masqueraded_udp(XCT_CTE_DESTROY, XCT_CTE_END_DELETED);
	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 2);
	CHECK_EQ(m.records, 2);
	CHECK_EQ(xct_ipfix_msg_finish(&m, 2, 6, 9), sizeof(want_destroy));
	CHECK(check_bytes_equal(buf, want_destroy, sizeof(want_destroy)));
}

/* Records of one template share a set; a record that does not fit
 * leaves the message as it was, both records of a DESTROY or neither. */
TEST(ipfix_sets_and_room)
{
	struct xct_ct_event ev = masqueraded_udp(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED);
	struct xct_tuple t = tcp4();
	struct xct_ct_event flow = event(XCT_CTE_DESTROY, XCT_CTE_END_EARLY_DROP, &t);
	struct xct_ipfix_msg m, before;
	__u8 buf[250];
	int n = 0;

	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &flow, 0), 1);
	CHECK_EQ(xct_ipfix_put_event(&m, &flow, 0), 1);
	/* 16 + one set header + two records */
	CHECK_EQ(m.len, 16 + 4 + 2 * 65);
	CHECK_EQ(m.set_id, 256);
	/* 150 + 65 + 4 + 36 > 250: the NATed DESTROY does not fit */
	before = m;
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, 0), -ENOSPC);
	CHECK_EQ(m.len, before.len);
	CHECK_EQ(m.records, 2);
	CHECK_EQ(m.set_id, 256);
	xct_ipfix_msg_finish(&m, 0, 0, 0);
	CHECK_EQ(buf[16 + 2] << 8 | buf[16 + 3], 4 + 2 * 65); /* the set's length */
	CHECK_EQ(buf[2] << 8 | buf[3], 16 + 4 + 2 * 65);
	CHECK_EQ(buf[16 + 4 + 65 + 65 - 2], 5); /* lack of resources */
	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	while (xct_ipfix_put_event(&m, &flow, 0) == 1)
		n++;
	CHECK_EQ(n, (250 - 16 - 4) / 65);
}

TEST(ipfix_icmp_and_ipv6)
{
	struct xct_tuple t = {.family = XCT_AF_INET, .proto = XCT_IPPROTO_ICMP};
	struct xct_ct_event ev;
	struct xct_ipfix_msg m;
	__u8 buf[512], *r;

	/* echo request id 700, translated to id 1025 */
	t.src = v4("10.231.1.2");
	t.dst = v4("10.231.2.2");
	t.icmp_type = 8;
	t.sport = 700;
	ev = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	ev.nat_manip = XCT_CT_SRC_NAT;
	ev.nat_src_addr = v4("10.231.2.1");
	ev.nat_src_port = 1025;
	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, 0), 2);
	r = buf + 20;
	/* the identifier as source port, type 8 code 0, idle timeout */
	CHECK_EQ(r[24] << 8 | r[25], 700);
	CHECK_EQ(r[26] << 8 | r[27], 0);
	CHECK_EQ(r[28], 1);
	CHECK_EQ(r[29] << 8 | r[30], 0x0800);
	CHECK_EQ(r[63], 1);
	CHECK_EQ(r[64], 0);
	/* the NAT record: the translated identifier */
	r = buf + 20 + 65 + 4;
	CHECK_EQ(r[8], 5);
	CHECK_EQ(r[22] << 8 | r[23], 0x0800);
	CHECK(!memcmp(r + 24, ev.nat_src_addr.bytes, 4));
	CHECK_EQ(r[32] << 8 | r[33], 1025);
	CHECK_EQ(r[34] << 8 | r[35], 0);

	/* IPv6 TCP, masqueraded: templates 257 and 259, NAT event 2 */
	t = tuple(XCT_AF_INET6, XCT_IPPROTO_TCP, v6("fd00:231:1::2"), v6("fd00:231:2::2"), 47001,
		  7004);
	ev = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	ev.state = XCT_TCP_ESTABLISHED;
	ev.nat_manip = XCT_CT_SRC_NAT;
	ev.nat_src_addr = v6("fd00:231:2::1");
	ev.nat_src_port = htons(47001);
	xct_ipfix_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, 0), 2);
	xct_ipfix_msg_finish(&m, 0, 0, 0);
	CHECK_EQ(buf[16] << 8 | buf[17], 257);
	CHECK_EQ(buf[18] << 8 | buf[19], 4 + 89);
	r = buf + 20;
	CHECK(!memcmp(r + 16, t.src.bytes, 16));
	CHECK(!memcmp(r + 32, t.dst.bytes, 16));
	CHECK_EQ(r[87], 1); /* ESTABLISHED timed out: idle */
	CHECK_EQ(r[88], 3);
	r = buf + 20 + 89;
	CHECK_EQ(r[0] << 8 | r[1], 259);
	CHECK_EQ(r[2] << 8 | r[3], 4 + 84);
	CHECK_EQ(r[4 + 8], 2);
	CHECK(!memcmp(r + 4 + 48, ev.nat_src_addr.bytes, 16));
	CHECK(!memcmp(r + 4 + 64, t.dst.bytes, 16));
	CHECK_EQ(r[4 + 80] << 8 | r[4 + 81], 47001);
	CHECK_EQ(r[4 + 82] << 8 | r[4 + 83], 7004);
	CHECK_EQ(m.len, 16 + 4 + 89 + 4 + 84);
}

TEST(ipfix_end_reasons)
{
	struct xct_tuple t = tcp4();
	struct xct_ct_event ev = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);

	ev.state = XCT_TCP_CLOSE;
	CHECK_EQ(xct_ipfix_end_reason(&ev), XCT_IPFIX_END_FLOW_END);
	ev.state = XCT_TCP_FIN_WAIT;
	CHECK_EQ(xct_ipfix_end_reason(&ev), XCT_IPFIX_END_IDLE);
	ev.end = XCT_CTE_END_REUSED;
	ev.state = XCT_TCP_TIME_WAIT;
	CHECK_EQ(xct_ipfix_end_reason(&ev), XCT_IPFIX_END_FLOW_END);
	ev.end = XCT_CTE_END_DELETED;
	CHECK_EQ(xct_ipfix_end_reason(&ev), XCT_IPFIX_END_FORCED);
	ev.end = XCT_CTE_END_EARLY_DROP;
	CHECK_EQ(xct_ipfix_end_reason(&ev), XCT_IPFIX_END_RESOURCES);
}

TEST(ipfix_parse_addr)
{
	const char *host, *port;
	char buf[64];

	CHECK_EQ(xct_ipfix_parse_addr("127.0.0.1:4739", buf, sizeof(buf), &host, &port), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_STR(port, "4739");
	CHECK_EQ(xct_ipfix_parse_addr("[fd00::1]:9995", buf, sizeof(buf), &host, &port), 0);
	CHECK_STR(host, "fd00::1");
	CHECK_STR(port, "9995");
	CHECK_EQ(xct_ipfix_parse_addr("collector", buf, sizeof(buf), &host, &port), 0);
	CHECK_STR(host, "collector");
	CHECK(port == NULL);
	CHECK_EQ(xct_ipfix_parse_addr("fd00::1", buf, sizeof(buf), &host, &port), 0);
	CHECK_STR(host, "fd00::1");
	CHECK(port == NULL);
	CHECK_EQ(xct_ipfix_parse_addr("h:0", buf, sizeof(buf), &host, &port), -EINVAL);
	CHECK_EQ(xct_ipfix_parse_addr("h:65536", buf, sizeof(buf), &host, &port), -EINVAL);
	CHECK_EQ(xct_ipfix_parse_addr("h:", buf, sizeof(buf), &host, &port), -EINVAL);
	CHECK_EQ(xct_ipfix_parse_addr(":4739", buf, sizeof(buf), &host, &port), -EINVAL);
	CHECK_EQ(xct_ipfix_parse_addr("[fd00::1]x", buf, sizeof(buf), &host, &port), -EINVAL);
	CHECK_EQ(xct_ipfix_parse_addr("[]:1", buf, sizeof(buf), &host, &port), -EINVAL);
	CHECK_EQ(xct_ipfix_parse_addr("h:+1", buf, sizeof(buf), &host, &port), -EINVAL);
}

/* recv_msg FD BUF: one datagram within a second, its length or -1. */
static ssize_t recv_msg(int fd, __u8 *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, 1000) != 1)
		return -1;
	return recv(fd, buf, len, 0);
}

static __u32 be32_at(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* A UDP socket bound on 127.0.0.1, its port written into port; the
 * socket, or -1. */
static int loopback_socket(char *port, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(port, len, "%u", ntohs(sin.sin_port));
	return fd;
}

/* The exporter over a real socket: templates first, then messages whose
 * sequence numbers count the data records sent before each, with the
 * domain configured; a full message goes out before the record that did
 * not fit. */
TEST(ipfix_exporter_sequence)
{
	struct xct_ipfix_exporter x;
	struct xct_ipfix_exporter_cfg cfg = {
		.host = "127.0.0.1", .domain = 0xdeadbeef, .template_refresh_s = 3600, .mtu = 256};
	struct xct_tuple t = tcp4();
	struct xct_ct_event flow = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	struct xct_ct_event nat = masqueraded_udp(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED);
	char port[8];
	__u8 buf[1024];
	ssize_t n;
	int fd, i;

	fd = loopback_socket(port, sizeof(port));
	CHECK(fd >= 0);
	cfg.port = port;
	CHECK_EQ(xct_ipfix_exporter_open(&x, &cfg), 0);

	n = recv_msg(fd, buf, sizeof(buf));
	CHECK_EQ(n, 252);
	CHECK_EQ(be32_at(buf + 8), 0); /* no data record yet */
	CHECK_EQ(be32_at(buf + 12), 0xdeadbeef);
	CHECK_EQ(buf[16] << 8 | buf[17], 2);

	/* three flows fit in 256 bytes: the fourth sends them */
	for (i = 0; i < 4; i++)
		CHECK_EQ(xct_ipfix_exporter_event(&x, &flow), 1);
	n = recv_msg(fd, buf, sizeof(buf));
	CHECK_EQ(n, 16 + 4 + 3 * 65);
	CHECK_EQ(be32_at(buf + 8), 0);
	CHECK_EQ(x.seq, 3);
	/* the tick sends the rest: one record, numbered after the three */
	xct_ipfix_exporter_tick(&x);
	n = recv_msg(fd, buf, sizeof(buf));
	CHECK_EQ(n, 16 + 4 + 65);
	CHECK_EQ(be32_at(buf + 8), 3);
	/* a NATed DESTROY counts two */
	CHECK_EQ(xct_ipfix_exporter_event(&x, &nat), 2);
	xct_ipfix_exporter_tick(&x);
	n = recv_msg(fd, buf, sizeof(buf));
	CHECK_EQ(n, 16 + 4 + 65 + 4 + 36);
	CHECK_EQ(be32_at(buf + 8), 4);
	/* nothing pending: a tick sends nothing; close sends what is left */
	xct_ipfix_exporter_tick(&x);
	CHECK_EQ(xct_ipfix_exporter_event(&x, &flow), 1);
	xct_ipfix_exporter_close(&x);
	n = recv_msg(fd, buf, sizeof(buf));
	CHECK_EQ(n, 16 + 4 + 65);
	CHECK_EQ(be32_at(buf + 8), 6);
	CHECK_EQ(x.stats.records, 7);
	CHECK_EQ(x.stats.messages, 5);
	CHECK_EQ(x.stats.send_errors, 0);
	close(fd);
}

/* A collector that is not listening: the kernel reports the port
 * unreachable of one datagram on the next send, which fails; that
 * message's records are counted lost and still numbered, so a collector
 * that comes back sees the gap. */
TEST(ipfix_exporter_send_errors)
{
	struct xct_ipfix_exporter x;
	struct xct_ipfix_exporter_cfg cfg = {.host = "127.0.0.1", .template_refresh_s = 3600};
	struct xct_tuple t = tcp4();
	struct xct_ct_event flow = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	char port[8];
	int fd, i;

	/* a port nobody listens on: bound, then closed */
	fd = loopback_socket(port, sizeof(port));
	CHECK(fd >= 0);
	close(fd);
	cfg.port = port;
	CHECK_EQ(xct_ipfix_exporter_open(&x, &cfg), 0);
	CHECK_EQ(x.stats.messages, 1); /* the templates went out */
	for (i = 0; i < 3; i++) {
		CHECK_EQ(xct_ipfix_exporter_event(&x, &flow), 1);
		xct_ipfix_exporter_tick(&x);
	}
	xct_ipfix_exporter_close(&x);
	/* Over the loopback the ICMP error is queued before the next send. */
	CHECK(x.stats.send_errors >= 1);
	CHECK_EQ(x.last_errno, ECONNREFUSED);
	CHECK_EQ(x.stats.records + x.stats.lost, 3);
	CHECK_EQ(x.stats.messages + x.stats.send_errors, 4);
	CHECK_EQ(x.seq, 3);
}

/* NetFlow v9: a 20-byte header that counts every record, template
 * FlowSet 0, the same templates and records without the enterprise TCP
 * state. */
TEST(nf9_messages)
{
	struct xct_tuple t = tcp4();
	struct xct_ct_event ev = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	struct xct_ipfix_msg m;
	__u8 buf[512], ipfix[512];
	/* clang-format off */
	static const __u8 want_head[] = {
		B16(9), B16(4), B32(123456), B32(1700001044), B32(77), B32(42),
		B16(0), B16(220),
		B16(256), B16(13), FS(152, 8), FS(153, 8), FS(8, 4), FS(12, 4), FS(7, 2), FS(11, 2),
		FS(4, 1), FS(32, 2), FS(1, 8), FS(2, 8), FS(23, 8), FS(24, 8), FS(136, 1),
		B16(257), B16(13),
	};
	/* clang-format on */

	xct_nf9_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_templates(&m), 0);
	CHECK_EQ(xct_nf9_msg_finish(&m, 123456, 1700001044, 77, 42), 20 + 220);
	CHECK(check_bytes_equal(buf, want_head, sizeof(want_head)));
	/* the NAT templates: 12 fields each */
	CHECK_EQ(buf[20 + 4 + 56 + 56] << 8 | buf[20 + 4 + 56 + 56 + 1], 258);
	CHECK_EQ(buf[20 + 4 + 56 + 56 + 3], 12);
	CHECK_EQ(buf[20 + 4 + 56 + 56 + 52 + 3], 12);

	/* A masqueraded connection's end: two records, both counted; the flow
	 * record is the IPFIX one without its last byte, the TCP state. */
	ev.state = XCT_TCP_TIME_WAIT;
	ev.nat_manip = XCT_CT_SRC_NAT;
	ev.nat_src_addr = v4("10.231.2.1");
	ev.nat_src_port = htons(40001);
	xct_ipfix_msg_init(&m, ipfix, sizeof(ipfix));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 2);
	xct_nf9_msg_init(&m, buf, sizeof(buf));
	CHECK_EQ(xct_ipfix_put_event(&m, &ev, MONO_TO_REAL), 2);
	CHECK_EQ(xct_nf9_msg_finish(&m, 1, 2, 3, 4), 20 + 4 + 64 + 4 + 36);
	CHECK_EQ(buf[2] << 8 | buf[3], 2);
	CHECK_EQ(buf[20] << 8 | buf[21], 256);
	CHECK_EQ(buf[22] << 8 | buf[23], 4 + 64);
	CHECK(!memcmp(buf + 24, ipfix + 20, 64));
	CHECK_EQ(buf[24 + 64] << 8 | buf[24 + 65], 258);
	CHECK(!memcmp(buf + 24 + 64 + 4, ipfix + 20 + 65 + 4, 36));
}

/* The v9 exporter numbers packets, not records. */
TEST(nf9_exporter_sequence)
{
	struct xct_ipfix_exporter x;
	struct xct_ipfix_exporter_cfg cfg = {
		.host = "127.0.0.1", .domain = 9, .template_refresh_s = 3600, .netflow9 = 1};
	struct xct_tuple t = tcp4();
	struct xct_ct_event flow = event(XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &t);
	char port[8];
	__u8 buf[1024];
	int fd, i;

	fd = loopback_socket(port, sizeof(port));
	CHECK(fd >= 0);
	cfg.port = port;
	CHECK_EQ(xct_ipfix_exporter_open(&x, &cfg), 0);
	CHECK_EQ(recv_msg(fd, buf, sizeof(buf)), 240);
	CHECK_EQ(buf[0] << 8 | buf[1], 9);
	CHECK_EQ(be32_at(buf + 12), 0);
	CHECK_EQ(be32_at(buf + 16), 9);
	for (i = 0; i < 3; i++)
		CHECK_EQ(xct_ipfix_exporter_event(&x, &flow), 1);
	xct_ipfix_exporter_close(&x);
	CHECK_EQ(recv_msg(fd, buf, sizeof(buf)), 20 + 4 + 3 * 64);
	CHECK_EQ(buf[2] << 8 | buf[3], 3);
	CHECK_EQ(be32_at(buf + 12), 1);
	CHECK_EQ(x.seq, 2);
	close(fd);
}
