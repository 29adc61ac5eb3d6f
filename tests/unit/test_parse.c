// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the packet parser (include/xct/parse.h): Ethernet and VLAN
 * tags, IPv4 with options, fragments and bad headers, IPv6 extension
 * headers, TCP options, UDP and ICMP, the packet an ICMP error quotes, and
 * every truncation of a packet.
 *
 * Packets are built byte by byte with the small builder below, so each test
 * states exactly what is on the wire.  Every parse runs twice, once with the
 * bytes after the copied ones set to 0x00 and once to 0xff: the two results
 * must be identical, which fails if the parser reads past what was copied.
 */
#include <arpa/inet.h>

#include "addr.h"
#include "check.h"
#include "xct/parse.h"

struct frame {
	__u8 b[14 + 40 + 65535];
	__u32 len;
};

static void put8(struct frame *f, __u8 v)
{
	f->b[f->len++] = v;
}

static void put16(struct frame *f, __u16 v)
{
	put8(f, v >> 8);
	put8(f, v & 0xff);
}

static void put32(struct frame *f, __u32 v)
{
	put16(f, v >> 16);
	put16(f, v & 0xffff);
}

static void put_bytes(struct frame *f, const void *p, __u32 n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put_zeros(struct frame *f, __u32 n)
{
	memset(f->b + f->len, 0, n);
	f->len += n;
}

static void set16(struct frame *f, __u32 at, __u16 v)
{
	f->b[at] = v >> 8;
	f->b[at + 1] = v & 0xff;
}

static __u32 addr4(const char *s)
{
	__u32 a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a;
}

static void put_eth(struct frame *f, __u16 ethertype)
{
	static const __u8 macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

	put_bytes(f, macs, sizeof(macs));
	put16(f, ethertype);
}

static void put_vlan(struct frame *f, __u16 vid, __u16 next_type)
{
	put16(f, vid);
	put16(f, next_type);
}

/* An IPv4 header with opt_len bytes of NOP options; returns its offset.
 * ipv4_done() fills in the total length once the payload is there. */
static __u32 put_ipv4(struct frame *f, __u8 proto, const char *src, const char *dst, __u32 opt_len)
{
	__u32 at = f->len, s = addr4(src), d = addr4(dst);

	put8(f, 0x45 + opt_len / 4);
	put8(f, 0);
	put16(f, 0);	  /* total length */
	put16(f, 0x1234); /* id */
	put16(f, 0x4000); /* DF */
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put_bytes(f, &s, 4);
	put_bytes(f, &d, 4);
	memset(f->b + f->len, 1, opt_len);
	f->len += opt_len;
	return at;
}

static void ipv4_done(struct frame *f, __u32 ip)
{
	set16(f, ip + 2, f->len - ip);
}

static __u32 put_ipv6(struct frame *f, __u8 next, const char *src, const char *dst)
{
	__u32 at = f->len;
	union xct_addr s = v6(src), d = v6(dst);

	put32(f, 0x60000000);
	put16(f, 0); /* payload length */
	put8(f, next);
	put8(f, 64);
	put_bytes(f, s.bytes, 16);
	put_bytes(f, d.bytes, 16);
	return at;
}

static void ipv6_done(struct frame *f, __u32 ip)
{
	set16(f, ip + 4, f->len - ip - 40);
}

/* Hop-by-hop, routing or destination options: (units + 1) * 8 bytes of
 * Pad1 options. */
static void put_ipv6_opts(struct frame *f, __u8 next, __u8 units)
{
	put8(f, next);
	put8(f, units);
	put_zeros(f, (units + 1) * 8 - 2);
}

static void put_ipv6_frag(struct frame *f, __u8 next, __u16 offset, int more)
{
	put8(f, next);
	put8(f, 0);
	put16(f, offset << 3 | !!more);
	put32(f, 0xabcd);
}

/* A TCP header followed by optlen bytes of options (a multiple of 4). */
static __u32 put_tcp(struct frame *f, __u16 sport, __u16 dport, __u32 seq, __u32 ack, __u8 flags,
		     __u16 win, const __u8 *opts, __u32 optlen)
{
	__u32 at = f->len;

	put16(f, sport);
	put16(f, dport);
	put32(f, seq);
	put32(f, ack);
	put8(f, ((20 + optlen) / 4) << 4);
	put8(f, flags);
	put16(f, win);
	put16(f, 0); /* checksum */
	put16(f, 0); /* urgent pointer */
	if (optlen)
		put_bytes(f, opts, optlen);
	return at;
}

static __u32 put_udp(struct frame *f, __u16 sport, __u16 dport)
{
	__u32 at = f->len;

	put16(f, sport);
	put16(f, dport);
	put16(f, 0); /* length */
	put16(f, 0);
	return at;
}

static void udp_done(struct frame *f, __u32 udp)
{
	set16(f, udp + 4, f->len - udp);
}

static void put_icmp(struct frame *f, __u8 type, __u8 code, __u16 id, __u16 seq)
{
	put8(f, type);
	put8(f, code);
	put16(f, 0);
	put16(f, id);
	put16(f, seq);
}

/* Parses the first len bytes of a frame, the rest of the buffer being
 * filled with fill. */
static __u8 parse_with_fill(const struct frame *f, __u32 len, __u8 fill, struct xct_pkt *pkt)
{
	static __u8 buf[sizeof(f->b)];

	memset(buf, fill, sizeof(buf));
	memcpy(buf, f->b, len);
	memset(pkt, 0, sizeof(*pkt));
	return xct_parse_buf(buf, len, pkt);
}

/* Parses the frame cut to len bytes, and checks that nothing beyond them
 * influenced the result. */
static __u8 parse_part(const struct frame *f, __u32 len, struct xct_pkt *pkt)
{
	struct xct_pkt other;
	__u8 r0, r1;

	r0 = parse_with_fill(f, len, 0xff, &other);
	r1 = parse_with_fill(f, len, 0x00, pkt);
	CHECK_EQ(r0, r1);
	CHECK(memcmp(&other, pkt, sizeof(other)) == 0);
	return r1;
}

static __u8 parse(const struct frame *f, struct xct_pkt *pkt)
{
	return parse_part(f, f->len, pkt);
}

/* MSS, SACK-permitted, timestamps, NOP, window scale 7: 20 bytes. */
static const __u8 syn_opts[20] = {
	2, 4,  0x05, 0xb4,		     /* MSS 1460 */
	4, 2,				     /* SACK permitted */
	8, 10, 0,    0,	   0, 1, 0, 0, 0, 0, /* timestamps */
	1,				     /* NOP */
	3, 3,  7,			     /* window scale 7 */
};

/* Ethernet, IPv4, TCP SYN with syn_opts and 10 bytes of data: 84 bytes. */
static void build_tcp_syn(struct frame *f)
{
	__u32 ip;

	memset(f, 0, sizeof(*f));
	put_eth(f, XCT_ETH_P_IP);
	ip = put_ipv4(f, XCT_IPPROTO_TCP, "192.0.2.1", "198.51.100.7", 0);
	put_tcp(f, 40000, 443, 0x11223344, 0, XCT_TCPF_SYN, 64240, syn_opts, sizeof(syn_opts));
	put_zeros(f, 10);
	ipv4_done(f, ip);
}

TEST(parse_ipv4_tcp_syn_options)
{
	struct xct_pkt pkt;
	struct frame f;

	build_tcp_syn(&f);
	CHECK_EQ(f.len, 84);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.family, XCT_AF_INET);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_TCP);
	CHECK_EQ(pkt.t.src.v4, addr4("192.0.2.1"));
	CHECK_EQ(pkt.t.dst.v4, addr4("198.51.100.7"));
	CHECK_EQ(pkt.t.src.v6[1] | pkt.t.src.v6[2] | pkt.t.src.v6[3], 0);
	CHECK_EQ(pkt.t.sport, htons(40000));
	CHECK_EQ(pkt.t.dport, htons(443));
	CHECK_EQ(pkt.tcp.seq, 0x11223344);
	CHECK_EQ(pkt.tcp.ack, 0);
	CHECK_EQ(pkt.tcp.sack, 0);
	CHECK_EQ(pkt.tcp.flags, XCT_TCPF_SYN);
	CHECK_EQ(pkt.tcp.window, 64240);
	CHECK_EQ(pkt.tcp.wscale, 7);
	CHECK_EQ(pkt.tcp.opts, XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM);
	CHECK_EQ(pkt.tcp.payload_len, 10);
	CHECK_EQ(pkt.l3_len, 70);
	CHECK_EQ(pkt.icmp_error, 0);
}

TEST(parse_tcp_sack_blocks_highest_right_edge)
{
	/* NOP NOP SACK(3000-4000, 1000-2000), NOP NOP timestamps: 32 bytes. */
	static const __u8 opts[32] = {
		1, 1, 5,    18,	  0, 0, 0x0b, 0xb8, 0, 0, 0x0f, 0xa0, /* 3000-4000 */
		0, 0, 0x03, 0xe8, 0, 0, 0x07, 0xd0,		      /* 1000-2000 */
		1, 1, 8,    10,	  0, 0, 0,    9,    0, 0, 0,	8,
	};
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put_tcp(&f, 80, 50000, 7, 500, XCT_TCPF_ACK, 1000, opts, sizeof(opts));
	ipv4_done(&f, ip);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.tcp.ack, 500);
	CHECK_EQ(pkt.tcp.sack, 4000);
	CHECK_EQ(pkt.tcp.opts, 0); /* SACK blocks are not SACK-permitted */
	CHECK_EQ(pkt.tcp.payload_len, 0);
	CHECK_EQ(pkt.l3_len, 20 + 20 + 32);
}

TEST(parse_tcp_sack_below_ack_keeps_ack)
{
	/* A D-SACK block below the ACK does not lower sack. */
	static const __u8 opts[12] = {1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200};
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put_tcp(&f, 80, 50000, 7, 500, XCT_TCPF_ACK, 1000, opts, sizeof(opts));
	ipv4_done(&f, ip);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.tcp.sack, 500);
}

TEST(parse_tcp_wscale_capped_at_14)
{
	static const __u8 opts[4] = {1, 3, 3, 15};
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put_tcp(&f, 80, 50000, 7, 0, XCT_TCPF_SYN, 1000, opts, sizeof(opts));
	ipv4_done(&f, ip);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.tcp.wscale, 14);
	CHECK_EQ(pkt.tcp.opts, XCT_TCP_F_WINDOW_SCALE);
}

TEST(parse_ethernet_padding_not_counted)
{
	/* A 54-byte ACK padded to the 60-byte Ethernet minimum: the lengths
	 * come from the IP header, not from the frame. */
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put_tcp(&f, 80, 50000, 7, 9, XCT_TCPF_ACK, 1000, NULL, 0);
	ipv4_done(&f, ip);
	put_zeros(&f, 6);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.l3_len, 40);
	CHECK_EQ(pkt.tcp.payload_len, 0);
}

static void build_vlan_udp(struct frame *f, const __u16 *tpids, int ntags)
{
	__u32 ip, udp;
	int i;

	memset(f, 0, sizeof(*f));
	put_eth(f, ntags ? tpids[0] : XCT_ETH_P_IP);
	for (i = 0; i < ntags; i++)
		put_vlan(f, 100 + i, i + 1 < ntags ? tpids[i + 1] : XCT_ETH_P_IP);
	ip = put_ipv4(f, XCT_IPPROTO_UDP, "10.1.0.1", "10.1.0.2", 0);
	udp = put_udp(f, 5353, 53);
	put_zeros(f, 4);
	udp_done(f, udp);
	ipv4_done(f, ip);
}

TEST(parse_vlan_one_and_two_tags)
{
	static const __u16 q[1] = {XCT_ETH_P_8021Q};
	static const __u16 qinq[2] = {XCT_ETH_P_8021AD, XCT_ETH_P_8021Q};
	static const __u16 adad[2] = {XCT_ETH_P_8021AD, XCT_ETH_P_8021AD};
	struct xct_pkt pkt;
	struct frame f;

	build_vlan_udp(&f, q, 1);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(pkt.t.src.v4, addr4("10.1.0.1"));
	CHECK_EQ(pkt.t.sport, htons(5353));
	CHECK_EQ(pkt.t.dport, htons(53));
	CHECK_EQ(pkt.l3_len, 32);

	build_vlan_udp(&f, qinq, 2);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.dst.v4, addr4("10.1.0.2"));
	CHECK_EQ(pkt.t.dport, htons(53));
	CHECK_EQ(pkt.l3_len, 32);

	build_vlan_udp(&f, adad, 2);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.sport, htons(5353));
}

TEST(parse_vlan_three_tags_too_deep)
{
	static const __u16 three[3] = {XCT_ETH_P_8021AD, XCT_ETH_P_8021Q, XCT_ETH_P_8021Q};
	struct xct_pkt pkt;
	struct frame f;

	build_vlan_udp(&f, three, 3);
	CHECK_EQ(parse(&f, &pkt), XCT_R_VLAN_TOO_DEEP);
}

TEST(parse_vlan_truncated)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};

	put_eth(&f, XCT_ETH_P_8021Q);
	put16(&f, 100);
	CHECK_EQ(parse(&f, &pkt), XCT_R_VLAN_TRUNCATED);
}

TEST(parse_not_ip)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};

	put_eth(&f, 0x0806); /* ARP request */
	put16(&f, 1);
	put16(&f, 0x0800);
	put8(&f, 6);
	put8(&f, 4);
	put16(&f, 1);
	put_zeros(&f, 20);
	CHECK_EQ(parse(&f, &pkt), XCT_R_NOT_IP);
}

TEST(parse_ipv4_options)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip, udp;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 8); /* ihl 7 */
	udp = put_udp(&f, 1000, 2000);
	put_zeros(&f, 3);
	udp_done(&f, udp);
	ipv4_done(&f, ip);

	CHECK_EQ(f.b[14], 0x47);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.sport, htons(1000));
	CHECK_EQ(pkt.t.dport, htons(2000));
	CHECK_EQ(pkt.t.src.v4, addr4("10.0.0.1"));
	CHECK_EQ(pkt.l3_len, 28 + 11);
}

/* Ethernet, IPv4 and a 20-byte TCP ACK; the IP header starts at 14. */
static void build_tcp_ack(struct frame *f)
{
	__u32 ip;

	memset(f, 0, sizeof(*f));
	put_eth(f, XCT_ETH_P_IP);
	ip = put_ipv4(f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put_tcp(f, 1234, 80, 1, 1, XCT_TCPF_ACK, 100, NULL, 0);
	ipv4_done(f, ip);
}

TEST(parse_ipv4_bad_headers)
{
	struct xct_pkt pkt;
	struct frame f;

	build_tcp_ack(&f);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);

	f.b[14] = 0x65; /* version 6 in an IPv4 frame */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV4_BAD_HEADER);

	build_tcp_ack(&f);
	f.b[14] = 0x44; /* ihl 16 bytes */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV4_BAD_HEADER);

	build_tcp_ack(&f);
	set16(&f, 14 + 2, 41); /* total length one byte beyond the packet */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV4_TRUNCATED);

	build_tcp_ack(&f);
	set16(&f, 14 + 2, 19); /* total length below the header length */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV4_BAD_HEADER);

	build_tcp_ack(&f);
	f.b[14] = 0x4f; /* 60-byte header in a 40-byte packet */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV4_TRUNCATED);
}

TEST(parse_ipv4_fragments)
{
	struct xct_pkt pkt;
	struct frame f;

	/* First fragment (MF, offset 0): has the TCP header, tracked. */
	build_tcp_ack(&f);
	set16(&f, 14 + 6, 0x2000);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.dport, htons(80));

	/* Any later fragment: no transport header. */
	build_tcp_ack(&f);
	set16(&f, 14 + 6, 0x2000 | 1);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAGMENT);
	build_tcp_ack(&f);
	set16(&f, 14 + 6, 0x00b9); /* last fragment */
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAGMENT);
	build_tcp_ack(&f);
	set16(&f, 14 + 6, 0x1000); /* highest offset bit */
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAGMENT);
}

/* IPv6 SYN behind hop-by-hop (8 bytes), destination options (16 bytes) and
 * a fragment header with the given offset; the frame is 14+40+32+20. */
static void build_ipv6_exthdr_syn(struct frame *f, __u16 frag_offset)
{
	__u32 ip;

	memset(f, 0, sizeof(*f));
	put_eth(f, XCT_ETH_P_IPV6);
	ip = put_ipv6(f, 0, "2001:db8::1", "2001:db8::2:1");
	put_ipv6_opts(f, 60, 0);
	put_ipv6_opts(f, 44, 1);
	put_ipv6_frag(f, XCT_IPPROTO_TCP, frag_offset, 1);
	put_tcp(f, 33000, 22, 100, 0, XCT_TCPF_SYN, 1000, NULL, 0);
	ipv6_done(f, ip);
}

TEST(parse_ipv6_extension_headers)
{
	union xct_addr src = v6("2001:db8::1"), dst = v6("2001:db8::2:1");
	struct xct_pkt pkt;
	struct frame f;

	build_ipv6_exthdr_syn(&f, 0);
	CHECK_EQ(f.len, 14 + 40 + 32 + 20);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.family, XCT_AF_INET6);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_TCP);
	CHECK(memcmp(&pkt.t.src, &src, 16) == 0);
	CHECK(memcmp(&pkt.t.dst, &dst, 16) == 0);
	CHECK_EQ(pkt.t.sport, htons(33000));
	CHECK_EQ(pkt.t.dport, htons(22));
	CHECK_EQ(pkt.tcp.seq, 100);
	CHECK_EQ(pkt.tcp.flags, XCT_TCPF_SYN);
	CHECK_EQ(pkt.tcp.payload_len, 0);
	CHECK_EQ(pkt.l3_len, 40 + 32 + 20);

	build_ipv6_exthdr_syn(&f, 185);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAGMENT);
}

/* An IPv6 UDP packet behind n destination option headers. */
static void build_ipv6_n_exthdrs(struct frame *f, int n)
{
	__u32 ip, udp;
	int i;

	memset(f, 0, sizeof(*f));
	put_eth(f, XCT_ETH_P_IPV6);
	ip = put_ipv6(f, n ? 60 : XCT_IPPROTO_UDP, "fe80::1", "fe80::2");
	for (i = 0; i < n; i++)
		put_ipv6_opts(f, i + 1 < n ? 60 : XCT_IPPROTO_UDP, 0);
	udp = put_udp(f, 546, 547);
	udp_done(f, udp);
	ipv6_done(f, ip);
}

TEST(parse_ipv6_exthdr_chains_1_to_16)
{
	static struct frame f;
	struct xct_pkt pkt;
	int n;

	for (n = 1; n <= 16; n++) {
		build_ipv6_n_exthdrs(&f, n);
		if (parse(&f, &pkt) != XCT_R_OK || pkt.t.proto != XCT_IPPROTO_UDP ||
		    pkt.t.dport != htons(547) || pkt.l4_off != 14 + 40 + 8 * n ||
		    pkt.l3_len != 40 + 8 * (__u32)n + 8 || pkt.frag != XCT_FRAG_NONE)
			CHECK_FAIL("%d headers: not parsed to the UDP header", n);
	}
}

TEST(parse_ipv6_longest_exthdr_chain)
{
	/* As many 8-byte headers as a 65535-byte payload holds with a UDP
	 * header: no chain a packet can carry is cut short. */
	static struct frame f;
	struct xct_pkt pkt;

	build_ipv6_n_exthdrs(&f, (65535 - 8) / 8);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(pkt.t.sport, htons(546));
	CHECK_EQ(pkt.l3_len, 40 + 8 * ((65535 - 8) / 8) + 8);
	CHECK(XCT_MAX_IPV6_EXTHDRS > (65535 - 8) / 8);
}

/* An IPv6 TCP SYN (window scale 7, SACK-permitted) behind a destination
 * options header holding one option of opt_len bytes. */
static void build_ipv6_big_option_syn(struct frame *f, __u32 opt_len, __u16 dport)
{
	static const __u8 opts[8] = {1, 1, 4, 2, 1, 3, 3, 7};
	__u32 ip, hdr = 2 + 2 + opt_len;

	memset(f, 0, sizeof(*f));
	put_eth(f, XCT_ETH_P_IPV6);
	ip = put_ipv6(f, 60, "2001:db8::1", "2001:db8::2:1");
	put8(f, XCT_IPPROTO_TCP);
	put8(f, (__u8)((hdr + 7) / 8 - 1));
	put8(f, 0x1e); /* an option to skip */
	put8(f, (__u8)opt_len);
	put_zeros(f, opt_len + (8 - hdr % 8) % 8);
	put_tcp(f, 33000, dport, 100, 0, XCT_TCPF_SYN, 1000, opts, sizeof(opts));
	ipv6_done(f, ip);
}

TEST(parse_ipv6_196_byte_option)
{
	struct xct_pkt pkt;
	struct frame f;

	build_ipv6_big_option_syn(&f, 196, 22);
	CHECK_EQ(f.len, 14 + 40 + 200 + 28);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_TCP);
	CHECK_EQ(pkt.t.dport, htons(22));
	CHECK_EQ(pkt.l4_off, 14 + 40 + 200);
	CHECK_EQ(pkt.tcp.flags, XCT_TCPF_SYN);
	CHECK_EQ(pkt.tcp.wscale, 7);
	CHECK_EQ(pkt.tcp.opts, XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM);
}

TEST(parse_tcp_options_past_byte_256)
{
	/* 40 bytes of options: SACK blocks (up to 3000), then window scale
	 * 9 in the last bytes, all beyond the first 256 bytes. */
	static const __u8 opts[40] = {
		1, 1, 5, 26, 0, 0, 3, 0xe8, 0, 0, 7, 0xd0, 0, 0, 7, 0xd0, 0, 0, 0x0b, 0xb8,
		0, 0, 0, 1,  0, 0, 0, 2,    4, 2, 1, 1,	   1, 1, 1, 1,	  1, 3, 3,    9,
	};
	struct xct_pkt pkt;
	struct frame f;
	__u32 ip;

	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, 60, "2001:db8::1", "2001:db8::2:1");
	put_ipv6_opts(&f, XCT_IPPROTO_TCP, 27); /* 224 bytes */
	put_tcp(&f, 33000, 8080, 100, 1000, XCT_TCPF_SYN | XCT_TCPF_ACK, 1000, opts, sizeof(opts));
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.l4_off, 278);
	CHECK_EQ(pkt.t.dport, htons(8080));
	CHECK_EQ(pkt.tcp.wscale, 9);
	CHECK_EQ(pkt.tcp.opts, XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM);
	CHECK_EQ(pkt.tcp.sack, 3000);
	CHECK_EQ(pkt.tcp.payload_len, 0);
}

TEST(parse_ipv6_ah_and_fragment_header_in_chain)
{
	struct xct_pkt pkt;
	struct frame f;
	__u32 ip, udp;

	/* hop-by-hop, AH (24 bytes: length field 4), fragment (offset 0,
	 * more to come), destination options, UDP. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, 0, "2001:db8::1", "2001:db8::2:1");
	put_ipv6_opts(&f, 51, 0);
	put8(&f, 44);
	put8(&f, 4);
	put_zeros(&f, 22);
	put_ipv6_frag(&f, 60, 0, 1);
	put_ipv6_opts(&f, XCT_IPPROTO_UDP, 1);
	udp = put_udp(&f, 4000, 53);
	put_zeros(&f, 100);
	set16(&f, udp + 4, 3000); /* the datagram is longer than this fragment */
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(pkt.t.dport, htons(53));
	CHECK_EQ(pkt.l4_off, 14 + 40 + 8 + 24 + 8 + 16);
	CHECK_EQ(pkt.frag, XCT_FRAG_FIRST);
	CHECK_EQ(pkt.frag_id, 0xabcd);

	/* The same datagram's later fragment: no transport header. */
	set16(&f, 14 + 40 + 8 + 24 + 2, 185 << 3);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAGMENT);
	CHECK_EQ(pkt.frag, XCT_FRAG_LATER);
	CHECK_EQ(pkt.frag_id, 0xabcd);

	/* An atomic fragment (offset 0, no more) is a whole datagram, whose
	 * UDP length is then checked. */
	set16(&f, 14 + 40 + 8 + 24 + 2, 0);
	CHECK_EQ(parse(&f, &pkt), XCT_R_UDP_BAD_LENGTH);
	CHECK_EQ(pkt.frag, XCT_FRAG_NONE);
}

TEST(parse_ipv4_tiny_first_fragment)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	/* 8 bytes of TCP in a first fragment (RFC 1858): ports, no flags. */
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put16(&f, 40000);
	put16(&f, 22);
	put32(&f, 1);
	set16(&f, ip + 6, 0x2000);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAG_TINY);
	CHECK_EQ(pkt.frag, XCT_FRAG_FIRST);
	CHECK_EQ(pkt.frag_id, 0x1234);
	CHECK(xct_reason_hides_l4(XCT_R_FRAG_TINY));

	/* The 20-byte header is there, its options are not. */
	build_tcp_syn(&f);
	set16(&f, 14 + 6, 0x2000);
	f.len = 14 + 20 + 32;
	ipv4_done(&f, 14);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAG_TINY);

	/* Whole header: tracked, with the payload this fragment carries. */
	build_tcp_syn(&f);
	set16(&f, 14 + 6, 0x2000);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.frag, XCT_FRAG_FIRST);
	CHECK_EQ(pkt.tcp.payload_len, 10);
	CHECK_EQ(pkt.tcp.wscale, 7);

	/* UDP and ICMP first fragments shorter than their 8-byte headers. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0);
	put16(&f, 40000);
	put16(&f, 53);
	set16(&f, ip + 6, 0x2000);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAG_TINY);
	f.b[ip + 9] = XCT_IPPROTO_ICMP;
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAG_TINY);

	/* The same cut in a whole packet is malformed, and hides its
	 * transport header from the rules just the same. */
	set16(&f, ip + 6, 0x4000);
	CHECK_EQ(parse(&f, &pkt), XCT_R_L4_TRUNCATED);
	CHECK(xct_reason_hides_l4(XCT_R_L4_TRUNCATED));
	CHECK(xct_reason_hides_l4(XCT_R_TCP_BAD_DOFF));
	CHECK(!xct_reason_hides_l4(XCT_R_UDP_BAD_LENGTH));
}

TEST(parse_ipv6_tiny_first_fragment)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	/* A first fragment whose header chain goes on past its end (RFC
	 * 7112): the destination options header is cut. */
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, 44, "2001:db8::1", "2001:db8::2:1");
	put_ipv6_frag(&f, 60, 0, 1);
	put8(&f, XCT_IPPROTO_TCP);
	put8(&f, 30); /* 248 bytes, of which 8 are here */
	put_zeros(&f, 6);
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAG_TINY);
	CHECK_EQ(pkt.frag, XCT_FRAG_FIRST);

	/* The chain is whole, the TCP header is not. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, 44, "2001:db8::1", "2001:db8::2:1");
	put_ipv6_frag(&f, XCT_IPPROTO_TCP, 0, 1);
	put16(&f, 40000);
	put16(&f, 22);
	put32(&f, 1);
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_FRAG_TINY);

	/* Not a fragment: a chain cut short is malformed, no more. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, 60, "2001:db8::1", "2001:db8::2:1");
	put8(&f, XCT_IPPROTO_TCP);
	put8(&f, 30);
	put_zeros(&f, 6);
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV6_EXTHDR_TRUNCATED);
}

static void build_udp(struct frame *f, __u32 payload)
{
	__u32 ip, udp;

	memset(f, 0, sizeof(*f));
	put_eth(f, XCT_ETH_P_IP);
	ip = put_ipv4(f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0);
	udp = put_udp(f, 40000, 53);
	put_zeros(f, payload);
	udp_done(f, udp);
	ipv4_done(f, ip);
}

TEST(parse_udp_first_fragment_length)
{
	struct xct_pkt pkt;
	struct frame f;
	__u32 ip, udp;

	/* A 3000-byte datagram's first 1480 bytes: tracked. */
	build_udp(&f, 1472);
	set16(&f, 14 + 20 + 4, 3000);
	set16(&f, 14 + 6, 0x2000);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.frag, XCT_FRAG_FIRST);
	CHECK_EQ(pkt.t.dport, htons(53));
	CHECK_EQ(pkt.l3_len, 1500);

	/* Whole, the same packet's length field is wrong. */
	set16(&f, 14 + 6, 0x4000);
	CHECK_EQ(parse(&f, &pkt), XCT_R_UDP_BAD_LENGTH);

	/* A length below the header's own is wrong in a fragment too. */
	set16(&f, 14 + 6, 0x2000);
	set16(&f, 14 + 20 + 4, 7);
	CHECK_EQ(parse(&f, &pkt), XCT_R_UDP_BAD_LENGTH);

	/* IPv6: the first fragment of an 8000-byte datagram. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, 44, "2001:db8::1", "2001:db8::2:1");
	put_ipv6_frag(&f, XCT_IPPROTO_UDP, 0, 1);
	udp = put_udp(&f, 4000, 5001);
	put_zeros(&f, 1440);
	set16(&f, udp + 4, 8000);
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.frag, XCT_FRAG_FIRST);
	CHECK_EQ(pkt.frag_id, 0xabcd);
	CHECK_EQ(pkt.t.dport, htons(5001));
}

TEST(parse_ipv6_truncated)
{
	struct xct_pkt pkt;
	struct frame f;

	build_ipv6_n_exthdrs(&f, 2);
	set16(&f, 14 + 4, 8 * 2 + 8 + 1); /* payload length beyond the packet */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV6_TRUNCATED);

	build_ipv6_n_exthdrs(&f, 2);
	set16(&f, 14 + 4, 8); /* extension headers beyond the payload */
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV6_EXTHDR_TRUNCATED);

	build_ipv6_n_exthdrs(&f, 2);
	f.len = 14 + 40 + 8 + 4; /* second header cut short */
	set16(&f, 14 + 4, 12);
	CHECK_EQ(parse(&f, &pkt), XCT_R_IPV6_EXTHDR_TRUNCATED);
}

TEST(parse_truncated_transport)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	/* IP says 10 bytes of TCP follow. */
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
	put_zeros(&f, 10);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_L4_TRUNCATED);

	/* A whole TCP header in the frame, but the IP length stops short of
	 * it (the rest is link-layer padding). */
	build_tcp_ack(&f);
	set16(&f, 14 + 2, 20 + 19);
	CHECK_EQ(parse(&f, &pkt), XCT_R_L4_TRUNCATED);

	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0);
	put_zeros(&f, 4);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_L4_TRUNCATED);

	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", 0);
	put_zeros(&f, 7);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_L4_TRUNCATED);
}

TEST(parse_tcp_bad_doff)
{
	struct xct_pkt pkt;
	struct frame f;

	build_tcp_ack(&f);
	f.b[14 + 20 + 12] = 4 << 4; /* 16-byte header */
	CHECK_EQ(parse(&f, &pkt), XCT_R_TCP_BAD_DOFF);

	build_tcp_ack(&f);
	f.b[14 + 20 + 12] = 0;
	CHECK_EQ(parse(&f, &pkt), XCT_R_TCP_BAD_DOFF);

	build_tcp_ack(&f);
	f.b[14 + 20 + 12] = 6 << 4; /* 24-byte header in a 20-byte segment */
	CHECK_EQ(parse(&f, &pkt), XCT_R_TCP_BAD_DOFF);
}

TEST(parse_udp_length)
{
	struct xct_pkt pkt;
	struct frame f;

	build_udp(&f, 12);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.l3_len, 40);

	set16(&f, 14 + 20 + 4, 7);
	CHECK_EQ(parse(&f, &pkt), XCT_R_UDP_BAD_LENGTH);
	set16(&f, 14 + 20 + 4, 21);
	CHECK_EQ(parse(&f, &pkt), XCT_R_UDP_BAD_LENGTH);
	/* Shorter than the IP payload is fine, as in udp_error(). */
	set16(&f, 14 + 20 + 4, 8);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
}

TEST(parse_icmp_echo)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", 0);
	put_icmp(&f, 8, 0, 0x1234, 7);
	put_zeros(&f, 56);
	ipv4_done(&f, ip);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_ICMP);
	CHECK_EQ(pkt.t.icmp_type, 8);
	CHECK_EQ(pkt.t.icmp_code, 0);
	CHECK_EQ(pkt.t.sport, 0x1234);
	CHECK_EQ(pkt.t.dport, 0);
	CHECK_EQ(pkt.icmp_error, 0);
	CHECK_EQ(pkt.l3_len, 84);
}

TEST(parse_icmp_error_quoting_udp)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip, inner;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.254", "10.0.0.1", 0);
	put_icmp(&f, 3, 3, 0, 0); /* port unreachable */
	inner = put_ipv4(&f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0);
	set16(&f, inner + 2, 1000); /* the quoted packet was longer */
	put16(&f, 40000);
	put16(&f, 53);
	put16(&f, 980);
	put16(&f, 0);
	ipv4_done(&f, ip);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.icmp_error, 1);
	CHECK_EQ(pkt.t.icmp_type, 3);
	CHECK_EQ(pkt.t.icmp_code, 3);
	CHECK_EQ(pkt.t.src.v4, addr4("10.0.0.254"));
	CHECK_EQ(pkt.t.dst.v4, addr4("10.0.0.1"));
	CHECK_EQ(pkt.inner.family, XCT_AF_INET);
	CHECK_EQ(pkt.inner.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(pkt.inner.src.v4, addr4("10.0.0.1"));
	CHECK_EQ(pkt.inner.dst.v4, addr4("10.0.0.2"));
	CHECK_EQ(pkt.inner.sport, htons(40000));
	CHECK_EQ(pkt.inner.dport, htons(53));
	CHECK_EQ(pkt.l3_len, 20 + 8 + 28);

	/* The ports are all nf_conntrack reads of a quoted UDP header
	 * (nf_ct_get_tuple_ports()): 4 bytes are enough, 3 are not. */
	f.len -= 4;
	set16(&f, 14 + 2, f.len - 14);
	memset(&pkt, 0, sizeof(pkt));
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.inner.sport, htons(40000));
	CHECK_EQ(pkt.inner.dport, htons(53));
	f.len -= 1;
	set16(&f, 14 + 2, f.len - 14);
	CHECK_EQ(parse(&f, &pkt), XCT_R_ICMP_ERROR_TRUNCATED);
}

TEST(parse_icmp_error_four_byte_quotes)
{
	union xct_addr client = v6("2001:db8:1::10");
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip, inner;

	/* IPv4 quoting TCP behind 8 bytes of IP options, 4 bytes of it. */
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.254", "10.0.0.1", 0);
	put_icmp(&f, 3, 1, 0, 0);
	inner = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 8);
	set16(&f, inner + 2, 60);
	put16(&f, 41000);
	put16(&f, 8080);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.icmp_error, 1);
	CHECK_EQ(pkt.inner.proto, XCT_IPPROTO_TCP);
	CHECK_EQ(pkt.inner.sport, htons(41000));
	CHECK_EQ(pkt.inner.dport, htons(8080));
	CHECK_EQ(pkt.inner_l4_off, 14 + 20 + 8 + 28);

	/* Ethernet padding after the error is not part of its quote. */
	f.len -= 2;
	ipv4_done(&f, ip);
	f.len += 2;
	CHECK_EQ(parse(&f, &pkt), XCT_R_ICMP_ERROR_TRUNCATED);

	/* An echo request quoted with 4 bytes: its identifier (bytes 4-5)
	 * is missing. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.254", "10.0.0.1", 0);
	put_icmp(&f, 11, 0, 0, 0);
	inner = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", 0);
	set16(&f, inner + 2, 84);
	put16(&f, 0x0800);
	put16(&f, 0);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_ICMP_ERROR_TRUNCATED);
	put16(&f, 0x4242);
	put16(&f, 1);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.inner.sport, 0x4242);

	/* ICMPv6 quoting 4 bytes of UDP behind a destination options
	 * header. */
	memset(&f, 0, sizeof(f));
	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, XCT_IPPROTO_ICMPV6, "2001:db8:2::1", "2001:db8:1::10");
	put_icmp(&f, 1, 4, 0, 0);
	inner = put_ipv6(&f, 60, "2001:db8:1::10", "2001:db8:2::20");
	set16(&f, inner + 4, 100);
	put_ipv6_opts(&f, XCT_IPPROTO_UDP, 0);
	put16(&f, 5353);
	put16(&f, 53);
	ipv6_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.inner.family, XCT_AF_INET6);
	CHECK_EQ(pkt.inner.proto, XCT_IPPROTO_UDP);
	CHECK(memcmp(&pkt.inner.src, &client, 16) == 0);
	CHECK_EQ(pkt.inner.sport, htons(5353));
	CHECK_EQ(pkt.inner.dport, htons(53));
}

TEST(parse_icmpv6_packet_too_big_quoting_tcp)
{
	union xct_addr client = v6("2001:db8:1::10"), server = v6("2001:db8:2::20");
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip, inner;

	put_eth(&f, XCT_ETH_P_IPV6);
	ip = put_ipv6(&f, XCT_IPPROTO_ICMPV6, "2001:db8:1::1", "2001:db8:1::10");
	put8(&f, 2); /* packet too big */
	put8(&f, 0);
	put16(&f, 0);
	put32(&f, 1280);
	inner = put_ipv6(&f, XCT_IPPROTO_TCP, "2001:db8:1::10", "2001:db8:2::20");
	set16(&f, inner + 4, 1440);
	put16(&f, 51000);
	put16(&f, 443);
	put32(&f, 0xdeadbeef);
	ipv6_done(&f, ip);

	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);
	CHECK_EQ(pkt.icmp_error, 1);
	CHECK_EQ(pkt.t.family, XCT_AF_INET6);
	CHECK_EQ(pkt.t.proto, XCT_IPPROTO_ICMPV6);
	CHECK_EQ(pkt.t.icmp_type, 2);
	CHECK_EQ(pkt.inner.family, XCT_AF_INET6);
	CHECK_EQ(pkt.inner.proto, XCT_IPPROTO_TCP);
	CHECK(memcmp(&pkt.inner.src, &client, 16) == 0);
	CHECK(memcmp(&pkt.inner.dst, &server, 16) == 0);
	CHECK_EQ(pkt.inner.sport, htons(51000));
	CHECK_EQ(pkt.inner.dport, htons(443));
	CHECK_EQ(pkt.l3_len, 40 + 8 + 40 + 8);
}

TEST(parse_truncation_never_ok_nor_out_of_bounds)
{
	struct xct_pkt full, pkt;
	struct frame f;
	__u32 len;

	build_tcp_syn(&f);
	CHECK_EQ(parse(&f, &full), XCT_R_OK);

	/* The packet itself cut short: the IP length no longer fits. */
	for (len = 0; len < f.len; len++) {
		__u8 r = parse_part(&f, len, &pkt);
		__u8 want = len < 14 ? XCT_R_ETH_TRUNCATED : XCT_R_IPV4_TRUNCATED;

		if (r != want)
			CHECK_FAIL("length %u: reason %u, want %u", len, r, want);
	}

	/* The packet cut short with its IP length cut to match: each
	 * header must be all there. */
	for (len = 14; len <= f.len; len++) {
		struct frame g = f;
		__u8 r, want = len < 34	  ? XCT_R_IPV4_TRUNCATED
			       : len < 54 ? XCT_R_L4_TRUNCATED
			       : len < 74 ? XCT_R_TCP_BAD_DOFF
					  : XCT_R_OK;

		g.len = len;
		if (len >= 34)
			ipv4_done(&g, 14);
		r = parse_part(&g, len, &pkt);
		if (r != want)
			CHECK_FAIL("cut at %u: reason %u, want %u", len, r, want);
		if (len == f.len && memcmp(&pkt, &full, sizeof(pkt)))
			CHECK_FAIL("cut at %u: parsed differently from the full packet", len);
	}
}

TEST(parse_icmp_error_truncation_never_ok)
{
	struct xct_pkt pkt;
	struct frame f = {.len = 0};
	__u32 ip, inner, len;

	put_eth(&f, XCT_ETH_P_IP);
	ip = put_ipv4(&f, XCT_IPPROTO_ICMP, "10.0.0.254", "10.0.0.1", 0);
	put_icmp(&f, 11, 0, 0, 0); /* time exceeded */
	inner = put_ipv4(&f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 4);
	ipv4_done(&f, inner);
	put16(&f, 40000);
	put16(&f, 80);
	put32(&f, 1);
	ipv4_done(&f, ip);
	CHECK_EQ(parse(&f, &pkt), XCT_R_OK);

	/* Until the quoted ports are whole. */
	for (len = 14 + 20 + 8; len < f.len; len++) {
		__u8 r, want = len < 14 + 20 + 8 + 24 + 4 ? XCT_R_ICMP_ERROR_TRUNCATED : XCT_R_OK;

		set16(&f, 14 + 2, len - 14);
		r = parse_part(&f, len, &pkt);
		if (r != want)
			CHECK_FAIL("length %u: reason %u, want %u", len, r, want);
	}
}

/*
 * xct_parse_fast() against xct_parse_packet(): on every frame the fast
 * parser takes, the full parser must say XCT_R_OK and fill the same
 * struct, byte for byte.  The frames are the common layouts and a seeded
 * stream of mutations of them: header bytes changed at random (version,
 * lengths, fragment bits, next headers, data offsets, options), frames cut
 * short, and linear parts shorter than the frame, as a non-linear skb has.
 */
static __u32 fast_rng = 12345;

static __u32 fast_rand(void)
{
	fast_rng = fast_rng * 1103515245 + 12345;
	return fast_rng >> 8;
}

/* Template t of the layouts the fast parser is for, and some it is not. */
static void fast_template(struct frame *f, int t)
{
	static const __u8 ts[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
	static const __u8 sack[12] = {1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};
	__u32 ip, l4;

	f->len = 0;
	switch (t % 8) {
	case 0: /* IPv4 TCP ACK */
		put_eth(f, XCT_ETH_P_IP);
		ip = put_ipv4(f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
		put_tcp(f, 40000, 80, 1000, 2000, 0x10, 512, NULL, 0);
		put_zeros(f, t & 8 ? 100 : 0);
		ipv4_done(f, ip);
		break;
	case 1: /* IPv4 TCP with timestamps */
		put_eth(f, XCT_ETH_P_IP);
		ip = put_ipv4(f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
		put_tcp(f, 40000, 80, 1000, 2000, 0x18, 512, ts, sizeof(ts));
		put_zeros(f, t & 8 ? 100 : 0);
		ipv4_done(f, ip);
		break;
	case 2: /* IPv4 UDP */
		put_eth(f, XCT_ETH_P_IP);
		ip = put_ipv4(f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0);
		l4 = put_udp(f, 5555, 53);
		put_zeros(f, t & 8 ? 18 : 0);
		udp_done(f, l4);
		ipv4_done(f, ip);
		break;
	case 3: /* IPv6 TCP with timestamps */
		put_eth(f, XCT_ETH_P_IPV6);
		ip = put_ipv6(f, XCT_IPPROTO_TCP, "2001:db8::1", "2001:db8::2");
		put_tcp(f, 40000, 443, 7, 9, 0x10, 100, ts, sizeof(ts));
		put_zeros(f, t & 8 ? 64 : 0);
		ipv6_done(f, ip);
		break;
	case 4: /* IPv6 UDP */
		put_eth(f, XCT_ETH_P_IPV6);
		ip = put_ipv6(f, XCT_IPPROTO_UDP, "2001:db8::1", "2001:db8::2");
		l4 = put_udp(f, 5555, 53);
		put_zeros(f, t & 8 ? 30 : 0);
		udp_done(f, l4);
		ipv6_done(f, ip);
		break;
	case 5: /* TCP with SACK: the full parser's */
		put_eth(f, XCT_ETH_P_IP);
		ip = put_ipv4(f, XCT_IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0);
		put_tcp(f, 40000, 80, 1000, 2000, 0x10, 512, sack, sizeof(sack));
		ipv4_done(f, ip);
		break;
	case 6: /* IPv6 with a hop-by-hop header: the full parser's */
		put_eth(f, XCT_ETH_P_IPV6);
		ip = put_ipv6(f, 0, "2001:db8::1", "2001:db8::2");
		put_ipv6_opts(f, XCT_IPPROTO_UDP, 0);
		l4 = put_udp(f, 5555, 53);
		udp_done(f, l4);
		ipv6_done(f, ip);
		break;
	default: /* a VLAN tag: the full parser's */
		put_eth(f, XCT_ETH_P_8021Q);
		put_vlan(f, 7, XCT_ETH_P_IP);
		ip = put_ipv4(f, XCT_IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0);
		l4 = put_udp(f, 5555, 53);
		udp_done(f, l4);
		ipv4_done(f, ip);
		break;
	}
}

/* 1 if the fast parser took the frame (len bytes, linear of them in the
 * linear part); checks it against the full parser. */
static int fast_check(const struct frame *f, __u32 len, __u32 linear, const char *what, int i)
{
	struct xct_pkt fast, full;
	__u8 r;

	memset(&fast, 0, sizeof(fast));
	if (!xct_parse_fast(f->b, f->b + linear, len, &fast))
		return 0;
	memset(&full, 0, sizeof(full));
	r = xct_parse_buf(f->b, len, &full);
	if (r != XCT_R_OK)
		CHECK_FAIL("%s %d: fast parser took a frame the full parser says %u of", what, i, r);
	else if (memcmp(&fast, &full, sizeof(fast)))
		CHECK_FAIL("%s %d: the parsers disagree", what, i);
	return 1;
}

TEST(parse_fast_agrees_with_the_full_parser)
{
	static const int fast_layouts[] = {0, 1, 2, 3, 4, 8, 9, 10, 11, 12};
	struct frame f;
	int i, taken = 0, t;

	/* The common layouts are the fast parser's; the others are not. */
	for (i = 0; i < (int)(sizeof(fast_layouts) / sizeof(fast_layouts[0])); i++) {
		fast_template(&f, fast_layouts[i]);
		CHECK_EQ(fast_check(&f, f.len, f.len, "layout", fast_layouts[i]), 1);
	}
	for (t = 5; t < 8; t++) {
		fast_template(&f, t);
		CHECK_EQ(fast_check(&f, f.len, f.len, "layout", t), 0);
	}
	/* Mutations: whatever the fast parser takes, the full one agrees. */
	for (i = 0; i < 200000; i++) {
		__u32 len, linear, k, n = 1 + fast_rand() % 3;

		fast_template(&f, fast_rand() % 16);
		for (k = 0; k < n; k++) {
			__u32 at = fast_rand() % (f.len < 80 ? f.len : 80u);

			f.b[at] = fast_rand() % 4 ? (__u8)fast_rand() : (__u8)(f.b[at] ^ (1u << (fast_rand() % 8)));
		}
		len = f.len;
		if (fast_rand() % 4 == 0)
			len = fast_rand() % (f.len + 1);
		linear = len;
		if (fast_rand() % 4 == 0)
			linear = fast_rand() % (len + 1);
		taken += fast_check(&f, len, linear, "mutation", i);
		if (check_failed_now)
			return;
	}
	/* Most mutations hit bytes the parsers ignore (addresses, ports,
	 * sequence numbers): a good part of them must stay fast. */
	CHECK(taken > 20000);
}
