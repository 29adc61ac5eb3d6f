// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the policy in the compiled datapath: rulesets are parsed,
 * compiled and installed exactly as 'xct rules load' does it, into the
 * fixture's pinned maps, and crafted frames go through the entry programs.
 * Covered: the example ruleset packet by packet, first match wins,
 * refused connections taking no table entry, sets changed at run time,
 * reject answers (TCP RST, ICMP and ICMPv6 port unreachable, checked field
 * by field and by checksum), rate limits against the fake clock, notrack,
 * interface matches, egress, INVALID packets, rule counters, reloads that
 * keep established connections, and a rule deep in a 10,000-rule set.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "rules/compile.h"
#include "rules/install.h"
#include "xct.h"
#include "xct/parse.h"

static const char example_rules[] =
	"set blocklist { 203.0.113.0/24, 2001:db8:bad::/48 }\n"
	"set web_ports { 80, 443, 8000-8099 }\n"
	"policy drop                                # for new connections no rule accepts\n"
	"drop  saddr @blocklist                     # every packet, whatever its state\n"
	"accept ct state established,related\n"
	"drop  ct state invalid\n"
	"accept tcp dport @web_ports\n"
	"accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20\n"
	"accept udp dport 53\n"
	"accept icmp type echo-request\n"
	"reject tcp dport 25                        # TCP RST; ICMP port unreachable for UDP\n";

static __u32 ifindex_of(const char *name, void *ctx)
{
	return if_nametoindex(name);
}

/* Parses, compiles and installs text as the running rules. */
static int load_rules(struct fixture *fx, const char *text)
{
	struct xct_rules_error err;
	int ret;

	xct_opts.pin_path = fx->pin_dir;
	ret = xct_policy_load_text("test.rules", text, ifindex_of, NULL, &err);
	if (ret == -EINVAL)
		CHECK_FAIL("rules refused: %u:%u: %s", err.loc.line, err.loc.col, err.msg);
	else if (ret)
		CHECK_FAIL("cannot install the rules: %s", strerror(-ret));
	return ret;
}

/* Adds one element to a running set, as 'xct set add' does. */
static void set_add(struct fixture *fx, const char *set, const char *elem)
{
	struct xct_policy_maps maps;
	struct xct_set_info info;
	struct xct_prefix p;

	xct_opts.pin_path = fx->pin_dir;
	if (xct_parse_prefix(elem, &p)) {
		CHECK_FAIL("bad element %s", elem);
		return;
	}
	if (xct_policy_open(&maps))
		return;
	if (xct_policy_find_set(&maps, set, &info))
		CHECK_FAIL("no set %s", set);
	else if (xct_policy_set_update(&maps, &info, &p, 1, NULL, 0, true, NULL))
		CHECK_FAIL("cannot add %s to %s", elem, set);
	xct_policy_close(&maps);
}

/* A program's action for a frame, and the frame it leaves in out (if not
 * NULL); TC programs get a context with ingress_ifindex 0. */
static int run_frame(struct bpf_program *prog, const struct packet *pk, struct packet *out)
{
	struct __sk_buff skb = {.ingress_ifindex = 0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pk->data, .data_size_in = pk->len,
		    .repeat = 1);
	int err;

	if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS) {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	if (out) {
		memset(out, 0, sizeof(*out));
		opts.data_out = out->data;
		opts.data_size_out = sizeof(out->data);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	if (err) {
		CHECK_FAIL("test run of %s: %s", bpf_program__name(prog), strerror(-err));
		return -1;
	}
	if (out)
		out->len = opts.data_size_out;
	return (int)opts.retval;
}

static int xdp_verdict(struct fixture *fx, const struct packet *pk)
{
	return run_frame(fx->skel->progs.xct_xdp, pk, NULL);
}

static int tc_run(struct fixture *fx, struct bpf_program *prog, const struct packet *pk,
		  struct packet *out)
{
	return run_frame(prog, pk, out);
}

/* XDP's reject: the frame goes up tagged for xct_tc_answer to answer. */
static int xdp_rejected(struct fixture *fx, const struct packet *pk)
{
	return xdp_handoff(fx, pk, NULL) == XCT_HANDOFF_REJECT;
}

/* The answer to a rejected frame, as TC ingress builds and sends it. */
static int tc_answer(struct fixture *fx, const struct packet *pk, struct packet *out)
{
	return tc_run(fx, fx->skel->progs.xct_tc_ingress, pk, out);
}

static struct packet syn_to(const char *src, __u16 sport, const char *dst, __u16 dport)
{
	struct flow f = make_flow(XCT_IPPROTO_TCP, src, sport, dst, dport);

	return tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
}

/* One's-complement sum of a byte range, as the receiver checks it. */
static __u32 sum16(const __u8 *p, __u32 len, __u32 sum)
{
	__u32 i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	return sum;
}

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Parses an answer and checks its IP and transport checksums. */
static struct xct_pkt parse_answer(const struct packet *out)
{
	struct xct_pkt p;
	__u32 l3, l4, l4_len, sum;
	int v4;

	memset(&p, 0, sizeof(p));
	if (xct_parse_buf(out->data, out->len, &p) != XCT_R_OK) {
		CHECK_FAIL("the answer does not parse");
		return p;
	}
	l3 = p.l3_off;
	l4 = p.l4_off;
	v4 = p.t.family == XCT_AF_INET;
	if (v4)
		CHECK_EQ(fold(sum16(out->data + l3, 20, 0)), 0xffff);
	l4_len = out->len - l4;
	CHECK_EQ(l4_len, p.l3_len - (l4 - l3));
	if (v4 && p.t.proto == XCT_IPPROTO_ICMP) {
		sum = 0;
	} else {
		sum = p.t.proto + l4_len;
		sum = sum16(out->data + l3 + (v4 ? 12 : 8), v4 ? 8 : 32, sum);
	}
	CHECK_EQ(fold(sum16(out->data + l4, l4_len, sum)), 0xffff);
	return p;
}

/* ---- The example ruleset ---- */

TEST(policy_example_ruleset_packet_by_packet)
{
	struct fixture fx;
	struct packet pk;
	struct flow c, web, dns, ping, blocked6;
	struct xct_ct_entry e;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, example_rules))
		return;

	/* New connections: the rules decide, the refused take no entry. */
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("192.0.2.10", 40001, "192.0.2.1", 8050);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("192.0.2.10", 40002, "192.0.2.1", 8100);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("192.0.2.10", 40003, "192.0.2.1", 23);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("203.0.113.9", 40004, "192.0.2.1", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	blocked6 = make_flow(XCT_IPPROTO_TCP, "2001:db8:bad::1", 40005, "2001:db8::1", 443);
	pk = tcp_packet(&blocked6, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.1.2.3", 40006, "192.0.2.1", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("192.0.2.10", 40007, "192.0.2.1", 22); /* ssh only from 10/8 */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(table_size(&fx), 3);
	CHECK_EQ(counter(&fx, XCT_S_POLICY_DROP), 5);

	dns = make_flow(XCT_IPPROTO_UDP, "192.0.2.10", 5353, "192.0.2.1", 53);
	pk = udp_packet(&dns, 30);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	dns.dport = 54;
	pk = udp_packet(&dns, 30);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);

	ping = make_flow(XCT_IPPROTO_ICMP, "192.0.2.10", 77, "192.0.2.1", 0);
	pk = icmp_packet(&ping, 8, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	ping.icmp_type = 13;
	pk = icmp_packet(&ping, 13, 0); /* timestamp request: not accepted */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);

	/* An admitted connection's packets pass as ESTABLISHED. */
	c = make_flow(XCT_IPPROTO_TCP, "192.0.2.20", 41000, "192.0.2.1", 443);
	web = reverse(&c);
	pk = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&web, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);

	/* INVALID: dropped by its rule, and the connection is unharmed. */
	pk = tcp_packet(&c, XCT_TCPF_SYN | XCT_TCPF_FIN, CLIENT_ISN + 101, SERVER_ISN + 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);

	/* The blocklist applies to every state: a source added at run time
	 * loses its established connection's packets at once. */
	set_add(&fx, "blocklist", "192.0.2.20");
	pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 101, SERVER_ISN + 1, 10);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* Drops are counted by the tracker's reason, rejects and accepted
 * packets not at all: the counts add up to the policy's drops. */
TEST(policy_drops_counted_by_reason)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "192.0.2.10", 40100, "192.0.2.1", 80);
	struct flow s = reverse(&c);
	struct fixture fx;
	struct packet pk;
	__u64 sum = 0;
	int i;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept ct state established\ndrop ct state invalid\n"
			    "accept tcp dport 80\nreject tcp dport 25\n"))
		return;
	for (i = 0; i < 3; i++) {
		struct flow x =
			make_flow(XCT_IPPROTO_TCP, "192.0.2.10", 40200 + i, "192.0.2.1", 80);

		pk = tcp_packet(&x, XCT_TCPF_SYN | XCT_TCPF_FIN, CLIENT_ISN, 0, 0);
		CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	}
	pk = syn_to("192.0.2.10", 40300, "192.0.2.1", 23);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("192.0.2.10", 40301, "192.0.2.1", 23);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("192.0.2.10", 40302, "192.0.2.1", 25);
	xdp_verdict(&fx, &pk);
	/* An accepted connection, established: nothing counted. */
	pk = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);

	CHECK_EQ(reason_count(&fx, XCT_R_TCP_BAD_FLAGS), 3);
	CHECK_EQ(drop_count(&fx, XCT_R_TCP_BAD_FLAGS), 3);
	CHECK_EQ(drop_count(&fx, XCT_R_OK), 2);
	CHECK_EQ(counter(&fx, XCT_S_POLICY_REJECT), 1);
	for (i = 0; i < XCT_R_COUNT; i++)
		sum += drop_count(&fx, (enum xct_reason)i);
	CHECK_EQ(sum, 5);
	CHECK_EQ(counter(&fx, XCT_S_POLICY_DROP), 5);
	fixture_teardown(&fx);
}

TEST(policy_first_match_wins)
{
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy accept\n"
						      "drop tcp dport 1000-2000 saddr 10.0.0.0/8\n"
						      "accept tcp dport 1500 saddr 10.1.0.0/16\n"
						      "reject tcp dport 1500\n"))
		return;
	pk = syn_to("10.1.0.1", 40000, "10.9.9.9", 1500); /* rule 1 before rule 2 */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("192.0.2.1", 40000, "10.9.9.9", 1500);
	CHECK(xdp_rejected(&fx, &pk));
	pk = syn_to("192.0.2.1", 40000, "10.9.9.9", 2001);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(table_size(&fx), 1);
	fixture_teardown(&fx);
}

/* ---- Reject ---- */

TEST(policy_reject_tcp_answers_with_rst)
{
	struct fixture fx;
	struct packet pk, out;
	struct xct_pkt a;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "reject tcp dport 25\n"))
		return;
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 25);
	CHECK(xdp_rejected(&fx, &pk));
	CHECK_EQ(tc_answer(&fx, &pk, &out), TC_ACT_REDIRECT);
	a = parse_answer(&out);
	CHECK_EQ(memcmp(out.data, pk.data + 6, 6), 0); /* back to the sender's MAC */
	CHECK_EQ(memcmp(out.data + 6, pk.data, 6), 0);
	CHECK_EQ(a.t.proto, XCT_IPPROTO_TCP);
	CHECK_EQ(a.t.src.v4, inet_addr("192.0.2.1"));
	CHECK_EQ(a.t.dst.v4, inet_addr("192.0.2.10"));
	CHECK_EQ(ntohs(a.t.sport), 25);
	CHECK_EQ(ntohs(a.t.dport), 40000);
	CHECK_EQ(a.tcp.flags, XCT_TCPF_RST | XCT_TCPF_ACK);
	CHECK_EQ(a.tcp.seq, 0);
	CHECK_EQ(a.tcp.ack, CLIENT_ISN + 1); /* the SYN's sequence, consumed */
	CHECK_EQ(table_size(&fx), 0);
	CHECK_EQ(counter(&fx, XCT_S_POLICY_REJECT), 2);

	/* A segment with ACK gets a RST with that sequence number. */
	{
		struct flow f = make_flow(XCT_IPPROTO_TCP, "192.0.2.10", 40001, "192.0.2.1", 25);

		pk = tcp_packet(&f, XCT_TCPF_ACK, 777, 4242, 0);
		CHECK_EQ(tc_answer(&fx, &pk, &out), TC_ACT_REDIRECT);
		a = parse_answer(&out);
		CHECK_EQ(a.tcp.flags, XCT_TCPF_RST);
		CHECK_EQ(a.tcp.seq, 4242);
		/* And a RST is never answered. */
		pk = tcp_packet(&f, XCT_TCPF_RST, 777, 0, 0);
		CHECK_EQ(tc_answer(&fx, &pk, &out), TC_ACT_SHOT);
		CHECK_EQ(counter(&fx, XCT_S_REJECT_ERROR), 0);
	}
	fixture_teardown(&fx);
}

/*
 * XDP's rejected frame, tagged for TC: xct_tc_answer takes the tag off and
 * sends the answer back out.  The tag is what keeps the rejected packet
 * from the stack when no TC program takes it: a frame whose VLAN id no
 * device has is dropped.
 */
TEST(policy_reject_xdp_handoff_answered_at_tc)
{
	struct fixture fx;
	struct packet pk, tagged, out;
	struct xct_pkt a;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "reject tcp dport 25\n"))
		return;
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 25);
	CHECK_EQ(xdp_handoff(&fx, &pk, &tagged), XCT_HANDOFF_REJECT);
	CHECK_EQ(tc_run(&fx, fx.skel->progs.xct_tc_answer, &tagged, &out), TC_ACT_REDIRECT);
	a = parse_answer(&out);
	CHECK_EQ(memcmp(out.data, pk.data + 6, 6), 0);
	CHECK_EQ(a.tcp.flags, XCT_TCPF_RST | XCT_TCPF_ACK);
	CHECK_EQ(a.tcp.ack, CLIENT_ISN + 1);
	CHECK_EQ(ntohs(a.t.sport), 25);
	/* Any other frame is left alone. */
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 80);
	CHECK_EQ(tc_run(&fx, fx.skel->progs.xct_tc_answer, &pk, NULL), TC_ACT_UNSPEC);
	CHECK_EQ(counter(&fx, XCT_S_REJECT_ERROR), 0);
	fixture_teardown(&fx);
}

/* A frame arriving with the hand-off's VLAN id is dropped by XDP before
 * anything else: no sender can have TC answer or translate a packet. */
TEST(policy_forged_handoff_dropped)
{
	struct fixture fx;
	struct packet pk, tagged;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "reject tcp dport 25\n"))
		return;
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 25);
	CHECK_EQ(xdp_handoff(&fx, &pk, &tagged), XCT_HANDOFF_REJECT);
	CHECK_EQ(xdp_verdict(&fx, &tagged), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_HANDOFF_FORGED), 1);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);
}

TEST(policy_reject_udp_answers_with_port_unreachable)
{
	struct fixture fx;
	struct packet pk, out;
	struct xct_pkt a;
	struct flow f = make_flow(XCT_IPPROTO_UDP, "192.0.2.10", 5000, "192.0.2.1", 9);
	struct flow f6 = make_flow(XCT_IPPROTO_UDP, "2001:db8::10", 5000, "2001:db8::1", 9);

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "reject udp dport 9\n"))
		return;
	pk = udp_packet(&f, 40);
	CHECK(xdp_rejected(&fx, &pk));
	CHECK_EQ(tc_answer(&fx, &pk, &out), TC_ACT_REDIRECT);
	a = parse_answer(&out);
	CHECK_EQ(a.t.proto, XCT_IPPROTO_ICMP);
	CHECK_EQ(a.icmp_error, 1);
	CHECK_EQ(a.t.icmp_type, 3);
	CHECK_EQ(a.t.icmp_code, 3);
	CHECK_EQ(a.t.dst.v4, inet_addr("192.0.2.10"));
	/* The quote is the rejected packet from its IP header on. */
	CHECK_EQ(memcmp(out.data + a.l4_off + 8, pk.data + pk.l3_off, pk.l3_len), 0);
	CHECK_EQ(a.inner.dport, htons(9));

	pk = udp_packet(&f6, 40);
	CHECK_EQ(tc_answer(&fx, &pk, &out), TC_ACT_REDIRECT);
	a = parse_answer(&out);
	CHECK_EQ(a.t.proto, XCT_IPPROTO_ICMPV6);
	CHECK_EQ(a.t.icmp_type, 1);
	CHECK_EQ(a.t.icmp_code, 4);
	CHECK_EQ(memcmp(out.data + a.l4_off + 8, pk.data + pk.l3_off, pk.l3_len), 0);
	fixture_teardown(&fx);
}

/*
 * The ICMP answer (type, code) to pk, or with type 0 a TCP RST: built at
 * TC ingress, and again from XDP's hand-off, whose tag carries the kind.
 */
static void check_reject_answer(struct fixture *fx, const struct packet *pk, int type, int code)
{
	struct packet tagged, out;
	struct xct_pkt a;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			CHECK_EQ(tc_answer(fx, pk, &out), TC_ACT_REDIRECT);
		} else {
			CHECK(xdp_handoff(fx, pk, &tagged) != 0);
			CHECK_EQ(tc_run(fx, fx->skel->progs.xct_tc_answer, &tagged, &out),
				 TC_ACT_REDIRECT);
		}
		a = parse_answer(&out);
		if (!type) {
			CHECK_EQ(a.t.proto, XCT_IPPROTO_TCP);
			CHECK_EQ(a.tcp.flags, XCT_TCPF_RST | XCT_TCPF_ACK);
			continue;
		}
		CHECK_EQ(a.icmp_error, 1);
		CHECK_EQ(a.t.icmp_type, type);
		CHECK_EQ(a.t.icmp_code, code);
		CHECK_EQ(memcmp(out.data + a.l4_off + 8, pk->data + pk->l3_off, pk->l3_len), 0);
	}
}

TEST(policy_reject_with_answers_as_asked)
{
	struct fixture fx;
	struct flow u = make_flow(XCT_IPPROTO_UDP, "192.0.2.10", 5000, "192.0.2.1", 9);
	struct flow u6 = make_flow(XCT_IPPROTO_UDP, "2001:db8::10", 5000, "2001:db8::1", 9);
	struct packet pk;
	__u16 port;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "reject tcp dport 25 with icmp type admin-prohibited\n"
			    "reject tcp dport 26 with tcp reset\n"
			    "reject dport 9 with icmpx type host-unreachable\n"
			    "reject dport 10 with icmp type prot-unreachable\n"
			    "reject dport 11 with icmpv6 type no-route\n"
			    "reject dport 12 with icmp net-unreachable\n"
			    "reject dport 13 with icmpv6 type admin-prohibited\n"
			    "reject dport 14 with icmpx type no-route\n"
			    "reject dport 15 with icmpv6 type addr-unreachable\n"
			    "reject dport 16 with icmpx type admin-prohibited\n"
			    "reject dport 17\n"))
		return;
	/* TCP gets the ICMP error it is rejected with, or a RST. */
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 25);
	check_reject_answer(&fx, &pk, 3, 13);
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 26);
	check_reject_answer(&fx, &pk, 0, 0);

	/* Each kind's code in each family (IPv4 type 3, IPv6 type 1). */
	static const struct {
		__u16 port;
		int code4, code6; /* -1: the rule is the other family's */
	} want[] = {
		{9, 1, 3},  {10, 2, -1}, {11, -1, 0}, {12, 0, -1}, {13, -1, 1},
		{14, 0, 0}, {15, -1, 3}, {16, 13, 1}, {17, 3, 4},
	};
	for (port = 0; port < sizeof(want) / sizeof(want[0]); port++) {
		u.dport = u6.dport = want[port].port;
		pk = udp_packet(&u, 40);
		if (want[port].code4 >= 0)
			check_reject_answer(&fx, &pk, 3, want[port].code4);
		else
			CHECK_EQ(tc_answer(&fx, &pk, NULL), TC_ACT_UNSPEC);
		pk = udp_packet(&u6, 40);
		if (want[port].code6 >= 0)
			check_reject_answer(&fx, &pk, 1, want[port].code6);
		else
			CHECK_EQ(tc_answer(&fx, &pk, NULL), TC_ACT_UNSPEC);
	}
	CHECK_EQ(counter(&fx, XCT_S_REJECT_ERROR), 0);
	fixture_teardown(&fx);
}

TEST(policy_reject_at_tc_redirects_the_answer)
{
	struct fixture fx;
	struct packet pk, out;
	struct xct_pkt a;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "reject tcp dport 25\n"))
		return;
	pk = syn_to("192.0.2.10", 40000, "192.0.2.1", 25);
	CHECK_EQ(tc_run(&fx, fx.skel->progs.xct_tc_ingress, &pk, &out), TC_ACT_REDIRECT);
	a = parse_answer(&out);
	CHECK_EQ(a.tcp.flags, XCT_TCPF_RST | XCT_TCPF_ACK);
	CHECK_EQ(a.tcp.ack, CLIENT_ISN + 1);
	fixture_teardown(&fx);
}

/* ---- Header matches ---- */

/* XDP's verdict on pk with IPv4's TTL or IPv6's hop limit ttl and DSCP
 * dscp. */
static int hdr_verdict(struct fixture *fx, struct packet pk, __u8 ttl, __u8 dscp)
{
	__u8 *ip = pk.data + pk.l3_off;

	if ((ip[0] >> 4) == 4) {
		ip[8] = ttl;
		ip[1] = (__u8)(dscp << 2 | (ip[1] & 3));
	} else {
		ip[7] = ttl;
		ip[0] = (__u8)((ip[0] & 0xf0) | dscp >> 2);
		ip[1] = (__u8)((dscp & 3) << 6 | (ip[1] & 0x3f));
	}
	return xdp_verdict(fx, &pk);
}

TEST(policy_ttl_hoplimit_and_dscp_are_checked_per_candidate)
{
	struct fixture fx;
	struct flow f6 = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 80);
	struct packet v4 = syn_to("10.0.0.1", 40000, "10.0.0.2", 80);
	struct packet v6 = tcp_packet(&f6, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\n"
			    "drop ip ttl < 5\n"
			    "drop ip6 hoplimit 1-2\n"
			    "accept ip dscp ef tcp dport 80\n"
			    "accept ip dscp != 0-7 ip ttl >= 200 tcp dport 80\n"
			    "accept ip6 dscp cs1 ip6 hoplimit != 64\n"
			    "accept ip6 hoplimit > 250\n"
			    "accept ip ttl <= 10\n"))
		return;
	CHECK_EQ(xdp_verdict(&fx, &v4), XDP_DROP);	  /* ttl 64, dscp 0: no rule */
	CHECK_EQ(hdr_verdict(&fx, v4, 4, 46), XDP_DROP);  /* ttl < 5 first */
	CHECK_EQ(hdr_verdict(&fx, v4, 5, 0), XDP_PASS);	  /* ttl <= 10 */
	CHECK_EQ(hdr_verdict(&fx, v4, 64, 46), XDP_PASS); /* ef */
	CHECK_EQ(hdr_verdict(&fx, v4, 199, 8), XDP_DROP);
	CHECK_EQ(hdr_verdict(&fx, v4, 200, 8), XDP_PASS);
	CHECK_EQ(hdr_verdict(&fx, v4, 200, 7), XDP_DROP);
	CHECK_EQ(xdp_verdict(&fx, &v6), XDP_DROP);
	CHECK_EQ(hdr_verdict(&fx, v6, 2, 8), XDP_DROP);	 /* hoplimit 1-2 first */
	CHECK_EQ(hdr_verdict(&fx, v6, 63, 8), XDP_PASS); /* cs1, not 64 */
	CHECK_EQ(hdr_verdict(&fx, v6, 64, 8), XDP_DROP);
	CHECK_EQ(hdr_verdict(&fx, v6, 251, 0), XDP_PASS);
	/* IPv4 rules never meet IPv6 packets, nor the other way round. */
	CHECK_EQ(hdr_verdict(&fx, v6, 5, 46), XDP_DROP);
	fixture_teardown(&fx);
}

/* ---- Rate limits ---- */

TEST(policy_limit_allows_burst_then_rate)
{
	struct fixture fx;
	struct packet pk;
	int i, passed = 0;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept tcp dport 22 limit 10/second burst 20\n"))
		return;
	for (i = 0; i < 25; i++) {
		pk = syn_to("10.0.0.1", (__u16)(30000 + i), "10.0.0.2", 22);
		passed += xdp_verdict(&fx, &pk) == XDP_PASS;
	}
	CHECK_EQ(passed, 20);
	/* One second refills ten. */
	advance(&fx, SEC_NS(1));
	passed = 0;
	for (i = 0; i < 15; i++) {
		pk = syn_to("10.0.0.1", (__u16)(31000 + i), "10.0.0.2", 22);
		passed += xdp_verdict(&fx, &pk) == XDP_PASS;
	}
	CHECK_EQ(passed, 10);
	/* 100 ms later: one more. */
	advance(&fx, SEC_NS(1) / 10);
	pk = syn_to("10.0.0.1", 32000, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.0.0.1", 32001, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* nftables' idiom: drop what exceeds the rate, admit the rest. */
TEST(policy_limit_rate_over_matches_past_the_rate)
{
	struct fixture fx;
	struct packet pk;
	int i, passed = 0;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\n"
			    "drop tcp dport 22 limit rate over 10/second burst 20\n"
			    "accept tcp dport 22\n"))
		return;
	for (i = 0; i < 25; i++) {
		pk = syn_to("10.0.0.1", (__u16)(30000 + i), "10.0.0.2", 22);
		passed += xdp_verdict(&fx, &pk) == XDP_PASS;
	}
	CHECK_EQ(passed, 20);
	/* One second refills ten; the packets over the rate spent none. */
	advance(&fx, SEC_NS(1));
	passed = 0;
	for (i = 0; i < 15; i++) {
		pk = syn_to("10.0.0.1", (__u16)(31000 + i), "10.0.0.2", 22);
		passed += xdp_verdict(&fx, &pk) == XDP_PASS;
	}
	CHECK_EQ(passed, 10);
	fixture_teardown(&fx);
}

TEST(policy_limit_per_saddr_keeps_a_bucket_per_source)
{
	struct fixture fx;
	struct packet pk;
	int i, a = 0, b = 0;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept tcp dport 22 limit 1/minute burst 3 per saddr\n"))
		return;
	for (i = 0; i < 5; i++) {
		pk = syn_to("10.0.0.1", (__u16)(30000 + i), "10.0.0.9", 22);
		a += xdp_verdict(&fx, &pk) == XDP_PASS;
		pk = syn_to("10.0.0.2", (__u16)(30000 + i), "10.0.0.9", 22);
		b += xdp_verdict(&fx, &pk) == XDP_PASS;
	}
	CHECK_EQ(a, 3);
	CHECK_EQ(b, 3);
	fixture_teardown(&fx);
}

/* ---- Tracking and hooks ---- */

TEST(policy_notrack_passes_without_an_entry)
{
	struct fixture fx;
	struct packet pk;
	struct flow f = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\nnotrack udp dport 53\naccept ct state untracked\n"))
		return;
	pk = udp_packet(&f, 20);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(table_size(&fx), 0);
	CHECK_EQ(reason_count(&fx, XCT_R_NOTRACK), 1);
	f.dport = 54;
	pk = udp_packet(&f, 20);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

TEST(policy_iif_matches_the_receiving_interface)
{
	struct fixture fx;
	struct packet pk;

	/* BPF_PROG_TEST_RUN receives XDP frames on the loopback device. */
	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy accept\ndrop iif lo tcp dport 80\naccept iif != lo\n"))
		return;
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 81);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	fixture_teardown(&fx);
}

TEST(policy_iifname_matches_names_and_wildcards)
{
	struct fixture fx;
	struct packet pk;

	/* lo matches "l*" and "lo*" (a wildcard matches the name it
	 * starts, too), not "lo0"; an interface that does not exist loads. */
	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy accept\n"
			    "drop iifname \"l*\" tcp dport 80\n"
			    "drop iifname \"xct-later0\" tcp dport 81\n"
			    "drop iifname != { \"eth*\", \"lo\" } tcp dport 82\n"
			    "drop iifname { \"lo0\", \"veth*\" } tcp dport 83\n"
			    "drop iifname \"lo*\" tcp dport 84\n"
			    "drop iifname != \"eth*\" tcp dport 85\n"))
		return;
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 81);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 82);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 83);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 84);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 85);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* Forgets what the load wrote for lo, as if it had not existed then. */
static void forget_lo(struct xct_policy_maps *m)
{
	__u32 gen;

	for (gen = 0; gen < XCT_POLICY_GENS; gen++) {
		struct xct_cls_iface_key key = {.gen = gen, .ifindex = 1};

		bpf_map_delete_elem(m->cls_iface, &key);
	}
}

TEST(policy_iface_attached_after_the_load_gets_its_name_class)
{
	struct xct_policy_maps maps;
	struct fixture fx;
	struct packet pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 80);

	if (!fixture_setup(&fx, 0))
		return;
	if (load_rules(&fx, "policy accept\n"
			    "accept iifname \"lo\" tcp dport 81\n"
			    "drop iifname \"l*\" tcp dport 80\n") ||
	    xct_policy_open(&maps)) {
		fixture_teardown(&fx);
		return;
	}
	forget_lo(&maps);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	/* What xct attach does for an interface created since. */
	CHECK_EQ(xct_policy_iface_added(&maps, 1, "lo"), 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	/* Under another name that no rule writes, it is any interface. */
	CHECK_EQ(xct_policy_iface_added(&maps, 1, "other0"), 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	/* And the next load gives it its class as it is now. */
	xct_policy_close(&maps);
	if (load_rules(&fx, "policy accept\ndrop iifname \"lo\" tcp dport 80\n"))
		goto out;
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);

	/* iif matches the index the name had at load, whatever the name. */
	if (load_rules(&fx, "policy accept\ndrop iif lo tcp dport 80\n") || xct_policy_open(&maps))
		goto out;
	CHECK_EQ(xct_policy_iface_added(&maps, 1, "other0"), 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	xct_policy_close(&maps);
out:
	fixture_teardown(&fx);
}

TEST(policy_drop_policy_leaves_host_traffic_alone)
{
	struct fixture fx;
	struct packet pk;
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.2", 40000, "10.0.0.9", 80);
	struct flow s = reverse(&c);

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy drop\ndrop oif lo tcp dport 81\n"))
		return;
	/* The host's own SYN leaves; the answer is ESTABLISHED and enters. */
	pk = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(tc_run(&fx, fx.skel->progs.xct_tc_egress, &pk, NULL), TC_ACT_UNSPEC);
	pk = tcp_packet(&s, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK(has_live_entry(&fx, &c));
	fixture_teardown(&fx);
}

/* ---- Headers the rules must see through ---- */

/* n destination options headers of 8 bytes each. */
static void insert_dstopts(struct packet *p, int n)
{
	static const __u8 pad[8] = {0, 0, 1, 4}; /* PadN */
	int i;

	for (i = 0; i < n; i++)
		insert_exthdr(p, 60, pad, sizeof(pad));
}

/* One destination options header holding a single 196-byte option. */
static void insert_big_option(struct packet *p)
{
	__u8 hdr[200] = {0, 24, 0x1e, 196};

	insert_exthdr(p, 60, hdr, sizeof(hdr));
}

static struct packet syn6_to(__u16 dport)
{
	struct flow f = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", dport);

	return tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
}

/* A first fragment carrying only the first 8 bytes of a TCP SYN (ports
 * and sequence: RFC 1858's tiny fragment). */
static struct packet tiny_first_fragment_to(__u16 dport)
{
	struct flow f = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", dport);
	struct layout first = {.more_fragments = 1};
	__u8 seg[8];

	put16(seg, f.sport);
	put16(seg + 2, f.dport);
	put32(seg + 4, CLIENT_ISN);
	return build_packet(&f, seg, sizeof(seg), &first);
}

/* Each packet in XDP and at TC ingress: both programs' verdicts. */
static void check_verdicts(struct fixture *fx, const struct packet *pk, int xdp, int tc)
{
	CHECK_EQ(xdp_verdict(fx, pk), xdp);
	CHECK_EQ(tc_run(fx, fx->skel->progs.xct_tc_ingress, pk, NULL), tc);
}

TEST(policy_port_rule_sees_through_ipv6_exthdr_chains)
{
	struct fixture fx;
	struct packet pk;
	int n;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy accept\ndrop tcp dport 22\n"))
		return;
	for (n = 1; n <= 16; n++) {
		pk = syn6_to(22);
		insert_dstopts(&pk, n);
		check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	}
	pk = syn6_to(22);
	insert_big_option(&pk);
	check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	CHECK_EQ(counter(&fx, XCT_S_POLICY_DROP), 2 * 17);
	CHECK_EQ(reason_count(&fx, XCT_R_OK), 2 * 17);
	CHECK_EQ(table_size(&fx), 0);

	/* The same chains to another port are let through, and tracked. */
	pk = syn6_to(80);
	insert_dstopts(&pk, 7);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn6_to(81);
	insert_big_option(&pk);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(table_size(&fx), 2);
	fixture_teardown(&fx);
}

TEST(policy_tiny_first_fragment_dropped_whatever_the_rules)
{
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy accept\ndrop tcp dport 22\n"))
		return;
	pk = tiny_first_fragment_to(22);
	check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	/* Its ports may say anything: the reassembled datagram's are not
	 * known to be the same. */
	pk = tiny_first_fragment_to(80);
	check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	CHECK_EQ(reason_count(&fx, XCT_R_FRAG_TINY), 4);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 4);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);

	/* An accept rule for its addresses does not let it through either. */
	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy drop\naccept saddr 10.0.0.1\n"))
		return;
	pk = tiny_first_fragment_to(22);
	check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	fixture_teardown(&fx);
}

/* A TCP header no stack accepts hides its ports as a tiny fragment does:
 * nftables' port rule would still read them, so it is dropped. */
TEST(policy_tcp_bad_data_offset_dropped_whatever_the_rules)
{
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy accept\ndrop tcp dport 22\n"))
		return;
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 22);
	pk.data[pk.l4_off + 12] = 4 << 4; /* 16 bytes: below a TCP header */
	check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	pk.data[pk.l4_off + 12] = 15 << 4; /* 60 bytes: past the segment */
	check_verdicts(&fx, &pk, XDP_DROP, TC_ACT_SHOT);
	CHECK_EQ(reason_count(&fx, XCT_R_TCP_BAD_DOFF), 4);
	CHECK_EQ(table_size(&fx), 0);
	fixture_teardown(&fx);
}

TEST(policy_accepts_syn_behind_exthdrs_and_options_past_256_bytes)
{
	struct xct_ct_entry e;
	struct fixture fx;
	struct packet pk;
	struct flow f = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 8080);
	static const __u8 pad[224] = {0, 27};

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept ct state established,related\n"
			    "accept tcp dport 8080\n"))
		return;
	pk = syn6_to(8080);
	insert_dstopts(&pk, 7);
	check_verdicts(&fx, &pk, XDP_PASS, TC_ACT_UNSPEC);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &f, &e), 0);
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, TCP_WSCALE);

	/* Options that start 278 bytes into the frame. */
	f.sport = 40001;
	pk = tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	insert_exthdr(&pk, 60, pad, sizeof(pad));
	CHECK_EQ(pk.l4_off, 14 + 40 + 224);
	check_verdicts(&fx, &pk, XDP_PASS, TC_ACT_UNSPEC);
	CHECK_EQ(get_entry(&fx, &f, &e), 0);
	CHECK_EQ(e.proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale, TCP_WSCALE);
	CHECK_EQ(table_size(&fx), 2);
	CHECK_EQ(counter(&fx, XCT_S_POLICY_DROP), 0);
	fixture_teardown(&fx);
}

TEST(policy_accepts_udp_first_fragment_on_an_accepted_port)
{
	struct flow f = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 5001);
	struct flow f6 = make_flow(XCT_IPPROTO_UDP, "2001:db8::1", 5000, "2001:db8::2", 5001);
	struct layout first = {.more_fragments = 1},
		      first6 = {.ipv6_frag_hdr = 1, .more_fragments = 1};
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept ct state established,related\n"
			    "accept udp dport 5001\n"))
		return;
	/* The first 1480 bytes of a 3000-byte datagram. */
	pk = udp_packet_layout(&f, 1472, &first);
	put16(pk.data + pk.l4_off + 4, 3000);
	check_verdicts(&fx, &pk, XDP_PASS, TC_ACT_UNSPEC);
	pk = udp_packet_layout(&f6, 1440, &first6);
	put16(pk.data + pk.l4_off + 4, 8000);
	check_verdicts(&fx, &pk, XDP_PASS, TC_ACT_UNSPEC);
	CHECK_EQ(table_size(&fx), 2);
	CHECK_EQ(reason_count(&fx, XCT_R_UDP_BAD_LENGTH), 0);
	fixture_teardown(&fx);
}

/* ---- Reloads, counters, scale ---- */

TEST(policy_reload_keeps_established_connections)
{
	struct fixture fx;
	struct packet pk;
	struct xct_ct_entry before, after;
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy drop\naccept tcp dport 80\n"))
		return;
	tcp_handshake(&fx, &c);
	CHECK_EQ(get_entry(&fx, &c, &before), 0);
	/* A ruleset that no longer admits port 80, and then back. */
	if (load_rules(&fx, "policy drop\naccept ct state established\naccept tcp dport 81\n"))
		return;
	pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(get_entry(&fx, &c, &after), 0);
	CHECK_EQ(after.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(after.first_seen_ns, before.first_seen_ns);
	CHECK_EQ(after.packets[0], before.packets[0] + 1);
	pk = syn_to("10.0.0.1", 40001, "10.0.0.2", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

TEST(policy_rule_counters_count_packets_and_bytes)
{
	struct fixture fx;
	struct packet pk;
	struct xct_rule_stats st[512];
	__u32 idx, gen;
	__u64 packets = 0, bytes = 0;
	int i;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "accept tcp dport 80\ndrop tcp dport 81\n"))
		return;
	for (i = 0; i < 3; i++) {
		pk = syn_to("10.0.0.1", (__u16)(40000 + i), "10.0.0.2", 81);
		CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	}
	gen = fx.skel->maps.xct_policy_ctl ? 0 : 0;
	{
		struct xct_policy_ctl ctl;
		__u32 zero = 0;

		bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.xct_policy_ctl), &zero, &ctl);
		gen = ctl.active_gen;
	}
	idx = gen * XCT_RULES_MAX + 1;
	CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.xct_rule_stats), &idx, st), 0);
	for (i = 0; i < fx.ncpus; i++) {
		packets += st[i].packets;
		bytes += st[i].bytes;
	}
	CHECK_EQ(packets, 3);
	CHECK_EQ(bytes, 3 * pk.l3_len);
	fixture_teardown(&fx);
}

TEST(policy_rule_deep_in_10000_rules)
{
	struct fixture fx;
	struct packet pk;
	size_t cap = 10000 * 48, len = 0;
	char *text = malloc(cap);
	int i;

	if (!text || !fixture_setup(&fx, 0)) {
		free(text);
		return;
	}
	len += (size_t)snprintf(text + len, cap - len, "policy drop\n");
	for (i = 0; i < 9999; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"accept tcp dport %d saddr 10.%d.%d.0/24\n", 1000 + i,
					i / 256, i % 256);
	snprintf(text + len, cap - len, "accept udp dport 7\n");
	if (load_rules(&fx, text)) {
		free(text);
		return;
	}
	free(text);
	pk = syn_to("10.39.14.5", 40000, "10.0.0.2", 1000 + 9998); /* rule 9998 */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.39.14.5", 40001, "10.0.0.2", 1000 + 9997); /* wrong prefix */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	{
		struct flow f = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 7);

		pk = udp_packet(&f, 10); /* the last rule */
		CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	}
	fixture_teardown(&fx);
}

TEST(policy_clear_accepts_everything_again)
{
	struct fixture fx;
	struct packet pk;
	struct xct_policy_maps maps;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy drop\n"))
		return;
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	if (xct_policy_open(&maps))
		return;
	xct_policy_clear(&maps);
	xct_policy_close(&maps);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	fixture_teardown(&fx);
}

/* ---- Log rules and the event stream ---- */

struct events_seen {
	int n;
	struct xct_event last;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct events_seen *es = ctx;

	if (size >= sizeof(es->last))
		memcpy(&es->last, data, sizeof(es->last));
	es->n++;
	return 0;
}

/* Events queued in a ring since the last call. */
static struct events_seen drain_ring(struct bpf_map *ring)
{
	struct events_seen es = {0};
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(ring), on_event, &es, NULL);

	if (!rb) {
		CHECK_FAIL("cannot open %s: %s", bpf_map__name(ring), strerror(errno));
		return es;
	}
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return es;
}

/* The log rules' events. */
static struct events_seen drain_events(struct fixture *fx)
{
	return drain_ring(fx->skel->maps.xct_events);
}

/* The datapath's drops and rejects, for xct trace. */
static struct events_seen drain_drop_events(struct fixture *fx)
{
	return drain_ring(fx->skel->maps.xct_drop_events);
}

TEST(policy_log_rule_sends_sampled_events)
{
	struct fixture fx;
	struct packet pk;
	struct events_seen es;
	int i;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept tcp dport 80\n\ndrop tcp dport 22 log\n"))
		return;
	drain_events(&fx);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.0.0.1", 40001, "10.0.0.2", 80); /* not a log rule */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	es = drain_events(&fx);
	CHECK_EQ(es.n, 1);
	CHECK_EQ(es.last.type, XCT_EV_RULE_LOG);
	CHECK_EQ(es.last.line, 4);
	CHECK_EQ(es.last.verdict, XCT_VERDICT_DROP);
	CHECK_EQ(es.last.ct_state, XCT_CTS_NEW);
	CHECK_EQ(es.last.proto, XCT_IPPROTO_TCP);
	CHECK_EQ(es.last.src.v4, inet_addr("10.0.0.1"));
	CHECK_EQ(es.last.sport, 40000);
	CHECK_EQ(es.last.dport, 22);
	CHECK_EQ(es.last.time_ns, now_ns(&fx));
	CHECK_EQ(es.last.len, pk.l3_len);

	/* A flood within one second: a sample of XCT_LOG_RATE, the rest
	 * counted; a second later the sampler has room again. */
	for (i = 0; i < 3 * XCT_LOG_RATE; i++) {
		pk = syn_to("10.0.0.1", (__u16)(41000 + i), "10.0.0.2", 22);
		xdp_verdict(&fx, &pk);
	}
	es = drain_events(&fx);
	CHECK_EQ(es.n, XCT_LOG_RATE - 1);
	CHECK_EQ(counter(&fx, XCT_S_LOG_EVENTS), XCT_LOG_RATE);
	CHECK_EQ(counter(&fx, XCT_S_LOG_SAMPLED_OUT), 2 * XCT_LOG_RATE + 1);
	advance(&fx, SEC_NS(1));
	pk = syn_to("10.0.0.1", 42000, "10.0.0.2", 22);
	xdp_verdict(&fx, &pk);
	CHECK_EQ(drain_events(&fx).n, 1);
	CHECK_EQ(counter(&fx, XCT_S_EVENTS_LOST), 0);
	fixture_teardown(&fx);
}

/* Announces a drops reader at the fake clock's now, as xct trace does. */
static void subscribe_drops(struct fixture *fx, __u64 when)
{
	__u32 key = XCT_SUB_DROPS;

	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_subs), &key, &when, BPF_ANY))
		CHECK_FAIL("cannot write xct_subs: %s", strerror(errno));
}

/*
 * Drop events: none while no reader is subscribed, one per dropped or
 * rejected packet while one is, with the rule's line (or the policy, with
 * no line) and the tracker's reason; none again once the reader's slot is
 * older than XCT_SUB_TTL_NS.
 */
TEST(policy_drop_events_only_while_subscribed)
{
	struct fixture fx;
	struct packet pk;
	struct events_seen es;
	struct flow f = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40010, "10.0.0.2", 9);

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept tcp dport 80\ndrop tcp dport 22\n"
			    "reject tcp dport 25\n"))
		return;
	drain_drop_events(&fx);
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(drain_drop_events(&fx).n, 0);

	subscribe_drops(&fx, now_ns(&fx));
	pk = syn_to("10.0.0.1", 40001, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	es = drain_drop_events(&fx);
	CHECK_EQ(es.n, 1);
	CHECK_EQ(es.last.type, XCT_EV_DROP);
	CHECK_EQ(es.last.verdict, XCT_VERDICT_DROP);
	CHECK_EQ(es.last.line, 3);
	CHECK_EQ(es.last.flags, XCT_EVF_MATCHED);
	CHECK_EQ(es.last.reason, XCT_R_OK);
	CHECK_EQ(es.last.ct_state, XCT_CTS_NEW);
	CHECK_EQ(es.last.src.v4, inet_addr("10.0.0.1"));
	CHECK_EQ(es.last.dst.v4, inet_addr("10.0.0.2"));
	CHECK_EQ(es.last.sport, 40001);
	CHECK_EQ(es.last.dport, 22);
	CHECK_EQ(es.last.len, pk.l3_len);

	/* Rejected: the same event, verdict reject. */
	pk = syn_to("10.0.0.1", 40002, "10.0.0.2", 25);
	CHECK(xdp_rejected(&fx, &pk));
	es = drain_drop_events(&fx);
	CHECK_EQ(es.n, 1);
	CHECK_EQ(es.last.verdict, XCT_VERDICT_REJECT);
	CHECK_EQ(es.last.line, 4);

	/* The policy decides an invalid packet: no rule, the tracker's reason. */
	pk = tcp_packet(&f, XCT_TCPF_SYN | XCT_TCPF_FIN, CLIENT_ISN, 0, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	es = drain_drop_events(&fx);
	CHECK_EQ(es.n, 1);
	CHECK_EQ(es.last.flags, 0);
	CHECK_EQ(es.last.line, 0);
	CHECK_EQ(es.last.reason, XCT_R_TCP_BAD_FLAGS);
	CHECK_EQ(es.last.ct_state, XCT_CTS_INVALID);

	/* An accepted packet sends nothing. */
	pk = syn_to("10.0.0.1", 40003, "10.0.0.2", 80);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(drain_drop_events(&fx).n, 0);

	/* The reader went away: its slot ages out. */
	advance(&fx, XCT_SUB_TTL_NS);
	pk = syn_to("10.0.0.1", 40004, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(drain_drop_events(&fx).n, 0);
	subscribe_drops(&fx, 0);
	fixture_teardown(&fx);
}

TEST(policy_tcp_flags_and_family_matches)
{
	struct fixture fx;
	struct packet pk;
	struct flow f = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
	struct flow f6 = make_flow(XCT_IPPROTO_TCP, "2001:db8::1", 40000, "2001:db8::2", 80);

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\n"
			    "accept ip tcp flags & (syn|ack) == syn dport 80\n"
			    "accept ip6 tcp flags == ack dport 80\n"))
		return;
	pk = tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	/* A new connection picked up from its ACK: not a SYN, refused. */
	f.sport = 40001;
	pk = tcp_packet(&f, XCT_TCPF_ACK, CLIENT_ISN, 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	/* IPv6: only a bare ACK, and the IPv4 rule does not apply. */
	pk = tcp_packet(&f6, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = tcp_packet(&f6, XCT_TCPF_ACK, CLIENT_ISN, 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	f6.sport = 40002;
	pk = tcp_packet(&f6, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN, 1, 10);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* ---- Failing closed ---- */

/* A later fragment passes only with its datagram's accepted first one. */
TEST(policy_fragments_follow_their_first)
{
	struct flow ok = make_flow(XCT_IPPROTO_TCP, "192.0.2.10", 5000, "192.0.2.1", 53);
	struct flow no = make_flow(XCT_IPPROTO_UDP, "192.0.2.10", 5000, "192.0.2.1", 54);
	struct flow ok6 = make_flow(XCT_IPPROTO_ICMPV6, "2001:db8::10", 77, "2001:db8::1", 0);
	struct layout first = {.more_fragments = 1};
	struct layout later = {.frag_offset = 3, .more_fragments = 0};
	struct layout first6 = {.ipv6_frag_hdr = 1, .more_fragments = 1};
	struct layout later6 = {.ipv6_frag_hdr = 1, .frag_offset = 3};
	__u8 body[24] = {0}, echo[24] = {128, 0};
	struct xct_ct_entry e;
	struct packet pk;
	struct fixture fx;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept tcp dport 53\naccept icmpv6 type echo-request\n"))
		return;
	/* Lone later fragments: INVALID, dropped. */
	pk = build_packet(&ok, body, sizeof(body), &later);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_FRAG_NO_FIRST), 1);
	pk = build_packet(&ok6, body, sizeof(body), &later6);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_FRAG_NO_FIRST), 2);

	/* An accepted first fragment (a TCP SYN's header), then its later
	 * fragment passes and counts its bytes to the connection, as the
	 * reassembled segment would: one packet. */
	put16(body + 0, 5000);
	put16(body + 2, 53);
	put32(body + 4, CLIENT_ISN);
	body[12] = 5 << 4;
	body[13] = XCT_TCPF_SYN;
	put16(body + 14, TCP_SYN_WINDOW);
	pk = build_packet(&ok, body, 20, &first);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = build_packet(&ok, body, sizeof(body), &later);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(reason_count(&fx, XCT_R_FRAGMENT), 1);
	CHECK_EQ(get_entry(&fx, &ok, &e), 0);
	CHECK_EQ(e.packets[XCT_DIR_ORIGINAL], 1);
	CHECK_EQ(e.bytes[XCT_DIR_ORIGINAL], 20 + 20 + sizeof(body));
	/* ICMPv6 echo, whose first fragment parses whatever its length. */
	put16(echo + 4, 77);
	pk = build_packet(&ok6, echo, sizeof(echo), &first6);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = build_packet(&ok6, body, sizeof(body), &later6);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	/* ... for the reassembly timeout, no longer. */
	advance(&fx, SEC_NS(61));
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);

	/* A first fragment a rule drops: its later fragments are dropped. */
	pk = udp_packet_layout(&no, 8, &first);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = build_packet(&no, body, sizeof(body), &later);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_FRAG_FIRST_DROPPED), 1);
	fixture_teardown(&fx);
}

/* An ICMPv6 neighbour discovery or MLD message with the given hop limit
 * and length from src. */
static struct packet nd_packet(const char *src, __u8 type, __u8 hop_limit, __u32 len)
{
	struct flow f = make_flow(XCT_IPPROTO_ICMPV6, src, 0, "ff02::1", 0);
	__u8 msg[64] = {type, 0};
	struct packet pk = build_packet(&f, msg, len, &plain);

	pk.data[pk.l3_off + 7] = hop_limit;
	return pk;
}

TEST(policy_icmpv6_nd_passes_only_well_formed)
{
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, "policy drop\n"))
		return;
	/* Well formed: untracked, and passes. */
	pk = nd_packet("fe80::1", 135, 255, 24);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = nd_packet("fe80::1", 134, 255, 16);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = nd_packet("fe80::1", 143, 1, 8);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMPV6_NEIGHBOUR), 3);
	/* Forwarded by a router (hop limit below 255), too short, a router
	 * advertisement from a global address: INVALID, dropped. */
	pk = nd_packet("fe80::1", 135, 254, 24);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = nd_packet("fe80::1", 136, 255, 8);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = nd_packet("2001:db8::1", 134, 255, 16);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMPV6_ND_INVALID), 3);
	/* MLD: hop limit 1 from a link-local source only. */
	pk = nd_packet("fe80::1", 131, 64, 24);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = nd_packet("2001:db8::1", 143, 1, 8);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_ICMPV6_MLD_INVALID), 2);
	fixture_teardown(&fx);

	/* The rules match them by type, by nft's names. */
	if (!fixture_setup(&fx, 0) || load_rules(&fx, "drop icmpv6 type nd-neighbor-solicit\n"
						      "drop icmpv6 type mld-listener-reduction\n"))
		return;
	pk = nd_packet("fe80::1", 135, 255, 24);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = nd_packet("fe80::1", 136, 255, 24);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = nd_packet("fe80::1", 132, 1, 24);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	fixture_teardown(&fx);
}

/* A packet meeting an entry being deleted is INVALID: `policy drop`
 * drops it, where it used to pass untracked. */
TEST(policy_table_busy_fails_closed)
{
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5000, "10.0.0.2", 53);
	struct xct_ct_entry e;
	struct xct_ct_key key;
	struct fixture fx;
	struct packet pk;
	__u8 side;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept ct state established,related\n"
			    "accept udp dport 53 ct state new\n"))
		return;
	pk = udp_packet(&u, 10);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(get_entry(&fx, &u, &e), 0);
	e.status |= XCT_CT_DYING;
	flow_key(&u, &key, &side);
	CHECK_EQ(bpf_map_update_elem(fx.ct_fd, &key, &e, BPF_EXIST), 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_TABLE_BUSY), 1);
	CHECK_EQ(counter(&fx, XCT_S_INVALID), 1);
	fixture_teardown(&fx);
}

/*
 * An entry whose memory the table recycled for another connection while a
 * packet of the old one held it: it carries another key's ident, and the
 * packet, on the fast path and the full one, leaves it as it is (INVALID,
 * table busy), as it leaves a DYING one.
 */
TEST(policy_recycled_entry_is_left_alone)
{
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 5001, "10.0.0.2", 53);
	struct flow t = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", 5002, "10.0.0.2", 80);
	struct xct_ct_entry e, after;
	struct xct_ct_key key;
	struct fixture fx;
	struct packet pk;
	__u8 side;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy drop\naccept ct state established,related\n"
			    "accept udp dport 53 ct state new\naccept tcp dport 80 ct state new\n"))
		return;
	pk = udp_packet(&u, 10);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	CHECK_EQ(get_entry(&fx, &u, &e), 0);
	flow_key(&u, &key, &side);
	CHECK_EQ(e.ident, xct_key_ident(&key));
	e.ident ^= 1;
	CHECK_EQ(bpf_map_update_elem(fx.ct_fd, &key, &e, BPF_EXIST), 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_TABLE_BUSY), 1);
	CHECK_EQ(get_entry(&fx, &u, &after), 0);
	CHECK_EQ(after.packets[XCT_DIR_ORIGINAL], e.packets[XCT_DIR_ORIGINAL]);

	/* An established TCP connection's ACK, the fast path's packet. */
	tcp_handshake(&fx, &t);
	CHECK_EQ(get_entry(&fx, &t, &e), 0);
	e.ident ^= 1;
	flow_key(&t, &key, &side);
	CHECK_EQ(bpf_map_update_elem(fx.ct_fd, &key, &e, BPF_EXIST), 0);
	pk = tcp_packet(&t, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	CHECK_EQ(reason_count(&fx, XCT_R_TABLE_BUSY), 2);
	CHECK_EQ(get_entry(&fx, &t, &after), 0);
	CHECK_EQ(after.packets[XCT_DIR_ORIGINAL], e.packets[XCT_DIR_ORIGINAL]);
	fixture_teardown(&fx);
}

/*
 * The established fast path (bpf/fast.h) against the full path: the same
 * conversation, once under a ruleset with a notrack rule (which keeps every
 * packet on the full path) and once under one without (the fast path's),
 * must leave the same entry, give the same verdicts and bump the same
 * counters; and the fast path must have taken the established packets.
 * The conversation has what the fast path must leave alone too: the
 * handshake, a first UDP reply, an out-of-window segment, a FIN.
 */
struct fast_run {
	struct xct_ct_entry tcp, udp;
	int verdicts[16];
	__u64 found, packets, fast, ok, invalid;
};

static void fast_conversation(struct fixture *fx, __u16 port, struct fast_run *r)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "10.0.0.1", port, "10.0.0.2", 80);
	struct flow u = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", port, "10.0.0.2", 53);
	struct flow ur = reverse(&u), cr = reverse(&c);
	__u64 found = counter(fx, XCT_S_FOUND), packets = counter(fx, XCT_S_PACKETS);
	__u64 fast = counter(fx, XCT_S_FAST), ok = reason_count(fx, XCT_R_OK);
	__u64 invalid = counter(fx, XCT_S_INVALID);
	struct packet pk;
	int n = 0, i;

	set_now(fx, 1000 * XCT_NSEC_PER_SEC);
	tcp_handshake(fx, &c);
	for (i = 0; i < 3; i++) {
		pk = tcp_packet(&c, XCT_TCPF_ACK | XCT_TCPF_PSH, CLIENT_ISN + 1 + 100 * i,
				SERVER_ISN + 1, 100);
		r->verdicts[n++] = xdp_verdict(fx, &pk);
		pk = tcp_packet(&cr, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 101 + 100 * i, 0);
		r->verdicts[n++] = xdp_verdict(fx, &pk);
		advance(fx, XCT_NSEC_PER_SEC);
	}
	/* Far out of the window: INVALID, the full path's. */
	pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 2000000000u, SERVER_ISN + 1, 10);
	r->verdicts[n++] = xdp_verdict(fx, &pk);
	pk = tcp_packet(&c, XCT_TCPF_FIN | XCT_TCPF_ACK, CLIENT_ISN + 301, SERVER_ISN + 1, 0);
	r->verdicts[n++] = xdp_verdict(fx, &pk);

	/* UDP: unreplied, first reply, replied, then a stream. */
	for (i = 0; i < 2; i++) {
		pk = udp_packet(&u, 32);
		r->verdicts[n++] = xdp_verdict(fx, &pk);
	}
	pk = udp_packet(&ur, 48);
	r->verdicts[n++] = xdp_verdict(fx, &pk);
	advance(fx, 3 * XCT_NSEC_PER_SEC);
	for (i = 0; i < 3; i++) {
		pk = udp_packet(i & 1 ? &ur : &u, 64);
		r->verdicts[n++] = xdp_verdict(fx, &pk);
	}
	CHECK_EQ(get_entry(fx, &c, &r->tcp), 0);
	CHECK_EQ(get_entry(fx, &u, &r->udp), 0);
	r->found = counter(fx, XCT_S_FOUND) - found;
	r->packets = counter(fx, XCT_S_PACKETS) - packets;
	r->fast = counter(fx, XCT_S_FAST) - fast;
	r->ok = reason_count(fx, XCT_R_OK) - ok;
	r->invalid = counter(fx, XCT_S_INVALID) - invalid;
}

TEST(policy_fast_path_tracks_as_the_full_path)
{
	struct fast_run full = {}, fast = {};
	struct fixture fx;
	int i;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy accept\nnotrack udp dport 9\naccept ct state established\n"))
		return;
	fast_conversation(&fx, 40000, &full);
	if (load_rules(&fx, "policy accept\naccept ct state established\n"))
		return;
	fast_conversation(&fx, 40001, &fast);

	CHECK_EQ(full.fast, 0);
	/* Established TCP (3 data segments, 3 ACKs) and the unreplied UDP
	 * packet after the first and the stream's packets. */
	CHECK(fast.fast >= 6);
	for (i = 0; i < 16; i++)
		CHECK_EQ(fast.verdicts[i], full.verdicts[i]);
	CHECK_EQ(fast.found, full.found);
	CHECK_EQ(fast.packets, full.packets);
	CHECK_EQ(fast.ok, full.ok);
	CHECK_EQ(fast.invalid, full.invalid);
	CHECK(full.invalid >= 1);
	/* The entries are the same but for the seq of their updates,
	 * which no reader sees, and the ident of their keys, which differ
	 * in a port. */
	full.tcp.seq = fast.tcp.seq = full.udp.seq = fast.udp.seq = 0;
	full.tcp.ident = fast.tcp.ident = full.udp.ident = fast.udp.ident = 0;
	CHECK(!memcmp((__u8 *)&fast.tcp + 4, (__u8 *)&full.tcp + 4, sizeof(fast.tcp) - 4));
	CHECK(!memcmp((__u8 *)&fast.udp + 4, (__u8 *)&full.udp + 4, sizeof(fast.udp) - 4));
	CHECK_EQ(fast.tcp.state, XCT_TCP_FIN_WAIT);
	CHECK(fast.udp.status & XCT_CT_ASSURED);
	fixture_teardown(&fx);
}

/* One CPU's share of policy_fast_path_loses_no_concurrent_count: a frame
 * run `repeat` times there. */
struct pinned_run {
	int prog_fd, cpu;
	const struct packet *pk;
	__u32 repeat;
	int err;
};

static void *pinned_run(void *arg)
{
	struct pinned_run *r = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	r->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (!r->err) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = r->pk->data,
			    .data_size_in = r->pk->len, .repeat = r->repeat);

		r->err = bpf_prog_test_run_opts(r->prog_fd, &opts);
	}
	return NULL;
}

/*
 * An assured UDP flow's packets are accounted without the entry's lock on
 * the fast path, while packets the fast parser leaves (here, with IP
 * options) are tracked on a copy by the full path and written back.  Run
 * at the same time on two CPUs, every packet must be in the entry's
 * counters: the full path's write-back adds what it counted, and
 * overwrites none of what the fast path added meanwhile.
 */
TEST(policy_fast_path_loses_no_concurrent_count)
{
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.1", 40100, "10.0.0.2", 53);
	struct flow s = reverse(&c);
	struct layout opts = {.ipv4_opt_len = 4};
	struct packet plain = udp_packet(&c, 20), optioned = udp_packet_layout(&c, 20, &opts);
	struct packet answer = udp_packet(&s, 20);
	struct pinned_run runs[2];
	pthread_t threads[2];
	struct xct_ct_entry before, after;
	__u64 fast;
	const __u32 repeat = 200000;
	struct fixture fx;
	int i;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		CHECK_FAIL("needs two CPUs");
		return;
	}
	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx, "policy accept\naccept ct state established\n"))
		return;
	xdp_in(&fx, &plain);
	xdp_in(&fx, &answer);
	advance(&fx, SEC_NS(3));
	xdp_in(&fx, &plain); /* a stream now: ASSURED */
	if (get_entry(&fx, &c, &before) || !(before.status & XCT_CT_ASSURED)) {
		CHECK_FAIL("no assured UDP entry");
		fixture_teardown(&fx);
		return;
	}
	fast = counter(&fx, XCT_S_FAST);
	for (i = 0; i < 2; i++) {
		runs[i] = (struct pinned_run){.prog_fd = bpf_program__fd(fx.skel->progs.xct_xdp),
					      .cpu = i,
					      .pk = i ? &optioned : &plain,
					      .repeat = repeat};
		pthread_create(&threads[i], NULL, pinned_run, &runs[i]);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		CHECK_EQ(runs[i].err, 0);
	}
	get_entry(&fx, &c, &after);
	/* The plain packets took the fast path, the others the full one. */
	CHECK_EQ(counter(&fx, XCT_S_FAST) - fast, repeat);
	CHECK_EQ(after.packets[XCT_DIR_ORIGINAL] - before.packets[XCT_DIR_ORIGINAL], 2ULL * repeat);
	CHECK_EQ(after.bytes[XCT_DIR_ORIGINAL] - before.bytes[XCT_DIR_ORIGINAL],
		 (__u64)repeat * (plain.l3_len + optioned.l3_len));
	CHECK_EQ(after.packets[XCT_DIR_REPLY], before.packets[XCT_DIR_REPLY]);
	fixture_teardown(&fx);
}

/* ---- User chains ---- */

TEST(policy_chains_jump_return_goto)
{
	static const char rules[] = "policy drop\n"
				    "jump web tcp\n"
				    "accept tcp dport 22\n"
				    "chain web {\n"
				    "\treturn saddr 10.9.0.0/16\n"
				    "\taccept dport { 80, 443 }\n"
				    "\tgoto deny dport 8000-8099\n"
				    "\taccept dport 9000\n"
				    "}\n"
				    "chain deny {\n"
				    "\taccept saddr 10.1.0.0/16\n"
				    "\treject saddr 10.2.0.0/16\n"
				    "}\n";
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) || load_rules(&fx, rules))
		return;
	pk = syn_to("10.0.0.1", 40000, "10.0.0.2", 80); /* accepted in web */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.9.0.1", 40000, "10.0.0.2", 80); /* returned: the policy */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.9.0.1", 40001, "10.0.0.2", 22); /* returned, then the base list */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.1.0.1", 40000, "10.0.0.2", 8000); /* decided in deny */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.2.0.1", 40000, "10.0.0.2", 8050);
	CHECK(xdp_rejected(&fx, &pk));
	/* deny does not decide: goto does not come back to web's 9000 rule,
	 * and the base list after the jump goes on */
	pk = syn_to("10.3.0.1", 40000, "10.0.0.2", 8000);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.3.0.1", 40001, "10.0.0.2", 9000);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.3.0.1", 40002, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	fixture_teardown(&fx);
}

/* A return early in a long chain skips candidates in later chunks: the
 * walk drops whole chunks, not just bits of the one it is in. */
TEST(policy_chains_return_skips_chunks)
{
	size_t cap = 1300 * 32, len = 0;
	char *text = malloc(cap);
	struct fixture fx;
	struct packet pk;
	struct xct_policy_ctl ctl;
	struct xct_rule_stats st[512];
	__u32 zero = 0, idx;
	__u64 packets = 0;
	int i;

	if (!text || !fixture_setup(&fx, 0)) {
		free(text);
		return;
	}
	len += (size_t)snprintf(text + len, cap - len,
				"policy drop\njump big tcp\naccept tcp dport 5\nchain big {\n"
				"return saddr 10.9.0.0/16\n");
	for (i = 0; i < 1200; i++)
		len += (size_t)snprintf(text + len, cap - len, "drop dport %d\n", 5 + i % 3);
	snprintf(text + len, cap - len, "}\n");
	if (load_rules(&fx, text)) {
		free(text);
		return;
	}
	free(text);
	pk = syn_to("10.8.0.1", 40000, "10.0.0.2", 5); /* the chain's first drop */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("10.9.0.1", 40000, "10.0.0.2", 5); /* past 1200 drops, in 3 chunks */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("10.9.0.1", 40001, "10.0.0.2", 6); /* past them, to the policy */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	/* The return counted the two packets it sent on; the accept, one. */
	bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.xct_policy_ctl), &zero, &ctl);
	idx = ctl.active_gen * XCT_RULES_MAX + 0;
	CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.xct_rule_stats), &idx, st), 0);
	for (i = 0; i < fx.ncpus; i++)
		packets += st[i].packets;
	CHECK_EQ(packets, 2);
	fixture_teardown(&fx);
}

TEST(policy_vmap_dispatches_by_port)
{
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0) ||
	    load_rules(&fx,
		       "policy drop\n"
		       "tcp dport vmap { 22 : accept, 23 : drop, 25 : reject, 80-89 : jump web }\n"
		       "accept tcp dport 81\n"
		       "chain web {\n"
		       "\taccept saddr 10.0.0.0/8\n"
		       "}\n"))
		return;
	pk = syn_to("192.0.2.1", 40000, "10.0.0.2", 22);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("192.0.2.1", 40000, "10.0.0.2", 23);
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("192.0.2.1", 40000, "10.0.0.2", 25);
	CHECK(xdp_rejected(&fx, &pk));
	pk = syn_to("10.1.1.1", 40000, "10.0.0.2", 85); /* jump web: accepted */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	pk = syn_to("192.0.2.1", 40000, "10.0.0.2", 85); /* web does not decide: drop */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_DROP);
	pk = syn_to("192.0.2.1", 40001, "10.0.0.2", 81); /* back after the vmap's jump */
	CHECK_EQ(xdp_verdict(&fx, &pk), XDP_PASS);
	fixture_teardown(&fx);
}
