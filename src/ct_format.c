// SPDX-License-Identifier: GPL-2.0-only
/*
 * conntrack(8)'s default line format and xct's JSON form of an entry.
 * Field order, spacing and flags follow libnetfilter_conntrack's
 * __snprintf_conntrack_default(), so scripts written for conntrack -L read
 * xct ct list unchanged.  Accounting is always on in xct, so packets= and
 * bytes= are always printed (as conntrack does with nf_conntrack_acct=1).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>

#include "ct_format.h"
#include "xct/tuple.h"

const char *xct_proto_name(__u8 proto)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 33:
		return "dccp";
	case 47:
		return "gre";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	case 136:
		return "udplite";
	}
	return "unknown";
}

static const char *const tcp_state_names[XCT_TCP_STATE_COUNT] = {
	"NONE",	      "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",	      "SYN_SENT2",
};

const char *xct_tcp_state_name(__u8 state)
{
	return state < XCT_TCP_STATE_COUNT ? tcp_state_names[state] : "UNKNOWN";
}

const char *xct_family_name(__u8 family)
{
	return family == XCT_AF_INET6 ? "ipv6" : "ipv4";
}

void xct_format_addr(__u8 family, const union xct_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(family == XCT_AF_INET6 ? AF_INET6 : AF_INET, a->bytes, buf, len))
		snprintf(buf, len, "?");
}

__u64 xct_entry_timeout(const struct xct_ct_entry *e, __u64 now_ns)
{
	return e->expires_ns > now_ns ? (e->expires_ns - now_ns) / 1000000000ULL : 0;
}

/* Appends to buf at *pos, never past len. */
__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t len, size_t *pos,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

static void put_tuple(char *buf, size_t len, size_t *pos, const struct xct_tuple *t)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	xct_format_addr(t->family, &t->src, src, sizeof(src));
	xct_format_addr(t->family, &t->dst, dst, sizeof(dst));
	put(buf, len, pos, "src=%s dst=%s ", src, dst);
	if (xct_is_icmp(t->family, t->proto))
		put(buf, len, pos, "type=%u code=%u id=%u ", t->icmp_type, t->icmp_code, t->sport);
	else if (xct_has_ports(t->proto))
		put(buf, len, pos, "sport=%u dport=%u ", ntohs(t->sport), ntohs(t->dport));
}

int xct_format_conn(char *buf, size_t len, const struct xct_ct_key *key,
		    const struct xct_ct_entry *e, __u64 now_ns, unsigned int flags)
{
	struct xct_tuple orig, reply;
	size_t pos = 0;

	xct_tuple_from_key(key, e->orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_tuple_from_key(key, e->orig_side, XCT_DIR_REPLY, &reply);

	if (flags & XCT_FMT_EXTENDED)
		put(buf, len, &pos, "%-8s %u ", xct_family_name(key->family), key->family);
	put(buf, len, &pos, "%-8s %u ", xct_proto_name(key->proto), key->proto);
	put(buf, len, &pos, "%llu ", (unsigned long long)xct_entry_timeout(e, now_ns));
	if (key->proto == XCT_IPPROTO_TCP)
		put(buf, len, &pos, "%s ", xct_tcp_state_name(e->state));
	put_tuple(buf, len, &pos, &orig);
	put(buf, len, &pos, "packets=%llu bytes=%llu ", (unsigned long long)e->packets[0],
	    (unsigned long long)e->bytes[0]);
	if (!(e->status & XCT_CT_SEEN_REPLY))
		put(buf, len, &pos, "[UNREPLIED] ");
	put_tuple(buf, len, &pos, &reply);
	put(buf, len, &pos, "packets=%llu bytes=%llu ", (unsigned long long)e->packets[1],
	    (unsigned long long)e->bytes[1]);
	if (e->status & XCT_CT_ASSURED)
		put(buf, len, &pos, "[ASSURED] ");
	put(buf, len, &pos, "mark=%u use=1", e->mark);
	return (int)(pos < len ? pos : len - 1);
}

static void print_tuple_json(FILE *out, const struct xct_tuple *t, __u64 packets, __u64 bytes)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	xct_format_addr(t->family, &t->src, src, sizeof(src));
	xct_format_addr(t->family, &t->dst, dst, sizeof(dst));
	fprintf(out, "{\"src\":\"%s\",\"dst\":\"%s\",", src, dst);
	if (xct_is_icmp(t->family, t->proto))
		fprintf(out, "\"type\":%u,\"code\":%u,\"id\":%u,", t->icmp_type, t->icmp_code,
			t->sport);
	else if (xct_has_ports(t->proto))
		fprintf(out, "\"sport\":%u,\"dport\":%u,", ntohs(t->sport), ntohs(t->dport));
	fprintf(out, "\"packets\":%llu,\"bytes\":%llu}", (unsigned long long)packets,
		(unsigned long long)bytes);
}

void xct_print_conn_json(FILE *out, const struct xct_ct_key *key, const struct xct_ct_entry *e,
			 __u64 now_ns)
{
	struct xct_tuple orig, reply;
	__u64 age = now_ns > e->first_seen_ns ? now_ns - e->first_seen_ns : 0;
	__u64 idle = now_ns > e->last_seen_ns ? now_ns - e->last_seen_ns : 0;

	xct_tuple_from_key(key, e->orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_tuple_from_key(key, e->orig_side, XCT_DIR_REPLY, &reply);
	fprintf(out, "{\"family\":\"%s\",\"proto\":\"%s\",\"protonum\":%u,\"timeout\":%llu,",
		xct_family_name(key->family), xct_proto_name(key->proto), key->proto,
		(unsigned long long)xct_entry_timeout(e, now_ns));
	if (key->proto == XCT_IPPROTO_TCP)
		fprintf(out, "\"state\":\"%s\",", xct_tcp_state_name(e->state));
	fputs("\"orig\":", out);
	print_tuple_json(out, &orig, e->packets[0], e->bytes[0]);
	fputs(",\"reply\":", out);
	print_tuple_json(out, &reply, e->packets[1], e->bytes[1]);
	fprintf(out, ",\"status\":[%s%s%s],",
		(e->status & XCT_CT_SEEN_REPLY) ? "\"SEEN_REPLY\"" : "",
		(e->status & XCT_CT_SEEN_REPLY) && (e->status & XCT_CT_ASSURED) ? "," : "",
		(e->status & XCT_CT_ASSURED) ? "\"ASSURED\"" : "");
	fprintf(out, "\"mark\":%u,\"use\":1,\"age_ms\":%llu,\"idle_ms\":%llu}", e->mark,
		(unsigned long long)(age / 1000000), (unsigned long long)(idle / 1000000));
}
