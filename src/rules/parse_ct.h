/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The grammar of connection and packet marks and of ct status, a part of
 * the rules parser (parse.c includes it once, after its lexer and
 * helpers, whose static functions it uses):
 *
 *	ct mark [and|& MASK] [==|!=] VALUE | [!=] { VALUE, ... }
 *	meta mark ...				the same on the packet's mark
 *	ct mark set EXPR | meta mark set EXPR
 *	    EXPR: (VALUE | ct mark | meta mark) [and|&|or|'|'|xor VALUE]...
 *	ct status [!=] S[,S]... | [!=] { S, ... }
 *	    S: expected seen-reply assured confirmed snat dnat
 *
 * as nft writes them.  A mark is a 32-bit number, decimal or 0x hex.
 */
#ifndef XCT_RULES_PARSE_CT_H
#define XCT_RULES_PARSE_CT_H

#define MARK_MAX 0xffffffffULL

static const struct name_val ct_status_names[] = {
	{"expected", XCT_CTS_BIT_EXPECTED}, {"seen-reply", XCT_CTS_BIT_SEEN_REPLY},
	{"assured", XCT_CTS_BIT_ASSURED},   {"confirmed", XCT_CTS_BIT_CONFIRMED},
	{"snat", XCT_CTS_BIT_SNAT},	    {"dnat", XCT_CTS_BIT_DNAT},
};

/* "ct mark" or "meta mark", for messages. */
static const char *mark_name(bool ct)
{
	return ct ? "ct mark" : "meta mark";
}

/* A mark value at cur: decimal or 0x hex, at most 32 bits. */
static int mark_value(struct parser *p, const char *after, __u32 *out)
{
	const struct tok *t = &p->cur;
	unsigned long long v = 0;
	size_t i;

	if (t->type != TOK_WORD || !is_digit(t->s[0]))
		return perr(p, t,
			    "expected a mark (a number such as 16 or 0x10) after '%s', got %s",
			    after, GOT(t));
	if (t->len > 2 && t->s[0] == '0' && (t->s[1] == 'x' || t->s[1] == 'X')) {
		for (i = 2; i < t->len; i++) {
			char c = t->s[i];
			int d = is_digit(c)		 ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
				: (c >= 'A' && c <= 'F') ? c - 'A' + 10
							 : -1;

			if (d < 0)
				return perr(p, t, "'%s' is not a number (0x takes hex digits)",
					    TXT(t));
			v = v * 16 + (unsigned long long)d;
			if (v > MARK_MAX)
				break;
		}
	} else {
		switch (parse_num(t->s, t->len, MARK_MAX, &v)) {
		case NUM_OK:
			break;
		case NUM_RANGE:
			v = MARK_MAX + 1;
			break;
		default:
			return perr(
				p, t,
				"expected a mark (a number such as 16 or 0x10) after '%s', got %s",
				after, GOT(t));
		}
	}
	if (v > MARK_MAX)
		return perr(p, t, "mark %s is out of range (at most 0xffffffff)", TXT(t));
	*out = (__u32)v;
	advance(p);
	return 0;
}

static int mark_list_value(struct parser *p, void *ctx)
{
	struct xct_mark_cmp *c = ctx;
	__u32 v;
	int err;

	if (c->n >= XCT_MARK_VALUES_MAX)
		return perr(p, &p->cur, "too many marks in a list (at most %d)",
			    XCT_MARK_VALUES_MAX);
	err = mark_value(p, p->last.type == TOK_COMMA ? "," : "{", &v);
	if (!err)
		c->val[c->n++] = v;
	return err;
}

/* After "ct mark" / "meta mark" (cur is past "mark"), a match. */
static int parse_mark_match(struct parser *p, struct xct_mark_match *m, bool ct,
			    const struct tok *kw)
{
	struct xct_mark_cmp *c = &m->cmp;
	size_t n;
	int err;

	if (m->present)
		return perr(p, kw, "'%s' given twice", mark_name(ct));
	m->present = true;
	c->mask = 0xffffffff;
	if (tok_is(&p->cur, "and") || p->cur.type == TOK_AMP) {
		advance(p);
		err = mark_value(p, TXT(&p->last), &c->mask);
		if (err)
			return err;
	}
	if (p->cur.type == TOK_EQ || p->cur.type == TOK_NE) {
		c->negate = p->cur.type == TOK_NE;
		advance(p);
	}
	if (p->cur.type == TOK_LBRACE)
		return parse_list(p, "mark", false, mark_list_value, c, &n);
	err = mark_value(p, TXT(&p->last), &c->val[0]);
	if (!err)
		c->n = 1;
	if (!err && (c->val[0] & ~c->mask))
		return perr(p, &p->last,
			    "mark %s has bits outside the mask 0x%x: the match can never be true",
			    TXT(&p->last), c->mask);
	return err;
}

/* After "ct mark set" / "meta mark set" (cur is past "set"), the value
 * and its operations, folded into one (mask, xor). */
static int parse_mark_set(struct parser *p, struct rule_ctx *rc, struct xct_mark_stmt *s, bool ct,
			  const struct tok *kw)
{
	struct xct_mark_op *op = &s->op;
	__u32 v;
	int err;

	if (s->present)
		return perr(p, kw, "'%s set' given twice", mark_name(ct));
	if (rc->r.action == XCT_ACTION_NOTRACK)
		return perr(p, kw,
			    "'%s set' cannot be used with 'notrack' (notrack decides before a "
			    "packet is tracked)",
			    mark_name(ct));
	s->present = true;
	if (tok_is(&p->cur, "ct") || tok_is(&p->cur, "meta")) {
		bool src_ct = tok_is(&p->cur, "ct");

		advance(p);
		if (!tok_is(&p->cur, "mark"))
			return perr(p, &p->cur, "expected 'mark' after '%s', got %s", TXT(&p->last),
				    GOT(&p->cur));
		advance(p);
		s->from_other = src_ct != ct;
		op->mask = 0xffffffff;
		op->xor = 0;
	} else {
		err = mark_value(p, "set", &v);
		if (err)
			return err;
		op->mask = 0;
		op->xor = v;
	}
	for (;;) {
		const struct tok *t = &p->cur;
		int kind;

		if (tok_is(t, "and") || t->type == TOK_AMP)
			kind = 0;
		else if (tok_is(t, "or") || t->type == TOK_PIPE)
			kind = 1;
		else if (tok_is(t, "xor"))
			kind = 2;
		else
			return 0;
		advance(p);
		err = mark_value(p, TXT(&p->last), &v);
		if (err)
			return err;
		if (kind == 0)
			xct_mark_op_and(op, v);
		else if (kind == 1)
			xct_mark_op_or(op, v);
		else
			xct_mark_op_xor(op, v);
	}
}

static int ct_status_value(struct parser *p, void *ctx)
{
	struct rule_ctx *rc = ctx;
	const struct tok *t = &p->cur;
	struct suggest sg;
	char sugg[64];
	int i;

	if (t->type != TOK_WORD || !is_alpha(t->s[0]))
		return perr(p, t,
			    "expected a status (expected, seen-reply, assured, confirmed, snat, "
			    "dnat) after '%s', got %s",
			    TXT(&p->last), GOT(t));
	i = lookup(ct_status_names, ARRAY_SIZE(ct_status_names), t->s, t->len);
	if (i < 0) {
		suggest_init(&sg, t->s, t->len);
		suggest_table(&sg, ct_status_names, ARRAY_SIZE(ct_status_names));
		if (sg.best)
			return perr(p, t, "unknown ct status '%s'%s", TXT(t),
				    suggest_text(&sg, "", sugg, sizeof(sugg)));
		return perr(p, t,
			    "unknown ct status '%s' (expected, seen-reply, assured, confirmed, "
			    "snat or dnat)",
			    TXT(t));
	}
	rc->r.ct_status |= (__u16)ct_status_names[i].val;
	advance(p);
	return 0;
}

/* After "ct status" (cur is past "status"). */
static int parse_ct_status(struct parser *p, struct rule_ctx *rc, const struct tok *kw)
{
	size_t n;
	int err;

	if (rc->r.ct_status)
		return perr(p, kw, "'ct status' given twice");
	if (p->cur.type == TOK_NE || p->cur.type == TOK_EQ) {
		rc->r.ct_status_negate = p->cur.type == TOK_NE;
		advance(p);
	}
	if (p->cur.type == TOK_LBRACE)
		return parse_list(p, "status", false, ct_status_value, rc, &n);
	for (;;) {
		err = ct_status_value(p, rc);
		if (err || p->cur.type != TOK_COMMA)
			return err;
		advance(p);
	}
}

/*
 * ct mark ... | ct status ...; kw is "ct", cur the word after it.  A
 * notrack rule decides before a packet has a connection, so it can match
 * nothing of one.
 */
static int parse_ct_mark_status(struct parser *p, struct rule_ctx *rc, const struct tok *kw)
{
	struct tok what = p->cur;

	if (rc->r.action == XCT_ACTION_NOTRACK)
		return perr(p, kw,
			    "'ct %s' cannot be used with 'notrack' (notrack decides before a "
			    "packet is tracked)",
			    TXT(&what));
	advance(p);
	if (tok_is(&what, "status"))
		return parse_ct_status(p, rc, kw);
	if (tok_is(&p->cur, "set")) {
		advance(p);
		return parse_mark_set(p, rc, &rc->r.ct_mark_set, true, kw);
	}
	return parse_mark_match(p, &rc->r.ct_mark, true, kw);
}

/* meta mark ...; at is "meta" (maybe p->last: copied), cur is "mark". */
static int parse_meta_mark(struct parser *p, struct rule_ctx *rc, const struct tok *at)
{
	struct tok kwt = *at, *kw = &kwt;

	if (rc->r.action == XCT_ACTION_MASQUERADE || rc->r.action == XCT_ACTION_SNAT ||
	    rc->r.action == XCT_ACTION_DNAT)
		return perr(p, kw,
			    "'meta mark' cannot be used with '%s' (a NAT rule sees only a "
			    "connection's first packet, before the filter rules)",
			    actions[rc->r.action].name);
	advance(p);
	if (tok_is(&p->cur, "set")) {
		advance(p);
		return parse_mark_set(p, rc, &rc->r.meta_mark_set, false, kw);
	}
	return parse_mark_match(p, &rc->r.meta_mark, false, kw);
}

/* A continue rule is there for its statements: one without any decides
 * nothing and does nothing. */
static int check_continue_rule(struct parser *p, const struct rule_ctx *rc, const struct tok *first)
{
	const struct xct_rule *r = &rc->r;

	if (r->action != XCT_ACTION_CONTINUE)
		return 0;
	if (!r->ct_mark_set.present && !r->meta_mark_set.present && !r->log)
		return perr(p, first,
			    "a 'continue' rule needs a statement ('ct mark set', 'meta mark set' "
			    "or 'log'), or it does nothing");
	return 0;
}

#endif /* XCT_RULES_PARSE_CT_H */
