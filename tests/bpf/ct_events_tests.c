// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connection events from the compiled datapath: the events a handshake and
 * a close send (NEW, then an UPDATE for each TCP state and status change,
 * none for packets that change neither), DESTROY from the GC (expired,
 * early drop), from the control program's delete and flush, and when a new
 * connection takes over an old one's tuple; none for a connection the
 * policy refused; none at all while no reader is subscribed; and a full
 * ring counted in ct_events_lost.  Each event is checked field by field
 * against the entry it announces.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "rules/install.h"
#include "xct.h"

#define MAX_EVENTS 64

static __u32 ifindex_of(const char *name, void *ctx)
{
	return if_nametoindex(name);
}

static int load_rules(struct fixture *fx, const char *text)
{
	struct xct_rules_error err;
	int ret;

	xct_opts.pin_path = fx->pin_dir;
	ret = xct_policy_load_text("test.rules", text, ifindex_of, NULL, &err);
	if (ret)
		CHECK_FAIL("cannot install the rules: %d", ret);
	return ret;
}

/* The event is of this type, about this flow's entry, in this state. */
static void check_event(const struct xct_ct_event *ev, __u8 type, __u8 end, const struct flow *f,
			__u8 state, __u16 status, __u64 time_ns)
{
	struct xct_ct_key key;
	__u8 side;

	flow_key(f, &key, &side);
	CHECK_EQ(ev->type, type);
	CHECK_EQ(ev->end, end);
	CHECK_EQ(ev->state, state);
	CHECK_EQ(ev->status, status);
	CHECK_EQ(ev->orig_side, side);
	CHECK_EQ(ev->time_ns, time_ns);
	CHECK(memcmp(&ev->key, &key, sizeof(key)) == 0);
}

/* The event carries the entry's counters and times. */
static void check_event_entry(const struct xct_ct_event *ev, const struct xct_ct_entry *e)
{
	CHECK_EQ(ev->packets[0], e->packets[0]);
	CHECK_EQ(ev->packets[1], e->packets[1]);
	CHECK_EQ(ev->bytes[0], e->bytes[0]);
	CHECK_EQ(ev->bytes[1], e->bytes[1]);
	CHECK_EQ(ev->first_seen_ns, e->first_seen_ns);
	CHECK_EQ(ev->last_seen_ns, e->last_seen_ns);
	CHECK_EQ(ev->expires_ns, e->expires_ns);
	CHECK_EQ(ev->seq, e->seq);
}

static struct xct_ctl_ct_msg ctl_delete(struct fixture *fx, const struct flow *f)
{
	struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE}, out = {.hdr.ret = -1};
	__u8 side;

	flow_key(f, &m.key, &side);
	CHECK_EQ(run_prog(fx->skel->progs.xct_ctl, &m, sizeof(m), NULL, &out, sizeof(out)),
		 XDP_PASS);
	return out;
}

TEST(ct_events_tcp_lifetime_new_updates_destroy)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet data =
		tcp_packet(&c, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
	struct packet fin =
		tcp_packet(&c, XCT_TCPF_FIN | XCT_TCPF_ACK, CLIENT_ISN + 101, SERVER_ISN + 1, 0);
	struct packet fin_ack = tcp_packet(&s, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 102, 0);
	struct packet server_fin =
		tcp_packet(&s, XCT_TCPF_FIN | XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 102, 0);
	struct packet last_ack = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 102, SERVER_ISN + 2, 0);
	const __u16 sr = XCT_CT_SEEN_REPLY, as = XCT_CT_SEEN_REPLY | XCT_CT_ASSURED;
	struct xct_ct_event ev[MAX_EVENTS];
	struct xct_ct_entry e, gone;
	struct xct_ctl_ct_msg m;
	struct fixture fx;
	__u64 t0;

	if (!fixture_setup(&fx, 0))
		return;
	ct_events_subscribe(&fx);
	t0 = now_ns(&fx);
	tcp_handshake(&fx, &c);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 3);
	check_event(&ev[0], XCT_CTE_NEW, 0, &c, XCT_TCP_SYN_SENT, 0, t0);
	CHECK_EQ(ev[0].packets[0], 1);
	CHECK_EQ(ev[0].expires_ns, t0 + SEC_NS(120));
	check_event(&ev[1], XCT_CTE_UPDATE, 0, &c, XCT_TCP_SYN_RECV, sr, t0);
	check_event(&ev[2], XCT_CTE_UPDATE, 0, &c, XCT_TCP_ESTABLISHED, as, t0);
	CHECK(ev[0].seq < ev[1].seq && ev[1].seq < ev[2].seq);
	/* The window scales, known once both SYNs have been seen: what an HA
	 * peer is sent (NTA_TCP_WSCALE_*). */
	CHECK_EQ(ev[0].wscale[XCT_DIR_ORIGINAL], 0);
	CHECK_EQ(ev[0].wscale[XCT_DIR_REPLY], 0);
	CHECK_EQ(ev[1].wscale[XCT_DIR_ORIGINAL], TCP_WSCALE | XCT_CTE_WSCALE_KNOWN);
	CHECK_EQ(ev[2].wscale[XCT_DIR_ORIGINAL], TCP_WSCALE | XCT_CTE_WSCALE_KNOWN);
	CHECK_EQ(ev[2].wscale[XCT_DIR_REPLY], TCP_WSCALE | XCT_CTE_WSCALE_KNOWN);

	/* Data changes neither the state nor the status: no event. */
	advance(&fx, SEC_NS(1));
	ct_events_subscribe(&fx);
	xdp_in(&fx, &data);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 0);

	xdp_in(&fx, &fin);
	tc_out(&fx, &fin_ack);
	tc_out(&fx, &server_fin);
	xdp_in(&fx, &last_ack);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 4);
	check_event(&ev[0], XCT_CTE_UPDATE, 0, &c, XCT_TCP_FIN_WAIT, as, t0 + SEC_NS(1));
	check_event(&ev[1], XCT_CTE_UPDATE, 0, &c, XCT_TCP_CLOSE_WAIT, as, t0 + SEC_NS(1));
	check_event(&ev[2], XCT_CTE_UPDATE, 0, &c, XCT_TCP_LAST_ACK, as, t0 + SEC_NS(1));
	check_event(&ev[3], XCT_CTE_UPDATE, 0, &c, XCT_TCP_TIME_WAIT, as, t0 + SEC_NS(1));
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	check_event_entry(&ev[3], &e);

	/* The last ACK again, in TIME_WAIT: it changes nothing, so nothing
	 * is announced (conntrack -E shows TIME_WAIT once). */
	xdp_in(&fx, &last_ack);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 0);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);

	/* xct ct delete: the DESTROY has the whole connection's counters. */
	advance(&fx, SEC_NS(2));
	ct_events_subscribe(&fx);
	m = ctl_delete(&fx, &c);
	CHECK_EQ(m.hdr.ret, 0);
	CHECK_EQ(get_entry(&fx, &c, &gone), -ENOENT);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 1);
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_DELETED, &c, XCT_TCP_TIME_WAIT, as,
		    t0 + SEC_NS(3));
	CHECK_EQ(ev[0].packets[0], 6);
	CHECK_EQ(ev[0].packets[1], 3);
	CHECK_EQ(ev[0].bytes[0], e.bytes[0]);
	CHECK_EQ(ev[0].bytes[1], e.bytes[1]);
	CHECK_EQ(ev[0].first_seen_ns, t0);
	CHECK_EQ(ev[0].last_seen_ns, t0 + SEC_NS(1));
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS), 8);
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS_LOST), 0);

	/* Deleting it again finds nothing, and says nothing. */
	CHECK_EQ(ctl_delete(&fx, &c).hdr.ret, -ENOENT);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 0);
	fixture_teardown(&fx);
}

TEST(ct_events_none_without_reader)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet up = udp_packet(&u, 10);
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	xdp_in(&fx, &up);
	CHECK_EQ(ctl_delete(&fx, &c).hdr.ret, 0);
	advance(&fx, SEC_NS(31));
	CHECK_EQ(gc_run(&fx).deleted, 1);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 0);
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS), 0);
	/* But each is counted: TCP's NEW, SYN_RECV, ESTABLISHED and DESTROY,
	 * UDP's NEW and DESTROY. */
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS_NO_READER), 6);

	/* A reader that stopped refreshing its subscription is gone after
	 * XCT_SUB_TTL_NS: the new flow's NEW is not built, and counted. */
	ct_events_subscribe(&fx);
	advance(&fx, XCT_SUB_TTL_NS);
	xdp_in(&fx, &up);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 0);
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS_NO_READER), 7);
	/* A packet that announces nothing counts nothing. */
	xdp_in(&fx, &up);
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS_NO_READER), 7);
	fixture_teardown(&fx);
}

TEST(ct_events_gc_destroys_expired_and_early_dropped)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct packet pa = udp_packet(&a, 10), pb = udp_packet(&b, 20);
	struct xct_ct_event ev[MAX_EVENTS];
	struct xct_ct_entry e;
	struct fixture fx;
	__u64 t0 = T0;

	if (!fixture_setup(&fx, 0))
		return;
	ct_events_subscribe(&fx);
	xdp_in(&fx, &pa);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 1);
	check_event(&ev[0], XCT_CTE_NEW, 0, &a, 0, 0, t0);
	CHECK_EQ(get_entry(&fx, &a, &e), 0);
	check_event_entry(&ev[0], &e);

	/* Expired 30 s later; the GC finds it at 40 s: DESTROY at 40 s,
	 * with the entry as it was. */
	advance(&fx, SEC_NS(20));
	ct_events_subscribe(&fx);
	xdp_in(&fx, &pb);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 1);
	advance(&fx, SEC_NS(20));
	ct_events_subscribe(&fx);
	CHECK_EQ(gc_run(&fx).deleted, 1);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 1);
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &a, 0, 0, t0 + SEC_NS(40));
	check_event_entry(&ev[0], &e);

	/* Under pressure the unassured b goes too. */
	set_gc_pressure(&fx, 1);
	CHECK_EQ(gc_run(&fx).early_dropped, 1);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 1);
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_EARLY_DROP, &b, 0, 0, t0 + SEC_NS(40));
	CHECK_EQ(ev[0].bytes[0], pb.l3_len);
	fixture_teardown(&fx);
}

/* A full table: the insert that evicts an unreplied entry to make room
 * announces its DESTROY as an early drop, then the newcomer's NEW. */
TEST(ct_events_eviction_destroys_the_victim)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5002, "10.0.0.2", 53);
	struct packet pa = udp_packet(&a, 10), pb = udp_packet(&b, 20), pc = udp_packet(&c, 30);
	struct xct_ct_event ev[MAX_EVENTS];
	struct xct_ct_entry e;
	struct fixture fx;
	__u64 t0 = T0;

	if (!fixture_setup(&fx, 2))
		return;
	ct_events_subscribe(&fx);
	xdp_in(&fx, &pa);
	advance(&fx, SEC_NS(1));
	xdp_in(&fx, &pb);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 2);
	advance(&fx, SEC_NS(1));
	xdp_in(&fx, &pc);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 2);
	/* a, the oldest unreplied, went. */
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_EARLY_DROP, &a, 0, 0, t0 + SEC_NS(2));
	CHECK_EQ(ev[0].packets[0], 1);
	CHECK_EQ(ev[0].bytes[0], pa.l3_len);
	CHECK_EQ(ev[0].first_seen_ns, t0);
	check_event(&ev[1], XCT_CTE_NEW, 0, &c, 0, 0, t0 + SEC_NS(2));
	CHECK(get_entry(&fx, &a, &e) != 0);
	CHECK_EQ(get_entry(&fx, &b, &e), 0);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	fixture_teardown(&fx);
}

TEST(ct_events_flush_destroys_every_connection)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct packet pa = udp_packet(&a, 10), pb = udp_packet(&b, 20);
	struct xct_ct_event ev[MAX_EVENTS];
	struct xct_ctl_msg m;
	struct fixture fx;
	int i, seen_a = 0, seen_b = 0;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &pa);
	xdp_in(&fx, &pb);
	ct_events_subscribe(&fx);
	m = ctl(&fx, XCT_CTL_CT_FLUSH);
	CHECK_EQ(m.ret, 0);
	CHECK_EQ(m.deleted, 2);
	CHECK_EQ(table_size(&fx), 0);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 2);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(ev[i].type, XCT_CTE_DESTROY);
		CHECK_EQ(ev[i].end, XCT_CTE_END_DELETED);
		seen_a += ev[i].bytes[0] == pa.l3_len;
		seen_b += ev[i].bytes[0] == pb.l3_len;
	}
	CHECK_EQ(seen_a, 1);
	CHECK_EQ(seen_b, 1);
	fixture_teardown(&fx);
}

TEST(ct_events_reused_tuple_destroys_the_old_connection_first)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct packet p1 = udp_packet(&a, 10), p2 = udp_packet(&a, 30);
	struct xct_ct_event ev[MAX_EVENTS];
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	xdp_in(&fx, &p1);
	xdp_in(&fx, &p1);
	advance(&fx, SEC_NS(31));
	ct_events_subscribe(&fx);
	xdp_in(&fx, &p2);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 2);
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_REUSED, &a, 0, 0, T0 + SEC_NS(31));
	CHECK_EQ(ev[0].packets[0], 2);
	CHECK_EQ(ev[0].bytes[0], 2 * p1.l3_len);
	CHECK_EQ(ev[0].first_seen_ns, T0);
	check_event(&ev[1], XCT_CTE_NEW, 0, &a, 0, 0, T0 + SEC_NS(31));
	CHECK_EQ(ev[1].packets[0], 1);
	CHECK_EQ(ev[1].bytes[0], p2.l3_len);
	CHECK_EQ(ev[1].first_seen_ns, T0 + SEC_NS(31));

	/* The GC has nothing more to say about the old one. */
	CHECK_EQ(gc_run(&fx).deleted, 0);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 0);
	fixture_teardown(&fx);
}

TEST(ct_events_expired_entry_cleared_by_a_packet_ends_its_connection)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet rst = tcp_packet(&c, XCT_TCPF_RST, CLIENT_ISN + 1, 0, 0);
	struct xct_ct_event ev[MAX_EVENTS];
	struct xct_ct_entry e;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	tcp_handshake(&fx, &c);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	/* Expired; then an RST, which cannot open a connection, meets the
	 * entry and clears it: the old connection's DESTROY, no UPDATE. */
	advance(&fx, SEC_NS(432001));
	ct_events_subscribe(&fx);
	xdp_in(&fx, &rst);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 1);
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_EXPIRED, &c, XCT_TCP_ESTABLISHED,
		    XCT_CT_SEEN_REPLY | XCT_CT_ASSURED, T0 + SEC_NS(432001));
	check_event_entry(&ev[0], &e);
	/* Nothing more about it from the GC. */
	CHECK_EQ(gc_run(&fx).deleted, 1);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 0);
	fixture_teardown(&fx);
}

TEST(ct_events_rst_answering_syn_gives_only_a_destroy_at_once)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow s = reverse(&c);
	struct packet syn = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	struct packet rst = tcp_packet(&s, XCT_TCPF_RST | XCT_TCPF_ACK, 0, CLIENT_ISN + 1, 0);
	struct xct_ct_event ev[MAX_EVENTS];
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	ct_events_subscribe(&fx);
	xdp_in(&fx, &syn);
	advance(&fx, SEC_NS(1) / 1000);
	/* Refused: the RST kills the connection before its reply counts, so
	 * no UPDATE, and at once a DESTROY that says [UNREPLIED] and shows
	 * the time the SYN had left, as conntrack -E. */
	tc_out(&fx, &rst);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 2);
	check_event(&ev[0], XCT_CTE_NEW, 0, &c, XCT_TCP_SYN_SENT, 0, T0);
	check_event(&ev[1], XCT_CTE_DESTROY, XCT_CTE_END_KILLED, &c, XCT_TCP_CLOSE, 0,
		    T0 + SEC_NS(1) / 1000);
	CHECK_EQ(ev[1].expires_ns, T0 + SEC_NS(120));
	CHECK_EQ(ev[1].packets[0], 1);
	CHECK_EQ(ev[1].packets[1], 1);
	/* The GC frees the entry without a second DESTROY. */
	advance(&fx, SEC_NS(1));
	ct_events_subscribe(&fx);
	CHECK_EQ(gc_run(&fx).deleted, 1);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 0);
	fixture_teardown(&fx);
}

TEST(ct_events_refused_connection_is_never_announced)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 54);
	struct packet pa = udp_packet(&a, 10), pb = udp_packet(&b, 10);
	struct xct_ct_event ev[MAX_EVENTS];
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	/* An old connection on a's tuple, expired; then the policy refuses
	 * new ones: a's old connection still ends (DESTROY), no NEW for the
	 * refused one, nothing for b, and no DESTROY later from the GC. */
	xdp_in(&fx, &pa);
	advance(&fx, SEC_NS(31));
	if (load_rules(&fx, "drop ct state new\n"))
		goto out;
	ct_events_subscribe(&fx);
	CHECK_EQ(run_prog(fx.skel->progs.xct_xdp, pa.data, pa.len, NULL, NULL, 0), XDP_DROP);
	CHECK_EQ(run_prog(fx.skel->progs.xct_xdp, pb.data, pb.len, NULL, NULL, 0), XDP_DROP);
	CHECK_EQ(ct_events_read(&fx, ev, MAX_EVENTS), 1);
	check_event(&ev[0], XCT_CTE_DESTROY, XCT_CTE_END_REUSED, &a, 0, 0, T0 + SEC_NS(31));
	CHECK_EQ(gc_run(&fx).deleted, 1);
	CHECK_EQ(ct_events_read(&fx, NULL, 0), 0);
out:
	fixture_teardown(&fx);
}

TEST(ct_events_full_ring_counts_lost_events)
{
	struct xct_ct_event ev;
	struct fixture fx;
	__u32 ring, i, n;
	int got;

	if (!fixture_setup(&fx, 0))
		return;
	ring = bpf_map__max_entries(fx.skel->maps.xct_ct_events);
	/* Each record takes its 8-byte header and the event. */
	n = ring / (sizeof(ev) + 8) + 100;
	ct_events_subscribe(&fx);
	for (i = 0; i < n; i++) {
		char dst[16];
		struct flow f;
		struct packet p;

		/* A new connection each: 60,000 source ports a destination. */
		snprintf(dst, sizeof(dst), "10.0.%u.%u", 1 + i / 60000 / 250, 2 + i / 60000 % 250);
		f = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", (__u16)(1000 + i % 60000), dst, 53);
		p = udp_packet(&f, 10);

		xdp_in(&fx, &p);
	}
	/* The ring keeps one byte free between producer and consumer: it
	 * holds the records that fit in one byte less than its size. */
	got = ct_events_read(&fx, NULL, 0);
	CHECK_EQ(got, (ring - 1) / (sizeof(ev) + 8));
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS), got);
	CHECK_EQ(counter(&fx, XCT_S_CT_EVENTS_LOST), n - got);
	CHECK_EQ(table_size(&fx), n);
	fixture_teardown(&fx);
}
