/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Concatenations, part of parse.c: ip saddr . tcp dport @allowed, { ... },
 * vmap { ... }, and the typed set and map declarations that hold them
 * (set NAME { type ipv4_addr . inet_service; elements = { ... } }).
 *
 * A concatenation's set holds tuples of exact values, looked up in a hash
 * table (include/xct/policy.h): nft's intervals in a concatenation
 * (flags interval, 10.0.0.0/8 . 22) need a different structure and are
 * refused.  A verdict map's elements become rules, one per element, as a
 * plain vmap's do, so they may hold prefixes and ranges.
 */
#ifndef XCT_RULES_PARSE_CONCAT_H
#define XCT_RULES_PARSE_CONCAT_H

static const struct {
	const char *name; /* as a type statement writes it */
	const char *desc; /* as nft's messages name it */
} concat_types[XCT_CT_COUNT] = {
	[XCT_CT_IPV4] = {"ipv4_addr", "IPv4 address"},
	[XCT_CT_IPV6] = {"ipv6_addr", "IPv6 address"},
	[XCT_CT_SERVICE] = {"inet_service", "internet network service"},
	[XCT_CT_PROTO] = {"inet_proto", "Internet protocol"},
	[XCT_CT_MARK] = {"mark", "packet mark"},
};

/* The datatype of each enum xct_concat_field, and how it is written. */
static const struct {
	__u8 type;
	const char *name;
} concat_fields[] = {
	[XCT_CF_SADDR4] = {XCT_CT_IPV4, "ip saddr"},
	[XCT_CF_DADDR4] = {XCT_CT_IPV4, "ip daddr"},
	[XCT_CF_SADDR6] = {XCT_CT_IPV6, "ip6 saddr"},
	[XCT_CF_DADDR6] = {XCT_CT_IPV6, "ip6 daddr"},
	[XCT_CF_SPORT] = {XCT_CT_SERVICE, "th sport"},
	[XCT_CF_DPORT] = {XCT_CT_SERVICE, "th dport"},
	[XCT_CF_PROTO] = {XCT_CT_PROTO, "meta l4proto"},
	[XCT_CF_META_MARK] = {XCT_CT_MARK, "meta mark"},
	[XCT_CF_CT_MARK] = {XCT_CT_MARK, "ct mark"},
};

static __u32 concat_type_len(__u8 type)
{
	return type == XCT_CT_IPV6 ? 16 : 4;
}

void xct_concat_type_format(const __u8 *types, size_t n, char *buf, size_t len)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " . " : "",
				       types[i] < XCT_CT_COUNT && concat_types[types[i]].name
					       ? concat_types[types[i]].name
					       : "?");
}

/* "concatenation of (IPv4 address, internet network service)" */
static void concat_type_desc(const __u8 *types, size_t n, char *buf, size_t len)
{
	size_t i, at;

	at = (size_t)snprintf(buf, len, "concatenation of (");
	for (i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "",
				       concat_types[types[i]].desc);
	if (at < len)
		snprintf(buf + at, len - at, ")");
}

static void concat_val_format(const struct xct_concat_val *v, __u8 type, char *buf, size_t len)
{
	char b[8];

	switch (type) {
	case XCT_CT_IPV4:
	case XCT_CT_IPV6:
		format_prefix(&v->prefix, buf, len);
		break;
	case XCT_CT_SERVICE:
		if (v->ports.lo == v->ports.hi)
			snprintf(buf, len, "%u", v->ports.lo);
		else
			snprintf(buf, len, "%u-%u", v->ports.lo, v->ports.hi);
		break;
	case XCT_CT_PROTO:
		snprintf(buf, len, "%s", proto_name((__u8)v->num, b, sizeof(b)));
		break;
	default:
		snprintf(buf, len, "0x%08x", v->num);
		break;
	}
}

void xct_concat_elem_format(const struct xct_concat_elem *e, const __u8 *types, size_t n, char *buf,
			    size_t len)
{
	char v[INET6_ADDRSTRLEN + 8];
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < n && at < len; i++) {
		concat_val_format(&e->v[i], types[i], v, sizeof(v));
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " . " : "", v);
	}
}

void xct_concat_elem_key(const struct xct_concat_elem *e, const __u8 *types, size_t n, __u8 *data)
{
	__u32 off = 0;
	size_t i;

	memset(data, 0, XCT_CONCAT_DATA + 16);
	for (i = 0; i < n && off + concat_type_len(types[i]) <= XCT_CONCAT_DATA; i++) {
		const struct xct_concat_val *v = &e->v[i];
		__u16 port = htons(v->ports.lo);

		switch (types[i]) {
		case XCT_CT_IPV4:
		case XCT_CT_IPV6:
			memcpy(data + off, v->prefix.addr, concat_type_len(types[i]));
			break;
		case XCT_CT_SERVICE:
			memcpy(data + off, &port, 2);
			break;
		case XCT_CT_PROTO:
			data[off] = (__u8)v->num;
			break;
		default:
			memcpy(data + off, &v->num, 4);
			break;
		}
		off += concat_type_len(types[i]);
	}
}

void xct_concat_elem_from_key(const __u8 *data, const __u8 *types, size_t n,
			      struct xct_concat_elem *e)
{
	__u32 off = 0;
	size_t i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < n && off + concat_type_len(types[i]) <= XCT_CONCAT_DATA; i++) {
		struct xct_concat_val *v = &e->v[i];
		__u16 port;

		switch (types[i]) {
		case XCT_CT_IPV4:
		case XCT_CT_IPV6:
			v->prefix.family = types[i] == XCT_CT_IPV4 ? XCT_AF_INET : XCT_AF_INET6;
			v->prefix.plen = types[i] == XCT_CT_IPV4 ? 32 : 128;
			memcpy(v->prefix.addr, data + off, concat_type_len(types[i]));
			break;
		case XCT_CT_SERVICE:
			memcpy(&port, data + off, 2);
			v->ports.lo = v->ports.hi = ntohs(port);
			break;
		case XCT_CT_PROTO:
			v->num = data[off];
			break;
		default:
			memcpy(&v->num, data + off, 4);
			break;
		}
		off += concat_type_len(types[i]);
	}
}

/* A mark as nft writes one: decimal or 0x hex, 32 bits. */
static int concat_mark_parse(const char *s, size_t len, __u32 *out)
{
	unsigned long long v = 0;
	size_t i;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len; i++) {
			char c = s[i];
			int d = is_digit(c)		 ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
				: (c >= 'A' && c <= 'F') ? c - 'A' + 10
							 : -1;

			if (d < 0 || (v = v * 16 + (unsigned)d) > 0xffffffffULL)
				return -EINVAL;
		}
	} else if (parse_num(s, len, 0xffffffffULL, &v) != NUM_OK) {
		return -EINVAL;
	}
	*out = (__u32)v;
	return 0;
}

/*
 * One component's value, s[0..len), of a type; ranges: a prefix or a port
 * range is allowed (a vmap's element).  -EINVAL with the reason in msg.
 */
static int concat_value_parse(const char *s, size_t len, __u8 type, bool ranges,
			      struct xct_concat_val *v, char *msg, size_t n)
{
	int shown = (int)(len > 40 ? 40 : len);
	unsigned long long num;
	int i;

	memset(v, 0, sizeof(*v));
	switch (type) {
	case XCT_CT_IPV4:
	case XCT_CT_IPV6: {
		bool looks = memchr(s, '.', len) || memchr(s, ':', len);
		__u8 fam = type == XCT_CT_IPV4 ? XCT_AF_INET : XCT_AF_INET6;

		if (!looks || prefix_parse(s, len, &v->prefix, msg, n)) {
			if (!looks)
				snprintf(msg, n, "expected an %s, got '%.*s'",
					 concat_types[type].desc, shown, s);
			return -EINVAL;
		}
		if (v->prefix.family != fam) {
			snprintf(msg, n,
				 "'%.*s' is an %s address, but the concatenation expects an %s",
				 shown, s, family_name(v->prefix.family), concat_types[type].desc);
			return -EINVAL;
		}
		if (!ranges && v->prefix.plen != (fam == XCT_AF_INET ? 32 : 128)) {
			snprintf(msg, n,
				 "'%.*s' is a prefix: a concatenation's set holds exact values "
				 "(nft's intervals in concatenations are not supported)",
				 shown, s);
			return -EINVAL;
		}
		return 0;
	}
	case XCT_CT_SERVICE:
		if (!len || !is_digit(s[0])) {
			snprintf(msg, n, "expected a port (0-65535), got '%.*s'", shown, s);
			return -EINVAL;
		}
		if (port_range_parse(s, len, &v->ports, msg, n))
			return -EINVAL;
		if (!ranges && v->ports.lo != v->ports.hi) {
			snprintf(msg, n,
				 "'%.*s' is a port range: a concatenation's set holds exact values "
				 "(nft's intervals in concatenations are not supported)",
				 shown, s);
			return -EINVAL;
		}
		return 0;
	case XCT_CT_PROTO:
		i = lookup(proto_names, ARRAY_SIZE(proto_names), s, len);
		if (i >= 0) {
			v->num = (__u32)proto_names[i].val;
			return 0;
		}
		if (len && is_digit(s[0]) && parse_num(s, len, 255, &num) == NUM_OK) {
			v->num = (__u32)num;
			return 0;
		}
		snprintf(
			msg, n,
			"expected a protocol (tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or 0-255), "
			"got '%.*s'",
			shown, s);
		return -EINVAL;
	default:
		if (!len || !is_digit(s[0]) || concat_mark_parse(s, len, &v->num)) {
			snprintf(msg, n,
				 "expected a mark (a number such as 16 or 0x10), got '%.*s'", shown,
				 s);
			return -EINVAL;
		}
		return 0;
	}
}

/* Whether the token after cur is a lone '.': cur starts a concatenation. */
static bool next_is_dot(struct parser *p)
{
	struct lex_state ls;
	bool yes;

	lex_save(p, &ls);
	advance(p);
	yes = tok_is(&p->cur, ".");
	lex_restore(p, &ls);
	return yes;
}

/*
 * One element at cur: n values joined by '.'.  In a vmap (verdict) the
 * last value may carry the ':' (10.0.0.1 . 22: accept); *colon then says
 * so.
 */
static int concat_elem_parse(struct parser *p, const __u8 *types, size_t n, bool ranges,
			     bool verdict, struct xct_concat_elem *e, bool *colon)
{
	char msg[sizeof(p->err->msg)];
	size_t i;

	memset(e, 0, sizeof(*e));
	*colon = false;
	for (i = 0; i < n; i++) {
		struct tok t = p->cur;
		size_t len = t.len;

		if (i) {
			if (!tok_is(&t, "."))
				return perr(
					p, &t,
					"expected '.' and %s %s after '%s' (the set's type is %s), "
					"got %s",
					types[i] == XCT_CT_IPV4 || types[i] == XCT_CT_IPV6 ? "an"
											   : "a",
					concat_types[types[i]].desc, TXT(&p->last),
					(xct_concat_type_format(types, n, msg, sizeof(msg)), msg),
					GOT(&t));
			advance(p);
			t = p->cur;
			len = t.len;
		}
		if (t.type == TOK_WORD && t.s[0] == '@')
			return perr(p, &t, "a set cannot hold another set ('%s')", TXT(&t));
		if (t.type != TOK_WORD || tok_is(&t, "."))
			return perr(p, &t, "expected %s %s in the element, got %s",
				    types[i] == XCT_CT_IPV4 || types[i] == XCT_CT_IPV6 ? "an" : "a",
				    concat_types[types[i]].desc, GOT(&t));
		if (verdict && i + 1 == n && len > 1 && t.s[len - 1] == ':' &&
		    (types[i] != XCT_CT_IPV6 || len < 2 || t.s[len - 2] != ':')) {
			len--;
			*colon = true;
		}
		if (concat_value_parse(t.s, len, types[i], ranges, &e->v[i], msg, sizeof(msg)))
			return perr(p, &t, "%s", msg);
		advance(p);
	}
	if (!verdict && tok_is(&p->cur, "."))
		return perr(p, &p->cur, "the element has more than the %zu values of its type (%s)",
			    n, (xct_concat_type_format(types, n, msg, sizeof(msg)), msg));
	return 0;
}

/* A concatenation set's elements, as parse_list() calls for each. */
struct concat_set_ctx {
	struct xct_set_def *def;
	size_t cap;
};

static int concat_set_elem(struct parser *p, void *ctx)
{
	struct concat_set_ctx *cs = ctx;
	struct xct_set_def *d = cs->def;
	struct tok at = p->cur;
	bool colon;
	int err;

	if (vec_reserve(d->elems, d->n_elems, cs->cap))
		return oom(p, &at);
	err = concat_elem_parse(p, d->ctypes, d->n_ctypes, false, false, &d->elems[d->n_elems],
				&colon);
	if (err)
		return err;
	d->n_elems++;
	return 0;
}

/* type T . T [. T]... at cur (after 'type'): into types, *n. */
static int concat_type_parse(struct parser *p, __u8 *types, __u8 *n, bool *single)
{
	__u32 bytes = 0;
	int t;

	*n = 0;
	for (;;) {
		const struct tok *w = &p->cur;

		for (t = 1; t < XCT_CT_COUNT; t++)
			if (tok_is(w, concat_types[t].name))
				break;
		if (t == XCT_CT_COUNT)
			return perr(
				p, w,
				"expected a type (ipv4_addr, ipv6_addr, inet_service, inet_proto "
				"or mark), got %s",
				GOT(w));
		if (*n == XCT_CONCAT_MAX)
			return perr(p, w, "a concatenation has at most %d components",
				    XCT_CONCAT_MAX);
		bytes += concat_type_len((__u8)t);
		if (bytes > XCT_CONCAT_DATA)
			return perr(p, w,
				    "the concatenation is longer than %d bytes, as nft allows",
				    XCT_CONCAT_DATA);
		types[(*n)++] = (__u8)t;
		advance(p);
		if (!tok_is(&p->cur, "."))
			break;
		advance(p);
	}
	*single = *n == 1;
	return 0;
}

/*
 * set NAME { type T . T; [flags ...;] elements = { E . E, ... } }, the
 * body after the '{' at open.  A single type (type ipv4_addr) is the
 * untyped set it names: its elements are read as in set NAME { ... }.
 */
static int parse_typed_set(struct parser *p, struct xct_set_def *def, const struct tok *open)
{
	struct concat_set_ctx cs = {def, 0};
	bool has_type = false, single = false, nl;
	int err = 0;

	advance(p); /* '{' */
	for (;;) {
		nl = false;
		while (p->cur.type == TOK_NL || p->cur.type == TOK_SEMI) {
			nl = true;
			advance(p);
		}
		if (list_unterminated(p, nl))
			return perr(p, open, "unterminated '{' (opened at line %u)",
				    open->loc.line);
		if (p->cur.type == TOK_RBRACE) {
			advance(p);
			break;
		}
		if (tok_is(&p->cur, "type")) {
			if (has_type)
				return perr(p, &p->cur, "'type' given twice in set '%s'",
					    def->name);
			advance(p);
			err = concat_type_parse(p, def->ctypes, &def->n_ctypes, &single);
			if (err)
				return err;
			has_type = true;
			if (single && def->ctypes[0] != XCT_CT_IPV4 &&
			    def->ctypes[0] != XCT_CT_IPV6 && def->ctypes[0] != XCT_CT_SERVICE)
				return perr(p, &p->last,
					    "a set of one '%s' is not supported: use it in a "
					    "concatenation, or a list ({ ... }) in the rule",
					    concat_types[def->ctypes[0]].name);
			def->kind = single ? (def->ctypes[0] == XCT_CT_SERVICE ? XCT_SET_PORT
									       : XCT_SET_ADDR)
					   : XCT_SET_CONCAT;
		} else if (tok_is(&p->cur, "flags")) {
			struct tok f = p->cur;

			advance(p);
			if (tok_is(&p->cur, "interval") && !single)
				return perr(
					p, &p->cur,
					"'flags interval' in a concatenation is not supported: "
					"xct's concatenations hold exact values, in a hash table");
			if (!tok_is(&p->cur, "interval"))
				return perr(p, &p->cur,
					    "expected 'interval' after 'flags' (the only flag xct "
					    "takes, for sets of one type), got %s",
					    GOT(&p->cur));
			(void)f;
			advance(p);
		} else if (tok_is(&p->cur, "elements")) {
			size_t n;
			struct set_ctx sc = {def, true, 0};

			if (!has_type)
				return perr(p, &p->cur,
					    "'type' comes before 'elements' in set '%s'",
					    def->name);
			advance(p);
			if (p->cur.type != TOK_BAD || p->cur.len != 1 || p->cur.s[0] != '=')
				return perr(p, &p->cur, "expected '=' after 'elements', got %s",
					    GOT(&p->cur));
			advance(p);
			if (p->cur.type != TOK_LBRACE)
				return perr(p, &p->cur, "expected '{' after 'elements =', got %s",
					    GOT(&p->cur));
			err = single ? parse_list(p, def->name, true, set_elem, &sc, &n)
				     : parse_list(p, def->name, true, concat_set_elem, &cs, &n);
			if (err)
				return err;
			if (single && def->n_ctypes && def->kind == XCT_SET_ADDR) {
				__u8 fam =
					def->ctypes[0] == XCT_CT_IPV4 ? XCT_AF_INET : XCT_AF_INET6;

				for (n = 0; n < def->n_prefixes; n++)
					if (def->prefixes[n].family != fam)
						return perr(
							p, open,
							"set '%s' of type %s holds an %s address",
							def->name,
							concat_types[def->ctypes[0]].name,
							family_name(def->prefixes[n].family));
			}
		} else {
			return perr(p, &p->cur,
				    "expected 'type', 'flags' or 'elements' in set '%s', got %s",
				    def->name, GOT(&p->cur));
		}
	}
	if (!has_type)
		return perr(p, open, "set '%s' needs its type: type ipv4_addr . inet_service",
			    def->name);
	if (single)
		def->n_ctypes = 0; /* an untyped set of its kind, as set NAME addr { } */
	return 0;
}

/* Whether cur, in a set's '{', starts nft's typed form. */
static bool set_is_typed(struct parser *p)
{
	struct lex_state ls;
	bool yes;

	lex_save(p, &ls);
	advance(p);
	while (p->cur.type == TOK_NL)
		advance(p);
	yes = tok_is(&p->cur, "type");
	lex_restore(p, &ls);
	return yes;
}

/*
 * One component of a concatenation after a '.': [ip|ip6] saddr|daddr,
 * [tcp|udp|th] sport|dport, ip protocol, meta l4proto, meta mark, ct mark.
 * The family and protocol it implies are the rule's, as in nft.
 */
static int concat_component(struct parser *p, struct rule_ctx *rc, __u8 *field)
{
	struct tok t = p->cur;
	char b[8];
	int err;

	if (tok_is(&t, "ip") || tok_is(&t, "ip6")) {
		bool v6 = tok_is(&t, "ip6");

		err = set_family(p, rc, &t, TXT(&t), v6 ? XCT_AF_INET6 : XCT_AF_INET);
		if (err)
			return err;
		advance(p);
		if (!v6 && tok_is(&p->cur, "protocol")) {
			*field = XCT_CF_PROTO;
			advance(p);
			return 0;
		}
		if (!tok_is(&p->cur, "saddr") && !tok_is(&p->cur, "daddr"))
			return perr(
				p, &p->cur,
				"expected 'saddr' or 'daddr' after '%s' in a concatenation, got %s",
				TXT(&t), GOT(&p->cur));
		t = p->cur;
	}
	if (tok_is(&t, "saddr") || tok_is(&t, "daddr")) {
		bool src = tok_is(&t, "saddr");

		if (!rc->r.family)
			return perr(p, &t,
				    "'%s' in a concatenation needs its family: 'ip %s' or 'ip6 %s'",
				    TXT(&t), TXT(&t), TXT(&t));
		*field = rc->r.family == XCT_AF_INET6 ? (src ? XCT_CF_SADDR6 : XCT_CF_DADDR6)
						      : (src ? XCT_CF_SADDR4 : XCT_CF_DADDR4);
		advance(p);
		return 0;
	}
	if (tok_is(&t, "tcp") || tok_is(&t, "udp") || tok_is(&t, "th")) {
		if (!tok_is(&t, "th")) {
			err = set_proto(p, rc, &t, tok_is(&t, "tcp") ? PROTO_TCP : PROTO_UDP);
			if (err)
				return err;
		}
		advance(p);
		if (!tok_is(&p->cur, "sport") && !tok_is(&p->cur, "dport"))
			return perr(
				p, &p->cur,
				"expected 'sport' or 'dport' after '%s' in a concatenation, got %s",
				TXT(&t), GOT(&p->cur));
		t = p->cur;
	}
	if (tok_is(&t, "sport") || tok_is(&t, "dport")) {
		if (rc->r.has_proto && !proto_has_ports(rc->r.proto))
			return perr(p, &t,
				    "'%s' needs protocol 'tcp' or 'udp', but the rule matches '%s'",
				    TXT(&t), proto_name(rc->r.proto, b, sizeof(b)));
		if (!rc->r.sport.present && !rc->r.dport.present && !rc->ports_tok.len)
			rc->ports_tok = t;
		*field = tok_is(&t, "sport") ? XCT_CF_SPORT : XCT_CF_DPORT;
		advance(p);
		return 0;
	}
	if (tok_is(&t, "meta")) {
		advance(p);
		if (tok_is(&p->cur, "mark"))
			*field = XCT_CF_META_MARK;
		else if (tok_is(&p->cur, "l4proto"))
			*field = XCT_CF_PROTO;
		else
			return perr(
				p, &p->cur,
				"expected 'l4proto' or 'mark' after 'meta' in a concatenation, got %s",
				GOT(&p->cur));
		advance(p);
		return 0;
	}
	if (tok_is(&t, "ct")) {
		advance(p);
		if (!tok_is(&p->cur, "mark"))
			return perr(p, &p->cur,
				    "expected 'mark' after 'ct' in a concatenation, got %s",
				    GOT(&p->cur));
		*field = XCT_CF_CT_MARK;
		advance(p);
		return 0;
	}
	return perr(p, &t,
		    "expected a field after '.' (ip saddr, ip6 daddr, tcp dport, th sport, "
		    "meta l4proto, meta mark, ct mark), got %s",
		    GOT(&t));
}

/* The datatypes of a rule's fields. */
static void concat_types_of(const __u8 *fields, size_t n, __u8 *types)
{
	size_t i;

	for (i = 0; i < n; i++)
		types[i] = concat_fields[fields[i]].type;
}

/* The concatenation's vmap: { KEY : VERDICT, ... } or @NAME. */
static int parse_concat_vmap(struct parser *p, struct rule_ctx *rc, const __u8 *fields, size_t nf,
			     const struct tok *first);

/*
 * A concatenation whose first component, `first' (written at at), the
 * caller has read; cur is the '.' after it.  Then: [!=] @NAME, { E, ... },
 * one element, or vmap.
 */
static int parse_concat(struct parser *p, struct rule_ctx *rc, __u8 first, const struct tok *at)
{
	struct xct_concat_match *m = &rc->r.concat;
	__u8 fields[XCT_CONCAT_MAX], types[XCT_CONCAT_MAX];
	char want[160], have[160];
	__u32 bytes;
	size_t n = 1, i, j;
	int err, idx;

	if (m->present || (rc->r.vmap && rc->r.vmap->field == XCT_VMAP_CONCAT))
		return perr(p, at, "a rule has one concatenation");
	if (rc->r.action >= XCT_ACTION_MASQUERADE && rc->r.action <= XCT_ACTION_DNAT)
		return perr(p, at, "a NAT rule cannot match a concatenation");
	fields[0] = first;
	bytes = xct_concat_field_len(first);
	while (tok_is(&p->cur, ".")) {
		struct tok c;

		advance(p);
		c = p->cur;
		if (n == XCT_CONCAT_MAX)
			return perr(p, &c, "a concatenation has at most %d components",
				    XCT_CONCAT_MAX);
		err = concat_component(p, rc, &fields[n]);
		if (err)
			return err;
		for (j = 0; j < n; j++)
			if (fields[j] == fields[n])
				return perr(p, &c, "'%s' is twice in the concatenation",
					    concat_fields[fields[n]].name);
		if (fields[n] == XCT_CF_CT_MARK && rc->r.action == XCT_ACTION_NOTRACK)
			return perr(
				p, &c,
				"'ct mark' cannot be used with 'notrack' (notrack decides before a "
				"packet is tracked)");
		bytes += xct_concat_field_len(fields[n]);
		if (bytes > XCT_CONCAT_DATA)
			return perr(p, &c,
				    "the concatenation is longer than %d bytes, as nft allows",
				    XCT_CONCAT_DATA);
		n++;
	}
	if (first == XCT_CF_CT_MARK && rc->r.action == XCT_ACTION_NOTRACK)
		return perr(p, at,
			    "'ct mark' cannot be used with 'notrack' (notrack decides before a "
			    "packet is tracked)");
	/* Both address families in one tuple cannot match a packet. */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if ((fields[i] == XCT_CF_SADDR4 || fields[i] == XCT_CF_DADDR4) &&
			    (fields[j] == XCT_CF_SADDR6 || fields[j] == XCT_CF_DADDR6))
				return perr(p, at,
					    "the concatenation mixes IPv4 and IPv6 addresses");
	concat_types_of(fields, n, types);
	if (tok_is(&p->cur, "vmap"))
		return parse_concat_vmap(p, rc, fields, n, at);
	m->present = true;
	m->n = (__u8)n;
	memcpy(m->fields, fields, n);
	if (p->cur.type == TOK_NE) {
		m->negate = true;
		advance(p);
	}
	if (p->cur.type == TOK_WORD && p->cur.s[0] == '@') {
		struct tok t = p->cur;
		const struct xct_set_def *d;

		idx = find_set(&p->rs, t.s + 1, t.len - 1);
		if (idx < 0)
			return set_ref(p, &t, XCT_SET_CONCAT); /* the unknown-set message */
		d = &p->rs.sets[idx];
		concat_type_desc(types, n, want, sizeof(want));
		if (d->kind != XCT_SET_CONCAT) {
			snprintf(have, sizeof(have), "%s",
				 d->kind == XCT_SET_PORT ? concat_types[XCT_CT_SERVICE].desc
							 : "address");
			return perr(p, &t, "datatype mismatch, expected %s, set '%s' has type %s",
				    want, d->name, have);
		}
		if (d->n_ctypes != n || memcmp(d->ctypes, types, n)) {
			concat_type_desc(d->ctypes, d->n_ctypes, have, sizeof(have));
			return perr(p, &t, "datatype mismatch, expected %s, set '%s' has type %s",
				    want, d->name, have);
		}
		m->set = idx;
		advance(p);
		return 0;
	}
	/* An anonymous set, of one element or a list. */
	{
		struct xct_set_def def;
		struct concat_set_ctx cs = {&def, 0};
		struct tok open = p->cur;
		size_t cnt;

		if (p->rs.n_sets >= XCT_SETS_MAX)
			return perr(
				p, &open,
				"too many sets (at most %d, each anonymous concatenation is one)",
				XCT_SETS_MAX);
		memset(&def, 0, sizeof(def));
		def.kind = XCT_SET_CONCAT;
		def.anon = true;
		def.loc = open.loc;
		def.n_ctypes = (__u8)n;
		memcpy(def.ctypes, types, n);
		if (open.type == TOK_LBRACE) {
			err = parse_list(p, "the concatenation", false, concat_set_elem, &cs, &cnt);
		} else if (open.type == TOK_WORD && !stmt_end(&open)) {
			err = concat_set_elem(p, &cs);
		} else {
			concat_type_desc(types, n, want, sizeof(want));
			err = perr(p, &open,
				   "expected a set (@name), '{' or an element (%s) after "
				   "the concatenation, got %s",
				   want, GOT(&open));
		}
		if (!err && vec_reserve(p->rs.sets, p->rs.n_sets, p->sets_cap))
			err = oom(p, &open);
		if (err) {
			free(def.elems);
			return err;
		}
		m->set = (int)p->rs.n_sets;
		p->rs.sets[p->rs.n_sets++] = def;
	}
	return 0;
}

/* One element of a concatenation's vmap: KEY . KEY : VERDICT. */
static int concat_vmap_elem(struct parser *p, void *ctx)
{
	struct vmap_ctx *vc = ctx;
	struct xct_vmap_elem e;
	struct tok key = p->cur;
	bool colon;
	int err;

	memset(&e, 0, sizeof(e));
	struct tok lastv;
	char k[48];

	err = concat_elem_parse(p, vc->ctypes, vc->n_ctypes, true, true, &e.concat, &colon);
	if (err)
		return err;
	lastv = p->last;
	snprintf(k, sizeof(k), "%.*s", (int)(lastv.len - colon > 40 ? 40 : lastv.len - colon),
		 lastv.s);
	if (!colon) {
		if (!tok_is(&p->cur, ":"))
			return perr(p, &p->cur, "expected ':' and a verdict after '%s', got %s",
				    TXT(&p->last), GOT(&p->cur));
		advance(p);
	}
	err = vmap_verdict(p, &e, k);
	if (err)
		return err;
	if (vec_reserve(*vc->elems, *vc->n, vc->cap))
		return oom(p, &key);
	(*vc->elems)[(*vc->n)++] = e;
	return 0;
}

static int parse_concat_vmap(struct parser *p, struct rule_ctx *rc, const __u8 *fields, size_t nf,
			     const struct tok *first)
{
	__u8 types[XCT_CONCAT_MAX];
	char want[160], have[160];
	struct xct_vmap *vm;
	size_t n;

	if (rc->r.action != XCT_ACTION_VMAP)
		return perr(p, &p->cur, "a vmap rule starts with its matches and has no action");
	if (rc->r.vmap)
		return perr(p, &p->cur, "a rule has one 'vmap'");
	concat_types_of(fields, nf, types);
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return oom(p, &p->cur);
	vm->field = XCT_VMAP_CONCAT;
	vm->map = -1;
	vm->n_fields = (__u8)nf;
	memcpy(vm->fields, fields, nf);
	flow_src_at(p, &p->cur, &vm->src); /* at 'vmap', as a plain vmap's */
	rc->r.vmap = vm;		   /* freed with the rule */
	advance(p);			   /* vmap */
	if (p->cur.type == TOK_WORD && p->cur.s[0] == '@') {
		int m = find_map(&p->rs, p->cur.s + 1, p->cur.len - 1);
		struct xct_map_def *def;

		if (m < 0)
			return perr(p, &p->cur, "unknown map '%s'", TXT(&p->cur));
		def = &p->rs.maps[m];
		if (def->n_ctypes != nf || memcmp(def->ctypes, types, nf)) {
			concat_type_desc(types, nf, want, sizeof(want));
			if (def->n_ctypes)
				concat_type_desc(def->ctypes, def->n_ctypes, have, sizeof(have));
			else
				snprintf(have, sizeof(have), "%s",
					 def->ports ? concat_types[XCT_CT_SERVICE].desc
						    : "address");
			return perr(p, &p->cur,
				    "datatype mismatch, expected %s, map '%s' has type %s", want,
				    def->name, have);
		}
		vm->map = m;
		vm->n = def->n;
		vm->elems = calloc(def->n ? def->n : 1, sizeof(*vm->elems));
		if (!vm->elems)
			return oom(p, &p->cur);
		if (def->n)
			memcpy(vm->elems, def->elems, def->n * sizeof(*vm->elems));
		advance(p);
		return 0;
	}
	if (p->cur.type != TOK_LBRACE)
		return perr(p, &p->cur, "expected '{' or a map (@name) after 'vmap', got %s",
			    GOT(&p->cur));
	{
		struct vmap_ctx vc = {&vm->elems, &vm->n, 0, false, 0, "the vmap", {0}, 0};

		memcpy(vc.ctypes, types, nf);
		vc.n_ctypes = (__u8)nf;
		return parse_list(p, "vmap", false, concat_vmap_elem, &vc, &n);
	}
}

/*
 * A concatenation vmap's element becomes a rule with a match per
 * component (src/rules/chains.c): a field the rule also matches on its
 * own would be matched twice.
 */
static int check_concat_rule(struct parser *p, const struct rule_ctx *rc, const struct tok *first)
{
	const struct xct_vmap *vm = rc->r.vmap;
	size_t i;

	if (!vm || vm->field != XCT_VMAP_CONCAT)
		return 0;
	for (i = 0; i < vm->n_fields; i++) {
		__u8 f = vm->fields[i];
		bool twice = ((f == XCT_CF_SADDR4 || f == XCT_CF_SADDR6) && rc->r.saddr.present) ||
			     ((f == XCT_CF_DADDR4 || f == XCT_CF_DADDR6) && rc->r.daddr.present) ||
			     (f == XCT_CF_SPORT && rc->r.sport.present) ||
			     (f == XCT_CF_DPORT && rc->r.dport.present) ||
			     (f == XCT_CF_PROTO && rc->r.has_proto) ||
			     (f == XCT_CF_META_MARK && rc->r.meta_mark.present) ||
			     (f == XCT_CF_CT_MARK && rc->r.ct_mark.present);

		if (twice)
			return perr(p, first,
				    "'%s' is in the vmap's concatenation and matched again in the "
				    "rule",
				    concat_fields[f].name);
	}
	return 0;
}

/* ---- The command line's elements (xct set add|del) ---- */

int xct_parse_concat_elems(const char *s, const __u8 *types, size_t n, struct xct_concat_elem **out,
			   size_t *n_out, char *msg, size_t msglen)
{
	size_t len = strlen(s), i = 0, cap = 0, comp = 0;
	struct xct_concat_elem *v = NULL, cur;
	bool braces = false;

	*out = NULL;
	*n_out = 0;
	memset(&cur, 0, sizeof(cur));
	while (i < len && s[i] == ' ')
		i++;
	if (i < len && s[i] == '{') {
		braces = true;
		i++;
	}
	for (;;) {
		size_t start, end;

		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (braces && i < len && s[i] == '}' && !comp) {
			i++;
			break;
		}
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != ',' && s[i] != '}')
			i++;
		end = i;
		if (start == end) {
			snprintf(msg, msglen, "expected %s %s%s",
				 types[comp] <= XCT_CT_IPV6 ? "an" : "a",
				 concat_types[types[comp]].desc, comp ? " after '.'" : "");
			goto bad;
		}
		if (end - start == 1 && s[start] == '.') {
			snprintf(msg, msglen, "expected %s %s before '.'",
				 types[comp] <= XCT_CT_IPV6 ? "an" : "a",
				 concat_types[types[comp]].desc);
			goto bad;
		}
		if (concat_value_parse(s + start, end - start, types[comp], false, &cur.v[comp],
				       msg, msglen))
			goto bad;
		comp++;
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (comp < n) {
			if (i >= len || s[i] != '.') {
				char t[160];

				xct_concat_type_format(types, n, t, sizeof(t));
				snprintf(
					msg, msglen,
					"an element of this set has %zu values joined by ' . ' (%s)",
					n, t);
				goto bad;
			}
			i++;
			continue;
		}
		if (i < len && s[i] == '.') {
			snprintf(msg, msglen,
				 "the element has more than the %zu values of its type", n);
			goto bad;
		}
		if (*n_out == cap) {
			size_t c = cap ? 2 * cap : 8;
			void *g = realloc(v, c * sizeof(*v));

			if (!g) {
				snprintf(msg, msglen, "out of memory");
				free(v);
				return -ENOMEM;
			}
			v = g;
			cap = c;
		}
		v[(*n_out)++] = cur;
		memset(&cur, 0, sizeof(cur));
		comp = 0;
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		if (braces) {
			if (i < len && s[i] == '}') {
				i++;
				break;
			}
			snprintf(msg, msglen, "expected ',' or '}' after an element");
			goto bad;
		}
		if (i >= len)
			break;
		snprintf(msg, msglen, "expected ',' between elements");
		goto bad;
	}
	while (i < len && s[i] == ' ')
		i++;
	if (i < len) {
		snprintf(msg, msglen, "unexpected '%s' after '}'", s + i);
		goto bad;
	}
	if (!*n_out) {
		snprintf(msg, msglen, "no element given");
		goto bad;
	}
	*out = v;
	return 0;
bad:
	free(v);
	*n_out = 0;
	return -EINVAL;
}

#endif /* XCT_RULES_PARSE_CONCAT_H */
