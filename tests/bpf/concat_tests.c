// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF_PROG_TEST_RUN tests of concatenations in the rules: a named set's
 * tuples looked up in the datapath's hash table (the exact tuple, not its
 * components apart), elements added and removed at run time as xct set
 * add|del does it, anonymous sets with '!=', IPv6 tuples, meta mark and
 * ct mark components, a concatenation's vmap, and established packets
 * that must not be decided by the fast path past a concatenation.
 */
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "rules/install.h"
#include "xct.h"

static __u32 c_ifindex_of(const char *name, void *ctx)
{
	return if_nametoindex(name);
}

static int c_load(struct fixture *fx, const char *text)
{
	struct xct_rules_error err;
	int ret;

	xct_opts.pin_path = fx->pin_dir;
	ret = xct_policy_load_text("concat.rules", text, c_ifindex_of, NULL, &err);
	if (ret == -EINVAL)
		CHECK_FAIL("rules refused: %u:%u: %s", err.loc.line, err.loc.col, err.msg);
	else if (ret)
		CHECK_FAIL("cannot install the rules: %s", strerror(-ret));
	return ret;
}

static int c_xdp(struct fixture *fx, const struct packet *pk)
{
	return run_prog(fx->skel->progs.xct_xdp, pk->data, pk->len, NULL, NULL, 0);
}

/* TC ingress with skb->mark = mark. */
static int c_tc_in(struct fixture *fx, const struct packet *pk, __u32 mark)
{
	struct __sk_buff skb = {.mark = mark};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pk->data, .data_size_in = pk->len,
		    .ctx_in = &skb, .ctx_size_in = sizeof(skb), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(fx->skel->progs.xct_tc_ingress), &opts);

	if (err) {
		CHECK_FAIL("test run of xct_tc_ingress: %s", strerror(-err));
		return -1000;
	}
	return (int)opts.retval;
}

static struct packet c_syn(const char *src, __u16 sport, const char *dst, __u16 dport)
{
	struct flow f = make_flow(XCT_IPPROTO_TCP, src, sport, dst, dport);

	return tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
}

/* Adds (or removes) elements of a running concatenation, as xct set does. */
static int c_set(struct fixture *fx, const char *set, const char *elems, bool add)
{
	struct xct_policy_maps maps;
	struct xct_set_info info;
	struct xct_concat_elem *v = NULL;
	__u8 types[XCT_CONCAT_MAX];
	char msg[256];
	size_t n, nt;
	int err;

	xct_opts.pin_path = fx->pin_dir;
	if (xct_policy_open(&maps))
		return -1;
	err = xct_policy_find_set(&maps, set, &info);
	if (err) {
		CHECK_FAIL("no set %s", set);
		goto out;
	}
	CHECK_EQ(info.kind, XCT_SET_CONCAT);
	nt = xct_set_info_ctypes(&info, types);
	err = xct_parse_concat_elems(elems, types, nt, &v, &n, msg, sizeof(msg));
	if (err) {
		CHECK_FAIL("bad elements %s: %s", elems, msg);
		goto out;
	}
	err = xct_policy_set_update_concat(&maps, &info, v, n, add, NULL);
out:
	free(v);
	xct_policy_close(&maps);
	return err;
}

static int count_elem(const struct xct_concat_elem *e, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

TEST(concat_named_set_matches_the_tuple)
{
	struct fixture fx;
	struct packet a = c_syn("10.0.0.1", 40000, "10.0.0.9", 22);
	struct packet a80 = c_syn("10.0.0.1", 40000, "10.0.0.9", 80);
	struct packet b80 = c_syn("10.0.0.2", 40000, "10.0.0.9", 80);
	struct packet b22 = c_syn("10.0.0.2", 40000, "10.0.0.9", 22);
	struct flow uf = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 40000, "10.0.0.9", 22);
	struct packet u = udp_packet(&uf, 8);
	struct xct_policy_maps maps;
	struct xct_set_info info;
	int n = 0;

	if (!fixture_setup(&fx, 0) ||
	    c_load(&fx, "set allowed { type ipv4_addr . inet_service; elements = { 10.0.0.1 . 22, "
			"10.0.0.2 . 80 } }\n"
			"policy drop\n"
			"accept ip saddr . tcp dport @allowed\n"))
		return;
	CHECK_EQ(c_xdp(&fx, &a), XDP_PASS);
	CHECK_EQ(c_xdp(&fx, &b80), XDP_PASS);
	/* each component is in some element, the tuple in none */
	CHECK_EQ(c_xdp(&fx, &a80), XDP_DROP);
	CHECK_EQ(c_xdp(&fx, &b22), XDP_DROP);
	/* tcp dport implies tcp */
	CHECK_EQ(c_xdp(&fx, &u), XDP_DROP);

	/* At run time, without a reload. */
	CHECK_EQ(c_set(&fx, "allowed", "{ 10.0.0.2 . 22, 10.0.0.1 . 80 }", true), 0);
	CHECK_EQ(c_xdp(&fx, &b22), XDP_PASS);
	a80 = c_syn("10.0.0.1", 40001, "10.0.0.9", 80);
	CHECK_EQ(c_xdp(&fx, &a80), XDP_PASS);
	CHECK_EQ(c_set(&fx, "allowed", "10.0.0.2 . 22", false), 0);
	b22 = c_syn("10.0.0.2", 40001, "10.0.0.9", 22);
	CHECK_EQ(c_xdp(&fx, &b22), XDP_DROP);
	/* a delete of an element that is not there changes nothing */
	CHECK_EQ(c_set(&fx, "allowed", "{ 10.0.0.1 . 80, 10.0.0.7 . 1 }", false), -ENOENT);
	xct_opts.pin_path = fx.pin_dir;
	if (!xct_policy_open(&maps)) {
		if (!xct_policy_find_set(&maps, "allowed", &info))
			CHECK_EQ(xct_policy_set_walk_concat(&maps, &info, count_elem, &n), 0);
		xct_policy_close(&maps);
	}
	CHECK_EQ(n, 3);
	fixture_teardown(&fx);
}

TEST(concat_anonymous_negated_and_ipv6)
{
	struct fixture fx;
	struct flow d53 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.9", 53);
	struct flow d54 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.9", 54);
	struct flow o53 = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.8", 53);
	struct flow v6 = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 5000, "2001:db8::2", 443);
	struct flow v6b = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 5000, "2001:db8::3", 443);
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    c_load(&fx,
		   "policy accept\n"
		   "drop ip daddr . udp dport != 10.0.0.9 . 53\n"
		   "drop ip6 daddr . tcp dport . meta l4proto != { 2001:db8::2 . 443 . tcp }\n"))
		return;
	pk = udp_packet(&d53, 8);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_PASS);
	pk = udp_packet(&d54, 8);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_DROP);
	pk = udp_packet(&o53, 8);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_DROP);
	pk = tcp_packet(&v6, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&v6b, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* meta mark is the packet's (TC), ct mark the connection's. */
TEST(concat_mark_components)
{
	struct fixture fx;
	struct packet a = c_syn("10.0.0.1", 40000, "10.0.0.9", 22);
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40010, "10.0.0.9", 80);
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    c_load(&fx, "policy drop\n"
			"continue tcp dport 80 ct state new ct mark set 0x7\n"
			"accept ip saddr . meta mark { 10.0.0.1 . 0x10 }\n"
			"accept ct mark . tcp dport { 7 . 80 }\n"))
		return;
	CHECK_EQ(c_tc_in(&fx, &a, 0x10), TC_ACT_UNSPEC);
	a = c_syn("10.0.0.1", 40001, "10.0.0.9", 22);
	CHECK_EQ(c_tc_in(&fx, &a, 0x11), TC_ACT_SHOT);
	/* the continue rule marks the connection, the tuple with its mark
	 * admits it */
	pk = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(c_tc_in(&fx, &pk, 0), TC_ACT_UNSPEC);
	fixture_teardown(&fx);
}

/* An established packet meets the concatenation of the first rule: the
 * META class must not decide it alone. */
TEST(concat_established_not_decided_by_the_fast_path)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet pk;

	if (!fixture_setup(&fx, 0) || c_load(&fx, "set blocked { type ipv4_addr . inet_service; }\n"
						  "policy drop\n"
						  "drop ip saddr . tcp dport @blocked\n"
						  "accept ct state established,related\n"
						  "accept tcp dport 80\n"))
		return;
	tcp_handshake(&fx, &c);
	pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 10);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_PASS);
	CHECK_EQ(c_set(&fx, "blocked", "10.0.0.1 . 80", true), 0);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* A concatenation's vmap: a rule per element, prefixes and ranges kept. */
TEST(concat_vmap_verdicts)
{
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    c_load(&fx,
		   "policy accept\n"
		   "ip saddr . tcp dport vmap { 10.1.0.0/16 . 22 : drop, 10.2.0.1 . 80-90 : drop }\n"))
		return;
	pk = c_syn("10.1.2.3", 40000, "10.0.0.9", 22);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_DROP);
	pk = c_syn("10.1.2.3", 40000, "10.0.0.9", 23);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_PASS);
	pk = c_syn("10.2.0.1", 40000, "10.0.0.9", 85);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_DROP);
	pk = c_syn("10.2.0.1", 40000, "10.0.0.9", 22);
	CHECK_EQ(c_xdp(&fx, &pk), XDP_PASS);
	fixture_teardown(&fx);
}
