// SPDX-License-Identifier: GPL-2.0-only
/*
 * User chains and verdict maps, compiled away: the datapath walks one
 * ordered list, first match wins (include/xct/policy.h), so the rules as
 * written (xct_ruleset.written: the base list, the chains, jump, goto,
 * return and vmap) are expanded here into that list (xct_ruleset.rules).
 *
 * - jump C: the rules of C take the jump's place, each with the jump's
 *   matches added to its own (the conjunction of two rules is a rule: see
 *   rule_conj()).  A packet that matches no rule of C goes on after them, as it
 *   goes on after the jump in nftables.
 * - return: a rule whose action is to go on from the first rule after the
 *   copy of its chain (skip_to), checked in the walk like any candidate.
 *   In the base list it goes to the end: the policy decides.
 * - goto C: C's rules as for jump, then a return with the goto's matches:
 *   a packet C does not decide leaves the chain that holds the goto.
 * - FIELD vmap { KEY : VERDICT, ... }: a rule per element, with the key as
 *   the field's match and the element's verdict.  Keys do not overlap, so
 *   their order does not matter.
 *
 * Loops are refused wherever they are (as the kernel refuses a jump that
 * would close one), and so are jumps nested past nftables' stack of
 * XCT_CHAIN_DEPTH_MAX.  A chain jumped to from several places is copied at
 * each, so the expanded list can grow faster than the file: past
 * XCT_RULES_MAX - 1 rules it is refused at the jump that overflows it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"

#define EXPANDED_MAX (XCT_RULES_MAX - 1)
/* The base list's context: a rule of either hook.  A jump, like any rule,
 * applies at one hook (egress with oif, else ingress), and so do the rules
 * it reaches: those without iif or oif take its hook. */
#define HOOK_ANY ((enum xct_rule_hook)0xff)

struct expander {
	struct xct_ruleset *rs;
	struct xct_rules_error *err;
	struct xct_rule *out;
	size_t n_out, cap_out;
	/* Per written rule: the copies made of it, to refuse a rate limit
	 * that two copies would split into two buckets. */
	unsigned int *copies;
	const struct xct_flow_src *last_jump; /* for a message with no jump of its own */
};

__attribute__((format(printf, 3, 4))) static int
flow_err(struct xct_rules_error *err, const struct xct_flow_src *src, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", src->file);
	err->loc = src->loc;
	snprintf(err->line_text, sizeof(err->line_text), "%s", src->line_text);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- The conjunction of two rules' matches ---- */

static bool prefix_contains(const struct xct_prefix *a, const struct xct_prefix *b)
{
	unsigned int i, bits;

	if (a->family != b->family || a->plen > b->plen)
		return false;
	for (i = 0, bits = a->plen; bits >= 8; i++, bits -= 8)
		if (a->addr[i] != b->addr[i])
			return false;
	return !bits || !((a->addr[i] ^ b->addr[i]) & (0xff00 >> bits));
}

static bool bit_of(const struct xct_prefix *p, unsigned int bit)
{
	return p->addr[bit / 8] & (0x80 >> (bit % 8));
}

struct plist {
	struct xct_prefix *v;
	size_t n, cap;
};

static int plist_add(struct plist *l, const struct xct_prefix *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void *g = realloc(l->v, cap * sizeof(*l->v));

		if (!g)
			return -ENOMEM;
		l->v = g;
		l->cap = cap;
	}
	l->v[l->n++] = *p;
	return 0;
}

/* x minus n, where x contains n: the siblings of n's ancestors below x. */
static int prefix_split(struct plist *out, const struct xct_prefix *x, const struct xct_prefix *n)
{
	struct xct_prefix s;
	unsigned int l;
	int ret;

	for (l = x->plen; l < n->plen; l++) {
		memset(&s, 0, sizeof(s));
		s.family = n->family;
		s.plen = (__u8)(l + 1);
		memcpy(s.addr, n->addr, sizeof(s.addr));
		/* Keep n's first l bits, flip bit l, clear the rest. */
		s.addr[l / 8] ^= 0x80 >> (l % 8);
		for (unsigned int b = l + 1; b < 128; b++)
			if (bit_of(&s, b))
				s.addr[b / 8] &= ~(0x80 >> (b % 8));
		ret = plist_add(out, &s);
		if (ret)
			return ret;
	}
	return 0;
}

/* The addresses both matches let through, as one match in *m. */
static int addr_conj(const struct xct_addr_match *a, const struct xct_addr_match *b,
		     struct xct_addr_match *m, bool *empty, const char **why)
{
	struct plist l = {0};
	size_t i, j;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	m->set = -1;
	if (!a->present || !b->present) {
		const struct xct_addr_match *s = a->present ? a : b;

		*m = *s;
		m->list = NULL;
		if (s->n) {
			m->list = malloc(s->n * sizeof(*m->list));
			if (!m->list)
				return -ENOMEM;
			memcpy(m->list, s->list, s->n * sizeof(*m->list));
		}
		return 0;
	}
	if (a->set >= 0 || b->set >= 0) {
		*why = "a set (@name) and another match on the same address";
		return -EINVAL;
	}
	m->present = true;
	if (a->negate && b->negate) {
		/* Neither: not in the union. */
		m->negate = true;
		for (i = 0; i < a->n && !ret; i++)
			ret = plist_add(&l, &a->list[i]);
		for (i = 0; i < b->n && !ret; i++)
			ret = plist_add(&l, &b->list[i]);
	} else if (!a->negate && !b->negate) {
		/* Both: the longer of two prefixes one holds the other of. */
		for (i = 0; i < a->n && !ret; i++)
			for (j = 0; j < b->n && !ret; j++) {
				if (prefix_contains(&a->list[i], &b->list[j]))
					ret = plist_add(&l, &b->list[j]);
				else if (prefix_contains(&b->list[j], &a->list[i]))
					ret = plist_add(&l, &a->list[i]);
			}
		*empty = !ret && !l.n;
	} else {
		/* In one, not in the other: cut the other's prefixes out. */
		const struct xct_addr_match *pos = a->negate ? b : a, *neg = a->negate ? a : b;
		struct plist cur = {0}, next = {0};

		for (i = 0; i < pos->n && !ret; i++)
			ret = plist_add(&cur, &pos->list[i]);
		for (j = 0; j < neg->n && !ret; j++) {
			next.n = 0;
			for (i = 0; i < cur.n && !ret; i++) {
				if (prefix_contains(&neg->list[j], &cur.v[i]))
					continue;
				if (prefix_contains(&cur.v[i], &neg->list[j]))
					ret = prefix_split(&next, &cur.v[i], &neg->list[j]);
				else
					ret = plist_add(&next, &cur.v[i]);
			}
			struct plist t = cur;

			cur = next;
			next = t;
		}
		free(next.v);
		l = cur;
		*empty = !ret && !l.n;
	}
	if (ret) {
		free(l.v);
		return ret;
	}
	m->list = l.v;
	m->n = l.n;
	return 0;
}

struct rlist {
	struct xct_port_range *v;
	size_t n, cap;
};

static int rlist_add(struct rlist *l, __u32 lo, __u32 hi)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void *g = realloc(l->v, cap * sizeof(*l->v));

		if (!g)
			return -ENOMEM;
		l->v = g;
		l->cap = cap;
	}
	l->v[l->n].lo = (__u16)lo;
	l->v[l->n].hi = (__u16)hi;
	l->n++;
	return 0;
}

/* The ports both matches let through, as addr_conj(). */
static int port_conj(const struct xct_port_match *a, const struct xct_port_match *b,
		     struct xct_port_match *m, bool *empty, const char **why)
{
	struct rlist l = {0};
	size_t i, j;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	m->set = -1;
	if (!a->present || !b->present) {
		const struct xct_port_match *s = a->present ? a : b;

		*m = *s;
		m->list = NULL;
		if (s->n) {
			m->list = malloc(s->n * sizeof(*m->list));
			if (!m->list)
				return -ENOMEM;
			memcpy(m->list, s->list, s->n * sizeof(*m->list));
		}
		return 0;
	}
	if (a->set >= 0 || b->set >= 0) {
		*why = "a set (@name) and another match on the same port";
		return -EINVAL;
	}
	m->present = true;
	if (a->negate && b->negate) {
		m->negate = true;
		for (i = 0; i < a->n && !ret; i++)
			ret = rlist_add(&l, a->list[i].lo, a->list[i].hi);
		for (i = 0; i < b->n && !ret; i++)
			ret = rlist_add(&l, b->list[i].lo, b->list[i].hi);
	} else if (!a->negate && !b->negate) {
		for (i = 0; i < a->n && !ret; i++)
			for (j = 0; j < b->n && !ret; j++) {
				__u32 lo = a->list[i].lo > b->list[j].lo ? a->list[i].lo
									 : b->list[j].lo;
				__u32 hi = a->list[i].hi < b->list[j].hi ? a->list[i].hi
									 : b->list[j].hi;

				if (lo <= hi)
					ret = rlist_add(&l, lo, hi);
			}
		*empty = !ret && !l.n;
	} else {
		const struct xct_port_match *pos = a->negate ? b : a, *neg = a->negate ? a : b;
		struct rlist cur = {0}, next = {0};

		for (i = 0; i < pos->n && !ret; i++)
			ret = rlist_add(&cur, pos->list[i].lo, pos->list[i].hi);
		for (j = 0; j < neg->n && !ret; j++) {
			__u32 nlo = neg->list[j].lo, nhi = neg->list[j].hi;

			next.n = 0;
			for (i = 0; i < cur.n && !ret; i++) {
				__u32 lo = cur.v[i].lo, hi = cur.v[i].hi;

				if (nhi < lo || nlo > hi) {
					ret = rlist_add(&next, lo, hi);
					continue;
				}
				if (lo < nlo)
					ret = rlist_add(&next, lo, nlo - 1);
				if (!ret && hi > nhi)
					ret = rlist_add(&next, nhi + 1, hi);
			}
			struct rlist t = cur;

			cur = next;
			next = t;
		}
		free(next.v);
		l = cur;
		*empty = !ret && !l.n;
	}
	if (ret) {
		free(l.v);
		return ret;
	}
	m->list = l.v;
	m->n = l.n;
	return 0;
}

static int iface_find(const struct xct_rule *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_ifaces; i++)
		if (!strcmp(r->ifaces[i], name))
			return (int)i;
	return -1;
}

static int iface_add(struct xct_rule *m, size_t *cap, const char *name,
		     const struct xct_src_loc *loc)
{
	if (iface_find(m, name) >= 0)
		return 0;
	if (m->n_ifaces == *cap) {
		size_t c = *cap ? 2 * *cap : 4;
		void *g1 = realloc(m->ifaces, c * sizeof(*m->ifaces));

		if (!g1)
			return -ENOMEM;
		m->ifaces = g1;
		g1 = realloc(m->iface_locs, c * sizeof(*m->iface_locs));
		if (!g1)
			return -ENOMEM;
		m->iface_locs = g1;
		*cap = c;
	}
	memcpy(m->ifaces[m->n_ifaces], name, XCT_IFNAME_MAX);
	m->iface_locs[m->n_ifaces] = loc ? *loc : (struct xct_src_loc){0};
	m->n_ifaces++;
	return 0;
}

/* The interfaces both rules allow, into m (whose hook is set). */
static int iface_conj(const struct xct_rule *a, const struct xct_rule *b, struct xct_rule *m,
		      bool *empty)
{
	size_t cap = 0, i;
	int ret = 0;

	if (!a->n_ifaces || !b->n_ifaces) {
		const struct xct_rule *s = a->n_ifaces ? a : b;

		m->iface_negate = s->iface_negate;
		for (i = 0; i < s->n_ifaces && !ret; i++)
			ret = iface_add(m, &cap, s->ifaces[i],
					s->iface_locs ? &s->iface_locs[i] : NULL);
		return ret;
	}
	if (a->hook != b->hook) {
		*empty = true; /* one applies at ingress, the other at egress */
		return 0;
	}
	if (a->iface_negate && b->iface_negate) {
		m->iface_negate = true;
		for (i = 0; i < a->n_ifaces && !ret; i++)
			ret = iface_add(m, &cap, a->ifaces[i],
					a->iface_locs ? &a->iface_locs[i] : NULL);
		for (i = 0; i < b->n_ifaces && !ret; i++)
			ret = iface_add(m, &cap, b->ifaces[i],
					b->iface_locs ? &b->iface_locs[i] : NULL);
		return ret;
	}
	{
		const struct xct_rule *pos = a->iface_negate ? b : a,
				      *other = a->iface_negate ? a : b;

		for (i = 0; i < pos->n_ifaces && !ret; i++) {
			bool in = iface_find(other, pos->ifaces[i]) >= 0;

			if (in != other->iface_negate)
				ret = iface_add(m, &cap, pos->ifaces[i],
						pos->iface_locs ? &pos->iface_locs[i] : NULL);
		}
		*empty = !ret && !m->n_ifaces;
	}
	return ret;
}

static int icmp_conj(const struct xct_rule *a, const struct xct_rule *b, struct xct_rule *m,
		     bool *empty)
{
	const struct xct_rule *s;
	size_t i, j, n = 0;

	if (!a->n_icmp || !b->n_icmp) {
		s = a->n_icmp ? a : b;
		if (!s->n_icmp)
			return 0;
		m->icmp = malloc(s->n_icmp * sizeof(*m->icmp));
		if (!m->icmp)
			return -ENOMEM;
		memcpy(m->icmp, s->icmp, s->n_icmp * sizeof(*m->icmp));
		m->n_icmp = s->n_icmp;
		return 0;
	}
	m->icmp = malloc(a->n_icmp * b->n_icmp * sizeof(*m->icmp));
	if (!m->icmp)
		return -ENOMEM;
	for (i = 0; i < a->n_icmp; i++)
		for (j = 0; j < b->n_icmp; j++) {
			const struct xct_icmp_match *x = &a->icmp[i], *y = &b->icmp[j];

			if (x->type != y->type)
				continue;
			if (x->code >= 0 && y->code >= 0 && x->code != y->code)
				continue;
			m->icmp[n].type = x->type;
			m->icmp[n++].code = x->code >= 0 ? x->code : y->code;
		}
	m->n_icmp = n;
	*empty = !n;
	return 0;
}

static char *dup_str(const char *s, int *ret)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ret = -ENOMEM;
	return d;
}

/*
 * out = the rule r as reached through ctx: r's action, text and options,
 * and the matches of both.  Returns 1 when no packet can match both (out
 * is then empty), 0 with out filled, -EINVAL with *why for a pair of
 * matches one rule cannot express, or -ENOMEM.
 */
static int rule_conj(const struct xct_rule *ctx, const struct xct_rule *r, struct xct_rule *out,
		     const char **why)
{
	bool empty = false;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->loc = r->loc;
	out->action = r->action;
	out->chain_of = r->chain_of;
	out->src = r->src;
	out->limit = r->limit;
	out->log = r->log;
	out->log_level = r->log_level;
	out->nat_to = r->nat_to;
	out->saddr.set = out->daddr.set = out->sport.set = out->dport.set = -1;
	/* A concatenation is one lookup, of one set: the record holds one. */
	if (ctx->concat.present && r->concat.present) {
		*why = "a concatenation of the jump and one of its chain's rule";
		return -EINVAL;
	}
	out->concat = ctx->concat.present ? ctx->concat : r->concat;

	if (ctx->family && r->family && ctx->family != r->family)
		return 1;
	out->family = ctx->family ? ctx->family : r->family;
	if (ctx->has_proto && r->has_proto && ctx->proto != r->proto)
		return 1;
	out->has_proto = ctx->has_proto || r->has_proto;
	out->proto = ctx->has_proto ? ctx->proto : r->proto;
	if (ctx->ct_states && r->ct_states && !(ctx->ct_states & r->ct_states))
		return 1;
	out->ct_states = ctx->ct_states && r->ct_states ? ctx->ct_states & r->ct_states
							: ctx->ct_states | r->ct_states;
	if (ctx->ct_states && r->action == XCT_ACTION_NOTRACK) {
		*why = "'ct state' of the jump and 'notrack' (decided before tracking)";
		return -EINVAL;
	}
	if (ctx->has_tcp_flags && r->has_tcp_flags) {
		if (ctx->tcp_flags_any || r->tcp_flags_any) {
			if (ctx->tcp_flags_any != r->tcp_flags_any ||
			    ctx->tcp_flags_mask != r->tcp_flags_mask) {
				*why = "two 'tcp flags' matches";
				return -EINVAL;
			}
		} else if ((ctx->tcp_flags_value ^ r->tcp_flags_value) & ctx->tcp_flags_mask &
			   r->tcp_flags_mask) {
			return 1;
		}
		out->has_tcp_flags = true;
		out->tcp_flags_any = ctx->tcp_flags_any;
		out->tcp_flags_mask = ctx->tcp_flags_mask | r->tcp_flags_mask;
		out->tcp_flags_value = ctx->tcp_flags_value | r->tcp_flags_value;
	} else if (ctx->has_tcp_flags || r->has_tcp_flags) {
		const struct xct_rule *s = ctx->has_tcp_flags ? ctx : r;

		out->has_tcp_flags = true;
		out->tcp_flags_any = s->tcp_flags_any;
		out->tcp_flags_mask = s->tcp_flags_mask;
		out->tcp_flags_value = s->tcp_flags_value;
	}
	out->reject = r->reject;
	/* Interfaces by name (iifname, with wildcards) meet a jump's
	 * interfaces only when one of the two has none. */
	if (ctx->n_ifaces && r->n_ifaces && (ctx->iface_by_name || r->iface_by_name)) {
		*why = "an interface match of the jump and one of its chain's rule, either by name "
		       "(iifname, oifname)";
		return -EINVAL;
	}
	out->iface_by_name = ctx->n_ifaces ? ctx->iface_by_name : r->iface_by_name;
	/* Header ranges, marks and ct status: one match of each kind per
	 * rule, as the record holds one. */
	if ((ctx->ttl.present && r->ttl.present) || (ctx->dscp.present && r->dscp.present)) {
		*why = "an ip ttl or ip dscp match of the jump and one of its chain's rule";
		return -EINVAL;
	}
	out->ttl = ctx->ttl.present ? ctx->ttl : r->ttl;
	out->dscp = ctx->dscp.present ? ctx->dscp : r->dscp;
	/* Marks and ct status: one match of each kind per rule, as the
	 * record holds one. */
	if ((ctx->ct_mark.present && r->ct_mark.present) ||
	    (ctx->meta_mark.present && r->meta_mark.present) || (ctx->ct_status && r->ct_status)) {
		*why = "a mark or ct status match of the jump and one of its chain's rule";
		return -EINVAL;
	}
	if (ctx->ct_mark_set.present || ctx->meta_mark_set.present) {
		*why = "a mark statement on a jump, goto or vmap (put it on a continue rule before it)";
		return -EINVAL;
	}
	out->ct_mark = ctx->ct_mark.present ? ctx->ct_mark : r->ct_mark;
	out->meta_mark = ctx->meta_mark.present ? ctx->meta_mark : r->meta_mark;
	out->ct_status = ctx->ct_status ? ctx->ct_status : r->ct_status;
	out->ct_status_negate = ctx->ct_status ? ctx->ct_status_negate : r->ct_status_negate;
	out->ct_mark_set = r->ct_mark_set;
	out->meta_mark_set = r->meta_mark_set;
	/* A rule with no iif or oif applies at its context's hook. */
	out->hook = r->n_ifaces || ctx->hook == HOOK_ANY ? r->hook : ctx->hook;
	if (ctx->hook != HOOK_ANY && ctx->hook != out->hook)
		return 1;
	ret = iface_conj(ctx, r, out, &empty);
	if (!ret && !empty)
		ret = addr_conj(&ctx->saddr, &r->saddr, &out->saddr, &empty, why);
	if (!ret && !empty)
		ret = addr_conj(&ctx->daddr, &r->daddr, &out->daddr, &empty, why);
	if (!ret && !empty)
		ret = port_conj(&ctx->sport, &r->sport, &out->sport, &empty, why);
	if (!ret && !empty)
		ret = port_conj(&ctx->dport, &r->dport, &out->dport, &empty, why);
	if (!ret && !empty)
		ret = icmp_conj(ctx, r, out, &empty);
	if (!ret && !empty) {
		out->text = dup_str(r->text, &ret);
		if (!ret)
			out->comment = dup_str(r->comment, &ret);
		if (!ret)
			out->log_prefix = dup_str(r->log_prefix, &ret);
	}
	if (ret || empty) {
		xct_rule_free(out);
		memset(out, 0, sizeof(*out));
		return ret ? ret : 1;
	}
	return 0;
}

/* Whether a rule matches every packet its context lets through. */
static bool no_matches(const struct xct_rule *r)
{
	return !r->n_ifaces && !r->family && !r->has_proto && !r->saddr.present &&
	       !r->daddr.present && !r->sport.present && !r->dport.present && !r->has_tcp_flags &&
	       !r->n_icmp && !r->ct_states && !r->limit.present && !r->ct_mark.present &&
	       !r->meta_mark.present && !r->ct_status && !r->ttl.present && !r->dscp.present &&
	       !r->concat.present;
}

/* Whether r, reached through ctx, takes every packet that reaches it: in
 * the base list a rule without oif still leaves the egress rules. */
static bool unconditional(const struct xct_rule *ctx, const struct xct_rule *r)
{
	return no_matches(r) && ctx->hook != HOOK_ANY;
}

/* ---- Expansion ---- */

/*
 * The rule of one element of a concatenation's vmap: a match per
 * component, on the element's value (its lists point into the element,
 * as a plain vmap's do).  The parser refused a rule that matches one of
 * these fields apart from the vmap.
 */
static void vmap_concat_elem(const struct xct_vmap *vm, const struct xct_vmap_elem *e,
			     struct xct_rule *el)
{
	size_t i;

	for (i = 0; i < vm->n_fields; i++) {
		const struct xct_concat_val *v = &e->concat.v[i];
		struct xct_addr_match am = {.present = true,
					    .set = -1,
					    .list = (struct xct_prefix *)&v->prefix,
					    .n = 1};
		struct xct_port_match pm = {.present = true,
					    .set = -1,
					    .list = (struct xct_port_range *)&v->ports,
					    .n = 1};
		struct xct_mark_match mm = {.present = true,
					    .cmp = {.mask = 0xffffffff, .val = {v->num}, .n = 1}};

		switch (vm->fields[i]) {
		case XCT_CF_SADDR4:
		case XCT_CF_SADDR6:
			el->saddr = am;
			break;
		case XCT_CF_DADDR4:
		case XCT_CF_DADDR6:
			el->daddr = am;
			break;
		case XCT_CF_SPORT:
			el->sport = pm;
			break;
		case XCT_CF_DPORT:
			el->dport = pm;
			break;
		case XCT_CF_PROTO:
			el->has_proto = true;
			el->proto = (__u8)v->num;
			break;
		case XCT_CF_META_MARK:
			el->meta_mark = mm;
			break;
		case XCT_CF_CT_MARK:
			el->ct_mark = mm;
			break;
		}
	}
}

static int emit(struct expander *ex, struct xct_rule *r, const struct xct_flow_src *at)
{
	if (ex->n_out >= EXPANDED_MAX) {
		xct_rule_free(r);
		if (!at)
			at = ex->last_jump;
		if (!at) {
			memset(ex->err, 0, sizeof(*ex->err));
			ex->err->loc = r->loc;
			snprintf(ex->err->msg, sizeof(ex->err->msg), "too many rules (at most %d)",
				 EXPANDED_MAX);
			return -EINVAL;
		}
		return flow_err(ex->err, at,
				"the chains expand to more than %d rules, the most a ruleset holds "
				"(each jump copies its chain's rules)",
				EXPANDED_MAX);
	}
	if (ex->n_out == ex->cap_out) {
		size_t cap = ex->cap_out ? 2 * ex->cap_out : 64;
		void *g = realloc(ex->out, cap * sizeof(*ex->out));

		if (!g) {
			xct_rule_free(r);
			return -ENOMEM;
		}
		ex->out = g;
		ex->cap_out = cap;
	}
	ex->out[ex->n_out++] = *r;
	return 0;
}

/* The skip records of one copy of a chain, patched to its end. */
struct skips {
	size_t *v;
	size_t n, cap;
};

static int skips_add(struct skips *s, size_t i)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		void *g = realloc(s->v, cap * sizeof(*s->v));

		if (!g)
			return -ENOMEM;
		s->v = g;
		s->cap = cap;
	}
	s->v[s->n++] = i;
	return 0;
}

static int expand_chain(struct expander *ex, int chain, const struct xct_rule *ctx,
			unsigned int depth, const struct xct_flow_src *at);

/*
 * One rule r of a chain's copy reached through ctx.  last: no rule of the
 * chain follows it, so a return there changes nothing.  *stop: the rest of
 * the chain cannot be reached.
 */
static int expand_rule(struct expander *ex, const struct xct_rule *ctx, const struct xct_rule *r,
		       bool last, unsigned int depth, const struct xct_flow_src *at,
		       struct skips *sk, bool *stop)
{
	struct xct_rule m;
	const char *why = NULL;
	const struct xct_flow_src *here = at;
	int ret;

	if (r->action == XCT_ACTION_VMAP) {
		const struct xct_vmap *vm = r->vmap;
		/* Each element's rule keeps the start of the vmap's text, for
		 * messages (xct rules show prints the written rule's): a copy
		 * of the whole map each would make a large vmap quadratic. */
		char *text = r->text ? strndup(r->text, sizeof(ex->err->line_text)) : NULL;
		size_t i;

		if (r->text && !text)
			return -ENOMEM;
		ret = 0;
		for (i = 0; i < vm->n; i++) {
			const struct xct_vmap_elem *e = &vm->elems[i];
			struct xct_rule el = *r;
			struct xct_addr_match am = {.present = true,
						    .set = -1,
						    .list = (struct xct_prefix *)&e->prefix,
						    .n = 1};
			struct xct_port_match pm = {.present = true,
						    .set = -1,
						    .list = (struct xct_port_range *)&e->ports,
						    .n = 1};

			el.vmap = NULL;
			el.text = text;
			el.action = e->action;
			el.jump = (struct xct_jump *)&e->jump;
			if (vm->field == XCT_VMAP_CONCAT) {
				vmap_concat_elem(vm, e, &el);
				ret = expand_rule(ex, ctx, &el, last && i + 1 == vm->n, depth,
						  at ? at : &vm->src, sk, stop);
				if (ret)
					break;
				*stop = false;
				continue;
			}
			switch (vm->field) {
			case XCT_VMAP_SADDR:
				el.saddr = am;
				break;
			case XCT_VMAP_DADDR:
				el.daddr = am;
				break;
			case XCT_VMAP_SPORT:
				el.sport = pm;
				break;
			case XCT_VMAP_DPORT:
				el.dport = pm;
				break;
			case XCT_VMAP_CONCAT:
				break;
			}
			ret = expand_rule(ex, ctx, &el, last && i + 1 == vm->n, depth,
					  at ? at : &vm->src, sk, stop);
			if (ret)
				break;
			*stop = false; /* an element has a key: never every packet */
		}
		free(text);
		return ret;
	}
	if (r->jump)
		here = &r->jump->src;
	ret = rule_conj(ctx, r, &m, &why);
	if (ret == 1)
		return 0; /* no packet reaches it */
	if (ret == -EINVAL)
		return flow_err(ex->err, here,
				"this rule and the rule on line %u cannot be combined: %s "
				"(xct copies a jump's matches into each rule of its chain)",
				r->loc.line, why);
	if (ret)
		return ret;
	ex->copies[r->src]++;
	if (r->limit.present && ex->copies[r->src] > 1) {
		xct_rule_free(&m);
		return flow_err(ex->err, here,
				"the rule on line %u has a 'limit' and is reached from more than "
				"one jump: each copy would have a bucket of its own",
				r->loc.line);
	}
	switch (r->action) {
	case XCT_ACTION_JUMP:
	case XCT_ACTION_GOTO:
		if (depth + 1 >= XCT_CHAIN_DEPTH_MAX) {
			xct_rule_free(&m);
			return flow_err(ex->err, &r->jump->src,
					"jumps nest deeper than %d chains (as nftables' jump stack "
					"allows): '%s' is reached through %u",
					XCT_CHAIN_DEPTH_MAX - 1, r->jump->name, depth + 1);
		}
		ex->last_jump = &r->jump->src;
		ret = expand_chain(ex, r->jump->chain, &m, depth + 1, &r->jump->src);
		if (ret || r->action == XCT_ACTION_JUMP) {
			xct_rule_free(&m);
			return ret;
		}
		/* goto: what the chain does not decide leaves this chain too. */
		if (last) {
			xct_rule_free(&m);
			*stop = unconditional(ctx, r);
			return 0;
		}
		m.action = XCT_ACTION_RETURN;
		ret = skips_add(sk, ex->n_out);
		if (!ret)
			ret = emit(ex, &m, at);
		else
			xct_rule_free(&m);
		*stop = !ret && unconditional(ctx, r);
		return ret;
	case XCT_ACTION_RETURN:
		*stop = unconditional(ctx, r);
		if (last) {
			xct_rule_free(&m);
			return 0;
		}
		ret = skips_add(sk, ex->n_out);
		if (ret) {
			xct_rule_free(&m);
			return ret;
		}
		return emit(ex, &m, at);
	default:
		return emit(ex, &m, at);
	}
}

/* A copy of a chain (-1: the base list) for the packets ctx matches. */
static int expand_chain(struct expander *ex, int chain, const struct xct_rule *ctx,
			unsigned int depth, const struct xct_flow_src *at)
{
	struct xct_ruleset *rs = ex->rs;
	struct skips sk = {0};
	size_t i, last = 0, k;
	bool stop = false, any = false;
	int ret = 0;

	for (i = 0; i < rs->n_written; i++)
		if (rs->written[i].chain_of == chain) {
			last = i;
			any = true;
		}
	for (i = 0; any && i < rs->n_written && !ret && !stop; i++)
		if (rs->written[i].chain_of == chain)
			ret = expand_rule(ex, ctx, &rs->written[i], i == last, depth, at, &sk,
					  &stop);
	for (k = 0; k < sk.n && !ret; k++)
		ex->out[sk.v[k]].skip_to = (__u32)ex->n_out;
	free(sk.v);
	return ret;
}

/* ---- Names and loops ---- */

static int resolve(struct xct_ruleset *rs, struct xct_jump *j, struct xct_rules_error *err)
{
	size_t i;

	for (i = 0; i < rs->n_chains; i++)
		if (!strcmp(rs->chains[i].name, j->name)) {
			j->chain = (int)i;
			return 0;
		}
	return flow_err(err, &j->src, "unknown chain '%s'", j->name);
}

/* Calls fn for each jump of the rules of chain c. */
#define FOR_EACH_JUMP(rs, c, jp, BODY)                                                             \
	for (size_t _i = 0; _i < (rs)->n_written; _i++) {                                          \
		struct xct_rule *_r = &(rs)->written[_i];                                          \
		if (_r->chain_of != (c))                                                           \
			continue;                                                                  \
		if (_r->jump) {                                                                    \
			jp = _r->jump;                                                             \
			BODY                                                                       \
		}                                                                                  \
		for (size_t _e = 0; _r->vmap && _e < _r->vmap->n; _e++) {                          \
			if (_r->vmap->elems[_e].action != XCT_ACTION_JUMP &&                       \
			    _r->vmap->elems[_e].action != XCT_ACTION_GOTO)                         \
				continue;                                                          \
			jp = &_r->vmap->elems[_e].jump;                                            \
			BODY                                                                       \
		}                                                                                  \
	}

enum { WHITE, GREY, BLACK };

/* Depth-first from chain c; a jump to a chain on the path closes a loop. */
static int find_loop(struct xct_ruleset *rs, int c, unsigned char *color,
		     struct xct_rules_error *err)
{
	struct xct_jump *j;
	int ret = 0;

	color[c] = GREY;
	FOR_EACH_JUMP(rs, c, j, {
		if (color[j->chain] == GREY)
			return flow_err(err, &j->src,
					"jump loop: chain '%s' is reached again from chain '%s'",
					j->name, rs->chains[c].name);
		if (color[j->chain] == WHITE && (ret = find_loop(rs, j->chain, color, err)))
			return ret;
	})
	color[c] = BLACK;
	return 0;
}

static int cmp_ports(const void *a, const void *b)
{
	const struct xct_vmap_elem *x = a, *y = b;

	return (int)x->ports.lo - (int)y->ports.lo;
}

static int cmp_prefixes(const void *a, const void *b)
{
	const struct xct_vmap_elem *x = a, *y = b;
	int c = (int)x->prefix.family - (int)y->prefix.family;

	if (!c)
		c = memcmp(x->prefix.addr, y->prefix.addr, sizeof(x->prefix.addr));
	return c ? c : (int)x->prefix.plen - (int)y->prefix.plen;
}

/* Whether two values of a component overlap: prefixes one inside the
 * other, ranges that meet, equal numbers. */
static bool concat_val_overlap(__u8 field, const struct xct_concat_val *a,
			       const struct xct_concat_val *b)
{
	switch (field) {
	case XCT_CF_SADDR4:
	case XCT_CF_DADDR4:
	case XCT_CF_SADDR6:
	case XCT_CF_DADDR6:
		return prefix_contains(&a->prefix, &b->prefix) ||
		       prefix_contains(&b->prefix, &a->prefix);
	case XCT_CF_SPORT:
	case XCT_CF_DPORT:
		return a->ports.lo <= b->ports.hi && b->ports.lo <= a->ports.hi;
	default:
		return a->num == b->num;
	}
}

/* Whether every value of the vmap is one address, port or number. */
static bool concat_vmap_exact(const struct xct_vmap *vm)
{
	size_t i, k;

	for (i = 0; i < vm->n; i++)
		for (k = 0; k < vm->n_fields; k++) {
			const struct xct_concat_val *v = &vm->elems[i].concat.v[k];

			if (v->ports.lo != v->ports.hi ||
			    (v->prefix.family && v->prefix.plen != (v->prefix.family == XCT_AF_INET6
									      ? 128
									      : 32)))
				return false;
		}
	return true;
}

static int cmp_concat_elem(const void *a, const void *b)
{
	const struct xct_vmap_elem *x = a, *y = b;

	return xct_concat_elem_cmp(&x->concat, &y->concat);
}

/* A concatenation's elements overlap when each of their components
 * does: a packet would fall in both.  Exact tuples overlap only when
 * equal, which sorting finds; with prefixes or ranges, every pair is
 * compared. */
static int check_concat_vmap(const struct xct_vmap *vm, struct xct_rules_error *err)
{
	__u8 types[XCT_CONCAT_MAX];
	char a[256], b[256];
	size_t i, j, k;

	for (k = 0; k < vm->n_fields; k++)
		types[k] = vm->fields[k] <= XCT_CF_DADDR4   ? XCT_CT_IPV4
			   : vm->fields[k] <= XCT_CF_DADDR6 ? XCT_CT_IPV6
			   : vm->fields[k] <= XCT_CF_DPORT  ? XCT_CT_SERVICE
			   : vm->fields[k] == XCT_CF_PROTO  ? XCT_CT_PROTO
							    : XCT_CT_MARK;
	if (concat_vmap_exact(vm)) {
		struct xct_vmap_elem *s = malloc(vm->n * sizeof(*s));
		int ret = 0;

		if (!s)
			return -ENOMEM;
		memcpy(s, vm->elems, vm->n * sizeof(*s));
		qsort(s, vm->n, sizeof(*s), cmp_concat_elem);
		for (i = 0; i + 1 < vm->n && !ret; i++)
			if (!cmp_concat_elem(&s[i], &s[i + 1])) {
				xct_concat_elem_format(&s[i].concat, types, vm->n_fields, a,
						       sizeof(a));
				ret = flow_err(err, &vm->src, "the keys of the vmap overlap: %s and %s",
					       a, a);
			}
		free(s);
		return ret;
	}
	for (i = 0; i < vm->n; i++)
		for (j = i + 1; j < vm->n; j++) {
			for (k = 0; k < vm->n_fields; k++)
				if (!concat_val_overlap(vm->fields[k], &vm->elems[i].concat.v[k],
							&vm->elems[j].concat.v[k]))
					break;
			if (k < vm->n_fields)
				continue;
			xct_concat_elem_format(&vm->elems[i].concat, types, vm->n_fields, a,
					       sizeof(a));
			xct_concat_elem_format(&vm->elems[j].concat, types, vm->n_fields, b,
					       sizeof(b));
			return flow_err(err, &vm->src, "the keys of the vmap overlap: %s and %s", a,
					b);
		}
	return 0;
}

/*
 * A verdict map's keys must not overlap (nft: "conflicting intervals"),
 * so that a packet's verdict does not depend on the order of the
 * elements.  Sorted, an overlap shows between neighbours: a prefix
 * holding a later one holds the one right after it.
 */
static int check_vmap(const struct xct_vmap *vm, struct xct_rules_error *err)
{
	bool ports = vm->field == XCT_VMAP_SPORT || vm->field == XCT_VMAP_DPORT;
	struct xct_vmap_elem *s;
	size_t i;
	int ret = 0;

	if (vm->n < 2)
		return 0;
	if (vm->field == XCT_VMAP_CONCAT)
		return check_concat_vmap(vm, err);
	s = malloc(vm->n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s, vm->elems, vm->n * sizeof(*s));
	qsort(s, vm->n, sizeof(*s), ports ? cmp_ports : cmp_prefixes);
	for (i = 0; i + 1 < vm->n && !ret; i++) {
		if (ports && s[i + 1].ports.lo <= s[i].ports.hi)
			ret = flow_err(
				err, &vm->src, "the keys of the vmap overlap: %u-%u and %u-%u",
				s[i].ports.lo, s[i].ports.hi, s[i + 1].ports.lo, s[i + 1].ports.hi);
		else if (!ports && prefix_contains(&s[i].prefix, &s[i + 1].prefix))
			ret = flow_err(
				err, &vm->src,
				"the keys of the vmap overlap: a prefix of /%u holds one of /%u",
				s[i].prefix.plen, s[i + 1].prefix.plen);
	}
	free(s);
	return ret;
}

int xct_chains_expand(struct xct_ruleset *rs, struct xct_rules_error *err)
{
	struct expander ex = {.rs = rs, .err = err};
	struct xct_rule ctx;
	unsigned char *color;
	struct xct_jump *j;
	size_t i;
	int ret = 0;

	for (i = 0; i < rs->n_written && !ret; i++) {
		rs->written[i].src = (__u32)i;
		if (rs->written[i].vmap)
			ret = check_vmap(rs->written[i].vmap, err);
	}
	if (ret)
		return ret;
	for (int c = -1; c < (int)rs->n_chains && !ret; c++)
		FOR_EACH_JUMP(rs, c, j, {
			if ((ret = resolve(rs, j, err)))
				break;
		})
	if (ret)
		return ret;
	color = calloc(rs->n_chains + 1, 1);
	if (!color)
		return -ENOMEM;
	for (i = 0; i < rs->n_chains && !ret; i++)
		if (color[i] == WHITE)
			ret = find_loop(rs, (int)i, color, err);
	free(color);
	if (ret)
		return ret;

	if (rs->n_written + 2 * rs->n_chains > XCT_TEXTS_MAX) {
		const struct xct_chain *c = &rs->chains[rs->n_chains - 1];

		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", c->file);
		err->loc = c->loc;
		snprintf(err->msg, sizeof(err->msg),
			 "too many rules and chains (at most %d rules, two more for each chain)",
			 XCT_TEXTS_MAX);
		return -EINVAL;
	}
	ex.copies = calloc(rs->n_written + 1, sizeof(*ex.copies));
	if (!ex.copies)
		return -ENOMEM;
	memset(&ctx, 0, sizeof(ctx));
	ctx.saddr.set = ctx.daddr.set = ctx.sport.set = ctx.dport.set = -1;
	ctx.hook = HOOK_ANY;
	ret = expand_chain(&ex, -1, &ctx, 0, NULL);
	free(ex.copies);
	if (ret) {
		for (i = 0; i < ex.n_out; i++)
			xct_rule_free(&ex.out[i]);
		free(ex.out);
		return ret;
	}
	for (i = 0; i < rs->n_rules; i++)
		xct_rule_free(&rs->rules[i]);
	free(rs->rules);
	rs->rules = ex.out;
	rs->n_rules = ex.n_out;
	return 0;
}
