// SPDX-License-Identifier: GPL-2.0-only
/*
 * The capture reader of xct replay (src/replay/capture.c) on captures
 * written byte by byte: every link type turned into the Ethernet frame the
 * datapath sees, short records padded, and damaged or truncated files
 * reported at the packet where the damage is, after the packets before it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "replay/capture.h"

struct capbuf {
	__u8 b[8192];
	size_t len;
};

static void put(struct capbuf *c, const void *p, size_t n)
{
	memcpy(c->b + c->len, p, n);
	c->len += n;
}

static void put32(struct capbuf *c, __u32 v)
{
	put(c, &v, 4);
}

/* A pcap file header (native byte order, microseconds). */
static void pcap_header(struct capbuf *c, __u32 linktype)
{
	__u16 ver[2] = {2, 4};

	c->len = 0;
	put32(c, 0xa1b2c3d4);
	put(c, ver, 4);
	put32(c, 0);
	put32(c, 0);
	put32(c, 65535);
	put32(c, linktype);
}

static void record(struct capbuf *c, __u32 sec, __u32 usec, const void *data, __u32 caplen,
		   __u32 len)
{
	put32(c, sec);
	put32(c, usec);
	put32(c, caplen);
	put32(c, len);
	put(c, data, caplen);
}

static struct xct_capture *open_buf(struct capbuf *c, char *err, size_t errlen, int *ret)
{
	struct xct_capture *cap = NULL;
	FILE *f = fmemopen(c->b, c->len, "rb");

	*ret = f ? xct_capture_open_stream(f, &cap, err, errlen) : -errno;
	return cap;
}

/* An IPv4/UDP packet of 28 bytes, without link header. */
static const __u8 ipv4_udp[28] = {0x45, 0, 0,  28, 0, 0, 0, 0,	64, 17, 0, 0, 10, 0,
				  0,	1, 10, 0,  0, 2, 0, 53, 0,  53, 0, 8, 0,  0};

TEST(capture_ethernet_two_packets_then_end)
{
	struct capbuf c;
	__u8 eth[14 + 28] = {[12] = 0x08};
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	memcpy(eth + 14, ipv4_udp, sizeof(ipv4_udp));
	pcap_header(&c, 1);
	record(&c, 100, 5, eth, sizeof(eth), sizeof(eth));
	record(&c, 101, 7, eth, sizeof(eth), sizeof(eth));
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_STR(xct_capture_link_name(cap), "ethernet");
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.len, sizeof(eth));
	CHECK_EQ(f.ts_ns, 100ULL * 1000000000 + 5000);
	CHECK(!memcmp(f.data, eth, sizeof(eth)));
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.ts_ns, 101ULL * 1000000000 + 7000);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 0);
	xct_capture_close(cap);
}

/* Cooked captures: an Ethernet header built from the protocol field, the
 * packet type kept. */
TEST(capture_sll_and_sll2_become_ethernet)
{
	__u8 sll[16 + 28] = {0, 4, 0, 1, 0, 6, [14] = 0x08, [15] = 0x00};
	__u8 sll2[20 + 28] = {0x86, 0xdd, [10] = 0, [11] = 6};
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	memcpy(sll + 16, ipv4_udp, sizeof(ipv4_udp));
	pcap_header(&c, 113);
	record(&c, 1, 0, sll, sizeof(sll), sizeof(sll));
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_STR(xct_capture_link_name(cap), "linux-sll");
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.len, 14 + 28);
	CHECK_EQ(f.data[12], 0x08);
	CHECK_EQ(f.data[13], 0x00);
	CHECK(!memcmp(f.data + 14, ipv4_udp, sizeof(ipv4_udp)));
	CHECK_EQ(f.outgoing, 1);
	xct_capture_close(cap);

	memcpy(sll2 + 20, ipv4_udp, sizeof(ipv4_udp));
	pcap_header(&c, 276);
	record(&c, 1, 0, sll2, sizeof(sll2), sizeof(sll2));
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_STR(xct_capture_link_name(cap), "linux-sll2");
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.len, 14 + 28);
	CHECK_EQ(f.data[12], 0x86);
	CHECK_EQ(f.data[13], 0xdd);
	CHECK_EQ(f.outgoing, 0);
	xct_capture_close(cap);
}

TEST(capture_raw_ip_ethertype_from_version)
{
	__u8 v6[40] = {0x60};
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	pcap_header(&c, 101); /* LINKTYPE_RAW */
	record(&c, 1, 0, ipv4_udp, sizeof(ipv4_udp), sizeof(ipv4_udp));
	record(&c, 1, 1, v6, sizeof(v6), sizeof(v6));
	record(&c, 1, 2, "\x10", 1, 1);
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_STR(xct_capture_link_name(cap), "raw-ip");
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.data[12] << 8 | f.data[13], 0x0800);
	CHECK_EQ(f.len, 14 + 28);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.data[12] << 8 | f.data[13], 0x86dd);
	/* Version 1: no ethertype, the datapath calls it not_ip. */
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.data[12] << 8 | f.data[13], 0);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 0);
	xct_capture_close(cap);
}

/* tcpdump -s: the frame is padded to its length on the wire. */
TEST(capture_snapped_packet_padded_to_wire_length)
{
	__u8 eth[14 + 28] = {[12] = 0x08};
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret, i, zeros = 1;

	memcpy(eth + 14, ipv4_udp, sizeof(ipv4_udp));
	pcap_header(&c, 1);
	record(&c, 1, 0, eth, sizeof(eth), 1514);
	record(&c, 1, 1, eth, 10, 10); /* shorter than Ethernet */
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.len, 1514);
	CHECK_EQ(f.caplen, sizeof(eth));
	CHECK_EQ(f.snapped, 1);
	CHECK(!memcmp(f.data, eth, sizeof(eth)));
	for (i = sizeof(eth); i < 1514; i++)
		zeros &= f.data[i] == 0;
	CHECK(zeros);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.runt, 1);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 0);
	xct_capture_close(cap);
}

/* A record cut short: the packets before it come out, then the error. */
TEST(capture_truncated_record_after_good_packets)
{
	__u8 eth[60] = {[12] = 0x08};
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	pcap_header(&c, 1);
	record(&c, 1, 0, eth, sizeof(eth), sizeof(eth));
	record(&c, 1, 1, eth, sizeof(eth), sizeof(eth));
	record(&c, 1, 2, eth, sizeof(eth), sizeof(eth));
	c.len -= 30; /* the third packet's data is cut */
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "truncated") != NULL);
	xct_capture_close(cap);
}

TEST(capture_truncated_record_header)
{
	__u8 eth[60] = {[12] = 0x08};
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	pcap_header(&c, 1);
	record(&c, 1, 0, eth, sizeof(eth), sizeof(eth));
	put32(&c, 2); /* 4 of a record header's 16 bytes */
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "truncated") != NULL);
	xct_capture_close(cap);
}

/* A record length no capture can have (damage, not truncation). */
TEST(capture_impossible_record_length)
{
	__u8 eth[60] = {[12] = 0x08};
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	pcap_header(&c, 1);
	record(&c, 1, 0, eth, sizeof(eth), sizeof(eth));
	put32(&c, 1);
	put32(&c, 0);
	put32(&c, 0x7fffffff);
	put32(&c, 0x7fffffff);
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), -EINVAL);
	CHECK(err[0] != 0);
	xct_capture_close(cap);
}

TEST(capture_not_a_capture_or_unsupported_link)
{
	struct capbuf c;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	memset(&c, 0, sizeof(c));
	memcpy(c.b, "hello, this is no capture file", 30);
	c.len = 30;
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, -EINVAL);
	CHECK(cap == NULL);
	CHECK(err[0] != 0);

	pcap_header(&c, 105); /* 802.11 */
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, -EINVAL);
	CHECK(strstr(err, "not supported") != NULL);
	CHECK(strstr(err, "IEEE802_11") != NULL);
}

/* A record claiming 4 GiB on the wire (found by tests/fuzz/fuzz_pcap.c:
 * adding the Ethernet header wrapped the length). */
TEST(capture_huge_wire_length_is_cut)
{
	struct capbuf c;
	struct xct_frame f;
	struct xct_capture *cap;
	char err[256] = "";
	int ret;

	pcap_header(&c, 101);
	record(&c, 1, 0, ipv4_udp, 0, 0xffffffff);
	record(&c, 1, 1, ipv4_udp, sizeof(ipv4_udp), 0xfffffff0);
	cap = open_buf(&c, err, sizeof(err), &ret);
	CHECK_EQ(ret, 0);
	if (!cap)
		return;
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.len, XCT_FRAME_MAX);
	CHECK_EQ(f.cut, 1);
	CHECK_EQ(f.caplen, 14);
	CHECK_EQ(xct_capture_next(cap, &f, err, sizeof(err)), 1);
	CHECK_EQ(f.len, XCT_FRAME_MAX);
	CHECK_EQ(f.caplen, 14 + sizeof(ipv4_udp));
	CHECK(!memcmp(f.data + 14, ipv4_udp, sizeof(ipv4_udp)));
	xct_capture_close(cap);
}
