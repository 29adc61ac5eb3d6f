// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IPFIX encoder (ipfix.h): templates as tables of information
 * elements, and data records written field by field from those tables, so
 * a record can never disagree with the template that describes it.
 *
 * Values come from the event as conntrack(8) shows it: the original
 * tuple is the flow's key, the reply tuple gives the translation (the
 * post-NAT source is the reply's destination, the post-NAT destination
 * its source, as nf_nat and conntrackd encode it), the counters are the
 * two directions' (the reply's as post* counters, which nfdump shows as
 * out bytes and out packets).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "export/ipfix.h"
#include "ct_events.h"
#include "xct/nat.h"
#include "xct/tuple.h"

#define IE(i, l, n)                                                                                \
	{                                                                                          \
		.id = (i), .len = (l), .name = (n)                                                 \
	}
#define IE_TCP_STATE                                                                               \
	{                                                                                          \
		.id = XCT_IPFIX_IE_TCP_STATE, .len = 1, .pen = XCT_IPFIX_PEN,                      \
		.name = "xctTcpState"                                                              \
	}

static const struct xct_ipfix_field flow4[] = {
	IE(152, 8, "flowStartMilliseconds"), IE(153, 8, "flowEndMilliseconds"),
	IE(8, 4, "sourceIPv4Address"),	     IE(12, 4, "destinationIPv4Address"),
	IE(7, 2, "sourceTransportPort"),     IE(11, 2, "destinationTransportPort"),
	IE(4, 1, "protocolIdentifier"),	     IE(32, 2, "icmpTypeCodeIPv4"),
	IE(1, 8, "octetDeltaCount"),	     IE(2, 8, "packetDeltaCount"),
	IE(23, 8, "postOctetDeltaCount"),    IE(24, 8, "postPacketDeltaCount"),
	IE(136, 1, "flowEndReason"),	     IE_TCP_STATE,
};

static const struct xct_ipfix_field flow6[] = {
	IE(152, 8, "flowStartMilliseconds"), IE(153, 8, "flowEndMilliseconds"),
	IE(27, 16, "sourceIPv6Address"),     IE(28, 16, "destinationIPv6Address"),
	IE(7, 2, "sourceTransportPort"),     IE(11, 2, "destinationTransportPort"),
	IE(4, 1, "protocolIdentifier"),	     IE(139, 2, "icmpTypeCodeIPv6"),
	IE(1, 8, "octetDeltaCount"),	     IE(2, 8, "packetDeltaCount"),
	IE(23, 8, "postOctetDeltaCount"),    IE(24, 8, "postPacketDeltaCount"),
	IE(136, 1, "flowEndReason"),	     IE_TCP_STATE,
};

static const struct xct_ipfix_field nat4[] = {
	IE(323, 8, "observationTimeMilliseconds"),
	IE(230, 1, "natEvent"),
	IE(8, 4, "sourceIPv4Address"),
	IE(12, 4, "destinationIPv4Address"),
	IE(7, 2, "sourceTransportPort"),
	IE(11, 2, "destinationTransportPort"),
	IE(4, 1, "protocolIdentifier"),
	IE(32, 2, "icmpTypeCodeIPv4"),
	IE(225, 4, "postNATSourceIPv4Address"),
	IE(226, 4, "postNATDestinationIPv4Address"),
	IE(227, 2, "postNAPTSourceTransportPort"),
	IE(228, 2, "postNAPTDestinationTransportPort"),
};

static const struct xct_ipfix_field nat6[] = {
	IE(323, 8, "observationTimeMilliseconds"),
	IE(230, 1, "natEvent"),
	IE(27, 16, "sourceIPv6Address"),
	IE(28, 16, "destinationIPv6Address"),
	IE(7, 2, "sourceTransportPort"),
	IE(11, 2, "destinationTransportPort"),
	IE(4, 1, "protocolIdentifier"),
	IE(139, 2, "icmpTypeCodeIPv6"),
	IE(281, 16, "postNATSourceIPv6Address"),
	IE(282, 16, "postNATDestinationIPv6Address"),
	IE(227, 2, "postNAPTSourceTransportPort"),
	IE(228, 2, "postNAPTDestinationTransportPort"),
};

#define TMPL(i, f)                                                                                 \
	{                                                                                          \
		.id = (i), .nfields = sizeof(f) / sizeof((f)[0]), .fields = (f)                    \
	}

const struct xct_ipfix_template xct_ipfix_templates[XCT_IPFIX_TMPL_COUNT] = {
	TMPL(XCT_IPFIX_TMPL_FLOW4, flow4),
	TMPL(XCT_IPFIX_TMPL_FLOW6, flow6),
	TMPL(XCT_IPFIX_TMPL_NAT4, nat4),
	TMPL(XCT_IPFIX_TMPL_NAT6, nat6),
};

/* What one record says, computed once from the event. */
struct values {
	const struct xct_ct_event *ev;
	struct xct_tuple orig, reply;
	__u64 start_ms, end_ms, event_ms;
	__u8 end_reason, nat_event;
};

static void put_be(__u8 *p, __u64 v, unsigned int len)
{
	while (len--) {
		p[len] = (__u8)v;
		v >>= 8;
	}
}

static int is_icmp(const struct values *v)
{
	return xct_is_icmp(v->orig.family, v->orig.proto);
}

/* A port field in host order: an ICMP query's identifier stands in the
 * source ports, as in conntrack's tuple. */
static __u16 src_port(const struct values *v, const struct xct_tuple *t)
{
	if (is_icmp(v))
		return t->sport;
	return xct_has_ports(t->proto) ? ntohs(t->sport) : 0;
}

static __u16 dst_port(const struct values *v, const struct xct_tuple *t)
{
	return !is_icmp(v) && xct_has_ports(t->proto) ? ntohs(t->dport) : 0;
}

/* Writes one field's value; the element's id says which. */
static void put_field(__u8 *p, const struct xct_ipfix_field *f, const struct values *v)
{
	const struct xct_ct_event *ev = v->ev;
	const union xct_addr *a = NULL;
	__u64 n = 0;

	if (f->pen) {
		/* XCT_IPFIX_IE_TCP_STATE, the only enterprise element */
		put_be(p, ev->key.proto == XCT_IPPROTO_TCP ? ev->state : 0, f->len);
		return;
	}
	switch (f->id) {
	case 8:
	case 27:
		a = &v->orig.src;
		break;
	case 12:
	case 28:
		a = &v->orig.dst;
		break;
	case 225:
	case 281:
		a = &v->reply.dst;
		break;
	case 226:
	case 282:
		a = &v->reply.src;
		break;
	case 1:
		n = ev->bytes[XCT_DIR_ORIGINAL];
		break;
	case 2:
		n = ev->packets[XCT_DIR_ORIGINAL];
		break;
	case 23:
		n = ev->bytes[XCT_DIR_REPLY];
		break;
	case 24:
		n = ev->packets[XCT_DIR_REPLY];
		break;
	case 4:
		n = ev->key.proto;
		break;
	case 7:
		n = src_port(v, &v->orig);
		break;
	case 11:
		n = dst_port(v, &v->orig);
		break;
	case 227:
		/* the reply goes back to the translated source */
		n = is_icmp(v) ? v->reply.sport : dst_port(v, &v->reply);
		break;
	case 228:
		n = is_icmp(v) ? 0 : src_port(v, &v->reply);
		break;
	case 32:
	case 139:
		n = is_icmp(v) ? (__u16)(v->orig.icmp_type << 8 | v->orig.icmp_code) : 0;
		break;
	case 136:
		n = v->end_reason;
		break;
	case 152:
		n = v->start_ms;
		break;
	case 153:
		n = v->end_ms;
		break;
	case 230:
		n = v->nat_event;
		break;
	case 323:
		n = v->event_ms;
		break;
	}
	if (a)
		memcpy(p, a->bytes, f->len);
	else
		put_be(p, n, f->len);
}

size_t xct_ipfix_record_len(const struct xct_ipfix_template *t)
{
	size_t len = 0;
	int i;

	for (i = 0; i < t->nfields; i++)
		len += t->fields[i].len;
	return len;
}

/* NetFlow v9 has no enterprise elements: a v9 message leaves them out
 * of its templates and records. */
static int carried(const struct xct_ipfix_msg *m, const struct xct_ipfix_field *f)
{
	return !(m->netflow9 && f->pen);
}

static size_t msg_record_len(const struct xct_ipfix_msg *m, const struct xct_ipfix_template *t)
{
	size_t len = 0;
	int i;

	for (i = 0; i < t->nfields; i++)
		len += carried(m, &t->fields[i]) ? t->fields[i].len : 0;
	return len;
}

static size_t template_record_len(const struct xct_ipfix_msg *m, const struct xct_ipfix_template *t)
{
	size_t len = 4; /* template ID, field count */
	int i;

	for (i = 0; i < t->nfields; i++)
		len += carried(m, &t->fields[i]) ? (t->fields[i].pen ? 8 : 4) : 0;
	return len;
}

void xct_ipfix_msg_init(struct xct_ipfix_msg *m, void *buf, size_t cap)
{
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->cap = cap;
	m->len = XCT_IPFIX_HEADER_LEN;
}

void xct_nf9_msg_init(struct xct_ipfix_msg *m, void *buf, size_t cap)
{
	xct_ipfix_msg_init(m, buf, cap);
	m->netflow9 = 1;
	m->len = XCT_NF9_HEADER_LEN;
}

/* RFC 3954 §5.3: a v9 FlowSet is padded so that the next one starts on a
 * 4-byte boundary (the padding counts in its length). */
static size_t pad_len(const struct xct_ipfix_msg *m)
{
	return m->netflow9 ? (4 - (m->len - m->set_off) % 4) % 4 : 0;
}

static void close_set(struct xct_ipfix_msg *m)
{
	size_t pad;

	if (m->set_off) {
		pad = pad_len(m);
		memset(m->buf + m->len, 0, pad);
		m->len += pad;
		put_be(m->buf + m->set_off + 2, m->len - m->set_off, 2);
	}
	m->set_off = 0;
}

/* Makes room for len bytes in a set of set_id, opening one if the last
 * set is another: where to write, or NULL when the message is full (the
 * padding a v9 set may need when it closes included). */
static __u8 *reserve(struct xct_ipfix_msg *m, __u16 set_id, size_t len)
{
	int same = m->set_off && m->set_id == set_id;
	size_t need = len + (same ? 0 : XCT_IPFIX_SET_HEADER_LEN) + (m->netflow9 ? 3 : 0);
	__u8 *p;

	if (m->len + need > m->cap)
		return NULL;
	if (!same) {
		close_set(m);
		m->set_off = m->len;
		m->set_id = set_id;
		put_be(m->buf + m->len, set_id, 2);
		put_be(m->buf + m->len + 2, 0, 2);
		m->len += XCT_IPFIX_SET_HEADER_LEN;
	}
	p = m->buf + m->len;
	m->len += len;
	return p;
}

int xct_ipfix_put_templates(struct xct_ipfix_msg *m)
{
	size_t len = 0;
	int i, j, n;
	__u8 *p;

	for (i = 0; i < XCT_IPFIX_TMPL_COUNT; i++)
		len += template_record_len(m, &xct_ipfix_templates[i]);
	p = reserve(m, m->netflow9 ? XCT_NF9_SET_TEMPLATE : XCT_IPFIX_SET_TEMPLATE, len);
	if (!p)
		return -ENOSPC;
	for (i = 0; i < XCT_IPFIX_TMPL_COUNT; i++) {
		const struct xct_ipfix_template *t = &xct_ipfix_templates[i];

		put_be(p, t->id, 2);
		for (j = 0, n = 0; j < t->nfields; j++)
			n += carried(m, &t->fields[j]);
		put_be(p + 2, n, 2);
		p += 4;
		for (j = 0; j < t->nfields; j++) {
			const struct xct_ipfix_field *f = &t->fields[j];

			if (!carried(m, f))
				continue;
			put_be(p, f->id | (f->pen ? 0x8000 : 0), 2);
			put_be(p + 2, f->len, 2);
			p += 4;
			if (f->pen) {
				put_be(p, f->pen, 4);
				p += 4;
			}
		}
	}
	m->count += XCT_IPFIX_TMPL_COUNT;
	return 0;
}

__u8 xct_ipfix_end_reason(const struct xct_ct_event *ev)
{
	switch (ev->end) {
	case XCT_CTE_END_DELETED:
		return XCT_IPFIX_END_FORCED;
	case XCT_CTE_END_EARLY_DROP:
		return XCT_IPFIX_END_RESOURCES;
	}
	/* Expired, or its tuple taken by a new connection after it expired
	 * or closed: a TCP connection that closed ended by itself. */
	if (ev->key.proto == XCT_IPPROTO_TCP &&
	    (ev->state == XCT_TCP_TIME_WAIT || ev->state == XCT_TCP_CLOSE))
		return XCT_IPFIX_END_FLOW_END;
	return XCT_IPFIX_END_IDLE;
}

static int translated(const struct xct_ct_event *ev)
{
	return ev->nat_manip & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT);
}

int xct_ipfix_event_records(const struct xct_ct_event *ev)
{
	if (ev->type == XCT_CTE_DESTROY)
		return translated(ev) ? 2 : 1;
	if (ev->type == XCT_CTE_NEW)
		return translated(ev) ? 1 : 0;
	return 0;
}

static __u64 wall_ms(__u64 mono_ns, __s64 mono_to_real_ns)
{
	return (__u64)((__s64)mono_ns + mono_to_real_ns) / 1000000ULL;
}

static void put_record(const struct xct_ipfix_msg *m, __u8 *p, const struct xct_ipfix_template *t,
		       const struct values *v)
{
	int i;

	for (i = 0; i < t->nfields; i++) {
		if (!carried(m, &t->fields[i]))
			continue;
		put_field(p, &t->fields[i], v);
		p += t->fields[i].len;
	}
}

int xct_ipfix_put_event(struct xct_ipfix_msg *m, const struct xct_ct_event *ev,
			__s64 mono_to_real_ns)
{
	int v6 = ev->key.family == XCT_AF_INET6, n = xct_ipfix_event_records(ev);
	const struct xct_ipfix_template *flow = &xct_ipfix_templates[v6 ? 1 : 0];
	const struct xct_ipfix_template *nat = &xct_ipfix_templates[v6 ? 3 : 2];
	struct xct_nat_binding b, inner;
	struct xct_ipfix_msg saved = *m;
	struct values v = {.ev = ev};
	__u8 *p;

	if (!n)
		return 0;
	xct_tuple_from_key(&ev->key, ev->orig_side, XCT_DIR_ORIGINAL, &v.orig);
	xct_event_nat(ev, &b, &inner);
	xct_nat_reply_tuple(&ev->key, ev->orig_side, b.manip ? &b : NULL,
			    inner.manip ? &inner : NULL, &v.reply);
	v.start_ms = wall_ms(ev->first_seen_ns, mono_to_real_ns);
	/* flowEndMilliseconds is the last packet's time (RFC 7012). */
	v.end_ms = wall_ms(ev->last_seen_ns, mono_to_real_ns);
	v.event_ms = wall_ms(ev->time_ns, mono_to_real_ns);
	if (ev->type == XCT_CTE_DESTROY) {
		v.end_reason = xct_ipfix_end_reason(ev);
		v.nat_event = v6 ? XCT_IPFIX_NAT_DELETE : XCT_IPFIX_NAT44_DELETE;
		p = reserve(m, flow->id, msg_record_len(m, flow));
		if (!p)
			goto full;
		put_record(m, p, flow, &v);
		m->records++;
	} else {
		v.nat_event = v6 ? XCT_IPFIX_NAT_CREATE : XCT_IPFIX_NAT44_CREATE;
	}
	if (translated(ev)) {
		p = reserve(m, nat->id, msg_record_len(m, nat));
		if (!p)
			goto full;
		put_record(m, p, nat, &v);
		m->records++;
	}
	m->count += n;
	return n;
full:
	/* Both records or none: the set headers written go with them. */
	*m = saved;
	return -ENOSPC;
}

size_t xct_ipfix_msg_finish(struct xct_ipfix_msg *m, __u32 export_time, __u32 seq, __u32 domain)
{
	close_set(m);
	put_be(m->buf, XCT_IPFIX_VERSION, 2);
	put_be(m->buf + 2, m->len, 2);
	put_be(m->buf + 4, export_time, 4);
	put_be(m->buf + 8, seq, 4);
	put_be(m->buf + 12, domain, 4);
	return m->len;
}

size_t xct_nf9_msg_finish(struct xct_ipfix_msg *m, __u32 uptime_ms, __u32 unix_secs, __u32 seq,
			  __u32 source_id)
{
	close_set(m);
	put_be(m->buf, XCT_NF9_VERSION, 2);
	put_be(m->buf + 2, m->count, 2);
	put_be(m->buf + 4, uptime_ms, 4);
	put_be(m->buf + 8, unix_secs, 4);
	put_be(m->buf + 12, seq, 4);
	put_be(m->buf + 16, source_id, 4);
	return m->len;
}
