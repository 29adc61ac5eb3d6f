// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_TEST_RUN tests of marks and ct status in the rules: ct mark set
 * stored in the connection's entry (what xct ct list shows), ct mark
 * matches deciding later packets, continue rules, meta mark (skb->mark) at
 * TC in and out of a run's context, the restore-mark idiom, ct status
 * bits, and the established fast path kept for rules that use none of it.
 */
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "rules/install.h"
#include "xct.h"

static __u32 m_ifindex_of(const char *name, void *ctx)
{
	return if_nametoindex(name);
}

static int m_load(struct fixture *fx, const char *text)
{
	struct xct_rules_error err;
	int ret;

	xct_opts.pin_path = fx->pin_dir;
	ret = xct_policy_load_text("marks.rules", text, m_ifindex_of, NULL, &err);
	if (ret == -EINVAL)
		CHECK_FAIL("rules refused: %u:%u: %s", err.loc.line, err.loc.col, err.msg);
	else if (ret)
		CHECK_FAIL("cannot install the rules: %s", strerror(-ret));
	return ret;
}

static int m_xdp(struct fixture *fx, const struct packet *pk)
{
	return run_prog(fx->skel->progs.xct_xdp, pk->data, pk->len, NULL, NULL, 0);
}

/* TC ingress with skb->mark = *mark; *mark is then the mark the program
 * left. */
static int m_tc_in(struct fixture *fx, const struct packet *pk, __u32 *mark)
{
	struct __sk_buff skb = {.mark = *mark}, out = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pk->data, .data_size_in = pk->len,
		    .ctx_in = &skb, .ctx_size_in = sizeof(skb), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.xct_tc_ingress), &opts);

	if (err) {
		CHECK_FAIL("test run of xct_tc_ingress: %s", strerror(-err));
		return -1000;
	}
	*mark = out.mark;
	return (int)opts.retval;
}

static __u32 ct_mark_of(struct fixture *fx, const struct flow *f)
{
	struct xct_ct_entry e;

	if (get_entry(fx, f, &e)) {
		CHECK_FAIL("no entry for the connection");
		return 0xdeadbeef;
	}
	return e.mark;
}

static struct packet m_ack(const struct flow *c)
{
	return tcp_packet(c, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN + 1, SERVER_ISN + 1, 10);
}

TEST(marks_ct_mark_set_stored_in_the_entry)
{
	struct flow a = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 22);
	struct flow b = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40001, "10.0.0.2", 80);
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || m_load(&fx, "policy drop\n"
						  "accept ct state established\n"
						  "accept tcp dport 22 ct mark set 0x10\n"
						  "accept tcp dport 80\n"))
		return;
	tcp_handshake(&fx, &a);
	tcp_handshake(&fx, &b);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x10);
	CHECK_EQ(ct_mark_of(&fx, &b), 0);
	pk = m_ack(&a);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x10);
	fixture_teardown(&fx);
}

/* Connections from one port are marked by a continue rule on their first
 * packet; later packets are dropped by the mark, as nft would. */
TEST(marks_continue_marks_then_mark_decides)
{
	struct flow a = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 5000, "10.0.0.2", 80);
	struct flow b = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 6000, "10.0.0.2", 80);
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    m_load(&fx, "policy drop\n"
			"continue tcp sport 5000 ct mark set ct mark or 0x1\n"
			"accept ct state new tcp dport 80\n"
			"drop ct mark and 0x1 == 0x1\n"
			"accept ct state established\n"))
		return;
	pk = tcp_packet(&a, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&b, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x1);
	CHECK_EQ(ct_mark_of(&fx, &b), 0);
	/* The replies leave; the clients' ACKs come back ESTABLISHED. */
	{
		struct flow ar = reverse(&a), br = reverse(&b);

		pk = tcp_packet(&ar, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
		tc_out(&fx, &pk);
		pk = tcp_packet(&br, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
		tc_out(&fx, &pk);
	}
	pk = m_ack(&a);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_DROP);
	pk = m_ack(&b);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x1);
	fixture_teardown(&fx);
}

/* Later rules see the mark an earlier continue rule set on the same
 * packet; lists and != match. */
TEST(marks_rules_see_the_mark_set_before_them)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7000, "10.0.0.2", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7001, "10.0.0.2", 53);
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7002, "10.0.0.2", 53);
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || m_load(&fx, "policy drop\n"
						  "continue udp sport 7000 ct mark set 0x2\n"
						  "continue udp sport 7001 ct mark set 0x3\n"
						  "accept ct mark { 0x2, 0x5 }\n"
						  "drop ct mark != 0x3\n"
						  "accept udp\n"))
		return;
	pk = udp_packet(&a, 10);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	pk = udp_packet(&b, 10);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	pk = udp_packet(&c, 10);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_DROP);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x2);
	CHECK_EQ(ct_mark_of(&fx, &b), 0x3);
	CHECK(!has_live_entry(&fx, &c));
	fixture_teardown(&fx);
}

/* meta mark: the skb's mark, matched and set at TC; ct mark set meta mark
 * and meta mark set ct mark (the restore-mark idiom). */
TEST(marks_meta_mark_at_tc_and_restore)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7000, "10.0.0.2", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7001, "10.0.0.2", 53);
	struct flow d = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7002, "10.0.0.2", 53);
	struct flow ar = reverse(&a);
	struct fixture fx;
	struct packet pk;
	__u32 mark;

	if (!fixture_setup(&fx, 0) ||
	    m_load(&fx, "policy drop\n"
			"drop meta mark 0x66\n"
			"accept ct state new meta mark 0x9 ct mark set meta mark\n"
			"accept ct state established meta mark set ct mark and 0xff\n"
			"accept ct state new udp sport 7001 meta mark set meta mark or 0x100\n"))
		return;
	mark = 0x9;
	pk = udp_packet(&a, 10);
	CHECK_EQ(m_tc_in(&fx, &pk, &mark), TC_ACT_UNSPEC);
	CHECK_EQ(mark, 0x9);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x9);
	/* The reply comes unmarked and leaves with the connection's mark. */
	mark = 0;
	pk = udp_packet(&ar, 10);
	CHECK_EQ(m_tc_in(&fx, &pk, &mark), TC_ACT_UNSPEC);
	CHECK_EQ(mark, 0x9);
	mark = 0x2;
	pk = udp_packet(&b, 10);
	CHECK_EQ(m_tc_in(&fx, &pk, &mark), TC_ACT_UNSPEC);
	CHECK_EQ(mark, 0x102);
	CHECK_EQ(ct_mark_of(&fx, &b), 0);
	mark = 0x66;
	pk = udp_packet(&d, 10);
	CHECK_EQ(m_tc_in(&fx, &pk, &mark), TC_ACT_SHOT);
	fixture_teardown(&fx);
}

/* ct status: confirmed from a connection's second packet on (its first
 * passes unconfirmed, as in nf_conntrack, whatever its ct state),
 * seen-reply on the reply, assured on the handshake's last ACK. */
TEST(marks_ct_status_bits)
{
	struct flow a = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow t = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40001, "10.0.0.2", 81);
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 7000, "10.0.0.2", 53);
	struct flow ar = reverse(&a), ur = reverse(&u);
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    m_load(&fx, "policy drop\n"
			"drop tcp dport 81 ct status != confirmed\n"
			"drop udp dport 53 ct status confirmed\n"
			"accept ct state new\n"
			"accept ct status assured\n"
			"accept udp sport 53 ct status { seen-reply, dnat }\n"
			"drop\n"))
		return;
	pk = tcp_packet(&t, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_DROP);
	pk = udp_packet(&u, 10);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	/* Unreplied, so still NEW, but confirmed now. */
	CHECK_EQ(m_xdp(&fx, &pk), XDP_DROP);
	pk = udp_packet(&ur, 10);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);

	pk = tcp_packet(&a, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&ar, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_DROP); /* seen-reply, not assured, not udp */
	pk = tcp_packet(&a, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS); /* assured */
	fixture_teardown(&fx);
}

/* A ruleset whose established rule uses no mark keeps the established
 * fast path, mark rules after it or not; one whose first established
 * rule matches a mark takes the full path, and decides the same. */
TEST(marks_fast_path_kept_without_mark_rules)
{
	struct flow a = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 22);
	struct fixture fx;
	struct packet pk;
	__u64 fast;

	if (!fixture_setup(&fx, 0) || m_load(&fx, "policy drop\n"
						  "accept ct state established\n"
						  "accept tcp dport 22 ct mark set 0x10\n"
						  "drop ct mark 0x10\n"))
		return;
	tcp_handshake(&fx, &a);
	fast = counter(&fx, XCT_S_FAST);
	pk = m_ack(&a);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_PASS);
	CHECK_EQ(counter(&fx, XCT_S_FAST) - fast, 1);
	CHECK_EQ(ct_mark_of(&fx, &a), 0x10);

	if (m_load(&fx, "policy drop\n"
			"drop ct state established ct mark 0x10\n"
			"accept ct state established\n"
			"accept tcp dport 22\n"))
		goto out;
	fast = counter(&fx, XCT_S_FAST);
	pk = tcp_packet(&a, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN + 11, SERVER_ISN + 1, 10);
	CHECK_EQ(m_xdp(&fx, &pk), XDP_DROP);
	CHECK_EQ(counter(&fx, XCT_S_FAST) - fast, 0);
out:
	fixture_teardown(&fx);
}
