// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the compiled datapath (build/xct.bpf.o) with BPF_PROG_TEST_RUN:
 * crafted Ethernet frames go through xct_xdp, xct_tc_ingress and
 * xct_tc_egress, the control program xct_ctl runs the GC, and the tests read
 * the connection table and the per-CPU counters back.  The programs are
 * loaded with cfg_fake_clock set, so time is whatever the test writes into
 * fake_now_ns, and every timeout is checked to the nanosecond without
 * sleeping.
 *
 * Covered: the TCP handshake and every TCP state's timeout, expiry (a dead
 * entry is not revived by a packet that cannot open a connection, and a SYN
 * starts a fresh one), RST answering a SYN, UDP unreplied/replied/stream
 * timeouts, ICMP echo, ICMP errors (RELATED, unknown connection, spoofed),
 * IPv6 with extension headers, VLAN tags, IPv4 options, fragments,
 * malformed packets, the TC egress skip of forwarded packets, a full table
 * (eviction at insert time: dead, unreplied, replied, never assured), and
 * the GC with and without early-drop pressure.
 *
 * Every test starts from the state of a freshly loaded datapath (see struct
 * datapath), with maps pinned in a directory of their own on bpffs that is
 * removed at exit, so tests do not depend on each other.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define CHECK_IMPLEMENTATION
#include "fixture.h"
#include "table.h"
#include "xct/ct.h"

/* ---- TCP ---- */

TEST(tcp_handshake_xdp_and_tc_egress)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct xct_ct_entry e;
	struct handshake h;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	h = tcp_handshake(&fx, &c);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, XCT_CT_ASSURED | XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.orig_side, sender_side(&c));
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	/* 20 bytes of IP, 32 of TCP with options for the SYNs, 20 without. */
	CHECK_EQ(h.orig_bytes, 52 + 40);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], h.orig_bytes);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], h.reply_bytes);
	CHECK_EQ(e.first_seen_ns, T0);
	CHECK_EQ(e.last_seen_ns, T0);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(432000));
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, TCP_WSCALE);
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_REPLY].td_scale, TCP_WSCALE);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 3);
	CHECK_EQ(counter(&fx, XCT_S_INSERT), 1);
	CHECK_EQ(counter(&fx, XCT_S_FOUND), 2);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 3);
	fixture_teardown(&fx);
}

TEST(tcp_handshake_ipv6_with_extension_headers)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 443);
	struct flow s = reverse(&c);
	struct layout ext = {.ipv6_dstopts = 2};
	struct packet syn = tcp_packet_layout(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &ext);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct packet data =
		tcp_packet(&c, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
	struct packet ack = tcp_packet(&s, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 101, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	tc_out(&fx, &synack);
	xdp_in(&fx, &data);
	tc_out(&fx, &ack);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, XCT_CT_ASSURED | XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 2);
	/* IPv6 counts the fixed header plus the payload length, extension
	 * headers included. */
	CHECK_EQ(syn.l3_len, 40 + 16 + 32);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], syn.l3_len + data.l3_len);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], (40 + 16 + 32) + (40 + 20 + 100));
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], (40 + 32) + (40 + 20));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(432000));
	fixture_teardown(&fx);
}

TEST(tcp_syn_sent_times_out_after_120s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	check_tcp(&fx, &c, XCT_TCP_SYN_SENT, 120);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_syn_retransmit_does_not_refresh)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(3));
	xdp_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.expires_ns, T0 + SEC_NS(120));
	/* Neither refreshed nor counted, as nf_conntrack. */
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	fixture_teardown(&fx);
}

TEST(tcp_syn_recv_times_out_after_60s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &synack);
	check_tcp(&fx, &c, XCT_TCP_SYN_RECV, 60);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	check_expires_after(&fx, &c, 60);
	fixture_teardown(&fx);
}

TEST(tcp_established_times_out_after_5_days)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	check_tcp(&fx, &c, XCT_TCP_ESTABLISHED, 432000);
	check_expires_after(&fx, &c, 432000);
	fixture_teardown(&fx);
}

/* The client closes first: FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, each
 * with its own timeout, and each expiring on time. */
static void tcp_close_to(struct fixture *fx, const struct flow *c, __u8 state)
{
	struct flow s = reverse(c);
	struct packet fin =
		tcp_packet(c, XCT_TCPF_FIN | XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
	struct packet fin_ack = tcp_packet(&s, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0);
	struct packet server_fin =
		tcp_packet(&s, XCT_TCPF_FIN | XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 2, 0);
	struct packet last_ack = tcp_packet(c, XCT_TCPF_ACK, CLIENT_ISN + 2, SERVER_ISN + 2, 0);

	tcp_handshake(fx, c);
	advance(fx, SEC_NS(1));
	xdp_in(fx, &fin);
	if (state == XCT_TCP_FIN_WAIT)
		return;
	tc_out(fx, &fin_ack);
	if (state == XCT_TCP_CLOSE_WAIT)
		return;
	tc_out(fx, &server_fin);
	if (state == XCT_TCP_LAST_ACK)
		return;
	xdp_in(fx, &last_ack);
}

TEST(tcp_fin_wait_times_out_after_120s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_FIN_WAIT);
	check_tcp(&fx, &c, XCT_TCP_FIN_WAIT, 120);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_close_wait_times_out_after_60s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_CLOSE_WAIT);
	check_tcp(&fx, &c, XCT_TCP_CLOSE_WAIT, 60);
	check_expires_after(&fx, &c, 60);
	fixture_teardown(&fx);
}

TEST(tcp_last_ack_times_out_after_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_LAST_ACK);
	check_tcp(&fx, &c, XCT_TCP_LAST_ACK, 30);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(tcp_time_wait_times_out_after_120s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_TIME_WAIT);
	check_tcp(&fx, &c, XCT_TCP_TIME_WAIT, 120);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 4);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 3);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_syn_reopens_time_wait)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN + 100000, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_close_to(&fx, &c, XCT_TCP_TIME_WAIT);
	advance(&fx, SEC_NS(5));
	xdp_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	CHECK_EQ(e.first_seen_ns, now_ns(&fx));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(120));
	fixture_teardown(&fx);
}

TEST(tcp_rst_closes_established_for_10s)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet rst = tcp_packet(&c, XCT_TCPF_RST, CLIENT_ISN + 1, 0, 0);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	advance(&fx, SEC_NS(7));
	xdp_in(&fx, &rst);
	check_tcp(&fx, &c, XCT_TCP_CLOSE, 10);
	check_expires_after(&fx, &c, 10);
	fixture_teardown(&fx);
}

TEST(tcp_out_of_window_rst_is_invalid)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet rst = tcp_packet(&c, XCT_TCPF_RST, CLIENT_ISN - 500, 0, 0);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	xdp_in(&fx, &rst);
	check_tcp(&fx, &c, XCT_TCP_ESTABLISHED, 432000);
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_INVALID_RST), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	fixture_teardown(&fx);
}

TEST(tcp_simultaneous_open_syn_sent2_times_out)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet peer_syn = tcp_packet(&s, XCT_TCPF_SYN, SERVER_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &peer_syn);
	/* A SYN while in SYN_SENT with no reply seen yet does not refresh the
	 * timer, whichever side sent it (nf_conntrack_tcp_packet()); the
	 * connection has seen a reply now, though. */
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT2);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.expires_ns, T0 + SEC_NS(120));
	set_now(&fx, T0);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(tcp_rst_answering_syn_kills_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet rst = tcp_packet(&s, XCT_TCPF_RST | XCT_TCPF_ACK, 0, CLIENT_ISN + 1, 0);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct xct_ctl_msg m;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &rst);
	CHECK(!has_live_entry(&fx, &c));
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	/* Dead: a SYN/ACK cannot bring it back. */
	tc_out(&fx, &synack);
	CHECK(!has_live_entry(&fx, &c));
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_INVALID_NEW), 1);
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 1);
	CHECK_EQ(m.deleted, 1);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);
}

TEST(tcp_dead_entry_not_revived_but_syn_starts_fresh)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct packet new_syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN + 77777, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	set_now(&fx, T0 + SEC_NS(432000));
	CHECK(!has_live_entry(&fx, &c));

	tc_out(&fx, &synack);
	CHECK(!has_live_entry(&fx, &c));
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_INVALID_NEW), 1);

	advance(&fx, SEC_NS(2));
	xdp_in(&fx, &new_syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(entry_alive(&fx, &e));
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.orig_side, sender_side(&c));
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], new_syn.l3_len);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], 0);
	CHECK_EQ(e.first_seen_ns, now_ns(&fx));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(120));
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(tcp_dead_entry_taken_over_by_server_syn)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&s, XCT_TCPF_SYN, SERVER_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	set_now(&fx, T0 + SEC_NS(500000));
	/* The other side opens a connection on the same addresses and ports:
	 * it is the new connection's originator. */
	tc_out(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(entry_alive(&fx, &e));
	CHECK_EQ(e.orig_side, sender_side(&s));
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	fixture_teardown(&fx);
}

TEST(tcp_midstream_ack_picks_up_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet ack = tcp_packet(&c, XCT_TCPF_ACK, 123456, 654321, 10);
	struct packet reply = tcp_packet(&s, XCT_TCPF_ACK, 654321, 123466, 0);
	struct packet more = tcp_packet(&c, XCT_TCPF_ACK, 123466, 654321, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &ack);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.orig_side, sender_side(&c));
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(300));
	CHECK_EQ(e.proto.tcp.seen[0].flags & XCT_TCP_F_BE_LIBERAL, XCT_TCP_F_BE_LIBERAL);
	CHECK_EQ(e.proto.tcp.seen[1].flags & XCT_TCP_F_BE_LIBERAL, XCT_TCP_F_BE_LIBERAL);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 1);

	advance(&fx, SEC_NS(1));
	tc_out(&fx, &reply);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	/* SEEN_REPLY is set after the tracker ran: this packet still gets
	 * the short life of an unanswered pickup. */
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(300));

	/* Both ways seen, and on: ASSURED, with the ESTABLISHED timeout. */
	xdp_in(&fx, &more);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED | XCT_CT_LOCAL);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(432000));
	fixture_teardown(&fx);
}

TEST(tcp_tc_ingress_tracks_like_xdp)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tc_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], syn.l3_len);
	fixture_teardown(&fx);
}

/* ---- Layouts around the transport header ---- */

TEST(vlan_tagged_packets_tracked)
{
	struct flow c1 = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow c2 = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 53);
	struct layout one_tag = {.vlan_tags = 1}, two_tags = {.vlan_tags = 2};
	struct packet syn = tcp_packet_layout(&c1, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &one_tag);
	struct packet dgram = udp_packet_layout(&c2, 30, &two_tags);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	tc_out(&fx, &dgram);
	CHECK_EQ(get_entry(&fx, &c1, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 52); /* the tag is not layer 3 */
	CHECK_EQ(get_entry(&fx, &c2, &e), 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 40 + 8 + 30);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	fixture_teardown(&fx);
}

TEST(ipv4_options_tracked)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct layout opts = {.ipv4_opt_len = 12};
	struct packet syn = tcp_packet_layout(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &opts);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &syn);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 32 + 32);
	CHECK_EQ(e.proto.tcp.seen[0].flags & XCT_TCP_F_WINDOW_SCALE, XCT_TCP_F_WINDOW_SCALE);
	fixture_teardown(&fx);
}

TEST(first_fragment_tracked)
{
	struct flow c4 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow c6 = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 53);
	struct layout frag4 = {.more_fragments = 1};
	struct layout frag6 = {.ipv6_frag_hdr = 1, .more_fragments = 1};
	struct packet p4 = udp_packet_layout(&c4, 100, &frag4);
	struct packet p6 = udp_packet_layout(&c6, 100, &frag6);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p4);
	xdp_in(&fx, &p6);
	CHECK_EQ(get_entry(&fx, &c4, &e), 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 108);
	CHECK_EQ(get_entry(&fx, &c6, &e), 0);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 40 + 8 + 108);
	CHECK_EQ(counter(&fx, XCT_S_UNTRACKED), 0);
	fixture_teardown(&fx);
}

/* ---- UDP, ICMP, other protocols ---- */

TEST(udp_unreplied_replied_then_stream)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow s = reverse(&c);
	struct packet query = udp_packet(&c, 40);
	struct packet answer = udp_packet(&s, 200);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 8 + 40);

	advance(&fx, SEC_NS(1));
	tc_out(&fx, &answer);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], 20 + 8 + 200);

	/* Two seconds after the first packet: not yet a stream. */
	set_now(&fx, T0 + SEC_NS(2));
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));

	/* Past two seconds: a stream, ASSURED, 120 s. */
	set_now(&fx, T0 + SEC_NS(2) + 1);
	tc_out(&fx, &answer);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_ASSURED | XCT_CT_LOCAL);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(120));
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 2);
	check_expires_after(&fx, &c, 120);
	fixture_teardown(&fx);
}

TEST(udp_unreplied_times_out_after_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

/* The tunables written into xct_timeouts, as xct set-timeout writes them,
 * decide the next packet's timeout; an entry keeps its expiry till then. */
TEST(tunables_map_sets_the_next_packets_timeout)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow t = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40001, "10.0.0.2", 80);
	struct packet query = udp_packet(&c, 40);
	struct packet ack = tcp_packet(&t, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
	struct xct_tunables tun = {}, none = {};
	struct xct_ct_entry e;
	struct fixture fx;
	__u64 tcp_expires;
	__u32 zero = 0;
	int fd, i;

	if (!fixture_setup(&fx, 0))
		return;
	fd = bpf_map__fd(fx.skel->maps.data_xct_timeouts);
	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		tun.v[i] = xct_tunable_default((enum xct_tunable)i);
	tun.v[XCT_TUNABLE_UDP] = 7;
	tun.v[XCT_TUNABLE_TCP_ESTABLISHED] = 9;

	/* Values not marked written are not in force. */
	CHECK_EQ(bpf_map_update_elem(fd, &zero, &tun, BPF_ANY), 0);
	xdp_in(&fx, &query);
	check_expires_after(&fx, &c, 30);
	tun.written = XCT_TUNABLES_WRITTEN;
	CHECK_EQ(bpf_map_update_elem(fd, &zero, &tun, BPF_ANY), 0);
	xdp_in(&fx, &query);
	check_expires_after(&fx, &c, 7);

	/* A live connection keeps its expiry until its next packet. */
	CHECK_EQ(bpf_map_update_elem(fd, &zero, &none, BPF_ANY), 0);
	tcp_handshake(&fx, &t);
	CHECK_EQ(get_entry(&fx, &t, &e), 0);
	tcp_expires = e.expires_ns;
	CHECK_EQ(tcp_expires - now_ns(&fx), SEC_NS(432000));
	CHECK_EQ(bpf_map_update_elem(fd, &zero, &tun, BPF_ANY), 0);
	advance(&fx, SEC_NS(1));
	CHECK_EQ(get_entry(&fx, &t, &e), 0);
	CHECK_EQ(e.expires_ns, tcp_expires);
	xdp_in(&fx, &ack);
	CHECK_EQ(get_entry(&fx, &t, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(9));
	fixture_teardown(&fx);
}

TEST(udp_quick_reply_stays_unassured)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow s = reverse(&c);
	struct packet query = udp_packet(&c, 40);
	struct packet answer = udp_packet(&s, 200);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &answer);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(icmp_echo_request_reply_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 0x77, "10.0.0.2", 0);
	struct flow s = reverse(&c);
	struct packet request = icmp_packet(&c, 8, 0);
	struct packet reply = icmp_packet(&s, 0, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &request);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.orig_side, 0);
	CHECK_EQ(e.status, 0);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &reply);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 64);
	CHECK_EQ(e.bytes[XCT_DIR_REPLY], 20 + 64);
	CHECK_EQ(table_size(&fx), 1);
	check_expires_after(&fx, &c, 30);
	fixture_teardown(&fx);
}

TEST(icmpv6_echo_request_reply_30s)
{
	struct flow c = make_flow(XCT_IPPROTO_ICMPV6, "2001:db8::1", 0x99, "2001:db8::2", 0);
	struct flow s = reverse(&c);
	struct packet request = icmp_packet(&c, 128, 0);
	struct packet reply = icmp_packet(&s, 129, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &request);
	tc_out(&fx, &reply);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY | XCT_CT_LOCAL);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(e.expires_ns - now_ns(&fx), SEC_NS(30));
	fixture_teardown(&fx);
}

TEST(generic_protocol_600s)
{
	struct flow c = make_flow(47 /* GRE */, "10.0.0.1", 0, "10.0.0.2", 0);
	__u8 gre[8] = {0};
	struct packet p = build_packet(&c, gre, sizeof(gre), &plain);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p);
	check_expires_after(&fx, &c, 600);
	fixture_teardown(&fx);
}

/* ---- ICMP errors ---- */

TEST(icmp_error_related_to_tracked_udp)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct packet unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &query);
	struct xct_ct_entry before, after;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &before), 0);
	advance(&fx, SEC_NS(1));
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	CHECK_EQ(counter(&fx, XCT_S_ERROR), 0);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	CHECK_EQ(get_entry(&fx, &c, &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

/* Cuts an ICMP error so that it quotes only keep bytes of the quoted
 * transport header (fixture errors quote 8). */
static void cut_quote(struct packet *err, __u32 keep)
{
	err->len -= 8 - keep;
	err->l3_len -= 8 - keep;
	if (err->data[err->l3_off] >> 4 == 4)
		put16(err->data + err->l3_off + 2, (__u16)err->l3_len);
	else
		put16(err->data + err->l3_off + 4, (__u16)(err->l3_len - 40));
}

TEST(icmp_error_quoting_four_bytes_related)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow c6 = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 443);
	struct layout opts = {.ipv4_opt_len = 8};
	struct packet query = udp_packet_layout(&c, 40, &opts), syn, unreach;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	/* IPv4 UDP with IP options in the quote, as nf_conntrack takes it:
	 * the ports are all it reads of the quoted header. */
	xdp_in(&fx, &query);
	unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &query);
	cut_quote(&unreach, 4);
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	/* IPv6 TCP. */
	syn = tcp_packet(&c6, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &syn);
	unreach = icmp_error_packet("2001:db8::2", "2001:db8::1", 1, 4, &syn);
	cut_quote(&unreach, 4);
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 2);
	/* Three bytes do not hold the ports. */
	cut_quote(&unreach, 3);
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 2);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_TRUNCATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	fixture_teardown(&fx);
}

TEST(icmpv6_error_related_to_tracked_tcp)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 443);
	struct packet data = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 1400);
	struct packet too_big;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	/* Packet too big, from a router on the way. */
	too_big = icmp_error_packet("2001:db8:ff::1", "2001:db8::1", 2, 0, &data);
	tc_out(&fx, &too_big);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	fixture_teardown(&fx);
}

TEST(icmp_error_related_to_tracked_echo)
{
	struct flow c = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 0x42, "10.0.9.9", 0);
	struct packet request = icmp_packet(&c, 8, 0);
	/* Host unreachable, from a router on the way. */
	struct packet unreach = icmp_error_packet("10.0.0.254", "10.0.0.1", 3, 1, &request);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &request);
	tc_out(&fx, &unreach);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(icmp_error_about_unknown_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow other = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct packet unknown = udp_packet(&other, 40);
	struct packet unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &unknown);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	tc_out(&fx, &unreach);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_NO_CONN), 1);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	CHECK_EQ(counter(&fx, XCT_S_ERROR), 1);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(icmp_error_about_expired_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	struct packet unreach = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &query);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	advance(&fx, SEC_NS(30));
	tc_out(&fx, &unreach);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_NO_CONN), 1);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 0);
	fixture_teardown(&fx);
}

TEST(icmp_error_spoofed)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet query = udp_packet(&c, 40);
	/* Addressed to someone else than the quoted packet's sender. */
	struct packet spoofed = icmp_error_packet("10.0.0.2", "10.0.0.9", 3, 3, &query);
	struct xct_ct_entry before, after;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &query);
	CHECK_EQ(get_entry(&fx, &c, &before), 0);
	xdp_in(&fx, &spoofed);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMP_ERROR_SPOOFED), 1);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	CHECK_EQ(get_entry(&fx, &c, &after), 0);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	fixture_teardown(&fx);
}

/* ---- Malformed and untrackable packets ---- */

/*
 * Each of these goes through XDP and TC ingress: both must let it pass,
 * count it once under its reason and under its stat, and create nothing.
 */
struct bad_packet {
	struct packet pk;
	enum xct_reason reason;
	int stat; /* XCT_S_INVALID, XCT_S_UNTRACKED, or -1 for none */
};

static void check_bad_packet(const struct bad_packet *b)
{
	struct fixture fx;
	__u64 runs = 2;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &b->pk);
	/* The kernel's test run will not build an skb whose IP header is cut
	 * short, so such a frame only goes through XDP. */
	if (b->pk.len >= b->pk.l3_off + 20)
		tc_in(&fx, &b->pk);
	else
		runs = 1;
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), runs);
	CHECK_EQ(reason_count(&fx, b->reason), runs);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 0);
	if (b->stat >= 0)
		CHECK_EQ(counter(&fx, b->stat), runs);
	if (b->stat != XCT_S_INVALID)
		CHECK_EQ(counter(&fx, XCT_S_INVALID), 0);
	if (b->stat != XCT_S_UNTRACKED)
		CHECK_EQ(counter(&fx, XCT_S_UNTRACKED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INSERT), 0);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);
}

static struct flow tcp4(void)
{
	return make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
}

static struct flow tcp6(void)
{
	return make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 80);
}

static struct flow udp4(void)
{
	return make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
}

static struct packet tcp4_syn(void)
{
	struct flow f = tcp4();

	return tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
}

static struct packet tcp4_flags(__u8 flags)
{
	struct flow f = tcp4();

	return tcp_packet(&f, flags, CLIENT_ISN, 0, 0);
}

#define BAD_PACKET_TEST(name, reason_, stat_)                                                      \
	static struct packet make_##name(void);                                                    \
	TEST(bad_##name)                                                                           \
	{                                                                                          \
		struct bad_packet b = {make_##name(), reason_, stat_};                             \
		check_bad_packet(&b);                                                              \
	}                                                                                          \
	static struct packet make_##name(void)

BAD_PACKET_TEST(ipv4_header_cut_short, XCT_R_IPV4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	p.len = p.l3_off + 12;
	return p;
}

BAD_PACKET_TEST(ipv4_total_length_beyond_packet, XCT_R_IPV4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	put16(p.data + p.l3_off + 2, p.l3_len + 100);
	return p;
}

BAD_PACKET_TEST(ipv4_options_beyond_packet, XCT_R_IPV4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	p.data[p.l3_off] = 0x4f; /* 60-byte header in a 24-byte packet */
	p.len = p.l3_off + 24;
	return p;
}

BAD_PACKET_TEST(ipv4_header_length_below_20, XCT_R_IPV4_BAD_HEADER, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	p.data[p.l3_off] = 0x44;
	return p;
}

BAD_PACKET_TEST(ipv4_total_length_below_header, XCT_R_IPV4_BAD_HEADER, XCT_S_INVALID)
{
	struct packet p = tcp4_syn();

	put16(p.data + p.l3_off + 2, 16);
	return p;
}

BAD_PACKET_TEST(ipv4_non_first_fragment, XCT_R_FRAG_NO_FIRST, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct layout frag = {.frag_offset = 185};

	return udp_packet_layout(&f, 100, &frag);
}

BAD_PACKET_TEST(ipv6_payload_beyond_packet, XCT_R_IPV6_TRUNCATED, XCT_S_INVALID)
{
	struct flow f = tcp6();
	struct packet p = tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);

	put16(p.data + p.l3_off + 4, p.l3_len);
	return p;
}

BAD_PACKET_TEST(ipv6_exthdr_beyond_packet, XCT_R_IPV6_EXTHDR_TRUNCATED, XCT_S_INVALID)
{
	struct flow f = tcp6();
	struct layout ext = {.ipv6_dstopts = 1};
	struct packet p = tcp_packet_layout(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &ext);

	p.data[p.l3_off + 40 + 1] = 20; /* 168 bytes of options */
	return p;
}

BAD_PACKET_TEST(ipv4_tiny_first_fragment, XCT_R_FRAG_TINY, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct layout first = {.more_fragments = 1};
	__u8 seg[4];

	put16(seg, f.sport);
	put16(seg + 2, f.dport);
	return build_packet(&f, seg, sizeof(seg), &first);
}

BAD_PACKET_TEST(ipv6_first_fragment_without_its_chain, XCT_R_FRAG_TINY, XCT_S_INVALID)
{
	struct flow f = tcp6();
	struct layout first = {.ipv6_frag_hdr = 1, .more_fragments = 1};
	struct packet p = tcp_packet_layout(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &first);
	__u8 dstopts[8] = {0, 30}; /* 248 bytes, of which the fragment holds 8 */

	__u8 *ip = p.data + p.l3_off;

	/* Fragment header, then destination options running past the
	 * fragment's end. */
	insert_exthdr(&p, 60, dstopts, sizeof(dstopts));
	ip[6] = 44;
	ip[40] = 60;
	put16(ip + 42, 1); /* offset 0, more fragments */
	put32(ip + 44, 0xabcd);
	ip[48] = XCT_IPPROTO_TCP;
	ip[49] = 30;
	return p;
}

BAD_PACKET_TEST(ipv6_non_first_fragment, XCT_R_FRAG_NO_FIRST, XCT_S_INVALID)
{
	struct flow f = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 53);
	struct layout frag = {.ipv6_frag_hdr = 1, .frag_offset = 181};

	return udp_packet_layout(&f, 100, &frag);
}

BAD_PACKET_TEST(tcp_header_cut_short, XCT_R_L4_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = tcp4_flags(XCT_TCPF_ACK);

	p.len = p.l4_off + 12;
	put16(p.data + p.l3_off + 2, 20 + 12);
	return p;
}

BAD_PACKET_TEST(tcp_data_offset_below_20, XCT_R_TCP_BAD_DOFF, XCT_S_INVALID)
{
	struct packet p = tcp4_flags(XCT_TCPF_ACK);

	p.data[p.l4_off + 12] = 4 << 4;
	return p;
}

BAD_PACKET_TEST(tcp_data_offset_beyond_segment, XCT_R_TCP_BAD_DOFF, XCT_S_INVALID)
{
	struct packet p = tcp4_flags(XCT_TCPF_ACK);

	p.data[p.l4_off + 12] = 15 << 4;
	return p;
}

BAD_PACKET_TEST(tcp_syn_fin, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_SYN | XCT_TCPF_FIN);
}

BAD_PACKET_TEST(tcp_syn_rst, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_SYN | XCT_TCPF_RST);
}

BAD_PACKET_TEST(tcp_null_flags, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(0);
}

BAD_PACKET_TEST(tcp_xmas, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_FIN | XCT_TCPF_PSH | XCT_TCPF_URG);
}

BAD_PACKET_TEST(tcp_bare_fin, XCT_R_TCP_BAD_FLAGS, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_FIN);
}

BAD_PACKET_TEST(tcp_fin_ack_opens_nothing, XCT_R_TCP_INVALID_NEW, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_FIN | XCT_TCPF_ACK);
}

BAD_PACKET_TEST(tcp_synack_opens_nothing, XCT_R_TCP_INVALID_NEW, XCT_S_INVALID)
{
	return tcp4_flags(XCT_TCPF_SYN | XCT_TCPF_ACK);
}

BAD_PACKET_TEST(udp_length_below_8, XCT_R_UDP_BAD_LENGTH, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct packet p = udp_packet(&f, 20);

	put16(p.data + p.l4_off + 4, 4);
	return p;
}

BAD_PACKET_TEST(udp_length_beyond_packet, XCT_R_UDP_BAD_LENGTH, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct packet p = udp_packet(&f, 20);

	put16(p.data + p.l4_off + 4, 29);
	return p;
}

BAD_PACKET_TEST(icmp_type_unknown, XCT_R_ICMP_BAD_TYPE, XCT_S_INVALID)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 1, "10.0.0.2", 0);

	return icmp_packet(&f, 40, 0);
}

BAD_PACKET_TEST(icmp_echo_reply_opens_nothing, XCT_R_ICMP_INVALID_NEW, XCT_S_INVALID)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMP, "10.0.0.1", 1, "10.0.0.2", 0);

	return icmp_packet(&f, 0, 0);
}

BAD_PACKET_TEST(icmp_error_quote_cut_short, XCT_R_ICMP_ERROR_TRUNCATED, XCT_S_INVALID)
{
	struct flow f = udp4();
	struct packet q = udp_packet(&f, 20);
	struct packet p = icmp_error_packet("10.0.0.2", "10.0.0.1", 3, 3, &q);

	/* Only 12 bytes of the quoted IP header are left. */
	p.len = p.l4_off + 8 + 12;
	put16(p.data + p.l3_off + 2, 20 + 8 + 12);
	return p;
}

BAD_PACKET_TEST(icmpv6_neighbour_solicitation, XCT_R_ICMPV6_NEIGHBOUR, XCT_S_UNTRACKED)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMPV6, "fe80::1", 0, "ff02::1:ff00:2", 0);
	struct packet p = icmp_packet(&f, 135, 0);

	p.data[p.l3_off + 7] = 255; /* hop limit: of this link */
	return p;
}

/* The same, forwarded by a router: not neighbour discovery (RFC 4861). */
BAD_PACKET_TEST(icmpv6_neighbour_solicitation_routed, XCT_R_ICMPV6_ND_INVALID, XCT_S_INVALID)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMPV6, "fe80::1", 0, "ff02::1:ff00:2", 0);

	return icmp_packet(&f, 135, 0);
}

BAD_PACKET_TEST(vlan_three_tags, XCT_R_VLAN_TOO_DEEP, XCT_S_INVALID)
{
	struct flow f = tcp4();
	struct layout tags = {.vlan_tags = 3};

	return tcp_packet_layout(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0, &tags);
}

BAD_PACKET_TEST(vlan_tag_cut_short, XCT_R_VLAN_TRUNCATED, XCT_S_INVALID)
{
	struct packet p = {.len = 16};

	build_eth(p.data, XCT_ETH_P_IP, 1);
	put16(p.data + 12, XCT_ETH_P_8021Q);
	return p;
}

BAD_PACKET_TEST(arp_not_ip, XCT_R_NOT_IP, -1)
{
	struct packet p = {.len = 42};

	build_eth(p.data, 0x0806, 0);
	return p;
}

/* ---- TC egress and forwarded packets ---- */

TEST(tc_egress_skips_packets_forwarded_from_watched_interface)
{
	struct flow c1 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow c2 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow c3 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5002, "10.0.0.2", 53);
	struct packet p1 = udp_packet(&c1, 10), p2 = udp_packet(&c2, 10), p3 = udp_packet(&c3, 10);
	struct xct_iface iface = {.mode = XCT_MODE_NATIVE};
	__u32 watched = 7;
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.xct_ifaces), &watched, &iface,
				     BPF_ANY),
		 0);
	/* Tracked at its ingress already: not looked at again. */
	tc_out_from(&fx, &p1, watched);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 0);
	CHECK_EQ(get_entry(&fx, &c1, &e), -ENOENT);
	/* Locally sent. */
	tc_out_from(&fx, &p2, 0);
	CHECK_EQ(get_entry(&fx, &c2, &e), 0);
	/* Forwarded from an interface xct does not watch. */
	tc_out_from(&fx, &p3, watched + 1);
	CHECK_EQ(get_entry(&fx, &c3, &e), 0);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 2);
	CHECK_EQ(table_size(&fx), 2);
	fixture_teardown(&fx);
}

/* Puts ifindex in zone (0: out of every zone), as xct attach --zone does:
 * the map, and the count the datapath reads first. */
static void set_zone(struct fixture *fx, __u32 ifindex, __u16 zone)
{
	struct xct_zone_cfg cfg = {.zoned = zone ? 1 : 0};
	int fd = bpf_map__fd(fx->skel->maps.xct_zones);
	__u32 zero = 0;

	if (zone)
		CHECK_EQ(bpf_map_update_elem(fd, &ifindex, &zone, BPF_ANY), 0);
	else
		bpf_map_delete_elem(fd, &ifindex);
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(fx->skel->maps.data_xct_zone_cfg), &zero, &cfg,
				     BPF_ANY),
		 0);
}

/* The zone is part of the connection's identity: the same tuple arriving
 * on an interface of zone 7 and on one of zone 0 (a test run's skb is on
 * lo) makes two entries, each answered in its own zone, and zone 0's key
 * is the key of an xct without zones. */
TEST(zone_same_tuple_two_connections)
{
	struct flow f = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow r = reverse(&f);
	struct packet q = udp_packet(&f, 10), a = udp_packet(&r, 20);
	struct xct_ct_key key;
	struct xct_ct_entry e;
	struct fixture fx;
	__u8 side;

	if (!fixture_setup(&fx, 0))
		return;
	set_zone(&fx, 1, 7);
	tc_in(&fx, &q);
	/* Not in zone 0. */
	CHECK_EQ(get_entry(&fx, &f, &e), -ENOENT);
	flow_key(&f, &key, &side);
	key.zone = 7;
	CHECK_EQ(bpf_map_lookup_elem(fx.ct_fd, &key, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	/* The reply on the same interface finds it. */
	tc_in(&fx, &a);
	CHECK_EQ(bpf_map_lookup_elem(fx.ct_fd, &key, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK(e.status & XCT_CT_SEEN_REPLY);
	/* Zone 0: the same tuple is another connection. */
	set_zone(&fx, 1, 0);
	tc_in(&fx, &q);
	CHECK_EQ(table_size(&fx), 2);
	CHECK_EQ(get_entry(&fx, &f, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 0);
	/* Back in zone 7, an established packet (the fast path) counts
	 * against zone 7's entry only. */
	set_zone(&fx, 1, 7);
	tc_in(&fx, &q);
	CHECK_EQ(bpf_map_lookup_elem(fx.ct_fd, &key, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 2);
	CHECK_EQ(get_entry(&fx, &f, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(counter(&fx, XCT_S_FAST), 1);
	fixture_teardown(&fx);
}

/* A packet sent through an attached lo crosses its egress, then its
 * ingress: tracked once, arriving, as nf_conntrack tracks it once.  A test
 * run's skb is on lo. */
TEST(tc_egress_leaves_attached_loopback_to_its_ingress)
{
	struct flow f = make_flow(XCT_IPPROTO_UDP, "127.0.0.1", 5000, "127.0.0.1", 53);
	struct flow r = reverse(&f);
	struct packet q = udp_packet(&f, 10), a = udp_packet(&r, 20);
	struct xct_iface iface = {.mode = XCT_MODE_TC};
	__u32 lo = 1;
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	CHECK_EQ(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.xct_ifaces), &lo, &iface, BPF_ANY),
		 0);
	tc_out(&fx, &q);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 0);
	CHECK_EQ(get_entry(&fx, &f, &e), -ENOENT);
	tc_in(&fx, &q);
	tc_out(&fx, &a);
	tc_in(&fx, &a);
	CHECK_EQ(get_entry(&fx, &f, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.packets[XCT_DIR_REPLY], 1);
	CHECK_EQ(counter(&fx, XCT_S_PACKETS), 2);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2);
	fixture_teardown(&fx);
}

/* ---- The table and its collector ---- */

TEST(gc_run_deletes_expired_keeps_live)
{
	struct flow u1 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow u2 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow t = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet p1 = udp_packet(&u1, 10), p2 = udp_packet(&u2, 10);
	struct xct_ctl_msg m;
	struct xct_gc gc;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p1);
	xdp_in(&fx, &p2);
	tcp_handshake(&fx, &t);
	CHECK_EQ(table_size(&fx), 3);

	m = gc_run(&fx);
	CHECK_EQ(m.seen, 3);
	CHECK_EQ(m.deleted, 0);
	CHECK_EQ(m.early_dropped, 0);

	advance(&fx, SEC_NS(30));
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 3);
	CHECK_EQ(m.deleted, 2);
	CHECK_EQ(m.early_dropped, 0);
	CHECK_EQ(table_size(&fx), 1);
	CHECK(has_live_entry(&fx, &t));
	CHECK_EQ(counter(&fx, XCT_S_GC_RUNS), 2);
	CHECK_EQ(counter(&fx, XCT_S_EXPIRED), 2);
	gc = read_gc(&fx);
	CHECK_EQ(gc.last_run_ns, now_ns(&fx));
	CHECK_EQ(gc.last_seen, 3);
	CHECK_EQ(gc.last_deleted, 2);
	/* Timed with the real clock: both sweeps took some time. */
	CHECK(gc.last_duration_ns > 0);
	CHECK(gc.duration_ns > gc.last_duration_ns);

	/* A flow that was deleted starts over as a new connection. */
	xdp_in(&fx, &p1);
	CHECK(has_live_entry(&fx, &u1));
	CHECK_EQ(table_size(&fx), 2);
	fixture_teardown(&fx);
}

TEST(ctl_rejects_unknown_command)
{
	struct xct_ctl_msg m;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	m = ctl(&fx, 99);
	CHECK_EQ(m.ret, -EINVAL);
	fixture_teardown(&fx);
}

/* A TCP handshake through XDP alone, as the resized datapaths have no TC
 * programs: both directions come in by the same hook. */
static void xdp_handshake(struct fixture *fx, const struct flow *c)
{
	struct flow s = reverse(c);
	struct packet syn = tcp_packet(c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet synack =
		tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct packet ack = tcp_packet(c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);

	xdp_in(fx, &syn);
	xdp_in(fx, &synack);
	xdp_in(fx, &ack);
}

static void udp_in(struct fixture *fx, const struct flow *f)
{
	struct packet p = udp_packet(f, 10);

	xdp_in(fx, &p);
}

TEST(table_full_evicts_oldest_unreplied)
{
	struct flow flows[6];
	struct xct_ct_entry e;
	struct fixture fx;
	int i;

	if (!fixture_setup(&fx, 4))
		return;
	for (i = 0; i < 6; i++)
		flows[i] = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000 + i, "10.0.0.2", 53);
	for (i = 0; i < 5; i++) {
		udp_in(&fx, &flows[i]);
		advance(&fx, 1000);
	}
	/* The fifth made room by evicting the first, at once. */
	CHECK_EQ(table_size(&fx), 4);
	CHECK_EQ(get_entry(&fx, &flows[0], &e), -ENOENT);
	for (i = 1; i < 5; i++)
		CHECK(has_live_entry(&fx, &flows[i]));
	CHECK_EQ(counter(&fx, XCT_S_INSERT), 5);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP), 1);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_UNREPLIED), 1);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_REPLIED), 0);
	CHECK_EQ(counter(&fx, XCT_S_INSERT_FAILED), 0);
	CHECK_EQ(counter(&fx, XCT_S_DROP), 0);
	CHECK_EQ(reason_count(&fx, XCT_R_TABLE_FULL), 0);
	/* No need to wake the GC. */
	CHECK_EQ(read_gc(&fx).pressure, 0);

	udp_in(&fx, &flows[5]);
	CHECK_EQ(get_entry(&fx, &flows[1], &e), -ENOENT);
	CHECK(has_live_entry(&fx, &flows[5]));
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_UNREPLIED), 2);
	fixture_teardown(&fx);
}

TEST(table_full_evicts_unreplied_then_replied_never_assured)
{
	struct flow a1 = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow a2 = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40001, "10.0.0.2", 80);
	struct flow half = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40002, "10.0.0.2", 80);
	struct flow half_r = reverse(&half);
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow n1 = make_flow(XCT_IPPROTO_UDP, "10.0.0.3", 5000, "10.0.0.2", 53);
	struct flow n2 = make_flow(XCT_IPPROTO_UDP, "10.0.0.4", 5000, "10.0.0.2", 53);
	struct flow n2_r = reverse(&n2);
	struct flow n3 = make_flow(XCT_IPPROTO_UDP, "10.0.0.5", 5000, "10.0.0.2", 53);
	struct packet syn = tcp_packet(&half, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet synack =
		tcp_packet(&half_r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 4))
		return;
	/* Oldest first: two established connections, a handshake that saw
	 * its SYN/ACK, an unanswered UDP flow. */
	xdp_handshake(&fx, &a1);
	xdp_handshake(&fx, &a2);
	xdp_in(&fx, &syn);
	xdp_in(&fx, &synack);
	udp_in(&fx, &u);
	CHECK_EQ(get_entry(&fx, &half, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_RECV);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	CHECK_EQ(table_size(&fx), 4);

	/* The unreplied flow goes, though the handshake is older: the
	 * handshake moves to the ring's head. */
	advance(&fx, SEC_NS(1));
	udp_in(&fx, &n1);
	CHECK_EQ(get_entry(&fx, &u, &e), -ENOENT);
	CHECK(has_live_entry(&fx, &half));
	CHECK(has_live_entry(&fx, &n1));

	/* So does a newer unreplied one. */
	udp_in(&fx, &n2);
	CHECK_EQ(get_entry(&fx, &n1, &e), -ENOENT);
	CHECK(has_live_entry(&fx, &half));
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_UNREPLIED), 2);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_REPLIED), 0);

	/* Once every unassured entry saw a reply, the first met (the
	 * handshake) moves to the head again and the second goes. */
	udp_in(&fx, &n2_r);
	CHECK_EQ(get_entry(&fx, &n2, &e), 0);
	CHECK_EQ(e.status, XCT_CT_SEEN_REPLY);
	udp_in(&fx, &n3);
	CHECK_EQ(get_entry(&fx, &n2, &e), -ENOENT);
	CHECK(has_live_entry(&fx, &half));
	CHECK(has_live_entry(&fx, &n3));
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_REPLIED), 1);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP), 3);
	CHECK_EQ(counter(&fx, XCT_S_INSERT_FAILED), 0);

	/* The established connections were never touched. */
	CHECK_EQ(get_entry(&fx, &a1, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK(entry_alive(&fx, &e));
	CHECK_EQ(get_entry(&fx, &a2, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK(entry_alive(&fx, &e));
	CHECK_EQ(table_size(&fx), 4);
	fixture_teardown(&fx);
}

/* A UDP exchange younger than 2 s: SEEN_REPLY, not ASSURED. */
static void udp_replied(struct fixture *fx, const struct flow *f)
{
	struct flow r = reverse(f);

	udp_in(fx, f);
	udp_in(fx, &r);
}

TEST(table_full_gives_replied_entries_a_second_chance)
{
	struct flow r1 = make_flow(XCT_IPPROTO_UDP, "10.0.1.1", 5000, "10.0.0.2", 53);
	struct flow u1 = make_flow(XCT_IPPROTO_UDP, "10.0.1.2", 5000, "10.0.0.2", 53);
	struct flow r2 = make_flow(XCT_IPPROTO_UDP, "10.0.1.3", 5000, "10.0.0.2", 53);
	struct flow r3 = make_flow(XCT_IPPROTO_UDP, "10.0.1.4", 5000, "10.0.0.2", 53);
	struct flow n1 = make_flow(XCT_IPPROTO_UDP, "10.0.2.1", 5000, "10.0.0.2", 53);
	struct flow n2 = make_flow(XCT_IPPROTO_UDP, "10.0.2.2", 5000, "10.0.0.2", 53);
	struct flow n3 = make_flow(XCT_IPPROTO_UDP, "10.0.2.3", 5000, "10.0.0.2", 53);
	struct xct_ct_recent_pos pos;
	struct xct_ct_entry e;
	struct fixture fx;
	__u32 zero = 0;

	if (!fixture_setup(&fx, 4))
		return;
	udp_replied(&fx, &r1);
	udp_in(&fx, &u1);
	udp_replied(&fx, &r2);
	udp_replied(&fx, &r3);

	/* r1, the oldest, saw a reply: it moves to the head, and the
	 * unreplied u1 goes. */
	udp_in(&fx, &n1);
	CHECK_EQ(get_entry(&fx, &u1, &e), -ENOENT);
	CHECK(has_live_entry(&fx, &r1));
	CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.xct_ct_recent_pos), &zero, &pos), 0);
	CHECK_EQ(pos.tail, 2);
	CHECK_EQ(pos.head, 6); /* four, r1 again, n1 */

	/* The ring is r2, r3, r1, n1: r2 moves, r3 is the second replied
	 * entry met and goes. */
	udp_in(&fx, &n2);
	CHECK_EQ(get_entry(&fx, &r3, &e), -ENOENT);
	CHECK(has_live_entry(&fx, &r1));
	CHECK(has_live_entry(&fx, &r2));
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_REPLIED), 1);

	/* Now r1, n1, r2, n2: r1 moves again and n1, newer but unreplied,
	 * goes. */
	udp_in(&fx, &n3);
	CHECK_EQ(get_entry(&fx, &n1, &e), -ENOENT);
	CHECK(has_live_entry(&fx, &r1));
	CHECK(has_live_entry(&fx, &r2));
	CHECK(has_live_entry(&fx, &n2));
	CHECK(has_live_entry(&fx, &n3));
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_UNREPLIED), 2);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP_REPLIED), 1);
	CHECK_EQ(counter(&fx, XCT_S_INSERT_FAILED), 0);
	fixture_teardown(&fx);
}

TEST(table_full_of_assured_drops_new_flow)
{
	struct flow a[4], n = make_flow(XCT_IPPROTO_UDP, "10.0.0.9", 5000, "10.0.0.2", 53);
	struct xct_ct_entry e;
	struct xct_ctl_msg m;
	struct fixture fx;
	int i;

	if (!fixture_setup(&fx, 4))
		return;
	for (i = 0; i < 4; i++) {
		a[i] = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000 + i, "10.0.0.2", 80);
		xdp_handshake(&fx, &a[i]);
	}
	udp_in(&fx, &n);
	CHECK_EQ(get_entry(&fx, &n, &e), -ENOENT);
	CHECK_EQ(counter(&fx, XCT_S_INSERT_FAILED), 1);
	CHECK_EQ(counter(&fx, XCT_S_DROP), 1);
	CHECK_EQ(reason_count(&fx, XCT_R_TABLE_FULL), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1); /* for the policy */
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP), 0);
	for (i = 0; i < 4; i++)
		CHECK(has_live_entry(&fx, &a[i]));

	/* Nothing to evict: the GC was asked for room, and even under
	 * pressure it keeps established connections. */
	CHECK_EQ(read_gc(&fx).pressure, 1);
	m = gc_run(&fx);
	CHECK_EQ(m.early_dropped, 0);
	CHECK_EQ(m.deleted, 0);
	for (i = 0; i < 4; i++)
		CHECK(has_live_entry(&fx, &a[i]));
	fixture_teardown(&fx);
}

TEST(table_full_reclaims_dead_entries_first)
{
	struct flow flows[5];
	struct xct_ct_entry e;
	struct fixture fx;
	int i;

	if (!fixture_setup(&fx, 4))
		return;
	for (i = 0; i < 5; i++)
		flows[i] = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 6000 + i, "10.0.0.2", 53);
	for (i = 0; i < 4; i++)
		udp_in(&fx, &flows[i]);
	/* All four expire; no GC has run. */
	advance(&fx, SEC_NS(XCT_UDP_TIMEOUT_UNREPLIED));
	udp_in(&fx, &flows[4]);
	CHECK(has_live_entry(&fx, &flows[4]));
	CHECK_EQ(get_entry(&fx, &flows[0], &e), -ENOENT);
	CHECK_EQ(table_size(&fx), 4);
	CHECK_EQ(counter(&fx, XCT_S_EXPIRED), 1);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP), 0);
	CHECK_EQ(counter(&fx, XCT_S_INSERT_FAILED), 0);
	fixture_teardown(&fx);
}

TEST(gc_leaves_entries_claimed_by_another)
{
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct xct_ct_entry e;
	struct xct_ct_key key;
	struct xct_ctl_msg m;
	struct fixture fx;
	__u8 side;

	if (!fixture_setup(&fx, 0))
		return;
	udp_in(&fx, &u);
	CHECK_EQ(get_entry(&fx, &u, &e), 0);
	/* As an insert making room leaves it between its claim and its
	 * delete: only the claimant deletes it. */
	e.status |= XCT_CT_DYING;
	flow_key(&u, &key, &side);
	CHECK_EQ(bpf_map_update_elem(fx.ct_fd, &key, &e, BPF_EXIST), 0);
	set_gc_pressure(&fx, 1);
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 1);
	CHECK_EQ(m.deleted + m.early_dropped, 0);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

TEST(gc_pressure_early_drops_only_unassured_or_closing)
{
	struct flow est = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow closing = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40001, "10.0.0.2", 80);
	struct flow syn_sent = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40002, "10.0.0.2", 80);
	struct flow udp_new = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow udp_stream = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow udp_stream_r = reverse(&udp_stream);
	struct packet syn = tcp_packet(&syn_sent, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet u1 = udp_packet(&udp_new, 10);
	struct packet s1 = udp_packet(&udp_stream, 10), s2 = udp_packet(&udp_stream_r, 10);
	struct xct_ct_entry e;
	struct xct_ctl_msg m;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &est);
	tcp_close_to(&fx, &closing, XCT_TCP_FIN_WAIT);
	xdp_in(&fx, &syn);
	xdp_in(&fx, &u1);
	xdp_in(&fx, &s1);
	advance(&fx, SEC_NS(3));
	tc_out(&fx, &s2);
	xdp_in(&fx, &s1); /* SEEN_REPLY already, past 2 s: a stream */
	CHECK_EQ(get_entry(&fx, &udp_stream, &e), 0);
	CHECK_EQ(e.status & XCT_CT_ASSURED, XCT_CT_ASSURED);
	CHECK_EQ(get_entry(&fx, &closing, &e), 0);
	CHECK_EQ(e.status & XCT_CT_ASSURED, XCT_CT_ASSURED);
	CHECK_EQ(table_size(&fx), 5);

	/* Without pressure nothing live goes. */
	m = gc_run(&fx);
	CHECK_EQ(m.deleted + m.early_dropped, 0);

	set_gc_pressure(&fx, 1);
	m = gc_run(&fx);
	CHECK_EQ(m.seen, 5);
	CHECK_EQ(m.deleted, 0);
	CHECK_EQ(m.early_dropped, 3);
	CHECK_EQ(counter(&fx, XCT_S_EARLY_DROP), 3);
	CHECK_EQ(counter(&fx, XCT_S_EXPIRED), 0);
	CHECK(has_live_entry(&fx, &est));
	CHECK(has_live_entry(&fx, &udp_stream));
	CHECK_EQ(get_entry(&fx, &closing, &e), -ENOENT);
	CHECK_EQ(get_entry(&fx, &syn_sent, &e), -ENOENT);
	CHECK_EQ(get_entry(&fx, &udp_new, &e), -ENOENT);
	CHECK_EQ(read_gc(&fx).pressure, 0);
	CHECK_EQ(read_gc(&fx).interval_ns, XCT_GC_INTERVAL_MIN_NS);
	fixture_teardown(&fx);
}

/* ---- Reading per-CPU maps ---- */

/* Every command's totals (ct stats, metrics, rules show) go through
 * xct_percpu_sum(): each word is summed over every possible CPU. */
TEST(percpu_sum_adds_each_word_over_every_cpu)
{
	int ncpus = libbpf_num_possible_cpus(), fd, cpu;
	__u64 vals[2 * ncpus], sum[2] = {7, 7}, want0 = 0, want1 = 0;
	__u32 key = 1;

	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "percpu_sum", sizeof(__u32), sizeof(sum), 2,
			    NULL);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	for (cpu = 0; cpu < ncpus; cpu++) {
		vals[2 * cpu] = (__u64)cpu + 1;
		vals[2 * cpu + 1] = 1000ull * (__u64)(cpu + 1) << 32;
		want0 += vals[2 * cpu];
		want1 += vals[2 * cpu + 1];
	}
	CHECK_EQ(bpf_map_update_elem(fd, &key, vals, BPF_ANY), 0);
	CHECK_EQ(xct_percpu_sum(fd, key, sum, 2), 0);
	CHECK_EQ(sum[0], want0);
	CHECK_EQ(sum[1], want1);
	/* The other element is zero on every CPU. */
	key = 0;
	CHECK_EQ(xct_percpu_sum(fd, key, sum, 2), 0);
	CHECK_EQ(sum[0], 0);
	CHECK_EQ(sum[1], 0);
	/* Past the end: an error, and no stale totals. */
	key = 2;
	sum[0] = sum[1] = 7;
	CHECK_EQ(xct_percpu_sum(fd, key, sum, 2), -ENOENT);
	CHECK_EQ(sum[0], 0);
	CHECK_EQ(sum[1], 0);
	close(fd);
}

int main(int argc, char **argv)
{
	atexit(datapaths_destroy);
	return check_main(argc, argv);
}
