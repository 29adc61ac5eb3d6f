// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the rule compiler (src/rules/compile.c).
 *
 * The compiled tables are only right if the datapath's evaluation over them
 * (bpf/policy.h, xct_policy_eval) picks the same rule as reading the rules
 * in order would.  So this file has two evaluators: eval_tables() does what
 * the datapath does (one class per field, AND of summaries and chunks,
 * lowest candidate first, then the record's set checks) and eval_rules()
 * checks every rule directly against the documented semantics.  A
 * randomized differential test runs both over random rulesets and packets;
 * directed tests pin down the example ruleset, dedup, errors and limits.
 *
 * Rulesets are built in C, not parsed, so the compiler is tested alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "check.h"
#include "rules/compile.h"
#include "xct/parse.h"

#define TCP    XCT_IPPROTO_TCP
#define UDP    XCT_IPPROTO_UDP
#define ICMP   XCT_IPPROTO_ICMP
#define ICMPV6 XCT_IPPROTO_ICMPV6

/* ---- Building rulesets ---- */

/* Everything a test ruleset allocates, freed at once. */
struct arena {
	void **p;
	size_t n, cap;
};

static void *az(struct arena *a, size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p)
		abort();
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->p = realloc(a->p, a->cap * sizeof(*a->p));
		if (!a->p)
			abort();
	}
	a->p[a->n++] = p;
	return p;
}

static void arena_free(struct arena *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
	memset(a, 0, sizeof(*a));
}

static struct xct_prefix pfx(const char *s)
{
	struct xct_prefix p;
	char buf[64];
	char *slash;

	memset(&p, 0, sizeof(p));
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (strchr(buf, ':')) {
		p.family = XCT_AF_INET6;
		p.plen = slash ? atoi(slash + 1) : 128;
		if (inet_pton(AF_INET6, buf, p.addr) != 1)
			abort();
	} else {
		p.family = XCT_AF_INET;
		p.plen = slash ? atoi(slash + 1) : 32;
		if (inet_pton(AF_INET, buf, p.addr) != 1)
			abort();
	}
	return p;
}

static void rs_init(struct xct_ruleset *rs, struct arena *a, size_t max_rules, size_t max_sets)
{
	memset(rs, 0, sizeof(*rs));
	rs->rules = az(a, max_rules * sizeof(*rs->rules));
	rs->sets = az(a, max_sets * sizeof(*rs->sets));
}

/* A rule that matches everything, on line = its number + 1. */
static struct xct_rule *add_rule(struct xct_ruleset *rs, enum xct_rule_action action)
{
	struct xct_rule *r = &rs->rules[rs->n_rules++];

	memset(r, 0, sizeof(*r));
	r->loc.line = rs->n_rules;
	r->loc.col = 1;
	r->action = action;
	r->saddr.set = r->daddr.set = r->sport.set = r->dport.set = -1;
	return r;
}

/* Literal address lists from strings, NULL-terminated. */
static void set_addrs(struct arena *a, struct xct_addr_match *m, int negate, ...)
{
	const char *s;
	va_list ap;

	m->present = true;
	m->negate = negate;
	m->set = -1;
	m->list = az(a, 8 * sizeof(*m->list));
	va_start(ap, negate);
	while ((s = va_arg(ap, const char *)) && m->n < 8)
		m->list[m->n++] = pfx(s);
	va_end(ap);
}

static void set_ports(struct arena *a, struct xct_port_match *m, bool negate, __u16 lo, __u16 hi)
{
	m->present = true;
	m->negate = negate;
	m->set = -1;
	m->list = az(a, sizeof(*m->list));
	m->list[0].lo = lo;
	m->list[0].hi = hi;
	m->n = 1;
}

static void set_ifaces(struct arena *a, struct xct_rule *r, bool negate, const char *n1,
		       const char *n2)
{
	r->ifaces = az(a, 2 * sizeof(*r->ifaces));
	snprintf(r->ifaces[r->n_ifaces++], XCT_IFNAME_MAX, "%s", n1);
	if (n2)
		snprintf(r->ifaces[r->n_ifaces++], XCT_IFNAME_MAX, "%s", n2);
	r->iface_negate = negate;
}

static struct xct_set_def *add_set(struct xct_ruleset *rs, const char *name, enum xct_set_kind kind)
{
	struct xct_set_def *s = &rs->sets[rs->n_sets++];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->kind = kind;
	s->loc.line = 100 + rs->n_sets;
	s->loc.col = 1;
	return s;
}

/* Interfaces of the tests: lo and eth0..eth3; anything else is unknown. */
static __u32 test_ifindex(const char *name, void *ctx)
{
	static const char *names[] = {"lo", "eth0", "eth1", "eth2", "eth3"};
	__u32 i;

	(void)ctx;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return i + 1;
	return 0;
}

/* ---- Packets and the two evaluators ---- */

struct pkt {
	__u8 hook, family, proto, state;
	union xct_addr saddr, daddr;
	__u16 sport, dport;
	__u8 icmp_type, icmp_code, tcp_flags;
	__u32 ifindex;
};

/* As bpf/xct.bpf.c's xct_policy_input derives them. */
static bool has_ports(const struct pkt *p)
{
	return p->proto == TCP || p->proto == UDP;
}

static bool is_icmp(const struct pkt *p)
{
	return (p->family == XCT_AF_INET && p->proto == ICMP) ||
	       (p->family == XCT_AF_INET6 && p->proto == ICMPV6);
}

static bool is_tcp(const struct pkt *p)
{
	return p->proto == TCP;
}

static bool in_prefix(__u8 family, const union xct_addr *a, const struct xct_prefix *p)
{
	__u32 full = p->plen / 8, rest = p->plen % 8;

	if (p->family != family)
		return false;
	if (memcmp(a->bytes, p->addr, full))
		return false;
	return !rest || !((a->bytes[full] ^ p->addr[full]) & (__u8)(0xff00 >> rest));
}

static bool in_prefixes(__u8 family, const union xct_addr *a, const struct xct_prefix *list,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (in_prefix(family, a, &list[i]))
			return true;
	return false;
}

static bool in_ranges(__u16 port, const struct xct_port_range *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (port >= list[i].lo && port <= list[i].hi)
			return true;
	return false;
}

static bool addr_ok(const struct xct_ruleset *rs, const struct xct_addr_match *m, __u8 family,
		    const union xct_addr *a)
{
	bool in;

	if (!m->present)
		return true;
	if (m->set >= 0)
		in = in_prefixes(family, a, rs->sets[m->set].prefixes, rs->sets[m->set].n_prefixes);
	else
		in = in_prefixes(family, a, m->list, m->n);
	return in != m->negate;
}

static bool port_ok(const struct xct_ruleset *rs, const struct xct_port_match *m, __u16 port)
{
	bool in;

	if (!m->present)
		return true;
	if (m->set >= 0)
		in = in_ranges(port, rs->sets[m->set].ports, rs->sets[m->set].n_ports);
	else
		in = in_ranges(port, m->list, m->n);
	return in != m->negate;
}

/* Does rule r match p?  The semantics, read directly off the rule. */
static bool rule_matches(const struct xct_ruleset *rs, const struct xct_rule *r,
			 const struct pkt *p)
{
	size_t i;

	if (r->hook != p->hook)
		return false;
	if (r->action == XCT_ACTION_NOTRACK) {
		if (p->state != XCT_STAGE_RAW)
			return false;
	} else {
		if (p->state == XCT_STAGE_RAW)
			return false;
		if (r->ct_states && !(r->ct_states >> p->state & 1))
			return false;
	}
	if (r->family && r->family != p->family)
		return false;
	if (r->has_proto && r->proto != p->proto)
		return false;
	if ((r->sport.present || r->dport.present) && !has_ports(p))
		return false;
	if (r->n_icmp && !is_icmp(p))
		return false;
	if (r->has_tcp_flags && !is_tcp(p))
		return false;
	if (r->n_ifaces) {
		bool in = false;

		for (i = 0; i < r->n_ifaces; i++)
			in |= test_ifindex(r->ifaces[i], NULL) == p->ifindex;
		if (in == r->iface_negate)
			return false;
	}
	if (!addr_ok(rs, &r->saddr, p->family, &p->saddr) ||
	    !addr_ok(rs, &r->daddr, p->family, &p->daddr))
		return false;
	if (!port_ok(rs, &r->sport, p->sport) || !port_ok(rs, &r->dport, p->dport))
		return false;
	if (r->n_icmp) {
		bool in = false;

		for (i = 0; i < r->n_icmp; i++)
			in |= r->icmp[i].type == p->icmp_type &&
			      (r->icmp[i].code < 0 || r->icmp[i].code == p->icmp_code);
		if (!in)
			return false;
	}
	if (r->has_tcp_flags) {
		__u8 f = p->tcp_flags & r->tcp_flags_mask;

		if (r->tcp_flags_any ? !f : f != r->tcp_flags_value)
			return false;
	}
	return true;
}

/* The first rule that matches, or -1. */
static int eval_rules(const struct xct_ruleset *rs, const struct pkt *p)
{
	size_t i;

	for (i = 0; i < rs->n_rules; i++)
		if (rule_matches(rs, &rs->rules[i], p))
			return i;
	return -1;
}

/* The class an address table gives a (longest prefix), or -1. */
static int lpm_class(const struct xct_compiled *c, int dir, __u8 family, const union xct_addr *a)
{
	int best = -1, best_len = -1;
	__u32 i;

	for (i = 0; i < c->n_addr[dir]; i++) {
		const struct xct_cprefix *e = &c->addr[dir][i];

		if (in_prefix(family, a, &e->prefix) && e->prefix.plen > best_len) {
			best = e->cls;
			best_len = e->prefix.plen;
		}
	}
	return best;
}

static const struct xct_chunk *class_chunk(const struct xct_compiled *c, __u32 cls, __u32 chunk)
{
	const struct xct_cclass *k = &c->classes[cls];
	__u32 i;

	for (i = 0; i < k->n_chunks; i++)
		if (k->chunk_no[i] == chunk)
			return &k->chunks[i];
	return NULL;
}

static bool class_has(const struct xct_compiled *c, __u32 cls, __u32 rule)
{
	const struct xct_chunk *ch = class_chunk(c, cls, rule / XCT_CHUNK_BITS);

	return ch && (ch->w[rule % XCT_CHUNK_BITS / 64] >> (rule % 64) & 1);
}

static bool set_has_addr(const struct xct_ruleset *rs, __u32 id, __u8 family,
			 const union xct_addr *a)
{
	const struct xct_set_def *s = &rs->sets[id - 1];

	return in_prefixes(family, a, s->prefixes, s->n_prefixes);
}

static bool set_has_port(const struct xct_ruleset *rs, __u32 id, __u16 port)
{
	const struct xct_set_def *s = &rs->sets[id - 1];

	return in_ranges(port, s->ports, s->n_ports);
}

/* bpf/policy.h's xct_rule_check, without the rate limit. */
static bool rec_check(const struct xct_ruleset *rs, const struct xct_rule_rec *rec,
		      const struct pkt *p)
{
	bool m;

	if (rec->saddr_set) {
		m = set_has_addr(rs, rec->saddr_set, p->family, &p->saddr);
		if (m == !!(rec->flags & XCT_RULE_SADDR_NEG))
			return false;
	}
	if (rec->daddr_set) {
		m = set_has_addr(rs, rec->daddr_set, p->family, &p->daddr);
		if (m == !!(rec->flags & XCT_RULE_DADDR_NEG))
			return false;
	}
	if (rec->sport_set) {
		m = has_ports(p) && set_has_port(rs, rec->sport_set, p->sport);
		if (m == !!(rec->flags & XCT_RULE_SPORT_NEG))
			return false;
	}
	if (rec->dport_set) {
		m = has_ports(p) && set_has_port(rs, rec->dport_set, p->dport);
		if (m == !!(rec->flags & XCT_RULE_DPORT_NEG))
			return false;
	}
	return true;
}

static long returns_taken; /* by eval_tables, for the chain tests' coverage */

/* Drops the chunks before the one skip_to is in from summary; true when
 * none is left. */
static bool chunk_skip(__u32 skip_to, __u64 *summary)
{
	__u32 chunk = skip_to / XCT_CHUNK_BITS;

	if (chunk >= 64)
		return true;
	*summary &= ~((1ULL << chunk) - 1);
	return !*summary;
}

/* bpf/policy.h's xct_policy_eval over the compiled tables: the rule, or -1. */
static int eval_tables(const struct xct_compiled *c, const struct xct_ruleset *rs,
		       const struct pkt *p)
{
	__u32 cls[XCT_F_COUNT], n = 0, f, i, j, chunk, skip_to = 0;
	__u16 used = c->fields_used;
	__u64 summary = ~0ULL;
	int k;

#define ADD(x)                                                                                     \
	do {                                                                                       \
		cls[n++] = (x);                                                                    \
		summary &= c->classes[cls[n - 1]].summary;                                         \
	} while (0)

	ADD(c->meta[xct_meta_index(p->hook, p->family, p->state, p->proto)]);
	if (!summary)
		return -1;
	if (used & (1 << XCT_F_IFACE)) {
		__u32 x = c->iface_default;

		for (i = 0; i < c->n_ifaces; i++)
			if (c->ifaces[i].ifindex == p->ifindex)
				x = c->ifaces[i].cls;
		ADD(x);
	}
	for (f = 0; f < 2; f++) {
		if (!(used & (1 << (f ? XCT_F_DADDR : XCT_F_SADDR))))
			continue;
		k = lpm_class(c, f, p->family, f ? &p->daddr : &p->saddr);
		if (k < 0)
			return -1; /* the datapath's failed trie lookup */
		ADD(k);
	}
	if (has_ports(p) && (used & (1 << XCT_F_SPORT)))
		ADD(c->port[0][p->sport]);
	if (has_ports(p) && (used & (1 << XCT_F_DPORT)))
		ADD(c->port[1][p->dport]);
	if (is_icmp(p) && (used & (1 << XCT_F_ICMP)))
		ADD(c->icmp[p->icmp_type << 8 | p->icmp_code]);
	if (is_tcp(p) && (used & (1 << XCT_F_FLAGS)))
		ADD(c->flags[p->tcp_flags]);
#undef ADD

	while (summary) {
		struct xct_chunk acc;
		bool empty = false;

		if (chunk_skip(skip_to, &summary))
			break;

		chunk = xct_ctz64(summary);
		summary &= summary - 1;
		for (f = 0; f < n; f++) {
			const struct xct_chunk *ch = class_chunk(c, cls[f], chunk);

			if (!ch) {
				empty = true;
				break;
			}
			for (j = 0; j < XCT_CHUNK_WORDS; j++)
				acc.w[j] = f ? acc.w[j] & ch->w[j] : ch->w[j];
		}
		if (empty)
			continue;
		for (j = 0; j < XCT_CHUNK_WORDS; j++) {
			__u64 word = acc.w[j];

			while (word) {
				__u32 rule = chunk * XCT_CHUNK_BITS + j * 64 + xct_ctz64(word);

				word &= word - 1;
				if (rule >= c->n_rules)
					return -2; /* a bit past the rules: a broken table */
				if (rule < skip_to)
					continue;
				if (!rec_check(rs, &c->recs[rule], p))
					continue;
				/* A return: on from the first rule after its chain. */
				if (c->recs[rule].action == XCT_VERDICT_RETURN) {
					if (c->recs[rule].skip_to <= rule)
						return -2;
					skip_to = c->recs[rule].skip_to;
					returns_taken++;
					continue;
				}
				return rule;
			}
		}
	}
	return -1;
}

/* ---- Structure of the output ---- */

static const struct xct_compiled *cmp_class_of; /* qsort has no context argument */

static int cmp_class(const void *a, const void *b)
{
	const struct xct_compiled *c = cmp_class_of;
	const struct xct_cclass *x = &c->classes[*(const __u32 *)a];
	const struct xct_cclass *y = &c->classes[*(const __u32 *)b];
	__u32 i;
	int d;

	if (x->summary != y->summary)
		return x->summary < y->summary ? -1 : 1;
	for (i = 0; i < x->n_chunks; i++) {
		d = memcmp(&x->chunks[i], &y->chunks[i], sizeof(x->chunks[i]));
		if (d)
			return d;
	}
	return 0;
}

/* Summaries agree with the chunks, no chunk is zero or past the rules,
 * every table names an existing class, and no two classes are equal. */
static void check_structure(const struct xct_compiled *c)
{
	__u32 n_chunks = (c->n_rules + XCT_CHUNK_BITS - 1) / XCT_CHUNK_BITS, i, j, w;
	__u32 *order;
	bool ok = true;

	CHECK(c->n_classes >= 1);
	CHECK_EQ(c->classes[0].summary, 0);
	CHECK_EQ(c->classes[0].n_chunks, 0);
	for (i = 0; i < c->n_classes && ok; i++) {
		const struct xct_cclass *k = &c->classes[i];
		__u64 summary = 0;

		for (j = 0; j < k->n_chunks; j++) {
			__u64 any = 0;

			ok &= k->chunk_no[j] < n_chunks;
			ok &= j == 0 || k->chunk_no[j] > k->chunk_no[j - 1];
			for (w = 0; w < XCT_CHUNK_WORDS; w++) {
				__u32 first = k->chunk_no[j] * XCT_CHUNK_BITS + w * 64;

				any |= k->chunks[j].w[w];
				/* no bits past the last rule */
				if (first >= c->n_rules)
					ok &= !k->chunks[j].w[w];
				else if (c->n_rules - first < 64)
					ok &= !(k->chunks[j].w[w] >> (c->n_rules - first));
			}
			ok &= any != 0;
			summary |= 1ULL << (k->chunk_no[j] & 63);
		}
		ok &= summary == k->summary;
	}
	CHECK(ok);

	for (i = 0; i < XCT_META_ENTRIES; i++)
		ok &= c->meta[i] < c->n_classes;
	for (i = 0; i < 65536; i++)
		ok &= c->port[0][i] < c->n_classes && c->port[1][i] < c->n_classes &&
		      c->icmp[i] < c->n_classes;
	for (i = 0; i < 256; i++)
		ok &= c->flags[i] < c->n_classes;
	for (i = 0; i < c->n_ifaces; i++)
		ok &= c->ifaces[i].cls < c->n_classes;
	ok &= c->iface_default < c->n_classes;
	for (i = 0; i < 2; i++) {
		bool root4 = false, root6 = false;

		for (j = 0; j < c->n_addr[i]; j++) {
			const struct xct_cprefix *e = &c->addr[i][j];

			ok &= e->cls < c->n_classes;
			root4 |= e->prefix.family == XCT_AF_INET && e->prefix.plen == 0;
			root6 |= e->prefix.family == XCT_AF_INET6 && e->prefix.plen == 0;
		}
		ok &= root4 && root6;
	}
	CHECK(ok);

	order = malloc(c->n_classes * sizeof(*order));
	for (i = 0; i < c->n_classes; i++)
		order[i] = i;
	cmp_class_of = c;
	qsort(order, c->n_classes, sizeof(*order), cmp_class);
	for (i = 1; i < c->n_classes; i++)
		ok &= cmp_class(&order[i - 1], &order[i]) != 0;
	free(order);
	CHECK(ok);
}

static int compile(const struct xct_ruleset *rs, struct xct_compiled *c)
{
	struct xct_rules_error err;
	int ret = xct_rules_compile(rs, "test.rules", test_ifindex, NULL, c, &err);

	if (ret)
		fprintf(stderr, "  compile: %s:%u:%u: %s\n", err.file, err.loc.line, err.loc.col,
			err.msg);
	return ret;
}

/* ---- Randomized differential test ---- */

static __u64 rng_state;

static __u64 rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static __u32 rn(__u32 n)
{
	return n ? rnd() % n : 0;
}

static bool chance(__u32 percent)
{
	return rn(100) < percent;
}

/* Overlapping prefixes, so that the tries nest and lists share entries. */
static const char *const pool_v4[] = {
	"0.0.0.0/0",	  "10.0.0.0/8",	     "10.1.0.0/16",    "10.1.2.0/24",	"10.1.2.3/32",
	"10.1.3.0/24",	  "10.1.2.128/25",   "10.2.0.0/15",    "172.16.0.0/12", "192.168.0.0/16",
	"192.168.1.0/24", "192.168.1.77/32", "203.0.113.0/24",
};
static const char *const pool_v6[] = {
	"::/0",
	"2001:db8::/32",
	"2001:db8:1::/48",
	"2001:db8:1:2::/64",
	"2001:db8:1:2::5/128",
	"2001:db8:8000::/33",
	"fe80::/10",
	"2001:db8:1:3::/64",
};
static const __u16 pool_ports[] = {0,	1,    21,   22,	  23,	25,   53,    80,
				   443, 1023, 1024, 8000, 8080, 8099, 65534, 65535};
static const __u8 pool_protos[] = {TCP, UDP, ICMP, ICMPV6, 47, 132};
static const __u8 pool_types[] = {0, 3, 8, 11, 128, 129, 135, 255};
static const __s16 pool_codes[] = {-1, -1, 0, 1, 4, 255};
static const __u8 pool_masks[] = {0x3f, 0x12, 0x02, 0x10, 0x04, 0x01, 0xff, 0x17};
static const __u8 pool_flags[] = {0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18, 0x01, 0x00, 0xff};
static const char *const pool_ifaces[] = {"lo", "eth0", "eth1", "eth2", "eth3"};

#define POOL(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(a) ((a)[rn(POOL(a))])

static struct xct_prefix random_prefix(__u8 family)
{
	struct xct_prefix p;
	__u32 bits, len, i;

	if (!family)
		family = chance(50) ? XCT_AF_INET : XCT_AF_INET6;
	p = pfx(family == XCT_AF_INET ? PICK(pool_v4) : PICK(pool_v6));
	if (chance(85))
		return p;
	/* Now and then a longer prefix of its own under a pool prefix. */
	bits = family == XCT_AF_INET ? 32 : 128;
	len = p.plen + rn(bits - p.plen + 1);
	for (i = p.plen; i < len; i++)
		if (rnd() & 1)
			p.addr[i / 8] |= 0x80 >> (i % 8);
	p.plen = len;
	return p;
}

static struct xct_port_range random_range(void)
{
	struct xct_port_range r;
	__u16 a = PICK(pool_ports), b = chance(60) ? a : PICK(pool_ports);

	if (chance(10))
		a = rn(65536);
	r.lo = a < b ? a : b;
	r.hi = a < b ? b : a;
	return r;
}

static void random_addr_match(struct arena *a, const struct xct_ruleset *rs,
			      struct xct_addr_match *m, __u8 family)
{
	size_t i;

	m->present = true;
	m->negate = chance(20);
	m->set = -1;
	if (rs->n_sets && chance(25)) {
		/* sets 0..2 are address sets */
		m->set = rn(3);
		return;
	}
	m->n = 1 + rn(3);
	m->list = az(a, m->n * sizeof(*m->list));
	for (i = 0; i < m->n; i++)
		m->list[i] = random_prefix(chance(80) ? family : 0);
}

static void random_port_match(struct arena *a, const struct xct_ruleset *rs,
			      struct xct_port_match *m)
{
	size_t i;

	m->present = true;
	m->negate = chance(15);
	m->set = -1;
	if (rs->n_sets && chance(25)) {
		m->set = 3 + rn(2); /* sets 3..4 are port sets */
		return;
	}
	m->n = 1 + rn(3);
	m->list = az(a, m->n * sizeof(*m->list));
	for (i = 0; i < m->n; i++)
		m->list[i] = random_range();
}

static void random_rule(struct arena *a, struct xct_ruleset *rs, struct xct_rule *r)
{
	static const enum xct_rule_action actions[] = {XCT_ACTION_ACCEPT, XCT_ACTION_ACCEPT,
						       XCT_ACTION_DROP, XCT_ACTION_REJECT,
						       XCT_ACTION_NOTRACK};
	int fields;
	size_t i;

	do {
		memset(r, 0, sizeof(*r));
		r->saddr.set = r->daddr.set = r->sport.set = r->dport.set = -1;
		r->action = chance(8) ? XCT_ACTION_NOTRACK : actions[rn(4)];
		r->family = chance(50) ? 0 : chance(50) ? XCT_AF_INET : XCT_AF_INET6;
		if (chance(60)) {
			r->has_proto = true;
			r->proto = PICK(pool_protos);
		}
		if (chance(50))
			r->ct_states = 1 + rn(31);
		fields = 0;
		if (chance(25)) {
			r->n_ifaces = 1 + rn(2);
			r->ifaces = az(a, r->n_ifaces * sizeof(*r->ifaces));
			for (i = 0; i < r->n_ifaces; i++)
				snprintf(r->ifaces[i], XCT_IFNAME_MAX, "%s", PICK(pool_ifaces));
			r->iface_negate = chance(25);
			r->hook = chance(50) ? XCT_HOOK_EGRESS : XCT_HOOK_INGRESS; /* oif / iif */
			fields++;
		}
		if (chance(40)) {
			random_addr_match(a, rs, &r->saddr, r->family);
			fields++;
		}
		if (chance(30)) {
			random_addr_match(a, rs, &r->daddr, r->family);
			fields++;
		}
		if (chance(15)) {
			random_port_match(a, rs, &r->sport);
			fields++;
		}
		if (chance(40)) {
			random_port_match(a, rs, &r->dport);
			fields++;
		}
		if (chance(15)) {
			r->n_icmp = 1 + rn(2);
			r->icmp = az(a, r->n_icmp * sizeof(*r->icmp));
			for (i = 0; i < r->n_icmp; i++) {
				r->icmp[i].type = PICK(pool_types);
				r->icmp[i].code = PICK(pool_codes);
			}
			if (chance(70)) {
				r->has_proto = true;
				r->proto = chance(50) ? ICMP : ICMPV6;
			}
			fields++;
		}
		if (chance(12)) {
			r->has_tcp_flags = true;
			r->tcp_flags_mask = PICK(pool_masks);
			r->tcp_flags_value = rnd() & r->tcp_flags_mask;
			r->tcp_flags_any = chance(30);
			fields++;
		}
		if (chance(10)) {
			r->limit.present = true;
			r->limit.rate = 1 + rn(1000);
			r->limit.unit_ns = XCT_NSEC_PER_SEC;
			r->limit.burst = rn(50);
			r->limit.per_saddr = chance(50);
		}
		r->log = chance(10);
		/* Mostly narrow rules, so that first matches spread over the
		 * whole ruleset rather than stopping at a catch-all. */
	} while (fields < 2 && !chance(3));
}

static void random_sets(struct arena *a, struct xct_ruleset *rs)
{
	size_t i, j;

	for (i = 0; i < 3; i++) {
		struct xct_set_def *s = add_set(rs, "aset", XCT_SET_ADDR);

		s->n_prefixes = i == 2 ? 0 : 1 + rn(5); /* set 2 is empty */
		s->prefixes = az(a, (s->n_prefixes + 1) * sizeof(*s->prefixes));
		for (j = 0; j < s->n_prefixes; j++)
			s->prefixes[j] = random_prefix(0);
	}
	for (i = 0; i < 2; i++) {
		struct xct_set_def *s = add_set(rs, "pset", XCT_SET_PORT);

		s->n_ports = 1 + rn(4);
		s->ports = az(a, s->n_ports * sizeof(*s->ports));
		for (j = 0; j < s->n_ports; j++)
			s->ports[j] = random_range();
	}
}

static void random_ruleset(struct arena *a, struct xct_ruleset *rs, size_t n)
{
	/* A few templates that recur all over the ruleset: the same rules
	 * are then candidates in several chunks at once. */
	struct xct_rule templ[40];
	size_t i;

	rs_init(rs, a, n + 1, 8);
	random_sets(a, rs);
	rs->policy = chance(50) ? XCT_POLICY_DROP : XCT_POLICY_ACCEPT;
	for (i = 0; i < POOL(templ); i++)
		random_rule(a, rs, &templ[i]);
	for (i = 0; i < n; i++) {
		struct xct_rule *r = &rs->rules[rs->n_rules++];

		if (chance(40))
			*r = templ[rn(POOL(templ))];
		else
			random_rule(a, rs, r);
		r->loc.line = i + 1;
		r->loc.col = 1;
	}
}

static union xct_addr addr_in(const struct xct_prefix *p)
{
	union xct_addr a;
	__u32 bits = p->family == XCT_AF_INET ? 32 : 128, i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < bits / 8; i++) {
		__u8 r = rnd();

		if (i * 8 + 8 <= p->plen)
			a.bytes[i] = p->addr[i];
		else if (i * 8 >= p->plen)
			a.bytes[i] = chance(30) ? 0 : r;
		else
			a.bytes[i] = (p->addr[i] & (__u8)(0xff00 >> (p->plen - i * 8))) |
				     (r & (0xff >> (p->plen - i * 8)));
	}
	return a;
}

static union xct_addr random_addr_for(const struct xct_ruleset *rs, const struct xct_addr_match *m,
				      __u8 family)
{
	const struct xct_prefix *list = NULL;
	struct xct_prefix p;
	size_t n = 0, i;

	if (m->present && m->set >= 0) {
		list = rs->sets[m->set].prefixes;
		n = rs->sets[m->set].n_prefixes;
	} else if (m->present) {
		list = m->list;
		n = m->n;
	}
	if (n && chance(85)) {
		/* one of the list's prefixes of this family, if any */
		for (i = 0; i < 4; i++) {
			const struct xct_prefix *c = &list[rn(n)];

			if (c->family == family)
				return addr_in(c);
		}
	}
	p = random_prefix(family);
	return addr_in(&p);
}

static __u16 random_port_for(const struct xct_ruleset *rs, const struct xct_port_match *m)
{
	const struct xct_port_range *list = NULL, *r;
	size_t n = 0;
	__u16 p;

	if (m->present && m->set >= 0) {
		list = rs->sets[m->set].ports;
		n = rs->sets[m->set].n_ports;
	} else if (m->present) {
		list = m->list;
		n = m->n;
	}
	if (n && chance(85)) {
		r = &list[rn(n)];
		switch (rn(4)) {
		case 0:
			return r->lo;
		case 1:
			return r->hi;
		case 2:
			return r->lo + rn(r->hi - r->lo + 1);
		default:
			return chance(50) ? r->lo - 1 : r->hi + 1; /* just outside */
		}
	}
	p = PICK(pool_ports);
	return chance(70) ? p : rn(65536);
}

/* A packet aimed at rule r (then perturbed), or at nothing in particular. */
static struct pkt random_pkt(const struct xct_ruleset *rs, const struct xct_rule *r)
{
	struct xct_rule none;
	struct pkt p;
	__u32 i;

	if (!r || chance(10)) {
		memset(&none, 0, sizeof(none));
		none.saddr.set = none.daddr.set = none.sport.set = none.dport.set = -1;
		r = &none;
	}
	memset(&p, 0, sizeof(p));
	p.hook = chance(90) ? r->hook : rn(2);
	if (r->action == XCT_ACTION_NOTRACK && chance(90)) {
		p.state = XCT_STAGE_RAW;
	} else if (r->ct_states && chance(85)) {
		do
			p.state = rn(5);
		while (!(r->ct_states >> p.state & 1));
	} else {
		p.state = rn(6);
	}
	p.family = r->family && chance(90) ? r->family : chance(50) ? XCT_AF_INET : XCT_AF_INET6;
	if (r->has_proto && chance(90))
		p.proto = r->proto;
	else if ((r->sport.present || r->dport.present) && chance(90))
		p.proto = chance(50) ? TCP : UDP;
	else if (r->n_icmp && chance(90))
		p.proto = p.family == XCT_AF_INET ? ICMP : ICMPV6;
	else if (r->has_tcp_flags && chance(90))
		p.proto = TCP;
	else
		p.proto = chance(80) ? PICK(pool_protos) : rn(256);
	p.saddr = random_addr_for(rs, &r->saddr, p.family);
	p.daddr = random_addr_for(rs, &r->daddr, p.family);
	if (has_ports(&p)) {
		p.sport = random_port_for(rs, &r->sport);
		p.dport = random_port_for(rs, &r->dport);
	}
	if (is_icmp(&p)) {
		if (r->n_icmp && chance(85)) {
			i = rn(r->n_icmp);
			p.icmp_type = r->icmp[i].type;
			p.icmp_code = r->icmp[i].code >= 0 ? r->icmp[i].code : PICK(pool_codes);
		} else {
			p.icmp_type = chance(80) ? PICK(pool_types) : rn(256);
			p.icmp_code = chance(80) ? (__u8)PICK(pool_codes) : rn(256);
		}
	}
	/* TCP flags are in the packet whatever the protocol: the datapath
	 * must not look at them for other protocols. */
	if (r->has_tcp_flags && !r->tcp_flags_any && chance(80))
		p.tcp_flags = r->tcp_flags_value | (rnd() & ~r->tcp_flags_mask);
	else
		p.tcp_flags = chance(80) ? PICK(pool_flags) : rn(256);
	if (r->n_ifaces && chance(85))
		p.ifindex = test_ifindex(r->ifaces[rn(r->n_ifaces)], NULL);
	else
		p.ifindex = 1 + rn(7); /* 6 and 7: interfaces no rule names */
	return p;
}

static void print_addr(FILE *f, __u8 family, const void *a)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(family == XCT_AF_INET ? AF_INET : AF_INET6, a, buf, sizeof(buf));
	fputs(buf, f);
}

static void print_pkt(FILE *f, const struct pkt *p)
{
	fprintf(f, "    packet: hook %u family %u proto %u state %u if %u ", p->hook, p->family,
		p->proto, p->state, p->ifindex);
	print_addr(f, p->family, p->saddr.bytes);
	fprintf(f, " port %u -> ", p->sport);
	print_addr(f, p->family, p->daddr.bytes);
	fprintf(f, " port %u icmp %u/%u flags 0x%02x\n", p->dport, p->icmp_type, p->icmp_code,
		p->tcp_flags);
}

static void print_addr_match(FILE *f, const char *what, const struct xct_addr_match *m)
{
	size_t i;

	if (!m->present)
		return;
	fprintf(f, " %s %s", what, m->negate ? "!= " : "");
	if (m->set >= 0) {
		fprintf(f, "@%d", m->set);
		return;
	}
	for (i = 0; i < m->n; i++) {
		fputs(i ? "," : "{", f);
		print_addr(f, m->list[i].family, m->list[i].addr);
		fprintf(f, "/%u", m->list[i].plen);
	}
	fputs("}", f);
}

static void print_port_match(FILE *f, const char *what, const struct xct_port_match *m)
{
	size_t i;

	if (!m->present)
		return;
	fprintf(f, " %s %s", what, m->negate ? "!= " : "");
	if (m->set >= 0) {
		fprintf(f, "@%d", m->set);
		return;
	}
	for (i = 0; i < m->n; i++)
		fprintf(f, "%s%u-%u", i ? "," : "{", m->list[i].lo, m->list[i].hi);
	fputs("}", f);
}

static void print_one_rule(FILE *f, const struct xct_rule *r, int i)
{
	size_t j;

	fprintf(f, "    rule %d: action %d hook %d family %u", i, r->action, r->hook, r->family);
	if (r->chain_of >= 0)
		fprintf(f, " in chain %d", r->chain_of);
	if (r->jump)
		fprintf(f, " to %s", r->jump->name);
	if (r->action == XCT_ACTION_RETURN && !r->jump)
		fprintf(f, " skip_to %u", r->skip_to);
	fprintf(f, " src %u", r->src);
	if (r->has_proto)
		fprintf(f, " proto %u", r->proto);
	if (r->ct_states)
		fprintf(f, " states 0x%x", r->ct_states);
	for (j = 0; j < r->n_ifaces; j++)
		fprintf(f, " %s%s", j ? "" : r->iface_negate ? "if != " : "if ", r->ifaces[j]);
	print_addr_match(f, "saddr", &r->saddr);
	print_addr_match(f, "daddr", &r->daddr);
	print_port_match(f, "sport", &r->sport);
	print_port_match(f, "dport", &r->dport);
	for (j = 0; j < r->n_icmp; j++)
		fprintf(f, " icmp %u/%d", r->icmp[j].type, r->icmp[j].code);
	if (r->has_tcp_flags)
		fprintf(f, " flags %s0x%x/0x%x", r->tcp_flags_any ? "any " : "", r->tcp_flags_value,
			r->tcp_flags_mask);
	fputc('\n', f);
}

static void print_rule(FILE *f, const struct xct_ruleset *rs, int i)
{
	if (i < 0) {
		fprintf(f, "    rule -1: (none)\n");
		return;
	}
	print_one_rule(f, &rs->rules[i], i);
}

TEST(rules_compile_random_differential)
{
	static const size_t sizes[] = {1, 7, 60, 300, 700, 1100, 1500};
	__u64 seed;
	long matched = 0, deep = 0, none = 0, total = 0;

	for (seed = 1; seed <= 28; seed++) {
		struct xct_ruleset rs;
		struct xct_compiled c;
		struct arena a = {};
		int mismatches = 0, k;

		rng_state = seed * 0x9e3779b97f4a7c15ULL;
		random_ruleset(&a, &rs, sizes[seed % POOL(sizes)]);
		if (compile(&rs, &c)) {
			CHECK_FAIL("seed %llu: compile failed", (unsigned long long)seed);
			arena_free(&a);
			continue;
		}
		check_structure(&c);
		for (k = 0; k < (int)rs.n_rules; k++) {
			static const __u8 verdict[] = {XCT_VERDICT_ACCEPT, XCT_VERDICT_DROP,
						       XCT_VERDICT_REJECT, XCT_VERDICT_NOTRACK};

			if (c.recs[k].line != rs.rules[k].loc.line ||
			    c.recs[k].action != verdict[rs.rules[k].action] ||
			    !!(c.recs[k].flags & XCT_RULE_LOG) != rs.rules[k].log ||
			    !!(c.recs[k].flags & XCT_RULE_LIMIT) != rs.rules[k].limit.present) {
				CHECK_FAIL("seed %llu: record of rule %d", (unsigned long long)seed,
					   k);
				break;
			}
		}
		for (k = 0; k < 4000; k++) {
			const struct xct_rule *target =
				rs.n_rules && chance(90) ? &rs.rules[rn(rs.n_rules)] : NULL;
			struct pkt p = random_pkt(&rs, target);
			int want = eval_rules(&rs, &p), got = eval_tables(&c, &rs, &p);

			total++;
			matched += want >= 0;
			deep += want >= XCT_CHUNK_BITS;
			none += want < 0;
			if (want == got)
				continue;
			CHECK_FAIL("seed %llu, %zu rules, packet %d: rules say %d, tables say %d",
				   (unsigned long long)seed, rs.n_rules, k, want, got);
			print_pkt(stderr, &p);
			print_rule(stderr, &rs, want);
			print_rule(stderr, &rs, got);
			if (++mismatches >= 3)
				break;
		}
		xct_compiled_free(&c);
		arena_free(&a);
	}
	/* The test is only worth something if packets both match and miss,
	 * and first matches reach past the first chunk. */
	if (getenv("XCT_TEST_VERBOSE"))
		fprintf(stderr, "  %ld packets: %ld matched, %ld past the first chunk, %ld none\n",
			total, matched, deep, none);
	CHECK(matched > total / 3);
	CHECK(none > total / 20);
	CHECK(deep > total / 50);
}

/* ---- The example ruleset ---- */

/*
 * set blocklist { 192.0.2.0/24, 2001:db8:bad::/48 }
 * set web_ports { 80, 443, 8000-8099 }
 * policy drop
 * drop saddr @blocklist
 * accept ct state established,related
 * drop ct state invalid
 * accept tcp dport @web_ports
 * accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20
 * accept udp dport 53
 * accept icmp type echo-request
 * reject tcp dport 25
 */
static void example_ruleset(struct arena *a, struct xct_ruleset *rs)
{
	struct xct_set_def *s;
	struct xct_rule *r;

	rs_init(rs, a, 16, 4);
	s = add_set(rs, "blocklist", XCT_SET_ADDR);
	s->prefixes = az(a, 2 * sizeof(*s->prefixes));
	s->prefixes[s->n_prefixes++] = pfx("192.0.2.0/24");
	s->prefixes[s->n_prefixes++] = pfx("2001:db8:bad::/48");
	s = add_set(rs, "web_ports", XCT_SET_PORT);
	s->ports = az(a, 3 * sizeof(*s->ports));
	s->ports[s->n_ports++] = (struct xct_port_range){80, 80};
	s->ports[s->n_ports++] = (struct xct_port_range){443, 443};
	s->ports[s->n_ports++] = (struct xct_port_range){8000, 8099};
	rs->policy = XCT_POLICY_DROP;

	r = add_rule(rs, XCT_ACTION_DROP);
	r->saddr.present = true;
	r->saddr.set = 0;

	r = add_rule(rs, XCT_ACTION_ACCEPT);
	r->ct_states = 1 << XCT_CTS_ESTABLISHED | 1 << XCT_CTS_RELATED;

	r = add_rule(rs, XCT_ACTION_DROP);
	r->ct_states = 1 << XCT_CTS_INVALID;

	r = add_rule(rs, XCT_ACTION_ACCEPT);
	r->has_proto = true;
	r->proto = TCP;
	r->dport.present = true;
	r->dport.set = 1;

	r = add_rule(rs, XCT_ACTION_ACCEPT);
	r->has_proto = true;
	r->proto = TCP;
	set_ports(a, &r->dport, false, 22, 22);
	set_addrs(a, &r->saddr, false, "10.0.0.0/8", NULL);
	r->limit.present = true;
	r->limit.rate = 10;
	r->limit.unit_ns = XCT_NSEC_PER_SEC;
	r->limit.burst = 20;

	r = add_rule(rs, XCT_ACTION_ACCEPT);
	r->has_proto = true;
	r->proto = UDP;
	set_ports(a, &r->dport, false, 53, 53);

	r = add_rule(rs, XCT_ACTION_ACCEPT);
	r->has_proto = true;
	r->proto = ICMP;
	r->icmp = az(a, sizeof(*r->icmp));
	r->icmp[r->n_icmp++] = (struct xct_icmp_match){8, -1};

	r = add_rule(rs, XCT_ACTION_REJECT);
	r->has_proto = true;
	r->proto = TCP;
	set_ports(a, &r->dport, false, 25, 25);
}

static struct pkt mkpkt(__u8 state, __u8 proto, const char *src, __u16 sport, const char *dst,
			__u16 dport)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.hook = XCT_HOOK_INGRESS;
	p.state = state;
	p.proto = proto;
	p.family = strchr(src, ':') ? XCT_AF_INET6 : XCT_AF_INET;
	p.saddr = p.family == XCT_AF_INET ? v4(src) : v6(src);
	p.daddr = p.family == XCT_AF_INET ? v4(dst) : v6(dst);
	p.sport = sport;
	p.dport = dport;
	p.ifindex = 2;
	if (proto == TCP)
		p.tcp_flags = 0x02;
	return p;
}

TEST(rules_compile_example_ruleset)
{
	struct {
		struct pkt p;
		int rule;
	} cases[] = {
		{mkpkt(XCT_CTS_NEW, TCP, "192.0.2.5", 40000, "198.51.100.1", 80), 0},
		{mkpkt(XCT_CTS_ESTABLISHED, TCP, "192.0.2.5", 40000, "198.51.100.1", 80), 0},
		{mkpkt(XCT_CTS_NEW, TCP, "2001:db8:bad::1", 40000, "2001:db8::1", 443), 0},
		{mkpkt(XCT_CTS_ESTABLISHED, TCP, "198.51.100.7", 443, "198.51.100.1", 40000), 1},
		{mkpkt(XCT_CTS_RELATED, ICMP, "198.51.100.7", 0, "198.51.100.1", 0), 1},
		{mkpkt(XCT_CTS_INVALID, TCP, "198.51.100.7", 1234, "198.51.100.1", 80), 2},
		{mkpkt(XCT_CTS_NEW, TCP, "198.51.100.7", 40000, "198.51.100.1", 443), 3},
		{mkpkt(XCT_CTS_NEW, TCP, "2001:db8::7", 40000, "2001:db8::1", 8050), 3},
		{mkpkt(XCT_CTS_NEW, TCP, "198.51.100.7", 40000, "198.51.100.1", 8100), -1},
		{mkpkt(XCT_CTS_NEW, UDP, "198.51.100.7", 40000, "198.51.100.1", 443), -1},
		{mkpkt(XCT_CTS_NEW, TCP, "10.1.2.3", 40000, "198.51.100.1", 22), 4},
		{mkpkt(XCT_CTS_NEW, TCP, "11.1.2.3", 40000, "198.51.100.1", 22), -1},
		{mkpkt(XCT_CTS_NEW, TCP, "2001:db8::7", 40000, "2001:db8::1", 22), -1},
		{mkpkt(XCT_CTS_NEW, UDP, "198.51.100.7", 40000, "198.51.100.1", 53), 5},
		{mkpkt(XCT_CTS_NEW, TCP, "198.51.100.7", 40000, "198.51.100.1", 53), -1},
		{mkpkt(XCT_CTS_NEW, ICMP, "198.51.100.7", 0, "198.51.100.1", 0), 6},
		{mkpkt(XCT_CTS_NEW, ICMPV6, "2001:db8::7", 0, "2001:db8::1", 0), -1},
		{mkpkt(XCT_CTS_NEW, TCP, "198.51.100.7", 40000, "198.51.100.1", 25), 7},
		{mkpkt(XCT_STAGE_RAW, TCP, "192.0.2.5", 40000, "198.51.100.1", 80), -1},
	};
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	size_t i;

	example_ruleset(&a, &rs);
	/* echo-request, and an echo reply that no rule takes */
	cases[15].p.icmp_type = 8;
	cases[16].p.icmp_type = 128;
	cases[4].p.icmp_type = 3;
	if (compile(&rs, &c)) {
		CHECK_FAIL("compile failed");
		arena_free(&a);
		return;
	}
	check_structure(&c);
	CHECK_EQ(c.n_rules, 8);
	CHECK_EQ(c.policy, XCT_VERDICT_DROP);
	CHECK_EQ(c.has_raw, 0);
	CHECK_EQ(c.fields_used,
		 1 << XCT_F_META | 1 << XCT_F_SADDR | 1 << XCT_F_DPORT | 1 << XCT_F_ICMP);
	CHECK_EQ(c.recs[0].action, XCT_VERDICT_DROP);
	CHECK_EQ(c.recs[0].saddr_set, 1);
	CHECK_EQ(c.recs[3].dport_set, 2);
	CHECK_EQ(c.recs[3].flags, 0);
	CHECK_EQ(c.recs[4].flags, XCT_RULE_LIMIT);
	CHECK_EQ(c.recs[6].action, XCT_VERDICT_ACCEPT);
	CHECK_EQ(c.recs[7].action, XCT_VERDICT_REJECT);
	CHECK_EQ(c.recs[7].line, 8);

	for (i = 0; i < POOL(cases); i++) {
		int want = eval_rules(&rs, &cases[i].p), got = eval_tables(&c, &rs, &cases[i].p);

		if (want != cases[i].rule || got != cases[i].rule) {
			CHECK_FAIL("case %zu: want rule %d, rules say %d, tables say %d", i,
				   cases[i].rule, want, got);
			print_pkt(stderr, &cases[i].p);
		}
	}

	/* The same packets leaving the host: no rule is an oif rule. */
	for (i = 0; i < POOL(cases); i++) {
		cases[i].p.hook = XCT_HOOK_EGRESS;
		CHECK_EQ(eval_tables(&c, &rs, &cases[i].p), -1);
	}
	xct_compiled_free(&c);
	arena_free(&a);
}

/* The rules of class cls, as a bit mask of the first 64 rules. */
static __u64 class_bits(const struct xct_compiled *c, __u32 cls)
{
	__u64 m = 0;
	__u32 r;

	for (r = 0; r < c->n_rules && r < 64; r++)
		if (class_has(c, cls, r))
			m |= 1ULL << r;
	return m;
}

#define META(c, hook, fam, state, proto) ((c)->meta[xct_meta_index(hook, fam, state, proto)])

TEST(rules_compile_meta_established)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	size_t i;

	example_ruleset(&a, &rs);
	if (compile(&rs, &c))
		goto out;
	/* Without "ct state new" the port rules apply to every state. */
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET, XCT_CTS_ESTABLISHED, TCP)), 0x9b);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET, XCT_CTS_ESTABLISHED, UDP)), 0x23);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET, XCT_CTS_ESTABLISHED, ICMP)), 0x43);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET6, XCT_CTS_ESTABLISHED, ICMPV6)), 0x03);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET6, XCT_CTS_INVALID, 47)), 0x05);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET, XCT_CTS_NEW, TCP)), 0x99);
	CHECK_EQ(META(&c, 0, XCT_AF_INET, XCT_STAGE_RAW, TCP), 0);
	CHECK_EQ(META(&c, 0, XCT_AF_INET, 6, TCP), 0);
	CHECK_EQ(META(&c, 1, XCT_AF_INET, XCT_CTS_ESTABLISHED, TCP), 0);
	xct_compiled_free(&c);

	/* The usual ruleset: everything after the established rule is for
	 * new connections, and an established packet meets one rule. */
	for (i = 3; i < rs.n_rules; i++)
		rs.rules[i].ct_states = 1 << XCT_CTS_NEW;
	rs.rules[0].ct_states = 1 << XCT_CTS_NEW;
	if (compile(&rs, &c))
		goto out;
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET, XCT_CTS_ESTABLISHED, TCP)), 0x02);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET6, XCT_CTS_RELATED, UDP)), 0x02);
	CHECK_EQ(META(&c, 0, XCT_AF_INET, XCT_CTS_ESTABLISHED, TCP),
		 META(&c, 0, XCT_AF_INET6, XCT_CTS_ESTABLISHED, 47));
	CHECK_EQ(c.classes[META(&c, 0, XCT_AF_INET, XCT_CTS_ESTABLISHED, TCP)].n_chunks, 1);
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

TEST(rules_compile_dedup)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	struct xct_rule *r;
	__u32 k;
	int i;

	rs_init(&rs, &a, 2, 1);
	for (i = 0; i < 2; i++) {
		r = add_rule(&rs, XCT_ACTION_ACCEPT);
		r->has_proto = true;
		r->proto = TCP;
		set_ports(&a, &r->dport, false, 80, 80);
		set_addrs(&a, &r->saddr, false, "10.0.0.0/8", NULL);
	}
	if (compile(&rs, &c))
		goto out;
	check_structure(&c);
	/* Class 0 and {0, 1}: every field's region for these rules. */
	CHECK_EQ(c.n_classes, 2);
	k = c.port[1][80];
	CHECK_EQ(class_bits(&c, k), 0x3);
	CHECK_EQ(META(&c, 0, XCT_AF_INET, XCT_CTS_NEW, TCP), k);
	CHECK_EQ(META(&c, 0, XCT_AF_INET6, XCT_CTS_INVALID, TCP), k);
	CHECK_EQ(c.port[0][80], k);
	CHECK_EQ(c.port[1][81], 0);
	CHECK_EQ(c.iface_default, k);
	CHECK_EQ(c.flags[0x12], k);
	CHECK_EQ(c.n_addr[0], 3);
	for (i = 0; i < (int)c.n_addr[0]; i++)
		CHECK_EQ(c.addr[0][i].cls, c.addr[0][i].prefix.plen == 8 ? k : 0);
	CHECK_EQ(c.n_addr[1], 2);
	CHECK_EQ(c.addr[1][0].cls, k);
	CHECK_EQ(c.addr[1][1].cls, k);
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

TEST(rules_compile_empty)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	struct pkt p = mkpkt(XCT_CTS_NEW, TCP, "10.0.0.1", 1, "10.0.0.2", 2);
	__u32 i, nonzero = 0;

	rs_init(&rs, &a, 1, 1);
	if (compile(&rs, &c))
		goto out;
	check_structure(&c);
	CHECK_EQ(c.n_classes, 1);
	CHECK_EQ(c.fields_used, 1 << XCT_F_META);
	CHECK_EQ(c.policy, XCT_VERDICT_ACCEPT);
	for (i = 0; i < XCT_META_ENTRIES; i++)
		nonzero += c.meta[i] != 0;
	CHECK_EQ(nonzero, 0);
	CHECK_EQ(eval_tables(&c, &rs, &p), -1);
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

TEST(rules_compile_ifaces)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	struct xct_rule *r;
	__u32 i;

	rs_init(&rs, &a, 5, 1);
	set_ifaces(&a, add_rule(&rs, XCT_ACTION_ACCEPT), false, "eth0", NULL);
	set_ifaces(&a, add_rule(&rs, XCT_ACTION_ACCEPT), true, "eth0", NULL);
	add_rule(&rs, XCT_ACTION_DROP);
	set_ifaces(&a, add_rule(&rs, XCT_ACTION_ACCEPT), false, "eth0", "eth1");
	r = add_rule(&rs, XCT_ACTION_ACCEPT);
	set_ifaces(&a, r, true, "eth1", "eth2");
	r->hook = XCT_HOOK_EGRESS;
	if (compile(&rs, &c))
		goto out;
	check_structure(&c);
	CHECK_EQ(c.fields_used, 1 << XCT_F_META | 1 << XCT_F_IFACE);
	CHECK_EQ(c.n_ifaces, 3);
	for (i = 0; i < c.n_ifaces; i++) {
		__u64 want = c.ifaces[i].ifindex == 2	? 0x1d
			     : c.ifaces[i].ifindex == 3 ? 0x0e
			     : c.ifaces[i].ifindex == 4 ? 0x06
							: ~0ULL;

		CHECK_EQ(class_bits(&c, c.ifaces[i].cls), want);
	}
	CHECK_EQ(class_bits(&c, c.iface_default), 0x16);
	CHECK_EQ(class_bits(&c, META(&c, 1, XCT_AF_INET, XCT_CTS_NEW, UDP)), 0x10);
	CHECK_EQ(class_bits(&c, META(&c, 0, XCT_AF_INET, XCT_CTS_NEW, UDP)), 0x0f);
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

TEST(rules_compile_addr_tries)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	struct {
		const char *prefix;
		__u64 bits;
	} want[] = {
		{"0.0.0.0/0", 0x14},
		{"10.0.0.0/8", 0x15},
		{"10.1.0.0/16", 0x17},
		{"10.1.2.0/24", 0x33},
		{"::/0", 0x14},
		{"2001:db8::/32", 0x7c},
		{"2001:db8::/31", 0x14 | 0x40},
	};
	__u32 i, j, found;

	rs_init(&rs, &a, 8, 1);
	set_addrs(&a, &add_rule(&rs, XCT_ACTION_ACCEPT)->saddr, false, "10.0.0.0/8", NULL);
	set_addrs(&a, &add_rule(&rs, XCT_ACTION_ACCEPT)->saddr, false, "10.1.0.0/16", NULL);
	set_addrs(&a, &add_rule(&rs, XCT_ACTION_ACCEPT)->saddr, true, "10.1.2.0/24", NULL);
	set_addrs(&a, &add_rule(&rs, XCT_ACTION_ACCEPT)->saddr, false, "2001:db8::/32", NULL);
	add_rule(&rs, XCT_ACTION_ACCEPT);
	/* the same prefix twice, and a host part that the compiler masks */
	set_addrs(&a, &add_rule(&rs, XCT_ACTION_ACCEPT)->saddr, false, "10.1.2.0/24",
		  "2001:db8::/32", "10.1.2.0/24", NULL);
	set_addrs(&a, &add_rule(&rs, XCT_ACTION_ACCEPT)->saddr, false, "2001:db9:1::/31", NULL);
	if (compile(&rs, &c))
		goto out;
	check_structure(&c);
	CHECK_EQ(c.n_addr[0], POOL(want));
	for (i = 0; i < POOL(want); i++) {
		struct xct_prefix p = pfx(want[i].prefix);

		found = 0;
		for (j = 0; j < c.n_addr[0]; j++) {
			if (c.addr[0][j].prefix.family != p.family ||
			    c.addr[0][j].prefix.plen != p.plen ||
			    memcmp(c.addr[0][j].prefix.addr, p.addr, 16))
				continue;
			found++;
			if (class_bits(&c, c.addr[0][j].cls) != want[i].bits)
				CHECK_FAIL("%s: class 0x%llx, want 0x%llx", want[i].prefix,
					   (unsigned long long)class_bits(&c, c.addr[0][j].cls),
					   (unsigned long long)want[i].bits);
		}
		if (found != 1)
			CHECK_FAIL("%s: %u entries", want[i].prefix, found);
	}
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

/* The class an interface of each name gets, as bits over the rules. */
static __u64 name_bits(const struct xct_compiled *c, __u32 ifindex, const char *name)
{
	return class_bits(c, xct_compiled_iface_class(c, ifindex, name));
}

TEST(rules_compile_iface_names_and_wildcards)
{
	static const char text[] = "accept iifname \"veth*\"\n"		  /* 0 */
				   "accept iifname \"veth1*\"\n"	  /* 1 */
				   "accept iifname veth12\n"		  /* 2 */
				   "accept iifname != { \"ve*\", wg0 }\n" /* 3 */
				   "accept iif eth0\n"			  /* 4 */
				   "accept iifname eth0\n"		  /* 5 */
				   "accept\n";				  /* 6 */
	struct xct_rules_error err;
	struct xct_ruleset rs;
	struct xct_compiled c;

	CHECK_EQ(xct_rules_parse("t", text, strlen(text), &rs, &err), 0);
	CHECK_EQ(xct_rules_compile(&rs, "t", test_ifindex, NULL, &c, &err), 0);
	CHECK(c.fields_used & (1 << XCT_F_IFACE));
	/* A name no rule writes: the negated rule and the rule without. */
	CHECK_EQ(name_bits(&c, 99, "br0"), 0x48);
	CHECK_EQ(name_bits(&c, 99, "wg0"), 0x40);
	CHECK_EQ(name_bits(&c, 99, "ve"), 0x40);
	CHECK_EQ(name_bits(&c, 99, "veth"), 0x41);
	CHECK_EQ(name_bits(&c, 99, "veth0"), 0x41);
	CHECK_EQ(name_bits(&c, 99, "veth1"), 0x43);
	CHECK_EQ(name_bits(&c, 99, "veth123"), 0x43);
	CHECK_EQ(name_bits(&c, 99, "veth12"), 0x47);
	/* eth0 by index takes its name's rules too; another interface
	 * called eth0 now (created after the load) only those. */
	CHECK_EQ(name_bits(&c, test_ifindex("eth0", NULL), "eth0"), 0x78);
	CHECK_EQ(name_bits(&c, 99, "eth0"), 0x68);
	CHECK_EQ(c.n_iface_names, 6);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
}

TEST(rules_compile_unknown_interface)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct xct_rules_error err;
	struct arena a = {};
	struct xct_rule *r;

	rs_init(&rs, &a, 3, 1);
	set_ifaces(&a, add_rule(&rs, XCT_ACTION_ACCEPT), false, "eth0", NULL);
	r = add_rule(&rs, XCT_ACTION_ACCEPT);
	set_ifaces(&a, r, false, "eth1", "eth9");
	r->loc.line = 7;
	r->loc.col = 3;
	r->text = "iif { eth1, eth9 } accept";
	CHECK_EQ(xct_rules_compile(&rs, "/etc/xct/rules", test_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_STR(err.file, "/etc/xct/rules");
	CHECK_EQ(err.loc.line, 7);
	CHECK_EQ(err.loc.col, 3);
	CHECK_STR(err.msg,
		  "interface 'eth9' does not exist ('iifname eth9' matches it once it does)");
	CHECK_STR(err.line_text, "  iif { eth1, eth9 } accept");
	CHECK(c.classes == NULL && c.n_classes == 0 && c.recs == NULL);
	xct_compiled_free(&c);
	arena_free(&a);
}

TEST(rules_compile_too_many)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct xct_rules_error err;
	struct arena a = {};
	__u32 i;

	rs_init(&rs, &a, XCT_RULES_MAX, XCT_SETS_MAX + 1);
	for (i = 0; i < XCT_RULES_MAX - 1; i++)
		add_rule(&rs, XCT_ACTION_ACCEPT);
	/* The most rules there can be: every chunk, the last one short. */
	if (!compile(&rs, &c)) {
		check_structure(&c);
		CHECK_EQ(c.n_classes, 2);
		CHECK_EQ(c.classes[1].summary, ~0ULL);
		CHECK_EQ(c.classes[1].n_chunks, XCT_CHUNKS);
		CHECK_EQ(c.classes[1].chunks[XCT_CHUNKS - 1].w[XCT_CHUNK_WORDS - 1], ~0ULL >> 1);
		CHECK_EQ(META(&c, 0, XCT_AF_INET6, XCT_CTS_UNTRACKED, 200), 1);
		xct_compiled_free(&c);
	}

	add_rule(&rs, XCT_ACTION_ACCEPT);
	CHECK_EQ(xct_rules_compile(&rs, "r", test_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_EQ(err.loc.line, XCT_RULES_MAX);
	CHECK_STR(err.msg, "too many rules (at most 32767)");
	CHECK_EQ(c.n_classes, 0);

	rs.n_rules = 1;
	for (i = 0; i < XCT_SETS_MAX; i++)
		add_set(&rs, "s", XCT_SET_PORT);
	CHECK_EQ(xct_rules_compile(&rs, "r", test_ifindex, NULL, &c, &err), 0);
	xct_compiled_free(&c);
	add_set(&rs, "s", XCT_SET_PORT);
	CHECK_EQ(xct_rules_compile(&rs, "r", test_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_EQ(err.loc.line, rs.sets[XCT_SETS_MAX].loc.line);
	CHECK_STR(err.msg, "too many sets (at most 256)");
	arena_free(&a);
}

TEST(rules_compile_bad_set_ref)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct xct_rules_error err;
	struct arena a = {};
	struct xct_rule *r;

	rs_init(&rs, &a, 1, 1);
	add_set(&rs, "ports", XCT_SET_PORT);
	r = add_rule(&rs, XCT_ACTION_ACCEPT);
	r->saddr.present = true;
	r->saddr.set = 0;
	CHECK_EQ(xct_rules_compile(&rs, "r", test_ifindex, NULL, &c, &err), -EINVAL);
	CHECK_STR(err.msg, "set 'ports' is not a set of addresses");
	r->saddr.set = 1;
	CHECK_EQ(xct_rules_compile(&rs, "r", test_ifindex, NULL, &c, &err), -EINVAL);
	arena_free(&a);
}

TEST(rules_compile_limits)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	struct xct_rule *r;
	__u64 cost, burst, tat = 0, now = 1000 * XCT_NSEC_PER_SEC, next;
	int i, passed = 0;

	rs_init(&rs, &a, 3, 1);
	r = add_rule(&rs, XCT_ACTION_ACCEPT);
	r->limit = (struct xct_limit){
		.present = true, .rate = 10, .unit_ns = XCT_NSEC_PER_SEC, .burst = 20};
	r = add_rule(&rs, XCT_ACTION_ACCEPT);
	r->limit = (struct xct_limit){.present = true,
				      .rate = 10 << 20,
				      .unit_ns = XCT_NSEC_PER_SEC,
				      .burst = 10 << 20,
				      .per_saddr = true,
				      .bytes = true};
	r->log = true;
	r = add_rule(&rs, XCT_ACTION_NOTRACK);
	r->limit = (struct xct_limit){.present = true, .rate = 3, .unit_ns = 60 * XCT_NSEC_PER_SEC};
	if (compile(&rs, &c))
		goto out;
	cost = (XCT_NSEC_PER_SEC << XCT_LIMIT_SHIFT) / 10;
	CHECK_EQ(c.recs[0].flags, XCT_RULE_LIMIT);
	CHECK_EQ(c.recs[0].limit_cost, cost);
	CHECK_EQ(c.recs[0].limit_burst, 20 * cost);
	CHECK_EQ(c.recs[1].flags,
		 XCT_RULE_LIMIT | XCT_RULE_LIMIT_PER_SADDR | XCT_RULE_LIMIT_BYTES | XCT_RULE_LOG);
	CHECK_EQ(c.recs[1].limit_cost, (XCT_NSEC_PER_SEC << XCT_LIMIT_SHIFT) / (10 << 20));
	CHECK_EQ(c.recs[1].limit_burst, (10ULL << 20) * c.recs[1].limit_cost);
	/* no burst given: the rate */
	CHECK_EQ(c.recs[2].limit_burst, 3 * c.recs[2].limit_cost);
	CHECK_EQ(c.recs[2].action, XCT_VERDICT_NOTRACK);
	CHECK_EQ(c.has_raw, 1);

	/* 20 packets back to back fit, the 21st does not; 100 ms later one
	 * more does. */
	cost = c.recs[0].limit_cost;
	burst = c.recs[0].limit_burst;
	for (i = 0; i < 21; i++) {
		next = xct_limit_next(tat, now, cost, burst);
		if (next) {
			tat = next;
			passed++;
		}
	}
	CHECK_EQ(passed, 20);
	CHECK(xct_limit_next(tat, now + XCT_NSEC_PER_SEC / 10, cost, burst) != 0);
	CHECK(xct_limit_next(tat, now + XCT_NSEC_PER_SEC / 20, cost, burst) == 0);
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

/* accept tcp dport 1000+i saddr 10.(i >> 8).(i & 255).0/24: n distinct rules. */
static void big_ruleset(struct arena *a, struct xct_ruleset *rs, __u32 n)
{
	__u32 i;

	rs_init(rs, a, n, 1);
	for (i = 0; i < n; i++) {
		struct xct_rule *r = add_rule(rs, XCT_ACTION_ACCEPT);
		char buf[32];

		r->has_proto = true;
		r->proto = TCP;
		set_ports(a, &r->dport, false, 1000 + i, 1000 + i);
		snprintf(buf, sizeof(buf), "10.%u.%u.0/24", i >> 8, i & 255);
		set_addrs(a, &r->saddr, false, buf, NULL);
	}
}

static void check_big(__u32 n)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct arena a = {};
	struct timespec t0, t1;
	__u32 i, chunks = 0;

	big_ruleset(&a, &rs, n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (compile(&rs, &c))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getenv("XCT_TEST_VERBOSE"))
		fprintf(stderr, "  %u rules: %u classes, compiled in %.1f ms\n", n, c.n_classes,
			(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	check_structure(&c);
	/* Class 0, every rule (TCP in META), and one class per rule that
	 * its port and its prefix share. */
	CHECK_EQ(c.n_classes, n + 2);
	for (i = 0; i < c.n_classes; i++)
		chunks += c.classes[i].n_chunks;
	CHECK_EQ(chunks, n + (n + XCT_CHUNK_BITS - 1) / XCT_CHUNK_BITS);
	CHECK_EQ(c.n_addr[0], n + 2);
	CHECK_EQ(c.n_addr[1], 2);
	CHECK_EQ(c.fields_used, 1 << XCT_F_META | 1 << XCT_F_SADDR | 1 << XCT_F_DPORT);
	for (i = 0; i < n; i += 97) {
		struct pkt p = mkpkt(XCT_CTS_NEW, TCP, "10.0.0.9", 40000, "192.0.2.1", 1000 + i);

		p.saddr.bytes[1] = i >> 8;
		p.saddr.bytes[2] = i & 255;
		CHECK_EQ(eval_tables(&c, &rs, &p), (int)i);
		p.dport++;
		CHECK_EQ(eval_tables(&c, &rs, &p), -1);
	}
	xct_compiled_free(&c);
out:
	arena_free(&a);
}

TEST(rules_compile_10000_rules)
{
	check_big(1000);
	check_big(10000);
}

/* Parses text with the real parser and compiles it, no interfaces. */
static int compile_text(const char *text, struct xct_ruleset *rs, struct xct_compiled *c)
{
	struct xct_rules_error err;

	memset(&err, 0, sizeof(err));
	if (xct_rules_parse("t", text, strlen(text), rs, &err)) {
		CHECK_FAIL("parse: %u:%u: %s", err.loc.line, err.loc.col, err.msg);
		return -1;
	}
	if (xct_rules_compile(rs, "t", NULL, NULL, c, &err)) {
		CHECK_FAIL("compile: %s", err.msg);
		xct_ruleset_free(rs);
		return -1;
	}
	return 0;
}

/* A META class decides alone exactly when its first rule needs no other
 * field: then established packets skip every other lookup. */
TEST(rules_compile_meta_decided)
{
	struct xct_ruleset rs;
	struct xct_compiled c;
	__u32 est, new_tcp, new_udp;

	if (compile_text("accept ct state established,related\n"
			 "accept tcp dport 22\n"
			 "drop udp\n",
			 &rs, &c))
		return;
	est = META(&c, XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_ESTABLISHED, XCT_IPPROTO_TCP);
	new_tcp = META(&c, XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_NEW, XCT_IPPROTO_TCP);
	new_udp = META(&c, XCT_HOOK_INGRESS, XCT_AF_INET6, XCT_CTS_NEW, XCT_IPPROTO_UDP);
	CHECK_EQ(c.classes[est].decided, 1);	 /* rule 0 */
	CHECK_EQ(c.classes[new_tcp].decided, 0); /* rule 1 needs the port */
	CHECK_EQ(c.classes[new_udp].decided, 3); /* rule 2 */
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);

	/* A set or a limit is a check too: not decided by META. */
	if (compile_text("set s { 10.0.0.0/8 }\ndrop saddr @s\naccept ct state established\n"
			 "accept limit 1/second\n",
			 &rs, &c))
		return;
	est = META(&c, XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_ESTABLISHED, XCT_IPPROTO_TCP);
	new_tcp = META(&c, XCT_HOOK_INGRESS, XCT_AF_INET, XCT_CTS_NEW, XCT_IPPROTO_TCP);
	CHECK_EQ(c.classes[est].decided, 0);
	CHECK_EQ(c.classes[new_tcp].decided, 0);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
}

/* ---- Chains: the expansion against the chain semantics ---- */

/*
 * nft's semantics of chains, read directly off the rules as written: a
 * jump runs its chain and goes on after the jump unless the chain decided,
 * a goto does not come back, a return leaves the chain, and the end of the
 * base list leaves the packet to the policy.  A rule with no interface
 * applies at the hook of the jump that reached it.  The decision is a
 * written rule's index, or -1; *ret says a chain returned.
 */
static int run_chain(const struct xct_ruleset *rs, int chain, __u8 hook, const struct pkt *p,
		     bool *ret)
{
	size_t i;

	*ret = false;
	for (i = 0; i < rs->n_written; i++) {
		const struct xct_rule *r = &rs->written[i];
		struct xct_rule m = *r;
		bool back;
		int d;

		if (r->chain_of != chain)
			continue;
		if (!r->n_ifaces)
			m.hook = hook;
		if (r->action == XCT_ACTION_JUMP || r->action == XCT_ACTION_GOTO ||
		    r->action == XCT_ACTION_RETURN) {
			/* Control passes before tracking too, for notrack
			 * rules, unless the rule asks for a state. */
			if (p->state == XCT_STAGE_RAW) {
				if (r->ct_states)
					continue;
				m.action = XCT_ACTION_NOTRACK;
			} else {
				m.action = XCT_ACTION_ACCEPT;
			}
		}
		if (!rule_matches(rs, &m, p))
			continue;
		switch (r->action) {
		case XCT_ACTION_RETURN:
			*ret = true;
			return -1;
		case XCT_ACTION_JUMP:
		case XCT_ACTION_GOTO:
			d = run_chain(rs, r->jump->chain, m.hook, p, &back);
			if (d >= 0)
				return d;
			if (r->action == XCT_ACTION_GOTO) {
				*ret = true;
				return -1;
			}
			break;
		default:
			return (int)i;
		}
	}
	return -1;
}

static int eval_chains(const struct xct_ruleset *rs, const struct pkt *p)
{
	bool ret;

	return run_chain(rs, -1, XCT_HOOK_INGRESS, p, &ret);
}

static const char *const chain_names[] = {"c0", "c1", "c2", "c3"};

/*
 * A random ruleset of a base list and up to four chains, each jumping only
 * to chains after it (loops are the parser's tests).  Jumps carry no set
 * or tcp flags, chains no notrack, no rule a limit: the pairs the
 * expansion refuses, tested apart.
 */
static void random_chained(struct arena *a, struct xct_ruleset *rs)
{
	size_t n_chains = 1 + rn(4), i, n;
	int c;

	memset(rs, 0, sizeof(*rs));
	rs->policy = chance(50) ? XCT_POLICY_DROP : XCT_POLICY_ACCEPT;
	rs->chains = az(a, n_chains * sizeof(*rs->chains));
	rs->written = az(a, 200 * sizeof(*rs->written));
	rs->n_chains = n_chains;
	for (i = 0; i < n_chains; i++) {
		snprintf(rs->chains[i].name, sizeof(rs->chains[i].name), "%s", chain_names[i]);
		rs->chains[i].loc.line = 1000 + i;
	}
	for (c = -1; c < (int)n_chains; c++) {
		n = c < 0 ? 4 + rn(20) : 1 + rn(6);
		for (i = 0; i < n; i++) {
			struct xct_rule *r = &rs->written[rs->n_written];
			int kind = rn(100);

			random_rule(a, rs, r);
			r->limit.present = false;
			r->chain_of = c;
			r->loc.line = rs->n_written + 1;
			r->loc.col = 1;
			if (c >= 0 && r->action == XCT_ACTION_NOTRACK)
				r->action = XCT_ACTION_DROP;
			if (kind < 35 && c + 1 < (int)n_chains) {
				int target = c + 1 + (int)rn(n_chains - c - 1);

				r->action = kind < 25 ? XCT_ACTION_JUMP : XCT_ACTION_GOTO;
				r->jump = az(a, sizeof(*r->jump));
				snprintf(r->jump->name, sizeof(r->jump->name), "%s",
					 chain_names[target]);
				r->jump->src.loc = r->loc;
			} else if (kind >= 35 && kind < 47) {
				r->action = XCT_ACTION_RETURN;
			}
			if (r->action == XCT_ACTION_JUMP || r->action == XCT_ACTION_GOTO ||
			    r->action == XCT_ACTION_RETURN) {
				r->has_tcp_flags = false;
				r->log = false;
				/* Fewer matches, so that chains are entered. */
				if (chance(50)) {
					r->n_ifaces = 0;
					r->hook = XCT_HOOK_INGRESS;
					r->family = 0;
					r->ct_states = chance(30) ? r->ct_states : 0;
				}
				if (chance(50))
					r->saddr.present = false;
				if (chance(50))
					r->daddr.present = false;
				if (chance(30)) {
					r->sport.present = r->dport.present = false;
				}
				if (chance(30))
					r->n_icmp = 0;
			}
			rs->n_written++;
		}
	}
}

TEST(rules_chains_random_against_semantics)
{
	long total = 0, decided_in_chain = 0, returned = 0, refused = 0;
	__u64 seed;

	returns_taken = 0;
	for (seed = 1; seed <= 120; seed++) {
		struct xct_rules_error err;
		struct xct_ruleset rs;
		struct xct_compiled c;
		struct arena a = {};
		int mismatches = 0, k;
		size_t i;

		rng_state = seed * 0x51a5e1b0c4f3d2a7ULL;
		random_chained(&a, &rs);
		if (xct_chains_expand(&rs, &err)) {
			/* Two address or port lists that cannot be ANDed into
			 * one match are refused, never miscompiled. */
			refused++;
			CHECK(strstr(err.msg, "cannot be combined") != NULL);
			arena_free(&a);
			continue;
		}
		if (compile(&rs, &c)) {
			CHECK_FAIL("seed %llu: compile failed", (unsigned long long)seed);
			goto next;
		}
		check_structure(&c);
		for (k = 0; k < 3000; k++) {
			const struct xct_rule *target =
				rs.n_rules && chance(80)     ? &rs.rules[rn(rs.n_rules)]
				: rs.n_written && chance(80) ? &rs.written[rn(rs.n_written)]
							     : NULL;
			struct pkt p = random_pkt(&rs, target);
			int want = eval_chains(&rs, &p), got = eval_tables(&c, &rs, &p);
			int got_src = got >= 0 ? (int)c.recs[got].src : got;

			total++;
			decided_in_chain += want >= 0 && rs.written[want].chain_of >= 0;
			returned += got >= 0 && rs.rules[got].action == XCT_ACTION_RETURN;
			if (want == got_src)
				continue;
			CHECK_FAIL(
				"seed %llu, %zu rules written, %zu expanded, packet %d: chains say "
				"%d, tables say %d (rule %d)",
				(unsigned long long)seed, rs.n_written, rs.n_rules, k, want,
				got_src, got);
			print_pkt(stderr, &p);
			if (!mismatches) {
				fprintf(stderr, "  as written:\n");
				for (i = 0; i < rs.n_written; i++)
					print_one_rule(stderr, &rs.written[i], (int)i);
				fprintf(stderr, "  expanded:\n");
				for (i = 0; i < rs.n_rules; i++)
					print_one_rule(stderr, &rs.rules[i], (int)i);
			}
			if (++mismatches >= 3)
				break;
		}
		xct_compiled_free(&c);
	next:
		for (i = 0; i < rs.n_rules; i++)
			xct_rule_free(&rs.rules[i]);
		free(rs.rules);
		arena_free(&a);
	}
	if (getenv("XCT_TEST_VERBOSE"))
		fprintf(stderr,
			"  %ld packets, %ld decided in a chain, %ld returns taken; %ld rulesets "
			"refused\n",
			total, decided_in_chain, returns_taken, refused);
	CHECK_EQ(returned, 0); /* a return never decides */
	CHECK(decided_in_chain > total / 50);
	CHECK(returns_taken > total / 20);
	CHECK(refused < 40);
}

/* A return whose chain spans chunks goes on in a later chunk. */
TEST(rules_chains_return_across_chunks)
{
	size_t cap = 1300 * 32, len = 0;
	char *text = malloc(cap);
	struct xct_rules_error err;
	struct xct_ruleset rs;
	struct xct_compiled c;
	struct pkt p;
	int i;

	if (!text)
		abort();
	len += (size_t)snprintf(text + len, cap - len,
				"policy drop\njump big tcp\naccept tcp dport 5\nchain big {\n"
				"return saddr 10.9.0.0/16\n");
	for (i = 0; i < 1200; i++)
		len += (size_t)snprintf(text + len, cap - len, "drop dport %d\n", 5 + i % 3);
	snprintf(text + len, cap - len, "}\n");
	if (xct_rules_parse("t.rules", text, strlen(text), &rs, &err)) {
		CHECK_FAIL("%u:%u: %s", err.loc.line, err.loc.col, err.msg);
		free(text);
		return;
	}
	free(text);
	CHECK_EQ(rs.n_rules, 1202);
	CHECK_EQ(rs.rules[0].skip_to, 1201);
	if (compile(&rs, &c)) {
		CHECK_FAIL("compile failed");
		xct_ruleset_free(&rs);
		return;
	}
	memset(&p, 0, sizeof(p));
	p.family = XCT_AF_INET;
	p.proto = TCP;
	p.state = XCT_CTS_NEW;
	p.dport = 5;
	p.saddr.bytes[0] = 10;
	p.saddr.bytes[1] = 8;
	CHECK_EQ(eval_tables(&c, &rs, &p), 1);
	p.saddr.bytes[1] = 9;
	CHECK_EQ(eval_tables(&c, &rs, &p), 1201);
	p.dport = 6;
	CHECK_EQ(eval_tables(&c, &rs, &p), -1);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
}
