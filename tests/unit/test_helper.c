// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the FTP helper's scan (include/xct/helper.h) against what
 * nf_conntrack_ftp makes of the same bytes: PORT, EPRT, 227 and 229 with
 * good and bad input, partial matches (a command split across segments,
 * a malformed one), the numbers' overflow, and the line-start bookkeeping.
 */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "xct/helper.h"

static __u8 scan(__u8 dir, const char *text, struct xct_ftp_scan *s)
{
	__u32 n = (__u32)strlen(text);

	return xct_ftp_scan_bytes(s, dir, (const __u8 *)text, n, n);
}

static __u32 v4(const char *a)
{
	struct in_addr in;

	inet_pton(AF_INET, a, &in);
	return in.s_addr;
}

TEST(ftp_port_command)
{
	struct xct_ftp_scan s;
	union xct_addr src = {.v4 = v4("10.0.0.1")}, got;

	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0,1,200,10\r\n", &s), XCT_FTP_MATCH);
	CHECK_EQ(s.kind, XCT_FTP_PORT);
	CHECK_EQ(s.port, 200 * 256 + 10);
	xct_ftp_addr(&s, &src, &got);
	CHECK_EQ(got.v4, v4("10.0.0.1"));
	/* Case does not matter; the numbers start after the first space. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "port  10,0,0,1,0,21\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "pOrT 192,168,1,2,4,1\r\n", &s), XCT_FTP_MATCH);
	CHECK_EQ(s.port, 1025);
	xct_ftp_addr(&s, &src, &got);
	CHECK_EQ(got.v4, v4("192.168.1.2"));
	/* Numbers wrap as try_number() reads them: 256 overflows into the
	 * byte above. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0,256,1,1\r\n", &s), XCT_FTP_MATCH);
	xct_ftp_addr(&s, &src, &got);
	CHECK_EQ(got.v4, v4("10.0.1.0"));
	CHECK_EQ(s.port, 257);
}

TEST(ftp_port_bad_and_partial)
{
	struct xct_ftp_scan s;

	/* Not an announcement at all. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "USER anonymous\r\n", &s), XCT_FTP_NONE);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "RETR f\r\n", &s), XCT_FTP_NONE);
	/* The reply patterns are not read from the client, nor PORT from
	 * the server. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "227 (10,0,0,1,1,1)\r\n", &s), XCT_FTP_NONE);
	CHECK_EQ(scan(XCT_DIR_REPLY, "PORT 10,0,0,1,1,1\r\n", &s), XCT_FTP_NONE);
	/* Split across segments: the first holds a prefix of the pattern,
	 * or the numbers stop before the line does. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PO", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0,1,200,10", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORTX", &s), XCT_FTP_PARTIAL);
	/* Malformed: too few or too many numbers, another terminator. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0,1,200\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0,1,200,10,1\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT 10,0,0,1,200,10\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "PORT a,0,0,1,200,10\r\n", &s), XCT_FTP_PARTIAL);
	/* A payload shorter than its copy: beyond it nothing can be said. */
	CHECK_EQ(xct_ftp_scan_bytes(&s, XCT_DIR_ORIGINAL, (const __u8 *)"PORT 10,0", 9, 30),
		 XCT_FTP_UNREAD);
}

TEST(ftp_eprt_command)
{
	struct xct_ftp_scan s;
	union xct_addr src = {.v4 = v4("132.235.1.2")}, got;

	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |1|132.235.1.2|6275|\r\n", &s), XCT_FTP_MATCH);
	CHECK_EQ(s.kind, XCT_FTP_EPRT);
	CHECK_EQ(s.port, 6275);
	xct_ftp_addr(&s, &src, &got);
	CHECK_EQ(got.v4, v4("132.235.1.2"));
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT !1!10.1.2.3!21!\r\n", &s), XCT_FTP_MATCH);
	CHECK_EQ(s.port, 21);
	/* Port 0, a digit or a space as delimiter, a bad protocol, a
	 * missing delimiter. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |1|10.1.2.3|0|\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT 313101.2.3.4321\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |3|10.1.2.3|21|\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |1|10.1.2|21|\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |1|10.1.2.3|21", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |1", &s), XCT_FTP_PARTIAL);
	/* An IPv6 address is not read. */
	CHECK_EQ(scan(XCT_DIR_ORIGINAL, "EPRT |2|2001:db8::1|6275|\r\n", &s), XCT_FTP_UNREAD);
}

TEST(ftp_227_reply)
{
	struct xct_ftp_scan s;
	union xct_addr src = {.v4 = v4("10.77.2.2")}, got;

	CHECK_EQ(scan(XCT_DIR_REPLY, "227 Entering Passive Mode (10,77,2,2,184,97).\r\n", &s),
		 XCT_FTP_MATCH);
	CHECK_EQ(s.kind, XCT_FTP_PASV);
	CHECK_EQ(s.port, 184 * 256 + 97);
	xct_ftp_addr(&s, &src, &got);
	CHECK_EQ(got.v4, v4("10.77.2.2"));
	/* Without parentheses (RFC 1123: from the first digit on). */
	CHECK_EQ(scan(XCT_DIR_REPLY, "227 =10,77,2,2,0,21\r\n", &s), XCT_FTP_MATCH);
	CHECK_EQ(s.port, 21);
	/* The code needs its space; other codes are not read. */
	CHECK_EQ(scan(XCT_DIR_REPLY, "227-Entering (10,77,2,2,0,21)\r\n", &s), XCT_FTP_NONE);
	CHECK_EQ(scan(XCT_DIR_REPLY, "220 ready\r\n", &s), XCT_FTP_NONE);
	CHECK_EQ(scan(XCT_DIR_REPLY, "227 no numbers here\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_REPLY, "227 Entering (10,77,2,2,0", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_REPLY, "22", &s), XCT_FTP_PARTIAL);
}

TEST(ftp_229_reply)
{
	struct xct_ftp_scan s;
	union xct_addr src = {.v6 = {htonl(0x20010db8), 0, 0, htonl(1)}}, got;

	CHECK_EQ(scan(XCT_DIR_REPLY, "229 Entering Extended Passive Mode (|||6446|)\r\n", &s),
		 XCT_FTP_MATCH);
	CHECK_EQ(s.kind, XCT_FTP_EPSV);
	CHECK_EQ(s.port, 6446);
	/* EPSV names no address: the server's own. */
	xct_ftp_addr(&s, &src, &got);
	CHECK(!memcmp(&got, &src, sizeof(got)));
	CHECK_EQ(scan(XCT_DIR_REPLY, "229 (!!!21!)\r\n", &s), XCT_FTP_MATCH);
	CHECK_EQ(s.port, 21);
	CHECK_EQ(scan(XCT_DIR_REPLY, "229 (||6446|)\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_REPLY, "229 (|||0|)\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_REPLY, "229 (|||64a6|)\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_REPLY, "229 Entering mode |||6446|\r\n", &s), XCT_FTP_PARTIAL);
	CHECK_EQ(scan(XCT_DIR_REPLY, "229 (|||6446", &s), XCT_FTP_PARTIAL);
}

TEST(ftp_line_starts)
{
	struct xct_ftp_lines l;

	memset(&l, 0, sizeof(l));
	/* Nothing known: no segment is read until a line ended. */
	CHECK(!xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 1000));
	xct_ftp_line_seen(&l, XCT_DIR_ORIGINAL, 1010);
	CHECK(xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 1010));
	CHECK(!xct_ftp_at_line_start(&l, XCT_DIR_REPLY, 1010));
	xct_ftp_line_seen(&l, XCT_DIR_ORIGINAL, 1030);
	CHECK(xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 1010));
	CHECK(xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 1030));
	/* Two are kept: a newer one replaces the oldest, an older one
	 * none (wrapping sequence numbers compare as the kernel's). */
	xct_ftp_line_seen(&l, XCT_DIR_ORIGINAL, 1050);
	CHECK(!xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 1010));
	CHECK(xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 1050));
	xct_ftp_line_seen(&l, XCT_DIR_ORIGINAL, 900);
	CHECK(!xct_ftp_at_line_start(&l, XCT_DIR_ORIGINAL, 900));
	CHECK_EQ(l.n[XCT_DIR_ORIGINAL], 2);
}
