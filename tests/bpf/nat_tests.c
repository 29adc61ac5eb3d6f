// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of source NAT in the compiled datapath: a connection's first
 * packet goes in through XDP (which creates its entry), out through
 * xct_nat_egress (which decides and applies the translation), and its
 * replies through XDP (which must hand them to TC untouched) and
 * xct_nat_ingress (which translates them back).  Packets carry correct
 * checksums going in; coming out, every checksum is recomputed here from
 * scratch and must match what the helpers' incremental updates left.
 * Also: the port kept when free and changed on a clash, a one-port range
 * exhausted (counted, the first connection untouched), ICMP echo ids,
 * IPv6, the collector giving a dead connection's tuple back, and two
 * CPUs translating at the same instant from a range too small for all
 * their connections: every tuple given out once, the rest refused.
 * Destination NAT: a connection's first packet through the TC tracker
 * gets its destination translated before routing, its replies are
 * tracked under the connection untouched and get their source put back
 * at egress; a clash with a connection of its own is refused, counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "rules/compile.h"
#include "rules/install.h"
#include "xct.h"
#include "xct/nat.h"
#include "xct/parse.h"
#include "xct/policy.h"

#define NAT_ADDR  "198.51.100.1"
#define NAT_ADDR6 "2001:db8:ffff::1"

/* ---- Checksums, computed from scratch ---- */

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
	return (__u16)~sum;
}

static __u32 l4_csum_off(__u8 proto)
{
	return proto == XCT_IPPROTO_TCP ? 16 : proto == XCT_IPPROTO_UDP ? 6 : 2;
}

/* The transport checksum the packet should carry (its field taken as 0). */
static __u16 l4_csum(const struct packet *pk, int v6, __u8 proto)
{
	const __u8 *ip = pk->data + pk->l3_off, *l4 = pk->data + pk->l4_off;
	__u32 len = pk->l3_off + pk->l3_len - pk->l4_off, off = l4_csum_off(proto), sum = 0;
	__u8 copy[2048];

	memcpy(copy, l4, len);
	copy[off] = copy[off + 1] = 0;
	if (v6) {
		sum = sum16(ip + 8, 32, 0) + (len >> 16) + (len & 0xffff) + proto;
	} else if (proto != XCT_IPPROTO_ICMP) {
		sum = sum16(ip + 12, 8, 0) + proto + len;
	}
	return fold(sum16(copy, len, sum));
}

static __u16 ip_csum(const struct packet *pk)
{
	__u8 hdr[60];
	__u32 ihl = (pk->data[pk->l3_off] & 0xf) * 4;

	memcpy(hdr, pk->data + pk->l3_off, ihl);
	hdr[10] = hdr[11] = 0;
	return fold(sum16(hdr, ihl, 0));
}

static void fill_checksums(struct packet *pk, int v6, __u8 proto)
{
	__u16 c;

	if (!v6) {
		c = ip_csum(pk);
		put16(pk->data + pk->l3_off + 10, c);
	}
	c = l4_csum(pk, v6, proto);
	put16(pk->data + pk->l4_off + l4_csum_off(proto), c);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* Flow f's datagram or segment with the checksums its sender would have
 * put in. */
static struct packet udp_sent(const struct flow *f, __u32 payload_len)
{
	struct packet pk = udp_packet(f, payload_len);

	fill_checksums(&pk, f->family == XCT_AF_INET6, XCT_IPPROTO_UDP);
	return pk;
}

static struct packet tcp_sent(const struct flow *f, __u8 flags, __u32 seq, __u32 ack,
			      __u32 payload_len)
{
	struct packet pk = tcp_packet(f, flags, seq, ack, payload_len);

	fill_checksums(&pk, f->family == XCT_AF_INET6, XCT_IPPROTO_TCP);
	return pk;
}

/* Both checksums are what a full computation gives. */
static int checksums_ok(const struct packet *pk, int v6, __u8 proto)
{
	__u16 l4 = get16(pk->data + pk->l4_off + l4_csum_off(proto));

	if (!v6 && get16(pk->data + pk->l3_off + 10) != ip_csum(pk))
		return 0;
	return l4 == l4_csum(pk, v6, proto);
}

/* ---- Running the programs ---- */

static int run_tc(struct fixture *fx, struct bpf_program *prog, const struct packet *pk,
		  struct packet *out)
{
	struct __sk_buff skb = {.ingress_ifindex = 0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pk->data, .data_size_in = pk->len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .ctx_in = &skb,
		    .ctx_size_in = sizeof(skb), .repeat = 1);

	*out = *pk; /* offsets; the data comes back from the run */
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
		CHECK_FAIL("test run of %s: %s", bpf_program__name(prog), strerror(errno));
		return -1;
	}
	out->len = opts.data_size_out;
	return (int)opts.retval;
}

static int nat_out(struct fixture *fx, const struct packet *pk, struct packet *out)
{
	return run_tc(fx, fx->skel->progs.xct_nat_egress, pk, out);
}

static int nat_in(struct fixture *fx, const struct packet *pk, struct packet *out)
{
	return run_tc(fx, fx->skel->progs.xct_nat_ingress, pk, out);
}

/* XDP's answer to a reply of a translated connection: up to TC, marked. */
static int xdp_marked_nat(struct fixture *fx, const struct packet *pk)
{
	return xdp_handoff(fx, pk, NULL) == XCT_HANDOFF_NAT;
}

/* rules[0..n) as the NAT rules of generation 0, the active one after the
 * fixture's reset, with NAT (and dnat, if one of them is a dnat rule) in
 * use there: what a load of them leaves. */
static void set_nat_rules(struct fixture *fx, const struct xct_nat_rule *rules, __u32 n)
{
	int pfd = bpf_map__fd(fx->skel->maps.xct_policy_ctl);
	struct xct_nat_ctl ctl = {.n_rules = {n, 0}};
	struct xct_policy_ctl pctl;
	__u32 zero = 0, i;

	if (bpf_map_lookup_elem(pfd, &zero, &pctl)) {
		CHECK_FAIL("cannot read xct_policy_ctl: %s", strerror(errno));
		return;
	}
	pctl.gen[0].nat = 1;
	for (i = 0; i < n; i++) {
		pctl.gen[0].dnat |= rules[i].kind == XCT_NAT_DNAT;
		if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_nat_rules), &i, &rules[i],
					BPF_ANY))
			CHECK_FAIL("cannot set NAT rule %u: %s", i, strerror(errno));
	}
	if (bpf_map_update_elem(bpf_map__fd(fx->skel->maps.xct_nat_ctl), &zero, &ctl, BPF_ANY) ||
	    bpf_map_update_elem(pfd, &zero, &pctl, BPF_ANY))
		CHECK_FAIL("cannot set the NAT rules: %s", strerror(errno));
}

/* One snat rule in the active generation; the policy has none. */
static void set_rule(struct fixture *fx, const char *to, __u16 port_lo, __u16 port_hi)
{
	struct xct_nat_rule r = {.kind = XCT_NAT_SNAT, .line = 1};

	if (strchr(to, ':')) {
		inet_pton(AF_INET6, to, r.to_lo.bytes);
		r.family = XCT_AF_INET6;
	} else {
		inet_pton(AF_INET, to, r.to_lo.bytes);
		r.family = XCT_AF_INET;
	}
	r.to_hi = r.to_lo;
	if (port_lo) {
		r.flags = XCT_NATM_PORT_RANGE;
		r.to_port_lo = port_lo;
		r.to_port_hi = port_hi;
	}
	set_nat_rules(fx, &r, 1);
}

static int map_count(int fd)
{
	struct xct_ct_key k, next;
	int n = 0;

	while (bpf_map_get_next_key(fd, n ? &k : NULL, &next) == 0) {
		k = next;
		n++;
	}
	return n;
}

static int bindings(struct fixture *fx)
{
	return map_count(bpf_map__fd(fx->skel->maps.xct_nat));
}

static int claims(struct fixture *fx)
{
	return map_count(bpf_map__fd(fx->skel->maps.xct_nat_rev));
}

static __u32 addr4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static __u32 src4(const struct packet *pk)
{
	__u32 a;

	memcpy(&a, pk->data + pk->l3_off + 12, 4);
	return a;
}

static __u32 dst4(const struct packet *pk)
{
	__u32 a;

	memcpy(&a, pk->data + pk->l3_off + 16, 4);
	return a;
}

static __u16 sport(const struct packet *pk)
{
	return get16(pk->data + pk->l4_off);
}

static __u16 dport(const struct packet *pk)
{
	return get16(pk->data + pk->l4_off + 2);
}

/* ---- Tests ---- */

TEST(nat_udp_both_directions)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53), r;
	struct packet pk, out, back;
	struct xct_ct_entry e;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	pk = udp_sent(&c, 32);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&out), addr4(NAT_ADDR));
	CHECK_EQ(dst4(&out), addr4("192.0.2.9"));
	CHECK_EQ(sport(&out), 40000); /* free: kept */
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_UDP));
	CHECK_EQ(bindings(&fx), 1);
	CHECK_EQ(claims(&fx), 1);
	CHECK_EQ(counter(&fx, XCT_S_NAT_BOUND), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(e.status & XCT_CT_SRC_NAT);

	/* Later packets of the connection: the same translation. */
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&out), addr4(NAT_ADDR));
	CHECK_EQ(bindings(&fx), 1);

	/* The reply, to the translated tuple: XDP takes no decision on it
	 * and creates nothing; TC ingress puts the client back. */
	r = make_flow(XCT_IPPROTO_UDP, "192.0.2.9", 53, NAT_ADDR, 40000);
	pk = udp_sent(&r, 48);
	CHECK(xdp_marked_nat(&fx, &pk));
	CHECK_EQ(table_size(&fx), 1);
	nat_in(&fx, &pk, &back);
	CHECK_EQ(src4(&back), addr4("192.0.2.9"));
	CHECK_EQ(dst4(&back), addr4("10.0.0.2"));
	CHECK_EQ(dport(&back), 40000);
	CHECK(checksums_ok(&back, 0, XCT_IPPROTO_UDP));
	fixture_teardown(&fx);
}

TEST(nat_tcp_port_clash_and_exhaustion)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_TCP, "10.0.0.2", 40000, "192.0.2.9", 80);
	struct flow b = make_flow(XCT_IPPROTO_TCP, "10.0.0.3", 40000, "192.0.2.9", 80);
	struct flow d = make_flow(XCT_IPPROTO_TCP, "10.0.0.4", 40000, "192.0.2.9", 80);
	struct flow other = make_flow(XCT_IPPROTO_TCP, "10.0.0.4", 40000, "192.0.2.9", 443);
	struct packet pk, out;
	__u16 pa, pb;

	if (!fixture_setup(&fx, 0))
		return;
	/* Two clients, one source port: the second gets another port. */
	set_rule(&fx, NAT_ADDR, 0, 0);
	pk = tcp_sent(&a, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	pa = sport(&out);
	pk = tcp_sent(&b, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	pb = sport(&out);
	CHECK_EQ(pa, 40000);
	CHECK(pb != 40000 && pb >= 1024);
	CHECK_EQ(src4(&out), addr4(NAT_ADDR));
	CHECK_EQ(claims(&fx), 2);

	/* A one-port range: the first connection takes it, the next one
	 * to the same destination fails, counted; another destination
	 * still has the port free. */
	fixture_reset(&fx);
	set_rule(&fx, NAT_ADDR, 20000, 20000);
	pk = tcp_sent(&a, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(sport(&out), 20000);
	pk = tcp_sent(&d, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_SHOT);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 1);
	CHECK_EQ(bindings(&fx), 1);
	pk = tcp_sent(&other, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(sport(&out), 20000);
	/* The first connection is untouched. */
	pk = tcp_sent(&a, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 10);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(sport(&out), 20000);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	fixture_teardown(&fx);
}

TEST(nat_icmp_echo_id)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_ICMP, "10.0.0.2", 0, "192.0.2.9", 0), r;
	struct packet pk, out, back;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	c.sport = 0x1234; /* the identifier */
	pk = icmp_packet(&c, 8, 0);
	fill_checksums(&pk, 0, XCT_IPPROTO_ICMP);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&out), addr4(NAT_ADDR));
	CHECK_EQ(get16(out.data + out.l4_off + 4), 0x1234);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_ICMP));

	r = make_flow(XCT_IPPROTO_ICMP, "192.0.2.9", 0, NAT_ADDR, 0);
	r.sport = 0x1234;
	pk = icmp_packet(&r, 0, 0);
	fill_checksums(&pk, 0, XCT_IPPROTO_ICMP);
	CHECK(xdp_marked_nat(&fx, &pk));
	nat_in(&fx, &pk, &back);
	CHECK_EQ(dst4(&back), addr4("10.0.0.2"));
	CHECK_EQ(get16(back.data + back.l4_off + 4), 0x1234);
	CHECK(checksums_ok(&back, 0, XCT_IPPROTO_ICMP));
	fixture_teardown(&fx);
}

TEST(nat_ipv6_tcp)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_TCP, "fd00::2", 40000, "2001:db8::9", 443), r;
	struct packet pk, out, back;
	__u8 want[16];

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR6, 0, 0);
	pk = tcp_sent(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(nat_out(&fx, &pk, &out), TC_ACT_UNSPEC);
	inet_pton(AF_INET6, NAT_ADDR6, want);
	CHECK(!memcmp(out.data + out.l3_off + 8, want, 16));
	CHECK(checksums_ok(&out, 1, XCT_IPPROTO_TCP));

	r = make_flow(XCT_IPPROTO_TCP, "2001:db8::9", 443, NAT_ADDR6, 40000);
	pk = tcp_sent(&r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK(xdp_marked_nat(&fx, &pk));
	nat_in(&fx, &pk, &back);
	inet_pton(AF_INET6, "fd00::2", want);
	CHECK(!memcmp(back.data + back.l3_off + 24, want, 16));
	CHECK(checksums_ok(&back, 1, XCT_IPPROTO_TCP));
	fixture_teardown(&fx);
}

TEST(nat_gc_gives_the_tuple_back)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct packet pk, out;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	pk = udp_sent(&c, 32);
	xdp_in(&fx, &pk);
	nat_out(&fx, &pk, &out);
	CHECK_EQ(bindings(&fx), 1);
	advance(&fx, SEC_NS(31)); /* past the unreplied UDP timeout */
	gc_run(&fx);
	CHECK_EQ(table_size(&fx), 0);
	CHECK_EQ(bindings(&fx), 0);
	CHECK_EQ(claims(&fx), 0);
	fixture_teardown(&fx);
}

/* A full table evicts an unreplied translated connection for a new one:
 * its binding and claim go with it, and only the newcomer holds one. */
TEST(nat_eviction_gives_the_tuple_back)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40001, "192.0.2.9", 53);
	struct packet pa, pb, out;
	struct xct_ct_entry e;

	if (!fixture_setup(&fx, 1))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	pa = udp_sent(&a, 32);
	xdp_in(&fx, &pa);
	nat_out(&fx, &pa, &out);
	CHECK_EQ(bindings(&fx), 1);
	CHECK_EQ(claims(&fx), 1);
	advance(&fx, SEC_NS(1));
	pb = udp_sent(&b, 32);
	xdp_in(&fx, &pb); /* evicts a */
	CHECK_EQ(table_size(&fx), 1);
	CHECK(get_entry(&fx, &a, &e) != 0);
	CHECK_EQ(bindings(&fx), 0);
	CHECK_EQ(claims(&fx), 0);
	nat_out(&fx, &pb, &out);
	CHECK_EQ(bindings(&fx), 1);
	CHECK_EQ(claims(&fx), 1);
	CHECK_EQ(src4(&out), addr4(NAT_ADDR));
	fixture_teardown(&fx);
}

/*
 * A connection's binding outlives its entry: the entry expired and a new
 * packet on the same tuple revived it (a new connection, whose first
 * packet is between XDP and TC egress, or was refused by the policy), so
 * the old binding is stale.  A late reply to the old translated tuple
 * frees the claim, and another connection takes the tuple.  When the new
 * connection on the old tuple then leaves, freeing the stale binding must
 * not free that other connection's claim: the tuple would be given out
 * twice.
 */
TEST(nat_stale_binding_frees_only_its_own_claim)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.3", 40000, "192.0.2.9", 53);
	struct flow late = make_flow(XCT_IPPROTO_UDP, "192.0.2.9", 53, NAT_ADDR, 20000);
	struct packet pa, pb, pl, out, back;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 20000, 20000); /* one tuple to give */
	pa = udp_sent(&a, 32);
	xdp_in(&fx, &pa);
	CHECK_EQ(nat_out(&fx, &pa, &out), TC_ACT_UNSPEC);
	CHECK_EQ(sport(&out), 20000);

	/* Expired, not yet collected; a new packet revives the entry. */
	advance(&fx, SEC_NS(31));
	xdp_in(&fx, &pa);
	/* The server's late answer to the old connection: its claim is
	 * one the connection no longer holds, and goes. */
	pl = udp_sent(&late, 32);
	CHECK(xdp_marked_nat(&fx, &pl));
	nat_in(&fx, &pl, &back);
	CHECK_EQ(claims(&fx), 0);
	/* Another client takes the free tuple. */
	pb = udp_sent(&b, 32);
	xdp_in(&fx, &pb);
	CHECK_EQ(nat_out(&fx, &pb, &out), TC_ACT_UNSPEC);
	CHECK_EQ(sport(&out), 20000);
	CHECK_EQ(claims(&fx), 1);

	/* The revived connection's packet leaves: its stale binding goes,
	 * the other client's claim stays, and the range has nothing left. */
	CHECK_EQ(nat_out(&fx, &pa, &out), TC_ACT_SHOT);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 1);
	CHECK_EQ(claims(&fx), 1);
	CHECK_EQ(bindings(&fx), 1);
	/* And the other client's replies still find their way back. */
	pl = udp_sent(&late, 32);
	CHECK(xdp_marked_nat(&fx, &pl));
	nat_in(&fx, &pl, &back);
	CHECK_EQ(dst4(&back), addr4("10.0.0.3"));
	CHECK_EQ(dport(&back), 40000);
	fixture_teardown(&fx);
}

/*
 * The same stale binding, when the revived connection never reaches the
 * NAT (its packet went elsewhere, or died in the stack) and its entry
 * expires in turn: the collector frees the binding and the claim with the
 * entry, and the tuple can be given again.
 */
TEST(nat_gc_frees_a_stale_binding)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.3", 40000, "192.0.2.9", 53);
	struct packet pa, pb, out;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 20000, 20000);
	pa = udp_sent(&a, 32);
	xdp_in(&fx, &pa);
	CHECK_EQ(nat_out(&fx, &pa, &out), TC_ACT_UNSPEC);
	advance(&fx, SEC_NS(31));
	xdp_in(&fx, &pa); /* revived, never leaves */
	advance(&fx, SEC_NS(31));
	gc_run(&fx);
	CHECK_EQ(table_size(&fx), 0);
	CHECK_EQ(bindings(&fx), 0);
	CHECK_EQ(claims(&fx), 0);
	pb = udp_sent(&b, 32);
	xdp_in(&fx, &pb);
	CHECK_EQ(nat_out(&fx, &pb, &out), TC_ACT_UNSPEC);
	CHECK_EQ(sport(&out), 20000);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 0);
	fixture_teardown(&fx);
}

/* The canonical key of a tuple given by its parts, as the datapath makes it. */
static struct xct_ct_key key_of(__u8 proto, const char *src, __u16 sp, const char *dst, __u16 dp)
{
	struct xct_tuple t;
	struct xct_ct_key k;
	__u8 side;

	memset(&t, 0, sizeof(t));
	t.family = XCT_AF_INET;
	t.proto = proto;
	t.src.v4 = addr4(src);
	t.dst.v4 = addr4(dst);
	t.sport = htons(sp);
	t.dport = htons(dp);
	memset(&k, 0, sizeof(k));
	xct_key_from_tuple(&t, &k, &side);
	return k;
}

/*
 * Between claiming a translated tuple and storing its binding, a
 * connection's claim has no binding yet.  A packet to that tuple arriving
 * on another CPU at that moment (a stray answer, or someone sweeping the
 * NAT's ports) must leave the claim alone: freed, it would let a second
 * connection take the tuple the first is about to use.  The state is made
 * here by hand: the first packet tracked, its claim in place.
 */
TEST(nat_claim_being_bound_survives_a_packet_to_it)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.3", 40000, "192.0.2.9", 53);
	struct flow stray = make_flow(XCT_IPPROTO_UDP, "192.0.2.9", 53, NAT_ADDR, 20000);
	struct xct_ct_key ka = key_of(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct xct_ct_key rk = key_of(XCT_IPPROTO_UDP, NAT_ADDR, 20000, "192.0.2.9", 53);
	struct packet pa, pb, ps, out, back;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 20000, 20000);
	pa = udp_sent(&a, 32);
	xdp_in(&fx, &pa);
	if (bpf_map_update_elem(bpf_map__fd(fx.skel->maps.xct_nat_rev), &rk, &ka, BPF_NOEXIST))
		CHECK_FAIL("cannot place the claim: %s", strerror(errno));
	ps = udp_sent(&stray, 32);
	CHECK(xdp_marked_nat(&fx, &ps));
	nat_in(&fx, &ps, &back);
	CHECK_EQ(claims(&fx), 1);
	/* The tuple is not given to another connection meanwhile. */
	pb = udp_sent(&b, 32);
	xdp_in(&fx, &pb);
	CHECK_EQ(nat_out(&fx, &pb, &out), TC_ACT_SHOT);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 1);
	/* A claim whose connection is gone is freed by such a packet. */
	advance(&fx, SEC_NS(31));
	gc_run(&fx);
	CHECK_EQ(table_size(&fx), 0);
	CHECK(xdp_marked_nat(&fx, &ps));
	nat_in(&fx, &ps, &back);
	CHECK_EQ(claims(&fx), 0);
	fixture_teardown(&fx);
}

/* ---- Two CPUs allocating at once ---- */

#define RACE_PORTS 64 /* the range: 20000-20063 */
#define RACE_CONNS 48 /* per CPU: 96 connections for 64 tuples */

struct racer {
	struct fixture *fx;
	int cpu;
	struct packet pk[RACE_CONNS];
	int ret[RACE_CONNS];
	__u16 port[RACE_CONNS];
	int err;
};

/* The datapath's scratch is per CPU: each runner keeps to its own. */
static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
}

/* pk through xct_nat_egress from a thread (no CHECK there): its verdict
 * and the source port it left with; 0 or an errno. */
static int egress_run(int prog, const struct packet *pk, int *ret, __u16 *port)
{
	struct __sk_buff skb = {};
	struct packet out;
	LIBBPF_OPTS(bpf_test_run_opts, eg, .data_in = pk->data, .data_size_in = pk->len,
		    .data_out = out.data, .data_size_out = sizeof(out.data), .ctx_in = &skb,
		    .ctx_size_in = sizeof(skb), .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &eg))
		return errno;
	*ret = (int)eg.retval;
	*port = get16(out.data + pk->l4_off);
	return 0;
}

static void *race(void *arg)
{
	struct racer *r = arg;
	int xdp = bpf_program__fd(r->fx->skel->progs.xct_xdp);
	int egress = bpf_program__fd(r->fx->skel->progs.xct_nat_egress);
	int i;

	r->err = pin_to_cpu(r->cpu);
	for (i = 0; i < RACE_CONNS && !r->err; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, in, .data_in = r->pk[i].data,
			    .data_size_in = r->pk[i].len, .repeat = 1);

		if (bpf_prog_test_run_opts(xdp, &in))
			r->err = errno;
		else
			r->err = egress_run(egress, &r->pk[i], &r->ret[i], &r->port[i]);
	}
	return NULL;
}

TEST(nat_two_cpus_never_share_a_tuple)
{
	static struct racer racers[2];
	struct fixture fx;
	pthread_t th[2];
	int i, k, ok = 0, shot = 0, seen[RACE_PORTS] = {0};
	char src[32];

	if (!fixture_setup(&fx, 0))
		return;
	if (fx.ncpus < 2) {
		CHECK_FAIL("needs two CPUs, has %d", fx.ncpus);
		return;
	}
	set_rule(&fx, NAT_ADDR, 20000, 20000 + RACE_PORTS - 1);
	for (k = 0; k < 2; k++) {
		racers[k].fx = &fx;
		racers[k].cpu = k;
		racers[k].err = 0;
		for (i = 0; i < RACE_CONNS; i++) {
			struct flow f;

			snprintf(src, sizeof(src), "10.%d.0.%d", k + 1, i + 1);
			f = make_flow(XCT_IPPROTO_TCP, src, 40000, "192.0.2.9", 80);
			racers[k].pk[i] = tcp_packet(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
			fill_checksums(&racers[k].pk[i], 0, XCT_IPPROTO_TCP);
		}
	}
	for (k = 0; k < 2; k++)
		if (pthread_create(&th[k], NULL, race, &racers[k])) {
			CHECK_FAIL("cannot start a thread");
			return;
		}
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	for (k = 0; k < 2; k++) {
		CHECK_EQ(racers[k].err, 0);
		for (i = 0; i < RACE_CONNS; i++) {
			if (racers[k].ret[i] == TC_ACT_SHOT) {
				shot++;
				continue;
			}
			CHECK_EQ(racers[k].ret[i], TC_ACT_UNSPEC);
			ok++;
			if (racers[k].port[i] >= 20000 && racers[k].port[i] < 20000 + RACE_PORTS)
				seen[racers[k].port[i] - 20000]++;
			else
				CHECK_FAIL("port %u out of the range", racers[k].port[i]);
		}
	}
	/* Every tuple of the range given out once, the rest refused. */
	CHECK_EQ(ok, RACE_PORTS);
	CHECK_EQ(shot, 2 * RACE_CONNS - RACE_PORTS);
	for (i = 0; i < RACE_PORTS; i++)
		if (seen[i] != 1)
			CHECK_FAIL("port %d given %d times", 20000 + i, seen[i]);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 2 * RACE_CONNS - RACE_PORTS);
	CHECK_EQ(bindings(&fx), RACE_PORTS);
	CHECK_EQ(claims(&fx), RACE_PORTS);
	fixture_teardown(&fx);
}

/*
 * Two CPUs translating the first packet of the same connection at the same
 * instant (a resolver's A and AAAA queries from one socket, nf_nat's
 * "clash" case): both packets leave with one translation, neither is
 * dropped, and the loser's claim is given back.  The tracker has the
 * entries already, so every clash counted is the NAT's.
 */
#define CLASH_CONNS 1000

struct clasher {
	struct fixture *fx;
	pthread_barrier_t *start;
	int cpu;
	int ret[CLASH_CONNS];
	__u16 port[CLASH_CONNS];
	int err;
};

static struct packet clash_pk[CLASH_CONNS];

static void *clash(void *arg)
{
	struct clasher *r = arg;
	int egress = bpf_program__fd(r->fx->skel->progs.xct_nat_egress);
	int i, err = pin_to_cpu(r->cpu);

	/* Every round waits for both threads, failed or not. */
	for (i = 0; i < CLASH_CONNS; i++) {
		pthread_barrier_wait(r->start);
		if (!err)
			err = egress_run(egress, &clash_pk[i], &r->ret[i], &r->port[i]);
	}
	r->err = err;
	return NULL;
}

TEST(nat_one_connection_two_cpus_one_translation)
{
	static struct clasher cl[2];
	static int owner[65536];
	pthread_barrier_t start;
	pthread_t th[2];
	struct fixture fx;
	char src[32];
	int i, k;

	if (!fixture_setup(&fx, 0))
		return;
	if (fx.ncpus < 2) {
		CHECK_FAIL("needs two CPUs, has %d", fx.ncpus);
		return;
	}
	/* One source port for every client: all but one connection must
	 * move, each CPU from a random start of its own. */
	set_rule(&fx, NAT_ADDR, 20000, 20000 + 2 * CLASH_CONNS - 1);
	for (i = 0; i < CLASH_CONNS; i++) {
		struct flow f;

		snprintf(src, sizeof(src), "10.%d.%d.2", i / 250 + 1, i % 250 + 1);
		f = make_flow(XCT_IPPROTO_UDP, src, 40000, "192.0.2.9", 53);
		clash_pk[i] = udp_packet(&f, 32);
		fill_checksums(&clash_pk[i], 0, XCT_IPPROTO_UDP);
		xdp_in(&fx, &clash_pk[i]);
	}
	CHECK_EQ(counter(&fx, XCT_S_CLASH_RESOLVE), 0);
	pthread_barrier_init(&start, NULL, 2);
	for (k = 0; k < 2; k++) {
		cl[k].fx = &fx;
		cl[k].start = &start;
		cl[k].cpu = k;
		cl[k].err = 0;
		if (pthread_create(&th[k], NULL, clash, &cl[k])) {
			CHECK_FAIL("cannot start a thread");
			return;
		}
	}
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&start);
	CHECK_EQ(cl[0].err, 0);
	CHECK_EQ(cl[1].err, 0);
	memset(owner, 0, sizeof(owner));
	for (i = 0; i < CLASH_CONNS; i++) {
		CHECK_EQ(cl[0].ret[i], TC_ACT_UNSPEC);
		CHECK_EQ(cl[1].ret[i], TC_ACT_UNSPEC);
		if (cl[0].port[i] != cl[1].port[i])
			CHECK_FAIL("connection %d left by port %u and by port %u", i, cl[0].port[i],
				   cl[1].port[i]);
		if (owner[cl[0].port[i]])
			CHECK_FAIL("port %u given to connections %d and %d", cl[0].port[i],
				   owner[cl[0].port[i]] - 1, i);
		owner[cl[0].port[i]] = i + 1;
	}
	CHECK_EQ(bindings(&fx), CLASH_CONNS);
	CHECK_EQ(claims(&fx), CLASH_CONNS);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 0);
	CHECK_EQ(counter(&fx, XCT_S_NAT_BOUND), CLASH_CONNS);
	/* The race was run, not just survived. */
	fprintf(stderr, "# %llu of %d first packets lost the race\n",
		(unsigned long long)counter(&fx, XCT_S_CLASH_RESOLVE), CLASH_CONNS);
	CHECK(counter(&fx, XCT_S_CLASH_RESOLVE) > 0);
	fixture_teardown(&fx);
}

TEST(nat_icmp_error_about_translated_connection)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.3", 40000, "192.0.2.9", 53);
	struct packet pa, pb, out, err, back;
	__u32 il3, il4;
	__u16 translated;
	__u8 hdr[20];

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	pa = udp_sent(&a, 32);
	xdp_in(&fx, &pa);
	nat_out(&fx, &pa, &out);
	/* The second client's port is taken: it leaves on another. */
	pb = udp_sent(&b, 32);
	xdp_in(&fx, &pb);
	nat_out(&fx, &pb, &out);
	translated = sport(&out);
	CHECK(translated != 40000);

	/* The server's port unreachable quotes what it got. */
	err = icmp_error_packet("192.0.2.9", NAT_ADDR, 3, 3, &out);
	fill_checksums(&err, 0, XCT_IPPROTO_ICMP);
	CHECK(xdp_marked_nat(&fx, &err));
	nat_in(&fx, &err, &back);
	il3 = back.l4_off + 8;
	il4 = il3 + 20;
	CHECK_EQ(dst4(&back), addr4("10.0.0.3"));
	CHECK(!memcmp(back.data + il3 + 12, &pb.data[pb.l3_off + 12], 4));
	CHECK_EQ(get16(back.data + il4), 40000);
	/* Outer IP and ICMP checksums, from scratch; the quoted IP header's
	 * own; the quoted UDP checksum is the client's packet's again. */
	CHECK(checksums_ok(&back, 0, XCT_IPPROTO_ICMP));
	memcpy(hdr, back.data + il3, 20);
	hdr[10] = hdr[11] = 0;
	CHECK_EQ(get16(back.data + il3 + 10), fold(sum16(hdr, 20, 0)));
	CHECK_EQ(get16(back.data + il4 + 6), get16(pb.data + pb.l4_off + 6));
	fixture_teardown(&fx);
}

/* An ICMP error quoting all of packet q, as an IPv6 router's does (and an
 * IPv4 one's may): the quoted packet's own checksum is then in it. */
static struct packet icmp_error_quoting_all(const char *from, const char *to, __u8 type,
					    const struct packet *q)
{
	struct flow f = make_flow(0, from, 0, to, 0);
	__u8 msg[1024] = {type};
	__u32 quoted = q->l3_len;

	f.proto = f.family == XCT_AF_INET ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6;
	if (f.family == XCT_AF_INET6 && type == 2)
		put32(msg + 4, 1280); /* Packet Too Big's MTU */
	if (f.family == XCT_AF_INET && type == 3)
		put16(msg + 6, 1000); /* fragmentation needed's next-hop MTU */
	memcpy(msg + 8, q->data + q->l3_off, quoted);
	return build_packet(&f, msg, 8 + quoted, &plain);
}

/* The packet an error quotes is exactly pk's IP packet. */
static int quotes(const struct packet *err, const struct packet *pk)
{
	return err->l3_off + err->l3_len - (err->l4_off + 8) >= pk->l3_len &&
	       !memcmp(err->data + err->l4_off + 8, pk->data + pk->l3_off, pk->l3_len);
}

/* Path-MTU discovery through masquerade over IPv6: a router beyond the
 * NAT answers a translated segment with Packet Too Big, to the NAT's
 * address; it reaches the client quoting the segment exactly as the
 * client sent it, every checksum right (ICMPv6's over its pseudo-header,
 * the quoted segment's own). */
TEST(nat_ipv6_packet_too_big_reaches_the_client)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_TCP, "fd00::2", 40000, "2001:db8::9", 443);
	struct flow b = make_flow(XCT_IPPROTO_TCP, "fd00::3", 40000, "2001:db8::9", 443);
	struct packet pa, pb, out, err, back;
	__u8 want[16];

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR6, 0, 0);
	pa = tcp_sent(&a, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pa);
	nat_out(&fx, &pa, &out);
	/* The second client's port is taken: it leaves on another. */
	pb = tcp_sent(&b, XCT_TCPF_SYN, CLIENT_ISN, 0, 600);
	xdp_in(&fx, &pb);
	CHECK_EQ(nat_out(&fx, &pb, &out), TC_ACT_UNSPEC);
	CHECK(sport(&out) != 40000);

	err = icmp_error_quoting_all("2001:db8::77", NAT_ADDR6, 2, &out);
	fill_checksums(&err, 1, XCT_IPPROTO_ICMPV6);
	CHECK(xdp_marked_nat(&fx, &err));
	CHECK_EQ(nat_in(&fx, &err, &back), TC_ACT_UNSPEC);
	inet_pton(AF_INET6, "fd00::3", want);
	CHECK(!memcmp(back.data + back.l3_off + 24, want, 16));
	CHECK(quotes(&back, &pb));
	CHECK(checksums_ok(&back, 1, XCT_IPPROTO_ICMPV6));
	fixture_teardown(&fx);
}

/* traceroute with ping through masquerade over IPv6: Time Exceeded for an
 * echo request whose identifier the NAT changed. */
TEST(nat_ipv6_time_exceeded_for_echo)
{
	struct fixture fx;
	struct flow a = make_flow(XCT_IPPROTO_ICMPV6, "fd00::2", 0, "2001:db8::9", 0);
	struct flow b = make_flow(XCT_IPPROTO_ICMPV6, "fd00::3", 0, "2001:db8::9", 0);
	struct packet pa, pb, out, err, back;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR6, 0, 0);
	a.sport = b.sport = 0x4242; /* one identifier: the second is moved */
	pa = icmp_packet(&a, 128, 0);
	fill_checksums(&pa, 1, XCT_IPPROTO_ICMPV6);
	xdp_in(&fx, &pa);
	nat_out(&fx, &pa, &out);
	pb = icmp_packet(&b, 128, 0);
	fill_checksums(&pb, 1, XCT_IPPROTO_ICMPV6);
	xdp_in(&fx, &pb);
	CHECK_EQ(nat_out(&fx, &pb, &out), TC_ACT_UNSPEC);
	CHECK(get16(out.data + out.l4_off + 4) != 0x4242);
	CHECK(checksums_ok(&out, 1, XCT_IPPROTO_ICMPV6));

	err = icmp_error_quoting_all("2001:db8::77", NAT_ADDR6, 3, &out);
	fill_checksums(&err, 1, XCT_IPPROTO_ICMPV6);
	CHECK(xdp_marked_nat(&fx, &err));
	CHECK_EQ(nat_in(&fx, &err, &back), TC_ACT_UNSPEC);
	CHECK(quotes(&back, &pb));
	CHECK(checksums_ok(&back, 1, XCT_IPPROTO_ICMPV6));
	fixture_teardown(&fx);
}

/* An error from the inside about a reply of a source-translated
 * connection (the client's port unreachable once its socket is gone)
 * leaves as the translated address, quoting the reply exactly as the
 * server sent it, so that it reaches the server's socket. */
static void snat_error_about_reply(int v6)
{
	const char *ca = v6 ? "fd00::2" : "10.0.0.2", *cb = v6 ? "fd00::3" : "10.0.0.3";
	const char *srv = v6 ? "2001:db8::9" : "192.0.2.9", *nat = v6 ? NAT_ADDR6 : NAT_ADDR;
	__u8 icmp = v6 ? XCT_IPPROTO_ICMPV6 : XCT_IPPROTO_ICMP;
	struct flow a = make_flow(XCT_IPPROTO_UDP, ca, 40000, srv, 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, cb, 40000, srv, 53), r;
	struct packet pk, out, reply, back, err, sent;
	union xct_addr want;
	__u16 translated;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, nat, 0, 0);
	pk = udp_packet(&a, 32);
	fill_checksums(&pk, v6, XCT_IPPROTO_UDP);
	xdp_in(&fx, &pk);
	nat_out(&fx, &pk, &out);
	pk = udp_packet(&b, 32);
	fill_checksums(&pk, v6, XCT_IPPROTO_UDP);
	xdp_in(&fx, &pk);
	nat_out(&fx, &pk, &out);
	translated = sport(&out);
	CHECK(translated != 40000);

	r = make_flow(XCT_IPPROTO_UDP, srv, 53, nat, translated);
	reply = udp_packet(&r, 48);
	fill_checksums(&reply, v6, XCT_IPPROTO_UDP);
	CHECK(xdp_marked_nat(&fx, &reply));
	nat_in(&fx, &reply, &back);
	CHECK_EQ(dport(&back), 40000);

	err = icmp_error_quoting_all(cb, srv, v6 ? 1 : 3, &back);
	if (!v6)
		err.data[err.l4_off + 1] = 3; /* port unreachable */
	else
		err.data[err.l4_off + 1] = 4;
	fill_checksums(&err, v6, icmp);
	CHECK_EQ(nat_out(&fx, &err, &sent), TC_ACT_UNSPEC);
	inet_pton(v6 ? AF_INET6 : AF_INET, nat, want.bytes);
	CHECK(!memcmp(sent.data + sent.l3_off + (v6 ? 8 : 12), want.bytes, v6 ? 16 : 4));
	CHECK(quotes(&sent, &reply));
	CHECK(checksums_ok(&sent, v6, icmp));
	fixture_teardown(&fx);
}

TEST(nat_error_about_reply_leaves_translated)
{
	snat_error_about_reply(0);
}

TEST(nat_ipv6_error_about_reply_leaves_translated)
{
	snat_error_about_reply(1);
}

/* ---- Destination NAT (port forwarding) ---- */

#define PUB_ADDR   "198.51.100.1"
#define INNER_ADDR "10.231.2.2"
#define CLIENT	   "203.0.113.5"

/* One dnat rule: PROTO dport 8080 to INNER_ADDR:80 (port 0: the
 * connection's own). */
static void set_dnat_rule(struct fixture *fx, __u8 proto, __u16 port)
{
	struct xct_nat_rule r = {.kind = XCT_NAT_DNAT, .family = XCT_AF_INET, .line = 1};

	r.proto = proto;
	r.flags = XCT_NATM_PROTO | XCT_NATM_DPORT;
	r.dport_lo = r.dport_hi = 8080;
	inet_pton(AF_INET, INNER_ADDR, r.to_lo.bytes);
	r.to_hi = r.to_lo;
	if (port) {
		r.flags |= XCT_NATM_PORT_RANGE;
		r.to_port_lo = r.to_port_hi = port;
	}
	set_nat_rules(fx, &r, 1);
}

/* The NAT program's way back into the tracker, as xct attach sets it:
 * on (1) or off (0). */
static void set_track_prog(struct fixture *fx, int on)
{
	int fd = bpf_map__fd(fx->skel->maps.xct_nat_progs);
	__u32 slot = XCT_NAT_PROG_TRACK, prog = bpf_program__fd(fx->skel->progs.xct_tc_ingress);

	if (on ? bpf_map_update_elem(fd, &slot, &prog, BPF_ANY) : bpf_map_delete_elem(fd, &slot))
		CHECK_FAIL("cannot set the tracker's slot: %s", strerror(errno));
}

/* TC ingress, as in tc mode: tracks, then xct_nat_ingress translates. */
static int tc_ingress(struct fixture *fx, const struct packet *pk, struct packet *out)
{
	return run_tc(fx, fx->skel->progs.xct_tc_ingress, pk, out);
}

/* XDP marks an accepted packet for TC to dnat while dnat is in use. */
static int xdp_marked_dnat(struct fixture *fx, const struct packet *pk)
{
	return xdp_handoff(fx, pk, NULL) == XCT_HANDOFF_DNAT;
}

TEST(dnat_tcp_both_directions)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_TCP, CLIENT, 40000, PUB_ADDR, 8080);
	struct flow r = make_flow(XCT_IPPROTO_TCP, INNER_ADDR, 80, CLIENT, 40000);
	struct packet pk, out;
	struct xct_ct_entry e;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_rule(&fx, XCT_IPPROTO_TCP, 80);
	set_track_prog(&fx, 1);

	/* The SYN: tracked under its own tuple, its destination translated
	 * before routing. */
	pk = tcp_sent(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK(xdp_marked_dnat(&fx, &pk));
	fixture_reset(&fx);
	set_dnat_rule(&fx, XCT_IPPROTO_TCP, 80);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&out), addr4(CLIENT));
	CHECK_EQ(sport(&out), 40000);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(dport(&out), 80);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(e.status & XCT_CT_DST_NAT);
	CHECK(!(e.status & XCT_CT_SRC_NAT));
	CHECK_EQ(e.state, XCT_TCP_SYN_SENT);
	CHECK_EQ(bindings(&fx), 1);
	CHECK_EQ(claims(&fx), 1);
	CHECK_EQ(counter(&fx, XCT_S_NAT_BOUND), 1);
	/* Leaving towards the server: already translated, left alone. */
	CHECK_EQ(nat_out(&fx, &out, &pk), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&pk), addr4(INNER_ADDR));
	CHECK_EQ(dport(&pk), 80);

	/* The SYN-ACK from the server, arriving: tracked under the
	 * connection, untouched (no entry of its own). */
	pk = tcp_sent(&r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&out), addr4(INNER_ADDR));
	CHECK_EQ(sport(&out), 80);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK(e.status & XCT_CT_SEEN_REPLY);
	CHECK_EQ(e.state, XCT_TCP_SYN_RECV);
	CHECK_EQ(e.packets[1], 1);
	/* Leaving towards the client, after routing: the public source. */
	CHECK_EQ(nat_out(&fx, &out, &pk), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&pk), addr4(PUB_ADDR));
	CHECK_EQ(sport(&pk), 8080);
	CHECK_EQ(dst4(&pk), addr4(CLIENT));
	CHECK_EQ(dport(&pk), 40000);
	CHECK(checksums_ok(&pk, 0, XCT_IPPROTO_TCP));

	/* The client's ACK: established, translated from the binding. */
	pk = tcp_sent(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 10);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(dport(&out), 80);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(bindings(&fx), 1);

	/* The connection's end gives the claim back. */
	CHECK_EQ(ctl(&fx, XCT_CTL_CT_FLUSH).ret, 0);
	CHECK_EQ(bindings(&fx), 0);
	CHECK_EQ(claims(&fx), 0);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

TEST(dnat_udp_port_kept_and_clash)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_UDP, CLIENT, 40000, PUB_ADDR, 8080);
	struct flow miss = make_flow(XCT_IPPROTO_UDP, CLIENT, 40001, PUB_ADDR, 8081);
	struct flow inner = make_flow(XCT_IPPROTO_UDP, CLIENT, 40002, INNER_ADDR, 8080);
	struct flow c2 = make_flow(XCT_IPPROTO_UDP, CLIENT, 40002, PUB_ADDR, 8080);
	struct flow r = make_flow(XCT_IPPROTO_UDP, INNER_ADDR, 8080, CLIENT, 40000);
	struct packet pk, out, back;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_rule(&fx, XCT_IPPROTO_UDP, 0);
	set_track_prog(&fx, 1);
	/* No port in the rule: the connection's own is kept. */
	pk = udp_sent(&c, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(dport(&out), 8080);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_UDP));
	pk = udp_sent(&r, 40);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(nat_out(&fx, &out, &back), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&back), addr4(PUB_ADDR));
	CHECK_EQ(sport(&back), 8080);
	CHECK(checksums_ok(&back, 0, XCT_IPPROTO_UDP));
	CHECK_EQ(table_size(&fx), 1);

	/* A port no rule names: not translated. */
	pk = udp_sent(&miss, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(PUB_ADDR));
	CHECK_EQ(bindings(&fx), 1);

	/* A connection of its own already has the translated tuple: the
	 * new one cannot have it, and is dropped, counted. */
	pk = udp_sent(&inner, 32);
	tc_ingress(&fx, &pk, &out);
	/* The rule applies, but to the tuple it has: nothing to do. */
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(bindings(&fx), 1);
	pk = udp_sent(&c2, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_SHOT);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 1);
	CHECK_EQ(bindings(&fx), 1);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/*
 * While dnat is in use, XDP hands an accepted packet to TC (marked) only
 * where a destination translation applies or may still be made: a new or
 * unanswered connection, or a destination-translated one; not an
 * established connection that no rule translated.
 */
TEST(dnat_handoff_only_where_it_may_apply)
{
	struct fixture fx;
	struct flow u = make_flow(XCT_IPPROTO_UDP, CLIENT, 40010, INNER_ADDR, 53);
	struct flow ur = make_flow(XCT_IPPROTO_UDP, INNER_ADDR, 53, CLIENT, 40010);
	struct flow q = make_flow(XCT_IPPROTO_UDP, CLIENT, 40011, INNER_ADDR, 53);
	struct flow c = make_flow(XCT_IPPROTO_UDP, CLIENT, 40012, PUB_ADDR, 8080);
	struct flow r = make_flow(XCT_IPPROTO_UDP, INNER_ADDR, 80, CLIENT, 40012);
	struct packet pk, out;
	struct xct_ct_entry e;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_rule(&fx, XCT_IPPROTO_UDP, 80);
	set_track_prog(&fx, 1);

	/* Untranslated: its first packet goes (it may be bound), its
	 * answer does not (a reply), and once answered neither do the
	 * others. */
	pk = udp_packet(&u, 32);
	CHECK(xdp_marked_dnat(&fx, &pk));
	pk = udp_packet(&ur, 32);
	CHECK(!xdp_marked_dnat(&fx, &pk));
	CHECK_EQ(get_entry(&fx, &u, &e), 0);
	CHECK(e.status & XCT_CT_SEEN_REPLY);
	pk = udp_packet(&u, 32);
	CHECK(!xdp_marked_dnat(&fx, &pk));
	/* ... the same through TC ingress: tracked, left as it is. */
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(dport(&out), 53);
	CHECK_EQ(get_entry(&fx, &u, &e), 0);
	CHECK_EQ(e.packets[0], 3);

	/* Unanswered: every packet goes, until a reply comes. */
	pk = udp_packet(&q, 32);
	CHECK(xdp_marked_dnat(&fx, &pk));
	CHECK(xdp_marked_dnat(&fx, &pk));

	/* Destination-translated: every original-direction packet goes,
	 * answered or not, and is translated. */
	pk = udp_sent(&c, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	pk = udp_sent(&r, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK((e.status & (XCT_CT_SEEN_REPLY | XCT_CT_DST_NAT)) ==
	      (XCT_CT_SEEN_REPLY | XCT_CT_DST_NAT));
	pk = udp_sent(&c, 32);
	CHECK(xdp_marked_dnat(&fx, &pk));
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(dport(&out), 80);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_UDP));
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* The rules of these tests name no interface. */
static __u32 no_ifindex(const char *name, void *ctx)
{
	return 0;
}

/* Writes text, parsed and compiled, into the spare generation of the
 * running rules as a load does before its switch; the generation, or -1. */
static int write_spare(struct fixture *fx, struct xct_policy_maps *m, const char *text)
{
	struct xct_rules_error err;
	struct xct_compiled c;
	struct xct_ruleset rs;
	int gen = -1;

	memset(&err, 0, sizeof(err));
	if (xct_rules_parse("test.rules", text, strlen(text), &rs, &err) ||
	    xct_rules_compile(&rs, "test.rules", no_ifindex, NULL, &c, &err)) {
		CHECK_FAIL("rules refused: %u:%u: %s", err.loc.line, err.loc.col, err.msg);
		return -1;
	}
	gen = xct_policy_write_spare(m, &rs, &c);
	if (gen < 0)
		CHECK_FAIL("cannot write the spare generation: %s", strerror(-gen));
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
	return gen;
}

/* The SYN of client port sport to PUB_ADDR:8080 through TC ingress: its
 * destination as it leaves (INNER_ADDR when a dnat rule took it). */
static __u32 syn_dst(struct fixture *fx, __u16 sport)
{
	struct flow f = make_flow(XCT_IPPROTO_TCP, CLIENT, sport, PUB_ADDR, 8080);
	struct packet pk = tcp_sent(&f, XCT_TCPF_SYN, CLIENT_ISN, 0, 0), out;

	if (tc_ingress(fx, &pk, &out) != TC_ACT_UNSPEC)
		return 0;
	return dst4(&out);
}

/*
 * NAT rules switch with the filter rules, by the one store to active_gen:
 * while a load has written the spare generation and not switched (or was
 * killed there), the datapath translates by the running rules, dnat
 * rules or none; the switch changes both at once, and connections bound
 * before it stay translated.
 */
TEST(nat_rules_switch_with_the_generation)
{
	struct xct_policy_maps maps;
	struct xct_rules_error err;
	struct fixture fx;
	int gen;

	if (!fixture_setup(&fx, 0))
		return;
	set_track_prog(&fx, 1);
	xct_opts.pin_path = fx.pin_dir;
	if (xct_policy_load_text("test.rules", "dnat to " INNER_ADDR ":80 tcp dport 8080\n",
				 no_ifindex, NULL, &err) ||
	    xct_policy_open(&maps)) {
		CHECK_FAIL("cannot install the dnat rule");
		fixture_teardown(&fx);
		return;
	}

	/* Rules without NAT, written but not switched to: still dnat, also
	 * before any connection was bound. */
	gen = write_spare(&fx, &maps, "accept tcp dport 22\n");
	CHECK_EQ(syn_dst(&fx, 41001), addr4(INNER_ADDR));
	CHECK_EQ(maps.ctl_mem->active_gen, (__u32)(gen ^ 1));
	/* Switched: new connections are not translated any more, the ones
	 * bound before keep their translation. */
	if (gen >= 0)
		xct_policy_switch(&maps, (__u32)gen);
	CHECK_EQ(syn_dst(&fx, 41002), addr4(PUB_ADDR));
	CHECK_EQ(syn_dst(&fx, 41001), addr4(INNER_ADDR)); /* a retransmitted SYN */

	/* Once no binding is left, a load without NAT turns it off: the
	 * next one with a dnat rule, written but not switched to, does not
	 * translate yet; switched, it does. */
	fixture_reset(&fx);
	set_track_prog(&fx, 1);
	if (xct_policy_load_text("test.rules", "accept tcp dport 22\n", no_ifindex, NULL, &err))
		CHECK_FAIL("cannot install the rules without NAT");
	CHECK_EQ(maps.ctl_mem->gen[maps.ctl_mem->active_gen & 1].nat, 0);
	gen = write_spare(&fx, &maps, "dnat to " INNER_ADDR ":80 tcp dport 8080\n");
	CHECK_EQ(syn_dst(&fx, 41003), addr4(PUB_ADDR));
	if (gen >= 0)
		xct_policy_switch(&maps, (__u32)gen);
	CHECK_EQ(syn_dst(&fx, 41004), addr4(INNER_ADDR));
	xct_policy_close(&maps);
	fixture_teardown(&fx);
}

/*
 * The filter rules see a dnat connection's inner destination, as nft's
 * forward chain does: a rule on the public address and port never
 * matches, one on the inner ones decides.
 */
TEST(nat_dnat_rules_see_the_inner_destination)
{
	static const char admit[] = "policy drop\n"
				    "drop tcp daddr " PUB_ADDR " dport 8080\n"
				    "accept tcp daddr " INNER_ADDR " dport 80\n"
				    "dnat to " INNER_ADDR ":80 tcp dport 8080\n";
	static const char refuse[] = "accept tcp dport 8080\n"
				     "drop tcp daddr " INNER_ADDR " dport 80\n"
				     "dnat to " INNER_ADDR ":80 tcp dport 8080\n";
	struct xct_rules_error err;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	set_track_prog(&fx, 1);
	xct_opts.pin_path = fx.pin_dir;
	if (xct_policy_load_text("test.rules", admit, no_ifindex, NULL, &err)) {
		CHECK_FAIL("cannot install the rules");
		fixture_teardown(&fx);
		return;
	}
	CHECK_EQ(syn_dst(&fx, 41001), addr4(INNER_ADDR));
	CHECK_EQ(syn_dst(&fx, 41001), addr4(INNER_ADDR)); /* a retransmitted SYN */
	if (xct_policy_load_text("test.rules", refuse, no_ifindex, NULL, &err))
		CHECK_FAIL("cannot install the rules");
	CHECK_EQ(syn_dst(&fx, 41002), 0);
	/* The bound connection is judged by its binding too. */
	CHECK_EQ(syn_dst(&fx, 41001), 0);
	fixture_teardown(&fx);
}

/* dnat udp dport 8080 to { 10.231.2.2:80, 10.231.2.3:80, 10.231.2.4 } */
static const char *const backend_addr[3] = {"10.231.2.2", "10.231.2.3", "10.231.2.4"};
static const __u16 backend_port[3] = {80, 80, 8080};

static void set_dnat_backends(struct fixture *fx)
{
	struct xct_nat_rule r = {.kind = XCT_NAT_DNAT, .family = XCT_AF_INET, .line = 1};
	int i;

	r.proto = XCT_IPPROTO_UDP;
	r.flags = XCT_NATM_PROTO | XCT_NATM_DPORT;
	r.dport_lo = r.dport_hi = 8080;
	r.n_backends = 3;
	for (i = 0; i < 3; i++) {
		inet_pton(AF_INET, backend_addr[i], r.backends[i].addr.bytes);
		r.backends[i].port = i < 2 ? 80 : 0;
	}
	r.to_lo = r.backends[0].addr;
	set_nat_rules(fx, &r, 1);
}

/* The hash the datapath starts its choice of backend from. */
static __u32 flow_hash(const struct flow *f)
{
	struct xct_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = f->family;
	t.proto = f->proto;
	t.src = f->src;
	t.dst = f->dst;
	t.sport = htons(f->sport);
	t.dport = htons(f->dport);
	return xct_nat_backend_hash(&t);
}

/* Which backend a translated packet went to, or -1. */
static int backend_of(const struct packet *pk)
{
	int i;

	for (i = 0; i < 3; i++)
		if (dst4(pk) == addr4(backend_addr[i]) && dport(pk) == backend_port[i])
			return i;
	return -1;
}

/* Many connections spread over all backends, as the hash of their tuple
 * says; every later packet and every reply of a connection keeps its
 * backend, and replies leave with the public source. */
TEST(dnat_backends_spread_and_stick)
{
	enum { CONNS = 90 };
	struct fixture fx;
	int hits[3] = {0, 0, 0}, chosen[CONNS], i, k;
	struct packet pk, out, back;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_backends(&fx);
	set_track_prog(&fx, 1);
	for (i = 0; i < CONNS; i++) {
		struct flow c =
			make_flow(XCT_IPPROTO_UDP, CLIENT, (__u16)(30000 + i), PUB_ADDR, 8080);

		pk = udp_packet(&c, 32);
		fill_checksums(&pk, 0, XCT_IPPROTO_UDP);
		CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
		chosen[i] = backend_of(&out);
		CHECK(chosen[i] >= 0);
		if (chosen[i] < 0)
			break;
		CHECK_EQ((__u32)chosen[i], flow_hash(&c) % 3);
		CHECK(checksums_ok(&out, 0, XCT_IPPROTO_UDP));
		hits[chosen[i]]++;
	}
	for (k = 0; k < 3; k++)
		CHECK(hits[k] > 0);
	CHECK_EQ(bindings(&fx), CONNS);
	CHECK_EQ(claims(&fx), CONNS);
	for (i = 0; i < CONNS && chosen[i] >= 0; i++) {
		struct flow c =
			make_flow(XCT_IPPROTO_UDP, CLIENT, (__u16)(30000 + i), PUB_ADDR, 8080);
		struct flow r = make_flow(XCT_IPPROTO_UDP, backend_addr[chosen[i]],
					  backend_port[chosen[i]], CLIENT, (__u16)(30000 + i));

		for (k = 0; k < 2; k++) {
			pk = udp_packet(&r, 40);
			fill_checksums(&pk, 0, XCT_IPPROTO_UDP);
			CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
			CHECK_EQ(nat_out(&fx, &out, &back), TC_ACT_UNSPEC);
			CHECK_EQ(src4(&back), addr4(PUB_ADDR));
			CHECK_EQ(sport(&back), 8080);
			CHECK_EQ(dport(&back), 30000 + i);
			CHECK(checksums_ok(&back, 0, XCT_IPPROTO_UDP));
			pk = udp_packet(&c, 20);
			fill_checksums(&pk, 0, XCT_IPPROTO_UDP);
			CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
			CHECK_EQ(backend_of(&out), chosen[i]);
		}
	}
	CHECK_EQ(table_size(&fx), CONNS);
	CHECK_EQ(bindings(&fx), CONNS);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* The backend a connection hashes to is taken by a connection of its own
 * (the same client port straight to the backend): it gets the next one. */
TEST(dnat_backends_clash_moves_on)
{
	struct fixture fx;
	struct packet pk, out;
	struct flow c, direct;
	__u16 p = 41000;
	__u32 first;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_backends(&fx);
	set_track_prog(&fx, 1);
	/* A client port whose first backend has port 80 (the rule does not
	 * apply to a datagram straight to it). */
	for (;; p++) {
		c = make_flow(XCT_IPPROTO_UDP, CLIENT, p, PUB_ADDR, 8080);
		first = flow_hash(&c) % 3;
		if (first < 2)
			break;
	}
	direct = make_flow(XCT_IPPROTO_UDP, CLIENT, p, backend_addr[first], 80);
	pk = udp_sent(&direct, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(backend_of(&out), (int)first);
	CHECK_EQ(bindings(&fx), 0);
	pk = udp_sent(&c, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(backend_of(&out), (int)(first + 1));
	CHECK_EQ(bindings(&fx), 1);
	CHECK_EQ(table_size(&fx), 2);
	CHECK_EQ(reason_count(&fx, XCT_R_NAT_NO_TUPLE), 0);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* The inner server's port unreachable for a forwarded datagram: related
 * to the connection as it arrives, and on the way out to the client its
 * source and the quoted packet's destination are the public ones again,
 * so the client's socket (connected to the public address) gets it. */
TEST(dnat_icmp_error_to_client)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_UDP, CLIENT, 40000, PUB_ADDR, 8080);
	struct packet pk, fwd, err, in, back;
	__u32 il3, il4;
	__u8 hdr[20];

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_rule(&fx, XCT_IPPROTO_UDP, 7055);
	set_track_prog(&fx, 1);
	pk = udp_sent(&c, 32);
	CHECK_EQ(tc_ingress(&fx, &pk, &fwd), TC_ACT_UNSPEC);
	CHECK_EQ(dport(&fwd), 7055);

	err = icmp_error_packet(INNER_ADDR, CLIENT, 3, 3, &fwd);
	fill_checksums(&err, 0, XCT_IPPROTO_ICMP);
	CHECK_EQ(tc_ingress(&fx, &err, &in), TC_ACT_UNSPEC);
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(src4(&in), addr4(INNER_ADDR)); /* untouched before routing */

	CHECK_EQ(nat_out(&fx, &in, &back), TC_ACT_UNSPEC);
	il3 = back.l4_off + 8;
	il4 = il3 + 20;
	CHECK_EQ(src4(&back), addr4(PUB_ADDR));
	CHECK_EQ(dst4(&back), addr4(CLIENT));
	CHECK(!memcmp(back.data + il3 + 12, &pk.data[pk.l3_off + 12], 8)); /* quoted: as sent */
	CHECK_EQ(get16(back.data + il4), 40000);
	CHECK_EQ(get16(back.data + il4 + 2), 8080);
	CHECK(checksums_ok(&back, 0, XCT_IPPROTO_ICMP));
	memcpy(hdr, back.data + il3, 20);
	hdr[10] = hdr[11] = 0;
	CHECK_EQ(get16(back.data + il3 + 10), fold(sum16(hdr, 20, 0)));
	CHECK_EQ(get16(back.data + il4 + 6), get16(pk.data + pk.l4_off + 6));
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* Path-MTU discovery for a forwarded server: its reply leaves with the
 * public source; a router towards the client answers it with
 * fragmentation needed, to the public address.  The error goes to the
 * inner server before routing, quoting the reply exactly as the server
 * sent it, and is related to the connection. */
TEST(dnat_error_about_reply_reaches_the_server)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_TCP, CLIENT, 40000, PUB_ADDR, 8080);
	struct flow r = make_flow(XCT_IPPROTO_TCP, INNER_ADDR, 80, CLIENT, 40000);
	struct packet pk, reply, out, sent, err, in;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_rule(&fx, XCT_IPPROTO_TCP, 80);
	set_track_prog(&fx, 1);
	pk = tcp_sent(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(tc_ingress(&fx, &pk, &out), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	reply = tcp_sent(&r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 900);
	CHECK_EQ(tc_ingress(&fx, &reply, &out), TC_ACT_UNSPEC);
	CHECK_EQ(nat_out(&fx, &out, &sent), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&sent), addr4(PUB_ADDR));

	err = icmp_error_quoting_all("192.0.2.77", PUB_ADDR, 3, &sent);
	err.data[err.l4_off + 1] = 4; /* fragmentation needed */
	fill_checksums(&err, 0, XCT_IPPROTO_ICMP);
	CHECK_EQ(tc_ingress(&fx, &err, &in), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&in), addr4(INNER_ADDR));
	CHECK_EQ(src4(&in), addr4("192.0.2.77"));
	CHECK(quotes(&in, &reply));
	CHECK(checksums_ok(&in, 0, XCT_IPPROTO_ICMP));
	CHECK_EQ(counter(&fx, XCT_S_RELATED), 1);
	CHECK_EQ(table_size(&fx), 1);
	/* XDP hands it to TC as well, untouched. */
	CHECK(xdp_marked_nat(&fx, &err));
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* ---- Destination and source NAT on one connection ---- */

#define HAIRPIN_CLIENT "10.231.2.5" /* next to the inner server */
#define ROUTER_INSIDE  "10.231.2.1"

/* dnat tcp dport 8080 to INNER_ADDR:80, then snat to ROUTER_INSIDE: a
 * client on the server's own network reaching the forwarded port. */
static void set_hairpin_rules(struct fixture *fx)
{
	struct xct_nat_rule r[2] = {{.kind = XCT_NAT_DNAT, .family = XCT_AF_INET, .line = 1},
				    {.kind = XCT_NAT_SNAT, .family = XCT_AF_INET, .line = 2}};
	struct xct_nat_rule *d = &r[0], *s = &r[1];

	d->proto = XCT_IPPROTO_TCP;
	d->flags = XCT_NATM_PROTO | XCT_NATM_DPORT | XCT_NATM_PORT_RANGE;
	d->dport_lo = d->dport_hi = 8080;
	inet_pton(AF_INET, INNER_ADDR, d->to_lo.bytes);
	d->to_hi = d->to_lo;
	d->to_port_lo = d->to_port_hi = 80;
	inet_pton(AF_INET, ROUTER_INSIDE, s->to_lo.bytes);
	s->to_hi = s->to_lo;
	set_nat_rules(fx, r, 2);
}

static int ct_delete(struct fixture *fx, const struct flow *f)
{
	struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE}, out = {.hdr.ret = -1};
	__u8 side;

	flow_key(f, &m.key, &side);
	run_prog(fx->skel->progs.xct_ctl, &m, sizeof(m), NULL, &out, sizeof(out));
	return out.hdr.ret;
}

/*
 * Hairpin NAT: the client's SYN to the public address is forwarded to the
 * inner server and, leaving, gets the router's inside address as its
 * source (the second rule matches the inner tuple), so the server answers
 * through the router; the answer gets the client back as its destination
 * on the way in and the public address as its source on the way out.  One
 * entry, both NAT bits, two bindings and two claims, all freed with the
 * connection.
 */
TEST(hairpin_dnat_and_snat_on_one_connection)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_TCP, HAIRPIN_CLIENT, 40000, PUB_ADDR, 8080);
	struct flow r = make_flow(XCT_IPPROTO_TCP, INNER_ADDR, 80, ROUTER_INSIDE, 40000);
	struct packet pk, in, out, back, err;
	struct xct_ct_event ev[4];
	struct xct_ct_entry e;
	int i;

	if (!fixture_setup(&fx, 0))
		return;
	set_hairpin_rules(&fx);
	set_track_prog(&fx, 1);
	ct_events_subscribe(&fx);
	pk = tcp_sent(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(tc_ingress(&fx, &pk, &in), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&in), addr4(INNER_ADDR));
	CHECK_EQ(nat_out(&fx, &in, &out), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&out), addr4(ROUTER_INSIDE));
	CHECK_EQ(sport(&out), 40000);
	CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
	CHECK_EQ(dport(&out), 80);
	CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	CHECK_EQ(bindings(&fx), 2);
	CHECK_EQ(claims(&fx), 2);
	/* Its NEW, once both translations are decided, shows both. */
	CHECK_EQ(ct_events_read(&fx, ev, 4), 1);
	CHECK_EQ(ev[0].type, XCT_CTE_NEW);
	CHECK_EQ(ev[0].nat_manip, XCT_CT_SRC_NAT | XCT_CT_DST_NAT);
	CHECK_EQ(ev[0].nat_dst_addr.v4, addr4(INNER_ADDR));
	CHECK_EQ(ev[0].nat_src_addr.v4, addr4(ROUTER_INSIDE));
	CHECK_EQ(ntohs(ev[0].nat_src_port), 40000);

	/* The server's answer, to the router: in XDP mode it goes up to TC. */
	pk = tcp_sent(&r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	CHECK(xdp_marked_nat(&fx, &pk));
	CHECK_EQ(tc_ingress(&fx, &pk, &in), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&in), addr4(HAIRPIN_CLIENT));
	CHECK_EQ(dport(&in), 40000);
	CHECK_EQ(src4(&in), addr4(INNER_ADDR)); /* its source only after routing */
	CHECK_EQ(nat_out(&fx, &in, &back), TC_ACT_UNSPEC);
	CHECK_EQ(src4(&back), addr4(PUB_ADDR));
	CHECK_EQ(sport(&back), 8080);
	CHECK_EQ(dst4(&back), addr4(HAIRPIN_CLIENT));
	CHECK(checksums_ok(&back, 0, XCT_IPPROTO_TCP));
	CHECK_EQ(table_size(&fx), 1);
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_SYN_RECV);
	CHECK_EQ(e.status & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT | XCT_CT_SEEN_REPLY),
		 XCT_CT_SRC_NAT | XCT_CT_DST_NAT | XCT_CT_SEEN_REPLY);

	/* Later packets keep both translations. */
	for (i = 0; i < 2; i++) {
		pk = tcp_packet(&c, XCT_TCPF_ACK, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
		fill_checksums(&pk, 0, XCT_IPPROTO_TCP);
		CHECK_EQ(tc_ingress(&fx, &pk, &in), TC_ACT_UNSPEC);
		CHECK_EQ(nat_out(&fx, &in, &out), TC_ACT_UNSPEC);
		CHECK_EQ(src4(&out), addr4(ROUTER_INSIDE));
		CHECK_EQ(dst4(&out), addr4(INNER_ADDR));
		CHECK(checksums_ok(&out, 0, XCT_IPPROTO_TCP));
	}
	CHECK_EQ(get_entry(&fx, &c, &e), 0);
	CHECK_EQ(e.state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(bindings(&fx), 2);

	/* An ICMP error about it (not translated) takes no claim away:
	 * the server's next answer still finds the connection. */
	err = icmp_error_packet(INNER_ADDR, ROUTER_INSIDE, 3, 3, &out);
	fill_checksums(&err, 0, XCT_IPPROTO_ICMP);
	tc_ingress(&fx, &err, &in);
	CHECK_EQ(claims(&fx), 2);
	pk = tcp_sent(&r, XCT_TCPF_ACK, SERVER_ISN + 1, CLIENT_ISN + 201, 0);
	CHECK_EQ(tc_ingress(&fx, &pk, &in), TC_ACT_UNSPEC);
	CHECK_EQ(dst4(&in), addr4(HAIRPIN_CLIENT));

	CHECK_EQ(ct_delete(&fx, &c), 0);
	CHECK_EQ(table_size(&fx), 0);
	CHECK_EQ(bindings(&fx), 0);
	CHECK_EQ(claims(&fx), 0);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* ---- Connection events of translated connections ---- */

#define NAT_EVENTS_MAX 8

/* A translated connection's NEW waits for the translation, made after
 * routing, and shows it, as conntrack -E's does; so does its DESTROY. */
TEST(nat_events_show_the_translation)
{
	struct flow a = make_flow(XCT_IPPROTO_UDP, "10.0.0.2", 40000, "192.0.2.9", 53);
	struct flow b = make_flow(XCT_IPPROTO_UDP, "10.0.0.3", 40000, "192.0.2.9", 53);
	struct xct_ct_event ev[NAT_EVENTS_MAX];
	struct packet pk, out;
	struct fixture fx;
	__u16 translated;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	ct_events_subscribe(&fx);
	pk = udp_sent(&a, 32);
	xdp_in(&fx, &pk);
	nat_out(&fx, &pk, &out);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 1);
	pk = udp_sent(&b, 32);
	xdp_in(&fx, &pk);
	/* Tracked, not yet routed: nothing to tell yet. */
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 0);
	nat_out(&fx, &pk, &out);
	translated = sport(&out);
	CHECK(translated != 40000);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 1);
	CHECK_EQ(ev[0].type, XCT_CTE_NEW);
	CHECK_EQ(ev[0].nat_manip, XCT_CT_SRC_NAT);
	CHECK_EQ(ev[0].nat_src_addr.v4, addr4(NAT_ADDR));
	CHECK_EQ(ntohs(ev[0].nat_src_port), translated);
	CHECK_EQ(ev[0].status & (XCT_CT_SRC_NAT | XCT_CT_NEW_PENDING), XCT_CT_SRC_NAT);
	/* Later packets send no second NEW. */
	nat_out(&fx, &pk, &out);
	xdp_in(&fx, &pk);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 0);

	CHECK_EQ(ct_delete(&fx, &b), 0);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 1);
	CHECK_EQ(ev[0].type, XCT_CTE_DESTROY);
	CHECK_EQ(ev[0].nat_manip, XCT_CT_SRC_NAT);
	CHECK_EQ(ntohs(ev[0].nat_src_port), translated);
	CHECK_EQ(claims(&fx), 1);
	fixture_teardown(&fx);
}

/* A forwarded connection's NEW shows its inner server once it leaves. */
TEST(dnat_events_show_the_translation)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, CLIENT, 40000, PUB_ADDR, 8080);
	struct xct_ct_event ev[NAT_EVENTS_MAX];
	struct packet pk, in, out;
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	set_dnat_rule(&fx, XCT_IPPROTO_TCP, 80);
	set_track_prog(&fx, 1);
	ct_events_subscribe(&fx);
	pk = tcp_sent(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(tc_ingress(&fx, &pk, &in), TC_ACT_UNSPEC);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 0);
	CHECK_EQ(nat_out(&fx, &in, &out), TC_ACT_UNSPEC);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 1);
	CHECK_EQ(ev[0].type, XCT_CTE_NEW);
	CHECK_EQ(ev[0].nat_manip, XCT_CT_DST_NAT);
	CHECK_EQ(ev[0].nat_dst_addr.v4, addr4(INNER_ADDR));
	CHECK_EQ(ntohs(ev[0].nat_dst_port), 80);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}

/* While NAT is in use, a connection to this host, whose first packet
 * never leaves, is announced by its next packet (the answer, leaving), or
 * else just before its end. */
TEST(nat_events_local_connection_announced_later)
{
	struct flow c = make_flow(XCT_IPPROTO_TCP, "192.0.2.9", 40000, "10.0.0.1", 22);
	struct flow u = make_flow(XCT_IPPROTO_UDP, "192.0.2.9", 40001, "10.0.0.1", 53);
	struct flow r = reverse(&c);
	struct xct_ct_event ev[NAT_EVENTS_MAX];
	struct fixture fx;
	struct packet pk;

	if (!fixture_setup(&fx, 0))
		return;
	set_rule(&fx, NAT_ADDR, 0, 0);
	ct_events_subscribe(&fx);
	pk = tcp_packet(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	xdp_in(&fx, &pk);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 0);
	pk = tcp_packet(&r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	tc_out(&fx, &pk);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 2);
	CHECK_EQ(ev[0].type, XCT_CTE_NEW);
	CHECK_EQ(ev[0].state, XCT_TCP_SYN_SENT);
	CHECK_EQ(ev[0].nat_manip, 0);
	CHECK_EQ(ev[1].type, XCT_CTE_UPDATE);
	CHECK_EQ(ev[1].state, XCT_TCP_SYN_RECV);

	/* A datagram nobody answers: NEW, then DESTROY, when it expires. */
	pk = udp_packet(&u, 10);
	xdp_in(&fx, &pk);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 0);
	advance(&fx, SEC_NS(31));
	ct_events_subscribe(&fx); /* a reader still there */
	gc_run(&fx);
	CHECK_EQ(ct_events_read(&fx, ev, NAT_EVENTS_MAX), 2);
	CHECK_EQ(ev[0].type, XCT_CTE_NEW);
	CHECK_EQ(ev[0].key.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(ev[1].type, XCT_CTE_DESTROY);
	CHECK_EQ(ev[1].key.proto, XCT_IPPROTO_UDP);
	CHECK_EQ(ev[0].status & XCT_CT_NEW_PENDING, 0);
	fixture_teardown(&fx);
}

/* A hairpin connection's source translation being bound on another CPU
 * (its claim made, the binding next): a packet to the claimed tuple does
 * not take the claim for an orphan. */
TEST(hairpin_claim_being_bound_survives_a_packet_to_it)
{
	struct fixture fx;
	struct flow c = make_flow(XCT_IPPROTO_TCP, HAIRPIN_CLIENT, 40000, PUB_ADDR, 8080);
	struct flow r = make_flow(XCT_IPPROTO_TCP, INNER_ADDR, 80, ROUTER_INSIDE, 40000);
	struct xct_ct_key inner = key_of(XCT_IPPROTO_TCP, HAIRPIN_CLIENT, 40000, INNER_ADDR, 80);
	struct xct_ct_key rk = key_of(XCT_IPPROTO_TCP, ROUTER_INSIDE, 40000, INNER_ADDR, 80);
	struct packet pk, in;

	if (!fixture_setup(&fx, 0))
		return;
	set_hairpin_rules(&fx);
	set_track_prog(&fx, 1);
	pk = tcp_sent(&c, XCT_TCPF_SYN, CLIENT_ISN, 0, 0);
	CHECK_EQ(tc_ingress(&fx, &pk, &in), TC_ACT_UNSPEC);
	CHECK_EQ(claims(&fx), 1);
	if (bpf_map_update_elem(bpf_map__fd(fx.skel->maps.xct_nat_rev), &rk, &inner, BPF_NOEXIST))
		CHECK_FAIL("cannot place the claim: %s", strerror(errno));
	pk = tcp_sent(&r, XCT_TCPF_SYN | XCT_TCPF_ACK, SERVER_ISN, CLIENT_ISN + 1, 0);
	tc_ingress(&fx, &pk, &in);
	CHECK_EQ(claims(&fx), 2);
	set_track_prog(&fx, 0);
	fixture_teardown(&fx);
}
