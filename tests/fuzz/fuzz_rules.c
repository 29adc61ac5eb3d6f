// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target of the rules-file parser (src/rules/parse.c).  Built with
 * ASan and UBSan by tests/fuzz/test_fuzz.sh, so a crash, an out-of-bounds
 * read, undefined behaviour or a leak on any path (the error paths above
 * all) fails the run.  Besides not crashing, the parser must keep its
 * promises, checked here and abort()ed on:
 *
 *  - on success, every index, count and value in the ruleset is one the
 *    compiler can use without checking (set references point at a set of
 *    the right kind, lists are non-empty, flags within their mask, ...), and
 *    a rule's text, parsed again on its own, gives the same rule;
 *  - on failure, out is empty, err names a line and column inside the
 *    input (never the 0:0 of unreadable files) and a non-empty message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"
#include "xct/abi.h"

#define FUZZ_FILE "fuzz.rules"

#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static FILE *devnull;

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void check_prefix(const struct xct_prefix *p, __u8 family)
{
	unsigned int bits = p->family == XCT_AF_INET ? 32 : 128, i;

	ASSERT(p->family == XCT_AF_INET || p->family == XCT_AF_INET6);
	ASSERT(!family || p->family == family);
	ASSERT(p->plen <= bits);
	for (i = p->plen; i < 128; i++)
		ASSERT(!(p->addr[i / 8] & (0x80 >> (i % 8))));
}

static void check_ports(const struct xct_port_range *r, size_t n)
{
	size_t i;

	ASSERT(!n || r);
	for (i = 0; i < n; i++)
		ASSERT(r[i].lo <= r[i].hi);
}

static void check_addr_match(const struct xct_ruleset *rs, const struct xct_addr_match *m,
			     __u8 family)
{
	size_t i;

	if (!m->present) {
		ASSERT(m->set == -1 && !m->n && !m->list && !m->negate);
		return;
	}
	if (m->set >= 0) {
		ASSERT((size_t)m->set < rs->n_sets);
		ASSERT(rs->sets[m->set].kind == XCT_SET_ADDR);
		ASSERT(!m->n && !m->list);
		return;
	}
	ASSERT(m->set == -1);
	ASSERT(m->n >= 1 && m->list);
	for (i = 0; i < m->n; i++)
		check_prefix(&m->list[i], family);
}

static void check_port_match(const struct xct_ruleset *rs, const struct xct_port_match *m,
			     const struct xct_rule *r)
{
	if (!m->present) {
		ASSERT(m->set == -1 && !m->n && !m->list && !m->negate);
		return;
	}
	ASSERT(!r->has_proto || r->proto == 6 || r->proto == 17);
	if (m->set >= 0) {
		ASSERT((size_t)m->set < rs->n_sets);
		ASSERT(rs->sets[m->set].kind == XCT_SET_PORT);
		ASSERT(!m->n && !m->list);
		return;
	}
	ASSERT(m->set == -1);
	ASSERT(m->n >= 1);
	check_ports(m->list, m->n);
}

/* ct mark, meta mark, ct status and the mark statements. */
static void check_marks(const struct xct_rule *r)
{
	const struct xct_mark_match *m[2] = {&r->ct_mark, &r->meta_mark};
	int i;

	for (i = 0; i < 2; i++) {
		if (!m[i]->present) {
			ASSERT(!m[i]->cmp.n && !m[i]->cmp.mask);
			continue;
		}
		ASSERT(m[i]->cmp.n >= 1 && m[i]->cmp.n <= XCT_MARK_VALUES_MAX);
		ASSERT(m[i]->cmp.n > 1 || !(m[i]->cmp.val[0] & ~m[i]->cmp.mask));
	}
	ASSERT(!(r->ct_status & ~0x3f));
	ASSERT(r->ct_status || !r->ct_status_negate);
	if (r->action == XCT_ACTION_NOTRACK)
		ASSERT(!r->ct_mark.present && !r->ct_status && !r->ct_mark_set.present &&
		       !r->meta_mark_set.present);
	if (r->action == XCT_ACTION_CONTINUE)
		ASSERT(r->ct_mark_set.present || r->meta_mark_set.present || r->log);
	ASSERT(r->ct_mark_set.present ||
	       (!r->ct_mark_set.from_other && !r->ct_mark_set.op.mask && !r->ct_mark_set.op.xor));
	ASSERT(r->meta_mark_set.present || (!r->meta_mark_set.from_other &&
					    !r->meta_mark_set.op.mask && !r->meta_mark_set.op.xor));
}

static void check_rule(const struct xct_ruleset *rs, const struct xct_rule *r)
{
	static const char *const actions[] = {
		[XCT_ACTION_ACCEPT] = "accept", [XCT_ACTION_DROP] = "drop",
		[XCT_ACTION_REJECT] = "reject", [XCT_ACTION_NOTRACK] = "notrack",
		[XCT_ACTION_JUMP] = "jump",	[XCT_ACTION_GOTO] = "goto",
		[XCT_ACTION_RETURN] = "return", [XCT_ACTION_VMAP] = "",
		[XCT_ACTION_CONTINUE] = "continue"};
	size_t i;

	ASSERT(r->loc.line >= 1 && r->loc.col >= 1);
	ASSERT(r->action <= XCT_ACTION_NOTRACK || r->action == XCT_ACTION_JUMP ||
	       r->action == XCT_ACTION_GOTO || r->action == XCT_ACTION_RETURN ||
	       r->action == XCT_ACTION_VMAP || r->action == XCT_ACTION_CONTINUE);
	ASSERT(r->text);
	ASSERT(!strncmp(r->text, actions[r->action], strlen(actions[r->action])));
	ASSERT(!!r->jump == (r->action == XCT_ACTION_JUMP || r->action == XCT_ACTION_GOTO));
	ASSERT(!!r->vmap == (r->action == XCT_ACTION_VMAP));
	ASSERT(!r->jump || (r->jump->chain >= 0 && (size_t)r->jump->chain < rs->n_chains));
	ASSERT(r->chain_of >= -1 && r->chain_of < (int)rs->n_chains);
	ASSERT(!strchr(r->text, '\n') && !strchr(r->text, '#') && !strchr(r->text, ';'));
	ASSERT(r->hook == XCT_HOOK_INGRESS || r->hook == XCT_HOOK_EGRESS);

	ASSERT(!r->n_ifaces || r->ifaces);
	ASSERT(r->n_ifaces ||
	       (!r->iface_negate && !r->iface_by_name && r->hook == XCT_HOOK_INGRESS));
	for (i = 0; i < r->n_ifaces; i++) {
		ASSERT(terminated(r->ifaces[i], XCT_IFNAME_MAX));
		ASSERT(r->ifaces[i][0]);
		/* A wildcard is iifname's or oifname's, and ends the name. */
		ASSERT(!strchr(r->ifaces[i], '*') ||
		       (r->iface_by_name && strchr(r->ifaces[i], '*')[1] == 0));
	}

	ASSERT(r->family == 0 || r->family == XCT_AF_INET || r->family == XCT_AF_INET6);
	ASSERT(r->has_proto || !r->proto);
	check_addr_match(rs, &r->saddr, r->family);
	check_addr_match(rs, &r->daddr, r->family);
	check_port_match(rs, &r->sport, r);
	check_port_match(rs, &r->dport, r);

	if (r->has_tcp_flags) {
		ASSERT(r->has_proto && r->proto == 6);
		ASSERT(r->tcp_flags_mask);
		ASSERT(!(r->tcp_flags_value & ~r->tcp_flags_mask));
		ASSERT(!r->tcp_flags_any || r->tcp_flags_mask == r->tcp_flags_value);
	} else {
		ASSERT(!r->tcp_flags_mask && !r->tcp_flags_value && !r->tcp_flags_any);
	}

	ASSERT(!r->n_icmp || r->icmp);
	if (r->n_icmp) {
		ASSERT(r->has_proto && (r->proto == 1 || r->proto == 58));
		ASSERT(r->family == (r->proto == 1 ? XCT_AF_INET : XCT_AF_INET6));
	}
	for (i = 0; i < r->n_icmp; i++) {
		ASSERT(r->icmp[i].code >= -1 && r->icmp[i].code <= 255);
		ASSERT(r->n_icmp == 1 || r->icmp[i].code == -1);
	}
	if (r->has_proto && r->proto == 1)
		ASSERT(r->family == XCT_AF_INET);
	if (r->has_proto && r->proto == 58)
		ASSERT(r->family == XCT_AF_INET6);

	ASSERT(r->ct_states < (1u << (XCT_CTS_UNTRACKED + 1)));
	if (r->action == XCT_ACTION_NOTRACK)
		ASSERT(!r->ct_states && !r->limit.present);

	check_marks(r);

	if (r->limit.present) {
		ASSERT(r->limit.rate >= 1 && r->limit.burst >= 1);
		ASSERT(r->limit.unit_ns == 1000000000ULL || r->limit.unit_ns == 60000000000ULL ||
		       r->limit.unit_ns == 3600000000000ULL ||
		       r->limit.unit_ns == 86400000000000ULL);
	} else {
		ASSERT(!r->limit.rate && !r->limit.burst && !r->limit.unit_ns &&
		       !r->limit.per_saddr && !r->limit.bytes);
	}
}

static bool same_rule(const struct xct_rule *a, const struct xct_rule *b)
{
	size_t i;

#define SAME(f) (a->f == b->f)
	if (!SAME(action) || !SAME(hook) || !SAME(n_ifaces) || !SAME(iface_negate) ||
	    !SAME(family) || !SAME(has_proto) || !SAME(proto) || !SAME(has_tcp_flags) ||
	    !SAME(tcp_flags_mask) || !SAME(tcp_flags_value) || !SAME(tcp_flags_any) ||
	    !SAME(n_icmp) || !SAME(ct_states) || !SAME(log) || !SAME(limit.present) ||
	    !SAME(limit.rate) || !SAME(limit.unit_ns) || !SAME(limit.burst) ||
	    !SAME(limit.per_saddr) || !SAME(limit.bytes) || !SAME(saddr.present) ||
	    !SAME(saddr.negate) || !SAME(saddr.n) || !SAME(daddr.present) || !SAME(daddr.negate) ||
	    !SAME(daddr.n) || !SAME(sport.present) || !SAME(sport.negate) || !SAME(sport.n) ||
	    !SAME(dport.present) || !SAME(dport.negate) || !SAME(dport.n) || !SAME(iface_by_name))
		return false;
#undef SAME
	if (strcmp(a->text, b->text))
		return false;
	if (memcmp(&a->ct_mark, &b->ct_mark, sizeof(a->ct_mark)) ||
	    memcmp(&a->meta_mark, &b->meta_mark, sizeof(a->meta_mark)) ||
	    a->ct_status != b->ct_status || a->ct_status_negate != b->ct_status_negate ||
	    memcmp(&a->ct_mark_set, &b->ct_mark_set, sizeof(a->ct_mark_set)) ||
	    memcmp(&a->meta_mark_set, &b->meta_mark_set, sizeof(a->meta_mark_set)))
		return false;
	for (i = 0; i < a->n_ifaces; i++)
		if (strcmp(a->ifaces[i], b->ifaces[i]))
			return false;
	for (i = 0; i < a->n_icmp; i++)
		if (a->icmp[i].type != b->icmp[i].type || a->icmp[i].code != b->icmp[i].code)
			return false;
	if (a->concat.present != b->concat.present || a->concat.negate != b->concat.negate ||
	    a->concat.n != b->concat.n || memcmp(a->concat.fields, b->concat.fields, a->concat.n))
		return false;
	if ((a->saddr.n &&
	     memcmp(a->saddr.list, b->saddr.list, a->saddr.n * sizeof(*a->saddr.list))) ||
	    (a->daddr.n &&
	     memcmp(a->daddr.list, b->daddr.list, a->daddr.n * sizeof(*a->daddr.list))) ||
	    (a->sport.n &&
	     memcmp(a->sport.list, b->sport.list, a->sport.n * sizeof(*a->sport.list))) ||
	    (a->dport.n &&
	     memcmp(a->dport.list, b->dport.list, a->dport.n * sizeof(*a->dport.list))))
		return false;
	return true;
}

/* xct rules show prints a rule's text: it must mean the same rule. */
static void check_text_round_trip(const struct xct_ruleset *in, const struct xct_rule *r)
{
	struct xct_ruleset rs;
	struct xct_rules_error err;
	bool anon = r->concat.present && in->sets[r->concat.set].anon;

	if (r->saddr.set >= 0 || r->daddr.set >= 0 || r->sport.set >= 0 || r->dport.set >= 0 ||
	    (r->concat.present && !anon))
		return; /* the text names sets defined elsewhere */
	if (xct_rules_parse(FUZZ_FILE, r->text, strlen(r->text), &rs, &err)) {
		fprintf(stderr, "rule text \"%s\" does not parse: %u:%u: %s\n", r->text,
			err.loc.line, err.loc.col, err.msg);
		abort();
	}
	/* An anonymous concatenation is a set of its own, again. */
	ASSERT(rs.n_written == 1 && rs.n_sets == (anon ? 1u : 0u));
	ASSERT(!anon || rs.sets[0].n_elems == in->sets[r->concat.set].n_elems);
	ASSERT(rs.written[0].loc.line == 1 && rs.written[0].loc.col == 1);
	if (!same_rule(r, &rs.written[0])) {
		fprintf(stderr, "rule text \"%s\" parses to another rule\n", r->text);
		abort();
	}
	xct_ruleset_free(&rs);
}

static void check_ruleset(const struct xct_ruleset *rs)
{
	size_t i, j;

	ASSERT(rs->policy == XCT_POLICY_ACCEPT || rs->policy == XCT_POLICY_DROP);
	ASSERT(rs->policy == XCT_POLICY_ACCEPT || rs->policy_loc.line >= 1);
	ASSERT(!rs->n_sets || rs->sets);
	ASSERT(!rs->n_rules || rs->rules);
	for (i = 0; i < rs->n_sets; i++) {
		const struct xct_set_def *s = &rs->sets[i];

		ASSERT(terminated(s->name, sizeof(s->name)) && !s->name[0] == s->anon);
		ASSERT(s->anon || xct_ruleset_find_set(rs, s->name) == (int)i);
		ASSERT(s->loc.line >= 1 && s->loc.col >= 1);
		if (s->kind == XCT_SET_CONCAT) {
			/* Tuples of exact values, of at most 5 types. */
			ASSERT(s->n_ctypes >= 2 && s->n_ctypes <= XCT_CONCAT_MAX);
			ASSERT(!s->n_prefixes && !s->n_ports && (!s->n_elems || s->elems));
			for (j = 0; j < s->n_elems; j++)
				for (size_t k = 0; k < s->n_ctypes; k++) {
					const struct xct_concat_val *v = &s->elems[j].v[k];

					ASSERT(s->ctypes[k] > XCT_CT_NONE && s->ctypes[k] < XCT_CT_COUNT);
					ASSERT(v->ports.lo == v->ports.hi);
					if (s->ctypes[k] == XCT_CT_IPV4 || s->ctypes[k] == XCT_CT_IPV6)
						ASSERT(v->prefix.plen ==
						       (s->ctypes[k] == XCT_CT_IPV4 ? 32 : 128));
				}
		} else if (s->kind == XCT_SET_ADDR) {
			ASSERT(!s->anon);
			ASSERT(!s->n_ports && !s->ports);
			ASSERT(!s->n_prefixes || s->prefixes);
			for (j = 0; j < s->n_prefixes; j++)
				check_prefix(&s->prefixes[j], 0);
		} else {
			ASSERT(s->kind == XCT_SET_PORT);
			ASSERT(!s->n_prefixes && !s->prefixes);
			check_ports(s->ports, s->n_ports);
		}
	}
	/* The rules as written are the parser's: every invariant, and a base
	 * rule's text means the same rule.  The expanded list (chains.c)
	 * only holds verdicts and returns that go forward. */
	ASSERT(!rs->n_written || rs->written);
	for (i = 0; i < rs->n_written; i++) {
		const struct xct_rule *r = &rs->written[i];

		check_rule(rs, r);
		if (i < 8 && r->chain_of < 0 && r->action <= XCT_ACTION_NOTRACK)
			check_text_round_trip(rs, r);
	}
	ASSERT(rs->n_rules < XCT_RULES_MAX);
	for (i = 0; i < rs->n_rules; i++) {
		const struct xct_rule *r = &rs->rules[i];

		ASSERT(r->action <= XCT_ACTION_NOTRACK || r->action == XCT_ACTION_RETURN ||
		       r->action == XCT_ACTION_CONTINUE);
		ASSERT(r->action != XCT_ACTION_RETURN ||
		       (r->skip_to > i && r->skip_to <= rs->n_rules));
		ASSERT(r->src < rs->n_written && r->text && !r->jump && !r->vmap);
		ASSERT(r->hook == XCT_HOOK_INGRESS || r->hook == XCT_HOOK_EGRESS);
	}
}

static void check_error(const uint8_t *data, size_t size, const struct xct_rules_error *err)
{
	unsigned int line = 1;
	size_t i, line_start = 0;

	ASSERT(terminated(err->file, sizeof(err->file)) && !strcmp(err->file, FUZZ_FILE));
	ASSERT(terminated(err->msg, sizeof(err->msg)) && err->msg[0]);
	ASSERT(terminated(err->line_text, sizeof(err->line_text)));
	ASSERT(err->loc.line >= 1 && err->loc.col >= 1);

	/* The location is inside the input: a line it has, a column of that
	 * line or just past its end. */
	for (i = 0; i < size && line < err->loc.line; i++) {
		if (data[i] == '\n') {
			line++;
			line_start = i + 1;
		}
	}
	ASSERT(line == err->loc.line);
	for (i = line_start; i < size && data[i] != '\n'; i++)
		;
	ASSERT(err->loc.col <= i - line_start + 1);
	ASSERT(strlen(err->line_text) <= i - line_start);
	xct_rules_error_print(devnull, err);
}

/* The element helpers of xct set add, on the input as one string. */
static void check_helpers(const uint8_t *data, size_t size)
{
	char s[128];
	struct xct_prefix p;
	struct xct_port_range r;
	char msg[256];

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (!xct_parse_prefix(s, &p))
		check_prefix(&p, 0);
	else if (xct_parse_prefix_msg(s, &p, msg, sizeof(msg)) != -EINVAL || !msg[0])
		abort();
	if (!xct_parse_port_range(s, &r))
		check_ports(&r, 1);
	else if (xct_parse_port_range_msg(s, &r, msg, sizeof(msg)) != -EINVAL || !msg[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xct_ruleset empty;
	struct xct_ruleset rs;
	struct xct_rules_error err;
	int ret;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
	}
	/* Garbage in, so that a field the parser forgets to set shows. */
	memset(&rs, 0xa5, sizeof(rs));
	memset(&err, 0xa5, sizeof(err));

	ret = xct_rules_parse(FUZZ_FILE, (const char *)data, size, &rs, &err);
	if (ret == 0) {
		check_ruleset(&rs);
		xct_ruleset_free(&rs);
		ASSERT(!memcmp(&rs, &empty, sizeof(rs)));
	} else {
		ASSERT(ret == -EINVAL || ret == -ENOMEM);
		ASSERT(!memcmp(&rs, &empty, sizeof(rs)));
		check_error(data, size, &err);
		xct_ruleset_free(&rs); /* harmless on the empty ruleset */
	}
	check_helpers(data, size);
	return 0;
}
