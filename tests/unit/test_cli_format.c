// SPDX-License-Identifier: GPL-2.0-only
/*
 * The command's text: conntrack(8) lines for TCP, UDP, ICMP, IPv6 and
 * generic entries, the JSON object, conntrack -E's event lines, and the
 * parsing and matching of conntrack-tools' filters and event masks, bad
 * input included.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ct_events.h"
#include "ct_filter.h"
#include "ct_format.h"
#include "xct/tuple.h"

#define SEC_NS 1000000000ULL
#define NOW    (1000 * SEC_NS)

/* A key and entry for a connection opened by src:sport towards dst:dport. */
static void make_conn(struct xct_ct_key *key, struct xct_ct_entry *e, const char *src,
		      const char *dst, __u8 proto, __u16 sport, __u16 dport)
{
	struct xct_tuple t = {.proto = proto};
	__u8 side = 0;

	if (inet_pton(AF_INET, src, &t.src.v4) == 1) {
		inet_pton(AF_INET, dst, &t.dst.v4);
		t.family = XCT_AF_INET;
	} else {
		inet_pton(AF_INET6, src, t.src.bytes);
		inet_pton(AF_INET6, dst, t.dst.bytes);
		t.family = XCT_AF_INET6;
	}
	if (proto == 1 || proto == 58) {
		t.icmp_type = proto == 1 ? 8 : 128;
		t.sport = sport; /* id */
	} else {
		t.sport = htons(sport);
		t.dport = htons(dport);
	}
	xct_key_from_tuple(&t, key, &side);
	memset(e, 0, sizeof(*e));
	e->orig_side = side;
	e->first_seen_ns = NOW - 5 * SEC_NS;
	e->last_seen_ns = NOW - SEC_NS;
}

TEST(format_tcp_established_assured)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[512];

	/* The higher address opens: its side is 1 in the canonical key. */
	make_conn(&key, &e, "10.0.0.2", "10.0.0.1", 6, 40000, 22);
	e.state = XCT_TCP_ESTABLISHED;
	e.status = XCT_CT_SEEN_REPLY | XCT_CT_ASSURED;
	e.expires_ns = NOW + 431999 * SEC_NS + 500000000ULL;
	e.packets[0] = 3;
	e.bytes[0] = 164;
	e.packets[1] = 2;
	e.bytes[1] = 112;
	xct_format_conn(line, sizeof(line), &key, &e, NOW, 0);
	CHECK_STR(line, "tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.0.0.1 sport=40000 "
			"dport=22 packets=3 bytes=164 src=10.0.0.1 dst=10.0.0.2 sport=22 "
			"dport=40000 packets=2 bytes=112 [ASSURED] mark=0 use=1");
}

/* conntrack -L's zone=N: after the mark, only outside zone 0. */
TEST(format_zone_after_the_mark)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[512];

	make_conn(&key, &e, "10.0.0.1", "10.0.0.2", 17, 5000, 53);
	key.zone = 3;
	e.expires_ns = NOW + 30 * SEC_NS;
	xct_format_conn(line, sizeof(line), &key, &e, NOW, 0);
	CHECK_STR(line, "udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=53 packets=0 "
			"bytes=0 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5000 "
			"packets=0 bytes=0 mark=0 zone=3 use=1");
}

TEST(format_events_as_conntrack_e)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[640];

	make_conn(&key, &e, "10.231.1.2", "10.231.2.2", 6, 59176, 5001);
	e.state = XCT_TCP_SYN_SENT;
	e.expires_ns = NOW + 120 * SEC_NS;
	e.packets[0] = 1;
	e.bytes[0] = 60;
	xct_format_event(line, sizeof(line), &key, &e, NULL, NULL, XCT_CTE_NEW, 0, NOW, 0);
	CHECK_STR(line,
		  "    [NEW] tcp      6 120 SYN_SENT src=10.231.1.2 dst=10.231.2.2 sport=59176 "
		  "dport=5001 [UNREPLIED] src=10.231.2.2 dst=10.231.1.2 sport=5001 dport=59176");

	e.state = XCT_TCP_ESTABLISHED;
	e.status = XCT_CT_SEEN_REPLY | XCT_CT_ASSURED;
	e.expires_ns = NOW + 432000 * SEC_NS;
	xct_format_event(line, sizeof(line), &key, &e, NULL, NULL, XCT_CTE_UPDATE, 0, NOW,
			 XCT_FMT_EXTENDED);
	CHECK_STR(line, " [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=10.231.1.2 "
			"dst=10.231.2.2 sport=59176 dport=5001 src=10.231.2.2 dst=10.231.1.2 "
			"sport=5001 dport=59176 [ASSURED]");

	/* A user's delete, 119.5 s before the expiry: the counters, the
	 * duration from the first packet (5 s ago), [USERSPACE]. */
	e.state = XCT_TCP_TIME_WAIT;
	e.expires_ns = NOW + 119 * SEC_NS + SEC_NS / 2;
	e.packets[0] = 6;
	e.bytes[0] = 326;
	e.packets[1] = 4;
	e.bytes[1] = 222;
	xct_format_event(line, sizeof(line), &key, &e, NULL, NULL, XCT_CTE_DESTROY,
			 XCT_CTE_END_DELETED, NOW, 0);
	CHECK_STR(line, "[DESTROY] tcp      6 119 TIME_WAIT src=10.231.1.2 dst=10.231.2.2 "
			"sport=59176 dport=5001 packets=6 bytes=326 src=10.231.2.2 dst=10.231.1.2 "
			"sport=5001 dport=59176 packets=4 bytes=222 [ASSURED] delta-time=5 "
			"[USERSPACE]");

	/* Timed out 2 s before the GC found it: it lasted until its expiry,
	 * and no timeout is left to show (ctnetlink sends none, conntrack -E
	 * prints none). */
	e.expires_ns = NOW - 2 * SEC_NS;
	CHECK_EQ(xct_event_duration_ns(&e, NOW), 3 * SEC_NS);
	xct_format_event(line, sizeof(line), &key, &e, NULL, NULL, XCT_CTE_DESTROY,
			 XCT_CTE_END_EXPIRED, NOW, 0);
	CHECK(strstr(line, "[DESTROY] tcp      6 TIME_WAIT src=") == line);
	CHECK(strstr(line, "[ASSURED] delta-time=3") != NULL);
	CHECK(strstr(line, "USERSPACE") == NULL);
	CHECK(line[strlen(line) - 1] != ' ');

	/* A mark shows when there is one. */
	e.mark = 7;
	xct_format_event(line, sizeof(line), &key, &e, NULL, NULL, XCT_CTE_UPDATE, 0, NOW, 0);
	CHECK(strstr(line, "[ASSURED] mark=7") != NULL);
}

/* A masqueraded connection's NEW shows the reply to the router, as
 * conntrack -E does; the translation comes from the event's own fields. */
TEST(format_event_of_translated_connection)
{
	struct xct_nat_binding nat, inner;
	struct xct_ct_event ev;
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[640];

	make_conn(&key, &e, "10.231.1.2", "10.231.2.2", 17, 40000, 53);
	e.expires_ns = NOW + 30 * SEC_NS;
	memset(&ev, 0, sizeof(ev));
	ev.nat_manip = XCT_CT_SRC_NAT;
	inet_pton(AF_INET, "10.231.2.1", &ev.nat_src_addr.v4);
	ev.nat_src_port = htons(61000);
	xct_event_nat(&ev, &nat, &inner);
	CHECK_EQ(nat.manip, XCT_CT_SRC_NAT);
	CHECK_EQ(inner.manip, 0);
	xct_format_event(line, sizeof(line), &key, &e, &nat, NULL, XCT_CTE_NEW, 0, NOW, 0);
	CHECK_STR(line, "    [NEW] udp      17 30 src=10.231.1.2 dst=10.231.2.2 sport=40000 "
			"dport=53 [UNREPLIED] src=10.231.2.2 dst=10.231.2.1 sport=53 dport=61000");

	/* Both (hairpin): the reply from the inner server to the router. */
	ev.nat_manip = XCT_CT_SRC_NAT | XCT_CT_DST_NAT;
	inet_pton(AF_INET, "10.231.2.9", &ev.nat_dst_addr.v4);
	ev.nat_dst_port = htons(5353);
	xct_event_nat(&ev, &nat, &inner);
	CHECK_EQ(nat.manip, XCT_CT_DST_NAT);
	CHECK_EQ(inner.manip, XCT_CT_SRC_NAT);
	xct_format_event(line, sizeof(line), &key, &e, &nat, &inner, XCT_CTE_NEW, 0, NOW, 0);
	CHECK_STR(line,
		  "    [NEW] udp      17 30 src=10.231.1.2 dst=10.231.2.2 sport=40000 "
		  "dport=53 [UNREPLIED] src=10.231.2.9 dst=10.231.2.1 sport=5353 dport=61000");
}

/* The reader takes an older datapath's events, which end before the
 * translation, as untranslated ones, and refuses anything shorter. */
TEST(event_records_of_either_size)
{
	struct xct_ct_event ev, got;

	memset(&ev, 0xab, sizeof(ev));
	ev.type = XCT_CTE_NEW;
	CHECK_EQ(xct_ct_event_decode(&ev, sizeof(ev), &got), 0);
	CHECK_EQ(got.nat_manip, 0xab);
	CHECK_EQ(xct_ct_event_decode(&ev, XCT_CT_EVENT_BASE_SIZE, &got), 0);
	CHECK_EQ(got.type, XCT_CTE_NEW);
	CHECK_EQ(got.nat_manip, 0);
	CHECK_EQ(got.nat_src_port, 0);
	CHECK_EQ(xct_ct_event_decode(&ev, XCT_CT_EVENT_BASE_SIZE - 1, &got), -1);
}

TEST(event_mask_parsing)
{
	unsigned int m = 0;

	CHECK_EQ(xct_parse_event_mask("NEW", &m), 0);
	CHECK_EQ(m, XCT_CTE_MASK(XCT_CTE_NEW));
	CHECK_EQ(xct_parse_event_mask("update,destroy", &m), 0);
	CHECK_EQ(m, XCT_CTE_MASK(XCT_CTE_UPDATE) | XCT_CTE_MASK(XCT_CTE_DESTROY));
	CHECK_EQ(xct_parse_event_mask("UPDATES", &m), 0);
	CHECK_EQ(m, XCT_CTE_MASK(XCT_CTE_UPDATE));
	CHECK_EQ(xct_parse_event_mask("ALL", &m), 0);
	CHECK_EQ(m, XCT_CTE_MASK_ALL);
	m = 99;
	CHECK_EQ(xct_parse_event_mask("NEW,BOGUS", &m), -EINVAL);
	CHECK_EQ(xct_parse_event_mask("", &m), -EINVAL);
	CHECK_EQ(xct_parse_event_mask(",", &m), -EINVAL);
	CHECK_EQ(m, 99);
}

TEST(format_udp_unreplied_extended)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[512];

	make_conn(&key, &e, "172.17.0.7", "10.8.128.122", 17, 53587, 8125);
	e.expires_ns = NOW + 29 * SEC_NS;
	e.packets[0] = 1;
	e.bytes[0] = 40;
	xct_format_conn(line, sizeof(line), &key, &e, NOW, XCT_FMT_EXTENDED);
	CHECK_STR(line, "ipv4     2 udp      17 29 src=172.17.0.7 dst=10.8.128.122 sport=53587 "
			"dport=8125 packets=1 bytes=40 [UNREPLIED] src=10.8.128.122 "
			"dst=172.17.0.7 sport=8125 dport=53587 packets=0 bytes=0 mark=0 use=1");
}

TEST(format_icmp_and_icmpv6)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[512];

	make_conn(&key, &e, "192.0.2.1", "192.0.2.9", 1, 4242, 0);
	e.status = XCT_CT_SEEN_REPLY;
	e.expires_ns = NOW + 30 * SEC_NS;
	xct_format_conn(line, sizeof(line), &key, &e, NOW, 0);
	CHECK_STR(line, "icmp     1 30 src=192.0.2.1 dst=192.0.2.9 type=8 code=0 id=4242 "
			"packets=0 bytes=0 src=192.0.2.9 dst=192.0.2.1 type=0 code=0 id=4242 "
			"packets=0 bytes=0 mark=0 use=1");

	make_conn(&key, &e, "2001:db8::1", "2001:db8::2", 58, 7, 0);
	e.expires_ns = NOW + 30 * SEC_NS;
	xct_format_conn(line, sizeof(line), &key, &e, NOW, 0);
	CHECK_STR(line, "icmpv6   58 30 src=2001:db8::1 dst=2001:db8::2 type=128 code=0 id=7 "
			"packets=0 bytes=0 [UNREPLIED] src=2001:db8::2 dst=2001:db8::1 type=129 "
			"code=0 id=7 packets=0 bytes=0 mark=0 use=1");
}

TEST(format_generic_protocol_and_expired_timeout)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char line[512];

	make_conn(&key, &e, "198.51.100.1", "198.51.100.2", 47, 0, 0);
	e.expires_ns = NOW - 1; /* an expired entry shows 0, never wraps */
	xct_format_conn(line, sizeof(line), &key, &e, NOW, 0);
	CHECK_STR(line, "gre      47 0 src=198.51.100.1 dst=198.51.100.2 packets=0 bytes=0 "
			"[UNREPLIED] src=198.51.100.2 dst=198.51.100.1 packets=0 bytes=0 mark=0 "
			"use=1");
	CHECK_STR(xct_proto_name(250), "unknown");
}

TEST(format_json_object)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	make_conn(&key, &e, "10.0.0.1", "10.0.0.2", 6, 1234, 80);
	e.state = XCT_TCP_SYN_SENT;
	e.expires_ns = NOW + 120 * SEC_NS;
	e.packets[0] = 1;
	e.bytes[0] = 60;
	xct_print_conn_json(f, &key, &e, NOW);
	fclose(f);
	CHECK_STR(buf,
		  "{\"family\":\"ipv4\",\"proto\":\"tcp\",\"protonum\":6,\"timeout\":120,"
		  "\"state\":\"SYN_SENT\",\"orig\":{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\","
		  "\"sport\":1234,\"dport\":80,\"packets\":1,\"bytes\":60},\"reply\":{\"src\":"
		  "\"10.0.0.2\",\"dst\":\"10.0.0.1\",\"sport\":80,\"dport\":1234,\"packets\":0,"
		  "\"bytes\":0},\"status\":[],\"mark\":0,\"zone\":0,\"use\":1,\"id\":3659907026,"
		  "\"age_ms\":5000,\"idle_ms\":1000}");
}

TEST(filter_parse_values)
{
	struct xct_cidr c;
	int proto = -1, state = -1;
	__u16 set = 0;
	bool unset = false;
	__u8 family = 0;
	__u32 mark, mask;

	CHECK_EQ(xct_parse_cidr("10.1.2.3", &c), 0);
	CHECK_EQ(c.family, XCT_AF_INET);
	CHECK_EQ(c.prefix, 32);
	CHECK_EQ(xct_parse_cidr("2001:db8::/48", &c), 0);
	CHECK_EQ(c.family, XCT_AF_INET6);
	CHECK_EQ(c.prefix, 48);
	CHECK_EQ(xct_parse_cidr("10.0.0.0/33", &c), -22);
	CHECK_EQ(xct_parse_cidr("10.0.0.0/", &c), -22);
	CHECK_EQ(xct_parse_cidr("10.0.0.300", &c), -22);
	CHECK_EQ(xct_parse_cidr("", &c), -22);
	/* The rules file's parser: host bits are an error, with its message. */
	{
		char why[160];

		CHECK_EQ(xct_parse_cidr("10.1.2.3/16", &c), -22);
		CHECK_EQ(xct_parse_cidr_msg("10.0.0.1/8", &c, why, sizeof(why)), -22);
		CHECK_STR(why, "host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)");
		CHECK_EQ(xct_parse_cidr("10.1.0.0/16", &c), 0);
		CHECK_EQ(c.addr.bytes[0], 10);
		CHECK_EQ(c.addr.bytes[1], 1);
		CHECK_EQ(c.prefix, 16);
	}

	CHECK_EQ(xct_parse_proto("TCP", &proto), 0);
	CHECK_EQ(proto, 6);
	CHECK_EQ(xct_parse_proto("ipv6-icmp", &proto), 0);
	CHECK_EQ(proto, 58);
	CHECK_EQ(xct_parse_proto("132", &proto), 0);
	CHECK_EQ(proto, 132);
	CHECK_EQ(xct_parse_proto("256", &proto), -22);
	CHECK_EQ(xct_parse_proto("-1", &proto), -22);
	CHECK_EQ(xct_parse_proto("tcpx", &proto), -22);

	CHECK_EQ(xct_parse_tcp_state("established", &state), 0);
	CHECK_EQ(state, XCT_TCP_ESTABLISHED);
	CHECK_EQ(xct_parse_tcp_state("LISTEN", &state), 0);
	CHECK_EQ(state, XCT_TCP_SYN_SENT2);
	CHECK_EQ(xct_parse_tcp_state("OPEN", &state), -22);

	CHECK_EQ(xct_parse_status("ASSURED,SEEN_REPLY", &set, &unset), 0);
	CHECK_EQ(set, XCT_CT_ASSURED | XCT_CT_SEEN_REPLY);
	CHECK_EQ(xct_parse_status("EXPECTED", &set, &unset), -22);

	CHECK_EQ(xct_parse_family("ipv6", &family), 0);
	CHECK_EQ(family, XCT_AF_INET6);
	CHECK_EQ(xct_parse_family("ipx", &family), -22);

	CHECK_EQ(xct_parse_mark("0x10/0xf0", &mark, &mask), 0);
	CHECK_EQ(mark, 0x10);
	CHECK_EQ(mask, 0xf0);
	CHECK_EQ(xct_parse_mark("5/0", &mark, &mask), -22);
}

TEST(filter_match_conntrack_semantics)
{
	struct xct_ct_key key;
	struct xct_ct_entry e;
	struct xct_filter f;

	make_conn(&key, &e, "10.1.1.5", "10.2.2.9", 6, 40000, 443);
	e.state = XCT_TCP_ESTABLISHED;
	e.status = XCT_CT_SEEN_REPLY | XCT_CT_ASSURED;

	xct_filter_init(&f);
	CHECK(xct_filter_match(&f, &key, &e));

	/* -s and -d are the original direction; -r and -q the reply. */
	xct_parse_cidr("10.1.0.0/16", &f.addr[XCT_F_ORIG_SRC]);
	f.has_addr[XCT_F_ORIG_SRC] = true;
	CHECK(xct_filter_match(&f, &key, &e));
	xct_parse_cidr("10.2.2.9", &f.addr[XCT_F_REPLY_SRC]);
	f.has_addr[XCT_F_REPLY_SRC] = true;
	CHECK(xct_filter_match(&f, &key, &e));
	xct_parse_cidr("10.1.1.5", &f.addr[XCT_F_ORIG_DST]);
	f.has_addr[XCT_F_ORIG_DST] = true;
	CHECK(!xct_filter_match(&f, &key, &e));

	xct_filter_init(&f);
	f.sport = 40000;
	f.dport = 443;
	CHECK(xct_filter_match(&f, &key, &e));
	f.sport = 443; /* ports are the original direction's */
	CHECK(!xct_filter_match(&f, &key, &e));

	xct_filter_init(&f);
	f.state = XCT_TCP_TIME_WAIT;
	CHECK(!xct_filter_match(&f, &key, &e));
	f.state = XCT_TCP_ESTABLISHED;
	CHECK(xct_filter_match(&f, &key, &e));

	xct_filter_init(&f);
	f.status_unset = true;
	CHECK(!xct_filter_match(&f, &key, &e));
	f.status_unset = false;
	f.status_set = XCT_CT_ASSURED;
	CHECK(xct_filter_match(&f, &key, &e));

	xct_filter_init(&f);
	f.family = XCT_AF_INET6;
	CHECK(!xct_filter_match(&f, &key, &e));
	f.family = XCT_AF_INET;
	f.proto = 17;
	CHECK(!xct_filter_match(&f, &key, &e));

	/* ICMP filters never match a TCP entry. */
	xct_filter_init(&f);
	f.icmp_type = 8;
	CHECK(!xct_filter_match(&f, &key, &e));
}
