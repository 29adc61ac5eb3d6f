// SPDX-License-Identifier: GPL-2.0-only
/*
 * conntrack(8)'s default line format and xct's JSON form of an entry.
 * Field order, spacing and flags follow libnetfilter_conntrack's
 * __snprintf_conntrack_default(), so scripts written for conntrack -L read
 * xct ct list unchanged.  Accounting is always on in xct, so packets= and
 * bytes= are always printed (as conntrack does with nf_conntrack_acct=1).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ct_format.h"
#include "ct_labels.h"
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

const char *xct_proto_label(__u8 proto, char *buf, size_t len)
{
	const char *name = xct_proto_name(proto);

	/* 255 stands for "no transport header" in the datapath's events. */
	if (strcmp(name, "unknown") || proto == 255)
		return name;
	snprintf(buf, len, "%u", proto);
	return buf;
}

static const char *const tcp_state_names[XCT_TCP_STATE_COUNT] = {
	"NONE",	      "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",	      "SYN_SENT2",
};

const char *xct_tcp_state_name(__u8 state)
{
	return state < XCT_TCP_STATE_COUNT ? tcp_state_names[state] : "UNKNOWN";
}

/* The length of the name at a, and its state (-1: none). */
static int state_at(const char *a, size_t *len)
{
	const char *end;
	int i;

	for (end = a; *end && *end != ',' && !isspace((unsigned char)*end); end++)
		;
	*len = (size_t)(end - a);
	for (i = 0; i < XCT_TCP_STATE_COUNT; i++)
		if (*len == strlen(tcp_state_names[i]) && !strncasecmp(a, tcp_state_names[i], *len))
			return i;
	if (*len == 6 && !strncasecmp(a, "CLOSED", 6))
		return XCT_TCP_CLOSE;
	return -1;
}

int xct_tcp_state_list(const char *s, __u16 *mask, const char **bad)
{
	const char *a = s, *end;
	size_t len;
	int i;

	*mask = 0;
	for (;;) {
		while (isspace((unsigned char)*a))
			a++;
		i = state_at(a, &len);
		if (i < 0) {
			*bad = a;
			return -EINVAL;
		}
		*mask |= (__u16)(1U << i);
		end = a + len;
		while (isspace((unsigned char)*end))
			end++;
		if (!*end)
			return 0;
		if (*end != ',') {
			*bad = end;
			return -EINVAL;
		}
		a = end + 1;
	}
}

const char *xct_tcp_state_list_error(const char *bad, char *buf, size_t len)
{
	size_t n;

	if (state_at(bad, &n) >= 0)
		snprintf(buf, len, "',' expected between TCP states");
	else if (!n)
		snprintf(buf, len, "a TCP state expected");
	else
		snprintf(buf, len,
			 "'%.*s' is not a TCP state (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, "
			 "CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE or CLOSED, SYN_SENT2, NONE)",
			 (int)n, bad);
	return buf;
}

const char *xct_family_name(__u8 family)
{
	return family == XCT_AF_INET6 ? "ipv6" : "ipv4";
}

void xct_format_addr(__u8 family, const union xct_addr *a, char *buf, size_t len)
{
	size_t pos = 0;
	int i;

	/* IPv4 by hand: glibc's inet_ntop formats it with sprintf, which was
	 * a sixth of the time of listing a large table. */
	if (family != XCT_AF_INET6 && len >= INET_ADDRSTRLEN) {
		for (i = 0; i < 4; i++) {
			unsigned int b = a->bytes[i];

			if (b >= 100)
				buf[pos++] = (char)('0' + b / 100);
			if (b >= 10)
				buf[pos++] = (char)('0' + b / 10 % 10);
			buf[pos++] = (char)('0' + b % 10);
			buf[pos++] = i < 3 ? '.' : 0;
		}
		return;
	}
	if (!inet_ntop(family == XCT_AF_INET6 ? AF_INET6 : AF_INET, a->bytes, buf, len))
		snprintf(buf, len, "?");
}

__u64 xct_entry_timeout(const struct xct_ct_entry *e, __u64 now_ns)
{
	return e->expires_ns > now_ns ? (e->expires_ns - now_ns) / 1000000000ULL : 0;
}

/*
 * A line is built by appending strings and numbers to a buffer: listing a
 * million entries went mostly into vsnprintf's set-up and format parsing,
 * and a line needs none of it.  Appends stop at the buffer's end.
 */
struct line {
	char *buf;
	size_t len; /* the buffer's size, NUL included */
	size_t pos;
};

static void put_str(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (l->pos + n >= l->len)
		n = l->pos < l->len ? l->len - 1 - l->pos : 0;
	memcpy(l->buf + l->pos, s, n);
	l->pos += n;
}

/* s, then spaces up to width, as "%-*s". */
static void put_padded(struct line *l, const char *s, size_t width)
{
	size_t n = strlen(s);

	put_str(l, s);
	for (; n < width && l->pos + 1 < l->len; n++)
		l->buf[l->pos++] = ' ';
}

static void put_u64(struct line *l, unsigned long long v)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && l->pos + 1 < l->len)
		l->buf[l->pos++] = digits[--n];
}

/* "name=value " */
static void put_field(struct line *l, const char *name, unsigned long long v)
{
	put_str(l, name);
	put_u64(l, v);
	put_str(l, " ");
}

static void put_tuple(struct line *l, const struct xct_tuple *t)
{
	char addr[INET6_ADDRSTRLEN];

	xct_format_addr(t->family, &t->src, addr, sizeof(addr));
	put_str(l, "src=");
	put_str(l, addr);
	xct_format_addr(t->family, &t->dst, addr, sizeof(addr));
	put_str(l, " dst=");
	put_str(l, addr);
	put_str(l, " ");
	if (xct_is_icmp(t->family, t->proto)) {
		put_field(l, "type=", t->icmp_type);
		put_field(l, "code=", t->icmp_code);
		put_field(l, "id=", t->sport);
	} else if (xct_has_ports(t->proto)) {
		put_field(l, "sport=", ntohs(t->sport));
		put_field(l, "dport=", ntohs(t->dport));
	}
}

/* What a line starts with, as conntrack prints it: [family] protocol,
 * seconds left, TCP state. */
static void put_head(struct line *l, const struct xct_ct_key *key, const struct xct_ct_entry *e,
		     __u64 now_ns, unsigned int flags)
{
	if (flags & XCT_FMT_EXTENDED) {
		put_padded(l, xct_family_name(key->family), 8);
		put_str(l, " ");
		put_u64(l, key->family);
		put_str(l, " ");
	}
	put_padded(l, xct_proto_name(key->proto), 8);
	put_str(l, " ");
	put_u64(l, key->proto);
	put_str(l, " ");
	/* ctnetlink leaves a DESTROY's timeout out when none is left (an
	 * expired connection), and conntrack -E prints none. */
	if (!(flags & XCT_FMT_NO_ZERO_TIMEOUT) || xct_entry_timeout(e, now_ns)) {
		put_u64(l, xct_entry_timeout(e, now_ns));
		put_str(l, " ");
	}
	if (key->proto == XCT_IPPROTO_TCP) {
		put_str(l, xct_tcp_state_name(e->state));
		put_str(l, " ");
	}
}

__u32 xct_ct_id(const struct xct_ct_key *key, const struct xct_ct_entry *e)
{
	const __u8 *p = (const __u8 *)key;
	__u64 born = e->first_seen_ns;
	__u32 h = 2166136261U; /* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(*key); i++)
		h = (h ^ p[i]) * 16777619U;
	for (i = 0; i < sizeof(born); i++)
		h = (h ^ (__u8)(born >> (8 * i))) * 16777619U;
	return h;
}

/* "[start=Mon Dec  7 05:42:11 2026] ", as ctime() writes the date. */
static void put_start(struct line *l, __u64 first_seen_ns, __s64 wall_offset_ns)
{
	time_t start = (time_t)(((__s64)first_seen_ns + wall_offset_ns) / 1000000000LL);
	char date[32];
	struct tm tm;

	if (!localtime_r(&start, &tm) || !strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm))
		return;
	put_str(l, "[start=");
	put_str(l, date);
	put_str(l, "] ");
}

static void put_labels(struct line *l, const struct xct_fmt_ext *ext)
{
	char names[1024];

	if (!ext || !ext->labels || !(ext->labels[0] | ext->labels[1]))
		return;
	xct_labels_format(ext->labelmap, ext->labels, names, sizeof(names));
	put_str(l, " labels=");
	put_str(l, names);
}

int xct_format_conn(char *buf, size_t len, const struct xct_ct_key *key,
		    const struct xct_ct_entry *e, __u64 now_ns, unsigned int flags)
{
	return xct_format_conn_nat(buf, len, key, e, NULL, NULL, now_ns, flags);
}

int xct_format_conn_nat(char *buf, size_t len, const struct xct_ct_key *key,
			const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			const struct xct_nat_binding *inner, __u64 now_ns, unsigned int flags)
{
	return xct_format_conn_ext(buf, len, key, e, nat, inner, now_ns, flags, NULL);
}

int xct_format_conn_ext(char *buf, size_t len, const struct xct_ct_key *key,
			const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			const struct xct_nat_binding *inner, __u64 now_ns, unsigned int flags,
			const struct xct_fmt_ext *ext)
{
	struct line l = {.buf = buf, .len = len, .pos = 0};
	struct xct_tuple orig, reply;

	if (!len)
		return 0;
	xct_tuple_from_key(key, e->orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_nat_reply_tuple(key, e->orig_side, nat, inner, &reply);

	put_head(&l, key, e, now_ns, flags);
	put_tuple(&l, &orig);
	put_field(&l, "packets=", e->packets[0]);
	put_field(&l, "bytes=", e->bytes[0]);
	if (!(e->status & XCT_CT_SEEN_REPLY))
		put_str(&l, "[UNREPLIED] ");
	put_tuple(&l, &reply);
	put_field(&l, "packets=", e->packets[1]);
	put_field(&l, "bytes=", e->bytes[1]);
	if (e->status & XCT_CT_ASSURED)
		put_str(&l, "[ASSURED] ");
	put_str(&l, "mark=");
	put_u64(&l, e->mark);
	put_str(&l, " ");
	/* conntrack -L's zone=N, after the mark, for a zone other than
	 * the default one. */
	if (key->zone)
		put_field(&l, "zone=", key->zone);
	/* Where libnetfilter_conntrack puts them: the timestamps after the
	 * mark, the id after use, the labels last. */
	if (flags & XCT_FMT_KTIMESTAMP) {
		__u64 end = now_ns > e->first_seen_ns ? now_ns : e->first_seen_ns;

		put_field(&l, "delta-time=", (end - e->first_seen_ns) / 1000000000ULL);
		put_start(&l, e->first_seen_ns, ext ? ext->wall_offset_ns : 0);
	}
	put_str(&l, "use=1");
	if (flags & XCT_FMT_ID) {
		put_str(&l, " id=");
		put_u64(&l, xct_ct_id(key, e));
	}
	if (flags & XCT_FMT_LABELS)
		put_labels(&l, ext);
	buf[l.pos] = 0;
	return (int)l.pos;
}

static const char *const event_prefix[] = {
	[XCT_CTE_NEW] = "    [NEW] ",
	[XCT_CTE_UPDATE] = " [UPDATE] ",
	[XCT_CTE_DESTROY] = "[DESTROY] ",
};

__u64 xct_event_duration_ns(const struct xct_ct_entry *e, __u64 time_ns)
{
	/* A connection that timed out ended when it expired, not when the
	 * GC found it (nf_conntrack corrects its stop time the same way). */
	__u64 end = e->expires_ns && e->expires_ns < time_ns ? e->expires_ns : time_ns;

	return end > e->first_seen_ns ? end - e->first_seen_ns : 0;
}

int xct_format_event(char *buf, size_t len, const struct xct_ct_key *key,
		     const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
		     const struct xct_nat_binding *inner, __u8 type, __u8 end, __u64 time_ns,
		     unsigned int flags)
{
	struct line l = {.buf = buf, .len = len, .pos = 0};
	bool destroy = type == XCT_CTE_DESTROY;
	struct xct_tuple orig, reply;

	if (!len)
		return 0;
	xct_tuple_from_key(key, e->orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_nat_reply_tuple(key, e->orig_side, nat, inner, &reply);

	put_str(&l,
		type <= XCT_CTE_DESTROY && event_prefix[type] ? event_prefix[type] : "[UNKNOWN] ");
	put_head(&l, key, e, time_ns, destroy ? flags | XCT_FMT_NO_ZERO_TIMEOUT : flags);
	/* As conntrack -E: counters only when the connection ends. */
	put_tuple(&l, &orig);
	if (destroy) {
		put_field(&l, "packets=", e->packets[0]);
		put_field(&l, "bytes=", e->bytes[0]);
	}
	if (!(e->status & XCT_CT_SEEN_REPLY))
		put_str(&l, "[UNREPLIED] ");
	put_tuple(&l, &reply);
	if (destroy) {
		put_field(&l, "packets=", e->packets[1]);
		put_field(&l, "bytes=", e->bytes[1]);
	}
	if (e->status & XCT_CT_ASSURED)
		put_str(&l, "[ASSURED] ");
	if (e->mark)
		put_field(&l, "mark=", e->mark);
	if (key->zone)
		put_field(&l, "zone=", key->zone);
	if (destroy)
		put_field(&l, "delta-time=", xct_event_duration_ns(e, time_ns) / 1000000000ULL);
	if (destroy && end == XCT_CTE_END_DELETED)
		put_str(&l, "[USERSPACE] ");
	if (l.pos && buf[l.pos - 1] == ' ')
		l.pos--;
	buf[l.pos] = 0;
	return (int)l.pos;
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
	xct_print_conn_json_nat(out, key, e, NULL, NULL, now_ns);
}

void xct_print_conn_json_nat(FILE *out, const struct xct_ct_key *key, const struct xct_ct_entry *e,
			     const struct xct_nat_binding *nat, const struct xct_nat_binding *inner,
			     __u64 now_ns)
{
	xct_print_conn_json_ext(out, key, e, nat, inner, now_ns, NULL);
}

void xct_print_conn_json_ext(FILE *out, const struct xct_ct_key *key, const struct xct_ct_entry *e,
			     const struct xct_nat_binding *nat, const struct xct_nat_binding *inner,
			     __u64 now_ns, const struct xct_fmt_ext *ext)
{
	struct xct_tuple orig, reply;
	__u64 age = now_ns > e->first_seen_ns ? now_ns - e->first_seen_ns : 0;
	__u64 idle = now_ns > e->last_seen_ns ? now_ns - e->last_seen_ns : 0;
	const char *sep;
	__u8 manip;

	xct_tuple_from_key(key, e->orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_nat_reply_tuple(key, e->orig_side, nat, inner, &reply);
	fprintf(out, "{\"family\":\"%s\",\"proto\":\"%s\",\"protonum\":%u,\"timeout\":%llu,",
		xct_family_name(key->family), xct_proto_name(key->proto), key->proto,
		(unsigned long long)xct_entry_timeout(e, now_ns));
	if (key->proto == XCT_IPPROTO_TCP)
		fprintf(out, "\"state\":\"%s\",", xct_tcp_state_name(e->state));
	fputs("\"orig\":", out);
	print_tuple_json(out, &orig, e->packets[0], e->bytes[0]);
	fputs(",\"reply\":", out);
	print_tuple_json(out, &reply, e->packets[1], e->bytes[1]);
	manip = nat ? nat->manip | (inner ? inner->manip : 0) : 0;
	fputs(",\"status\":[", out);
	sep = "";
	if (e->status & XCT_CT_SEEN_REPLY) {
		fputs("\"SEEN_REPLY\"", out);
		sep = ",";
	}
	if (e->status & XCT_CT_ASSURED) {
		fprintf(out, "%s\"ASSURED\"", sep);
		sep = ",";
	}
	if (manip & XCT_CT_SRC_NAT) {
		fprintf(out, "%s\"SRC_NAT\"", sep);
		sep = ",";
	}
	if (manip & XCT_CT_DST_NAT)
		fprintf(out, "%s\"DST_NAT\"", sep);
	fputs("],", out);
	fprintf(out, "\"mark\":%u,\"zone\":%u,\"use\":1,\"id\":%u,\"age_ms\":%llu,\"idle_ms\":%llu",
		e->mark, key->zone, xct_ct_id(key, e), (unsigned long long)(age / 1000000),
		(unsigned long long)(idle / 1000000));
	if (ext && ext->labels && (ext->labels[0] | ext->labels[1])) {
		char names[1024], *tok, *save = NULL;

		xct_labels_format(ext->labelmap, ext->labels, names, sizeof(names));
		fputs(",\"labels\":[", out);
		sep = "";
		for (tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			fprintf(out, "%s\"%s\"", sep, tok);
			sep = ",";
		}
		fputs("]", out);
	}
	fputs("}", out);
}
