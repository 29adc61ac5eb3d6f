// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rule compiler: turns a parsed ruleset into the classification tables
 * the datapath evaluates (include/xct/policy.h explains the scheme,
 * bpf/policy.h is the evaluation these tables must satisfy).
 *
 * Every field is compiled the same way: split the field's values into the
 * regions no rule tells apart, and give each region the bit vector of the
 * rules that let a value of that region match.  The vectors are interned in
 * a hash table, so a vector that several regions (of any field) share is
 * stored once; class 0 is the all-zero vector.
 *
 * Work stays proportional to the rules' values, not to rules times values:
 * ports and ICMP types are swept over the boundaries of the ranges rules
 * name, address prefixes are walked as a trie in sorted order, and META is
 * built from a few per-dimension masks ANDed a word at a time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/compile.h"
#include "owner.h"     /* xct_owner_cgroup_id() */
#include "xct/parse.h" /* XCT_IPPROTO_* */

#define NO_RULE ((__u32)-1)
#define EMPTY	((__u32)-1)

struct compiler {
	const struct xct_ruleset *rs;
	const char *file;
	struct xct_rules_error *err;
	struct xct_compiled *out;

	__u32 n_rules;
	__u32 n_chunks; /* chunks a vector spans */
	__u32 n_words;	/* n_chunks * XCT_CHUNK_WORDS */

	/* Interned classes: open addressing over class numbers. */
	__u32 *slots;
	__u32 n_slots; /* a power of two */
	__u64 *hashes; /* per class */
	__u32 cap_classes;
};

/* ---- Errors ---- */

static int vfail(struct compiler *cc, int ret, const struct xct_src_loc *loc, const char *text,
		 const char *fmt, va_list ap)
{
	struct xct_rules_error *err = cc->err;

	if (!err)
		return ret;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", cc->file ? cc->file : "");
	if (loc)
		err->loc = *loc;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	/* The compiler has the rule's text, not the file's line: indent the
	 * text to the rule's column, so that the caret lands on the rule. */
	if (loc && text && loc->col)
		snprintf(err->line_text, sizeof(err->line_text), "%*s%s", (int)loc->col - 1, "",
			 text);
	return ret;
}

static int fail(struct compiler *cc, int ret, const struct xct_src_loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ret = vfail(cc, ret, loc, NULL, fmt, ap);
	va_end(ap);
	return ret;
}

/* An error in rule r, with -EINVAL. */
static int fail_rule(struct compiler *cc, const struct xct_rule *r, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfail(cc, -EINVAL, &r->loc, r->text, fmt, ap);
	va_end(ap);
	return ret;
}

/* An error at rule r's interface j: at the name when it stands on the
 * rule's first line (the error shows the rule's text), else at the rule. */
static int fail_iface(struct compiler *cc, const struct xct_rule *r, size_t j, const char *fmt, ...)
{
	struct xct_src_loc loc = r->loc;
	va_list ap;
	int ret;

	if (r->iface_locs && r->iface_locs[j].line == r->loc.line)
		loc = r->iface_locs[j];
	va_start(ap, fmt);
	ret = vfail(cc, -EINVAL, &loc, NULL, fmt, ap);
	va_end(ap);
	if (cc->err && r->text && r->loc.col)
		snprintf(cc->err->line_text, sizeof(cc->err->line_text), "%*s%s",
			 (int)r->loc.col - 1, "", r->text);
	return ret;
}

static int no_memory(struct compiler *cc)
{
	return fail(cc, -ENOMEM, NULL, "out of memory");
}

/* ---- Bit vectors over the rules ---- */

static __u64 *vec_new(struct compiler *cc)
{
	/* One word more than needed, so that an empty ruleset still gets
	 * a valid pointer. */
	return calloc(cc->n_words + 1, sizeof(__u64));
}

static inline void vec_put(__u64 *v, __u32 r, bool on)
{
	if (on)
		v[r / 64] |= 1ULL << (r % 64);
	else
		v[r / 64] &= ~(1ULL << (r % 64));
}

static __u64 mix(__u64 h, __u64 w)
{
	h ^= w;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* The summary of v, and a hash of its non-zero chunks. */
static __u64 vec_summary(const struct compiler *cc, const __u64 *v, __u64 *hash)
{
	__u64 summary = 0, h = 0x9e3779b97f4a7c15ULL;
	__u32 c, j;

	for (c = 0; c < cc->n_chunks; c++) {
		const __u64 *w = v + c * XCT_CHUNK_WORDS;
		__u64 any = 0;

		for (j = 0; j < XCT_CHUNK_WORDS; j++)
			any |= w[j];
		if (!any)
			continue;
		summary |= 1ULL << c;
		h = mix(h, c);
		for (j = 0; j < XCT_CHUNK_WORDS; j++)
			h = mix(h, w[j]);
	}
	*hash = mix(h, summary);
	return summary;
}

static bool class_equal(const struct xct_cclass *k, __u64 summary, const __u64 *v)
{
	__u32 i;

	if (k->summary != summary)
		return false;
	for (i = 0; i < k->n_chunks; i++)
		if (memcmp(k->chunks[i].w, v + k->chunk_no[i] * XCT_CHUNK_WORDS,
			   sizeof(struct xct_chunk)))
			return false;
	return true;
}

static int slots_grow(struct compiler *cc)
{
	__u32 n = cc->n_slots ? cc->n_slots * 2 : 1024, i, k;
	__u32 *slots = malloc(n * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	/* Class 0 is never looked up: intern() answers it directly. */
	for (k = 1; k < cc->out->n_classes; k++) {
		for (i = cc->hashes[k] & (n - 1); slots[i] != EMPTY; i = (i + 1) & (n - 1))
			;
		slots[i] = k;
	}
	free(cc->slots);
	cc->slots = slots;
	cc->n_slots = n;
	return 0;
}

static int class_add(struct compiler *cc, __u64 summary, __u64 hash, const __u64 *v, __u32 *cls)
{
	struct xct_compiled *out = cc->out;
	struct xct_cclass *k;
	__u32 n = __builtin_popcountll(summary), i = 0, c;

	if (out->n_classes == cc->cap_classes) {
		__u32 cap = cc->cap_classes ? cc->cap_classes * 2 : 256;
		struct xct_cclass *classes = realloc(out->classes, cap * sizeof(*classes));
		__u64 *hashes;

		if (!classes)
			return -ENOMEM;
		out->classes = classes;
		hashes = realloc(cc->hashes, cap * sizeof(*hashes));
		if (!hashes)
			return -ENOMEM;
		cc->hashes = hashes;
		cc->cap_classes = cap;
	}
	k = &out->classes[out->n_classes];
	memset(k, 0, sizeof(*k));
	if (n) {
		k->chunk_no = malloc(n * sizeof(*k->chunk_no));
		k->chunks = malloc(n * sizeof(*k->chunks));
		if (!k->chunk_no || !k->chunks) {
			free(k->chunk_no);
			free(k->chunks);
			return -ENOMEM;
		}
	}
	for (c = 0; c < cc->n_chunks; c++) {
		if (!(summary >> c & 1))
			continue;
		k->chunk_no[i] = c;
		memcpy(k->chunks[i].w, v + c * XCT_CHUNK_WORDS, sizeof(struct xct_chunk));
		i++;
	}
	k->summary = summary;
	k->n_chunks = n;
	cc->hashes[out->n_classes] = hash;
	*cls = out->n_classes++;
	return 0;
}

/* The class of vector v, added if it is new. */
static int intern(struct compiler *cc, const __u64 *v, __u32 *cls)
{
	__u64 hash, summary = vec_summary(cc, v, &hash);
	__u32 i;
	int ret;

	if (!summary) {
		*cls = 0;
		return 0;
	}
	/* Keep the table at most half full. */
	if (2 * (cc->out->n_classes + 1) > cc->n_slots) {
		ret = slots_grow(cc);
		if (ret)
			return ret;
	}
	for (i = hash & (cc->n_slots - 1); cc->slots[i] != EMPTY; i = (i + 1) & (cc->n_slots - 1)) {
		__u32 k = cc->slots[i];

		if (cc->hashes[k] == hash && class_equal(&cc->out->classes[k], summary, v)) {
			*cls = k;
			return 0;
		}
	}
	ret = class_add(cc, summary, hash, v, cls);
	if (ret)
		return ret;
	cc->slots[i] = *cls;
	return 0;
}

/* Class 0, the all-zero vector, goes in first and is never hashed. */
static int add_zero_class(struct compiler *cc)
{
	__u64 zero = 0;
	__u32 cls;

	return class_add(cc, 0, 0, &zero, &cls);
}

/* ---- Checks of the input ---- */

/* A match on a literal list, classified, or on a named set, checked per
 * candidate (the same for addresses and ports). */
#define IS_LITERAL(m) ((m)->present && (m)->set < 0)
#define IS_SET(m)     ((m)->present && (m)->set >= 0)

static int check_set_ref(struct compiler *cc, const struct xct_rule *r, int set,
			 enum xct_set_kind kind)
{
	const struct xct_set_def *s;

	if (set < 0)
		return 0;
	if ((size_t)set >= cc->rs->n_sets)
		return fail_rule(cc, r, "set %d does not exist", set);
	s = &cc->rs->sets[set];
	if (s->kind != kind)
		return fail_rule(cc, r, "set '%s' is not a set of %s", s->name,
				 kind == XCT_SET_ADDR ? "addresses" : "ports");
	return 0;
}

static int check_prefixes(struct compiler *cc, const struct xct_rule *r,
			  const struct xct_addr_match *m)
{
	size_t i;

	if (!IS_LITERAL(m))
		return 0;
	for (i = 0; i < m->n; i++) {
		const struct xct_prefix *p = &m->list[i];

		if ((p->family != XCT_AF_INET || p->plen > 32) &&
		    (p->family != XCT_AF_INET6 || p->plen > 128))
			return fail_rule(cc, r, "bad address prefix");
	}
	return 0;
}

static int check_ports(struct compiler *cc, const struct xct_rule *r,
		       const struct xct_port_match *m)
{
	size_t i;

	if (!IS_LITERAL(m))
		return 0;
	for (i = 0; i < m->n; i++)
		if (m->list[i].lo > m->list[i].hi)
			return fail_rule(cc, r, "bad port range %u-%u", m->list[i].lo,
					 m->list[i].hi);
	return 0;
}

/* A concatenation names a set of its types, fields the key layout knows. */
static int check_concat(struct compiler *cc, const struct xct_rule *r)
{
	const struct xct_concat_match *m = &r->concat;
	const struct xct_set_def *s;
	__u32 bytes = 0;
	size_t i;

	if (m->set < 0 || (size_t)m->set >= cc->rs->n_sets)
		return fail_rule(cc, r, "set %d does not exist", m->set);
	s = &cc->rs->sets[m->set];
	if (s->kind != XCT_SET_CONCAT || s->n_ctypes != m->n || !m->n || m->n > XCT_CONCAT_MAX)
		return fail_rule(cc, r, "set '%s' is not a concatenation of %u fields", s->name,
				 m->n);
	for (i = 0; i < m->n; i++) {
		if (m->fields[i] < XCT_CF_SADDR4 || m->fields[i] > XCT_CF_CT_MARK)
			return fail_rule(cc, r, "bad concatenation field %u", m->fields[i]);
		bytes += xct_concat_field_len(m->fields[i]);
	}
	if (bytes > XCT_CONCAT_DATA)
		return fail_rule(cc, r, "concatenation longer than %d bytes", XCT_CONCAT_DATA);
	return 0;
}

/* What the parser should never produce, checked so that the tables stay
 * in bounds whatever the input. */
static int check_rules(struct compiler *cc)
{
	const struct xct_ruleset *rs = cc->rs;
	size_t i, j;
	int ret;

	if (rs->n_sets > XCT_SETS_MAX)
		return fail(cc, -EINVAL, &rs->sets[XCT_SETS_MAX].loc, "too many sets (at most %d)",
			    XCT_SETS_MAX);
	if (rs->n_rules > XCT_RULES_MAX - 1)
		return fail_rule(cc, &rs->rules[XCT_RULES_MAX - 1], "too many rules (at most %d)",
				 XCT_RULES_MAX - 1);
	for (i = 0; i < rs->n_rules; i++) {
		const struct xct_rule *r = &rs->rules[i];

		if ((unsigned int)r->action > XCT_ACTION_NOTRACK && r->action != XCT_ACTION_RETURN &&
		    r->action != XCT_ACTION_CONTINUE)
			return fail_rule(cc, r, "bad action %d", r->action);
		if (r->action == XCT_ACTION_RETURN && (r->skip_to <= i || r->skip_to > rs->n_rules))
			return fail_rule(cc, r, "bad return target %u", r->skip_to);
		if (r->saddr.present && (ret = check_set_ref(cc, r, r->saddr.set, XCT_SET_ADDR)))
			return ret;
		if (r->daddr.present && (ret = check_set_ref(cc, r, r->daddr.set, XCT_SET_ADDR)))
			return ret;
		if (r->sport.present && (ret = check_set_ref(cc, r, r->sport.set, XCT_SET_PORT)))
			return ret;
		if (r->dport.present && (ret = check_set_ref(cc, r, r->dport.set, XCT_SET_PORT)))
			return ret;
		if (r->concat.present && (ret = check_concat(cc, r)))
			return ret;
		if ((ret = check_prefixes(cc, r, &r->saddr)) ||
		    (ret = check_prefixes(cc, r, &r->daddr)))
			return ret;
		if ((ret = check_ports(cc, r, &r->sport)) || (ret = check_ports(cc, r, &r->dport)))
			return ret;
		for (j = 0; j < r->n_icmp; j++)
			if (r->icmp[j].code < -1 || r->icmp[j].code > 255)
				return fail_rule(cc, r, "bad icmp code %d", r->icmp[j].code);
	}
	return 0;
}

/* ---- Records ---- */

static __u64 mul_sat(__u64 a, __u64 b)
{
	__u64 p;

	return __builtin_mul_overflow(a, b, &p) ? ~0ULL : p;
}

static const __u8 verdict_of[] = {
	[XCT_ACTION_ACCEPT] = XCT_VERDICT_ACCEPT,     [XCT_ACTION_DROP] = XCT_VERDICT_DROP,
	[XCT_ACTION_REJECT] = XCT_VERDICT_REJECT,     [XCT_ACTION_NOTRACK] = XCT_VERDICT_NOTRACK,
	[XCT_ACTION_RETURN] = XCT_VERDICT_RETURN,     [XCT_ACTION_CONTINUE] = XCT_VERDICT_CONTINUE,
};

/* The record's part for ct mark, meta mark and ct status. */
static void compile_conn(const struct xct_rule *r, struct xct_rule_rec *rec)
{
	if (r->ct_mark.present) {
		rec->flags |= XCT_RULE_CT_MARK;
		rec->ct_mark = r->ct_mark.cmp;
	}
	if (r->meta_mark.present) {
		rec->flags |= XCT_RULE_META_MARK;
		rec->meta_mark = r->meta_mark.cmp;
	}
	if (r->ct_status) {
		rec->flags |= XCT_RULE_CT_STATUS;
		if (r->ct_status_negate)
			rec->flags |= XCT_RULE_CT_STATUS_NEG;
		rec->ct_status = r->ct_status;
	}
	if (r->ct_mark_set.present) {
		rec->stmts |= XCT_STMT_CT_MARK_SET;
		if (r->ct_mark_set.from_other)
			rec->stmts |= XCT_STMT_CT_FROM_META;
		rec->ct_mark_set = r->ct_mark_set.op;
	}
	if (r->meta_mark_set.present) {
		rec->stmts |= XCT_STMT_META_MARK_SET;
		if (r->meta_mark_set.from_other)
			rec->stmts |= XCT_STMT_META_FROM_CT;
		rec->meta_mark_set = r->meta_mark_set.op;
	}
}

static int compile_recs(struct compiler *cc)
{
	struct xct_compiled *out = cc->out;
	__u32 i;

	out->recs = calloc(cc->n_rules + 1, sizeof(*out->recs));
	if (!out->recs)
		return -ENOMEM;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_rule *r = &cc->rs->rules[i];
		struct xct_rule_rec *rec = &out->recs[i];

		rec->action = verdict_of[r->action];
		rec->reject = (__u8)r->reject;
		rec->line = r->loc.line;
		rec->skip_to = r->skip_to;
		rec->src = r->src;
		compile_conn(r, rec);
		if (r->ttl.present) {
			rec->flags |= XCT_RULE_TTL | (r->ttl.negate ? XCT_RULE_TTL_NEG : 0);
			rec->ttl_lo = r->ttl.lo;
			rec->ttl_hi = r->ttl.hi;
		}
		if (r->dscp.present) {
			rec->flags |= XCT_RULE_DSCP | (r->dscp.negate ? XCT_RULE_DSCP_NEG : 0);
			rec->dscp_lo = r->dscp.lo;
			rec->dscp_hi = r->dscp.hi;
		}
		if (r->log)
			rec->flags |= XCT_RULE_LOG;
		/* Set ids are index + 1, so 0 means "no set"; the NEG flags
		 * only qualify a set check (literal negations are in the
		 * classes already). */
		if (IS_SET(&r->saddr)) {
			rec->saddr_set = r->saddr.set + 1;
			if (r->saddr.negate)
				rec->flags |= XCT_RULE_SADDR_NEG;
		}
		if (IS_SET(&r->daddr)) {
			rec->daddr_set = r->daddr.set + 1;
			if (r->daddr.negate)
				rec->flags |= XCT_RULE_DADDR_NEG;
		}
		if (IS_SET(&r->sport)) {
			rec->sport_set = r->sport.set + 1;
			if (r->sport.negate)
				rec->flags |= XCT_RULE_SPORT_NEG;
		}
		if (IS_SET(&r->dport)) {
			rec->dport_set = r->dport.set + 1;
			if (r->dport.negate)
				rec->flags |= XCT_RULE_DPORT_NEG;
		}
		if (r->concat.present) {
			size_t j;

			rec->flags |= XCT_RULE_CONCAT;
			if (r->concat.negate)
				rec->flags |= XCT_RULE_CONCAT_NEG;
			rec->concat_set = (__u32)r->concat.set + 1;
			for (j = 0; j < r->concat.n; j++)
				rec->concat_fields |= (__u32)r->concat.fields[j] << (4 * j);
		}
		if (r->limit.present) {
			__u64 burst = r->limit.burst ? r->limit.burst : r->limit.rate;

			rec->flags |= XCT_RULE_LIMIT;
			if (r->limit.per_saddr)
				rec->flags |= XCT_RULE_LIMIT_PER_SADDR;
			if (r->limit.bytes)
				rec->flags |= XCT_RULE_LIMIT_BYTES;
			if (r->limit.over)
				rec->flags |= XCT_RULE_LIMIT_OVER;
			rec->limit_cost = xct_limit_cost(r->limit.rate, r->limit.unit_ns);
			/* xct_limit_next lets a packet through while the debt
			 * after it is at most limit_burst: burst packets back
			 * to back on an idle bucket. */
			rec->limit_burst = mul_sat(burst ? burst : 1, rec->limit_cost);
		}
		if (r->action == XCT_ACTION_NOTRACK)
			out->has_raw = 1;
	}
	return 0;
}

/* ---- META: hook, ct state, family, protocol ---- */

/* The ct states (META's state index) at which a rule can match. */
static __u32 rule_states(const struct xct_rule *r)
{
	if (r->action == XCT_ACTION_NOTRACK)
		return 1u << XCT_STAGE_RAW;
	__u32 all = (1u << XCT_STAGE_RAW) - 1, states;

	/* A return skips the notrack rules after it as well. */
	if (r->action == XCT_ACTION_RETURN && !r->ct_states)
		all = (1u << (XCT_STAGE_RAW + 1)) - 1;
	states = r->ct_states ? r->ct_states & all : all;
	/* An INVALID or UNTRACKED packet has no connection: a match on one
	 * is false for it, whether negated or not, as nft's ct expression
	 * breaks the rule when the packet has no conntrack. */
	if (r->ct_mark.present || r->ct_status)
		states &= ~((1u << XCT_CTS_INVALID) | (1u << XCT_CTS_UNTRACKED));
	return states;
}

/*
 * The protocols a rule can match in family fam, as a 256-bit set; returns
 * true if that is every protocol.  Matches on ports, ICMP or TCP flags
 * imply the protocols that have them: the datapath skips those fields'
 * lookups for other packets, so META must keep such rules away from them.
 */
static void protos_keep(__u64 set[4], __u8 a, __u8 b)
{
	__u64 keep[4] = {};
	int i;

	keep[a / 64] |= 1ULL << (a % 64);
	keep[b / 64] |= 1ULL << (b % 64);
	for (i = 0; i < 4; i++)
		set[i] &= keep[i];
}

static bool rule_protos(const struct xct_rule *r, __u8 fam, __u64 set[4])
{
	__u8 icmp = fam == XCT_AF_INET ? XCT_IPPROTO_ICMP : XCT_IPPROTO_ICMPV6;
	bool ports = r->sport.present || r->dport.present;

	memset(set, 0, 4 * sizeof(__u64));
	if (r->family && r->family != fam)
		return false;
	if (!r->has_proto && !ports && !r->n_icmp && !r->has_tcp_flags) {
		memset(set, 0xff, 4 * sizeof(__u64));
		return true;
	}
	if (r->has_proto)
		set[r->proto / 64] = 1ULL << (r->proto % 64);
	else
		memset(set, 0xff, 4 * sizeof(__u64));
	if (ports)
		protos_keep(set, XCT_IPPROTO_TCP, XCT_IPPROTO_UDP);
	if (r->n_icmp)
		protos_keep(set, icmp, icmp);
	if (r->has_tcp_flags)
		protos_keep(set, XCT_IPPROTO_TCP, XCT_IPPROTO_TCP);
	return false;
}

static int compile_meta(struct compiler *cc)
{
	static const __u8 fams[2] = {XCT_AF_INET, XCT_AF_INET6};
	__u32 nw = cc->n_words, h, f, s, p, i, w;
	/* hs[h][s]: rules of hook h that apply at state s;
	 * any[f]: rules of family f for every protocol;
	 * spec[f][p]: the other rules of family f that take protocol p. */
	__u64 *hs = calloc((size_t)2 * XCT_META_STATES * nw + 1, sizeof(__u64));
	__u64 *any = calloc((size_t)2 * nw + 1, sizeof(__u64));
	__u64 *spec = calloc((size_t)2 * 256 * nw + 1, sizeof(__u64));
	bool spec_used[2][256] = {};
	__u64 *v = vec_new(cc);
	int ret = -ENOMEM;

	if (!hs || !any || !spec || !v)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_rule *r = &cc->rs->rules[i];
		__u32 states = rule_states(r);
		__u64 set[4];

		h = r->hook & 1;
		for (s = 0; s < XCT_META_STATES; s++)
			if (states >> s & 1)
				vec_put(hs + (h * XCT_META_STATES + s) * nw, i, true);
		for (f = 0; f < 2; f++) {
			if (rule_protos(r, fams[f], set)) {
				vec_put(any + f * nw, i, true);
				continue;
			}
			for (w = 0; w < 4; w++) {
				__u64 bits = set[w];

				while (bits) {
					p = w * 64 + __builtin_ctzll(bits);
					bits &= bits - 1;
					vec_put(spec + (f * 256 + p) * nw, i, true);
					spec_used[f][p] = true;
				}
			}
		}
	}

	for (h = 0; h < 2; h++) {
		for (f = 0; f < 2; f++) {
			for (s = 0; s < XCT_META_STATES; s++) {
				const __u64 *m = hs + (h * XCT_META_STATES + s) * nw;
				const __u64 *a = any + f * nw;
				__u32 any_cls;

				/* Protocols no rule names all share the class of
				 * the any-protocol rules. */
				for (w = 0; w < nw; w++)
					v[w] = m[w] & a[w];
				ret = intern(cc, v, &any_cls);
				if (ret)
					goto out;
				for (p = 0; p < 256; p++) {
					const __u64 *sp = spec + (f * 256 + p) * nw;
					__u32 cls = any_cls;

					if (spec_used[f][p]) {
						for (w = 0; w < nw; w++)
							v[w] = m[w] & (a[w] | sp[w]);
						ret = intern(cc, v, &cls);
						if (ret)
							goto out;
					}
					cc->out->meta[xct_meta_index(h, fams[f], s, p)] = cls;
				}
			}
		}
	}
	ret = 0;
out:
	free(hs);
	free(any);
	free(spec);
	free(v);
	return ret;
}

/* ---- Interfaces ---- */

/*
 * iif and oif match an interface by the index its name had at load, as in
 * nftables; iifname and oifname match names, so also interfaces created
 * later, and take a '*' at the end of a name for every name it starts.
 * The classifier still looks interfaces up by index: the installer writes
 * a class for every interface there is when the rules load, and again for
 * one xct attaches to later (xct_policy_iface_added()).  So that such an
 * interface finds its class whatever its name, the compiler gives one to
 * each name and wildcard written: the wildcards a name matches are
 * prefixes of it, so they are the wildcards that are prefixes of the
 * longest one, and that wildcard's class (or the exact name's) is the
 * name's.
 */
struct iface_ref {
	char name[XCT_IFNAME_MAX]; /* as written; "eth*" for a wildcard */
	__u32 ifindex;		   /* iif/oif: resolved at load; 0 by name */
	__u32 rule;
};

static int cmp_iface_ref(const void *a, const void *b)
{
	const struct iface_ref *x = a, *y = b;
	int c;

	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* The first of the n by-name refs (sorted) written as key, or n. */
static size_t name_refs_find(const struct iface_ref *refs, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(refs[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(refs[lo].name, key) ? lo : n;
}

/* Puts into v the rules whose refs are written as key. */
static void name_refs_put(const struct compiler *cc, const struct iface_ref *refs, size_t n,
			  const char *key, __u64 *v)
{
	size_t i;

	for (i = name_refs_find(refs, n, key); i < n && !strcmp(refs[i].name, key); i++)
		vec_put(v, refs[i].rule, !cc->rs->rules[refs[i].rule].iface_negate);
}

/*
 * Puts into v the by-name rules that match a name (wildcard false) or the
 * names a wildcard stands for that no longer wildcard or exact name
 * written matches (wildcard true, name without its '*').
 */
static void name_rules_put(const struct compiler *cc, const struct iface_ref *refs, size_t n,
			   const char *name, bool wildcard, __u64 *v)
{
	size_t len = strlen(name), k;
	char key[XCT_IFNAME_MAX];

	if (!wildcard)
		name_refs_put(cc, refs, n, name, v);
	for (k = 0; k <= len && k + 1 < XCT_IFNAME_MAX; k++) {
		memcpy(key, name, k);
		key[k] = '*';
		key[k + 1] = 0;
		name_refs_put(cc, refs, n, key, v);
	}
}

static int compile_ifaces(struct compiler *cc, xct_ifindex_fn resolve, void *ctx)
{
	struct xct_compiled *out = cc->out;
	struct iface_ref *refs = NULL, *by_name;
	size_t n = 0, n_index, n_name, total = 0, i, j, k;
	__u64 *base = vec_new(cc), *v = vec_new(cc);
	int ret = -ENOMEM;

	if (!base || !v)
		goto out;
	for (i = 0; i < cc->n_rules; i++)
		total += cc->rs->rules[i].n_ifaces;
	refs = calloc(total + 1, sizeof(*refs));
	if (!refs)
		goto out;

	/* A rule without interfaces, or with a negated list, matches on
	 * interfaces no rule names. */
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_rule *r = &cc->rs->rules[i];

		if (!r->n_ifaces || r->iface_negate)
			vec_put(base, i, true);
		for (j = 0; j < r->n_ifaces; j++) {
			struct iface_ref *ref = &refs[n++];

			memcpy(ref->name, r->ifaces[j], XCT_IFNAME_MAX);
			ref->name[XCT_IFNAME_MAX - 1] = 0;
			ref->rule = (__u32)i;
			if (r->iface_by_name)
				continue;
			ref->ifindex = resolve ? resolve(ref->name, ctx) : 0;
			if (!ref->ifindex) {
				ret = fail_iface(
					cc, r, j,
					"interface '%s' does not exist ('%s %s' matches it "
					"once it does)",
					ref->name,
					r->hook == XCT_HOOK_EGRESS ? "oifname" : "iifname",
					ref->name);
				goto out;
			}
		}
	}
	if (n)
		cc->out->fields_used |= 1 << XCT_F_IFACE;
	/* By name (ifindex 0) first, sorted by name; then by index. */
	qsort(refs, n, sizeof(*refs), cmp_iface_ref);
	for (n_name = 0; n_name < n && !refs[n_name].ifindex; n_name++)
		;
	by_name = refs;
	n_index = n - n_name;

	out->ifaces = calloc(n_index + 1, sizeof(*out->ifaces));
	out->iface_names = calloc(n_name + 1, sizeof(*out->iface_names));
	if (!out->ifaces || !out->iface_names)
		goto out;
	/* An interface iif or oif names: its own rules, and those its name
	 * (as it was when it was resolved) matches. */
	for (i = n_name; i < n; i = k) {
		memcpy(v, base, cc->n_words * sizeof(__u64));
		name_rules_put(cc, by_name, n_name, refs[i].name, false, v);
		for (k = i; k < n && refs[k].ifindex == refs[i].ifindex; k++) {
			const struct xct_rule *r = &cc->rs->rules[refs[k].rule];

			vec_put(v, refs[k].rule, !r->iface_negate);
		}
		out->ifaces[out->n_ifaces].ifindex = refs[i].ifindex;
		ret = intern(cc, v, &out->ifaces[out->n_ifaces].cls);
		if (ret)
			goto out;
		out->n_ifaces++;
	}
	/* Every name and wildcard written. */
	for (i = 0; i < n_name; i = k) {
		struct xct_ciface_name *e = &out->iface_names[out->n_iface_names];
		size_t len = strlen(refs[i].name);
		bool wildcard = len && refs[i].name[len - 1] == '*';

		for (k = i; k < n_name && !strcmp(refs[k].name, refs[i].name); k++)
			;
		memcpy(e->name, refs[i].name, XCT_IFNAME_MAX);
		if (wildcard)
			e->name[len - 1] = 0;
		memcpy(v, base, cc->n_words * sizeof(__u64));
		name_rules_put(cc, by_name, n_name, e->name, wildcard, v);
		if (wildcard)
			e->name[len - 1] = '*';
		ret = intern(cc, v, &e->cls);
		if (ret)
			goto out;
		out->n_iface_names++;
	}
	ret = intern(cc, base, &out->iface_default);
out:
	free(refs);
	free(base);
	free(v);
	return ret;
}

static int cmp_iface_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct xct_ciface_name *)elem)->name);
}

const struct xct_ciface_name *xct_compiled_iface_name(const struct xct_compiled *c,
						      const char *name)
{
	char key[XCT_IFNAME_MAX];
	size_t len = strnlen(name, XCT_IFNAME_MAX - 1), k;
	const struct xct_ciface_name *e;

	memcpy(key, name, len);
	key[len] = 0;
	e = bsearch(key, c->iface_names, c->n_iface_names, sizeof(*e), cmp_iface_name);
	if (e)
		return e;
	/* The longest wildcard the name starts with. */
	for (k = len + 1; k-- > 0;) {
		if (k + 1 >= XCT_IFNAME_MAX)
			continue;
		key[k] = '*';
		key[k + 1] = 0;
		e = bsearch(key, c->iface_names, c->n_iface_names, sizeof(*e), cmp_iface_name);
		if (e)
			return e;
	}
	return NULL;
}

__u32 xct_compiled_iface_class(const struct xct_compiled *c, __u32 ifindex, const char *name)
{
	const struct xct_ciface_name *e;
	__u32 i;

	for (i = 0; i < c->n_ifaces; i++)
		if (c->ifaces[i].ifindex == ifindex)
			return c->ifaces[i].cls;
	e = name ? xct_compiled_iface_name(c, name) : NULL;
	return e ? e->cls : c->iface_default;
}

/* ---- Addresses ---- */

struct pfx_ref {
	struct xct_prefix p; /* family, plen and masked address */
	__u32 rule;	     /* NO_RULE for a family's /0 root */
};

static void prefix_normalize(struct xct_prefix *p)
{
	__u32 bits = p->family == XCT_AF_INET ? 32 : 128, i;

	for (i = 0; i < 16; i++) {
		__u32 lo = i * 8;

		if (lo >= bits || lo >= p->plen)
			p->addr[i] = 0;
		else if (lo + 8 > p->plen)
			p->addr[i] &= (__u8)(0xff00 >> (p->plen - lo));
	}
}

/* Family, then address, then length: the preorder of the prefix trie
 * (a prefix comes before what it contains, which follow it directly). */
static int cmp_pfx_ref(const void *a, const void *b)
{
	const struct pfx_ref *x = a, *y = b;
	int d;

	if (x->p.family != y->p.family)
		return x->p.family < y->p.family ? -1 : 1;
	d = memcmp(x->p.addr, y->p.addr, 16);
	if (d)
		return d;
	if (x->p.plen != y->p.plen)
		return x->p.plen < y->p.plen ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static bool pfx_same(const struct xct_prefix *a, const struct xct_prefix *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

/* Does a (shorter) contain b? */
static bool pfx_contains(const struct xct_prefix *a, const struct xct_prefix *b)
{
	__u32 full = a->plen / 8, rest = a->plen % 8;

	if (a->family != b->family || a->plen > b->plen)
		return false;
	if (memcmp(a->addr, b->addr, full))
		return false;
	return !rest || !((a->addr[full] ^ b->addr[full]) & (__u8)(0xff00 >> rest));
}

static const struct xct_addr_match *addr_match(const struct xct_rule *r, int dir)
{
	return dir ? &r->daddr : &r->saddr;
}

/*
 * One direction's trie.  For an address whose longest match in the table
 * is prefix P, a literal list holds the address iff it names P or one of
 * P's ancestors in the table (a longer listed prefix cannot hold it, or it
 * would be the longer match).  So the walk keeps, per rule, how many of
 * the current prefix's ancestors-or-self the rule names: a positive rule
 * matches when that count is not zero, a negated one when it is.
 */
static int compile_addr(struct compiler *cc, int dir)
{
	struct xct_compiled *out = cc->out;
	struct pfx_ref *refs = NULL;
	struct {
		size_t first, end;
	} stack[130];
	size_t n = 0, total = 2, i, k;
	__u32 *count = calloc(cc->n_rules + 1, sizeof(*count));
	__u64 *base = vec_new(cc), *v = vec_new(cc);
	int depth = 0, ret = -ENOMEM;

	if (!count || !base || !v)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_addr_match *m = addr_match(&cc->rs->rules[i], dir);

		if (IS_LITERAL(m))
			total += m->n;
		/* Wildcards and negated lists match where no listed prefix
		 * is an ancestor, the root included. */
		if (!IS_LITERAL(m) || m->negate)
			vec_put(base, i, true);
		if (IS_LITERAL(m))
			out->fields_used |= 1 << (dir ? XCT_F_DADDR : XCT_F_SADDR);
	}
	refs = calloc(total, sizeof(*refs));
	if (!refs)
		goto out;
	refs[n].p.family = XCT_AF_INET;
	refs[n++].rule = NO_RULE;
	refs[n].p.family = XCT_AF_INET6;
	refs[n++].rule = NO_RULE;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_addr_match *m = addr_match(&cc->rs->rules[i], dir);

		if (!IS_LITERAL(m))
			continue;
		for (k = 0; k < m->n; k++) {
			refs[n].p = m->list[k];
			prefix_normalize(&refs[n].p);
			refs[n++].rule = i;
		}
	}
	qsort(refs, n, sizeof(*refs), cmp_pfx_ref);

	/* Distinct prefixes: at most n. */
	out->addr[dir] = calloc(n, sizeof(*out->addr[dir]));
	if (!out->addr[dir])
		goto out;
	for (i = 0; i < n; i = k) {
		const struct xct_prefix *p = &refs[i].p;
		size_t j;

		/* Leave the prefixes that do not contain this one, undoing
		 * what they named. */
		while (depth > 0 && !pfx_contains(&refs[stack[depth - 1].first].p, p)) {
			depth--;
			for (j = stack[depth].first; j < stack[depth].end; j++) {
				__u32 r = refs[j].rule;

				if (r == NO_RULE)
					continue;
				count[r]--;
				vec_put(v, r,
					!count[r] == addr_match(&cc->rs->rules[r], dir)->negate);
			}
		}
		if (depth == 0)
			memcpy(v, base, cc->n_words * sizeof(__u64));
		for (k = i; k < n && pfx_same(&refs[k].p, p); k++) {
			__u32 r = refs[k].rule;

			if (r == NO_RULE)
				continue;
			count[r]++;
			vec_put(v, r, !addr_match(&cc->rs->rules[r], dir)->negate);
		}
		/* Lengths grow strictly down the stack: 129 levels at most. */
		if (depth >= (int)(sizeof(stack) / sizeof(stack[0]))) {
			ret = fail(cc, -EINVAL, NULL, "prefix trie deeper than 129");
			goto out;
		}
		stack[depth].first = i;
		stack[depth].end = k;
		depth++;
		out->addr[dir][out->n_addr[dir]].prefix = *p;
		ret = intern(cc, v, &out->addr[dir][out->n_addr[dir]].cls);
		if (ret)
			goto out;
		out->n_addr[dir]++;
	}
	ret = 0;
out:
	free(refs);
	free(count);
	free(base);
	free(v);
	return ret;
}

/* ---- Ports and ICMP types: sweeps over range boundaries ---- */

struct edge {
	__u32 pos; /* first value the change applies to */
	__u32 rule;
	int delta; /* +1 a range of the rule starts, -1 one ended */
};

static int cmp_edge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Fills table[0..65535] from the ranges' edges: between two consecutive
 * boundaries no rule changes its mind, so each such interval is one class.
 * A rule matches where it is inside one of its ranges (or outside all of
 * them when neg[rule]); base holds the rules that match everywhere before
 * the first edge.
 */
static int sweep(struct compiler *cc, struct edge *edges, size_t n, const __u64 *base,
		 const bool *neg, __u32 *table)
{
	__u32 *count = calloc(cc->n_rules + 1, sizeof(*count));
	__u64 *v = vec_new(cc);
	__u32 pos = 0, next, cls, x;
	size_t i = 0;
	int ret = -ENOMEM;

	if (!count || !v)
		goto out;
	qsort(edges, n, sizeof(*edges), cmp_edge);
	memcpy(v, base, cc->n_words * sizeof(__u64));
	while (pos < 65536) {
		for (; i < n && edges[i].pos == pos; i++) {
			__u32 r = edges[i].rule;

			count[r] += edges[i].delta;
			vec_put(v, r, !count[r] == neg[r]);
		}
		next = i < n ? edges[i].pos : 65536;
		ret = intern(cc, v, &cls);
		if (ret)
			goto out;
		for (x = pos; x < next; x++)
			table[x] = cls;
		pos = next;
	}
	ret = 0;
out:
	free(count);
	free(v);
	return ret;
}

static const struct xct_port_match *port_match(const struct xct_rule *r, int dir)
{
	return dir ? &r->dport : &r->sport;
}

static int compile_ports(struct compiler *cc, int dir)
{
	struct xct_compiled *out = cc->out;
	struct edge *edges = NULL;
	size_t n = 0, total = 0, i, k;
	__u64 *base = vec_new(cc);
	bool *neg = calloc(cc->n_rules + 1, sizeof(*neg));
	int ret = -ENOMEM;

	out->port[dir] = calloc(65536, sizeof(__u32));
	if (!out->port[dir] || !base || !neg)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_port_match *m = port_match(&cc->rs->rules[i], dir);

		if (IS_LITERAL(m)) {
			total += m->n;
			neg[i] = m->negate;
			out->fields_used |= 1 << (dir ? XCT_F_DPORT : XCT_F_SPORT);
		}
		if (!IS_LITERAL(m) || m->negate)
			vec_put(base, i, true);
	}
	edges = calloc(2 * total + 1, sizeof(*edges));
	if (!edges)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_port_match *m = port_match(&cc->rs->rules[i], dir);

		if (!IS_LITERAL(m))
			continue;
		for (k = 0; k < m->n; k++) {
			edges[n++] = (struct edge){m->list[k].lo, i, 1};
			edges[n++] = (struct edge){(__u32)m->list[k].hi + 1, i, -1};
		}
	}
	ret = sweep(cc, edges, n, base, neg, out->port[dir]);
out:
	free(edges);
	free(base);
	free(neg);
	return ret;
}

static int compile_icmp(struct compiler *cc)
{
	struct xct_compiled *out = cc->out;
	struct edge *edges = NULL;
	size_t n = 0, total = 0, i, k;
	__u64 *base = vec_new(cc);
	bool *neg = calloc(cc->n_rules + 1, sizeof(*neg));
	int ret = -ENOMEM;

	out->icmp = calloc(65536, sizeof(__u32));
	if (!out->icmp || !base || !neg)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_rule *r = &cc->rs->rules[i];

		total += r->n_icmp;
		if (r->n_icmp)
			out->fields_used |= 1 << XCT_F_ICMP;
		else
			vec_put(base, i, true);
	}
	edges = calloc(2 * total + 1, sizeof(*edges));
	if (!edges)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		const struct xct_rule *r = &cc->rs->rules[i];

		for (k = 0; k < r->n_icmp; k++) {
			__u32 lo = (__u32)r->icmp[k].type << 8;
			__u32 hi = lo | 0xff;

			/* code -1: every code of the type. */
			if (r->icmp[k].code >= 0)
				lo = hi = lo | r->icmp[k].code;
			edges[n++] = (struct edge){lo, i, 1};
			edges[n++] = (struct edge){hi + 1, i, -1};
		}
	}
	ret = sweep(cc, edges, n, base, neg, out->icmp);
out:
	free(edges);
	free(base);
	free(neg);
	return ret;
}

/* ---- TCP flags ---- */

static bool flags_match(const struct xct_rule *r, __u8 flags)
{
	if (r->tcp_flags_any)
		return (flags & r->tcp_flags_mask) != 0;
	return (flags & r->tcp_flags_mask) == r->tcp_flags_value;
}

static int compile_flags(struct compiler *cc)
{
	__u32 *flag_rules = calloc(cc->n_rules + 1, sizeof(*flag_rules));
	__u64 *base = vec_new(cc), *v = vec_new(cc);
	__u32 n = 0, i, f;
	int ret = -ENOMEM;

	if (!flag_rules || !base || !v)
		goto out;
	for (i = 0; i < cc->n_rules; i++) {
		if (cc->rs->rules[i].has_tcp_flags)
			flag_rules[n++] = i;
		else
			vec_put(base, i, true);
	}
	if (n)
		cc->out->fields_used |= 1 << XCT_F_FLAGS;
	for (f = 0; f < 256; f++) {
		memcpy(v, base, cc->n_words * sizeof(__u64));
		for (i = 0; i < n; i++)
			if (flags_match(&cc->rs->rules[flag_rules[i]], f))
				vec_put(v, flag_rules[i], true);
		ret = intern(cc, v, &cc->out->flags[f]);
		if (ret)
			goto out;
	}
	ret = 0;
out:
	free(flag_rules);
	free(base);
	free(v);
	return ret;
}

/* Does the rule match on META alone (hook, family, ct state, protocol),
 * with no record check either? */
static bool meta_only(const struct xct_rule *r)
{
	return !r->n_ifaces && !r->saddr.present && !r->daddr.present && !r->sport.present &&
	       !r->dport.present && !r->n_icmp && !r->has_tcp_flags && !r->limit.present &&
	       !r->ct_mark.present && !r->meta_mark.present && !r->ct_status &&
	       r->action != XCT_ACTION_CONTINUE && !r->ttl.present && !r->dscp.present &&
	       !r->concat.present;
}

/*
 * A META class whose first rule is META-only decides the packet by itself:
 * no lower rule can match (it is not in the class) and that one matches
 * whatever the other fields say.  The datapath then skips every other
 * lookup, which is what keeps established packets, with the usual
 * 'accept ct state established,related' first, from paying for the rules
 * after it.
 */
static void mark_decided(struct compiler *cc)
{
	__u32 i, j;

	for (i = 0; i < cc->out->n_classes; i++) {
		struct xct_cclass *cl = &cc->out->classes[i];
		__u32 rule;

		if (!cl->n_chunks)
			continue;
		for (j = 0; j < XCT_CHUNK_WORDS && !cl->chunks[0].w[j]; j++)
			;
		if (j == XCT_CHUNK_WORDS)
			continue;
		rule = cl->chunk_no[0] * XCT_CHUNK_BITS + j * 64 +
		       (__u32)__builtin_ctzll(cl->chunks[0].w[j]);
		/* A return decides nothing: the walk goes on past it. */
		if (rule < cc->n_rules && meta_only(&cc->rs->rules[rule]) &&
		    cc->rs->rules[rule].action != XCT_ACTION_RETURN)
			cl->decided = rule + 1;
	}
}

/* ---- NAT rules ---- */

/* The NAT rules, in order, as the datapath walks them (include/xct/nat.h);
 * the parser has checked that each field has one value. */
_Static_assert(XCT_DNAT_BACKENDS_MAX == XCT_NAT_BACKENDS_MAX, "dnat backends");

static int compile_nat(struct compiler *cc, xct_ifindex_fn resolve, void *ctx)
{
	const struct xct_ruleset *rs = cc->rs;
	struct xct_compiled *out = cc->out;
	size_t i, j;

	if (!rs->n_nat_rules)
		return 0;
	out->nat = calloc(rs->n_nat_rules, sizeof(*out->nat));
	if (!out->nat)
		return -ENOMEM;
	for (i = 0; i < rs->n_nat_rules; i++) {
		const struct xct_rule *r = &rs->nat_rules[i];
		struct xct_nat_rule *n = &out->nat[i];

		n->kind = r->action == XCT_ACTION_MASQUERADE ? XCT_NAT_MASQUERADE
			  : r->action == XCT_ACTION_DNAT     ? XCT_NAT_DNAT
							     : XCT_NAT_SNAT;
		n->family = r->family ? r->family : r->nat_to.family;
		n->line = r->loc.line;
		if (r->has_proto) {
			n->flags |= XCT_NATM_PROTO;
			n->proto = r->proto;
		}
		if (r->n_ifaces) {
			char name[XCT_IFNAME_MAX + 1];

			memcpy(name, r->ifaces[0], XCT_IFNAME_MAX);
			name[XCT_IFNAME_MAX] = 0;
			n->ifindex = resolve ? resolve(name, ctx) : 0;
			if (!n->ifindex)
				return fail_iface(cc, r, 0, "interface '%s' does not exist", name);
			n->flags |= XCT_NATM_IFACE | (r->iface_negate ? XCT_NATM_IFACE_NEG : 0);
		}
		if (r->saddr.present) {
			if (n->family && r->saddr.list[0].family != n->family)
				return fail_rule(cc, r,
						 "'saddr' and the translation are of two families");
			n->family = r->saddr.list[0].family;
			memcpy(n->saddr.bytes, r->saddr.list[0].addr, 16);
			n->splen = r->saddr.list[0].plen;
			n->flags |= XCT_NATM_SADDR | (r->saddr.negate ? XCT_NATM_SADDR_NEG : 0);
		}
		if (r->daddr.present) {
			if (n->family && r->daddr.list[0].family != n->family)
				return fail_rule(cc, r,
						 "'daddr' and the translation are of two families");
			n->family = r->daddr.list[0].family;
			memcpy(n->daddr.bytes, r->daddr.list[0].addr, 16);
			n->dplen = r->daddr.list[0].plen;
			n->flags |= XCT_NATM_DADDR | (r->daddr.negate ? XCT_NATM_DADDR_NEG : 0);
		}
		if (r->sport.present) {
			n->sport_lo = r->sport.list[0].lo;
			n->sport_hi = r->sport.list[0].hi;
			n->flags |= XCT_NATM_SPORT | (r->sport.negate ? XCT_NATM_SPORT_NEG : 0);
		}
		if (r->dport.present) {
			n->dport_lo = r->dport.list[0].lo;
			n->dport_hi = r->dport.list[0].hi;
			n->flags |= XCT_NATM_DPORT | (r->dport.negate ? XCT_NATM_DPORT_NEG : 0);
		}
		memcpy(n->to_lo.bytes, r->nat_to.addr_lo, 16);
		memcpy(n->to_hi.bytes, r->nat_to.addr_hi, 16);
		snprintf(n->text, sizeof(n->text), "%s", r->text ? r->text : "");
		n->mode = r->nat_to.mode;
		n->n_backends = r->nat_to.n_backends;
		for (j = 0; j < r->nat_to.n_backends; j++) {
			memcpy(n->backends[j].addr.bytes, r->nat_to.backends[j].addr, 16);
			n->backends[j].port = r->nat_to.backends[j].port;
		}
		if (r->nat_to.has_ports && !r->nat_to.n_backends) {
			n->flags |= XCT_NATM_PORT_RANGE;
			n->to_port_lo = r->nat_to.port_lo;
			n->to_port_hi = r->nat_to.port_hi;
		}
	}
	out->n_nat = (__u32)rs->n_nat_rules;
	for (i = 0; i < rs->n_nat_rules; i++)
		if (out->nat[i].kind == XCT_NAT_DNAT)
			out->has_dnat = 1;
	return 0;
}

/* ---- Owner rules ---- */

/* One element of each of a rule's lists, with whether it is negated:
 * lo > hi for "any". */
struct owner_span {
	__u32 lo, hi;
	bool neg;
};

/* Sorts and merges ranges in place; their number after merging. */
static int span_cmp(const void *a, const void *b)
{
	const struct owner_span *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static size_t spans_merge(struct owner_span *s, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(s, n, sizeof(*s), span_cmp);
	for (i = 1; i < n; i++) {
		if ((__u64)s[i].lo <= (__u64)s[k].hi + 1) {
			if (s[i].hi > s[k].hi)
				s[k].hi = s[i].hi;
		} else {
			s[++k] = s[i];
		}
	}
	return k + 1;
}

/*
 * The spans a list match stands for (lo/hi pairs of n elements, max the
 * largest value): one "any" when absent; a single element as written, its
 * negation left to the datapath; a negated list as the ranges it leaves
 * out, which may be none (then the rule matches nothing).  A new array in
 * *out, its length in *n_out; 0 or -ENOMEM.
 */
static int owner_spans(bool present, bool negate, const __u32 *lohi, size_t n, __u32 max,
		       struct owner_span **out, size_t *n_out)
{
	struct owner_span *s = calloc(n + 1, sizeof(*s)), *c;
	size_t i, k = 0;
	__u64 next = 0;

	if (!s)
		return -ENOMEM;
	*out = s;
	if (!present) {
		s[0].lo = 1;
		s[0].hi = 0;
		*n_out = 1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		s[i].lo = lohi[2 * i];
		s[i].hi = lohi[2 * i + 1];
	}
	if (n == 1 || !negate) {
		for (i = 0; i < n; i++)
			s[i].neg = negate;
		*n_out = n;
		return 0;
	}
	n = spans_merge(s, n);
	c = calloc(n + 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (s[i].lo > next)
			c[k++] = (struct owner_span){(__u32)next, s[i].lo - 1, false};
		next = (__u64)s[i].hi + 1;
	}
	if (next <= max)
		c[k++] = (struct owner_span){(__u32)next, max, false};
	free(s);
	*out = c;
	*n_out = k;
	return 0;
}

static int id_spans(const struct xct_id_match *m, struct owner_span **out, size_t *n)
{
	__u32 *lohi = calloc(m->n * 2 + 1, sizeof(*lohi));
	size_t i;
	int ret;

	if (!lohi)
		return -ENOMEM;
	for (i = 0; i < m->n; i++) {
		lohi[2 * i] = m->list[i].lo;
		lohi[2 * i + 1] = m->list[i].hi;
	}
	ret = owner_spans(m->present, m->negate, lohi, m->n, 0xfffffffeU, out, n);
	free(lohi);
	return ret;
}

static int port_spans(const struct xct_port_match *m, struct owner_span **out, size_t *n)
{
	__u32 *lohi = calloc(m->n * 2 + 1, sizeof(*lohi));
	size_t i;
	int ret;

	if (!lohi)
		return -ENOMEM;
	for (i = 0; i < m->n; i++) {
		lohi[2 * i] = m->list[i].lo;
		lohi[2 * i + 1] = m->list[i].hi;
	}
	ret = owner_spans(m->present, m->negate, lohi, m->n, 0xffff, out, n);
	free(lohi);
	return ret;
}

/* The owner rules, each the product of its lists (uid x gid x daddr x
 * dport) in order: xct_owner_rules holds at most XCT_OWNER_RULES_MAX. */
static int compile_owner(struct compiler *cc)
{
	const struct xct_ruleset *rs = cc->rs;
	struct xct_compiled *out = cc->out;
	struct owner_span *uids = NULL, *gids = NULL, *ports = NULL;
	size_t n_uids, n_gids, n_ports, n_addrs, total = 0, i, u, g, a, d;
	__u64 cgid;
	char msg[256];
	int ret = 0;

	if (!rs->n_owner_rules)
		return 0;
	out->owner = calloc(XCT_OWNER_RULES_MAX, sizeof(*out->owner));
	if (!out->owner)
		return -ENOMEM;
	for (i = 0; i < rs->n_owner_rules && !ret; i++) {
		const struct xct_rule *r = &rs->owner_rules[i];
		struct xct_owner_rule base;

		memset(&base, 0, sizeof(base));
		base.verdict = r->action == XCT_ACTION_ACCEPT ? XCT_OWNER_ACCEPT
			       : r->action == XCT_ACTION_DROP ? XCT_OWNER_DROP
							      : XCT_OWNER_REJECT;
		if (r->family) {
			base.match |= XCT_OM_FAMILY;
			base.family = r->family;
		}
		if (r->has_proto) {
			base.match |= XCT_OM_PROTO;
			base.proto = r->proto;
		}
		if (r->cgroup.present) {
			if (xct_owner_cgroup_id(r->cgroup.path, &cgid, msg, sizeof(msg)))
				return fail(cc, -EINVAL, &r->cgroup.loc, "%s", msg);
			base.match |= XCT_OM_CGROUP | (r->cgroup.negate ? XCT_OM_CG_NEG : 0);
			base.cgroup_id = cgid;
			base.cg_level = r->cgroup.level;
		}
		if ((ret = id_spans(&r->skuid, &uids, &n_uids)) ||
		    (ret = id_spans(&r->skgid, &gids, &n_gids)) ||
		    (ret = port_spans(&r->dport, &ports, &n_ports)))
			break;
		n_addrs = r->daddr.present ? r->daddr.n : 1;
		if (n_uids * n_gids * n_addrs * n_ports > XCT_OWNER_RULES_MAX - total) {
			ret = fail_rule(cc, r,
					"too many owner rules: this one takes %zu (one for each "
					"combination of its lists' elements), %zu are left of %d",
					n_uids * n_gids * n_addrs * n_ports,
					XCT_OWNER_RULES_MAX - total, XCT_OWNER_RULES_MAX);
			break;
		}
		for (u = 0; u < n_uids; u++)
			for (g = 0; g < n_gids; g++)
				for (a = 0; a < n_addrs; a++)
					for (d = 0; d < n_ports; d++) {
						struct xct_owner_rule o = base;

						if (uids[u].lo <= uids[u].hi) {
							o.match |=
								XCT_OM_UID |
								(uids[u].neg ? XCT_OM_UID_NEG : 0);
							o.uid_lo = uids[u].lo;
							o.uid_hi = uids[u].hi;
						}
						if (gids[g].lo <= gids[g].hi) {
							o.match |=
								XCT_OM_GID |
								(gids[g].neg ? XCT_OM_GID_NEG : 0);
							o.gid_lo = gids[g].lo;
							o.gid_hi = gids[g].hi;
						}
						if (r->daddr.present) {
							const struct xct_prefix *pf =
								&r->daddr.list[a];

							o.match |=
								XCT_OM_DADDR |
								(r->daddr.negate ? XCT_OM_DADDR_NEG
										 : 0);
							o.family = pf->family;
							memcpy(o.daddr.bytes, pf->addr,
							       sizeof(o.daddr.bytes));
							o.dprefix = pf->plen;
						}
						if (ports[d].lo <= ports[d].hi) {
							o.match |= XCT_OM_DPORT |
								   (ports[d].neg ? XCT_OM_DPORT_NEG
										 : 0);
							o.dport_lo = (__u16)ports[d].lo;
							o.dport_hi = (__u16)ports[d].hi;
						}
						out->owner[total++] = o;
					}
		free(uids);
		free(gids);
		free(ports);
		uids = gids = ports = NULL;
	}
	free(uids);
	free(gids);
	free(ports);
	out->n_owner = (__u32)total;
	return ret;
}

/* ---- Entry points ---- */

int xct_rules_compile(const struct xct_ruleset *rs, const char *file, xct_ifindex_fn ifindex,
		      void *ctx, struct xct_compiled *out, struct xct_rules_error *err)
{
	struct compiler cc = {.rs = rs, .file = file, .err = err, .out = out};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = check_rules(&cc);
	if (ret)
		return ret;
	cc.n_rules = rs->n_rules;
	cc.n_chunks = (cc.n_rules + XCT_CHUNK_BITS - 1) / XCT_CHUNK_BITS;
	cc.n_words = cc.n_chunks * XCT_CHUNK_WORDS;
	out->n_rules = cc.n_rules;
	out->policy = rs->policy == XCT_POLICY_DROP ? XCT_VERDICT_DROP : XCT_VERDICT_ACCEPT;
	out->fields_used = 1 << XCT_F_META;

	/* Interfaces first: an unknown name is the one error of the input
	 * that only shows here, and costs nothing to find. */
	if ((ret = add_zero_class(&cc)) || (ret = compile_ifaces(&cc, ifindex, ctx)) ||
	    (ret = compile_nat(&cc, ifindex, ctx)) || (ret = compile_owner(&cc)) ||
	    (ret = compile_recs(&cc)) || (ret = compile_meta(&cc)) ||
	    (ret = compile_addr(&cc, 0)) || (ret = compile_addr(&cc, 1)) ||
	    (ret = compile_ports(&cc, 0)) || (ret = compile_ports(&cc, 1)) ||
	    (ret = compile_icmp(&cc)) || (ret = compile_flags(&cc)))
		goto fail;
	mark_decided(&cc);
	free(cc.slots);
	free(cc.hashes);
	return 0;

fail:
	if (ret == -ENOMEM)
		no_memory(&cc);
	free(cc.slots);
	free(cc.hashes);
	xct_compiled_free(out);
	return ret;
}

void xct_compiled_free(struct xct_compiled *c)
{
	__u32 i;

	if (!c)
		return;
	for (i = 0; i < c->n_classes; i++) {
		free(c->classes[i].chunk_no);
		free(c->classes[i].chunks);
	}
	free(c->classes);
	free(c->recs);
	free(c->ifaces);
	free(c->iface_names);
	free(c->addr[0]);
	free(c->addr[1]);
	free(c->port[0]);
	free(c->port[1]);
	free(c->icmp);
	free(c->nat);
	free(c->owner);
	memset(c, 0, sizeof(*c));
}
