// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the TCP tracker (include/xct/tcp.h, driven through
 * include/xct/ct.h as the datapath drives it): nf_conntrack's state table
 * cell by cell, packet classes and valid flag combinations, then whole
 * connections: handshake, close, RST rules, reopen, simultaneous open,
 * mid-stream pickup, window tracking, and the timeouts each state gets.
 */
#include "check.h"
#include "xct/ct.h"

#define SEC XCT_NSEC_PER_SEC
#define T0  (1000 * SEC)

/* The key sides of the two peers; the client is deliberately side 1 so that
 * the direction is worked out from orig_side, not assumed to be side 0. */
#define CLIENT	   1
#define SERVER	   0

#define CLIENT_ISN 1000
#define SERVER_ISN 5000

/*
 * nf_conntrack's tcp_conntracks[dir][class][old state] of the current
 * kernel, written out independently of include/xct/tcp.h.
 */
enum { NO, SS, SR, ES, FW, CW, LA, TW, CL, S2, IV, IG };

static const __u8 kernel_table[2][6][10] = {
	{
		/* ORIGINAL */
		/*            NO  SS  SR  ES  FW  CW  LA  TW  CL  S2 */
		/* SYN    */ {SS, SS, IG, IG, IG, IG, IG, SS, SS, S2},
		/* SYNACK */ {IV, IV, SR, IV, IV, IV, IV, IV, IV, SR},
		/* FIN    */ {IV, IV, FW, FW, LA, LA, LA, TW, CL, IV},
		/* ACK    */ {ES, IV, ES, ES, CW, CW, TW, TW, CL, IV},
		/* RST    */ {IV, CL, CL, CL, CL, CL, CL, CL, CL, CL},
		/* NONE   */ {IV, IV, IV, IV, IV, IV, IV, IV, IV, IV},
	},
	{
		/* REPLY */
		/*            NO  SS  SR  ES  FW  CW  LA  TW  CL  S2 */
		/* SYN    */ {IV, S2, IV, IV, IV, IV, IV, SS, IV, S2},
		/* SYNACK */ {IV, SR, IG, IG, IG, IG, IG, IG, IG, SR},
		/* FIN    */ {IV, IV, FW, FW, LA, LA, LA, TW, CL, IV},
		/* ACK    */ {IV, IG, SR, ES, CW, CW, TW, TW, CL, IG},
		/* RST    */ {IV, CL, CL, CL, CL, CL, CL, CL, CL, CL},
		/* NONE   */ {IV, IV, IV, IV, IV, IV, IV, IV, IV, IV},
	},
};

TEST(tcp_table_matches_kernel)
{
	int dir, index, state;

	/* The enum above must line up with xct's. */
	CHECK_EQ(SS, XCT_TCP_SYN_SENT);
	CHECK_EQ(S2, XCT_TCP_SYN_SENT2);
	CHECK_EQ(IV, XCT_TCP_sIV);
	CHECK_EQ(IG, XCT_TCP_sIG);
	CHECK_EQ(XCT_TCP_STATE_COUNT, 10);

	for (dir = 0; dir < 2; dir++)
		for (index = 0; index <= XCT_TCP_NONE_SET; index++)
			for (state = 0; state < XCT_TCP_STATE_COUNT; state++) {
				__u8 got = xct_tcp_next_state(dir, index, state);

				if (got != kernel_table[dir][index][state])
					CHECK_FAIL("dir %d class %d state %d: got %u, want %u", dir,
						   index, state, got,
						   kernel_table[dir][index][state]);
			}
	CHECK_EQ(xct_tcp_next_state(0, XCT_TCP_NONE_SET + 1, XCT_TCP_NONE), XCT_TCP_sIV);
	CHECK_EQ(xct_tcp_next_state(1, XCT_TCP_ACK_SET, XCT_TCP_STATE_COUNT), XCT_TCP_sIV);
}

TEST(tcp_index_priority)
{
	CHECK_EQ(xct_tcp_index(XCT_TCPF_RST), XCT_TCP_RST_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_RST | XCT_TCPF_ACK), XCT_TCP_RST_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_RST | XCT_TCPF_SYN), XCT_TCP_RST_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_RST | XCT_TCPF_FIN | XCT_TCPF_ACK), XCT_TCP_RST_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_SYN), XCT_TCP_SYN_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_SYN | XCT_TCPF_ECE | XCT_TCPF_CWR), XCT_TCP_SYN_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_SYN | XCT_TCPF_ACK), XCT_TCP_SYNACK_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_SYN | XCT_TCPF_FIN), XCT_TCP_SYN_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_SYN | XCT_TCPF_FIN | XCT_TCPF_ACK), XCT_TCP_SYNACK_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_FIN), XCT_TCP_FIN_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_FIN | XCT_TCPF_ACK), XCT_TCP_FIN_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_ACK), XCT_TCP_ACK_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_ACK | XCT_TCPF_PSH), XCT_TCP_ACK_SET);
	CHECK_EQ(xct_tcp_index(0), XCT_TCP_NONE_SET);
	CHECK_EQ(xct_tcp_index(XCT_TCPF_PSH | XCT_TCPF_URG), XCT_TCP_NONE_SET);
}

TEST(tcp_flags_valid)
{
	static const __u8 valid[] = {
		XCT_TCPF_SYN,
		XCT_TCPF_SYN | XCT_TCPF_URG,
		XCT_TCPF_SYN | XCT_TCPF_ACK,
		XCT_TCPF_RST,
		XCT_TCPF_RST | XCT_TCPF_ACK,
		XCT_TCPF_FIN | XCT_TCPF_ACK,
		XCT_TCPF_FIN | XCT_TCPF_ACK | XCT_TCPF_URG,
		XCT_TCPF_ACK,
		XCT_TCPF_ACK | XCT_TCPF_URG,
	};
	static const __u8 extras[] = {
		0,
		XCT_TCPF_PSH,
		XCT_TCPF_ECE,
		XCT_TCPF_CWR,
		XCT_TCPF_ECE | XCT_TCPF_CWR,
		XCT_TCPF_PSH | XCT_TCPF_ECE | XCT_TCPF_CWR,
	};
	unsigned int flags, i, j, nvalid = 0;

	for (i = 0; i < sizeof(valid); i++)
		for (j = 0; j < sizeof(extras); j++)
			if (!xct_tcp_flags_valid(valid[i] | extras[j]))
				CHECK_FAIL("flags 0x%02x refused", valid[i] | extras[j]);

	CHECK(!xct_tcp_flags_valid(0));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_PSH));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_FIN));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_FIN | XCT_TCPF_PSH | XCT_TCPF_URG));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_SYN | XCT_TCPF_FIN));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_SYN | XCT_TCPF_FIN | XCT_TCPF_ACK));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_SYN | XCT_TCPF_RST));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_RST | XCT_TCPF_FIN));
	CHECK(!xct_tcp_flags_valid(XCT_TCPF_URG));
	CHECK(!xct_tcp_flags_valid(0xff));
	CHECK(!xct_tcp_flags_valid(0x3f));

	/* Exactly the nine combinations times the eight PSH/ECE/CWR variants
	 * are valid, out of all 256. */
	for (flags = 0; flags < 256; flags++)
		nvalid += !!xct_tcp_flags_valid(flags);
	CHECK_EQ(nvalid, sizeof(valid) * 8);
}

/* One connection under test, and what the last packet did. */
struct conn {
	struct xct_ct_entry e;
	struct xct_ct_result res;
	__u64 now;
};

static void conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->now = T0;
}

static struct xct_pkt tcp_pkt(__u8 flags, __u32 seq, __u32 ack, __u16 win, __u32 len)
{
	struct xct_pkt p;

	memset(&p, 0, sizeof(p));
	p.t.family = XCT_AF_INET;
	p.t.proto = XCT_IPPROTO_TCP;
	p.tcp.flags = flags;
	p.tcp.seq = seq;
	p.tcp.ack = ack;
	p.tcp.sack = ack;
	p.tcp.window = win;
	p.tcp.payload_len = len;
	p.l3_len = 40 + len;
	return p;
}

static void send_pkt(struct conn *c, __u8 side, const struct xct_pkt *p)
{
	memset(&c->res, 0, sizeof(c->res));
	xct_ct_apply(&c->e, side, p, c->now, &c->res);
}

static void send_seg(struct conn *c, __u8 side, __u8 flags, __u32 seq, __u32 ack, __u16 win,
		     __u32 len)
{
	struct xct_pkt p = tcp_pkt(flags, seq, ack, win, len);

	send_pkt(c, side, &p);
}

#define CHECK_TIMEOUT(c, secs)                                                                     \
	CHECK_EQ((long long)((c)->e.expires_ns - (c)->now), (long long)(secs) * (long long)SEC)

#define SYN XCT_TCPF_SYN
#define ACK XCT_TCPF_ACK
#define FIN XCT_TCPF_FIN
#define RST XCT_TCPF_RST
#define PSH XCT_TCPF_PSH

/* SYN, SYN/ACK, ACK with 65535-byte windows and no options; both peers'
 * next sequence numbers are then ISN + 1. */
static void handshake(struct conn *c)
{
	conn_init(c);
	send_seg(c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	c->now += SEC / 100;
	send_seg(c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65535, 0);
	c->now += SEC / 100;
	send_seg(c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c->e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c->e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
}

TEST(tcp_three_way_handshake)
{
	struct conn c;

	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.dir, XCT_DIR_ORIGINAL);
	CHECK_EQ(c.res.counted, 1);
	CHECK_EQ(c.e.orig_side, CLIENT);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.status, 0);
	CHECK_EQ(c.e.first_seen_ns, T0);
	CHECK_TIMEOUT(&c, 120);

	c.now += SEC;
	send_seg(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.dir, XCT_DIR_REPLY);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.assured, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	CHECK_TIMEOUT(&c, 60);

	c.now += SEC;
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.dir, XCT_DIR_ORIGINAL);
	CHECK_EQ(c.res.assured, 1);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_TIMEOUT(&c, 432000);

	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(c.e.bytes[XCT_DIR_ORIGINAL], 80);
	CHECK_EQ(c.e.bytes[XCT_DIR_REPLY], 40);
	CHECK_EQ(c.e.first_seen_ns, T0);
	CHECK_EQ(c.e.last_seen_ns, T0 + 2 * SEC);

	/* Data both ways, then an ACK of everything: counted by direction. */
	send_seg(&c, SERVER, ACK | PSH, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 100);
	CHECK_EQ(c.res.assured, 0);
	send_seg(&c, CLIENT, ACK | PSH, CLIENT_ISN + 1, SERVER_ISN + 101, 65535, 10);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 3);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 2);
	CHECK_EQ(c.e.bytes[XCT_DIR_ORIGINAL], 130);
	CHECK_EQ(c.e.bytes[XCT_DIR_REPLY], 180);
}

TEST(tcp_syn_retransmit_does_not_refresh)
{
	struct conn c;

	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	CHECK_TIMEOUT(&c, 120);

	c.now += 3 * SEC;
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.expires_ns, T0 + 120 * SEC);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(c.e.bytes[XCT_DIR_ORIGINAL], 40);
	CHECK_EQ(c.e.last_seen_ns, T0);
}

TEST(tcp_rst_answering_syn_kills)
{
	struct conn c;

	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	c.now += SEC / 1000;
	/* What a host with no listener sends. */
	send_seg(&c, SERVER, RST | ACK, 0, CLIENT_ISN + 1, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.kill, 1);
	CHECK_EQ(c.res.counted, 1);
	CHECK_EQ(c.res.dir, XCT_DIR_REPLY);
	CHECK(c.e.expires_ns <= c.now);
	CHECK(!xct_entry_alive(&c.e, c.now));
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 1);
	/* Killed before the reply was seen: its DESTROY says [UNREPLIED]. */
	CHECK(!(c.e.status & XCT_CT_SEEN_REPLY));

	/* The next SYN starts a new connection. */
	c.now += SEC;
	send_seg(&c, CLIENT, SYN, CLIENT_ISN + 7, 0, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 0);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
}

TEST(tcp_orderly_close)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_FIN_WAIT);
	CHECK_TIMEOUT(&c, 120);
	CHECK(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].flags & XCT_TCP_F_CLOSE_INIT);
	CHECK(!(c.e.proto.tcp.seen[XCT_DIR_REPLY].flags & XCT_TCP_F_CLOSE_INIT));

	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE_WAIT);
	CHECK_TIMEOUT(&c, 60);

	send_seg(&c, SERVER, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_LAST_ACK);
	CHECK_TIMEOUT(&c, 30);

	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_TIME_WAIT);
	CHECK_TIMEOUT(&c, 120);
	CHECK(!(c.e.proto.tcp.seen[XCT_DIR_REPLY].flags & XCT_TCP_F_CLOSE_INIT));
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 4);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 3);
}

TEST(tcp_fin_both_ways_then_acks)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_FIN_WAIT);
	send_seg(&c, SERVER, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_LAST_ACK);
	CHECK(!(c.e.proto.tcp.seen[XCT_DIR_REPLY].flags & XCT_TCP_F_CLOSE_INIT));
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_TIME_WAIT);
	CHECK_TIMEOUT(&c, 120);
}

TEST(tcp_syn_in_time_wait_reopens)
{
	struct conn c;
	__u64 closed_at;

	handshake(&c);
	send_seg(&c, CLIENT, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	send_seg(&c, SERVER, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 65535, 0);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_TIME_WAIT);
	closed_at = c.now;

	/* The tracker alone asks for a fresh connection... */
	{
		struct xct_ct_entry saved = c.e;
		struct xct_pkt syn = tcp_pkt(SYN, 900000, 0, 65535, 0);
		struct xct_ct_result res;

		memset(&res, 0, sizeof(res));
		xct_ct_packet(&saved, XCT_DIR_ORIGINAL, &syn, c.now, &res);
		CHECK_EQ(res.reopen, 1);
		CHECK_EQ(res.counted, 0);
		CHECK_EQ(saved.state, XCT_TCP_TIME_WAIT);
		CHECK(xct_ct_starts_over(&c.e, XCT_DIR_ORIGINAL, &syn, c.now));
	}

	/* ...and xct_ct_apply() starts it in place. */
	c.now += 5 * SEC;
	send_seg(&c, CLIENT, SYN, 900000, 0, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.status, 0);
	CHECK_EQ(c.e.orig_side, CLIENT);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 0);
	CHECK_EQ(c.e.bytes[XCT_DIR_ORIGINAL], 40);
	CHECK_EQ(c.e.first_seen_ns, closed_at + 5 * SEC);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].flags & XCT_TCP_F_CLOSE_INIT, 0);
	CHECK_TIMEOUT(&c, 120);

	send_seg(&c, SERVER, SYN | ACK, 77000, 900001, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);
	send_seg(&c, CLIENT, ACK, 900001, 77001, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
}

TEST(tcp_server_syn_in_time_wait_reopens_reversed)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	send_seg(&c, SERVER, FIN | ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 65535, 0);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_TIME_WAIT);

	/* "Server may have switched role": its SYN opens the new connection,
	 * which now originates from the server's side. */
	send_seg(&c, SERVER, SYN, 123456, 0, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.orig_side, SERVER);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 0);
}

TEST(tcp_rst_exact_seq_closes)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, RST, CLIENT_ISN + 1, 0, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.kill, 0);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
	CHECK_TIMEOUT(&c, 10);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 3);
}

TEST(tcp_rst_below_maxack_invalid)
{
	struct conn c;
	__u64 expires;

	handshake(&c);
	expires = c.e.expires_ns;
	c.now += SEC;
	send_seg(&c, CLIENT, RST, CLIENT_ISN, 0, 0, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_INVALID_RST);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.expires_ns, expires);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 2);

	/* Far out of window, from the server too (conntrack_rst_invalid). */
	send_seg(&c, SERVER, RST | ACK, SERVER_ISN - 1000000, CLIENT_ISN + 1, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_TCP_INVALID_RST);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.expires_ns, expires);
}

TEST(tcp_rst_inexact_in_window_keeps_established)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, RST, CLIENT_ISN + 1 + 100, 0, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	/* Any in-window RST gets the CLOSE timeout, as in the kernel. */
	CHECK_TIMEOUT(&c, 10);
	CHECK_EQ(c.res.counted, 1);

	/* The exact one then closes. */
	send_seg(&c, SERVER, RST, SERVER_ISN + 1, 0, 0, 0);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
}

TEST(tcp_rst_ending_data_train_closes)
{
	struct conn c;

	handshake(&c);
	/* The server sends data the client never acknowledges, then resets
	 * right after it: seq is the data's end, not the peer's maxack. */
	send_seg(&c, SERVER, ACK | PSH, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 19);
	send_seg(&c, SERVER, RST, SERVER_ISN + 20, 0, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
}

TEST(tcp_rst_answering_ignored_syn_closes)
{
	struct conn c;

	/* A new SYN on an established connection is let through without a
	 * state change; the RST|ACK (seq 0) that answers it must not be
	 * judged against the old incarnation's td_maxack. */
	handshake(&c);
	send_seg(&c, CLIENT, SYN, 900000, 0, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	send_seg(&c, SERVER, RST | ACK, 0, 900001, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
	CHECK_TIMEOUT(&c, 10);
}

TEST(tcp_rst_seq_zero_before_established)
{
	struct conn c;

	/* SYN, SYN/ACK, then the client resets with seq 0: not established,
	 * so the RST goes to the window check instead of being called
	 * invalid against the SYN/ACK's ack. */
	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	send_seg(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65535, 0);
	send_seg(&c, CLIENT, RST, 0, 0, 0, 0);
	CHECK(c.res.reason != XCT_R_TCP_INVALID_RST);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
}

TEST(tcp_rst_in_closing_state_not_validated)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, FIN | ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE_WAIT);
	/* Even a RST below td_maxack: the tuple may have been reused. */
	send_seg(&c, CLIENT, RST, 5, 0, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
	CHECK_TIMEOUT(&c, 10);
}

TEST(tcp_simultaneous_open)
{
	struct conn c;

	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);

	send_seg(&c, SERVER, SYN, SERVER_ISN, 0, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT2);
	CHECK_TIMEOUT(&c, 120);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);

	send_seg(&c, CLIENT, SYN | ACK, CLIENT_ISN, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);
	CHECK_TIMEOUT(&c, 60);

	/* The second SYN/ACK is let through without a state change. */
	send_seg(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);

	/* A reply ACK in SYN_RECV establishes only because of the
	 * simultaneous open. */
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.res.assured, 1);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_TIMEOUT(&c, 432000);
}

TEST(tcp_midstream_pickup)
{
	struct conn c;

	conn_init(&c);
	send_seg(&c, CLIENT, ACK, 100000, 200000, 1000, 100);
	CHECK_EQ(c.res.ct_state, XCT_CTS_NEW);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.status, 0);
	CHECK_TIMEOUT(&c, 300);
	CHECK_EQ(c.e.proto.tcp.seen[0].flags & (XCT_TCP_F_SACK_PERM | XCT_TCP_F_BE_LIBERAL),
		 XCT_TCP_F_SACK_PERM | XCT_TCP_F_BE_LIBERAL);
	CHECK_EQ(c.e.proto.tcp.seen[1].flags & (XCT_TCP_F_SACK_PERM | XCT_TCP_F_BE_LIBERAL),
		 XCT_TCP_F_SACK_PERM | XCT_TCP_F_BE_LIBERAL);

	/* The reply: SEEN_REPLY from now on, but not yet ASSURED and still
	 * capped, since no reply had been seen before it. */
	send_seg(&c, SERVER, ACK, 200000, 100100, 1000, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(c.res.assured, 0);
	CHECK_TIMEOUT(&c, 300);

	send_seg(&c, CLIENT, ACK, 100100, 200000, 1000, 0);
	CHECK_EQ(c.res.assured, 1);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_TIMEOUT(&c, 432000);
}

TEST(tcp_invalid_first_packets)
{
	static const __u8 bad_first[] = {
		SYN | ACK, FIN | ACK, RST, RST | ACK, 0, FIN,
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad_first); i++) {
		struct conn c;

		conn_init(&c);
		send_seg(&c, CLIENT, bad_first[i], 1, 1, 1000, 0);
		CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
		if (c.res.reason != XCT_R_TCP_INVALID_NEW)
			CHECK_FAIL("flags 0x%02x: reason %u", bad_first[i], c.res.reason);
		CHECK(!xct_entry_alive(&c.e, c.now));
		CHECK_EQ(c.e.packets[0] + c.e.packets[1], 0);
	}
}

TEST(tcp_invalid_in_state)
{
	struct conn c;

	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	send_seg(&c, CLIENT, FIN | ACK, CLIENT_ISN + 1, 0, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_INVALID_STATE);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK(xct_entry_alive(&c.e, c.now));
}

TEST(tcp_seq_over_window)
{
	struct conn c;
	__u64 expires;

	handshake(&c);
	expires = c.e.expires_ns;
	send_seg(&c, CLIENT, ACK | PSH, CLIENT_ISN + 1 + 200000, SERVER_ISN + 1, 65535, 100);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.expires_ns, expires);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_end, CLIENT_ISN + 1);
}

TEST(tcp_small_window_overrun_ignored)
{
	struct conn c;
	__u32 end;

	/* A few bytes beyond the advertised window: let through and
	 * remembered, so that the ACK of that data is not over the bound. */
	handshake(&c);
	end = CLIENT_ISN + 2 + 65535 + 100;
	send_seg(&c, CLIENT, ACK | PSH, CLIENT_ISN + 2 + 65535, SERVER_ISN + 1, 65535, 100);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_end, end);
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, end, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
}

TEST(tcp_ack_over_window)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1 + 1000, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_ACK_OVER_WINDOW);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
}

TEST(tcp_old_retransmission_ignored)
{
	struct conn c;
	__u64 expires, packets;

	handshake(&c);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 60000);
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 60001, 65535, 0);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 60001, SERVER_ISN + 1, 65535, 60000);
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 120001, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	expires = c.e.expires_ns;
	packets = c.e.packets[XCT_DIR_ORIGINAL];

	/* The first segment again, long after it was acknowledged. */
	c.now += SEC;
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 100);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.expires_ns, expires);
	CHECK_EQ(c.e.packets[XCT_DIR_ORIGINAL], packets);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_end, CLIENT_ISN + 120001);
}

TEST(tcp_unacknowledged_data_caps_timeout)
{
	struct conn c;

	handshake(&c);
	send_seg(&c, CLIENT, ACK | PSH, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 100);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_TIMEOUT(&c, 300);
	CHECK(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].flags & XCT_TCP_F_DATA_UNACKNOWLEDGED);

	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 101, 65535, 0);
	CHECK(!(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].flags & XCT_TCP_F_DATA_UNACKNOWLEDGED));
	CHECK_TIMEOUT(&c, 432000);
}

TEST(tcp_retransmissions_cap_timeout)
{
	struct conn c;
	int i;

	/* tcp_max_retrans (3) identical ACK-class packets: RETRANS, 300 s. */
	handshake(&c);
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 0);
	for (i = 1; i <= 3; i++) {
		send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 0);
		CHECK_EQ(c.e.proto.tcp.retrans, i);
		CHECK_TIMEOUT(&c, i < 3 ? 432000 : 300);
	}
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c.e.proto.tcp.retrans, 0);
	CHECK_TIMEOUT(&c, 432000);
}

/*
 * Handshake where the SYN and the SYN/ACK may carry window scale 7; the
 * server then advertises 1000 << scale and the client sends 100000 bytes
 * ahead, which fits only if the scale applies.
 */
static void scaled_transfer(struct conn *c, int client_ws, int server_ws)
{
	struct xct_pkt p;

	conn_init(c);
	p = tcp_pkt(SYN, CLIENT_ISN, 0, 64240, 0);
	if (client_ws) {
		p.tcp.opts = XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM;
		p.tcp.wscale = 7;
	}
	send_pkt(c, CLIENT, &p);
	p = tcp_pkt(SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 29200, 0);
	if (server_ws) {
		p.tcp.opts = XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM;
		p.tcp.wscale = 7;
	}
	send_pkt(c, SERVER, &p);
	send_seg(c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 502, 0);
	send_seg(c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 1000, 0);
	CHECK_EQ(c->e.state, XCT_TCP_ESTABLISHED);
	send_seg(c, CLIENT, ACK | PSH, CLIENT_ISN + 1 + 100000, SERVER_ISN + 1, 502, 10);
}

TEST(tcp_window_scaling_only_when_both_offer)
{
	struct conn c;

	scaled_transfer(&c, 1, 1);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 7);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, 7);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_maxwin, 1000 << 7);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.counted, 1);

	scaled_transfer(&c, 1, 0);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 0);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, 0);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_maxwin, 29200);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);

	scaled_transfer(&c, 0, 1);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 0);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, 0);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
}

TEST(tcp_sack_counts_only_when_permitted)
{
	struct conn c;
	struct xct_pkt p;

	/* No SACK-permitted in the handshake: a SACK block beyond anything
	 * sent is not looked at. */
	handshake(&c);
	send_seg(&c, SERVER, ACK | PSH, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 500);
	p = tcp_pkt(ACK, CLIENT_ISN + 1, SERVER_ISN + 101, 65535, 0);
	p.tcp.sack = SERVER_ISN + 5000;
	send_pkt(&c, CLIENT, &p);
	CHECK_EQ(c.res.reason, XCT_R_OK);

	/* With SACK permitted by the server, the same block acknowledges data
	 * never sent. */
	conn_init(&c);
	p = tcp_pkt(SYN, CLIENT_ISN, 0, 65535, 0);
	p.tcp.opts = XCT_TCP_F_SACK_PERM;
	send_pkt(&c, CLIENT, &p);
	p = tcp_pkt(SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65535, 0);
	p.tcp.opts = XCT_TCP_F_SACK_PERM;
	send_pkt(&c, SERVER, &p);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 0);
	send_seg(&c, SERVER, ACK | PSH, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 500);
	p = tcp_pkt(ACK, CLIENT_ISN + 1, SERVER_ISN + 101, 65535, 0);
	p.tcp.sack = SERVER_ISN + 5000;
	send_pkt(&c, CLIENT, &p);
	CHECK_EQ(c.res.reason, XCT_R_TCP_ACK_OVER_WINDOW);
}

/* A SYN or SYN/ACK offering window scale ws (and SACK). */
static void send_syn_ws(struct conn *c, __u8 side, __u8 flags, __u32 seq, __u32 ack, __u16 win,
			__u8 ws)
{
	struct xct_pkt p = tcp_pkt(flags, seq, ack, win, 0);

	p.tcp.opts = XCT_TCP_F_WINDOW_SCALE | XCT_TCP_F_SACK_PERM;
	p.tcp.wscale = ws;
	send_pkt(c, side, &p);
}

TEST(tcp_resyn_keeps_client_window_scale)
{
	struct conn c;
	unsigned int k, invalid = 0, ignored = 0;

	/* The client gives up on its first SYN and sends another with a
	 * higher sequence number: tcp_init_sender() re-initialises the
	 * original direction, but clears the scale factors only for the
	 * reply's SYN/ACK, when both sides' options are known. */
	conn_init(&c);
	send_syn_ws(&c, CLIENT, SYN, 1000, 0, 64240, 7);
	send_syn_ws(&c, CLIENT, SYN, 4999000, 0, 64240, 7);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 7);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_end, 4999001);
	send_syn_ws(&c, SERVER, SYN | ACK, SERVER_ISN, 4999001, 65160, 7);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 7);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, 7);

	/* 1000 << 7: the server may send 128,000 bytes. */
	send_seg(&c, CLIENT, ACK, 4999001, SERVER_ISN + 1, 1000, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_REPLY].td_maxend, SERVER_ISN + 1 + 128000);
	for (k = 0; k < 25; k++) {
		send_seg(&c, SERVER, ACK | PSH, SERVER_ISN + 1 + 1400 * k, 4999001, 509, 1400);
		invalid += c.res.ct_state == XCT_CTS_INVALID;
		ignored += c.res.reason == XCT_R_TCP_IGNORED;
	}
	CHECK_EQ(invalid, 0);
	CHECK_EQ(ignored, 0);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 26);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
}

TEST(tcp_rst_after_ignored_syn_same_dir_invalid)
{
	struct conn c;
	__u64 expires;

	/* An injected SYN and a RST from the same side, the RST acking the
	 * SYN and far out of window: the RST does not answer the SYN (it
	 * would come from the other side), so it is judged by the window
	 * and the assured connection survives. */
	handshake(&c);
	expires = c.e.expires_ns;
	send_seg(&c, CLIENT, SYN, 900000, 0, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	send_seg(&c, CLIENT, RST | ACK, CLIENT_ISN + 1 + 5000000, 900001, 0, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
	CHECK_EQ(c.res.counted, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);
	CHECK_EQ(c.e.expires_ns, expires);

	/* The same RST from the server does answer the SYN. */
	handshake(&c);
	send_seg(&c, CLIENT, SYN, 900000, 0, 65535, 0);
	send_seg(&c, SERVER, RST | ACK, SERVER_ISN + 1 + 5000000, 900001, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
	CHECK_TIMEOUT(&c, 10);
}

TEST(tcp_simultaneous_open_rst_same_dir_invalid)
{
	struct conn c;

	/* The last SYN came from the server; a RST from the server, out of
	 * window, with ack 0 (== last_end, never annotated) is no answer to
	 * it: INVALID, SYN_SENT2 stays. */
	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	send_seg(&c, SERVER, SYN, SERVER_ISN, 0, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT2);
	send_seg(&c, SERVER, RST, SERVER_ISN + 5000000, 0, 0, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT2);
	/* The handshake goes on as if the RST had not been seen. */
	send_seg(&c, CLIENT, SYN | ACK, CLIENT_ISN, SERVER_ISN + 1, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);

	/* From the client, the RST answers the server's SYN. */
	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	send_seg(&c, SERVER, SYN, SERVER_ISN, 0, 65535, 0);
	send_seg(&c, CLIENT, RST, CLIENT_ISN + 5000000, 0, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
}

TEST(tcp_rst_after_ignored_synack_same_dir_invalid)
{
	struct conn c;

	/* SYN, a SYN/ACK acking far below it (let through, state kept), then
	 * an out-of-window client RST: the last SYN was the client's own. */
	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	send_seg(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN - 99999, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(c.e.status, XCT_CT_SEEN_REPLY);
	send_seg(&c, CLIENT, RST, CLIENT_ISN + 5000000, 0, 0, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_SENT);
}

TEST(tcp_rst_answering_accepted_ack_either_dir_closes)
{
	struct conn c;

	/* The other half of the shortcut has no direction: on a connection
	 * not yet assured, a RST whose ack is the end of the last ACK closes
	 * even when it comes from the side that sent that ACK. */
	conn_init(&c);
	send_seg(&c, CLIENT, SYN, CLIENT_ISN, 0, 65535, 0);
	send_seg(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65535, 0);
	send_seg(&c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 1, 65535, 0);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);
	send_seg(&c, SERVER, RST, SERVER_ISN + 1 + 5000000, SERVER_ISN + 1, 0, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_CLOSE);
}

TEST(tcp_resync_keeps_be_liberal)
{
	struct conn c;

	/* Picked up mid-stream (liberal both ways), then a SYN with window
	 * scale 14 that the server answers: the resync starts the server's
	 * side afresh but nf_ct_tcp_state_reset() keeps its BE_LIBERAL, so
	 * data far beyond the window still passes. */
	conn_init(&c);
	send_seg(&c, CLIENT, ACK | PSH, 100000, 200000, 1000, 100);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	send_syn_ws(&c, CLIENT, SYN, 900000, 0, 64240, 14);
	CHECK_EQ(c.res.reason, XCT_R_TCP_IGNORED);
	send_syn_ws(&c, SERVER, SYN | ACK, 300000, 900001, 65160, 14);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.e.state, XCT_TCP_SYN_RECV);
	CHECK(c.e.proto.tcp.seen[XCT_DIR_REPLY].flags & XCT_TCP_F_BE_LIBERAL);
	/* The client's side comes from its SYN, whose options it has. */
	CHECK(!(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].flags & XCT_TCP_F_BE_LIBERAL));
	CHECK_EQ(c.e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, 14);

	send_seg(&c, SERVER, ACK | PSH, 300001 + 243955, 900001, 509, 100);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.counted, 1);
	CHECK_EQ(c.e.packets[XCT_DIR_REPLY], 2);
}

/*
 * A restored connection: an established one whose entry was saved, and
 * which went on for a while with no tracker watching (the client sent
 * 1 MB, the server 10 kB), as across xct ct save, a detach, an attach and
 * xct ct restore.
 */
static void restored(struct conn *c, int liberal)
{
	handshake(c);
	send_seg(c, CLIENT, ACK | PSH, CLIENT_ISN + 1, SERVER_ISN + 1, 65535, 1000);
	send_seg(c, SERVER, ACK, SERVER_ISN + 1, CLIENT_ISN + 1001, 65535, 0);
	CHECK_EQ(c->res.reason, XCT_R_OK);
	if (liberal)
		xct_tcp_set_liberal(&c->e);
	c->now += 10 * SEC;
}

#define GAP_C (CLIENT_ISN + 1001 + 1000000)
#define GAP_S (SERVER_ISN + 1 + 10000)

TEST(tcp_restored_without_liberal_is_invalid)
{
	struct conn c;

	/* The control: the saved windows are far behind the connection. */
	restored(&c, 0);
	send_seg(&c, CLIENT, ACK | PSH, GAP_C, GAP_S, 65535, 1000);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
}

TEST(tcp_restored_liberal_relearns_then_checks_again)
{
	struct conn c;

	restored(&c, 1);
	CHECK(c.e.status & XCT_CT_LIBERAL);
	CHECK_EQ(c.e.proto.tcp.seen[0].td_maxwin, 0);
	CHECK_EQ(c.e.proto.tcp.seen[1].td_maxwin, 0);
	CHECK(!(c.e.proto.tcp.seen[0].flags & XCT_TCP_F_MAXACK_SET));
	CHECK(c.e.proto.tcp.seen[0].flags & XCT_TCP_F_BE_LIBERAL);
	CHECK(c.e.proto.tcp.seen[1].flags & XCT_TCP_F_BE_LIBERAL);

	/* The client first: its window is learnt from the packet; the
	 * server's side is not seen yet, so the relaxed check stays. */
	send_seg(&c, CLIENT, ACK | PSH, GAP_C, GAP_S, 65535, 1000);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.counted, 1);
	CHECK(c.e.status & XCT_CT_LIBERAL);
	CHECK_TIMEOUT(&c, 432000);

	/* The server acknowledges data sent before the restore that the
	 * tracker never saw: over the window, let through, and with both
	 * directions seen the connection is tracked fully again. */
	send_seg(&c, SERVER, ACK, GAP_S, GAP_C + 5000, 65535, 0);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK_EQ(c.res.counted, 1);
	CHECK(!(c.e.status & XCT_CT_LIBERAL));
	CHECK(!(c.e.proto.tcp.seen[0].flags & XCT_TCP_F_BE_LIBERAL));
	CHECK(!(c.e.proto.tcp.seen[1].flags & XCT_TCP_F_BE_LIBERAL));
	CHECK_EQ(c.e.status & (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED),
		 XCT_CT_SEEN_REPLY | XCT_CT_ASSURED);

	/* In window: accepted. */
	send_seg(&c, CLIENT, ACK | PSH, GAP_C + 5000, GAP_S, 65535, 1000);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	send_seg(&c, SERVER, ACK, GAP_S, GAP_C + 6000, 65535, 0);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	/* Far over the window: invalid, as for any connection. */
	send_seg(&c, CLIENT, ACK | PSH, GAP_C + 6000 + 500000, GAP_S, 65535, 100);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
	CHECK_EQ(c.res.reason, XCT_R_TCP_SEQ_OVER_WINDOW);
}

TEST(tcp_restored_liberal_keeps_scale_and_closes)
{
	struct conn c;

	conn_init(&c);
	send_syn_ws(&c, CLIENT, SYN, CLIENT_ISN, 0, 64240, 7);
	send_syn_ws(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65160, 7);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 502, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	xct_tcp_set_liberal(&c.e);
	CHECK_EQ(c.e.proto.tcp.seen[0].td_scale, 7);
	CHECK_EQ(c.e.proto.tcp.seen[1].td_scale, 7);

	/* The scaled window is learnt as such: the server may send 502<<7
	 * bytes past the client's acknowledgement. */
	send_seg(&c, CLIENT, ACK, GAP_C, GAP_S, 502, 0);
	send_seg(&c, SERVER, ACK | PSH, GAP_S, GAP_C, 509, 1000);
	CHECK(!(c.e.status & XCT_CT_LIBERAL));
	send_seg(&c, SERVER, ACK | PSH, GAP_S + 1000, GAP_C, 509, 60000);
	CHECK_EQ(c.res.reason, XCT_R_OK);

	/* A FIN both ways closes it as usual. */
	send_seg(&c, CLIENT, FIN | ACK, GAP_C, GAP_S + 61000, 502, 0);
	CHECK_EQ(c.e.state, XCT_TCP_FIN_WAIT);
	send_seg(&c, SERVER, FIN | ACK, GAP_S + 61000, GAP_C + 1, 509, 0);
	CHECK_EQ(c.e.state, XCT_TCP_LAST_ACK);
	send_seg(&c, CLIENT, ACK, GAP_C + 1, GAP_S + 61001, 502, 0);
	CHECK_EQ(c.e.state, XCT_TCP_TIME_WAIT);
}

TEST(tcp_committed_without_scale_stays_liberal)
{
	struct conn c;

	/* A connection with window scale 7 both ways, committed from a
	 * peer's message without the scales: the entry has scale 0 and does
	 * not know better.  Once both directions are seen the relearning
	 * ends, but the windows it learnt are the unscaled fields (502 and
	 * 509 bytes), so the window check stays relaxed: data far beyond
	 * them passes, as on nf_conntrack after conntrackd's commit. */
	conn_init(&c);
	send_syn_ws(&c, CLIENT, SYN, CLIENT_ISN, 0, 64240, 7);
	send_syn_ws(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65160, 7);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 502, 0);
	CHECK_EQ(c.e.state, XCT_TCP_ESTABLISHED);
	memset(&c.e.proto.tcp, 0, sizeof(c.e.proto.tcp));
	c.e.status |= XCT_CT_SCALE_UNKNOWN;
	xct_tcp_set_liberal(&c.e);

	send_seg(&c, CLIENT, ACK, GAP_C, GAP_S, 502, 0);
	send_seg(&c, SERVER, ACK | PSH, GAP_S, GAP_C, 509, 1000);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	CHECK(!(c.e.status & XCT_CT_LIBERAL));
	CHECK(c.e.status & XCT_CT_SCALE_UNKNOWN);
	CHECK(c.e.proto.tcp.seen[0].flags & XCT_TCP_F_BE_LIBERAL);
	CHECK(c.e.proto.tcp.seen[1].flags & XCT_TCP_F_BE_LIBERAL);
	send_seg(&c, SERVER, ACK | PSH, GAP_S + 1000, GAP_C, 509, 60000);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	send_seg(&c, CLIENT, ACK | PSH, GAP_C, GAP_S + 61000, 502, 60000);
	CHECK_EQ(c.res.reason, XCT_R_OK);
	send_seg(&c, SERVER, ACK | PSH, GAP_S + 61000 + 500000, GAP_C + 60000, 509, 1000);
	CHECK_EQ(c.res.ct_state, XCT_CTS_ESTABLISHED);

	/* The control: the same without the mark is checked again, and a
	 * segment far over the window is invalid. */
	conn_init(&c);
	send_syn_ws(&c, CLIENT, SYN, CLIENT_ISN, 0, 64240, 7);
	send_syn_ws(&c, SERVER, SYN | ACK, SERVER_ISN, CLIENT_ISN + 1, 65160, 7);
	send_seg(&c, CLIENT, ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 502, 0);
	memset(&c.e.proto.tcp, 0, sizeof(c.e.proto.tcp));
	xct_tcp_set_liberal(&c.e);
	send_seg(&c, CLIENT, ACK, GAP_C, GAP_S, 502, 0);
	send_seg(&c, SERVER, ACK | PSH, GAP_S, GAP_C, 509, 1000);
	CHECK(!(c.e.status & XCT_CT_LIBERAL));
	send_seg(&c, SERVER, ACK | PSH, GAP_S + 1000 + 500000, GAP_C, 509, 1000);
	CHECK_EQ(c.res.ct_state, XCT_CTS_INVALID);
}
