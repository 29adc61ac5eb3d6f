// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rules-file parser: text in, a struct xct_ruleset out, or the first
 * error with file:line:column and a message that names what was written and
 * what was expected.  The language looks like nft's rule syntax, with the
 * action first:
 *
 *	set blocklist { 203.0.113.0/24, 2001:db8:bad::/48 }
 *	policy drop
 *	accept ct state established,related
 *	accept tcp dport 22 saddr 10.0.0.0/8 limit 10/second burst 20
 *
 * The grammar ({ L } is a list "{ x, y, }" that may span lines):
 *
 *	set NAME [addr|port] { ELEMENT, ... }	kind from the elements
 *	policy accept|drop			at most once, default accept
 *	define NAME = VALUE			then $NAME is VALUE
 *	include "PATH"				another file's statements here
 *	ACTION [MATCH|OPTION]...		ACTION: accept drop reject notrack
 *
 *	iif|oif [!=] NAME|"NAME"|{ L }		ingress / egress hook
 *	ip | ip6				family
 *	tcp | udp | icmp | icmpv6 | meta l4proto N|NAME
 *	saddr|daddr [!=] ADDR|PREFIX|{ L }|@set
 *	sport|dport [!=] PORT|LO-HI|{ L }|@set
 *	tcp flags F[,|F]... | tcp flags == F[|F]... | tcp flags & (F|F) == F
 *	icmp|icmpv6 type T [code C] | icmp|icmpv6 type { L }
 *	ct state S[,S]... | ct state { L }
 *	limit [rate] N/UNIT | N [k|m]bytes/UNIT [burst N [packets|[k|m]bytes]]
 *	      [per saddr]			UNIT: second minute hour day
 *	log | counter | comment "TEXT"
 *	meta skuid|skgid [!=] ID|LO-HI|NAME|{ L }	owner rules: the connections
 *	socket cgroupv2 level N [!=] "PATH"		this host's processes open
 *
 * A match is given at most once; a family or protocol may be repeated if
 * it agrees (nft's "ip saddr X ip daddr Y").  It is line oriented: a
 * newline (or ';') ends a statement, except inside '{ }', and '#' starts a
 * comment.  A small lexer turns the text into words and punctuation with
 * one token of look-ahead; a recursive-descent parser builds the sets and
 * rules from them.  Both are linear in the input, and the element arrays
 * grow geometrically, so a set of a million prefixes parses in a fraction
 * of a second.
 *
 * Every error path frees what it allocated and leaves the output empty: a
 * caller (and the fuzz target, tests/fuzz/fuzz_rules.c) needs nothing to
 * free after a failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <syslog.h>

#include "rules/ruleset.h"
#include "xct/abi.h"
#include "xct/policy.h"
#include "xct/nat.h"

#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_GRE    47
#define PROTO_ESP    50
#define PROTO_AH     51
#define PROTO_ICMPV6 58
#define PROTO_SCTP   132

/* Numbers a rate or burst may be written with, before kbytes/mbytes. */
#define LIMIT_NUM_MAX 0xffffffffULL

/* The last rule slot of a generation holds the policy line (policy.h). */
#define RULES_MAX (XCT_RULES_MAX - 1)

/* ---- Name tables ---- */

struct name_val {
	const char *name;
	unsigned long long val;
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct name_val stmt_keywords[] = {
	{"set", 0},    {"policy", 0},  {"accept", 0},	  {"drop", 0},
	{"reject", 0}, {"notrack", 0}, {"masquerade", 0}, {"snat", 0},
	{"dnat", 0},   {"define", 0},  {"include", 0},	  {"chain", 0},
	{"jump", 0},   {"goto", 0},    {"return", 0},	  {"map", 0},
	{"continue", 0},
};

static const struct name_val actions[] = {
	{"accept", XCT_ACTION_ACCEPT},
	{"drop", XCT_ACTION_DROP},
	{"reject", XCT_ACTION_REJECT},
	{"notrack", XCT_ACTION_NOTRACK},
	{"masquerade", XCT_ACTION_MASQUERADE},
	{"snat", XCT_ACTION_SNAT},
	{"dnat", XCT_ACTION_DNAT},
	/* Indexed by action (actions[r.action].name): chains.c's, in order. */
	{"jump", XCT_ACTION_JUMP},
	{"goto", XCT_ACTION_GOTO},
	{"return", XCT_ACTION_RETURN},
	{"vmap", XCT_ACTION_VMAP},
	{"continue", XCT_ACTION_CONTINUE},
};

/* At most this many NAT rules: they are walked, not classified. */
#define NAT_RULES_MAX XCT_NAT_RULES_MAX

static const struct name_val rule_keywords[] = {
	{"iif", 0},	{"oif", 0},	{"iifname", 0}, {"oifname", 0}, {"ip", 0},    {"ip6", 0},
	{"tcp", 0},	{"udp", 0},	{"icmp", 0},	{"icmpv6", 0},	{"meta", 0},  {"saddr", 0},
	{"daddr", 0},	{"sport", 0},	{"dport", 0},	{"ct", 0},	{"limit", 0}, {"log", 0},
	{"counter", 0}, {"comment", 0}, {"with", 0},	{"th", 0},	{"socket", 0},
};

static const struct name_val proto_names[] = {
	{"tcp", PROTO_TCP},   {"udp", PROTO_UDP}, {"icmp", PROTO_ICMP}, {"icmpv6", PROTO_ICMPV6},
	{"sctp", PROTO_SCTP}, {"gre", PROTO_GRE}, {"esp", PROTO_ESP},	{"ah", PROTO_AH},
};

static const struct name_val icmp_types[] = {
	{"echo-reply", 0},	     {"destination-unreachable", 3},
	{"source-quench", 4},	     {"redirect", 5},
	{"echo-request", 8},	     {"router-advertisement", 9},
	{"router-solicitation", 10}, {"time-exceeded", 11},
	{"parameter-problem", 12},   {"timestamp-request", 13},
	{"timestamp-reply", 14},     {"info-request", 15},
	{"info-reply", 16},	     {"address-mask-request", 17},
	{"address-mask-reply", 18},
};

static const struct name_val icmp6_types[] = {
	{"destination-unreachable", 1},
	{"packet-too-big", 2},
	{"time-exceeded", 3},
	{"parameter-problem", 4},
	{"echo-request", 128},
	{"echo-reply", 129},
	{"mld-listener-query", 130},
	{"mld-listener-report", 131},
	{"mld-listener-done", 132},
	{"nd-router-solicit", 133},
	{"nd-router-advert", 134},
	{"nd-neighbor-solicit", 135},
	{"nd-neighbor-advert", 136},
	{"nd-redirect", 137},
	{"mld2-listener-report", 143},
	/* nft's other names: an alias of 132, and the rest of its table. */
	{"mld-listener-reduction", 132},
	{"router-renumbering", 138},
	{"ind-neighbor-solicit", 141},
	{"ind-neighbor-advert", 142},
};

/* In the order of the bits in the TCP header (and in nft). */
static const struct name_val tcp_flags[] = {
	{"fin", 0x01}, {"syn", 0x02}, {"rst", 0x04}, {"psh", 0x08},
	{"ack", 0x10}, {"urg", 0x20}, {"ecn", 0x40}, {"cwr", 0x80},
};

static const struct name_val ct_states[] = {
	{"new", XCT_CTS_NEW},
	{"established", XCT_CTS_ESTABLISHED},
	{"related", XCT_CTS_RELATED},
	{"invalid", XCT_CTS_INVALID},
	{"untracked", XCT_CTS_UNTRACKED},
};

static const struct name_val time_units[] = {
	{"second", 1000000000ULL},
	{"minute", 60ULL * 1000000000ULL},
	{"hour", 3600ULL * 1000000000ULL},
	{"day", 86400ULL * 1000000000ULL},
};

static const struct name_val byte_units[] = {
	{"bytes", 1},
	{"kbytes", 1024},
	{"mbytes", 1024 * 1024},
};

static int lookup(const struct name_val *tab, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(tab[i].name) == len && !memcmp(tab[i].name, s, len))
			return (int)i;
	return -1;
}

static const char *proto_name(__u8 proto, char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(proto_names); i++)
		if (proto_names[i].val == proto)
			return proto_names[i].name;
	snprintf(buf, n, "%u", proto);
	return buf;
}

/* ---- "Did you mean" ---- */

/* Optimal string alignment distance: edits plus adjacent transpositions. */
static unsigned int edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned int d[33][33];
	size_t i, j;

	if (la > 32 || lb > 32)
		return UINT_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned int cost = a[i - 1] != b[j - 1];
			unsigned int v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

struct suggest {
	const char *word;
	size_t len;
	unsigned int best_d;
	const char *best;
};

static void suggest_init(struct suggest *sg, const char *word, size_t len)
{
	sg->word = word;
	sg->len = len;
	sg->best_d = UINT_MAX;
	sg->best = NULL;
}

/* Near misses only: one edit for short words, two for longer ones.  Of
 * two as near, the one with the same first letter ("sin": syn, not fin). */
static void suggest_try(struct suggest *sg, const char *cand)
{
	unsigned int limit = sg->len <= 4 ? 1 : 2;
	unsigned int d = edit_distance(sg->word, sg->len, cand, strlen(cand));

	if (d > limit || d >= sg->len)
		return;
	if (d < sg->best_d ||
	    (d == sg->best_d && cand[0] == sg->word[0] && sg->best[0] != sg->word[0])) {
		sg->best_d = d;
		sg->best = cand;
	}
}

static void suggest_table(struct suggest *sg, const struct name_val *tab, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		suggest_try(sg, tab[i].name);
}

/* " (did you mean 'X'?)" or "", for appending to a message. */
static const char *suggest_text(const struct suggest *sg, const char *prefix, char *buf, size_t n)
{
	if (!sg->best)
		return "";
	snprintf(buf, n, " (did you mean '%s%s'?)", prefix, sg->best);
	return buf;
}

/* ---- Text ---- */

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Words hold keywords, names, numbers, addresses (10.0.0.0/8, ::1),
 * ranges (8000-8099), rates (10/second) and set references (@name). */
static bool is_word_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == ':' ||
	       c == '/' || c == '@';
}

/* ---- Lexer ---- */

enum tok_type {
	TOK_EOF,
	TOK_NL,
	TOK_WORD,
	TOK_STRING, /* "eth0": s and len include the quotes */
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_COMMA,
	TOK_SEMI,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_PIPE,
	TOK_AMP,
	TOK_EQ,	 /* == */
	TOK_NE,	 /* != */
	TOK_LT,	 /* < */
	TOK_GT,	 /* > */
	TOK_LE,	 /* <= */
	TOK_GE,	 /* >= */
	TOK_VAR, /* $name: replaced by its definition as it is read */
	TOK_BAD, /* a character no token starts with, or an unterminated string */
};

/*
 * A token: s and len are its text; off, end and loc where it stands in the
 * file being read.  A token that comes from a variable's value stands
 * where the variable was used ($name): its text is in the value.
 */
struct tok {
	enum tok_type type;
	const char *s;
	size_t len;
	size_t off;
	size_t end;
	struct xct_src_loc loc;
};

/* define NAME = VALUE: the value as text, its own variables replaced. */
struct define {
	char name[XCT_RULE_NAME_MAX];
	char *value;
	size_t len;
	char file[256];
	struct xct_src_loc loc;
};

/* Files an include is reading, outermost first, to refuse a loop. */
#define INCLUDE_DEPTH_MAX 16

struct include_id {
	dev_t dev;
	ino_t ino;
};

struct parser {
	const char *text;
	size_t len;
	size_t pos;	   /* where the lexer goes on */
	unsigned int line; /* pos's line */
	size_t line_start; /* offset of pos's line */
	struct tok cur;	   /* the next token, not consumed yet */
	struct tok last;   /* the token consumed last */
	const char *file;
	struct xct_rules_error *err;
	struct xct_ruleset rs;
	size_t sets_cap;
	size_t rules_cap;
	size_t nat_rules_cap;
	/* chain NAME { ... } being read: its index, or -1; where it opened */
	int chain_cur;
	struct tok chain_open;
	size_t chains_cap, maps_cap;
	size_t owner_rules_cap;
	int nat_action; /* of the NAT rule being parsed, for its messages */

	struct define *defines;
	size_t n_defines, defines_cap;
	/* The variable being read: tokens come from its value until its end. */
	const char *mac;
	size_t mac_len, mac_pos;
	struct tok mac_use; /* the $name being replaced */

	struct include_id includes[INCLUDE_DEPTH_MAX + 1];
	unsigned int depth; /* entries of includes in use */
};

static const struct define *find_define(const struct parser *p, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < p->n_defines; i++)
		if (strlen(p->defines[i].name) == len && !memcmp(p->defines[i].name, s, len))
			return &p->defines[i];
	return NULL;
}

/* Length of the variable name after a '$' at s[i]. */
static size_t var_name_len(const char *s, size_t i, size_t n)
{
	size_t j = i + 1;

	while (j < n && (is_alpha(s[j]) || is_digit(s[j]) || s[j] == '_' || s[j] == '-'))
		j++;
	return j - i - 1;
}

/* The token that starts at s[i], which is not blank: its type and length. */
static void scan(const char *s, size_t i, size_t n, struct tok *t)
{
	t->len = 1;
	switch (s[i]) {
	case '\n':
		t->type = TOK_NL;
		break;
	case '{':
		t->type = TOK_LBRACE;
		break;
	case '}':
		t->type = TOK_RBRACE;
		break;
	case ',':
		t->type = TOK_COMMA;
		break;
	case ';':
		t->type = TOK_SEMI;
		break;
	case '(':
		t->type = TOK_LPAREN;
		break;
	case ')':
		t->type = TOK_RPAREN;
		break;
	case '|':
		t->type = TOK_PIPE;
		break;
	case '&':
		t->type = TOK_AMP;
		break;
	case '=':
	case '!':
		if (i + 1 < n && s[i + 1] == '=') {
			t->type = s[i] == '=' ? TOK_EQ : TOK_NE;
			t->len = 2;
		} else {
			t->type = TOK_BAD;
		}
		break;
	case '<':
	case '>':
		if (i + 1 < n && s[i + 1] == '=') {
			t->type = s[i] == '<' ? TOK_LE : TOK_GE;
			t->len = 2;
		} else {
			t->type = s[i] == '<' ? TOK_LT : TOK_GT;
		}
		break;
	case '"': {
		size_t j = i + 1;

		while (j < n && s[j] != '"' && s[j] != '\n')
			j++;
		if (j < n && s[j] == '"') {
			t->type = TOK_STRING;
			t->len = j + 1 - i;
		} else {
			t->type = TOK_BAD;
			t->len = j - i;
		}
		break;
	}
	case '$':
		t->len = 1 + var_name_len(s, i, n);
		t->type = t->len > 1 ? TOK_VAR : TOK_BAD;
		break;
	default:
		if (is_word_char(s[i])) {
			size_t j = i;

			while (j < n && is_word_char(s[j]))
				j++;
			t->type = TOK_WORD;
			t->len = j - i;
		} else {
			size_t l = utf8_seq_len((const unsigned char *)s + i, n - i);

			t->type = TOK_BAD;
			t->len = l ? l : 1;
		}
		break;
	}
}

/* The next token of the variable being read; false at its end. */
static bool lex_var(struct parser *p, struct tok *t)
{
	const char *s = p->mac;
	size_t i = p->mac_pos, n = p->mac_len;

	while (i < n && s[i] == ' ')
		i++;
	if (i >= n) {
		p->mac = NULL;
		return false;
	}
	scan(s, i, n, t);
	t->s = s + i;
	t->off = p->mac_use.off;
	t->end = p->mac_use.end;
	t->loc = p->mac_use.loc;
	p->mac_pos = i + t->len;
	return true;
}

static void lex(struct parser *p, struct tok *t)
{
	const char *s = p->text;
	size_t i, n = p->len, at;

	if (p->mac && lex_var(p, t))
		return;
	i = p->pos;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	/* The end of a line with a comment is where the comment starts: a
	 * caret there points just past the last thing written. */
	at = i;
	if (i < n && s[i] == '#')
		while (i < n && s[i] != '\n')
			i++;

	t->s = s + i;
	t->off = at;
	t->len = 0;
	t->loc.line = p->line;
	t->loc.col = (unsigned int)(at - p->line_start + 1);
	if (i >= n) {
		t->type = TOK_EOF;
		t->end = p->pos = i;
		return;
	}
	scan(s, i, n, t);
	if (t->type == TOK_NL) {
		p->line++;
		p->line_start = i + 1;
	}
	t->end = p->pos = i + t->len;
	/* A variable is replaced by its value where it is used; one not
	 * defined stays TOK_VAR, an error wherever it stands. */
	if (t->type == TOK_VAR) {
		const struct define *d = find_define(p, t->s + 1, t->len - 1);

		if (d) {
			p->mac = d->value;
			p->mac_len = d->len;
			p->mac_pos = 0;
			p->mac_use = *t;
			if (!lex_var(p, t))
				lex(p, t);
		}
	}
}

static void advance(struct parser *p)
{
	p->last = p->cur;
	lex(p, &p->cur);
}

static bool tok_is(const struct tok *t, const char *word)
{
	size_t l = strlen(word);

	return t->type == TOK_WORD && t->len == l && !memcmp(t->s, word, l);
}

static bool stmt_end(const struct tok *t)
{
	return t->type == TOK_NL || t->type == TOK_SEMI || t->type == TOK_EOF;
}

/* A token's text for a message: at most 40 bytes, cut at a character. */
static const char *tok_text(const struct tok *t, char *buf, size_t n)
{
	size_t l = t->len;

	if (l > 40) {
		l = 40;
		while (l > 0 && ((unsigned char)t->s[l] & 0xc0) == 0x80)
			l--;
		snprintf(buf, n, "%.*s...", (int)l, t->s);
	} else {
		snprintf(buf, n, "%.*s", (int)l, t->s);
	}
	return buf;
}

/* What a message says it got: 'text', end of line or end of file. */
static const char *tok_desc(const struct tok *t, char *buf, size_t n)
{
	char txt[64];

	if (t->type == TOK_EOF)
		return "end of file";
	if (t->type == TOK_NL)
		return "end of line";
	snprintf(buf, n, "'%s'", tok_text(t, txt, sizeof(txt)));
	return buf;
}

#define TXT(t) tok_text((t), (char[64]){0}, 64)
#define GOT(t) tok_desc((t), (char[72]){0}, 72)

/* ---- Errors ---- */

/* Copies the line that starts at off into line_text: without its newline
 * or CR, non-printing bytes as '?', cut at a character boundary. */
static void copy_line(char *dst, size_t size, const char *text, size_t len, size_t off)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0, end = off;

	while (end < len && s[end] != '\n')
		end++;
	if (end > off && s[end - 1] == '\r')
		end--;
	while (off < end) {
		size_t l = s[off] >= 0x80 ? utf8_seq_len(s + off, end - off) : 1;

		if (o + (l ? l : 1) >= size)
			break;
		if (!l || (s[off] < 0x20 && s[off] != '\t') || s[off] == 0x7f) {
			dst[o++] = '?';
			off++;
			continue;
		}
		memcpy(dst + o, s + off, l);
		o += l;
		off += l;
	}
	dst[o] = '\0';
}

static int error_at(struct parser *p, size_t off, struct xct_src_loc loc, const char *msg)
{
	struct xct_rules_error *err = p->err;

	err->loc = loc;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	copy_line(err->line_text, sizeof(err->line_text), p->text, p->len, off - (loc.col - 1));
	return -EINVAL;
}

/* What is wrong with a TOK_BAD or an undefined TOK_VAR, whatever the
 * parser expected there. */
static void bad_tok_msg(const struct parser *p, const struct tok *t, char *msg, size_t n)
{
	struct suggest sg;
	char sugg[64];
	size_t i;

	if (t->type == TOK_VAR) {
		suggest_init(&sg, t->s + 1, t->len - 1);
		for (i = 0; i < p->n_defines; i++)
			suggest_try(&sg, p->defines[i].name);
		snprintf(msg, n, "undefined variable '%.*s'%s", (int)t->len, t->s,
			 suggest_text(&sg, "$", sugg, sizeof(sugg)));
	} else if (t->s[0] == '$')
		snprintf(msg, n,
			 "expected a variable name after '$' (define NAME = VALUE, then $NAME)");
	else if (t->s[0] == '"')
		snprintf(msg, n, "unterminated string (a closing '\"' is missing)");
	else if (t->s[0] == '!')
		snprintf(msg, n, "unexpected '!' (did you mean '!='?)");
	else if (t->s[0] == '=')
		snprintf(msg, n, "unexpected '=' (did you mean '=='?)");
	else
		snprintf(msg, n, "unexpected character '%.*s'", (int)t->len, t->s);
}

/* Reports an error at t; returns -EINVAL for the caller to pass up. */
__attribute__((format(printf, 3, 4))) static int perr(struct parser *p, const struct tok *t,
						      const char *fmt, ...)
{
	char msg[sizeof(p->err->msg)];
	va_list ap;

	if (t->type == TOK_BAD || t->type == TOK_VAR) {
		bad_tok_msg(p, t, msg, sizeof(msg));
	} else {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	return error_at(p, t->off, t->loc, msg);
}

static int oom(struct parser *p, const struct tok *t)
{
	error_at(p, t->off, t->loc, "out of memory");
	return -ENOMEM;
}

/*
 * A rules file is UTF-8 text: refuse NUL and other control bytes (a binary
 * file, or one in another encoding) at the first bad byte, before parsing,
 * so that nothing later has to expect them.
 */
static int check_text(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->text;
	struct xct_src_loc loc = {1, 1};
	size_t i = 0, line_start = 0;
	char msg[96];

	while (i < p->len) {
		unsigned char c = s[i];
		size_t l = 1;

		if (c == '\n') {
			loc.line++;
			line_start = i + 1;
		} else if (c >= 0x80) {
			l = utf8_seq_len(s + i, p->len - i);
			if (!l) {
				snprintf(msg, sizeof(msg),
					 "invalid UTF-8 byte 0x%02x (a rules file is UTF-8 text)",
					 c);
				goto bad;
			}
		} else if (c == 0) {
			snprintf(msg, sizeof(msg), "NUL byte (a rules file is text, not binary)");
			goto bad;
		} else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
			snprintf(msg, sizeof(msg),
				 "control character 0x%02x (a rules file is text)", c);
			goto bad;
		}
		i += l;
	}
	return 0;
bad:
	loc.col = (unsigned int)(i - line_start + 1);
	return error_at(p, i, loc, msg);
}

/* ---- Growing arrays ---- */

static void *vec_grow(void *arr, size_t *cap, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv;

	if (ncap > SIZE_MAX / size)
		return NULL;
	nv = realloc(arr, ncap * size);
	if (nv)
		*cap = ncap;
	return nv;
}

/* Room for one more element in arr (n used of cap): 0 or -ENOMEM. */
#define vec_reserve(arr, n, cap)                                                                   \
	({                                                                                         \
		int __r = 0;                                                                       \
		if ((n) >= (cap)) {                                                                \
			void *__nv = vec_grow((arr), &(cap), sizeof(*(arr)));                      \
			if (__nv)                                                                  \
				(arr) = __nv;                                                      \
			else                                                                       \
				__r = -ENOMEM;                                                     \
		}                                                                                  \
		__r;                                                                               \
	})

/* ---- Numbers, prefixes, port ranges ---- */

enum num_res {
	NUM_OK,
	NUM_BAD,   /* not a decimal number */
	NUM_RANGE, /* above max */
};

static enum num_res parse_num(const char *s, size_t len, unsigned long long max,
			      unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (!len)
		return NUM_BAD;
	for (i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return NUM_BAD;
	for (i = 0; i < len; i++) {
		v = v * 10 + (unsigned long long)(s[i] - '0');
		if (v > max) {
			*out = v;
			return NUM_RANGE;
		}
	}
	*out = v;
	return NUM_OK;
}

static void format_prefix(const struct xct_prefix *pf, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	bool v6 = pf->family == XCT_AF_INET6;

	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, pf->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	if (pf->plen == (v6 ? 128 : 32))
		snprintf(buf, n, "%s", a);
	else
		snprintf(buf, n, "%s/%u", a, pf->plen);
}

/*
 * "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (a /32), "::1" (a /128).  The
 * family follows from the text (a ':' means IPv6); host bits past the
 * prefix length are an error, since "10.0.0.1/8" is usually a typo for
 * either the host or the network.
 */
static int prefix_parse(const char *s, size_t len, struct xct_prefix *out, char *msg, size_t n)
{
	char addr[INET6_ADDRSTRLEN + 1], net[INET6_ADDRSTRLEN + 8];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	bool v6 = memchr(s, ':', alen) != NULL;
	unsigned int max = v6 ? 128 : 32, plen = max, i;
	struct xct_prefix pf, nw;

	memset(&pf, 0, sizeof(pf));
	pf.family = v6 ? XCT_AF_INET6 : XCT_AF_INET;
	if (alen >= sizeof(addr)) {
		snprintf(msg, n, "invalid address '%.40s...'", s);
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, pf.addr) != 1) {
		snprintf(msg, n, "invalid %s address '%s'", v6 ? "IPv6" : "IPv4", addr);
		return -EINVAL;
	}
	if (slash) {
		unsigned long long v;
		const char *l = slash + 1;
		size_t llen = len - alen - 1;

		switch (parse_num(l, llen, 999, &v)) {
		case NUM_OK:
			if (v <= max)
				break;
			/* fall through */
		case NUM_RANGE:
			snprintf(msg, n, "prefix length %.*s is out of range for %s (0-%u)",
				 (int)(llen > 20 ? 20 : llen), l, v6 ? "IPv6" : "IPv4", max);
			return -EINVAL;
		default:
			snprintf(msg, n, "invalid prefix length '%.*s' in '%.*s'",
				 (int)(llen > 20 ? 20 : llen), l, (int)(len > 80 ? 80 : len), s);
			return -EINVAL;
		}
		plen = (unsigned int)v;
	}
	pf.plen = (__u8)plen;

	/* The network: the first plen bits. */
	nw = pf;
	for (i = 0; i < 16; i++) {
		unsigned int bit = i * 8;

		if (bit >= plen)
			nw.addr[i] = 0;
		else if (bit + 8 > plen)
			nw.addr[i] &= (__u8)(0xff << (8 - (plen - bit)));
	}
	if (memcmp(nw.addr, pf.addr, sizeof(pf.addr))) {
		format_prefix(&nw, net, sizeof(net));
		snprintf(msg, n, "host bits set in %.*s (did you mean %s?)",
			 (int)(len > 80 ? 80 : len), s, net);
		return -EINVAL;
	}
	*out = pf;
	return 0;
}

/* "80" or "8000-8099". */
static int port_range_parse(const char *s, size_t len, struct xct_port_range *out, char *msg,
			    size_t n)
{
	const char *dash = memchr(s, '-', len);
	size_t l1 = dash ? (size_t)(dash - s) : len;
	unsigned long long lo, hi;
	enum num_res r1, r2 = NUM_OK;
	int shown = (int)(len > 40 ? 40 : len);

	r1 = parse_num(s, l1, 65535, &lo);
	hi = lo;
	if (dash)
		r2 = parse_num(dash + 1, len - l1 - 1, 65535, &hi);
	if (r1 == NUM_BAD || r2 == NUM_BAD) {
		snprintf(msg, n, dash ? "invalid port range '%.*s'" : "invalid port '%.*s'", shown,
			 s);
		return -EINVAL;
	}
	if (r1 == NUM_RANGE || r2 == NUM_RANGE) {
		const char *bad = r1 == NUM_RANGE ? s : dash + 1;
		size_t bl = r1 == NUM_RANGE ? l1 : len - l1 - 1;

		snprintf(msg, n, "port %.*s is out of range (0-65535)", (int)(bl > 20 ? 20 : bl),
			 bad);
		return -EINVAL;
	}
	if (lo > hi) {
		snprintf(msg, n, "port range %llu-%llu is reversed (did you mean %llu-%llu?)", lo,
			 hi, hi, lo);
		return -EINVAL;
	}
	out->lo = (__u16)lo;
	out->hi = (__u16)hi;
	return 0;
}

int xct_parse_prefix_msg(const char *s, struct xct_prefix *out, char *msg, size_t msglen)
{
	char dummy[8];

	if (!msg || !msglen) {
		msg = dummy;
		msglen = sizeof(dummy);
	}
	return prefix_parse(s, strlen(s), out, msg, msglen);
}

int xct_parse_port_range_msg(const char *s, struct xct_port_range *out, char *msg, size_t msglen)
{
	char dummy[8];

	if (!msg || !msglen) {
		msg = dummy;
		msglen = sizeof(dummy);
	}
	return port_range_parse(s, strlen(s), out, msg, msglen);
}

int xct_parse_prefix(const char *s, struct xct_prefix *out)
{
	return xct_parse_prefix_msg(s, out, NULL, 0);
}

int xct_parse_port_range(const char *s, struct xct_port_range *out)
{
	return xct_parse_port_range_msg(s, out, NULL, 0);
}

/* What a word looks like: an address (it has '.', ':' or '/'), a port or
 * range (digits and '-'), or neither.  Decides which message an element
 * that does not parse gets. */
enum elem_kind {
	ELEM_NONE,
	ELEM_ADDR,
	ELEM_PORT,
};

static enum elem_kind elem_kind_of(const struct tok *t)
{
	size_t i;

	if (t->type != TOK_WORD || t->s[0] == '@')
		return ELEM_NONE;
	for (i = 0; i < t->len; i++)
		if (t->s[i] == '.' || t->s[i] == ':' || t->s[i] == '/')
			return ELEM_ADDR;
	if (!is_digit(t->s[0]))
		return ELEM_NONE;
	for (i = 0; i < t->len; i++)
		if (!is_digit(t->s[i]) && t->s[i] != '-')
			return ELEM_NONE;
	return ELEM_PORT;
}

/* ---- Lists ---- */

static bool is_stmt_keyword(const struct tok *t)
{
	return t->type == TOK_WORD &&
	       lookup(stmt_keywords, ARRAY_SIZE(stmt_keywords), t->s, t->len) >= 0;
}

/* Skips newlines inside '{ }'; true if there were any. */
static bool skip_nl(struct parser *p)
{
	bool any = false;

	/* Not advance(): p->last stays the token before, for messages. */
	while (p->cur.type == TOK_NL) {
		lex(p, &p->cur);
		any = true;
	}
	return any;
}

/*
 * A '{' whose '}' is missing shows up as the end of the file, or as the
 * next statement on a later line: report it at the '{', which is where the
 * fix goes, rather than at whatever follows.
 */
static bool list_unterminated(const struct parser *p, bool crossed_nl)
{
	return p->cur.type == TOK_EOF || (crossed_nl && is_stmt_keyword(&p->cur));
}

typedef int (*elem_fn)(struct parser *p, void *ctx);

/*
 * '{' ELEM [',' ELEM]... [','] '}', which may span lines; cur is the '{'.
 * elem parses one element at cur.  *count is the number of elements; an
 * empty list is an error after 'what' unless allow_empty.
 */
static int parse_list(struct parser *p, const char *what, bool allow_empty, elem_fn elem, void *ctx,
		      size_t *count)
{
	struct tok open = p->cur;
	size_t n = 0;
	bool nl;
	int err;

	advance(p);
	for (;;) {
		nl = skip_nl(p);
		if (list_unterminated(p, nl))
			return perr(p, &open, "unterminated '{' (opened at line %u)",
				    open.loc.line);
		if (p->cur.type == TOK_RBRACE) {
			if (!n && !allow_empty)
				return perr(p, &open, "empty list '{ }' after '%s'", what);
			break;
		}
		if (p->cur.type == TOK_LBRACE)
			return perr(p, &p->cur, "unexpected '{' inside a list (lists do not nest)");
		err = elem(p, ctx);
		if (err)
			return err;
		n++;
		nl = skip_nl(p);
		if (list_unterminated(p, nl))
			return perr(p, &open, "unterminated '{' (opened at line %u)",
				    open.loc.line);
		if (p->cur.type == TOK_RBRACE)
			break;
		if (p->cur.type != TOK_COMMA)
			return perr(p, &p->cur, "expected ',' or '}' after '%s', got %s",
				    TXT(&p->last), GOT(&p->cur));
		advance(p);
	}
	advance(p); /* '}' */
	*count = n;
	return 0;
}

/* ---- Sets ---- */

/* Concatenations: rules/parse_concat.h, included further down. */
struct rule_ctx;
static bool set_is_typed(struct parser *p);
static int parse_typed_set(struct parser *p, struct xct_set_def *def, const struct tok *open);
static bool next_is_dot(struct parser *p);
static int parse_concat(struct parser *p, struct rule_ctx *rc, __u8 first, const struct tok *at);
static int concat_type_parse(struct parser *p, __u8 *types, __u8 *n, bool *single);
static int concat_vmap_elem(struct parser *p, void *ctx);
static int check_concat_rule(struct parser *p, const struct rule_ctx *rc, const struct tok *first);

static int check_set_name(struct parser *p, const struct tok *t, const char *what)
{
	size_t i;

	if (!is_alpha(t->s[0]) && t->s[0] != '_')
		goto bad;
	for (i = 1; i < t->len; i++)
		if (!is_alpha(t->s[i]) && !is_digit(t->s[i]) && t->s[i] != '_' && t->s[i] != '-')
			goto bad;
	if (t->len > XCT_RULE_NAME_MAX - 1)
		return perr(p, t, "%s '%s' is too long (at most %d characters)", what, TXT(t),
			    XCT_RULE_NAME_MAX - 1);
	return 0;
bad:
	return perr(p, t, "invalid %s '%s' (a letter or '_', then letters, digits, '_' or '-')",
		    what, TXT(t));
}

static int find_set(const struct xct_ruleset *rs, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < rs->n_sets; i++)
		if (!rs->sets[i].anon && strlen(rs->sets[i].name) == len &&
		    !memcmp(rs->sets[i].name, s, len))
			return (int)i;
	return -1;
}

struct set_ctx {
	struct xct_set_def *def;
	bool kind_known;
	size_t cap;
};

static int set_elem(struct parser *p, void *ctx)
{
	struct set_ctx *sc = ctx;
	struct xct_set_def *def = sc->def;
	const struct tok *t = &p->cur;
	enum elem_kind kind = elem_kind_of(t);
	char msg[sizeof(p->err->msg)];
	bool addr = def->kind == XCT_SET_ADDR;

	if (t->type == TOK_WORD && t->s[0] == '@')
		return perr(p, t, "a set cannot hold another set ('%s')", TXT(t));
	if (kind == ELEM_NONE) {
		/* nft declares a set's type; xct infers it from the elements. */
		if (!sc->kind_known && !def->n_prefixes && !def->n_ports &&
		    (tok_is(t, "type") || tok_is(t, "elements") || tok_is(t, "flags")))
			return perr(
				p, t,
				"'%s' is not needed: a set lists its elements, as in 'set %s { 10.0.0.0/8, 192.0.2.1 }'",
				TXT(t), def->name);
		if (!sc->kind_known)
			return perr(
				p, t,
				"expected an address, a prefix, a port or a port range in set '%s', got %s",
				def->name, GOT(t));
		return perr(p, t, "expected %s in set '%s', got %s",
			    addr ? "an address or a prefix" : "a port or a port range", def->name,
			    GOT(t));
	}
	if (!sc->kind_known) {
		def->kind = kind == ELEM_ADDR ? XCT_SET_ADDR : XCT_SET_PORT;
		sc->kind_known = true;
		addr = kind == ELEM_ADDR;
	} else if ((kind == ELEM_ADDR) != addr) {
		return perr(p, t, "'%s' is %s, but set '%s' holds %s", TXT(t),
			    kind == ELEM_ADDR ? "an address" : "a port", def->name,
			    addr ? "addresses" : "ports");
	}

	if (addr) {
		if (vec_reserve(def->prefixes, def->n_prefixes, sc->cap))
			return oom(p, t);
		if (prefix_parse(t->s, t->len, &def->prefixes[def->n_prefixes], msg, sizeof(msg)))
			return perr(p, t, "%s", msg);
		def->n_prefixes++;
	} else {
		if (vec_reserve(def->ports, def->n_ports, sc->cap))
			return oom(p, t);
		if (port_range_parse(t->s, t->len, &def->ports[def->n_ports], msg, sizeof(msg)))
			return perr(p, t, "%s", msg);
		def->n_ports++;
	}
	advance(p);
	return 0;
}

/* set NAME [addr|port] { ELEMENT, ... } */
static int parse_set(struct parser *p)
{
	struct tok kw = p->cur, name, open;
	struct xct_set_def def;
	struct set_ctx sc = {&def, false, 0};
	size_t n;
	int err, prev;

	memset(&def, 0, sizeof(def));
	advance(p);
	name = p->cur;
	if (name.type != TOK_WORD)
		return perr(p, &name, "expected a set name after 'set', got %s", GOT(&name));
	err = check_set_name(p, &name, "set name");
	if (err)
		return err;
	prev = find_set(&p->rs, name.s, name.len);
	if (prev >= 0)
		return perr(p, &name, "set '%s' is already defined (at line %u)", TXT(&name),
			    p->rs.sets[prev].loc.line);
	if (p->rs.n_sets >= XCT_SETS_MAX)
		return perr(p, &kw, "too many sets (at most %d)", XCT_SETS_MAX);
	memcpy(def.name, name.s, name.len);
	def.loc = kw.loc;
	advance(p);

	if (tok_is(&p->cur, "addr") || tok_is(&p->cur, "port")) {
		def.kind = tok_is(&p->cur, "addr") ? XCT_SET_ADDR : XCT_SET_PORT;
		sc.kind_known = true;
		advance(p);
		if (p->cur.type != TOK_LBRACE)
			return perr(p, &p->cur, "expected '{' after '%s', got %s", TXT(&p->last),
				    GOT(&p->cur));
	} else if (p->cur.type != TOK_LBRACE) {
		return perr(p, &p->cur, "expected '{', 'addr' or 'port' after 'set %s', got %s",
			    def.name, GOT(&p->cur));
	}

	open = p->cur;
	if (!sc.kind_known && set_is_typed(p)) {
		err = parse_typed_set(p, &def, &open);
		n = 1;
		sc.kind_known = true;
	} else {
		err = parse_list(p, def.name, true, set_elem, &sc, &n);
	}
	if (!err && !n && !sc.kind_known)
		err = perr(p, &open,
			   "empty set '%s' needs a kind: 'set %s addr { }' or 'set %s port { }'",
			   def.name, def.name, def.name);
	if (!err && !stmt_end(&p->cur))
		err = perr(p, &p->cur, "expected end of line after '}', got %s", GOT(&p->cur));
	if (!err && vec_reserve(p->rs.sets, p->rs.n_sets, p->sets_cap))
		err = oom(p, &kw);
	if (err) {
		free(def.prefixes);
		free(def.ports);
		free(def.elems);
		return err;
	}
	p->rs.sets[p->rs.n_sets++] = def;
	return 0;
}

/* ---- policy ---- */

static int parse_policy(struct parser *p)
{
	struct tok kw = p->cur;

	if (p->rs.policy_loc.line)
		return perr(p, &kw, "'policy' given twice (first at line %u)",
			    p->rs.policy_loc.line);
	advance(p);
	if (tok_is(&p->cur, "accept"))
		p->rs.policy = XCT_POLICY_ACCEPT;
	else if (tok_is(&p->cur, "drop"))
		p->rs.policy = XCT_POLICY_DROP;
	else
		return perr(p, &p->cur, "expected 'accept' or 'drop' after 'policy', got %s",
			    GOT(&p->cur));
	p->rs.policy_loc = kw.loc;
	advance(p);
	if (!stmt_end(&p->cur))
		return perr(p, &p->cur, "expected end of line after 'policy %s', got %s",
			    TXT(&p->last), GOT(&p->cur));
	return 0;
}

/* ---- Rules ---- */

struct rule_ctx {
	struct xct_rule r;
	size_t cap_ifaces, cap_iface_locs, cap_saddr, cap_daddr, cap_sport, cap_dport, cap_icmp;
	bool has_iface;
	struct tok iface_kw; /* the iif, oif, iifname or oifname it was given by */
	bool has_reject_with;
	struct tok ports_tok; /* the first of sport/dport, for protocol checks */
	char fam_src[24];     /* the word that set the family */
	bool has_icmp_type;
	bool has_ct;
	size_t cap_skuid, cap_skgid;
	struct tok owner_tok;	/* the first owner match ("meta", "socket") */
	const char *owner_what; /* its name: "meta skuid", "socket cgroupv2" */
	struct tok iface_tok;	/* iif or oif */
	struct tok late_tok;	/* the first match an owner rule cannot decide */
	const char *late_what;
};

static void rule_free(struct xct_rule *r)
{
	if (r->vmap)
		free(r->vmap->elems);
	free(r->vmap);
	free(r->jump);
	free(r->text);
	free(r->comment);
	free(r->log_prefix);
	free(r->ifaces);
	free(r->iface_locs);
	free(r->saddr.list);
	free(r->daddr.list);
	free(r->sport.list);
	free(r->dport.list);
	free(r->icmp);
	free(r->skuid.list);
	free(r->skgid.list);
	free(r->cgroup.path);
}

static bool proto_has_ports(__u8 proto)
{
	return proto == PROTO_TCP || proto == PROTO_UDP;
}

/* A protocol from tcp, udp, icmp, icmpv6, tcp flags or meta l4proto; t is
 * the word that says it. */
static int set_proto(struct parser *p, struct rule_ctx *rc, const struct tok *t, __u8 proto)
{
	char b1[8], b2[8];

	if (rc->r.has_proto && rc->r.proto != proto)
		return perr(p, t, "protocol '%s' conflicts with '%s' earlier in the rule",
			    proto_name(proto, b1, sizeof(b1)),
			    proto_name(rc->r.proto, b2, sizeof(b2)));
	if ((rc->r.sport.present || rc->r.dport.present) && !proto_has_ports(proto))
		return perr(p, t, "protocol '%s' has no ports, but the rule matches '%s'",
			    proto_name(proto, b1, sizeof(b1)), TXT(&rc->ports_tok));
	rc->r.has_proto = true;
	rc->r.proto = proto;
	return 0;
}

static const char *family_name(__u8 family)
{
	return family == XCT_AF_INET6 ? "IPv6" : "IPv4";
}

static int check_family_list(struct parser *p, const struct tok *t, const char *what,
			     const struct xct_addr_match *m, __u8 family)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (m->list[i].family != family) {
			format_prefix(&m->list[i], buf, sizeof(buf));
			return perr(p, t,
				    "'%s' conflicts with the %s address %s earlier in the rule",
				    what, family_name(m->list[i].family), buf);
		}
	}
	return 0;
}

/* A family from ip, ip6, icmp, icmpv6 or meta l4proto; what is how the
 * rule says it, t where. */
static int set_family(struct parser *p, struct rule_ctx *rc, const struct tok *t, const char *what,
		      __u8 family)
{
	int err;

	/* Saying it again changes nothing (ip saddr X ip daddr Y); returning
	 * early also keeps "ip ip ip ..." from rescanning the lists. */
	if (rc->r.family == family)
		return 0;
	if (rc->r.family)
		return perr(p, t, "'%s' conflicts with '%s' earlier in the rule (%s and %s)", what,
			    rc->fam_src, family_name(family), family_name(rc->r.family));
	err = check_family_list(p, t, what, &rc->r.saddr, family);
	if (!err)
		err = check_family_list(p, t, what, &rc->r.daddr, family);
	if (err)
		return err;
	snprintf(rc->fam_src, sizeof(rc->fam_src), "%s", what);
	rc->r.family = family;
	return 0;
}

/*
 * Whether character i of an interface name of len characters is valid:
 * iifname and oifname take a '*' at the end, as nftables, for every name
 * the characters before it start.
 */
static bool iface_char_ok(const struct rule_ctx *rc, const char *s, size_t i, size_t len)
{
	if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.')
		return true;
	return rc->r.iface_by_name && s[i] == '*' && i == len - 1;
}

/* iif/oif/iifname/oifname: a name, as a word or a "string". */
static int iface_elem(struct parser *p, void *ctx)
{
	struct rule_ctx *rc = ctx;
	const struct tok *t = &p->cur;
	const char *s = t->s;
	size_t len = t->len, i;

	if (t->type != TOK_WORD && t->type != TOK_STRING)
		return perr(p, t, "expected an interface name after '%s', got %s", TXT(&p->last),
			    GOT(t));
	if (t->type == TOK_STRING) {
		s++;
		len -= 2;
	}
	if (!len)
		return perr(p, t, "empty interface name");
	for (i = 0; i < len; i++) {
		if (iface_char_ok(rc, s, i, len))
			continue;
		if (s[i] == '*' && !rc->r.iface_by_name)
			return perr(p, t,
				    "'%s' matches one interface by its index, without wildcards: "
				    "'%sname %s' matches names",
				    TXT(&rc->iface_kw), TXT(&rc->iface_kw), TXT(t));
		if (s[i] == '*')
			return perr(p, t, "a wildcard '*' ends an interface name: '%s'", TXT(t));
		return perr(p, t, "invalid interface name '%s' (letters, digits, '_', '-' and '.')",
			    TXT(t));
	}
	if (len > XCT_IFNAME_MAX - 1)
		return perr(p, t, "interface name '%.*s' is too long (at most %d characters)",
			    (int)len, s, XCT_IFNAME_MAX - 1);
	if (vec_reserve(rc->r.ifaces, rc->r.n_ifaces, rc->cap_ifaces) ||
	    vec_reserve(rc->r.iface_locs, rc->r.n_ifaces, rc->cap_iface_locs))
		return oom(p, t);
	rc->r.iface_locs[rc->r.n_ifaces] = t->loc;
	memset(rc->r.ifaces[rc->r.n_ifaces], 0, XCT_IFNAME_MAX);
	memcpy(rc->r.ifaces[rc->r.n_ifaces], s, len);
	rc->r.n_ifaces++;
	advance(p);
	return 0;
}

/*
 * iif NAME | iif != NAME | iif { NAME, ... }, and the same for oif,
 * iifname and oifname.  A rule has one interface match: iif by index and
 * iifname by name would be two lookups of one field.
 */
static int parse_iface(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur;
	bool egress = tok_is(&kw, "oif") || tok_is(&kw, "oifname");
	bool by_name = tok_is(&kw, "iifname") || tok_is(&kw, "oifname");
	size_t n;

	if (rc->has_iface) {
		/* Named ingress first, whichever came first. */
		if ((rc->r.hook == XCT_HOOK_EGRESS) != egress)
			return perr(p, &kw,
				    "'%s' and '%s' cannot be combined in one rule (a rule applies "
				    "at ingress or at egress)",
				    TXT(egress ? &rc->iface_kw : &kw),
				    TXT(egress ? &kw : &rc->iface_kw));
		if (rc->r.iface_by_name == by_name)
			return perr(p, &kw, "'%s' given twice", TXT(&kw));
		return perr(p, &kw, "'%s' and '%s' cannot be combined in one rule",
			    TXT(&rc->iface_kw), TXT(&kw));
	}
	rc->has_iface = true;
	rc->iface_kw = kw;
	rc->r.iface_by_name = by_name;
	rc->iface_tok = kw;
	rc->r.hook = egress ? XCT_HOOK_EGRESS : XCT_HOOK_INGRESS;
	advance(p);
	if (p->cur.type == TOK_NE) {
		rc->r.iface_negate = true;
		advance(p);
	}
	if (p->cur.type == TOK_LBRACE)
		return parse_list(p, TXT(&kw), false, iface_elem, rc, &n);
	if (p->cur.type != TOK_WORD && p->cur.type != TOK_STRING)
		return perr(p, &p->cur, "expected an interface name or '{' after '%s', got %s",
			    TXT(&kw), GOT(&p->cur));
	return iface_elem(p, rc);
}

struct addr_ctx {
	struct rule_ctx *rc;
	struct xct_addr_match *m;
	size_t *cap;
	const char *kw;
};

static int addr_elem(struct parser *p, void *ctx)
{
	struct addr_ctx *ac = ctx;
	struct rule_ctx *rc = ac->rc;
	const struct tok *t = &p->cur;
	char msg[sizeof(p->err->msg)];
	struct xct_prefix pf;

	if (t->type == TOK_WORD && t->s[0] == '@')
		return perr(p, t, "a set ('%s') cannot be an element of a list", TXT(t));
	if (elem_kind_of(t) != ELEM_ADDR)
		return perr(p, t, "expected an address or a prefix in the list after '%s', got %s",
			    ac->kw, GOT(t));
	if (prefix_parse(t->s, t->len, &pf, msg, sizeof(msg)))
		return perr(p, t, "%s", msg);
	if (rc->r.family && pf.family != rc->r.family)
		return perr(p, t, "'%s' is %s, but the rule matches %s only ('%s')", TXT(t),
			    family_name(pf.family), family_name(rc->r.family), rc->fam_src);
	if (vec_reserve(ac->m->list, ac->m->n, *ac->cap))
		return oom(p, t);
	ac->m->list[ac->m->n++] = pf;
	advance(p);
	return 0;
}

/* Resolves @name to a set of the kind wanted: its index or -errno. */
static int set_ref(struct parser *p, const struct tok *t, enum xct_set_kind kind)
{
	const char *name = t->s + 1;
	size_t len = t->len - 1, i;
	char sugg[64];
	struct suggest sg;
	int idx = find_set(&p->rs, name, len);

	if (idx < 0) {
		suggest_init(&sg, name, len);
		for (i = 0; i < p->rs.n_sets; i++)
			suggest_try(&sg, p->rs.sets[i].name);
		return perr(p, t, "unknown set '%s'%s", TXT(t),
			    suggest_text(&sg, "@", sugg, sizeof(sugg)));
	}
	if (p->rs.sets[idx].kind != kind)
		return perr(p, t, "set '%s' holds %s, not %s", p->rs.sets[idx].name,
			    kind == XCT_SET_ADDR ? "ports" : "addresses",
			    kind == XCT_SET_ADDR ? "addresses" : "ports");
	return idx;
}

/*
 * What follows an address or port keyword: [!=] and then a list in braces,
 * a named set of that kind, or one element.  want names the element in the
 * error ("an address, a prefix").
 */
static int parse_match_value(struct parser *p, const char *kw, bool *negate, int *set,
			     enum xct_set_kind kind, elem_fn elem, void *ctx, const char *want)
{
	size_t n;
	int idx;

	advance(p);
	if (p->cur.type == TOK_NE) {
		*negate = true;
		advance(p);
	}
	if (p->cur.type == TOK_LBRACE)
		return parse_list(p, kw, false, elem, ctx, &n);
	if (p->cur.type == TOK_WORD && p->cur.s[0] == '@') {
		idx = set_ref(p, &p->cur, kind);
		if (idx < 0)
			return idx;
		*set = idx;
		advance(p);
		return 0;
	}
	if (elem_kind_of(&p->cur) != (kind == XCT_SET_ADDR ? ELEM_ADDR : ELEM_PORT))
		return perr(p, &p->cur, "expected %s, a set (@name) or '{' after '%s', got %s",
			    want, kw, GOT(&p->cur));
	return elem(p, ctx);
}

static bool next_is_vmap(struct parser *p);
static int parse_vmap(struct parser *p, struct rule_ctx *rc, enum xct_vmap_field field);

/* saddr|daddr [!=] (ADDR | PREFIX | { ... } | @set) */
static int parse_addr_match(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur;
	bool src = tok_is(&kw, "saddr");
	struct xct_addr_match *m = src ? &rc->r.saddr : &rc->r.daddr;
	struct addr_ctx ac = {rc, m, src ? &rc->cap_saddr : &rc->cap_daddr,
			      src ? "saddr" : "daddr"};

	if (next_is_dot(p)) {
		if (!rc->r.family)
			return perr(p, &kw,
				    "'%s' in a concatenation needs its family: 'ip %s' or 'ip6 %s'",
				    ac.kw, ac.kw, ac.kw);
		advance(p);
		return parse_concat(p, rc,
				    rc->r.family == XCT_AF_INET6
					    ? (src ? XCT_CF_SADDR6 : XCT_CF_DADDR6)
					    : (src ? XCT_CF_SADDR4 : XCT_CF_DADDR4),
				    &kw);
	}
	if (m->present)
		return perr(p, &kw, "'%s' given twice", ac.kw);
	if (next_is_vmap(p))
		return parse_vmap(p, rc, src ? XCT_VMAP_SADDR : XCT_VMAP_DADDR);
	m->present = true;
	return parse_match_value(p, ac.kw, &m->negate, &m->set, XCT_SET_ADDR, addr_elem, &ac,
				 "an address, a prefix");
}

struct port_ctx {
	struct rule_ctx *rc;
	struct xct_port_match *m;
	size_t *cap;
	const char *kw;
};

static int port_elem(struct parser *p, void *ctx)
{
	struct port_ctx *pc = ctx;
	const struct tok *t = &p->cur;
	char msg[sizeof(p->err->msg)];
	struct xct_port_range pr;

	if (t->type == TOK_WORD && t->s[0] == '@')
		return perr(p, t, "a set ('%s') cannot be an element of a list", TXT(t));
	if (elem_kind_of(t) != ELEM_PORT)
		return perr(p, t, "expected a port or a port range in the list after '%s', got %s",
			    pc->kw, GOT(t));
	if (port_range_parse(t->s, t->len, &pr, msg, sizeof(msg)))
		return perr(p, t, "%s", msg);
	if (vec_reserve(pc->m->list, pc->m->n, *pc->cap))
		return oom(p, t);
	pc->m->list[pc->m->n++] = pr;
	advance(p);
	return 0;
}

/* sport|dport [!=] (PORT | LO-HI | { ... } | @set) */
static int parse_port_match(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur;
	bool src = tok_is(&kw, "sport");
	struct xct_port_match *m = src ? &rc->r.sport : &rc->r.dport;
	struct port_ctx pc = {rc, m, src ? &rc->cap_sport : &rc->cap_dport,
			      src ? "sport" : "dport"};
	char b[8];

	if (!m->present && next_is_dot(p) && !(rc->r.has_proto && !proto_has_ports(rc->r.proto))) {
		if (!rc->r.sport.present && !rc->r.dport.present)
			rc->ports_tok = kw;
		advance(p);
		return parse_concat(p, rc, src ? XCT_CF_SPORT : XCT_CF_DPORT, &kw);
	}
	if (m->present)
		return perr(p, &kw, "'%s' given twice", pc.kw);
	if (rc->r.has_proto && !proto_has_ports(rc->r.proto))
		return perr(p, &kw, "'%s' needs protocol 'tcp' or 'udp', but the rule matches '%s'",
			    pc.kw, proto_name(rc->r.proto, b, sizeof(b)));
	if (!rc->r.sport.present && !rc->r.dport.present)
		rc->ports_tok = kw;
	if (next_is_vmap(p))
		return parse_vmap(p, rc, src ? XCT_VMAP_SPORT : XCT_VMAP_DPORT);
	m->present = true;
	return parse_match_value(p, pc.kw, &m->negate, &m->set, XCT_SET_PORT, port_elem, &pc,
				 "a port, a port range");
}

/* One TCP flag name at cur; after names the token before it. */
static int tcp_flag(struct parser *p, __u8 *flags)
{
	const struct tok *t = &p->cur;
	struct suggest sg;
	char sugg[64];
	int i;

	if (t->type != TOK_WORD || !is_alpha(t->s[0]))
		return perr(
			p, t,
			"expected a TCP flag (fin, syn, rst, psh, ack, urg, ecn, cwr) after '%s', got %s",
			TXT(&p->last), GOT(t));
	i = lookup(tcp_flags, ARRAY_SIZE(tcp_flags), t->s, t->len);
	if (i < 0) {
		suggest_init(&sg, t->s, t->len);
		suggest_table(&sg, tcp_flags, ARRAY_SIZE(tcp_flags));
		if (sg.best)
			return perr(p, t, "unknown TCP flag '%s'%s", TXT(t),
				    suggest_text(&sg, "", sugg, sizeof(sugg)));
		return perr(p, t,
			    "unknown TCP flag '%s' (fin, syn, rst, psh, ack, urg, ecn or cwr)",
			    TXT(t));
	}
	*flags |= (__u8)tcp_flags[i].val;
	advance(p);
	return 0;
}

/* FLAG [| FLAG]..., also with ',' when commas is set; or '(' ... ')'. */
static int tcp_flag_expr(struct parser *p, bool commas, __u8 *flags)
{
	bool paren = p->cur.type == TOK_LPAREN;
	int err;

	*flags = 0;
	if (paren)
		advance(p);
	for (;;) {
		err = tcp_flag(p, flags);
		if (err)
			return err;
		if (p->cur.type == TOK_PIPE || (commas && !paren && p->cur.type == TOK_COMMA)) {
			advance(p);
			continue;
		}
		break;
	}
	if (paren) {
		if (p->cur.type != TOK_RPAREN)
			return perr(p, &p->cur, "expected '|' or ')' after '%s', got %s",
				    TXT(&p->last), GOT(&p->cur));
		advance(p);
	}
	if (!commas && p->cur.type == TOK_COMMA)
		return perr(p, &p->cur, "',' cannot combine flags here: use '|' (syn|ack)");
	return 0;
}

static void format_flags(__u8 flags, char *buf, size_t n)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(tcp_flags); i++)
		if (flags & tcp_flags[i].val)
			o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? "|" : "",
					      tcp_flags[i].name);
}

/*
 * tcp flags syn[,ack|...]		any of them set (nft's implicit form)
 * tcp flags == syn|ack			exactly these
 * tcp flags & (syn|ack) == syn		these under the mask
 * cur is 'flags'; kw is the 'tcp' before it.
 */
static int parse_tcp_flags(struct parser *p, struct rule_ctx *rc, const struct tok *kw)
{
	__u8 mask, value;
	char b1[48], b2[48];
	int err;

	if (rc->r.has_tcp_flags)
		return perr(p, kw, "'tcp flags' given twice");
	advance(p);
	if (p->cur.type == TOK_EQ) {
		advance(p);
		err = tcp_flag_expr(p, false, &value);
		if (err)
			return err;
		mask = 0xff;
	} else if (p->cur.type == TOK_AMP) {
		advance(p);
		err = tcp_flag_expr(p, false, &mask);
		if (err)
			return err;
		if (p->cur.type != TOK_EQ)
			return perr(p, &p->cur, "expected '==' after the mask, got %s",
				    GOT(&p->cur));
		advance(p);
		err = tcp_flag_expr(p, false, &value);
		if (err)
			return err;
		if (value & ~mask) {
			format_flags(value & ~mask, b1, sizeof(b1));
			format_flags(mask, b2, sizeof(b2));
			return perr(p, &p->last,
				    "'%s' is outside the mask (%s), so the rule could never match",
				    b1, b2);
		}
	} else {
		err = tcp_flag_expr(p, true, &value);
		if (err)
			return err;
		mask = value;
		rc->r.tcp_flags_any = true;
	}
	rc->r.has_tcp_flags = true;
	rc->r.tcp_flags_mask = mask;
	rc->r.tcp_flags_value = value;
	return 0;
}

struct icmp_ctx {
	struct rule_ctx *rc;
	bool v6;
};

static int icmp_type_value(struct parser *p, void *ctx)
{
	struct icmp_ctx *ic = ctx;
	struct rule_ctx *rc = ic->rc;
	const struct tok *t = &p->cur;
	const struct name_val *tab = ic->v6 ? icmp6_types : icmp_types;
	size_t ntab = ic->v6 ? ARRAY_SIZE(icmp6_types) : ARRAY_SIZE(icmp_types);
	const char *fam = ic->v6 ? "ICMPv6" : "ICMP";
	unsigned long long v;
	struct suggest sg;
	char sugg[64];
	int i;

	if (t->type != TOK_WORD)
		return perr(
			p, t,
			"expected an %s type (a name such as 'echo-request', or 0-255) after '%s', got %s",
			fam, TXT(&p->last), GOT(t));
	if (is_digit(t->s[0])) {
		switch (parse_num(t->s, t->len, 255, &v)) {
		case NUM_OK:
			break;
		case NUM_RANGE:
			return perr(p, t, "%s type %s is out of range (0-255)", fam, TXT(t));
		default:
			return perr(
				p, t,
				"expected an %s type (a name such as 'echo-request', or 0-255) after '%s', got %s",
				fam, TXT(&p->last), GOT(t));
		}
	} else {
		i = lookup(tab, ntab, t->s, t->len);
		if (i < 0) {
			suggest_init(&sg, t->s, t->len);
			suggest_table(&sg, tab, ntab);
			return perr(p, t, "unknown %s type '%s'%s", fam, TXT(t),
				    suggest_text(&sg, "", sugg, sizeof(sugg)));
		}
		v = tab[i].val;
	}
	if (vec_reserve(rc->r.icmp, rc->r.n_icmp, rc->cap_icmp))
		return oom(p, t);
	rc->r.icmp[rc->r.n_icmp].type = (__u8)v;
	rc->r.icmp[rc->r.n_icmp].code = -1;
	rc->r.n_icmp++;
	advance(p);
	return 0;
}

/* icmp|icmpv6 type (T [code C] | { T, ... }); cur is 'type'. */
static int parse_icmp_type(struct parser *p, struct rule_ctx *rc, const struct tok *kw, bool v6)
{
	struct icmp_ctx ic = {rc, v6};
	const char *fam = v6 ? "ICMPv6" : "ICMP";
	unsigned long long v;
	size_t n;
	int err;

	if (rc->has_icmp_type)
		return perr(p, kw, "'%s type' given twice", TXT(kw));
	rc->has_icmp_type = true;
	advance(p);
	if (p->cur.type == TOK_LBRACE) {
		err = parse_list(p, "type", false, icmp_type_value, &ic, &n);
		if (err)
			return err;
		if (tok_is(&p->cur, "code"))
			return perr(
				p, &p->cur,
				"'code' cannot follow a list of types (write one rule per type and code)");
		return 0;
	}
	err = icmp_type_value(p, &ic);
	if (err || !tok_is(&p->cur, "code"))
		return err;
	advance(p);
	if (p->cur.type != TOK_WORD)
		return perr(p, &p->cur, "expected an %s code (0-255) after 'code', got %s", fam,
			    GOT(&p->cur));
	switch (parse_num(p->cur.s, p->cur.len, 255, &v)) {
	case NUM_OK:
		break;
	case NUM_RANGE:
		return perr(p, &p->cur, "%s code %s is out of range (0-255)", fam, TXT(&p->cur));
	default:
		return perr(p, &p->cur, "expected an %s code (0-255) after 'code', got %s", fam,
			    GOT(&p->cur));
	}
	rc->r.icmp[0].code = (__s16)v;
	advance(p);
	return 0;
}

/* ---- Header matches: ip ttl, ip6 hoplimit, ip dscp ---- */

/* DSCP names as nftables knows them (RFC 2474, 2597, 3246, 5865, 8622). */
static const struct name_val dscp_names[] = {
	{"cs0", 0},   {"cs1", 8},   {"cs2", 16},  {"cs3", 24},	{"cs4", 32},  {"cs5", 40},
	{"cs6", 48},  {"cs7", 56},  {"af11", 10}, {"af12", 12}, {"af13", 14}, {"af21", 18},
	{"af22", 20}, {"af23", 22}, {"af31", 26}, {"af32", 28}, {"af33", 30}, {"af41", 34},
	{"af42", 36}, {"af43", 38}, {"ef", 46},	  {"va", 44},	{"le", 1},
};

/* One value of a header match: a number up to max, or a DSCP name. */
static int hdr_value(struct parser *p, const struct tok *kw, const struct tok *t, unsigned max,
		     bool dscp, unsigned *v)
{
	unsigned long long n;
	int i = dscp && t->type == TOK_WORD
			? lookup(dscp_names, ARRAY_SIZE(dscp_names), t->s, t->len)
			: -1;

	if (i >= 0) {
		*v = (unsigned)dscp_names[i].val;
		return 0;
	}
	switch (t->type == TOK_WORD ? parse_num(t->s, t->len, max, &n) : NUM_BAD) {
	case NUM_OK:
		*v = (unsigned)n;
		return 0;
	case NUM_RANGE:
		return perr(p, t, "'%s' %s is out of range (0-%u)", TXT(kw), TXT(t), max);
	default:
		return perr(p, t, "expected %s after '%s', got %s",
			    dscp ? "a DSCP value (0-63) or name (cs0-cs7, af11-af43, ef, va, le)"
				 : "a number (0-255), a range or a comparison",
			    TXT(kw), GOT(t));
	}
}

/*
 * ip ttl V | ip6 hoplimit V | ip dscp V, V one of: N, N-M, != N[-M], < N,
 * > N, <= N, >= N, as nftables compares.
 */
static int parse_hdr_match(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur, v;
	bool dscp = tok_is(&kw, "dscp");
	struct xct_hdr_range *m = dscp ? &rc->r.dscp : &rc->r.ttl;
	unsigned max = dscp ? 63 : 255, lo, hi;
	enum tok_type op;
	const char *dash;
	int err;

	if (m->present)
		return perr(p, &kw, "'%s' given twice", TXT(&kw));
	advance(p);
	op = p->cur.type;
	if (op == TOK_EQ || op == TOK_NE || op == TOK_LT || op == TOK_GT || op == TOK_LE ||
	    op == TOK_GE)
		advance(p);
	else
		op = TOK_EQ;
	v = p->cur;
	dash = v.type == TOK_WORD ? memchr(v.s, '-', v.len) : NULL;
	if (dash && (op == TOK_EQ || op == TOK_NE)) {
		struct tok a = v, b = v;

		a.len = (size_t)(dash - v.s);
		b.s = dash + 1;
		b.len = v.len - a.len - 1;
		if ((err = hdr_value(p, &kw, &a, max, dscp, &lo)) ||
		    (err = hdr_value(p, &kw, &b, max, dscp, &hi)))
			return err;
		if (lo > hi)
			return perr(p, &v, "range %s is reversed (did you mean %u-%u?)", TXT(&v),
				    hi, lo);
	} else {
		if ((err = hdr_value(p, &kw, &v, max, dscp, &lo)))
			return err;
		hi = lo;
	}
	if ((op == TOK_LT && lo == 0) || (op == TOK_GT && lo == max))
		return perr(p, &v, "'%s %s %s' matches nothing", TXT(&kw), op == TOK_LT ? "<" : ">",
			    TXT(&v));
	switch (op) {
	case TOK_LT:
		hi = lo - 1;
		lo = 0;
		break;
	case TOK_LE:
		hi = lo;
		lo = 0;
		break;
	case TOK_GT:
		lo = lo + 1;
		hi = max;
		break;
	case TOK_GE:
		hi = max;
		break;
	default:
		break;
	}
	m->present = true;
	m->negate = op == TOK_NE;
	m->lo = (__u8)lo;
	m->hi = (__u8)hi;
	advance(p);
	return 0;
}

/*
 * th sport P | th dport P: nftables' ports of whatever transport header
 * has them.  xct reads the ports of TCP and UDP, so this is its sport and
 * dport without a protocol.
 */
static int parse_th(struct parser *p, struct rule_ctx *rc)
{
	advance(p);
	if (!tok_is(&p->cur, "sport") && !tok_is(&p->cur, "dport"))
		return perr(p, &p->cur, "expected 'sport' or 'dport' after 'th', got %s",
			    GOT(&p->cur));
	return parse_port_match(p, rc);
}

/* ip protocol P: the protocol by number or name, of IPv4 packets. */
static int parse_ip_protocol(struct parser *p, struct rule_ctx *rc)
{
	struct tok t;
	unsigned long long v;
	int i;

	advance(p);
	t = p->cur;
	i = t.type == TOK_WORD ? lookup(proto_names, ARRAY_SIZE(proto_names), t.s, t.len) : -1;
	if (i >= 0) {
		v = (unsigned long long)proto_names[i].val;
	} else {
		switch (t.type == TOK_WORD ? parse_num(t.s, t.len, 255, &v) : NUM_BAD) {
		case NUM_OK:
			break;
		case NUM_RANGE:
			return perr(p, &t, "protocol %s is out of range (0-255)", TXT(&t));
		default:
			return perr(p, &t,
				    "expected a protocol (0-255, or tcp udp icmp sctp gre esp ah) "
				    "after 'protocol', got %s",
				    GOT(&t));
		}
	}
	if (v == PROTO_ICMPV6)
		return perr(p, &t, "'ip protocol icmpv6' is not IPv4's: use 'icmpv6'");
	if (set_proto(p, rc, &t, (__u8)v))
		return -EINVAL;
	advance(p);
	return 0;
}

/* ip | ip6, maybe followed by a header match of its own. */
static int parse_family_word(struct parser *p, struct rule_ctx *rc)
{
	bool v6 = tok_is(&p->cur, "ip6");
	int err = set_family(p, rc, &p->cur, TXT(&p->cur), v6 ? XCT_AF_INET6 : XCT_AF_INET);

	if (err)
		return err;
	advance(p);
	if (tok_is(&p->cur, "dscp") || tok_is(&p->cur, v6 ? "hoplimit" : "ttl"))
		return parse_hdr_match(p, rc);
	if (!v6 && tok_is(&p->cur, "protocol") && next_is_dot(p)) {
		struct tok at = p->last;

		advance(p);
		return parse_concat(p, rc, XCT_CF_PROTO, &at);
	}
	if (!v6 && tok_is(&p->cur, "protocol"))
		return parse_ip_protocol(p, rc);
	if (tok_is(&p->cur, v6 ? "ttl" : "hoplimit"))
		return perr(p, &p->cur,
			    "'%s %s' is not a field: IPv4 has 'ip ttl', IPv6 'ip6 hoplimit'",
			    v6 ? "ip6" : "ip", TXT(&p->cur));
	return 0;
}

/* tcp | udp | icmp | icmpv6, each maybe followed by its own match. */
static int parse_proto_word(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur;
	int i = lookup(proto_names, ARRAY_SIZE(proto_names), kw.s, kw.len);
	__u8 proto = (__u8)proto_names[i].val;
	int err;

	err = set_proto(p, rc, &kw, proto);
	if (!err && proto == PROTO_ICMP)
		err = set_family(p, rc, &kw, "icmp", XCT_AF_INET);
	if (!err && proto == PROTO_ICMPV6)
		err = set_family(p, rc, &kw, "icmpv6", XCT_AF_INET6);
	if (err)
		return err;
	advance(p);
	if (proto == PROTO_TCP && tok_is(&p->cur, "flags"))
		return parse_tcp_flags(p, rc, &kw);
	if ((proto == PROTO_ICMP || proto == PROTO_ICMPV6) && tok_is(&p->cur, "type"))
		return parse_icmp_type(p, rc, &kw, proto == PROTO_ICMPV6);
	return 0;
}

/* ct mark, meta mark, ct status: their own file, part of this one. */
#include "rules/parse_ct.h"

static int parse_owner_id(struct parser *p, struct rule_ctx *rc);

/* meta l4proto (NUMBER | NAME) | meta mark ... | meta skuid|skgid ... */
static int parse_meta(struct parser *p, struct rule_ctx *rc)
{
	struct suggest sg;
	struct tok t;
	unsigned long long v;
	char sugg[64], what[24];
	int i, err;

	advance(p);
	if ((tok_is(&p->cur, "mark") || tok_is(&p->cur, "l4proto")) && next_is_dot(p)) {
		struct tok meta = p->last;
		__u8 f = tok_is(&p->cur, "mark") ? XCT_CF_META_MARK : XCT_CF_PROTO;

		advance(p);
		return parse_concat(p, rc, f, &meta);
	}
	if (tok_is(&p->cur, "mark"))
		return parse_meta_mark(p, rc, &p->last);
	if (tok_is(&p->cur, "skuid") || tok_is(&p->cur, "skgid"))
		return parse_owner_id(p, rc);
	if (!tok_is(&p->cur, "l4proto"))
		return perr(p, &p->cur,
			    "expected 'l4proto', 'mark', 'skuid' or 'skgid' after 'meta', got %s",
			    GOT(&p->cur));
	advance(p);
	t = p->cur;
	if (t.type != TOK_WORD)
		goto expected;
	if (is_digit(t.s[0])) {
		switch (parse_num(t.s, t.len, 255, &v)) {
		case NUM_OK:
			break;
		case NUM_RANGE:
			return perr(p, &t, "protocol %s is out of range (0-255)", TXT(&t));
		default:
			goto expected;
		}
	} else {
		i = lookup(proto_names, ARRAY_SIZE(proto_names), t.s, t.len);
		if (i < 0) {
			suggest_init(&sg, t.s, t.len);
			suggest_table(&sg, proto_names, ARRAY_SIZE(proto_names));
			return perr(p, &t, "unknown protocol '%s'%s", TXT(&t),
				    suggest_text(&sg, "", sugg, sizeof(sugg)));
		}
		v = proto_names[i].val;
	}
	err = set_proto(p, rc, &t, (__u8)v);
	/* ICMP and ICMPv6 exist in one family each. */
	snprintf(what, sizeof(what), "meta l4proto %s", TXT(&t));
	if (!err && v == PROTO_ICMP)
		err = set_family(p, rc, &t, what, XCT_AF_INET);
	if (!err && v == PROTO_ICMPV6)
		err = set_family(p, rc, &t, what, XCT_AF_INET6);
	if (err)
		return err;
	advance(p);
	return 0;
expected:
	return perr(
		p, &t,
		"expected a protocol (tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or 0-255) after 'l4proto', got %s",
		GOT(&t));
}

/* ---- Owner matches: meta skuid, meta skgid, socket cgroupv2 ---- */

/* The largest id: (uid_t)-1 is "no id" to the kernel, never an owner's. */
#define OWNER_ID_MAX 0xfffffffeULL

struct id_ctx {
	struct rule_ctx *rc;
	struct xct_id_match *m;
	size_t *cap;
	bool group;
};

/* A user or group name to its id, from the system's databases
 * (/etc/passwd, /etc/group, or what nsswitch.conf names). */
static int owner_name_id(const char *name, bool group, __u32 *id)
{
	char buf[16384];
	int err;

	if (group) {
		struct group gr, *res = NULL;

		err = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
		if (err || !res)
			return -ENOENT;
		*id = (__u32)gr.gr_gid;
	} else {
		struct passwd pw, *res = NULL;

		err = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
		if (err || !res)
			return -ENOENT;
		*id = (__u32)pw.pw_uid;
	}
	return 0;
}

/* One id: N, LO-HI, NAME or "NAME". */
static int id_elem(struct parser *p, void *ctx)
{
	struct id_ctx *ic = ctx;
	const struct tok *t = &p->cur;
	const char *kw = ic->group ? "skgid" : "skuid";
	const char *what = ic->group ? "group" : "user";
	unsigned long long lo, hi;
	struct xct_id_range r;
	char name[256];
	const char *dash;
	size_t len;

	if (t->type == TOK_STRING || (t->type == TOK_WORD && is_alpha(t->s[0]))) {
		len = t->type == TOK_STRING ? t->len - 2 : t->len;
		if (!len || len >= sizeof(name))
			return perr(p, t, "invalid %s name %s", what, GOT(t));
		memcpy(name, t->type == TOK_STRING ? t->s + 1 : t->s, len);
		name[len] = 0;
		if (memchr(name, ':', len) || memchr(name, '/', len))
			return perr(p, t, "invalid %s name '%s'", what, name);
		if (owner_name_id(name, ic->group, &r.lo))
			return perr(p, t, "unknown %s '%s' (no such name in the %s database)", what,
				    name, ic->group ? "group" : "password");
		r.hi = r.lo;
	} else if (t->type == TOK_WORD && is_digit(t->s[0])) {
		dash = memchr(t->s, '-', t->len);
		len = dash ? (size_t)(dash - t->s) : t->len;
		if (parse_num(t->s, len, OWNER_ID_MAX, &lo) == NUM_RANGE ||
		    (dash && parse_num(dash + 1, t->len - len - 1, OWNER_ID_MAX, &hi) == NUM_RANGE))
			return perr(p, t, "%s id %s is out of range (0-%llu)", what, TXT(t),
				    OWNER_ID_MAX);
		if (parse_num(t->s, len, OWNER_ID_MAX, &lo) != NUM_OK ||
		    (dash && parse_num(dash + 1, t->len - len - 1, OWNER_ID_MAX, &hi) != NUM_OK))
			return perr(p, t,
				    "expected a %s id, an id range or a %s name after '%s', got %s",
				    what, what, kw, GOT(t));
		if (!dash)
			hi = lo;
		if (hi < lo)
			return perr(p, t, "%s id range %s is reversed (did you mean %llu-%llu?)",
				    what, TXT(t), hi, lo);
		r.lo = (__u32)lo;
		r.hi = (__u32)hi;
	} else {
		return perr(p, t, "expected a %s id, an id range or a %s name after '%s', got %s",
			    what, what, kw, GOT(t));
	}
	if (vec_reserve(ic->m->list, ic->m->n, *ic->cap))
		return oom(p, t);
	ic->m->list[ic->m->n++] = r;
	advance(p);
	return 0;
}

/* meta skuid|skgid [!=] (ID | LO-HI | NAME | { ... }); cur is the keyword. */
static int parse_owner_id(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur;
	bool group = tok_is(&kw, "skgid");
	struct id_ctx ic = {rc, group ? &rc->r.skgid : &rc->r.skuid,
			    group ? &rc->cap_skgid : &rc->cap_skuid, group};
	size_t n;

	if (ic.m->present)
		return perr(p, &kw, "'meta %s' given twice", TXT(&kw));
	ic.m->present = true;
	if (!rc->owner_what) {
		rc->owner_tok = kw;
		rc->owner_what = group ? "meta skgid" : "meta skuid";
	}
	advance(p);
	if (p->cur.type == TOK_NE) {
		ic.m->negate = true;
		advance(p);
	}
	if (p->cur.type == TOK_LBRACE)
		return parse_list(p, TXT(&kw), false, id_elem, &ic, &n);
	if (p->cur.type == TOK_WORD && p->cur.s[0] == '@')
		return perr(p, &p->cur, "'meta %s' takes ids and names, not a set ('%s')", TXT(&kw),
			    TXT(&p->cur));
	return id_elem(p, &ic);
}

/* socket cgroupv2 level N [!=] "PATH" */
static int parse_socket(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur, t;
	unsigned long long level;
	struct xct_cgroup_match *m = &rc->r.cgroup;
	const char *s;
	size_t len, i, depth = 0;

	advance(p);
	if (!tok_is(&p->cur, "cgroupv2"))
		return perr(p, &p->cur, "expected 'cgroupv2' after 'socket', got %s", GOT(&p->cur));
	if (m->present)
		return perr(p, &p->cur, "'socket cgroupv2' given twice");
	if (!rc->owner_what) {
		rc->owner_tok = kw;
		rc->owner_what = "socket cgroupv2";
	}
	advance(p);
	if (!tok_is(&p->cur, "level"))
		return perr(
			p, &p->cur,
			"expected 'level' after 'cgroupv2' (socket cgroupv2 level 1 \"PATH\"), got %s",
			GOT(&p->cur));
	advance(p);
	t = p->cur;
	if (t.type != TOK_WORD || !is_digit(t.s[0]))
		return perr(p, &t, "expected a level (1-255) after 'level', got %s", GOT(&t));
	switch (parse_num(t.s, t.len, 255, &level)) {
	case NUM_OK:
		break;
	case NUM_RANGE:
		return perr(p, &t, "cgroup level %s is out of range (1-255)", TXT(&t));
	default:
		return perr(p, &t, "expected a level (1-255) after 'level', got %s", GOT(&t));
	}
	if (level == 0)
		return perr(p, &t,
			    "cgroup level 0 is the root, which every process is under: "
			    "give a level of 1 or more");
	advance(p);
	if (p->cur.type == TOK_NE) {
		m->negate = true;
		advance(p);
	}
	t = p->cur;
	if (t.type != TOK_STRING && t.type != TOK_WORD)
		return perr(p, &t,
			    "expected a cgroup path in double quotes after 'level %llu', got %s",
			    level, GOT(&t));
	s = t.type == TOK_STRING ? t.s + 1 : t.s;
	len = t.type == TOK_STRING ? t.len - 2 : t.len;
	/* nft's form: relative to the cgroup2 mount; a leading '/' is allowed. */
	while (len && s[0] == '/') {
		s++;
		len--;
	}
	while (len && s[len - 1] == '/')
		len--;
	if (!len)
		return perr(
			p, &t,
			"empty cgroup path (the root is level 0, which every process is under)");
	if (len >= 4096)
		return perr(p, &t, "cgroup path is too long");
	for (i = 0; i < len; i++) {
		if (s[i] != '/')
			continue;
		if (s[i + 1] == '/')
			return perr(p, &t, "empty component in cgroup path %s", GOT(&t));
		depth++;
	}
	depth++;
	for (i = 0; i < len; i++) {
		size_t c = i;

		while (c < len && s[c] != '/')
			c++;
		if ((c - i == 1 && s[i] == '.') || (c - i == 2 && s[i] == '.' && s[i + 1] == '.'))
			return perr(p, &t, "'.' and '..' are not allowed in a cgroup path: %s",
				    GOT(&t));
		i = c;
	}
	/* The ancestor at level N is N directories below the root: a path
	 * of another depth would never be it. */
	if (depth != level)
		return perr(p, &t,
			    "cgroup '%.*s' is at level %zu, not %llu (the level counts the path's "
			    "components: socket cgroupv2 level %zu \"%.*s\")",
			    (int)len, s, depth, level, depth, (int)len, s);
	m->present = true;
	m->level = (__u8)level;
	m->loc = t.loc;
	m->path = strndup(s, len);
	if (!m->path)
		return oom(p, &t);
	advance(p);
	return 0;
}

static bool is_owner_rule(const struct xct_rule *r)
{
	return r->skuid.present || r->skgid.present || r->cgroup.present;
}

/* A negated list of one element is negated at run time; of more, it is
 * turned into the ranges it leaves out (compile.c): a negated address
 * list has no such form. */
static int check_owner_rule(struct parser *p, const struct rule_ctx *rc)
{
	const struct xct_rule *r = &rc->r;
	const struct tok *ot = &rc->owner_tok;
	const char *what = rc->owner_what;
	char b[8];

	if (rc->iface_tok.len && r->hook == XCT_HOOK_INGRESS)
		return perr(
			p, &rc->iface_tok,
			"'%s' cannot be used with 'iif': an arriving or forwarded packet has no "
			"owner (an owner rule decides the connections this host's processes open)",
			what);
	if (rc->iface_tok.len)
		return perr(
			p, &rc->iface_tok,
			"'%s' cannot be used with 'oif': an owner rule is decided at connect(), "
			"before the route chooses the interface",
			what);
	if (r->action != XCT_ACTION_ACCEPT && r->action != XCT_ACTION_DROP &&
	    r->action != XCT_ACTION_REJECT)
		return perr(
			p, ot,
			"'%s' cannot be used with '%s' (an owner rule accepts, drops or rejects)",
			what, actions[r->action].name);
	if (rc->late_tok.len)
		return perr(p, &rc->late_tok,
			    "'%s' cannot be used with '%s': an owner rule is decided once, at a "
			    "connection's connect() or first sendmsg(), before %s",
			    rc->late_what, what,
			    tok_is(&rc->late_tok, "saddr") || tok_is(&rc->late_tok, "sport")
				    ? "its source address and port are chosen"
				    : "any packet is sent");
	if (r->has_proto && !proto_has_ports(r->proto))
		return perr(p, ot,
			    "'%s' decides tcp and udp connections, but the rule matches '%s'", what,
			    proto_name(r->proto, b, sizeof(b)));
	if (r->daddr.present && r->daddr.set >= 0)
		return perr(
			p, ot,
			"'daddr @%s' cannot be used with '%s': an owner rule takes the addresses "
			"written in it, not a set that changes while it runs",
			p->rs.sets[r->daddr.set].name, what);
	if (r->dport.present && r->dport.set >= 0)
		return perr(p, ot,
			    "'dport @%s' cannot be used with '%s': an owner rule takes the ports "
			    "written in it, not a set that changes while it runs",
			    p->rs.sets[r->dport.set].name, what);
	if (r->daddr.present && r->daddr.negate && r->daddr.n > 1)
		return perr(
			p, ot,
			"'daddr != { ... }' cannot be used with '%s': give one address or prefix after '!='",
			what);
	return 0;
}

static int ct_state_value(struct parser *p, void *ctx)
{
	struct rule_ctx *rc = ctx;
	const struct tok *t = &p->cur;
	struct suggest sg;
	char sugg[64];
	int i;

	if (t->type != TOK_WORD || !is_alpha(t->s[0]))
		return perr(
			p, t,
			"expected a state (new, established, related, invalid, untracked) after '%s', got %s",
			TXT(&p->last), GOT(t));
	i = lookup(ct_states, ARRAY_SIZE(ct_states), t->s, t->len);
	if (i < 0) {
		suggest_init(&sg, t->s, t->len);
		suggest_table(&sg, ct_states, ARRAY_SIZE(ct_states));
		if (sg.best)
			return perr(p, t, "unknown ct state '%s'%s", TXT(t),
				    suggest_text(&sg, "", sugg, sizeof(sugg)));
		return perr(
			p, t,
			"unknown ct state '%s' (new, established, related, invalid or untracked)",
			TXT(t));
	}
	rc->r.ct_states |= (__u8)(1u << ct_states[i].val);
	advance(p);
	return 0;
}

/* ct state S[,S]... | ct state { S, ... } */
static int parse_ct(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur;
	size_t n;
	int err;

	advance(p);
	if (tok_is(&p->cur, "mark") && next_is_dot(p)) {
		advance(p);
		return parse_concat(p, rc, XCT_CF_CT_MARK, &kw);
	}
	if (tok_is(&p->cur, "mark") || tok_is(&p->cur, "status"))
		return parse_ct_mark_status(p, rc, &kw);
	if (!tok_is(&p->cur, "state"))
		return perr(p, &p->cur, "expected 'state', 'status' or 'mark' after 'ct', got %s",
			    GOT(&p->cur));
	if (rc->has_ct)
		return perr(p, &kw, "'ct state' given twice");
	if (rc->r.action == XCT_ACTION_NOTRACK)
		return perr(
			p, &kw,
			"'ct state' cannot be used with 'notrack' (notrack decides before a packet is tracked)");
	rc->has_ct = true;
	advance(p);
	if (p->cur.type == TOK_LBRACE)
		return parse_list(p, "state", false, ct_state_value, rc, &n);
	for (;;) {
		err = ct_state_value(p, rc);
		if (err || p->cur.type != TOK_COMMA)
			return err;
		advance(p);
	}
}

/* A rate or burst number at t (s, len: its digits); what names it in
 * messages, expected is the message when it is not a number at all. */
static int limit_num(struct parser *p, const struct tok *t, const char *s, size_t len,
		     const char *what, const char *expected, unsigned long long *v)
{
	switch (parse_num(s, len, LIMIT_NUM_MAX, v)) {
	case NUM_OK:
		if (*v)
			return 0;
		return perr(p, t, "%s must be at least 1, got 0", what);
	case NUM_RANGE:
		return perr(p, t, "%s %.*s is too large (at most %llu)", what,
			    (int)(len > 24 ? 24 : len), s, LIMIT_NUM_MAX);
	default:
		return perr(p, t, "%s", expected);
	}
}

/* The UNIT of N/UNIT: its index in time_units or an error. */
static int time_unit(struct parser *p, const struct tok *t, const char *u, size_t len)
{
	int i = lookup(time_units, ARRAY_SIZE(time_units), u, len);

	if (i < 0)
		return perr(p, t, "unknown time unit '%.*s' in '%s' (second, minute, hour or day)",
			    (int)(len > 24 ? 24 : len), u, TXT(t));
	return i;
}

/* limit [rate] N/UNIT | N (bytes|kbytes|mbytes)/UNIT [burst B [UNIT]] [per saddr] */
static int parse_limit(struct parser *p, struct rule_ctx *rc)
{
	struct xct_limit *lim = &rc->r.limit;
	struct tok kw = p->cur, t;
	unsigned long long rate, mult = 1, burst = 0;
	const char *slash, *after;
	char expected[sizeof(p->err->msg)];
	bool has_burst = false;
	int i, err;

	if (lim->present)
		return perr(p, &kw, "'limit' given twice");
	if (rc->r.action == XCT_ACTION_NOTRACK)
		return perr(
			p, &kw,
			"'limit' cannot be used with 'notrack' (notrack rules are not rate-limited)");
	advance(p);
	if (tok_is(&p->cur, "rate"))
		advance(p);
	after = p->last.s == kw.s ? "limit" : "rate";
	/* limit rate over: nftables' inverted limit, matching past the rate. */
	if (tok_is(&p->cur, "over")) {
		lim->over = true;
		after = "over";
		advance(p);
	}
	t = p->cur;
	snprintf(expected, sizeof(expected),
		 "expected a rate (10/second, 10 mbytes/second) after '%s', got %s", after,
		 GOT(&t));
	if (t.type != TOK_WORD || !is_digit(t.s[0]))
		return perr(p, &t, "%s", expected);
	slash = memchr(t.s, '/', t.len);
	if (slash) {
		/* 10/second: packets */
		err = limit_num(p, &t, t.s, (size_t)(slash - t.s), "limit rate", expected, &rate);
		if (err)
			return err;
		i = time_unit(p, &t, slash + 1, t.len - (size_t)(slash + 1 - t.s));
		if (i < 0)
			return i;
	} else {
		/* 10 mbytes/second: bytes */
		struct tok u;
		int b;

		err = limit_num(p, &t, t.s, t.len, "limit rate", expected, &rate);
		if (err)
			return err;
		advance(p);
		u = p->cur;
		slash = u.type == TOK_WORD ? memchr(u.s, '/', u.len) : NULL;
		b = slash ? lookup(byte_units, ARRAY_SIZE(byte_units), u.s, (size_t)(slash - u.s))
			  : -1;
		if (b < 0)
			return perr(
				p, &u,
				"expected '/UNIT' or 'bytes/UNIT' after '%s' (10/second, 10 mbytes/second), got %s",
				TXT(&t), GOT(&u));
		i = time_unit(p, &u, slash + 1, u.len - (size_t)(slash + 1 - u.s));
		if (i < 0)
			return i;
		mult = byte_units[b].val;
		lim->bytes = true;
	}
	lim->present = true;
	lim->rate = rate * mult;
	lim->unit_ns = time_units[i].val;
	advance(p);

	for (;;) {
		if (tok_is(&p->cur, "burst")) {
			struct tok bt;
			int b;

			if (has_burst)
				return perr(p, &p->cur, "'burst' given twice");
			has_burst = true;
			advance(p);
			bt = p->cur;
			if (bt.type != TOK_WORD)
				return perr(p, &bt, "expected a number after 'burst', got %s",
					    GOT(&bt));
			snprintf(expected, sizeof(expected),
				 "expected a number after 'burst', got %s", GOT(&bt));
			err = limit_num(p, &bt, bt.s, bt.len, "burst", expected, &burst);
			if (err)
				return err;
			advance(p);
			mult = 1;
			b = p->cur.type == TOK_WORD ? lookup(byte_units, ARRAY_SIZE(byte_units),
							     p->cur.s, p->cur.len)
						    : -1;
			if (tok_is(&p->cur, "packets")) {
				if (lim->bytes)
					return perr(
						p, &p->cur,
						"the burst of a byte limit is in bytes, not packets");
				advance(p);
			} else if (b >= 0) {
				if (!lim->bytes)
					return perr(
						p, &p->cur,
						"the burst of a packet limit is in packets, not %s",
						byte_units[b].name);
				mult = byte_units[b].val;
				advance(p);
			}
			lim->burst = burst * mult;
		} else if (tok_is(&p->cur, "per")) {
			if (lim->per_saddr)
				return perr(p, &p->cur, "'per' given twice");
			advance(p);
			if (!tok_is(&p->cur, "saddr"))
				return perr(p, &p->cur, "expected 'saddr' after 'per', got %s",
					    GOT(&p->cur));
			lim->per_saddr = true;
			advance(p);
		} else {
			break;
		}
	}
	if (!has_burst)
		lim->burst = lim->rate ? lim->rate : 1;
	return 0;
}

/* comment "TEXT": kept with the rule, as nft keeps it in the rule's
 * user data (at most 128 bytes there too). */
#define COMMENT_MAX 128

static int parse_comment(struct parser *p, struct rule_ctx *rc)
{
	const struct tok *t;

	if (rc->r.comment)
		return perr(p, &p->cur, "'comment' given twice");
	advance(p);
	t = &p->cur;
	if (t->type != TOK_STRING)
		return perr(p, t, "expected a string in double quotes after 'comment', got %s",
			    GOT(t));
	if (t->len - 2 > COMMENT_MAX)
		return perr(p, t, "comment is %zu bytes long, at most %d are kept", t->len - 2,
			    COMMENT_MAX);
	rc->r.comment = strndup(t->s + 1, t->len - 2);
	if (!rc->r.comment)
		return oom(p, t);
	advance(p);
	return 0;
}

/* syslog's priorities by nft's names of them (log level LEVEL). */
static const struct name_val log_levels[] = {
	{"emerg", LOG_EMERG},	{"alert", LOG_ALERT},	  {"crit", LOG_CRIT}, {"err", LOG_ERR},
	{"warn", LOG_WARNING},	{"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
};

/* log [prefix "TEXT"] [level LEVEL], in either order, as nft's. */
static int parse_log(struct parser *p, struct rule_ctx *rc)
{
	bool level = false;
	const struct tok *t;
	int i;

	if (rc->r.log)
		return perr(p, &p->cur, "'log' given twice");
	rc->r.log = true;
	rc->r.log_level = LOG_WARNING;
	advance(p);
	for (;;) {
		t = &p->cur;
		if (tok_is(t, "prefix")) {
			if (rc->r.log_prefix)
				return perr(p, t, "'prefix' given twice");
			advance(p);
			t = &p->cur;
			if (t->type != TOK_STRING)
				return perr(p, t,
					    "expected a string in double quotes after 'log prefix', "
					    "got %s",
					    GOT(t));
			if (t->len - 2 > XCT_LOG_PREFIX_MAX)
				return perr(p, t, "log prefix is %zu bytes long, at most %d are allowed",
					    t->len - 2, XCT_LOG_PREFIX_MAX);
			rc->r.log_prefix = strndup(t->s + 1, t->len - 2);
			if (!rc->r.log_prefix)
				return oom(p, t);
			advance(p);
		} else if (tok_is(t, "level")) {
			if (level)
				return perr(p, t, "'level' given twice");
			level = true;
			advance(p);
			t = &p->cur;
			if (tok_is(t, "audit"))
				return perr(p, t,
					    "log level audit (the kernel's audit log) is not supported: "
					    "xctd writes to syslog");
			i = t->type == TOK_WORD ? lookup(log_levels, ARRAY_SIZE(log_levels), t->s, t->len)
						: -1;
			if (i < 0)
				return perr(p, t,
					    "expected a log level (emerg, alert, crit, err, warn, notice, "
					    "info, debug), got %s",
					    GOT(t));
			rc->r.log_level = (int)log_levels[i].val;
			advance(p);
		} else if (tok_is(t, "group") || tok_is(t, "snaplen") ||
			   tok_is(t, "queue-threshold") || tok_is(t, "flags")) {
			return perr(p, t,
				    "'log %s' is not supported: xct logs to its event stream and, "
				    "through xctd, to syslog (log prefix \"...\" level LEVEL)",
				    TXT(t));
		} else {
			return 0;
		}
	}
}

int xct_rule_log_options(const char *text, char *prefix, size_t prefix_len, int *level)
{
	struct xct_rules_error err;
	struct parser p;
	int found = 0;

	memset(&p, 0, sizeof(p));
	memset(&err, 0, sizeof(err));
	p.err = &err;
	p.text = text;
	p.len = strlen(text);
	p.line = 1;
	if (prefix_len)
		prefix[0] = '\0';
	*level = LOG_WARNING;
	/* The text is a rule the parser took: its words are well formed, and
	 * "log" outside a string is the statement. */
	for (lex(&p, &p.cur); p.cur.type != TOK_EOF && p.cur.type != TOK_BAD; advance(&p)) {
		const struct tok *t = &p.cur;
		int i;

		if (!found) {
			found = tok_is(t, "log");
			continue;
		}
		if (tok_is(&p.last, "prefix") && t->type == TOK_STRING && prefix_len)
			snprintf(prefix, prefix_len, "%.*s", (int)(t->len - 2), t->s + 1);
		else if (tok_is(&p.last, "level") && t->type == TOK_WORD &&
			 (i = lookup(log_levels, ARRAY_SIZE(log_levels), t->s, t->len)) >= 0)
			*level = (int)log_levels[i].val;
		else if (!tok_is(t, "prefix") && !tok_is(t, "level"))
			break;
	}
	return found ? 0 : -ENOENT;
}

/* Words that only make sense after another one: say which. */
static const struct {
	const char *word;
	const char *msg;
} misplaced[] = {
	{"flags", "'flags' must follow 'tcp' (tcp flags syn)"},
	{"type", "'type' must follow 'icmp' or 'icmpv6' (icmp type echo-request)"},
	{"code", "'code' must follow an ICMP type (icmp type destination-unreachable code 3)"},
	{"state", "'state' must follow 'ct' (ct state established)"},
	{"l4proto", "'l4proto' must follow 'meta' (meta l4proto sctp)"},
	{"mark", "'mark' must follow 'ct' or 'meta' (ct mark 0x10, meta mark set 1)"},
	{"status", "'status' must follow 'ct' (ct status dnat)"},
	{"skuid", "'skuid' must follow 'meta' (meta skuid 1000)"},
	{"skgid", "'skgid' must follow 'meta' (meta skgid 1000)"},
	{"cgroupv2", "'cgroupv2' must follow 'socket' (socket cgroupv2 level 1 \"PATH\")"},
	{"burst", "'burst' must follow a rate (limit 10/second burst 20)"},
	{"rate", "'rate' must follow 'limit' (limit rate 10/second)"},
	{"per", "'per' must follow a rate (limit 10/second per saddr)"},
};

static int unknown_in_rule(struct parser *p, struct rule_ctx *rc)
{
	const struct tok *t = &p->cur;
	struct suggest sg;
	char sugg[64];
	size_t i;

	if (t->type != TOK_WORD || !is_alpha(t->s[0])) {
		if (elem_kind_of(t) == ELEM_PORT &&
		    (tok_is(&p->last, "tcp") || tok_is(&p->last, "udp")))
			return perr(
				p, t,
				"expected a match or an option, got %s (did you mean 'dport %s'?)",
				GOT(t), TXT(t));
		if (t->type == TOK_COMMA)
			return perr(p, t,
				    "expected a match or an option, got ',' (a list is written "
				    "in braces: '{ 80, 443 }')");
		return perr(p, t, "expected a match or an option, got %s", GOT(t));
	}
	for (i = 0; i < ARRAY_SIZE(misplaced); i++)
		if (tok_is(t, misplaced[i].word))
			return perr(p, t, "%s", misplaced[i].msg);
	if (lookup(actions, ARRAY_SIZE(actions), t->s, t->len) >= 0)
		return perr(
			p, t,
			"a rule has one action, at its start: '%s' after '%s' (is a newline or ';' missing?)",
			TXT(t), actions[rc->r.action].name);
	if (tok_is(t, "set") || tok_is(t, "policy"))
		return perr(p, t, "unexpected '%s' in a rule (is a newline or ';' missing?)",
			    TXT(t));
	suggest_init(&sg, t->s, t->len);
	suggest_table(&sg, rule_keywords, ARRAY_SIZE(rule_keywords));
	if (sg.best)
		return perr(p, t, "unknown keyword '%s'%s", TXT(t),
			    suggest_text(&sg, "", sugg, sizeof(sugg)));
	return perr(
		p, t,
		"unknown keyword '%s' (expected a match such as 'tcp dport 22', or 'limit', 'log', 'counter')",
		TXT(t));
}

/* A growing string for expand_text. */
struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->oom)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t ncap = sb->cap ? sb->cap : 64;
		char *ns;

		while (ncap < sb->len + n + 1)
			ncap *= 2;
		ns = realloc(sb->s, ncap);
		if (!ns) {
			sb->oom = true;
			return;
		}
		sb->s = ns;
		sb->cap = ncap;
	}
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

/*
 * Text as written from start to end, for xct rules show and for a
 * variable's value: comments dropped, each line break of a list that spans
 * lines (with the indentation around it) as one space, and each $name as
 * its value, so that the text reads back without its definitions.  Strings
 * are kept as they are.  NULL when out of memory.
 */
static char *expand_text(const struct parser *p, size_t start, size_t end)
{
	const char *s = p->text;
	struct strbuf sb = {0};
	size_t i = start;

	sb_put(&sb, "", 0);
	while (i < end) {
		if (s[i] == '#') {
			while (i < end && s[i] != '\n')
				i++;
			continue;
		}
		if (s[i] == '"') {
			size_t j = i + 1;

			while (j < end && s[j] != '"' && s[j] != '\n')
				j++;
			j += j < end && s[j] == '"';
			sb_put(&sb, s + i, j - i);
			i = j;
			continue;
		}
		if (s[i] == '$') {
			size_t l = var_name_len(s, i, end);
			const struct define *d = find_define(p, s + i + 1, l);

			if (d) {
				sb_put(&sb, d->value, d->len);
				i += 1 + l;
				continue;
			}
		}
		if (s[i] == '\n') {
			while (sb.len && (sb.s[sb.len - 1] == ' ' || sb.s[sb.len - 1] == '\t'))
				sb.s[--sb.len] = '\0';
			i++;
			while (i < end && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
				i++;
			if (i < end && s[i] != '\n' && s[i] != '#')
				sb_put(&sb, " ", 1);
			continue;
		}
		sb_put(&sb, s[i] == '\r' ? " " : s + i, 1);
		i++;
	}
	if (sb.oom) {
		free(sb.s);
		return NULL;
	}
	return sb.s;
}

/* ---- NAT rules ---- */

static bool is_nat_action(enum xct_rule_action a)
{
	return a == XCT_ACTION_MASQUERADE || a == XCT_ACTION_SNAT || a == XCT_ACTION_DNAT;
}

/* One address of an snat target, not a prefix. */
static int nat_addr(struct parser *p, const struct tok *t, const char *s, size_t len, __u8 *family,
		    __u8 *addr)
{
	char msg[sizeof(p->err->msg)];
	struct xct_prefix pf;

	if (!len)
		return perr(p, t, "expected an address after 'to', got %s", GOT(t));
	if (memchr(s, '/', len))
		return perr(p, t, "%s translates to an address, not a prefix: '%.*s'",
			    actions[p->nat_action].name, (int)len, s);
	if (prefix_parse(s, len, &pf, msg, sizeof(msg)))
		return perr(p, t, "%s", msg);
	*family = pf.family;
	memcpy(addr, pf.addr, 16);
	return 0;
}

/*
 * The target after 'to': ADDR, ADDR-ADDR, ADDR:PORT, ADDR:PORT-PORT or
 * ADDR-ADDR:PORT-PORT for snat; :PORT-PORT for masquerade.  An IPv6
 * target is one address without a port (its ':' would be ambiguous).
 */
static int parse_nat_target(struct parser *p, struct rule_ctx *rc, bool in_set)
{
	struct xct_nat_to *to = &rc->r.nat_to;
	bool masq = rc->r.action == XCT_ACTION_MASQUERADE;
	const struct tok *t = &p->cur;
	const char *s = t->s, *colon = NULL, *dash;
	size_t len = t->len, alen, i, colons = 0;
	char msg[sizeof(p->err->msg)];
	struct xct_port_range pr;
	__u8 fam2;

	if (t->type != TOK_WORD)
		return perr(p, t,
			    masq ? "expected ':PORT-PORT' after 'to', got %s"
				 : "expected an address after 'to', got %s",
			    GOT(t));
	for (i = 0; i < len; i++)
		if (s[i] == ':') {
			colons++;
			colon = s + i;
		}
	if (colons > 1)
		colon = NULL; /* IPv6 */
	alen = colon ? (size_t)(colon - s) : len;
	if (masq && alen)
		return perr(p, t,
			    "masquerade translates to the outgoing interface's address: only ports "
			    "may follow 'to' (to :1024-65535), got '%s'",
			    TXT(t));
	if (!masq) {
		dash = memchr(s, '-', alen);
		if (dash && rc->r.action == XCT_ACTION_DNAT)
			return perr(
				p, t,
				"dnat translates to one address (dnat to ADDR[:PORT]), got '%s'",
				TXT(t));
		if (nat_addr(p, t, s, dash ? (size_t)(dash - s) : alen, &to->family, to->addr_lo))
			return -EINVAL;
		memcpy(to->addr_hi, to->addr_lo, 16);
		if (dash) {
			if (nat_addr(p, t, dash + 1, alen - (size_t)(dash - s) - 1, &fam2,
				     to->addr_hi))
				return -EINVAL;
			if (fam2 != to->family)
				return perr(p, t, "the two ends of '%s' are not of one family",
					    TXT(t));
			if (to->family == XCT_AF_INET6)
				return perr(p, t,
					    "an IPv6 snat address range is not supported: give one "
					    "address");
			if (memcmp(to->addr_lo, to->addr_hi, 4) > 0)
				return perr(p, t, "address range '%s' is reversed", TXT(t));
		}
		if (in_set && rc->r.family && rc->r.family != to->family)
			return perr(p, t,
				    "the backends of one dnat rule are of one family: '%s' is %s, "
				    "'%s' before it is %s",
				    TXT(t), family_name(to->family), rc->fam_src,
				    family_name(rc->r.family));
		if (rc->r.family && rc->r.family != to->family)
			return perr(p, t, "'%s' is %s, but the rule matches %s only ('%s')", TXT(t),
				    family_name(to->family), family_name(rc->r.family),
				    rc->fam_src);
		/* The rule matches the family it translates to. */
		rc->r.family = to->family;
		snprintf(rc->fam_src, sizeof(rc->fam_src), "%.*s", (int)(len < 23 ? len : 23), s);
	}
	if (colon) {
		if (port_range_parse(colon + 1, len - alen - 1, &pr, msg, sizeof(msg)))
			return perr(p, t, "%s", msg);
		if (pr.lo == 0)
			return perr(p, t, "a translated port must be at least 1, got 0");
		if (pr.lo != pr.hi && rc->r.action == XCT_ACTION_DNAT)
			return perr(p, t,
				    "dnat translates to one port (dnat to ADDR[:PORT]), got '%s'",
				    TXT(t));
		to->has_ports = true;
		to->port_lo = pr.lo;
		to->port_hi = pr.hi;
	} else if (masq) {
		return perr(p, t, "expected ':PORT-PORT' after 'to', got %s", GOT(t));
	}
	advance(p);
	return 0;
}

/* One backend of dnat to { ... }. */
static int parse_nat_backend(struct parser *p, void *ctx)
{
	struct rule_ctx *rc = ctx;
	struct xct_nat_to *to = &rc->r.nat_to;
	struct xct_nat_to_backend *be;
	bool had_ports = to->has_ports;

	if (to->n_backends >= XCT_DNAT_BACKENDS_MAX)
		return perr(p, &p->cur, "dnat takes at most %d backends", XCT_DNAT_BACKENDS_MAX);
	to->has_ports = false;
	if (p->cur.type != TOK_WORD)
		return perr(p, &p->cur, "expected a backend address, got %s", GOT(&p->cur));
	if (parse_nat_target(p, rc, true))
		return -EINVAL;
	be = &to->backends[to->n_backends++];
	memcpy(be->addr, to->addr_lo, 16);
	be->port = to->has_ports ? to->port_lo : 0;
	to->has_ports = to->has_ports || had_ports;
	return 0;
}

/* The target after 'to'; for dnat also a set of backends. */
static int parse_nat_to(struct parser *p, struct rule_ctx *rc)
{
	struct xct_nat_to *to = &rc->r.nat_to;
	size_t n;

	if (p->cur.type != TOK_LBRACE)
		return parse_nat_target(p, rc, false);
	if (rc->r.action != XCT_ACTION_DNAT)
		return perr(p, &p->cur, "only dnat takes a set of targets, %s translates to one",
			    actions[p->nat_action].name);
	if (parse_list(p, "dnat to", false, parse_nat_backend, rc, &n))
		return -EINVAL;
	/* The first backend stands for the rule where one target is shown. */
	memcpy(to->addr_lo, to->backends[0].addr, 16);
	memcpy(to->addr_hi, to->addr_lo, 16);
	to->port_lo = to->port_hi = to->backends[0].port;
	return 0;
}

/* ---- reject with ---- */

/* The ICMP types of reject with, as nftables names them per family. */
static const struct name_val reject_icmp_types[] = {
	{"net-unreachable", XCT_REJECT_NO_ROUTE},
	{"host-unreachable", XCT_REJECT_HOST_UNREACH},
	{"prot-unreachable", XCT_REJECT_PROT_UNREACH},
	{"port-unreachable", XCT_REJECT_PORT_UNREACH},
	{"admin-prohibited", XCT_REJECT_ADMIN},
};

static const struct name_val reject_icmpv6_types[] = {
	{"no-route", XCT_REJECT_NO_ROUTE},
	{"addr-unreachable", XCT_REJECT_HOST_UNREACH},
	{"port-unreachable", XCT_REJECT_PORT_UNREACH},
	{"admin-prohibited", XCT_REJECT_ADMIN},
};

static const struct name_val reject_icmpx_types[] = {
	{"no-route", XCT_REJECT_NO_ROUTE},
	{"host-unreachable", XCT_REJECT_HOST_UNREACH},
	{"port-unreachable", XCT_REJECT_PORT_UNREACH},
	{"admin-prohibited", XCT_REJECT_ADMIN},
};

/* "a, b or c" of a table's names, for messages. */
static const char *name_list(const struct name_val *tab, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = 0;
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i == 0	      ? ""
					 : i == n - 1 ? " or "
						      : ", ",
					 tab[i].name);
	return buf;
}

/*
 * reject with icmp [type] T | with icmpv6 [type] T | with icmpx [type] T |
 * with tcp reset, as nftables: icmp makes the rule IPv4's, icmpv6 IPv6's,
 * tcp reset TCP's.
 */
static int parse_reject_with(struct parser *p, struct rule_ctx *rc)
{
	struct tok kw = p->cur, what;
	const struct name_val *tab;
	char names[160];
	size_t n;
	int i, err = 0;

	if (rc->r.action != XCT_ACTION_REJECT)
		return perr(p, &kw,
			    "'with' follows 'reject' only (reject with icmp type T, "
			    "reject with tcp reset)");
	if (rc->has_reject_with)
		return perr(p, &kw, "'with' given twice");
	rc->has_reject_with = true;
	advance(p);
	what = p->cur;
	if (tok_is(&what, "tcp")) {
		advance(p);
		if (!tok_is(&p->cur, "reset"))
			return perr(p, &p->cur, "expected 'reset' after 'with tcp', got %s",
				    GOT(&p->cur));
		err = set_proto(p, rc, &what, PROTO_TCP);
		if (err)
			return err;
		rc->r.reject = XCT_REJECT_TCP_RESET;
		advance(p);
		return 0;
	}
	if (tok_is(&what, "icmp")) {
		tab = reject_icmp_types;
		n = ARRAY_SIZE(reject_icmp_types);
		err = set_family(p, rc, &what, "reject with icmp", XCT_AF_INET);
	} else if (tok_is(&what, "icmpv6")) {
		tab = reject_icmpv6_types;
		n = ARRAY_SIZE(reject_icmpv6_types);
		err = set_family(p, rc, &what, "reject with icmpv6", XCT_AF_INET6);
	} else if (tok_is(&what, "icmpx")) {
		tab = reject_icmpx_types;
		n = ARRAY_SIZE(reject_icmpx_types);
	} else {
		return perr(p, &what,
			    "expected 'icmp', 'icmpv6', 'icmpx' or 'tcp reset' after "
			    "'with', got %s",
			    GOT(&what));
	}
	if (err)
		return err;
	advance(p);
	if (tok_is(&p->cur, "type"))
		advance(p);
	i = p->cur.type == TOK_WORD ? lookup(tab, n, p->cur.s, p->cur.len) : -1;
	if (i < 0)
		return perr(p, &p->cur, "expected an %s type to reject with (%s), got %s",
			    TXT(&what), name_list(tab, n, names, sizeof(names)), GOT(&p->cur));
	rc->r.reject = (enum xct_reject_kind)tab[i].val;
	advance(p);
	return 0;
}

/* A NAT rule may not use what only makes sense per packet, and matches
 * one value per field: it is walked, not classified. */
static int check_nat_word(struct parser *p, const struct rule_ctx *rc, const struct tok *t)
{
	const char *a = actions[rc->r.action].name;

	if (tok_is(t, "oifname") || tok_is(t, "iifname"))
		return perr(p, t, "'%s' rules match their interface by index: use '%.3s', not '%s'",
			    a, TXT(t), TXT(t));
	if (tok_is(t, "ct"))
		return perr(p, t,
			    "'ct state' cannot be used with '%s' (a NAT rule sees only a "
			    "connection's first packet)",
			    a);
	if (tok_is(t, "limit") || tok_is(t, "log"))
		return perr(p, t, "'%s' cannot be used with '%s'", TXT(t), a);
	if (tok_is(t, "iif") && rc->r.action != XCT_ACTION_DNAT)
		return perr(p, t,
			    "'%s' is decided after routing, on the way out: use 'oif', not 'iif'",
			    a);
	if (tok_is(t, "oif") && rc->r.action == XCT_ACTION_DNAT)
		return perr(
			p, t,
			"'dnat' is decided before routing, on the way in: use 'iif', not 'oif'");
	return 0;
}

/* The flags of masquerade and snat, as nft writes them after the target:
 * random, fully-random, persistent, one or several separated by commas. */
static const struct name_val nat_modes[] = {
	{"random", XCT_NAT_MODE_RANDOM},
	{"fully-random", XCT_NAT_MODE_FULLY_RANDOM},
	{"persistent", XCT_NAT_MODE_PERSISTENT},
};

static bool is_nat_mode(const struct tok *t)
{
	return t->type == TOK_WORD && lookup(nat_modes, ARRAY_SIZE(nat_modes), t->s, t->len) >= 0;
}

static int parse_nat_modes(struct parser *p, struct rule_ctx *rc)
{
	struct xct_nat_to *to = &rc->r.nat_to;
	int i;

	if (rc->r.action == XCT_ACTION_DNAT)
		return perr(p, &p->cur,
			    "'%s' applies to masquerade and snat, which choose a port; dnat "
			    "translates to the port it is given",
			    TXT(&p->cur));
	for (;;) {
		i = lookup(nat_modes, ARRAY_SIZE(nat_modes), p->cur.s, p->cur.len);
		if (p->cur.type != TOK_WORD || i < 0)
			return perr(p, &p->cur,
				    "expected random, fully-random or persistent after ',', got %s",
				    GOT(&p->cur));
		if (to->mode & nat_modes[i].val)
			return perr(p, &p->cur, "'%s' given twice", nat_modes[i].name);
		if ((to->mode | nat_modes[i].val) == XCT_NAT_MODE_RANDOM_ALL)
			return perr(p, &p->cur, "'random' and 'fully-random' exclude each other");
		to->mode |= (__u8)nat_modes[i].val;
		advance(p);
		if (p->cur.type != TOK_COMMA)
			return 0;
		advance(p);
	}
}

static int check_nat_rule(struct parser *p, const struct rule_ctx *rc, const struct tok *kw)
{
	const struct xct_rule *r = &rc->r;
	const char *a = actions[r->action].name;
	char b[8];

	if (tok_is(kw, "saddr") || tok_is(kw, "daddr")) {
		const struct xct_addr_match *m = tok_is(kw, "saddr") ? &r->saddr : &r->daddr;

		if (m->set >= 0 || m->n > 1)
			return perr(p, kw, "'%s' in a '%s' rule takes one address or prefix",
				    TXT(kw), a);
	}
	if (tok_is(kw, "sport") || tok_is(kw, "dport")) {
		const struct xct_port_match *m = tok_is(kw, "sport") ? &r->sport : &r->dport;

		if (m->set >= 0 || m->n > 1)
			return perr(p, kw, "'%s' in a '%s' rule takes one port or port range",
				    TXT(kw), a);
	}
	if ((tok_is(kw, "oif") || tok_is(kw, "iif")) && r->n_ifaces > 1)
		return perr(p, kw, "'%s' in a '%s' rule takes one interface", TXT(kw), a);
	if (r->has_proto && r->proto != PROTO_TCP && r->proto != PROTO_UDP &&
	    r->proto != PROTO_ICMP && r->proto != PROTO_ICMPV6)
		return perr(p, kw, "'%s' translates tcp, udp, icmp and icmpv6 only, not '%s'", a,
			    proto_name(r->proto, b, sizeof(b)));
	if (tok_is(kw, "icmp") || tok_is(kw, "icmpv6") || tok_is(kw, "tcp"))
		if (r->n_icmp || r->has_tcp_flags)
			return perr(p, kw, "'%s' rules match no ICMP types or TCP flags", a);
	return 0;
}

/* ACTION MATCH... [OPTION...] */
static int parse_jump_target(struct parser *p, const struct xct_rule *r, struct xct_jump **out);
static int check_flow_rule(struct parser *p, struct rule_ctx *rc, const struct tok *first);

static int parse_rule(struct parser *p, int action)
{
	struct rule_ctx rc;
	struct tok first = p->cur;
	int err = 0;
	bool nat, owner;

	memset(&rc, 0, sizeof(rc));
	rc.r.loc = first.loc;
	rc.r.action = (enum xct_rule_action)actions[action].val;
	rc.r.hook = XCT_HOOK_INGRESS;
	rc.r.saddr.set = rc.r.daddr.set = rc.r.sport.set = rc.r.dport.set = -1;
	nat = is_nat_action(rc.r.action);
	if (nat) {
		p->nat_action = action;
		rc.r.hook = rc.r.action == XCT_ACTION_DNAT ? XCT_HOOK_INGRESS : XCT_HOOK_EGRESS;
		if (p->rs.n_nat_rules >= NAT_RULES_MAX)
			return perr(p, &first, "too many NAT rules (at most %d)", NAT_RULES_MAX);
	} else if (p->rs.n_written + p->rs.n_owner_rules >= RULES_MAX) {
		return perr(p, &first, "too many rules (at most %d)", RULES_MAX);
	}
	rc.r.chain_of = p->chain_cur;
	/* A vmap rule starts with its matches: the verdicts are in the map. */
	if (rc.r.action != XCT_ACTION_VMAP)
		advance(p);
	if ((rc.r.action == XCT_ACTION_JUMP || rc.r.action == XCT_ACTION_GOTO) &&
	    parse_jump_target(p, &rc.r, &rc.r.jump))
		return -EINVAL;
	if (rc.r.action == XCT_ACTION_SNAT && !tok_is(&p->cur, "to"))
		return perr(p, &p->cur,
			    "expected 'to' after 'snat' (snat to ADDR[:PORT-PORT]), got %s",
			    GOT(&p->cur));
	if (rc.r.action == XCT_ACTION_DNAT && !tok_is(&p->cur, "to"))
		return perr(p, &p->cur, "expected 'to' after 'dnat' (dnat to ADDR[:PORT]), got %s",
			    GOT(&p->cur));
	if (nat && tok_is(&p->cur, "to")) {
		advance(p);
		if (parse_nat_to(p, &rc)) {
			rule_free(&rc.r);
			return -EINVAL;
		}
	}

	while (!err && !stmt_end(&p->cur)) {
		const struct tok *t = &p->cur;
		struct tok kw = *t;
		bool had_flags = rc.r.has_tcp_flags;
		size_t had_icmp = rc.r.n_icmp;

		if (nat && (err = check_nat_word(p, &rc, t)))
			break;
		if (tok_is(t, "iif") || tok_is(t, "oif") || tok_is(t, "iifname") ||
		    tok_is(t, "oifname"))
			err = parse_iface(p, &rc);
		else if (tok_is(t, "ip") || tok_is(t, "ip6"))
			err = parse_family_word(p, &rc);
		else if (tok_is(t, "tcp") || tok_is(t, "udp") || tok_is(t, "icmp") ||
			 tok_is(t, "icmpv6"))
			err = parse_proto_word(p, &rc);
		else if (tok_is(t, "meta"))
			err = parse_meta(p, &rc);
		else if (tok_is(t, "saddr") || tok_is(t, "daddr"))
			err = parse_addr_match(p, &rc);
		else if (tok_is(t, "sport") || tok_is(t, "dport"))
			err = parse_port_match(p, &rc);
		else if (tok_is(t, "ct"))
			err = parse_ct(p, &rc);
		else if (tok_is(t, "limit"))
			err = parse_limit(p, &rc);
		else if (tok_is(t, "log"))
			err = parse_log(p, &rc);
		else if (tok_is(t, "counter"))
			advance(p); /* every rule counts */
		else if (tok_is(t, "with"))
			err = parse_reject_with(p, &rc);
		else if (tok_is(t, "th"))
			err = parse_th(p, &rc);
		else if (tok_is(t, "comment"))
			err = parse_comment(p, &rc);
		else if (tok_is(t, "socket"))
			err = parse_socket(p, &rc);
		else if (tok_is(t, "to") && nat)
			err = perr(p, t, "'to' must follow '%s' directly",
				   actions[rc.r.action].name);
		else if (nat && is_nat_mode(t))
			err = parse_nat_modes(p, &rc);
		else
			err = unknown_in_rule(p, &rc);
		if (!err && nat)
			err = check_nat_rule(p, &rc, &kw);
		if (!err && nat && is_owner_rule(&rc.r))
			err = perr(p, &rc.owner_tok, "'%s' cannot be used with '%s'", rc.owner_what,
				   actions[rc.r.action].name);
		/* What an owner rule cannot decide, should the rule be one. */
		if (!err && !rc.late_what) {
			if (rc.r.has_tcp_flags != had_flags)
				rc.late_what = "tcp flags";
			else if (rc.r.n_icmp != had_icmp)
				rc.late_what = tok_is(&kw, "icmpv6") ? "icmpv6 type" : "icmp type";
			else if (tok_is(&kw, "ct"))
				rc.late_what = "ct state";
			else if (tok_is(&kw, "limit") || tok_is(&kw, "log") ||
				 tok_is(&kw, "saddr") || tok_is(&kw, "sport"))
				rc.late_what = tok_is(&kw, "limit")   ? "limit"
					       : tok_is(&kw, "log")   ? "log"
					       : tok_is(&kw, "saddr") ? "saddr"
								      : "sport";
			if (rc.late_what)
				rc.late_tok = kw;
		}
	}
	if (!err)
		err = check_continue_rule(p, &rc, &first);
	if (!err)
		err = check_concat_rule(p, &rc, &first);
	if (!err && is_owner_rule(&rc.r))
		err = check_owner_rule(p, &rc);
	if (!err && is_owner_rule(&rc.r) && p->chain_cur >= 0)
		err = perr(p, &first,
			   "an owner rule (meta skuid, meta skgid, socket cgroupv2) is decided at "
			   "connect(), apart from the chains: write it in the base list");
	/* A translated port needs a protocol that has ports (as in nft). */
	if (!err)
		err = check_flow_rule(p, &rc, &first);
	if (!err && rc.r.action == XCT_ACTION_DNAT && rc.r.nat_to.has_ports &&
	    (!rc.r.has_proto || (rc.r.proto != PROTO_TCP && rc.r.proto != PROTO_UDP)))
		err = perr(p, &first, "'dnat to ADDR:PORT' needs 'tcp' or 'udp' in the rule");
	owner = !err && is_owner_rule(&rc.r);
	/* Owner rules keep their text in the filter rules' text map: they
	 * count against the same limit. */
	if (owner && p->rs.n_written + p->rs.n_owner_rules >= RULES_MAX)
		err = perr(p, &first, "too many rules (at most %d)", RULES_MAX);
	if (!err) {
		rc.r.text = expand_text(p, first.off, p->last.end);
		if (!rc.r.text)
			err = oom(p, &first);
		else if (nat	 ? vec_reserve(p->rs.nat_rules, p->rs.n_nat_rules, p->nat_rules_cap)
			 : owner ? vec_reserve(p->rs.owner_rules, p->rs.n_owner_rules,
					       p->owner_rules_cap)
				 : vec_reserve(p->rs.written, p->rs.n_written, p->rules_cap))
			err = oom(p, &first);
	}
	if (err) {
		rule_free(&rc.r);
		return err;
	}
	if (nat)
		p->rs.nat_rules[p->rs.n_nat_rules++] = rc.r;
	else if (owner)
		p->rs.owner_rules[p->rs.n_owner_rules++] = rc.r;
	else
		p->rs.written[p->rs.n_written++] = rc.r;
	return 0;
}

/* ---- Variables ---- */

/* The most text a variable's value may expand to: a definition made of
 * others cannot double itself into all of memory. */
#define DEFINE_VALUE_MAX (1u << 20)

/* define NAME = VALUE: VALUE runs to the end of the statement (a list in
 * braces may span lines); $NAME then stands for it wherever a token may. */
static int parse_define(struct parser *p)
{
	struct tok kw = p->cur, name, open = {0};
	const struct define *prev;
	struct define d;
	unsigned int depth = 0;
	size_t start;
	int err;

	memset(&d, 0, sizeof(d));
	advance(p);
	name = p->cur;
	if (name.type != TOK_WORD)
		return perr(p, &name, "expected a variable name after 'define', got %s",
			    GOT(&name));
	err = check_set_name(p, &name, "variable name");
	if (err)
		return err;
	prev = find_define(p, name.s, name.len);
	if (prev)
		return perr(p, &name, "variable '%s' is already defined (at %s:%u)", TXT(&name),
			    prev->file, prev->loc.line);
	memcpy(d.name, name.s, name.len);
	advance(p);
	/* '=' alone is no token of the rule language, so it lexes as bad. */
	if (p->cur.type != TOK_BAD || p->cur.len != 1 || p->cur.s[0] != '=')
		return perr(p, &p->cur, "expected '=' after 'define %s', got %s", d.name,
			    GOT(&p->cur));
	advance(p);
	if (stmt_end(&p->cur))
		return perr(p, &p->cur, "expected a value after 'define %s =', got %s", d.name,
			    GOT(&p->cur));
	start = p->cur.off;
	for (;;) {
		if (p->cur.type == TOK_BAD || p->cur.type == TOK_VAR)
			return perr(p, &p->cur, "%s", "");
		if (p->cur.type == TOK_LBRACE && !depth++)
			open = p->cur;
		if (p->cur.type == TOK_RBRACE && !depth)
			return perr(p, &p->cur, "unexpected '}' (no '{' is open)");
		if (p->cur.type == TOK_RBRACE)
			depth--;
		advance(p);
		if (depth) {
			skip_nl(p);
			if (p->cur.type == TOK_EOF)
				return perr(p, &open, "unterminated '{' (opened at line %u)",
					    open.loc.line);
		} else if (stmt_end(&p->cur)) {
			break;
		}
	}
	d.value = expand_text(p, start, p->last.end);
	if (!d.value)
		return oom(p, &kw);
	d.len = strlen(d.value);
	if (d.len > DEFINE_VALUE_MAX) {
		free(d.value);
		return perr(p, &name, "the value of '%s' is longer than %u KiB", d.name,
			    DEFINE_VALUE_MAX >> 10);
	}
	snprintf(d.file, sizeof(d.file), "%s", p->err->file);
	d.loc = kw.loc;
	if (vec_reserve(p->defines, p->n_defines, p->defines_cap)) {
		free(d.value);
		return oom(p, &kw);
	}
	p->defines[p->n_defines++] = d;
	return 0;
}

/* ---- Included files ---- */

/*
 * Reads a rules file from fd into *buf (*len bytes), up to
 * XCT_RULES_FILE_MAX bytes and no further than a NUL byte; msg says why
 * not.  Reads until EOF rather than trust st_size (pipes, /proc files):
 * the text is refused at a NUL anyway, and /dev/zero would never end.
 */
static int read_text(int fd, char **bufp, size_t *lenp, char *msg, size_t msglen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb, *nul;
	ssize_t r;

	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;

			if (ncap > XCT_RULES_FILE_MAX + 1)
				ncap = XCT_RULES_FILE_MAX + 1;
			nb = ncap > cap ? realloc(buf, ncap) : NULL;
			if (!nb && ncap > cap) {
				snprintf(msg, msglen, "cannot read rules file: %s",
					 strerror(ENOMEM));
				free(buf);
				return -ENOMEM;
			}
			if (nb) {
				buf = nb;
				cap = ncap;
			}
		}
		if (len == cap) {
			snprintf(msg, msglen, "larger than %u MiB, the most a rules file may hold",
				 XCT_RULES_FILE_MAX >> 20);
			free(buf);
			return -EFBIG;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			snprintf(msg, msglen, "cannot read rules file: %s", strerror(e));
			free(buf);
			return -e;
		}
		if (r == 0)
			break;
		nul = memchr(buf + len, '\0', (size_t)r);
		if (nul) {
			len = (size_t)(nul - buf) + 1;
			break;
		}
		len += (size_t)r;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int parse_stmts(struct parser *p);

/* Where the lexer stands in a file, kept while another is included. */
struct lex_state {
	const char *text;
	size_t len, pos, line_start;
	unsigned int line;
	struct tok cur, last;
	const char *mac;
	size_t mac_len, mac_pos;
	struct tok mac_use;
	char file[sizeof(((struct xct_rules_error *)0)->file)];
};

static void lex_save(const struct parser *p, struct lex_state *ls)
{
	ls->text = p->text;
	ls->len = p->len;
	ls->pos = p->pos;
	ls->line_start = p->line_start;
	ls->line = p->line;
	ls->cur = p->cur;
	ls->last = p->last;
	ls->mac = p->mac;
	ls->mac_len = p->mac_len;
	ls->mac_pos = p->mac_pos;
	ls->mac_use = p->mac_use;
	memcpy(ls->file, p->err->file, sizeof(ls->file));
}

static void lex_restore(struct parser *p, const struct lex_state *ls)
{
	p->text = ls->text;
	p->len = ls->len;
	p->pos = ls->pos;
	p->line_start = ls->line_start;
	p->line = ls->line;
	p->cur = ls->cur;
	p->last = ls->last;
	p->mac = ls->mac;
	p->mac_len = ls->mac_len;
	p->mac_pos = ls->mac_pos;
	p->mac_use = ls->mac_use;
	memcpy(p->err->file, ls->file, sizeof(ls->file));
}

/* Parses the statements of text as file, at the start of a file. */
static int parse_buffer(struct parser *p, const char *file, const char *text, size_t len)
{
	int ret, chain;

	p->text = text;
	p->len = len;
	p->pos = 0;
	p->line = 1;
	p->line_start = 0;
	p->mac = NULL;
	memset(&p->last, 0, sizeof(p->last));
	snprintf(p->err->file, sizeof(p->err->file), "%s", file);
	ret = check_text(p);
	if (ret)
		return ret;
	lex(p, &p->cur);
	chain = p->chain_cur;
	ret = parse_stmts(p);
	/* A chain's '}' is in the file of its '{'. */
	if (!ret && p->chain_cur != chain)
		ret = perr(p, &p->chain_open, "unterminated chain '%s' (its '}' is missing)",
			   p->rs.chains[p->chain_cur].name);
	return ret;
}

/* The statements of file, included where the token at stands. */
static int include_one(struct parser *p, const struct tok *at, const char *file)
{
	char msg[sizeof(p->err->msg)];
	struct lex_state ls;
	struct stat st;
	unsigned int i;
	size_t len;
	char *buf;
	int fd, ret;

	if (p->depth > INCLUDE_DEPTH_MAX)
		return perr(p, at, "includes nested more than %d deep", INCLUDE_DEPTH_MAX);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perr(p, at, "cannot open '%s': %s", file, strerror(errno));
	if (fstat(fd, &st)) {
		ret = perr(p, at, "cannot read '%s': %s", file, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = perr(p, at, "cannot include '%s': it is a directory (include \"%s/*\")", file,
			   file);
		goto out;
	}
	for (i = 0; i < p->depth; i++)
		if (p->includes[i].dev == st.st_dev && p->includes[i].ino == st.st_ino) {
			ret = perr(p, at, "include loop: '%s' is being read already", file);
			goto out;
		}
	ret = read_text(fd, &buf, &len, msg, sizeof(msg));
	if (ret) {
		perr(p, at, "'%s': %s", file, msg);
		goto out;
	}
	lex_save(p, &ls);
	p->includes[p->depth].dev = st.st_dev;
	p->includes[p->depth].ino = st.st_ino;
	p->depth++;
	ret = parse_buffer(p, file, buf, len);
	p->depth--;
	/* On an error, the message and its line are the included file's. */
	if (!ret)
		lex_restore(p, &ls);
	free(buf);
out:
	close(fd);
	return ret;
}

/*
 * include "PATH": the statements of another file, read where the include
 * stands, with its sets, variables and rules.  A relative path is taken
 * from the including file's directory.  A pattern with wildcards (* ? [)
 * includes its matches in name order, and matching none is no error, as
 * in nft.
 */
static int parse_include(struct parser *p)
{
	struct tok path;
	char pat[PATH_MAX];
	const char *slash;
	size_t plen, dlen = 0;
	glob_t g;
	size_t i;
	int ret;

	advance(p);
	path = p->cur;
	if (path.type != TOK_STRING)
		return perr(p, &path,
			    "expected a file name in double quotes after 'include', got %s",
			    GOT(&path));
	plen = path.len - 2;
	if (!plen)
		return perr(p, &path, "expected a file name in the quotes after 'include'");
	advance(p);
	if (!stmt_end(&p->cur))
		return perr(p, &p->cur, "expected end of line after 'include %s', got %s",
			    TXT(&path), GOT(&p->cur));
	slash = strrchr(p->err->file, '/');
	if (path.s[1] != '/' && slash)
		dlen = (size_t)(slash - p->err->file) + 1;
	if (dlen + plen >= sizeof(pat))
		return perr(p, &path, "file name too long");
	memcpy(pat, p->err->file, dlen);
	memcpy(pat + dlen, path.s + 1, plen);
	pat[dlen + plen] = '\0';

	if (!strpbrk(pat + dlen, "*?["))
		return include_one(p, &path, pat);
	ret = glob(pat, GLOB_ERR, NULL, &g);
	if (ret == GLOB_NOMATCH)
		return 0;
	if (ret)
		return perr(p, &path, "cannot read the files '%s' names: %s", pat,
			    ret == GLOB_NOSPACE ? strerror(ENOMEM) : strerror(errno));
	for (i = 0, ret = 0; i < g.gl_pathc && !ret; i++)
		ret = include_one(p, &path, g.gl_pathv[i]);
	globfree(&g);
	return ret;
}

/* ---- Chains and verdict maps ----
 *
 * chain NAME { RULES }, jump NAME, goto NAME, return, and FIELD vmap
 * { KEY : VERDICT, ... } as nftables writes them.  The parser only records
 * what is written; src/rules/chains.c resolves the names (a chain may be
 * used before it is defined, as in an nft file) and expands the chains
 * into the flat list the datapath walks.
 */

/* Where t stands, for a message of the expansion. */
static void flow_src_at(const struct parser *p, const struct tok *t, struct xct_flow_src *src)
{
	snprintf(src->file, sizeof(src->file), "%s", p->err->file);
	src->loc = t->loc;
	src->off = t->loc.col - 1;
	copy_line(src->line_text, sizeof(src->line_text), p->text, p->len,
		  t->off - (t->loc.col - 1));
}

static int chain_name(struct parser *p, const struct tok *t, const char *after)
{
	if (t->type != TOK_WORD)
		return perr(p, t, "expected a chain name after '%s', got %s", after, GOT(t));
	return check_set_name(p, t, "chain name");
}

/* jump NAME / goto NAME: cur is the name. */
static int parse_jump_target(struct parser *p, const struct xct_rule *r, struct xct_jump **out)
{
	const struct tok *t = &p->cur;
	struct xct_jump *j;

	if (chain_name(p, t, actions[r->action].name))
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return oom(p, t);
	memcpy(j->name, t->s, t->len);
	j->chain = -1;
	flow_src_at(p, t, &j->src);
	*out = j;
	advance(p);
	return 0;
}

/*
 * What a rule that passes control may not take.  A jump's matches are
 * copied into every rule of its chain, so a rate limit there would become
 * one bucket per copy, and a log an event per rule that decides: both are
 * refused rather than given another meaning.
 */
static int check_flow_rule(struct parser *p, struct rule_ctx *rc, const struct tok *first)
{
	enum xct_rule_action a = rc->r.action;

	if (a == XCT_ACTION_VMAP && !rc->r.vmap)
		return perr(
			p, first,
			"a rule starts with its action (accept, drop, reject or notrack), got '%s'",
			TXT(first));
	/* The vmap's element gives the verdict: a rule has no other. */
	if (a != XCT_ACTION_VMAP && rc->r.vmap)
		return perr(p, first,
			    "a vmap rule takes its verdict from the map: write it without '%s' "
			    "(tcp dport vmap { 22 : accept })",
			    actions[a].name);
	if (a != XCT_ACTION_JUMP && a != XCT_ACTION_GOTO && a != XCT_ACTION_VMAP &&
	    a != XCT_ACTION_RETURN)
		return 0;
	if (rc->r.vmap && rc->r.vmap->field != XCT_VMAP_CONCAT) { /* check_concat_rule() */
		static const char *const names[] = {"saddr", "daddr", "sport", "dport"};
		const bool present[] = {rc->r.saddr.present, rc->r.daddr.present,
					rc->r.sport.present, rc->r.dport.present};

		if (present[rc->r.vmap->field])
			return perr(p, first, "'%s' given twice (it is the key of the vmap)",
				    names[rc->r.vmap->field]);
	}
	if (rc->r.limit.present && a != XCT_ACTION_RETURN)
		return perr(p, first,
			    "'limit' cannot be used with '%s' (put it on the rules of the chain)",
			    a == XCT_ACTION_VMAP ? "vmap" : actions[a].name);
	if (rc->r.log && a != XCT_ACTION_VMAP && a != XCT_ACTION_RETURN)
		return perr(p, first,
			    "'log' cannot be used with '%s' (put it on the rules of the chain)",
			    actions[a].name);
	return 0;
}

static int find_chain(const struct xct_ruleset *rs, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < rs->n_chains; i++)
		if (strlen(rs->chains[i].name) == len && !memcmp(rs->chains[i].name, s, len))
			return (int)i;
	return -1;
}

/* chain NAME {: the rules up to the matching '}' are the chain's. */
static int parse_chain(struct parser *p)
{
	struct tok kw = p->cur, name;
	struct xct_chain *c;
	int prev;

	if (p->chain_cur >= 0)
		return perr(p, &kw, "chains do not nest: chain '%s' (line %u) is not closed",
			    p->rs.chains[p->chain_cur].name, p->chain_open.loc.line);
	advance(p);
	name = p->cur;
	if (chain_name(p, &name, "chain"))
		return -EINVAL;
	prev = find_chain(&p->rs, name.s, name.len);
	if (prev >= 0)
		return perr(p, &name, "chain '%s' is already defined (at line %u)", TXT(&name),
			    p->rs.chains[prev].loc.line);
	advance(p);
	if (p->cur.type != TOK_LBRACE)
		return perr(p, &p->cur, "expected '{' after 'chain %s', got %s", TXT(&name),
			    GOT(&p->cur));
	p->chain_open = p->cur;
	advance(p);
	if (!stmt_end(&p->cur))
		return perr(
			p, &p->cur,
			"expected end of line after '{' (a chain's rules start on the next line), got %s",
			GOT(&p->cur));
	if (vec_reserve(p->rs.chains, p->rs.n_chains, p->chains_cap))
		return oom(p, &kw);
	c = &p->rs.chains[p->rs.n_chains];
	memset(c, 0, sizeof(*c));
	memcpy(c->name, name.s, name.len);
	c->loc = kw.loc;
	snprintf(c->file, sizeof(c->file), "%s", p->err->file);
	p->chain_cur = (int)p->rs.n_chains++;
	return 0;
}

static int parse_chain_end(struct parser *p)
{
	advance(p);
	if (!stmt_end(&p->cur))
		return perr(p, &p->cur, "expected end of line after '}', got %s", GOT(&p->cur));
	p->chain_cur = -1;
	return 0;
}

/* Whether the word after cur is 'vmap'. */
static bool next_is_vmap(struct parser *p)
{
	struct lex_state ls;
	bool yes;

	lex_save(p, &ls);
	advance(p);
	yes = tok_is(&p->cur, "vmap");
	lex_restore(p, &ls);
	return yes;
}

/* Whether the statement at cur holds a 'vmap' before its end (or before a
 * '{' that may span lines). */
static bool rule_has_vmap(struct parser *p)
{
	struct lex_state ls;
	bool yes = false;

	lex_save(p, &ls);
	while (!stmt_end(&p->cur) && p->cur.type != TOK_LBRACE) {
		if (tok_is(&p->cur, "vmap")) {
			yes = true;
			break;
		}
		advance(p);
	}
	lex_restore(p, &ls);
	return yes;
}

struct vmap_ctx {
	struct xct_vmap_elem **elems;
	size_t *n, cap;
	bool ports;
	__u8 family; /* what the keys must be, 0 for either */
	const char *what;
	__u8 ctypes[XCT_CONCAT_MAX]; /* a concatenation's vmap: its types */
	__u8 n_ctypes;
};

static const char *const verdict_words = "accept, drop, reject, jump NAME, goto NAME or return";

/* The VERDICT of KEY : VERDICT at cur, into e; key names the key in the
 * message. */
static int vmap_verdict(struct parser *p, struct xct_vmap_elem *e, const char *key)
{
	int a = p->cur.type == TOK_WORD
			? lookup(actions, ARRAY_SIZE(actions), p->cur.s, p->cur.len)
			: -1;

	if (a < 0 || actions[a].val == XCT_ACTION_NOTRACK || actions[a].val == XCT_ACTION_VMAP ||
	    is_nat_action((enum xct_rule_action)actions[a].val))
		return perr(p, &p->cur, "expected a verdict (%s) after '%s :', got %s",
			    verdict_words, key, GOT(&p->cur));
	e->action = (enum xct_rule_action)actions[a].val;
	advance(p);
	if (e->action == XCT_ACTION_JUMP || e->action == XCT_ACTION_GOTO) {
		struct xct_rule r = {.action = e->action};
		struct xct_jump *j;

		if (parse_jump_target(p, &r, &j))
			return -EINVAL;
		e->jump = *j;
		free(j);
	}
	return 0;
}

/* One KEY : VERDICT.  The key may carry the ':' (22: accept). */
static int vmap_elem(struct parser *p, void *ctx)
{
	struct vmap_ctx *vc = ctx;
	struct tok key = p->cur;
	char msg[sizeof(p->err->msg)];
	struct xct_vmap_elem e;
	size_t len = key.len;
	bool colon = false;

	memset(&e, 0, sizeof(e));
	if (key.type == TOK_WORD && len > 1 && key.s[len - 1] == ':' &&
	    (vc->ports || memchr(key.s, '.', len))) {
		len--;
		colon = true;
	}
	{
		struct tok k2 = key;

		k2.len = len;
		if (elem_kind_of(&k2) != (vc->ports ? ELEM_PORT : ELEM_ADDR))
			return perr(p, &key, "expected %s as the key of an element of %s, got %s",
				    vc->ports ? "a port or a port range" : "an address or a prefix",
				    vc->what, GOT(&key));
	}
	if (vc->ports ? port_range_parse(key.s, len, &e.ports, msg, sizeof(msg))
		      : prefix_parse(key.s, len, &e.prefix, msg, sizeof(msg)))
		return perr(p, &key, "%s", msg);
	if (!vc->ports && vc->family && e.prefix.family != vc->family)
		return perr(p, &key, "'%.*s' is %s, but %s holds %s addresses", (int)len, key.s,
			    family_name(e.prefix.family), vc->what, family_name(vc->family));
	advance(p);
	if (!colon) {
		if (!tok_is(&p->cur, ":"))
			return perr(p, &p->cur, "expected ':' and a verdict after '%.*s', got %s",
				    (int)len, key.s, GOT(&p->cur));
		advance(p);
	}
	{
		char k[64];

		snprintf(k, sizeof(k), "%.*s", (int)(len > 40 ? 40 : len), key.s);
		if (vmap_verdict(p, &e, k))
			return -EINVAL;
	}
	if (vec_reserve(*vc->elems, *vc->n, vc->cap))
		return oom(p, &key);
	(*vc->elems)[(*vc->n)++] = e;
	return 0;
}

static int find_map(const struct xct_ruleset *rs, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < rs->n_maps; i++)
		if (strlen(rs->maps[i].name) == len && !memcmp(rs->maps[i].name, s, len))
			return (int)i;
	return -1;
}

/* FIELD vmap { ... } | FIELD vmap @NAME: cur is FIELD. */
static int parse_vmap(struct parser *p, struct rule_ctx *rc, enum xct_vmap_field field)
{
	bool ports = field == XCT_VMAP_SPORT || field == XCT_VMAP_DPORT;
	struct xct_vmap *vm;
	struct vmap_ctx vc;
	size_t n;
	int err = 0;

	advance(p); /* FIELD */
	if (rc->r.vmap)
		return perr(p, &p->cur, "a rule has one 'vmap'");
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return oom(p, &p->cur);
	vm->field = field;
	vm->map = -1;
	flow_src_at(p, &p->cur, &vm->src);
	rc->r.vmap = vm; /* freed with the rule */
	advance(p);	 /* vmap */
	if (p->cur.type == TOK_WORD && p->cur.s[0] == '@') {
		const char *name = p->cur.s + 1;
		size_t len = p->cur.len - 1;
		int m = find_map(&p->rs, name, len);
		struct xct_map_def *def;

		if (m < 0)
			return perr(p, &p->cur, "unknown map '%s'", TXT(&p->cur));
		def = &p->rs.maps[m];
		if (def->n_ctypes)
			return perr(p, &p->cur, "map '%s' is keyed by a concatenation, not by %s",
				    def->name, ports ? "ports" : "addresses");
		if (def->ports != ports)
			return perr(p, &p->cur, "map '%s' is keyed by %s, not %s", def->name,
				    def->ports ? "ports" : "addresses",
				    ports ? "ports" : "addresses");
		vm->map = m;
		vm->n = def->n;
		vm->elems = calloc(def->n ? def->n : 1, sizeof(*vm->elems));
		if (!vm->elems)
			return oom(p, &p->cur);
		if (def->n) /* an empty map has no elements to copy, nor an array */
			memcpy(vm->elems, def->elems, def->n * sizeof(*vm->elems));
		advance(p);
	} else if (p->cur.type == TOK_LBRACE) {
		vc = (struct vmap_ctx){&vm->elems, &vm->n, 0, ports, rc->r.family, "the vmap", {0}, 0};
		err = parse_list(p, "vmap", false, vmap_elem, &vc, &n);
	} else {
		return perr(p, &p->cur, "expected '{' or a map (@name) after 'vmap', got %s",
			    GOT(&p->cur));
	}
	return err;
}

/*
 * map NAME { type KIND : verdict; elements = { KEY : VERDICT, ... } }, as
 * nft declares a verdict map; KIND is inet_service (ports), ipv4_addr or
 * ipv6_addr.  Rules use it as FIELD vmap @NAME.
 */
static int parse_map(struct parser *p)
{
	struct tok kw = p->cur, name, open;
	struct xct_map_def def;
	bool has_type = false, has_elems = false, nl;
	__u8 family = 0;
	int err = 0;

	memset(&def, 0, sizeof(def));
	advance(p);
	name = p->cur;
	if (name.type != TOK_WORD)
		return perr(p, &name, "expected a map name after 'map', got %s", GOT(&name));
	if (check_set_name(p, &name, "map name"))
		return -EINVAL;
	if (find_map(&p->rs, name.s, name.len) >= 0)
		return perr(p, &name, "map '%s' is already defined", TXT(&name));
	memcpy(def.name, name.s, name.len);
	def.loc = kw.loc;
	advance(p);
	open = p->cur;
	if (open.type != TOK_LBRACE)
		return perr(p, &open, "expected '{' after 'map %s', got %s", def.name, GOT(&open));
	advance(p);
	for (;;) {
		nl = false;
		while (p->cur.type == TOK_NL || p->cur.type == TOK_SEMI) {
			nl = true;
			advance(p);
		}
		if (list_unterminated(p, nl)) {
			err = perr(p, &open, "unterminated '{' (opened at line %u)", open.loc.line);
			break;
		}
		if (p->cur.type == TOK_RBRACE) {
			advance(p);
			break;
		}
		if (tok_is(&p->cur, "type")) {
			advance(p);
			if (next_is_dot(p)) {
				bool single;

				err = concat_type_parse(p, def.ctypes, &def.n_ctypes, &single);
				if (err)
					break;
			} else if (tok_is(&p->cur, "inet_service"))
				def.ports = true;
			else if (tok_is(&p->cur, "ipv4_addr"))
				family = XCT_AF_INET;
			else if (tok_is(&p->cur, "ipv6_addr"))
				family = XCT_AF_INET6;
			else {
				err = perr(
					p, &p->cur,
					"expected inet_service, ipv4_addr or ipv6_addr after 'type', got %s",
					GOT(&p->cur));
				break;
			}
			if (!def.n_ctypes)
				advance(p);
			if (!tok_is(&p->cur, ":")) {
				err = perr(p, &p->cur,
					   "expected ': verdict' after the key type, got %s",
					   GOT(&p->cur));
				break;
			}
			advance(p);
			if (!tok_is(&p->cur, "verdict")) {
				err = perr(
					p, &p->cur,
					"expected 'verdict' (xct's maps are verdict maps), got %s",
					GOT(&p->cur));
				break;
			}
			advance(p);
			has_type = true;
		} else if (tok_is(&p->cur, "elements")) {
			struct vmap_ctx vc = {&def.elems, &def.n, 0, def.ports, family, def.name, {0}, 0};
			size_t n;

			if (!has_type) {
				err = perr(p, &p->cur, "'type' comes before 'elements' in map '%s'",
					   def.name);
				break;
			}
			advance(p);
			if (p->cur.type != TOK_BAD || p->cur.len != 1 || p->cur.s[0] != '=') {
				err = perr(p, &p->cur, "expected '=' after 'elements', got %s",
					   GOT(&p->cur));
				break;
			}
			advance(p);
			if (p->cur.type != TOK_LBRACE) {
				err = perr(p, &p->cur, "expected '{' after 'elements =', got %s",
					   GOT(&p->cur));
				break;
			}
			memcpy(vc.ctypes, def.ctypes, sizeof(vc.ctypes));
			vc.n_ctypes = def.n_ctypes;
			err = parse_list(p, "elements", true, def.n_ctypes ? concat_vmap_elem : vmap_elem,
					 &vc, &n);
			if (err)
				break;
			has_elems = true;
		} else {
			err = perr(p, &p->cur, "expected 'type' or 'elements' in map '%s', got %s",
				   def.name, GOT(&p->cur));
			break;
		}
	}
	(void)has_elems;
	if (!err && !has_type)
		err = perr(p, &kw, "map '%s' needs its type: type inet_service : verdict",
			   def.name);
	if (!err && !stmt_end(&p->cur))
		err = perr(p, &p->cur, "expected end of line after '}', got %s", GOT(&p->cur));
	if (!err) {
		def.text = expand_text(p, kw.off, p->last.end);
		if (!def.text)
			err = oom(p, &kw);
	}
	if (!err && vec_reserve(p->rs.maps, p->rs.n_maps, p->maps_cap))
		err = oom(p, &kw);
	if (err) {
		free(def.elems);
		free(def.text);
		return err;
	}
	p->rs.maps[p->rs.n_maps++] = def;
	return 0;
}

#include "rules/parse_concat.h"

/* What a chain may not hold: the policy, sets and maps are the file's,
 * and NAT rules a list of their own (the chain's matches would not reach
 * them). */
static bool in_chain_refused(struct parser *p)
{
	const struct tok *t = &p->cur;
	int a = t->type == TOK_WORD ? lookup(actions, ARRAY_SIZE(actions), t->s, t->len) : -1;

	if (tok_is(t, "policy") || tok_is(t, "set") || tok_is(t, "map"))
		perr(p, t, "'%s' cannot be inside a chain (chain '%s', line %u, is not closed)",
		     TXT(t), p->rs.chains[p->chain_cur].name, p->chain_open.loc.line);
	else if (a >= 0 && is_nat_action((enum xct_rule_action)actions[a].val))
		perr(p, t, "NAT rules are a list of their own: '%s' cannot be inside a chain",
		     TXT(t));
	else
		return false;
	return true;
}

void xct_rule_free(struct xct_rule *r)
{
	rule_free(r);
}

static int parse_chain(struct parser *p);
static int parse_chain_end(struct parser *p);
static int parse_map(struct parser *p);
static bool rule_has_vmap(struct parser *p);
static bool in_chain_refused(struct parser *p);

static int parse_stmt(struct parser *p)
{
	const struct tok *t = &p->cur;
	struct suggest sg;
	char sugg[64];
	int a;

	if (p->chain_cur >= 0 && in_chain_refused(p))
		return -EINVAL;
	if (tok_is(t, "set"))
		return parse_set(p);
	if (tok_is(t, "policy"))
		return parse_policy(p);
	if (tok_is(t, "define"))
		return parse_define(p);
	if (tok_is(t, "include"))
		return parse_include(p);
	if (tok_is(t, "chain"))
		return parse_chain(p);
	if (tok_is(t, "map"))
		return parse_map(p);
	if (t->type == TOK_RBRACE && p->chain_cur >= 0)
		return parse_chain_end(p);
	if (t->type == TOK_WORD) {
		a = lookup(actions, ARRAY_SIZE(actions), t->s, t->len);
		if (a >= 0 && actions[a].val != XCT_ACTION_VMAP)
			return parse_rule(p, a);
		/* A verdict map decides: FIELD vmap { ... } needs no action. */
		if (rule_has_vmap(p))
			return parse_rule(p, XCT_ACTION_VMAP);
		/* nft puts the verdict last; here it comes first. */
		if (lookup(rule_keywords, ARRAY_SIZE(rule_keywords), t->s, t->len) >= 0)
			return perr(
				p, t,
				"a rule starts with its action (accept, drop, reject or notrack), got '%s'",
				TXT(t));
		if (is_alpha(t->s[0])) {
			suggest_init(&sg, t->s, t->len);
			suggest_table(&sg, stmt_keywords, ARRAY_SIZE(stmt_keywords));
			if (sg.best)
				return perr(p, t, "unknown keyword '%s'%s", TXT(t),
					    suggest_text(&sg, "", sugg, sizeof(sugg)));
			return perr(
				p, t,
				"unknown keyword '%s' (expected 'set', 'policy' or a rule: accept, drop, reject, notrack)",
				TXT(t));
		}
	}
	if (t->type == TOK_RBRACE)
		return perr(p, t, "unexpected '}' (no '{' is open)");
	return perr(p, t,
		    "expected 'set', 'policy' or a rule (accept, drop, reject, notrack), got %s",
		    GOT(t));
}

void xct_ruleset_free(struct xct_ruleset *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->n_sets; i++) {
		free(rs->sets[i].prefixes);
		free(rs->sets[i].ports);
		free(rs->sets[i].elems);
	}
	for (i = 0; i < rs->n_rules; i++)
		rule_free(&rs->rules[i]);
	for (i = 0; i < rs->n_written; i++)
		rule_free(&rs->written[i]);
	for (i = 0; i < rs->n_nat_rules; i++)
		rule_free(&rs->nat_rules[i]);
	for (i = 0; i < rs->n_maps; i++) {
		free(rs->maps[i].elems);
		free(rs->maps[i].text);
	}
	free(rs->maps);
	free(rs->chains);
	free(rs->written);
	for (i = 0; i < rs->n_owner_rules; i++)
		rule_free(&rs->owner_rules[i]);
	free(rs->sets);
	free(rs->rules);
	free(rs->nat_rules);
	free(rs->owner_rules);
	memset(rs, 0, sizeof(*rs));
}

/* Statements up to the end of the file being read. */
static int parse_stmts(struct parser *p)
{
	int ret;

	while (p->cur.type != TOK_EOF) {
		if (p->cur.type == TOK_NL || p->cur.type == TOK_SEMI) {
			advance(p);
			continue;
		}
		ret = parse_stmt(p);
		if (ret)
			return ret;
	}
	return 0;
}

/* Parses a whole input; st identifies its file (for include loops), or is
 * NULL for text that is no file. */
static int parse_top(const char *file, const char *text, size_t len, const struct stat *st,
		     struct xct_ruleset *out, struct xct_rules_error *err)
{
	struct parser p;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	memset(&p, 0, sizeof(p));
	p.file = file;
	p.err = err;
	p.rs.policy = XCT_POLICY_ACCEPT;
	p.chain_cur = -1;
	if (st) {
		p.includes[0].dev = st->st_dev;
		p.includes[0].ino = st->st_ino;
		p.depth = 1;
	}
	ret = parse_buffer(&p, file ? file : "<input>", text ? text : "", text ? len : 0);
	if (!ret)
		ret = xct_chains_expand(&p.rs, err);
	for (i = 0; i < p.n_defines; i++)
		free(p.defines[i].value);
	free(p.defines);
	if (ret) {
		xct_ruleset_free(&p.rs);
		return ret;
	}
	*out = p.rs;
	return 0;
}

int xct_rules_parse(const char *file, const char *text, size_t len, struct xct_ruleset *out,
		    struct xct_rules_error *err)
{
	return parse_top(file, text, len, NULL, out, err);
}

const char *xct_rules_file_name(const char *path)
{
	return strcmp(path, "-") ? path : "<stdin>";
}

int xct_rules_parse_file(const char *path, struct xct_ruleset *out, struct xct_rules_error *err)
{
	const char *name = xct_rules_file_name(path);
	bool std_in = name != path;
	struct stat st;
	char *buf;
	size_t len;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", name);

	fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot open rules file: %s", strerror(-ret));
		return ret;
	}
	ret = read_text(fd, &buf, &len, err->msg, sizeof(err->msg));
	if (!ret) {
		bool file = !std_in && !fstat(fd, &st);

		ret = parse_top(name, buf, len, file ? &st : NULL, out, err);
		free(buf);
	}
	if (!std_in)
		close(fd);
	return ret;
}

void xct_rules_error_print(FILE *f, const struct xct_rules_error *err)
{
	const char *s = err->line_text;
	size_t i, col;

	if (!err->loc.line) {
		fprintf(f, "%s: error: %s\n", err->file, err->msg);
		return;
	}
	fprintf(f, "%s:%u:%u: error: %s\n", err->file, err->loc.line, err->loc.col, err->msg);
	col = err->loc.col ? err->loc.col - 1 : 0;
	fprintf(f, "    %s\n", s);
	if (col > strlen(s))
		return; /* the line was cut short of the column */
	fputs("    ", f);
	/* Keep tabs and count a multi-byte character once, so the caret
	 * lands under the column however the terminal shows the line. */
	for (i = 0; i < col; i++) {
		if (s[i] == '\t')
			fputc('\t', f);
		else if (((unsigned char)s[i] & 0xc0) != 0x80)
			fputc(' ', f);
	}
	fputs("^\n", f);
}

int xct_ruleset_find_set(const struct xct_ruleset *rs, const char *name)
{
	return find_set(rs, name, strlen(name));
}
