// SPDX-License-Identifier: GPL-2.0-only
/*
 * conntrackd's sync protocol (include/xct/ctsync.h) on exact bytes.  The
 * golden messages were captured on the sync link between two conntrackd
 * 1.4.7 (Debian) in two network namespaces, FTFW over UDP, by
 * scripts/ctsync-capture.sh: each is decoded, checked field by field, and
 * re-encoded to the same bytes.  Then what the decoder must refuse, as
 * conntrackd's parse.c does.
 */
#include <errno.h>
#include <arpa/inet.h>

#include "check.h"
#include "ct_format.h"
#include "daemon/sync.h"
#include "xct/ctsync_ct.h"
#include "xct/tcp.h"

/* Captured: a masqueraded UDP flow 10.10.1.10:40000 -> 10.10.2.20:5353,
 * CT_NEW, status CONFIRMED|SRC_NAT|SRC_NAT_DONE|DST_NAT_DONE, timeout 30,
 * SNAT to 10.10.2.1 (the port kept, so no SPAT). */
static const char udp_snat_new[] =
	"1000003c6b167658000c00000a0a010a0a0a021400080005000001980005000211"
	"000000000800039c4014e9000800060000001e0008000c0a0a0201";
/* A forwarded TCP connection 10.10.1.10:36437 -> 10.10.2.20:7001,
 * ESTABLISHED, assured, the first message a CT_UPD. */
static const char tcp_est_upd[] =
	"1100003c6b167659000c00000a0a010a0a0a0214000800050000018e000500020600"
	"0000000800038e551b5900050004030000000008000600069780";
/* A ping 10.10.1.10 -> 10.10.2.20, id 7284 (0x1c74, on the wire as 74 1c:
 * the byte-order quirk), with SPAT and DPAT 0. */
static const char icmp_echo[] =
	"110000546b16765d000c00000a0a010a0a0a0214000800050000018a000500020100"
	"00000005001608000000000500170000000000060018741c0000000800060000"
	"001e0006000e000000000006000f00000000";
/* The answer to a RESYNC: four messages in one datagram. */
static const char bulk[] =
	"1100003c6b167660000c00000a0a010a0a0a0214000800050000019a0005000211000000000800039c4014e90008"
	"00060000001e0008000c0a0a02011100003c6b167661000c00000a0a010a0a0a0101000800050000018e00050002"
	"06000000000800038e541b58000500040300000000080006000697801100003c6b167662000c00000a0a010a0a0a"
	"0214000800050000018e0005000206000000000800038e551b590005000403000000000800060006978011000054"
	"6b167663000c00000a0a010a0a0a0214000800050000018a0005000201000000000500160800000000050017000000"
	"0000060018741c0000000800060000001e0006000e000000000006000f00000000";
/* Control: the first ALIVE with HELLO; the answer HELLO_BACK|ACK|HELLO;
 * a periodic ACK; a RESYNC request (conntrackd -n). */
static const char ctl_alive_hello[] = "1a3000086b167655";
static const char ctl_hello_back[] = "1a6800106b1676566b1676556b167655";
static const char ctl_ack[] = "1a0800106b1676576b1676566b167656";
static const char ctl_resync[] = "1a0200106b16765a0000000000000000";

static size_t unhex(const char *s, __u8 *out, size_t cap)
{
	size_t n = 0;
	unsigned int v;

	for (; s[0] && s[1] && n < cap; s += 2) {
		if (sscanf(s, "%2x", &v) != 1)
			abort();
		out[n++] = (__u8)v;
	}
	return n;
}

static __u32 ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

/* Decodes the one message in hex, checks its header, re-encodes it and
 * compares the bytes. */
static void roundtrip(const char *hex, __u8 type, __u32 seq, struct xct_ctsync_conn *c)
{
	__u8 in[512], out[512];
	size_t n = unhex(hex, in, sizeof(in));
	struct xct_ctsync_hdr h = {0};
	enum xct_ctsync_error err;
	int len;

	CHECK_EQ(xct_ctsync_parse_hdr(in, n, &h, &err), 0);
	CHECK_EQ(h.version, 1);
	CHECK_EQ(h.type, type);
	CHECK_EQ(h.flags, 0);
	CHECK_EQ(h.len, n);
	CHECK_EQ(h.seq, seq);
	CHECK_EQ(xct_ctsync_decode_conn(in, h.len, c, &err), 0);
	CHECK_EQ(err, XCT_CTSYNC_OK);
	len = xct_ctsync_encode_conn(out, sizeof(out), h.type, h.flags, h.seq, c);
	CHECK_EQ(len, n);
	if (len == (int)n)
		CHECK(check_bytes_equal(out, in, n));
}

TEST(ctsync_golden_udp_snat)
{
	struct xct_ctsync_conn c;

	roundtrip(udp_snat_new, XCT_CTSYNC_CT_NEW, 0x6b167658, &c);
	CHECK_EQ(c.attrs, 1ULL << XCT_NTA_IPV4 | 1ULL << XCT_NTA_STATUS | 1ULL << XCT_NTA_L4PROTO |
				  1ULL << XCT_NTA_PORT | 1ULL << XCT_NTA_TIMEOUT |
				  1ULL << XCT_NTA_SNAT_IPV4);
	CHECK_EQ(c.family, XCT_AF_INET);
	CHECK_EQ(c.proto, 17);
	CHECK_EQ(c.src.v4, ip4("10.10.1.10"));
	CHECK_EQ(c.dst.v4, ip4("10.10.2.20"));
	CHECK_EQ(ntohs(c.sport), 40000);
	CHECK_EQ(ntohs(c.dport), 5353);
	CHECK_EQ(c.status,
		 XCT_IPS_CONFIRMED | XCT_IPS_SRC_NAT | XCT_IPS_SRC_NAT_DONE | XCT_IPS_DST_NAT_DONE);
	CHECK_EQ(c.timeout, 30);
	CHECK_EQ(c.snat.v4, ip4("10.10.2.1"));
}

TEST(ctsync_golden_tcp_established)
{
	struct xct_ctsync_conn c;

	roundtrip(tcp_est_upd, XCT_CTSYNC_CT_UPD, 0x6b167659, &c);
	CHECK_EQ(c.proto, 6);
	CHECK_EQ(c.src.v4, ip4("10.10.1.10"));
	CHECK_EQ(c.dst.v4, ip4("10.10.2.20"));
	CHECK_EQ(ntohs(c.sport), 36437);
	CHECK_EQ(ntohs(c.dport), 7001);
	CHECK_EQ(c.tcp_state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.status, XCT_IPS_SEEN_REPLY | XCT_IPS_ASSURED | XCT_IPS_CONFIRMED |
				   XCT_IPS_SRC_NAT_DONE | XCT_IPS_DST_NAT_DONE);
	CHECK_EQ(c.timeout, 432000); /* nf_conntrack_tcp_timeout_established */
	CHECK(!XCT_CTSYNC_HAS(&c, XCT_NTA_MARK));
}

TEST(ctsync_golden_icmp_quirk)
{
	struct xct_ctsync_conn c;

	roundtrip(icmp_echo, XCT_CTSYNC_CT_UPD, 0x6b16765d, &c);
	CHECK_EQ(c.proto, 1);
	CHECK_EQ(c.icmp_type, 8);
	CHECK_EQ(c.icmp_code, 0);
	CHECK_EQ(c.icmp_id, 7284); /* conntrack -L: id=7284 */
	CHECK(XCT_CTSYNC_HAS(&c, XCT_NTA_SPAT_PORT));
	CHECK_EQ(c.spat, 0);
}

TEST(ctsync_quirk_port_encoding)
{
	struct xct_ctsync_conn c = {0}, d;
	__u8 buf[128];
	enum xct_ctsync_error err;
	int len;

	/* SPAT 1000 goes out as e8 03, as an x86 conntrackd writes it. */
	c.attrs = 1ULL << XCT_NTA_IPV4 | 1ULL << XCT_NTA_L4PROTO | 1ULL << XCT_NTA_PORT |
		  1ULL << XCT_NTA_SPAT_PORT;
	c.proto = 17;
	c.spat = htons(1000);
	len = xct_ctsync_encode_conn(buf, sizeof(buf), XCT_CTSYNC_CT_NEW, 0, 1, &c);
	CHECK_EQ(len, 8 + 12 + 8 + 8 + 8);
	CHECK_EQ(buf[40], 0xe8);
	CHECK_EQ(buf[41], 0x03);
	CHECK_EQ(xct_ctsync_decode_conn(buf, len, &d, &err), 0);
	CHECK_EQ(ntohs(d.spat), 1000);
}

TEST(ctsync_golden_bulk_datagram)
{
	__u8 in[1024];
	size_t n = unhex(bulk, in, sizeof(in)), off = 0;
	struct xct_ctsync_conn c;
	struct xct_ctsync_hdr h = {0};
	enum xct_ctsync_error err;
	__u32 seq = 0x6b167660;
	int count = 0;

	while (off < n) {
		CHECK_EQ(xct_ctsync_parse_hdr(in + off, n - off, &h, &err), 0);
		if (err)
			return;
		CHECK_EQ(h.seq, seq + count);
		CHECK_EQ(xct_ctsync_decode_conn(in + off, h.len, &c, &err), 0);
		off += h.len;
		count++;
	}
	CHECK_EQ(count, 4);
	CHECK_EQ(off, n);
	/* The last one is the ping. */
	CHECK_EQ(c.proto, 1);
	CHECK_EQ(c.icmp_id, 7284);
}

static void ctl_roundtrip(const char *hex, __u8 flags, __u32 seq, __u32 from, __u32 to)
{
	__u8 in[32], out[32];
	size_t n = unhex(hex, in, sizeof(in));
	struct xct_ctsync_hdr h = {0};
	enum xct_ctsync_error err;

	CHECK_EQ(xct_ctsync_parse_hdr(in, n, &h, &err), 0);
	CHECK_EQ(h.type, XCT_CTSYNC_CTL);
	CHECK_EQ(h.flags, flags);
	CHECK_EQ(h.seq, seq);
	CHECK_EQ(h.from, from);
	CHECK_EQ(h.to, to);
	CHECK_EQ(xct_ctsync_build_ctl(out, sizeof(out), flags, seq, from, to), n);
	CHECK(check_bytes_equal(out, in, n));
}

TEST(ctsync_golden_control)
{
	ctl_roundtrip(ctl_alive_hello, XCT_CTSYNC_F_ALIVE | XCT_CTSYNC_F_HELLO, 0x6b167655, 0, 0);
	ctl_roundtrip(ctl_hello_back,
		      XCT_CTSYNC_F_HELLO_BACK | XCT_CTSYNC_F_HELLO | XCT_CTSYNC_F_ACK, 0x6b167656,
		      0x6b167655, 0x6b167655);
	ctl_roundtrip(ctl_ack, XCT_CTSYNC_F_ACK, 0x6b167657, 0x6b167656, 0x6b167656);
	ctl_roundtrip(ctl_resync, XCT_CTSYNC_F_RESYNC, 0x6b16765a, 0, 0);
}

/* The decoder's refusals, each on a copy of a golden message. */
static enum xct_ctsync_error refuse(__u8 *msg, size_t n)
{
	struct xct_ctsync_conn c;
	struct xct_ctsync_hdr h = {0};
	enum xct_ctsync_error err;

	if (xct_ctsync_parse_hdr(msg, n, &h, &err))
		return err;
	if (xct_ctsync_decode_conn(msg, h.len, &c, &err) == 0)
		return XCT_CTSYNC_OK;
	return err;
}

TEST(ctsync_malformed)
{
	__u8 m[128], ctl[16];
	size_t n;

	n = unhex(tcp_est_upd, m, sizeof(m));
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_OK);
	/* Version 2. */
	m[0] = 0x21;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_VERSION);
	m[0] = 0x11;
	/* len past the datagram, and below the header. */
	CHECK_EQ(refuse(m, n - 4), XCT_CTSYNC_ERR_TRUNCATED);
	CHECK_EQ(refuse(m, 6), XCT_CTSYNC_ERR_TRUNCATED);
	m[3] = 4;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_TRUNCATED);
	m[3] = 0x3c;
	/* An attribute type newer than 1.4.7 (NTA_MAX = 33): conntrackd
	 * refuses the whole message, and so does xct. */
	m[8 + 12 + 8 + 8 + 8 + 8 + 3] = XCT_NTA_MAX; /* the TIMEOUT attribute */
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_ATTR_UNKNOWN);
	m[8 + 12 + 8 + 8 + 8 + 8 + 3] = XCT_NTA_TIMEOUT;
	/* STATUS claiming 6 bytes instead of 8. */
	m[8 + 12 + 1] = 6;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_ATTR_SIZE);
	m[8 + 12 + 1] = 8;
	/* An attribute length past the message, and below its header. */
	m[8 + 1] = 0x40;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_ATTR_LEN);
	m[8 + 1] = 2;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_ATTR_LEN);
	m[8 + 1] = 0x0c;
	/* The message cut inside an attribute header (len 58: 2 bytes left). */
	m[3] = 0x3a;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_ATTR_LEN);
	m[3] = 0x3c;
	/* No addresses: nothing to key the connection by. */
	m[8 + 3] = XCT_NTA_MASTER_IPV4;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_INCOMPLETE);
	m[8 + 3] = XCT_NTA_IPV4;
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_OK);

	/* An ACK without its range. */
	n = unhex(ctl_ack, ctl, sizeof(ctl));
	ctl[3] = 8;
	CHECK_EQ(refuse(ctl, n), XCT_CTSYNC_ERR_TRUNCATED);
}

TEST(ctsync_encode_no_room)
{
	struct xct_ctsync_conn c;
	__u8 in[128], out[128];
	size_t n = unhex(tcp_est_upd, in, sizeof(in));
	enum xct_ctsync_error err;

	CHECK_EQ(xct_ctsync_decode_conn(in, n, &c, &err), 0);
	CHECK_EQ(xct_ctsync_encode_conn(out, n - 1, XCT_CTSYNC_CT_UPD, 0, 1, &c), -ENOSPC);
	CHECK_EQ(xct_ctsync_encode_conn(out, n, XCT_CTSYNC_CT_UPD, 0, 1, &c), n);
	CHECK_EQ(xct_ctsync_build_ctl(out, 15, XCT_CTSYNC_F_ACK, 1, 1, 1), -ENOSPC);
	CHECK_EQ(xct_ctsync_build_ctl(out, 8, XCT_CTSYNC_F_ALIVE, 1, 0, 0), 8);
}

/* An ICMP connection is keyed by its type, code and id: conntrackd's
 * build.c sends the three together or none, and a message without one of
 * them has nothing to key the entry by.  Each is knocked out of the golden
 * ping by retyping it as an attribute of the same size. */
TEST(ctsync_icmp_without_type_code_id)
{
	static const struct {
		size_t type_off; /* the attribute's type byte */
		__u8 stand_in;
	} knock[] = {
		{36 + 3, XCT_NTA_TCP_STATE},	   /* ICMP_TYPE */
		{44 + 3, XCT_NTA_TCP_WSCALE_ORIG}, /* ICMP_CODE */
		{52 + 3, XCT_NTA_ZONE},		   /* ICMP_ID */
	};
	struct xct_ctsync_conn c = {0}, d;
	enum xct_ctsync_error err;
	__u8 m[128], buf[128];
	size_t n, i;
	int len;

	n = unhex(icmp_echo, m, sizeof(m));
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_OK);
	for (i = 0; i < sizeof(knock) / sizeof(knock[0]); i++) {
		__u8 was = m[knock[i].type_off];

		m[knock[i].type_off] = knock[i].stand_in;
		CHECK_EQ(refuse(m, n), XCT_CTSYNC_ERR_INCOMPLETE);
		m[knock[i].type_off] = was;
	}
	CHECK_EQ(refuse(m, n), XCT_CTSYNC_OK);

	/* ICMPv6 the same, with none of the three. */
	c.attrs = 1ULL << XCT_NTA_IPV6 | 1ULL << XCT_NTA_L4PROTO;
	c.proto = 58;
	len = xct_ctsync_encode_conn(buf, sizeof(buf), XCT_CTSYNC_CT_NEW, 0, 1, &c);
	CHECK_EQ(len, 8 + 36 + 8);
	CHECK_EQ(xct_ctsync_decode_conn(buf, len, &d, &err), -EBADMSG);
	CHECK_EQ(err, XCT_CTSYNC_ERR_INCOMPLETE);
	c.attrs |= 1ULL << XCT_NTA_ICMP_TYPE | 1ULL << XCT_NTA_ICMP_CODE | 1ULL << XCT_NTA_ICMP_ID;
	c.icmp_type = 128;
	c.icmp_id = 42;
	len = xct_ctsync_encode_conn(buf, sizeof(buf), XCT_CTSYNC_CT_NEW, 0, 1, &c);
	CHECK_EQ(xct_ctsync_decode_conn(buf, len, &d, &err), 0);
	CHECK_EQ(d.icmp_id, 42);
}

/* Splices a MARK 0 attribute into a golden message at off (conntrackd's
 * place for it: after TIMEOUT), as conntrackd sends it for a connection
 * from a table dump. */
static size_t with_mark0(const char *hex, size_t off, __u8 *out, size_t cap)
{
	static const __u8 mark0[8] = {0x00, 0x08, 0x00, XCT_NTA_MARK, 0, 0, 0, 0};
	__u8 in[256];
	size_t n = unhex(hex, in, sizeof(in));

	if (n + 8 > cap)
		abort();
	memcpy(out, in, off);
	memcpy(out + off, mark0, 8);
	memcpy(out + off + 8, in + off, n - off);
	xct_ctsync_put16(out + 2, (__u16)(n + 8));
	return n + 8;
}

static void key_of(const char *src, __u16 sport, const char *dst, __u16 dport, __u8 proto,
		   struct xct_ct_key *key, __u8 *orig_side)
{
	struct xct_tuple t = {0};

	t.family = XCT_AF_INET;
	t.proto = proto;
	t.src.v4 = ip4(src);
	t.dst.v4 = ip4(dst);
	t.sport = htons(sport);
	t.dport = htons(dport);
	CHECK_EQ(xct_key_from_tuple(&t, key, orig_side), 0);
}

/* xct's own established TCP connection comes out as the bytes conntrackd
 * sent for the same connection; xct's LIBERAL bit is not sent. */
TEST(ctsync_from_ct_tcp_is_conntrackds_message)
{
	struct xct_ctsync_conn c;
	struct xct_ct_key key;
	__u8 want[256], out[256], side;
	size_t n = with_mark0(tcp_est_upd, 60, want, sizeof(want));
	int len;

	/* The server side sorts lower: orig_side 1 for the client. */
	key_of("10.10.1.10", 36437, "10.10.2.20", 7001, XCT_IPPROTO_TCP, &key, &side);
	xct_ctsync_from_ct(&key, side, XCT_TCP_ESTABLISHED,
			   XCT_CT_SEEN_REPLY | XCT_CT_ASSURED | XCT_CT_LIBERAL, 0, 432000, NULL,
			   NULL, &c);
	len = xct_ctsync_encode_conn(out, sizeof(out), XCT_CTSYNC_CT_UPD, 0, 0x6b167659, &c);
	CHECK_EQ(len, n);
	if (len == (int)n)
		CHECK(check_bytes_equal(out, want, n));
	/* The other way round in the key: the same message. */
	key_of("10.10.2.20", 7001, "10.10.1.10", 36437, XCT_IPPROTO_TCP, &key, &side);
	xct_ctsync_from_ct(&key, !side, XCT_TCP_ESTABLISHED, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED, 0,
			   432000, NULL, NULL, &c);
	len = xct_ctsync_encode_conn(out, sizeof(out), XCT_CTSYNC_CT_UPD, 0, 0x6b167659, &c);
	CHECK_EQ(len, n);
	if (len == (int)n)
		CHECK(check_bytes_equal(out, want, n));
}

/* A masqueraded UDP flow: SNAT from the binding, the port kept so no
 * SPAT, SEEN_REPLY not yet set: conntrackd's bytes again. */
TEST(ctsync_from_ct_masquerade_is_conntrackds_message)
{
	struct xct_nat_binding snat = {0};
	struct xct_ctsync_conn c;
	struct xct_ct_key key;
	__u8 want[256], out[256], side;
	size_t n = with_mark0(udp_snat_new, 52, want, sizeof(want));
	int len;

	key_of("10.10.1.10", 40000, "10.10.2.20", 5353, XCT_IPPROTO_UDP, &key, &side);
	snat.manip = XCT_CT_SRC_NAT;
	snat.addr.v4 = ip4("10.10.2.1");
	snat.port = htons(40000);
	xct_ctsync_from_ct(&key, side, 0, 0, 0, 30, &snat, NULL, &c);
	len = xct_ctsync_encode_conn(out, sizeof(out), XCT_CTSYNC_CT_NEW, 0, 0x6b167658, &c);
	CHECK_EQ(len, n);
	if (len == (int)n)
		CHECK(check_bytes_equal(out, want, n));
}

/* A port forward: DNAT and DPAT to the inner server, with a mark. */
TEST(ctsync_from_ct_dnat_port)
{
	struct xct_nat_binding dnat = {0};
	struct xct_ctsync_conn c, d;
	struct xct_ct_key key;
	enum xct_ctsync_error err;
	__u8 out[256], side;
	int len;

	key_of("192.0.2.7", 50000, "198.51.100.1", 80, XCT_IPPROTO_TCP, &key, &side);
	dnat.manip = XCT_CT_DST_NAT;
	dnat.addr.v4 = ip4("10.0.0.5");
	dnat.port = htons(8080);
	xct_ctsync_from_ct(&key, side, XCT_TCP_SYN_SENT, 0, 7, 120, &dnat, NULL, &c);
	len = xct_ctsync_encode_conn(out, sizeof(out), XCT_CTSYNC_CT_NEW, 0, 1, &c);
	CHECK(len > 0);
	CHECK_EQ(xct_ctsync_decode_conn(out, len, &d, &err), 0);
	CHECK_EQ(d.src.v4, ip4("192.0.2.7"));
	CHECK_EQ(d.dst.v4, ip4("198.51.100.1"));
	CHECK_EQ(ntohs(d.sport), 50000);
	CHECK_EQ(ntohs(d.dport), 80);
	CHECK_EQ(d.tcp_state, XCT_TCP_SYN_SENT);
	CHECK_EQ(d.mark, 7);
	CHECK_EQ(d.status & (XCT_IPS_DST_NAT | XCT_IPS_SRC_NAT), XCT_IPS_DST_NAT);
	CHECK(XCT_CTSYNC_HAS(&d, XCT_NTA_DNAT_IPV4));
	CHECK_EQ(d.dnat.v4, ip4("10.0.0.5"));
	CHECK(XCT_CTSYNC_HAS(&d, XCT_NTA_DPAT_PORT));
	CHECK_EQ(ntohs(d.dpat), 8080);
	CHECK(!XCT_CTSYNC_HAS(&d, XCT_NTA_SNAT_IPV4));
	CHECK(!XCT_CTSYNC_HAS(&d, XCT_NTA_SPAT_PORT));
}

/* A ping, from the reply's side too: the request's type, code and id. */
TEST(ctsync_from_ct_icmp)
{
	struct xct_tuple t = {0};
	struct xct_ctsync_conn c, d;
	struct xct_ct_key key;
	enum xct_ctsync_error err;
	__u8 out[256], side;
	int len;

	t.family = XCT_AF_INET;
	t.proto = XCT_IPPROTO_ICMP;
	t.src.v4 = ip4("10.10.2.20"); /* the echo reply */
	t.dst.v4 = ip4("10.10.1.10");
	t.icmp_type = 0;
	t.sport = 7284;
	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	xct_ctsync_from_ct(&key, 0, 0, XCT_CT_SEEN_REPLY, 0, 30, NULL, NULL, &c);
	len = xct_ctsync_encode_conn(out, sizeof(out), XCT_CTSYNC_CT_UPD, 0, 1, &c);
	CHECK_EQ(xct_ctsync_decode_conn(out, len, &d, &err), 0);
	CHECK_EQ(d.src.v4, ip4("10.10.1.10"));
	CHECK_EQ(d.dst.v4, ip4("10.10.2.20"));
	CHECK_EQ(d.icmp_type, 8);
	CHECK_EQ(d.icmp_code, 0);
	CHECK_EQ(d.icmp_id, 7284);
	CHECK(!XCT_CTSYNC_HAS(&d, XCT_NTA_SNAT_IPV4));
	CHECK(!XCT_CTSYNC_HAS(&d, XCT_NTA_PORT));
}

/* A connection through from_ct, the wire and to_ct: the same key,
 * sender, state, status and translation. */
static void through_the_wire(const struct xct_ct_key *key, __u8 side, __u8 state, __u16 status,
			     const struct xct_nat_binding *nat, const struct xct_nat_binding *inner,
			     struct xct_nat_binding got[2], int *n_nat)
{
	struct xct_ctsync_conn c, d;
	struct xct_ct_key k2;
	struct xct_ct_entry e;
	enum xct_ctsync_error err;
	__u8 out[256], side2 = 9;
	int len;

	xct_ctsync_from_ct(key, side, state, status, 42, 300, nat, inner, &c);
	len = xct_ctsync_encode_conn(out, sizeof(out), XCT_CTSYNC_CT_UPD, 0, 1, &c);
	CHECK(len > 0);
	CHECK_EQ(xct_ctsync_decode_conn(out, len, &d, &err), 0);
	CHECK_EQ(xct_ctsync_to_ct(&d, &k2, &side2, &e, got, n_nat), 0);
	CHECK(xct_key_eq(&k2, key));
	CHECK_EQ(side2, xct_is_icmp(key->family, key->proto) ? 0 : side);
	CHECK_EQ(e.orig_side, side2);
	CHECK_EQ(e.state, state);
	CHECK_EQ(e.mark, 42);
	CHECK_EQ(e.status & (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED),
		 status & (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED));
	CHECK_EQ(e.status & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT),
		 (nat ? nat->manip : 0) | (inner ? inner->manip : 0));
	CHECK_EQ(*n_nat, !!nat + !!inner);
}

static void same_binding(const struct xct_nat_binding *got, const struct xct_nat_binding *want)
{
	CHECK_EQ(got->manip, want->manip);
	CHECK_EQ(got->addr.v4, want->addr.v4);
	CHECK_EQ(got->port, want->port);
	CHECK_EQ(got->orig_side, want->orig_side);
	CHECK(xct_key_eq(&got->rkey, &want->rkey));
}

TEST(ctsync_to_ct_plain_and_icmp)
{
	struct xct_nat_binding got[2];
	struct xct_ct_key key;
	struct xct_tuple t = {0};
	__u8 side;
	int n;

	key_of("10.10.1.10", 36437, "10.10.2.20", 7001, XCT_IPPROTO_TCP, &key, &side);
	through_the_wire(&key, side, XCT_TCP_ESTABLISHED, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED, NULL,
			 NULL, got, &n);
	key_of("10.10.2.20", 5353, "10.10.1.10", 40000, XCT_IPPROTO_UDP, &key, &side);
	through_the_wire(&key, side, 0, 0, NULL, NULL, got, &n);
	t.family = XCT_AF_INET;
	t.proto = XCT_IPPROTO_ICMP;
	t.src.v4 = ip4("10.10.1.10");
	t.dst.v4 = ip4("10.10.2.20");
	t.icmp_type = 8;
	t.sport = 7284;
	CHECK_EQ(xct_key_from_tuple(&t, &key, &side), 0);
	through_the_wire(&key, side, 0, XCT_CT_SEEN_REPLY, NULL, NULL, got, &n);
}

/* The window scales of a TCP connection come only with conntrackd's
 * TCPWindowTracking; without them the entry says they are unknown. */
TEST(ctsync_to_ct_window_scales_or_unknown)
{
	struct xct_nat_binding nat[2];
	struct xct_ctsync_conn c;
	struct xct_ct_key key, k2;
	struct xct_ct_entry e;
	__u8 side, side2;
	int n_nat;

	key_of("10.10.1.10", 36437, "10.10.2.20", 7001, XCT_IPPROTO_TCP, &key, &side);
	xct_ctsync_from_ct(&key, side, XCT_TCP_ESTABLISHED, XCT_CT_SEEN_REPLY, 0, 300, NULL, NULL,
			   &c);
	CHECK_EQ(xct_ctsync_to_ct(&c, &k2, &side2, &e, nat, &n_nat), 0);
	CHECK(e.status & XCT_CT_SCALE_UNKNOWN);
	CHECK_EQ(e.proto.tcp.seen[0].td_scale, 0);

	c.attrs |=
		XCT_CTSYNC_BIT(XCT_NTA_TCP_WSCALE_ORIG) | XCT_CTSYNC_BIT(XCT_NTA_TCP_WSCALE_REPL);
	c.wscale[XCT_DIR_ORIGINAL] = 7;
	c.wscale[XCT_DIR_REPLY] = 9;
	CHECK_EQ(xct_ctsync_to_ct(&c, &k2, &side2, &e, nat, &n_nat), 0);
	CHECK(!(e.status & XCT_CT_SCALE_UNKNOWN));
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 7);
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, 9);

	/* Not a question for UDP. */
	key_of("10.10.2.20", 5353, "10.10.1.10", 40000, XCT_IPPROTO_UDP, &key, &side);
	xct_ctsync_from_ct(&key, side, 0, 0, 0, 30, NULL, NULL, &c);
	CHECK_EQ(xct_ctsync_to_ct(&c, &k2, &side2, &e, nat, &n_nat), 0);
	CHECK(!(e.status & XCT_CT_SCALE_UNKNOWN));
}

/* conntrackd's ping carries SPAT and DPAT 0 (its reading of the reply's
 * type and code) without being translated: no binding comes of them. */
TEST(ctsync_to_ct_icmp_quirk_is_no_nat)
{
	struct xct_nat_binding nat[2];
	struct xct_ctsync_conn c;
	struct xct_ct_key key;
	struct xct_ct_entry e;
	enum xct_ctsync_error err;
	__u8 m[128], side;
	size_t n = unhex(icmp_echo, m, sizeof(m));
	int n_nat = 9;

	CHECK_EQ(xct_ctsync_decode_conn(m, n, &c, &err), 0);
	CHECK_EQ(xct_ctsync_to_ct(&c, &key, &side, &e, nat, &n_nat), 0);
	CHECK_EQ(n_nat, 0);
	CHECK_EQ(key.port[0], 7284);
	CHECK_EQ(key.port[1], 8 << 8);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
}

TEST(ctsync_to_ct_translations)
{
	struct xct_nat_binding snat = {0}, dnat = {0}, inner = {0}, got[2];
	struct xct_ct_key key, want_rkey;
	__u8 side, s2;
	int n;

	/* Masquerade with a new port: the binding keyed by the translated
	 * tuple, as bpf/nat.h claims it. */
	key_of("10.10.1.10", 40000, "10.10.2.20", 5353, XCT_IPPROTO_UDP, &key, &side);
	key_of("10.10.2.1", 61000, "10.10.2.20", 5353, XCT_IPPROTO_UDP, &want_rkey, &s2);
	snat.manip = XCT_CT_SRC_NAT;
	snat.addr.v4 = ip4("10.10.2.1");
	snat.port = htons(61000);
	snat.orig_side = side;
	snat.rkey = want_rkey;
	through_the_wire(&key, side, 0, XCT_CT_SEEN_REPLY, &snat, NULL, got, &n);
	same_binding(&got[0], &snat);

	/* A port forward. */
	key_of("192.0.2.7", 50000, "198.51.100.1", 80, XCT_IPPROTO_TCP, &key, &side);
	key_of("192.0.2.7", 50000, "10.0.0.5", 8080, XCT_IPPROTO_TCP, &want_rkey, &s2);
	dnat.manip = XCT_CT_DST_NAT;
	dnat.addr.v4 = ip4("10.0.0.5");
	dnat.port = htons(8080);
	dnat.orig_side = side;
	dnat.rkey = want_rkey;
	through_the_wire(&key, side, XCT_TCP_ESTABLISHED, XCT_CT_SEEN_REPLY, &dnat, NULL, got, &n);
	same_binding(&got[0], &dnat);

	/* The port forward, its source masqueraded too (a hairpin): the
	 * inner binding keyed by the twice-translated tuple, its side that of
	 * the inner tuple's key. */
	key_of("192.0.2.7", 50000, "10.0.0.5", 8080, XCT_IPPROTO_TCP, &dnat.rkey, &s2);
	key_of("10.0.0.1", 50000, "10.0.0.5", 8080, XCT_IPPROTO_TCP, &want_rkey, &side);
	inner.manip = XCT_CT_SRC_NAT;
	inner.addr.v4 = ip4("10.0.0.1");
	inner.port = htons(50000);
	inner.orig_side = s2;
	inner.rkey = want_rkey;
	key_of("192.0.2.7", 50000, "198.51.100.1", 80, XCT_IPPROTO_TCP, &key, &side);
	through_the_wire(&key, side, XCT_TCP_ESTABLISHED, XCT_CT_SEEN_REPLY, &dnat, &inner, got,
			 &n);
	same_binding(&got[0], &dnat);
	same_binding(&got[1], &inner);
}

/* A connection outside the default zone carries it as NTA_ZONE, and
 * comes back in its zone, its translation's key too; zone 0 sends none,
 * as conntrackd leaves it out. */
TEST(ctsync_zone_through_the_wire)
{
	struct xct_nat_binding snat = {0}, got[2];
	struct xct_ctsync_conn c;
	struct xct_ct_key key;
	__u8 side, s2;
	int n;

	key_of("10.10.1.10", 36437, "10.10.2.20", 7001, XCT_IPPROTO_TCP, &key, &side);
	xct_ctsync_from_ct(&key, side, XCT_TCP_ESTABLISHED, 0, 0, 300, NULL, NULL, &c);
	CHECK(!XCT_CTSYNC_HAS(&c, XCT_NTA_ZONE));
	key.zone = 7;
	xct_ctsync_from_ct(&key, side, XCT_TCP_ESTABLISHED, 0, 0, 300, NULL, NULL, &c);
	CHECK(XCT_CTSYNC_HAS(&c, XCT_NTA_ZONE));
	CHECK_EQ(c.zone, 7);
	through_the_wire(&key, side, XCT_TCP_ESTABLISHED, XCT_CT_SEEN_REPLY, NULL, NULL, got, &n);

	key_of("10.10.1.10", 40000, "10.10.2.20", 5353, XCT_IPPROTO_UDP, &key, &side);
	key.zone = 65535;
	key_of("10.10.2.1", 61000, "10.10.2.20", 5353, XCT_IPPROTO_UDP, &snat.rkey, &s2);
	snat.rkey.zone = 65535;
	snat.manip = XCT_CT_SRC_NAT;
	snat.addr.v4 = ip4("10.10.2.1");
	snat.port = htons(61000);
	snat.orig_side = side;
	through_the_wire(&key, side, 0, XCT_CT_SEEN_REPLY, &snat, NULL, got, &n);
	same_binding(&got[0], &snat);
}

/* xctd's receiving side (src/daemon/sync.c) on captured datagrams: the
 * external cache, the sequence as conntrackd tracks it, the refusals. */
TEST(ctsync_xctd_receives_into_the_external_cache)
{
	static struct xctd_sync s;
	__u8 d[1024];
	size_t n;

	memset(&s, 0, sizeof(s));
	s.fd = -1;
	/* The answer to a RESYNC: four connections, in sequence. */
	n = unhex(bulk, d, sizeof(d));
	xctd_sync_datagram(&s, d, n, 1000);
	CHECK_EQ(s.st.msg_rcv, 4);
	CHECK_EQ(s.ext.n, 4);
	CHECK_EQ(s.st.msg_rcv_lost, 0);
	/* The same connections again (their next messages): replaced, not
	 * added. */
	d[7] += 4, d[0x3c + 7] += 4, d[0x78 + 7] += 4, d[0xb4 + 7] += 4;
	xctd_sync_datagram(&s, d, n, 2000);
	CHECK_EQ(s.ext.n, 4);
	CHECK_EQ(s.st.msg_rcv_lost, 0);
	CHECK_EQ(s.st.msg_rcv_before, 0);
	/* The forwarded TCP connection's CT_DEL, 9 sequence numbers on:
	 * out of the cache, 9 counted lost. */
	n = unhex(tcp_est_upd, d, sizeof(d));
	d[0] = 0x10 | XCT_CTSYNC_CT_DEL;
	xct_ctsync_put32(d + 4, 0x6b167660 + 8 + 9);
	xctd_sync_datagram(&s, d, n, 3000);
	CHECK_EQ(s.ext.n, 3);
	CHECK_EQ(s.st.msg_rcv_lost, 9);
	/* An ALIVE from before: counted as old, and as an ALIVE. */
	n = unhex(ctl_alive_hello, d, sizeof(d));
	xctd_sync_datagram(&s, d, n, 4000);
	CHECK_EQ(s.st.alive_rcv, 1);
	CHECK_EQ(s.st.msg_rcv_before, 1);
	/* A RESYNC request, counted. */
	n = unhex(ctl_resync, d, sizeof(d));
	xctd_sync_datagram(&s, d, n, 4000);
	CHECK_EQ(s.st.resync_rcv, 1);
	/* Version 2, and an ICMP message without its id: refused, by cause,
	 * the cache unchanged. */
	n = unhex(udp_snat_new, d, sizeof(d));
	d[0] = 0x20;
	xctd_sync_datagram(&s, d, n, 5000);
	CHECK_EQ(s.st.msg_rcv_malformed[XCT_CTSYNC_ERR_VERSION], 1);
	n = unhex(icmp_echo, d, sizeof(d));
	d[52 + 3] = XCT_NTA_ZONE;
	xctd_sync_datagram(&s, d, n, 5000);
	CHECK_EQ(s.st.msg_rcv_malformed[XCT_CTSYNC_ERR_INCOMPLETE], 1);
	CHECK_EQ(s.ext.n, 3);
	xctd_sync_flush_cache(&s);
	CHECK_EQ(s.ext.n, 0);
}

/*
 * FTFW's receiver, step by step on what conntrackd's node B received from
 * node A in a capture with every 4th datagram dropped before B
 * (CTSYNC_DROP=4 scripts/ctsync-capture.sh): the ACKs and NACKs it sent
 * are the ones the decisions ask for.  A's sequence numbers from
 * 0x6b16ad8b; the lines below are B's datagrams.
 */
#define A(n) (0x6b16ad8bU + (n))
static const char ftfw_b_hello_back_ack[] = "1a4800106b16ad8c6b16ad8c6b16ad8c";
static const char ftfw_b_ack_nack[] =
	"1a0800106b16ad8e6b16ad8e6b16ad8e1a0400106b16ad8f6b16ad8f6b16ad8f";
static const char ftfw_b_nack[] = "1a0400106b16ad916b16ad936b16ad93";

/* The range of the control message at off in the datagram hex. */
static void ctl_range(const char *hex, size_t off, __u8 flags, __u32 from, __u32 to)
{
	struct xct_ctsync_hdr h = {0};
	enum xct_ctsync_error err;
	__u8 d[64];
	size_t n = unhex(hex, d, sizeof(d));

	CHECK_EQ(xct_ctsync_parse_hdr(d + off, (__u32)(n - off), &h, &err), 0);
	CHECK_EQ(h.flags & (XCT_CTSYNC_F_ACK | XCT_CTSYNC_F_NACK), flags);
	CHECK_EQ(h.from, from);
	CHECK_EQ(h.to, to);
}

TEST(ctsync_ftfw_receiver_as_conntrackd)
{
	struct xct_ftfw b;
	struct xct_ftfw_verdict v;
	__u32 from = 0, to = 0;

	xct_ftfw_init(&b, XCT_FTFW_WINDOW);
	/* A's first datagram, ALIVE|HELLO, was dropped.  Its second: an
	 * ACK of B's first message, HELLO and HELLO_BACK set. */
	xct_ftfw_recv(&b, A(1), 0x68, &v);
	CHECK(v.take && v.hello && !v.ack && !v.nack);
	CHECK_EQ(b.hello, XCT_FTFW_HELLO_DONE);
	/* B's alive timer: ACK [A(1), A(1)], with HELLO_BACK. */
	CHECK_EQ(xct_ftfw_pending_ack(&b, &from, &to), 1);
	CHECK_EQ(xct_ftfw_tx_flags(&b) | XCT_CTSYNC_F_ACK, 0x48);
	ctl_range(ftfw_b_hello_back_ack, 0, XCT_CTSYNC_F_ACK, from, to);
	CHECK_EQ(xct_ftfw_tx_flags(&b), 0);
	/* A's periodic ACK, then B's timer acknowledges it. */
	xct_ftfw_recv(&b, A(2), XCT_CTSYNC_F_ACK, &v);
	CHECK(v.take && !v.ack && !v.nack);
	CHECK_EQ(xct_ftfw_pending_ack(&b, &from, &to), 1);
	CHECK_EQ(from, A(2));
	CHECK_EQ(to, A(2));
	/* Data A(3); A(4) dropped; A(5): ACK what came before the gap, NACK
	 * the gap, in one datagram. */
	xct_ftfw_recv(&b, A(3), 0, &v);
	CHECK(v.take && !v.ack && !v.nack);
	xct_ftfw_recv(&b, A(5), 0, &v);
	CHECK(v.take && v.ack && v.nack);
	ctl_range(ftfw_b_ack_nack, 0, XCT_CTSYNC_F_ACK, v.ack_from, v.ack_to);
	ctl_range(ftfw_b_ack_nack, 16, XCT_CTSYNC_F_NACK, v.nack_from, v.nack_to);
	/* A(6), A(7); the timer ACKs the new window from A(5). */
	xct_ftfw_recv(&b, A(6), 0, &v);
	xct_ftfw_recv(&b, A(7), 0, &v);
	CHECK(!v.ack && !v.nack);
	CHECK_EQ(xct_ftfw_pending_ack(&b, &from, &to), 1);
	CHECK_EQ(from, A(5));
	CHECK_EQ(to, A(7));
	/* A(8) dropped; A's ACK A(9): a NACK only, the window was ACKed. */
	xct_ftfw_recv(&b, A(9), XCT_CTSYNC_F_ACK, &v);
	CHECK(v.take && !v.ack && v.nack);
	ctl_range(ftfw_b_nack, 0, XCT_CTSYNC_F_NACK, v.nack_from, v.nack_to);
	/* The resend comes under A(10); A(8) itself, late, is dropped. */
	xct_ftfw_recv(&b, A(10), 0, &v);
	CHECK(v.take && !v.nack);
	xct_ftfw_recv(&b, A(8), 0, &v);
	CHECK(!v.take && !v.ack && !v.nack);
	CHECK_EQ(b.exp_seq, A(11));
}

/* The sender's HELLO, on the capture of the golden control messages: A's
 * first ALIVE says HELLO; B's ALIVE|HELLO gets HELLO_BACK on A's next
 * message, which still says HELLO; B's HELLO_BACK ends it. */
TEST(ctsync_ftfw_hello)
{
	struct xct_ftfw a;
	struct xct_ftfw_verdict v;
	__u8 d[16];

	xct_ftfw_init(&a, XCT_FTFW_WINDOW);
	unhex(ctl_alive_hello, d, sizeof(d));
	CHECK_EQ(xct_ftfw_tx_flags(&a) | XCT_CTSYNC_F_ALIVE, d[1]);
	xct_ftfw_recv(&a, xct_ctsync_get32(d + 4), d[1], &v);
	CHECK(v.take && v.hello);
	unhex(ctl_hello_back, d, sizeof(d));
	CHECK_EQ(xct_ftfw_tx_flags(&a) | XCT_CTSYNC_F_ACK, d[1]);
	xct_ftfw_recv(&a, 1, XCT_CTSYNC_F_HELLO_BACK | XCT_CTSYNC_F_ACK, &v);
	CHECK_EQ(xct_ftfw_tx_flags(&a), 0);
	/* A HELLO past a gap (the peer restarted): taken, no NACK. */
	xct_ftfw_recv(&a, 5000, XCT_CTSYNC_F_HELLO, &v);
	CHECK(v.take && v.hello && !v.nack);
	CHECK_EQ(xct_ftfw_tx_flags(&a), XCT_CTSYNC_F_HELLO_BACK);
}

/* A full window is ACKed at once; ranges wrap around 2^32. */
TEST(ctsync_ftfw_window_and_wrap)
{
	struct xct_ftfw f;
	struct xct_ftfw_verdict v;
	__u32 from, to;

	xct_ftfw_init(&f, 3);
	xct_ftfw_recv(&f, 0xfffffffeU, 0, &v);
	xct_ftfw_recv(&f, 0xffffffffU, 0, &v);
	CHECK(!v.ack);
	xct_ftfw_recv(&f, 0, 0, &v);
	CHECK(v.ack && !v.nack);
	CHECK_EQ(v.ack_from, 0xfffffffeU);
	CHECK_EQ(v.ack_to, 0);
	CHECK_EQ(xct_ftfw_pending_ack(&f, &from, &to), 0);
	xct_ftfw_recv(&f, 3, 0, &v);
	CHECK(v.nack && !v.ack);
	CHECK_EQ(v.nack_from, 1);
	CHECK_EQ(v.nack_to, 2);
	CHECK(xct_ftfw_between(0, 0xfffffffeU, 2));
	CHECK(xct_ftfw_between(0xfffffffeU, 0xfffffffeU, 2));
	CHECK(!xct_ftfw_between(3, 0xfffffffeU, 2));
	CHECK(!xct_ftfw_between(0xfffffffdU, 0xfffffffeU, 2));
}

/* The seq of the n-th message in the datagram being built. */
static __u32 out_seq(const struct xctd_sync *s, int n, __u8 *flags, __u16 *sport)
{
	size_t off = 0;
	struct xct_ctsync_conn c;
	enum xct_ctsync_error err;

	while (n-- > 0)
		off += xct_ctsync_get16(s->out + off + 2);
	CHECK(off < s->olen);
	*flags = s->out[off + 1];
	CHECK_EQ(xct_ctsync_decode_conn(s->out + off, xct_ctsync_get16(s->out + off + 2), &c, &err),
		 0);
	*sport = ntohs(c.sport);
	return xct_ctsync_get32(s->out + off + 4);
}

/* A control message of the peer's, as one datagram. */
static void peer_ctl(struct xctd_sync *s, __u8 flags, __u32 seq, __u32 from, __u32 to)
{
	__u8 d[16];
	int n = xct_ctsync_build_ctl(d, sizeof(d), flags, seq, from, to);

	xctd_sync_datagram(s, d, (size_t)n, 1000);
}

/* xctd's resend queue: a connection's newer message replaces its older
 * one, an ACK takes its range off, a NACK sends its range again under new
 * numbers, the peer's HELLO_BACK ending our HELLOs. */
TEST(ctsync_xctd_ftfw_resend_queue)
{
	static struct xctd_sync s;
	struct xct_ct_event ev = {0};
	__u16 sport;
	__u8 flags;
	int i;

	memset(&s, 0, sizeof(s));
	s.fd = -1;
	s.mode = XCTD_SYNC_FTFW;
	xct_ftfw_init(&s.ftfw, XCT_FTFW_WINDOW);
	s.seq = 1000;
	ev.state = XCT_TCP_ESTABLISHED;
	ev.expires_ns = 1000ULL * 1000000000;
	/* Connections from ports 1, 2, 3: messages 1000, 1001, 1002; port 1
	 * again: 1003, its 1000 replaced. */
	for (i = 1; i <= 4; i++) {
		ev.type = i == 4 ? XCT_CTE_UPDATE : XCT_CTE_NEW;
		key_of("10.0.0.1", i == 4 ? 1 : (__u16)i, "10.0.0.2", 80, XCT_IPPROTO_TCP, &ev.key,
		       &ev.orig_side);
		xctd_sync_event(&s, &ev, 0);
	}
	CHECK_EQ(out_seq(&s, 0, &flags, &sport), 1000);
	CHECK_EQ(flags, XCT_CTSYNC_F_HELLO);
	CHECK_EQ(s.rs_n, 3);
	CHECK_EQ(s.rs_keyed, 3);
	CHECK_EQ(s.rs_head->seq, 1001);
	s.olen = 0; /* as if sent */
	/* The peer ACKs 1000..1001 (with HELLO_BACK): port 2 is off. */
	peer_ctl(&s, XCT_CTSYNC_F_ACK | XCT_CTSYNC_F_HELLO_BACK, 7, 1000, 1001);
	CHECK_EQ(s.rs_n, 2);
	CHECK_EQ(s.st.rs_acked, 1);
	CHECK_EQ(s.ftfw.hello, XCT_FTFW_HELLO_DONE);
	/* It NACKs 1002..1003: ports 3 and 1 again, as 1004 and 1005,
	 * without HELLO now. */
	peer_ctl(&s, XCT_CTSYNC_F_NACK, 8, 1002, 1003);
	CHECK_EQ(s.st.rs_resent, 2);
	CHECK_EQ(out_seq(&s, 0, &flags, &sport), 1004);
	CHECK_EQ(flags, 0);
	CHECK_EQ(sport, 3);
	CHECK_EQ(out_seq(&s, 1, &flags, &sport), 1005);
	CHECK_EQ(sport, 1);
	CHECK_EQ(s.seq, 1006);
	/* The old numbers mean nothing now; the new ones are ACKed. */
	peer_ctl(&s, XCT_CTSYNC_F_ACK, 9, 1002, 1003);
	CHECK_EQ(s.rs_keyed, 2);
	peer_ctl(&s, XCT_CTSYNC_F_ACK, 10, 1004, 1005);
	CHECK_EQ(s.rs_keyed, 0);
	CHECK_EQ(s.rs_n, 0);
	/* The peer's messages were in sequence: nothing NACKed. */
	CHECK_EQ(s.st.nack_snd, 0);
	xctd_sync_close(&s);
}

/*
 * State Accept { ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP }: of a
 * TCP connection's events from its SYN to its DESTROY, only those in an
 * accepted state go out, the DESTROY by the state it ends in; a UDP flow
 * is not affected; a RESYNC's answer is filtered the same way.  The
 * sequence is the one Debian's conntrackd 1.4.7 sent for a connection
 * through nf_conntrack with that filter (SYN_SENT, SYN_RECV, FIN_WAIT and
 * LAST_ACK withheld; ESTABLISHED, CLOSE_WAIT, TIME_WAIT and the DESTROY
 * in TIME_WAIT sent), but for the first message's type: conntrackd's is a
 * CT_NEW (a new object in its cache), xct's the event's CT_UPD, which a
 * peer takes alike.
 */
TEST(ctsync_xctd_state_accept)
{
	static const struct {
		__u8 type, state;
	} life[] = {
		{XCT_CTE_NEW, XCT_TCP_SYN_SENT},       {XCT_CTE_UPDATE, XCT_TCP_SYN_RECV},
		{XCT_CTE_UPDATE, XCT_TCP_ESTABLISHED}, {XCT_CTE_UPDATE, XCT_TCP_FIN_WAIT},
		{XCT_CTE_UPDATE, XCT_TCP_CLOSE_WAIT},  {XCT_CTE_UPDATE, XCT_TCP_LAST_ACK},
		{XCT_CTE_UPDATE, XCT_TCP_TIME_WAIT},   {XCT_CTE_DESTROY, XCT_TCP_TIME_WAIT},
	};
	static const __u8 want_type[] = {XCT_CTSYNC_CT_UPD, XCT_CTSYNC_CT_UPD, XCT_CTSYNC_CT_UPD,
					 XCT_CTSYNC_CT_DEL, XCT_CTSYNC_CT_NEW};
	static const __u8 want_state[] = {XCT_TCP_ESTABLISHED, XCT_TCP_CLOSE_WAIT,
					  XCT_TCP_TIME_WAIT, XCT_TCP_TIME_WAIT, 0};
	static struct xctd_sync s;
	struct xct_ct_event ev = {0};
	struct xct_ctsync_conn c;
	enum xct_ctsync_error err;
	__u16 states = 0;
	const char *bad;
	size_t off = 0;
	unsigned int i, n = 0;

	CHECK_EQ(xct_tcp_state_list("ESTABLISHED, CLOSED,TIME_WAIT ,close_wait", &states, &bad), 0);
	CHECK_EQ(states, (1U << XCT_TCP_ESTABLISHED) | (1U << XCT_TCP_CLOSE) |
				 (1U << XCT_TCP_TIME_WAIT) | (1U << XCT_TCP_CLOSE_WAIT));
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	s.seq = 1;
	xctd_sync_accept_states(&s, states);
	ev.expires_ns = 1000ULL * 1000000000;
	key_of("10.0.0.1", 40000, "10.0.0.2", 80, XCT_IPPROTO_TCP, &ev.key, &ev.orig_side);
	for (i = 0; i < sizeof(life) / sizeof(life[0]); i++) {
		ev.type = life[i].type;
		ev.state = life[i].state;
		xctd_sync_event(&s, &ev, 0);
	}
	ev.type = XCT_CTE_NEW;
	ev.state = 0;
	key_of("10.0.0.1", 40001, "10.0.0.2", 53, XCT_IPPROTO_UDP, &ev.key, &ev.orig_side);
	xctd_sync_event(&s, &ev, 0);
	while (off < s.olen) {
		__u16 len = xct_ctsync_get16(s.out + off + 2);

		CHECK_EQ(xct_ctsync_decode_conn(s.out + off, len, &c, &err), 0);
		CHECK(n < sizeof(want_type));
		CHECK_EQ(s.out[off] & 0x0f, want_type[n]);
		if (c.proto == XCT_IPPROTO_TCP)
			CHECK_EQ(c.tcp_state, want_state[n]);
		else
			CHECK_EQ(c.proto, XCT_IPPROTO_UDP);
		off += len;
		n++;
	}
	CHECK_EQ(n, 5);
	CHECK_EQ(s.st.filtered, 4);
	CHECK_EQ(s.st.filtered_state, 4);
	/* No filter: everything goes. */
	s.olen = 0;
	xctd_sync_accept_states(&s, 0);
	ev.type = XCT_CTE_NEW;
	ev.state = XCT_TCP_SYN_SENT;
	key_of("10.0.0.1", 40002, "10.0.0.2", 80, XCT_IPPROTO_TCP, &ev.key, &ev.orig_side);
	xctd_sync_event(&s, &ev, 0);
	CHECK(s.olen > 0);
	CHECK_EQ(s.st.filtered, 4);
	/* The names refused, and where. */
	CHECK_EQ(xct_tcp_state_list("ESTABLISHED,LISTEN", &states, &bad), -EINVAL);
	CHECK_STR(bad, "LISTEN");
	CHECK_EQ(xct_tcp_state_list("ESTABLISHED TIME_WAIT", &states, &bad), -EINVAL);
	CHECK_STR(bad, "TIME_WAIT");
	CHECK_EQ(xct_tcp_state_list("", &states, &bad), -EINVAL);
	xctd_sync_close(&s);
}

/*
 * The window scales: known for a connection whose handshake the table
 * saw, not before the answer to its SYN, not for a mid-stream pickup, nor
 * for one committed from a message without them; an event's known scales
 * go out as NTA_TCP_WSCALE_ORIG and _REPL, and the peer's commit takes
 * them, so that it need not stay liberal (XCT_CT_SCALE_UNKNOWN).
 */
TEST(ctsync_xctd_window_scales)
{
	static struct xctd_sync s;
	struct xct_ct_entry e = {0}, got;
	struct xct_ct_event ev = {0};
	struct xct_nat_binding nat[2];
	struct xct_ctsync_conn c;
	enum xct_ctsync_error err;
	struct xct_ct_key key;
	__u8 side;
	int n_nat;

	e.state = XCT_TCP_ESTABLISHED;
	CHECK(xct_tcp_scales_known(&e));
	e.state = XCT_TCP_SYN_SENT;
	CHECK(!xct_tcp_scales_known(&e));
	e.state = XCT_TCP_SYN_RECV;
	CHECK(xct_tcp_scales_known(&e));
	/* A pickup: liberal both ways for good. */
	e.state = XCT_TCP_ESTABLISHED;
	e.proto.tcp.seen[0].flags = e.proto.tcp.seen[1].flags = XCT_TCP_F_BE_LIBERAL;
	CHECK(!xct_tcp_scales_known(&e));
	/* Committed with its scales, liberal until seen both ways. */
	e.status = XCT_CT_LIBERAL;
	CHECK(xct_tcp_scales_known(&e));
	e.status = XCT_CT_SCALE_UNKNOWN;
	e.proto.tcp.seen[0].flags = e.proto.tcp.seen[1].flags = 0;
	CHECK(!xct_tcp_scales_known(&e));

	memset(&s, 0, sizeof(s));
	s.fd = -1;
	s.seq = 1;
	ev.type = XCT_CTE_UPDATE;
	ev.state = XCT_TCP_ESTABLISHED;
	ev.expires_ns = 1000ULL * 1000000000;
	key_of("10.0.0.1", 40000, "10.0.0.2", 80, XCT_IPPROTO_TCP, &ev.key, &ev.orig_side);
	ev.wscale[XCT_DIR_ORIGINAL] = 7 | XCT_CTE_WSCALE_KNOWN;
	ev.wscale[XCT_DIR_REPLY] = 9 | XCT_CTE_WSCALE_KNOWN;
	xctd_sync_event(&s, &ev, 0);
	CHECK_EQ(xct_ctsync_decode_conn(s.out, xct_ctsync_get16(s.out + 2), &c, &err), 0);
	CHECK(XCT_CTSYNC_HAS(&c, XCT_NTA_TCP_WSCALE_ORIG));
	CHECK(XCT_CTSYNC_HAS(&c, XCT_NTA_TCP_WSCALE_REPL));
	CHECK_EQ(c.wscale[XCT_DIR_ORIGINAL], 7);
	CHECK_EQ(c.wscale[XCT_DIR_REPLY], 9);
	/* As conntrackd encodes them: after the TCP state, a u8 each. */
	CHECK_EQ(xct_ctsync_get16(s.out + 2), 8 + 12 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8);
	CHECK_EQ(xct_ctsync_to_ct(&c, &key, &side, &got, nat, &n_nat), 0);
	CHECK(!(got.status & XCT_CT_SCALE_UNKNOWN));
	CHECK_EQ(got.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 7);
	CHECK_EQ(got.proto.tcp.seen[XCT_DIR_REPLY].td_scale, 9);
	/* One direction unknown: neither is sent. */
	s.olen = 0;
	ev.wscale[XCT_DIR_REPLY] = 0;
	xctd_sync_event(&s, &ev, 0);
	CHECK_EQ(xct_ctsync_decode_conn(s.out, xct_ctsync_get16(s.out + 2), &c, &err), 0);
	CHECK(!XCT_CTSYNC_HAS(&c, XCT_NTA_TCP_WSCALE_ORIG));
	CHECK(!XCT_CTSYNC_HAS(&c, XCT_NTA_TCP_WSCALE_REPL));
	xctd_sync_close(&s);
}

/* Commit on receive with no xct attached: the peer's connections stay in
 * the external cache, for a later commit, each counted as failed; the
 * table is looked for once in the burst, and again a second later. */
TEST(ctsync_xctd_commit_on_receive_without_xct)
{
	static struct xctd_sync s;
	__u8 d[1024];
	size_t n;

	memset(&s, 0, sizeof(s));
	s.fd = -1;
	xctd_sync_commit_on_receive(&s, "/nonexistent/xct-unit");
	n = unhex(bulk, d, sizeof(d));
	xctd_sync_datagram(&s, d, n, 1000);
	CHECK_EQ(s.ext.n, 4);
	CHECK_EQ(s.st.direct_failed, 4);
	CHECK_EQ(s.st.direct_inserted, 0);
	CHECK(s.direct_t == NULL);
	CHECK_EQ(s.direct_failed_ns, 1000);
	/* A second on: tried again, and failed again. */
	d[7] += 4, d[0x3c + 7] += 4, d[0x78 + 7] += 4, d[0xb4 + 7] += 4;
	xctd_sync_datagram(&s, d, n, 1000 + XCTD_SYNC_ALIVE_NS);
	CHECK_EQ(s.st.direct_failed, 8);
	CHECK_EQ(s.direct_failed_ns, 1000 + XCTD_SYNC_ALIVE_NS);
	xctd_sync_close(&s);
}
