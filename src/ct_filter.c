// SPDX-License-Identifier: GPL-2.0-only
/*
 * Parsing and matching of conntrack-tools' filters.  Addresses take an
 * optional prefix length (CIDR), as conntrack's --mask-src/--mask-dst do;
 * names are accepted case-insensitively, like conntrack's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ct_filter.h"
#include "ct_format.h"
#include "rules/ruleset.h"
#include "xct/tuple.h"
#include "xct.h"

void xct_filter_init(struct xct_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->proto = -1;
	f->sport = -1;
	f->dport = -1;
	f->state = -1;
	f->icmp_type = -1;
	f->icmp_code = -1;
	f->icmp_id = -1;
	f->snat.port = f->dnat.port = f->anynat.port = -1;
	f->reply_sport = -1;
	f->reply_dport = -1;
	f->timeout_max = -1;
	f->zone = -1;
	f->dir_zone = -1;
}

int xct_parse_netmask(const char *s, __u8 *family, __u8 *plen)
{
	__u8 bytes[16];
	int af = strchr(s, ':') ? AF_INET6 : AF_INET, n = af == AF_INET6 ? 16 : 4, i, bits = 0;
	bool ended = false;

	if (inet_pton(af, s, bytes) != 1)
		return -EINVAL;
	for (i = 0; i < n * 8; i++) {
		bool one = bytes[i / 8] & (0x80 >> (i % 8));

		if (one && ended)
			return -EINVAL;
		if (one)
			bits++;
		else
			ended = true;
	}
	*family = af == AF_INET6 ? XCT_AF_INET6 : XCT_AF_INET;
	*plen = (__u8)bits;
	return 0;
}

int xct_parse_nat_match(const char *s, struct xct_nat_match *m)
{
	char buf[80], *addr = buf, *port = NULL, *end;
	__u64 v;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (buf[0] == '[') {
		/* [2001:db8::1]:80 */
		end = strchr(buf, ']');
		if (!end)
			return -EINVAL;
		*end = '\0';
		addr = buf + 1;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return -EINVAL;
	} else if (strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, ':')) {
		/* One colon: IPv4:PORT.  More: an IPv6 address alone. */
		port = strchr(buf, ':');
		*port++ = '\0';
	}
	if (strchr(addr, '/') || xct_parse_cidr(addr, &m->addr))
		return -EINVAL;
	m->has_addr = true;
	m->port = -1;
	if (port) {
		if (xct_parse_u64(port, 0, 65535, &v))
			return -EINVAL;
		m->port = (int)v;
	}
	return 0;
}

/* The rules file's address parser, so that every command takes and refuses
 * the same addresses, with the same messages. */
int xct_parse_cidr_msg(const char *s, struct xct_cidr *out, char *msg, size_t msglen)
{
	struct xct_prefix pf;
	int err;

	memset(out, 0, sizeof(*out));
	err = xct_parse_prefix_msg(s, &pf, msg, msglen);
	if (err)
		return err;
	out->family = pf.family;
	out->prefix = pf.plen;
	_Static_assert(sizeof(out->addr.bytes) == sizeof(pf.addr), "address sizes");
	memcpy(out->addr.bytes, pf.addr, sizeof(pf.addr));
	return 0;
}

int xct_parse_cidr(const char *s, struct xct_cidr *out)
{
	return xct_parse_cidr_msg(s, out, NULL, 0);
}

int xct_parse_proto(const char *s, int *proto)
{
	static const __u8 known[] = {1, 6, 17, 33, 47, 58, 132, 136};
	__u64 v;
	size_t i;

	for (i = 0; i < sizeof(known); i++) {
		if (!strcasecmp(s, xct_proto_name(known[i]))) {
			*proto = known[i];
			return 0;
		}
	}
	if (!strcasecmp(s, "ipv6-icmp")) {
		*proto = 58;
		return 0;
	}
	if (xct_parse_u64(s, 0, 255, &v))
		return -EINVAL;
	*proto = (int)v;
	return 0;
}

int xct_parse_tcp_state(const char *s, int *state)
{
	int i;

	for (i = 0; i < XCT_TCP_STATE_COUNT; i++) {
		if (!strcasecmp(s, xct_tcp_state_name(i))) {
			*state = i;
			return 0;
		}
	}
	/* conntrack(8) still accepts LISTEN, the old name of SYN_SENT2. */
	if (!strcasecmp(s, "LISTEN")) {
		*state = XCT_TCP_SYN_SENT2;
		return 0;
	}
	return -EINVAL;
}

int xct_parse_status(const char *s, __u16 *set, bool *unset)
{
	char buf[128], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcasecmp(tok, "ASSURED"))
			*set |= XCT_CT_ASSURED;
		else if (!strcasecmp(tok, "SEEN_REPLY"))
			*set |= XCT_CT_SEEN_REPLY;
		else if (!strcasecmp(tok, "UNSET"))
			*unset = true;
		else
			return -EINVAL;
	}
	return 0;
}

int xct_parse_family(const char *s, __u8 *family)
{
	if (!strcasecmp(s, "ipv4") || !strcasecmp(s, "inet"))
		*family = XCT_AF_INET;
	else if (!strcasecmp(s, "ipv6") || !strcasecmp(s, "inet6"))
		*family = XCT_AF_INET6;
	else
		return -EINVAL;
	return 0;
}

int xct_parse_mark(const char *s, __u32 *mark, __u32 *mask)
{
	char buf[64], *slash;
	__u64 v, m = 0xffffffff;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (xct_parse_u64(slash + 1, 0, 0xffffffff, &m) || m == 0)
			return -EINVAL;
	}
	if (xct_parse_u64(buf, 0, 0xffffffff, &v))
		return -EINVAL;
	*mark = (__u32)v;
	*mask = (__u32)m;
	return 0;
}

static bool cidr_match(const struct xct_cidr *c, __u8 family, const union xct_addr *a)
{
	unsigned int full = c->prefix / 8, rest = c->prefix % 8;

	if (c->family != family)
		return false;
	if (memcmp(c->addr.bytes, a->bytes, full))
		return false;
	if (rest) {
		__u8 mask = (__u8)(0xff << (8 - rest));

		return (c->addr.bytes[full] & mask) == (a->bytes[full] & mask);
	}
	return true;
}

bool xct_filter_match(const struct xct_filter *f, const struct xct_ct_key *key,
		      const struct xct_ct_entry *e)
{
	return xct_filter_match_nat(f, key, e, NULL, NULL);
}

bool xct_filter_match_nat(const struct xct_filter *f, const struct xct_ct_key *key,
			  const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			  const struct xct_nat_binding *inner)
{
	return xct_filter_match_ext(f, key, e, nat, inner, NULL, 0);
}

/*
 * conntrack's filter_nat(): translated the way asked and, with an address,
 * to that address: a source translation's address is the reply's
 * destination, a destination translation's the reply's source.
 */
static bool nat_match(const struct xct_nat_match *m, __u16 want, __u16 manip, __u8 family,
		      const struct xct_tuple *reply)
{
	bool ok = false;

	if ((want & XCT_CT_SRC_NAT) && (manip & XCT_CT_SRC_NAT))
		ok = !m->has_addr || (cidr_match(&m->addr, family, &reply->dst) &&
				      (m->port < 0 || ntohs(reply->dport) == m->port));
	if (!ok && (want & XCT_CT_DST_NAT) && (manip & XCT_CT_DST_NAT))
		ok = !m->has_addr || (cidr_match(&m->addr, family, &reply->src) &&
				      (m->port < 0 || ntohs(reply->sport) == m->port));
	return ok;
}

static bool labels_match(const struct xct_filter *f, const __u64 *labels)
{
	int i;

	for (i = 0; i < f->nlabel_sets; i++)
		if (labels && (labels[0] & f->labels[i][0]) == f->labels[i][0] &&
		    (labels[1] & f->labels[i][1]) == f->labels[i][1])
			return true;
	return false;
}

bool xct_filter_match_ext(const struct xct_filter *f, const struct xct_ct_key *key,
			  const struct xct_ct_entry *e, const struct xct_nat_binding *nat,
			  const struct xct_nat_binding *inner, const __u64 *labels, __u64 now_ns)
{
	__u16 manip = nat ? nat->manip | (inner ? inner->manip : 0) : 0;
	struct xct_tuple orig, reply;
	const union xct_addr *addrs[XCT_F_ADDR_COUNT];
	int i;

	if (f->family && key->family != f->family)
		return false;
	if (f->proto >= 0 && key->proto != f->proto)
		return false;
	if (f->zone >= 0 && key->zone != f->zone)
		return false;
	if (f->dir_zone > 0)
		return false;
	xct_tuple_from_key(key, e->orig_side, XCT_DIR_ORIGINAL, &orig);
	xct_nat_reply_tuple(key, e->orig_side, nat, inner, &reply);
	if ((f->nat_any & XCT_CT_SRC_NAT) && (f->nat_any & XCT_CT_DST_NAT)) {
		if (!nat_match(&f->anynat, f->nat_any, manip, key->family, &reply))
			return false;
	} else {
		if ((f->nat_any & XCT_CT_SRC_NAT) &&
		    !nat_match(&f->snat, XCT_CT_SRC_NAT, manip, key->family, &reply))
			return false;
		if ((f->nat_any & XCT_CT_DST_NAT) &&
		    !nat_match(&f->dnat, XCT_CT_DST_NAT, manip, key->family, &reply))
			return false;
	}
	addrs[XCT_F_ORIG_SRC] = &orig.src;
	addrs[XCT_F_ORIG_DST] = &orig.dst;
	addrs[XCT_F_REPLY_SRC] = &reply.src;
	addrs[XCT_F_REPLY_DST] = &reply.dst;
	for (i = 0; i < XCT_F_ADDR_COUNT; i++)
		if (f->has_addr[i] && !cidr_match(&f->addr[i], key->family, addrs[i]))
			return false;
	if (f->sport >= 0 && (!xct_has_ports(key->proto) || ntohs(orig.sport) != f->sport))
		return false;
	if (f->dport >= 0 && (!xct_has_ports(key->proto) || ntohs(orig.dport) != f->dport))
		return false;
	if (f->reply_sport >= 0 &&
	    (!xct_has_ports(key->proto) || ntohs(reply.sport) != f->reply_sport))
		return false;
	if (f->reply_dport >= 0 &&
	    (!xct_has_ports(key->proto) || ntohs(reply.dport) != f->reply_dport))
		return false;
	if (f->state >= 0 && (key->proto != XCT_IPPROTO_TCP || e->state != f->state))
		return false;
	if ((e->status & f->status_set) != f->status_set)
		return false;
	if (f->status_unset && (e->status & (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED)))
		return false;
	if (f->icmp_type >= 0 || f->icmp_code >= 0 || f->icmp_id >= 0) {
		if (!xct_is_icmp(key->family, key->proto))
			return false;
		if (f->icmp_type >= 0 && orig.icmp_type != f->icmp_type)
			return false;
		if (f->icmp_code >= 0 && orig.icmp_code != f->icmp_code)
			return false;
		if (f->icmp_id >= 0 && orig.sport != f->icmp_id)
			return false;
	}
	if (f->mark_mask && (e->mark & f->mark_mask) != (f->mark & f->mark_mask))
		return false;
	if (f->has_id && xct_ct_id(key, e) != f->id)
		return false;
	if (f->timeout_max >= 0 && xct_entry_timeout(e, now_ns) > (__u64)f->timeout_max)
		return false;
	if (f->nlabel_sets && !labels_match(f, labels))
		return false;
	return true;
}
