// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct rules load|check|show|clear and xct set add|del|list: the policy as
 * the user handles it.  A rules file is parsed and compiled completely
 * before anything is written, so a bad file changes nothing; a good one
 * replaces the running rules in one step (src/rules/install.c).
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "owner.h"
#include "rules/compile.h"
#include "rules/install.h"
#include "rules/ruleset.h"
#include "table.h"
#include "xct.h"

static const char rules_usage[] =
	"Usage: xct rules load FILE     validate FILE, then replace the running rules with it\n"
	"       xct rules check FILE    validate FILE only (interfaces must exist)\n"
	"                               (FILE '-': standard input, named <stdin> in errors)\n"
	"       xct rules show          the running rules with their packet and byte counters\n"
	"       xct rules clear         remove the rules: accept everything, keep tracking\n"
	"\n"
	"A bad file is reported as FILE:LINE:COLUMN with the line and a caret, exits\n"
	"with status 2 and leaves the running rules as they were; so does a file of\n"
	"more than 64 MiB.  Connections in the table are never touched by a load.  NAT\n"
	"statements (masquerade, snat to, dnat to ADDR[:PORT] or to { ADDR[:PORT], ... })\n"
	"sit in the same file.  The language: docs/RULES.md.\n"
	"\n"
	"Examples:\n"
	"  xct rules check /etc/xct/rules.xct\n"
	"  xct rules load /etc/xct/rules.xct\n"
	"  generate-rules | xct rules load -\n"
	"  xct -j rules show\n";

static const char set_usage[] =
	"Usage: xct set add NAME ELEMENT...    add to a set of the running rules\n"
	"       xct set del NAME ELEMENT...    remove from it\n"
	"       xct set list [NAME]            its elements (all sets' names and sizes without NAME)\n"
	"\n"
	"Elements are addresses or prefixes (10.0.0.0/8, 2001:db8::/32) for address sets,\n"
	"ports or ranges (443, 8000-8099) for port sets, tuples joined by ' . ' for\n"
	"concatenations (10.0.0.1 . 22, or several: '{ 10.0.0.1 . 22, 10.0.0.2 . 80 }').\n"
	"Changes take effect at once and last until the next 'xct rules load', which\n"
	"sets the sets from the file again.\n"
	"\n"
	"Examples:\n"
	"  xct set add blocklist 198.51.100.0/24 2001:db8:bad::/48\n"
	"  xct set del web_ports 8000-8099\n"
	"  xct set add allowed '{ 10.0.0.1 . 22, 10.0.0.2 . 80 }'\n"
	"  xct set list blocklist\n";

static __u32 ifindex_by_name(const char *name, void *ctx)
{
	return if_nametoindex(name);
}

/* Parses and compiles FILE; exit status 0, or 2 with the error printed. */
static int rules_prepare(const char *file, struct xct_ruleset *rs, struct xct_compiled *c)
{
	struct xct_rules_error err;

	memset(&err, 0, sizeof(err));
	if (xct_rules_parse_file(file, rs, &err)) {
		xct_rules_error_print(stderr, &err);
		return XCT_EXIT_USAGE;
	}
	if (xct_rules_compile(rs, xct_rules_file_name(file), ifindex_by_name, NULL, c, &err)) {
		xct_rules_error_print(stderr, &err);
		xct_ruleset_free(rs);
		return XCT_EXIT_USAGE;
	}
	return XCT_EXIT_OK;
}

/* Owner rules decide only for processes of the cgroups the owner programs
 * are attached to: loading them where none is gets a word. */
static void warn_no_owner_cgroup(void)
{
	__u64 ids[1];

	if (xct_owner_cgroups(xct_opts.pin_path, ids, 1) <= 0)
		xct_err("warning: the owner rules decide nothing until 'xct attach-cgroup "
			"CGROUP' attaches the owner programs to the cgroup of the processes "
			"they are for");
}

static int rules_check(const char *path, bool load)
{
	const char *file = xct_rules_file_name(path);
	struct xct_policy_maps maps;
	struct xct_compiled c;
	struct xct_ruleset rs;
	int rc, err;

	memset(&c, 0, sizeof(c));
	memset(&rs, 0, sizeof(rs));
	if (load) {
		if (xct_require_root() || xct_prepare_pin_path(xct_opts.pin_path, false))
			return XCT_EXIT_RUNTIME;
		if (xct_policy_open(&maps))
			return XCT_EXIT_RUNTIME;
	}
	rc = rules_prepare(path, &rs, &c);
	if (rc == XCT_EXIT_OK && load) {
		struct xct_rules_error herr;

		if (xct_policy_check_hooks(&rs, file, &herr)) {
			xct_rules_error_print(stderr, &herr);
			rc = XCT_EXIT_USAGE;
		}
	}
	if (rc == XCT_EXIT_OK && load) {
		err = xct_policy_install(&maps, &rs, &c);
		rc = err ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
	}
	if (rc == XCT_EXIT_OK) {
		char rules[96], owner[48] = "";
		size_t sets = 0, i;

		/* Chains and vmaps are expanded: say how many rules the
		 * datapath walks, which is what the limit counts. */
		if (rs.n_chains || rs.n_written != rs.n_rules)
			snprintf(rules, sizeof(rules),
				 "%zu rule%s as written, %zu expanded, %zu chain%s", rs.n_written,
				 rs.n_written == 1 ? "" : "s", rs.n_rules, rs.n_chains,
				 rs.n_chains == 1 ? "" : "s");
		else
			snprintf(rules, sizeof(rules), "%zu rule%s", rs.n_rules,
				 rs.n_rules == 1 ? "" : "s");
		if (rs.n_owner_rules)
			snprintf(owner, sizeof(owner), ", %zu owner rule%s", rs.n_owner_rules,
				 rs.n_owner_rules == 1 ? "" : "s");

		/* The named sets: an anonymous concatenation is its rule's. */
		for (i = 0; i < rs.n_sets; i++)
			sets += !rs.sets[i].anon;
		if (rs.n_nat_rules)
			printf("%s: %s, %zu NAT rule%s%s, %zu set%s, %s\n", file, rules,
			       rs.n_nat_rules, rs.n_nat_rules == 1 ? "" : "s", owner, sets,
			       sets == 1 ? "" : "s", load ? "loaded" : "valid");
		else
			printf("%s: %s%s, %zu set%s, %s\n", file, rules, owner, sets,
			       sets == 1 ? "" : "s", load ? "loaded" : "valid");
	}
	if (rc == XCT_EXIT_OK && load && rs.n_owner_rules)
		warn_no_owner_cgroup();
	if (load)
		xct_policy_close(&maps);
	xct_compiled_free(&c);
	xct_ruleset_free(&rs);
	return rc;
}

/* One rule slot's counters, summed over CPUs. */
static int rule_counters(struct xct_policy_maps *m, __u32 idx, __u64 *packets, __u64 *bytes)
{
	__u64 sum[2];
	int err;

	_Static_assert(sizeof(struct xct_rule_stats) == sizeof(sum), "rule stats are two words");
	err = xct_percpu_sum(m->rule_stats, idx, sum, 2);
	*packets = sum[0];
	*bytes = sum[1];
	return err;
}

/* One line of the rules as written; chain is the chain it is in, or NULL. */
static void show_one(const struct xct_rule_text *t, const char *chain, __u64 packets, __u64 bytes,
		     bool first)
{
	if (xct_opts.json) {
		if (t->kind == XCT_TEXT_CHAIN_OPEN || t->kind == XCT_TEXT_CHAIN_CLOSE ||
		    t->kind == XCT_TEXT_MAP)
			return;
		printf("%s{\"line\":%u,\"rule\":", first ? "" : ",", t->line);
		xct_json_string(t->text);
		if (chain) {
			printf(",\"chain\":");
			xct_json_string(chain);
		}
		printf(",\"packets\":%llu,\"bytes\":%llu}", (unsigned long long)packets,
		       (unsigned long long)bytes);
		return;
	}
	switch (t->kind) {
	case XCT_TEXT_MAP:
		printf("%-60s # line %u: map\n", t->text, t->line);
		break;
	case XCT_TEXT_CHAIN_OPEN:
		printf("%-60s # line %u: chain\n", t->text, t->line);
		break;
	case XCT_TEXT_CHAIN_CLOSE:
		printf("}\n");
		break;
	case XCT_TEXT_FLOW:
		/* Its packets are counted by the rules of the chain they reach. */
		printf("%s%-*s # line %u: %.4s\n", chain ? "\t" : "", chain ? 52 : 60, t->text,
		       t->line, t->text);
		break;
	default:
		printf("%s%-*s # line %u: packets %llu bytes %llu\n", chain ? "\t" : "",
		       chain ? 52 : 60, t->text, t->line, (unsigned long long)packets,
		       (unsigned long long)bytes);
	}
}

/* The counters of each rule as written: the sum of its copies' in the
 * expanded list (src/rules/chains.c). */
static int written_counters(struct xct_policy_maps *m, __u32 gen, __u32 n, __u64 *packets,
			    __u64 *bytes)
{
	struct xct_rule_rec rec;
	__u64 p, b;
	__u32 i, idx;

	for (i = 0; i < n; i++) {
		idx = gen * XCT_RULES_MAX + i;
		if (bpf_map_lookup_elem(m->rules, &idx, &rec)) {
			xct_err("cannot read rule %u: %s", i, strerror(errno));
			return -1;
		}
		if (rule_counters(m, idx, &p, &b))
			return -1;
		if (rec.src < XCT_TEXTS_MAX) {
			packets[rec.src] += p;
			bytes[rec.src] += b;
		}
	}
	return 0;
}

/* The NAT rules after the filter rules: they have no packet counters,
 * they decide translations (in JSON: "nat": true). */
static int show_nat(struct xct_policy_maps *m, __u32 gen)
{
	struct xct_nat_ctl ctl;
	struct xct_nat_rule r;
	__u32 zero = 0, i, k;

	if (bpf_map_lookup_elem(m->nat_ctl, &zero, &ctl))
		return XCT_EXIT_OK;
	for (i = 0; i < ctl.n_rules[gen] && i < XCT_NAT_RULES_MAX; i++) {
		k = gen * XCT_NAT_RULES_MAX + i;
		if (bpf_map_lookup_elem(m->nat_rules, &k, &r)) {
			xct_err("cannot read NAT rule %u: %s", i, strerror(errno));
			return XCT_EXIT_RUNTIME;
		}
		r.text[sizeof(r.text) - 1] = 0;
		if (xct_opts.json) {
			printf(",{\"line\":%u,\"rule\":", r.line);
			xct_json_string(r.text);
			printf(",\"nat\":true}");
		} else {
			printf("%-60s # line %u: NAT\n", r.text, r.line);
		}
	}
	return XCT_EXIT_OK;
}

/* The owner rules after the NAT rules: decided at connect() and
 * sendmsg(), they have no packet counters (in JSON: "owner": true). */
static int show_owner(struct xct_policy_maps *m, __u32 gen)
{
	struct xct_rule_text t;
	__u32 k, i;

	for (i = 0; i < XCT_RULES_MAX; i++) {
		k = gen << 16 | XCT_OWNER_TEXT | i;
		if (bpf_map_lookup_elem(m->rule_text, &k, &t)) {
			if (errno == ENOENT)
				break;
			xct_err("cannot read owner rule %u: %s", i, strerror(errno));
			return XCT_EXIT_RUNTIME;
		}
		t.text[sizeof(t.text) - 1] = 0;
		if (xct_opts.json) {
			printf(",{\"line\":%u,\"rule\":", t.line);
			xct_json_string(t.text);
			printf(",\"owner\":true}");
		} else {
			if (strnlen(t.text, sizeof(t.text)) == sizeof(t.text) - 1)
				xct_err("the rule on line %u is longer than %zu bytes and shown "
					"cut: this output does not load back as the running rules",
					t.line, sizeof(t.text) - 1);
			printf("%-60s # line %u: owner\n", t.text, t.line);
		}
	}
	return XCT_EXIT_OK;
}

static int show_sets(struct xct_policy_maps *m);

static int rules_show(void)
{
	struct xct_policy_maps m;
	struct xct_policy_ctl *ctl;
	__u64 *packets, *bytes;
	char chain[XCT_RULE_NAME_MAX] = "";
	__u32 gen, i, n;
	int rc = XCT_EXIT_OK;

	if (xct_require_root() || xct_prepare_pin_path(xct_opts.pin_path, false))
		return XCT_EXIT_RUNTIME;
	if (xct_policy_open(&m))
		return XCT_EXIT_RUNTIME;
	ctl = m.ctl_mem;
	if (!ctl->loaded) {
		if (xct_opts.json)
			printf("[]\n");
		else
			printf("no rules loaded: every packet is accepted\n");
		xct_policy_close(&m);
		return XCT_EXIT_OK;
	}
	gen = ctl->active_gen & 1;
	n = ctl->gen[gen].n_rules;
	packets = calloc(XCT_TEXTS_MAX, sizeof(*packets));
	bytes = calloc(XCT_TEXTS_MAX, sizeof(*bytes));
	if (!packets || !bytes || written_counters(&m, gen, n, packets, bytes)) {
		free(packets);
		free(bytes);
		xct_policy_close(&m);
		return XCT_EXIT_RUNTIME;
	}
	/* The sets first, with the elements they hold now, so that the
	 * output loads back as the running ruleset (as nft list ruleset). */
	if (!xct_opts.json && show_sets(&m)) {
		xct_policy_close(&m);
		return XCT_EXIT_RUNTIME;
	}
	if (xct_opts.json)
		putchar('[');
	/* The policy line first, as the default it is; then the rules as
	 * written, up to the first slot with no text. */
	for (i = 0; i <= XCT_TEXTS_MAX; i++) {
		__u32 slot = i == 0 ? XCT_RULES_MAX - 1 : i - 1;
		__u32 key = gen << 16 | slot;
		struct xct_rule_text t;
		__u64 pk, by;

		if (bpf_map_lookup_elem(m.rule_text, &key, &t)) {
			if (i > 0 && errno == ENOENT)
				break;
			xct_err("cannot read rule %u: %s", slot, strerror(errno));
			rc = XCT_EXIT_RUNTIME;
			break;
		}
		if (i == 0) {
			if (rule_counters(&m, gen * XCT_RULES_MAX + slot, &pk, &by)) {
				rc = XCT_EXIT_RUNTIME;
				break;
			}
		} else {
			pk = packets[slot];
			by = bytes[slot];
		}
		if (t.kind == XCT_TEXT_CHAIN_OPEN)
			snprintf(chain, sizeof(chain), "%.*s", (int)strcspn(t.text + 6, " "),
				 t.text + 6);
		/* A text cut at the limit would load back as another rule. */
		if (!xct_opts.json && strnlen(t.text, sizeof(t.text)) == sizeof(t.text) - 1)
			xct_err("the rule on line %u is longer than %zu bytes and shown cut: "
				"this output does not load back as the running rules",
				t.line, sizeof(t.text) - 1);
		show_one(&t, chain[0] ? chain : NULL, pk, by, i == 0);
		if (t.kind == XCT_TEXT_CHAIN_CLOSE)
			chain[0] = 0;
	}
	free(packets);
	free(bytes);
	if (rc == XCT_EXIT_OK)
		rc = show_nat(&m, gen);
	if (rc == XCT_EXIT_OK)
		rc = show_owner(&m, gen);
	if (xct_opts.json)
		printf("]\n");
	xct_policy_close(&m);
	return rc;
}

/* A subcommand's --help (or -h) anywhere after it asks for the usage and
 * nothing else, whatever else the line holds.  A file named --help is
 * ./--help. */
static bool help_asked(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int rules_clear(void)
{
	struct xct_policy_maps m;

	if (xct_require_root() || xct_prepare_pin_path(xct_opts.pin_path, false))
		return XCT_EXIT_RUNTIME;
	if (xct_policy_open(&m))
		return XCT_EXIT_RUNTIME;
	xct_policy_clear(&m);
	xct_policy_close(&m);
	printf("rules cleared: every packet is accepted\n");
	return XCT_EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (argc < 2 || !strcmp(sub, "help") || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(rules_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	if (help_asked(argc, argv)) {
		fputs(rules_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (!strcmp(sub, "load") || !strcmp(sub, "check")) {
		if (argc != 3)
			return xct_usage_error("'rules %s' takes one file", sub);
		return rules_check(argv[2], !strcmp(sub, "load"));
	}
	if (!strcmp(sub, "show") || !strcmp(sub, "list")) {
		if (argc != 2)
			return xct_usage_error("'rules %s' takes no arguments", sub);
		return rules_show();
	}
	if (!strcmp(sub, "clear") || !strcmp(sub, "flush")) {
		if (argc != 2)
			return xct_usage_error("'rules %s' takes no arguments", sub);
		return rules_clear();
	}
	return xct_usage_error("unknown rules command '%s' (load, check, show, clear)", sub);
}

/* ---- xct set ---- */

/*
 * A set's elements as the user wrote them.  Addresses are stored as
 * written; a port range is stored as the prefixes that cover it, so the
 * prefixes are put back together: adjacent ranges come back as one.
 */
struct set_elems {
	struct xct_prefix *addrs;
	struct xct_port_range *ports;
	size_t n_addrs, n_ports, cap_addrs, cap_ports;
	/* A concatenation's tuples, of its types */
	struct xct_concat_elem *tuples;
	size_t n_tuples, cap_tuples;
	__u8 types[XCT_CONCAT_MAX];
	size_t n_types;
};

static int collect_tuple(const struct xct_concat_elem *t, void *ctx)
{
	struct set_elems *e = ctx;

	if (e->n_tuples == e->cap_tuples) {
		size_t cap = e->cap_tuples ? 2 * e->cap_tuples : 64;
		void *grown = realloc(e->tuples, cap * sizeof(*e->tuples));

		if (!grown)
			return -ENOMEM;
		e->tuples = grown;
		e->cap_tuples = cap;
	}
	e->tuples[e->n_tuples++] = *t;
	return 0;
}

static int collect_elem(const struct xct_prefix *p, void *ctx)
{
	struct set_elems *e = ctx;

	if (p->family) {
		if (e->n_addrs == e->cap_addrs) {
			size_t cap = e->cap_addrs ? 2 * e->cap_addrs : 64;
			void *grown = realloc(e->addrs, cap * sizeof(*e->addrs));

			if (!grown)
				return -ENOMEM;
			e->addrs = grown;
			e->cap_addrs = cap;
		}
		e->addrs[e->n_addrs++] = *p;
	} else {
		__u16 port;

		if (e->n_ports == e->cap_ports) {
			size_t cap = e->cap_ports ? 2 * e->cap_ports : 64;
			void *grown = realloc(e->ports, cap * sizeof(*e->ports));

			if (!grown)
				return -ENOMEM;
			e->ports = grown;
			e->cap_ports = cap;
		}
		memcpy(&port, p->addr, sizeof(port));
		e->ports[e->n_ports].lo = port;
		e->ports[e->n_ports++].hi = (__u16)(port + (1U << (16 - p->plen)) - 1);
	}
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct xct_port_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Tuples in the order of their values, component by component: the hash
 * table's order changes with each table. */
static int cmp_tuple(const void *a, const void *b)
{
	return xct_concat_elem_cmp(a, b);
}

static int set_elements(struct xct_policy_maps *m, const struct xct_set_info *set,
			struct set_elems *e)
{
	size_t i, n = 0;
	int err;

	memset(e, 0, sizeof(*e));
	if (set->kind == XCT_SET_CONCAT) {
		e->n_types = xct_set_info_ctypes(set, e->types);
		err = xct_policy_set_walk_concat(m, set, collect_tuple, e);
		if (!err && e->n_tuples)
			qsort(e->tuples, e->n_tuples, sizeof(*e->tuples), cmp_tuple);
		return err;
	}
	err = xct_policy_set_walk(m, set, collect_elem, e);
	if (err || !e->n_ports)
		return err;
	qsort(e->ports, e->n_ports, sizeof(*e->ports), cmp_range);
	for (i = 1; i < e->n_ports; i++) {
		if ((__u32)e->ports[n].hi + 1 >= e->ports[i].lo) {
			if (e->ports[i].hi > e->ports[n].hi)
				e->ports[n].hi = e->ports[i].hi;
		} else {
			e->ports[++n] = e->ports[i];
		}
	}
	e->n_ports = n + 1;
	return 0;
}

static void set_elems_free(struct set_elems *e)
{
	free(e->addrs);
	free(e->ports);
	free(e->tuples);
}

/* The longest element's text: five IPv6 addresses and their dots. */
#define SET_ELEM_TEXT_MAX 256

/* One element as the rules language writes it. */
static void format_element(const struct set_elems *e, size_t i, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (e->n_types) {
		xct_concat_elem_format(&e->tuples[i], e->types, e->n_types, buf, len);
	} else if (i < e->n_addrs) {
		const struct xct_prefix *p = &e->addrs[i];

		inet_ntop(p->family == XCT_AF_INET ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
		if (p->plen == (p->family == XCT_AF_INET ? 32 : 128))
			snprintf(buf, len, "%s", a);
		else
			snprintf(buf, len, "%s/%u", a, p->plen);
	} else {
		const struct xct_port_range *r = &e->ports[i - e->n_addrs];

		if (r->lo == r->hi)
			snprintf(buf, len, "%u", r->lo);
		else
			snprintf(buf, len, "%u-%u", r->lo, r->hi);
	}
}

static void print_elements(const struct set_elems *e)
{
	char buf[SET_ELEM_TEXT_MAX];
	size_t i;

	for (i = 0; i < e->n_addrs + e->n_ports + e->n_tuples; i++) {
		format_element(e, i, buf, sizeof(buf));
		if (xct_opts.json)
			printf("%s\"%s\"", i ? "," : "", buf);
		else
			printf("%s\n", buf);
	}
}

/* Calls fn for each running set, in the order the sets were defined,
 * with its elements; 0, or -EIO when a set cannot be read. */
static int for_each_set(struct xct_policy_maps *m,
			void (*fn)(const struct xct_set_info *info, const struct set_elems *e,
				   void *ctx),
			void *ctx)
{
	__u32 gen = m->ctl_mem->active_gen & 1, i;

	for (i = 0; m->ctl_mem->loaded && i < XCT_SETS_MAX; i++) {
		__u32 k = gen * XCT_SETS_MAX + i;
		struct xct_set_info info;
		struct set_elems e;

		if (bpf_map_lookup_elem(m->set_info, &k, &info) || !info.id)
			break;
		if (!info.name[0])
			continue; /* an anonymous concatenation: its rule shows it */
		if (set_elements(m, &info, &e)) {
			set_elems_free(&e);
			xct_err("cannot read set '%s'", info.name);
			return -EIO;
		}
		fn(&info, &e, ctx);
		set_elems_free(&e);
	}
	return 0;
}

/* Sets of more elements than this are shown one element a line. */
#define SET_ONE_LINE_MAX 8

/* One set as the statement that defines it, with the elements it holds. */
static void show_set(const struct xct_set_info *info, const struct set_elems *e, void *ctx)
{
	size_t j, n = e->n_addrs + e->n_ports + e->n_tuples;
	char buf[SET_ELEM_TEXT_MAX];
	bool lines = n > SET_ONE_LINE_MAX;

	/* A concatenation in nft's typed form, which it needs. */
	if (info->kind == XCT_SET_CONCAT) {
		xct_concat_type_format(e->types, e->n_types, buf, sizeof(buf));
		if (lines)
			printf("set %s {\n\ttype %s\n\telements = {", info->name, buf);
		else
			printf("set %s { type %s; elements = {", info->name, buf);
		for (j = 0; j < n; j++) {
			format_element(e, j, buf, sizeof(buf));
			if (lines)
				printf("\n\t\t%s,", buf);
			else
				printf("%s %s", j ? "," : "", buf);
		}
		printf(lines ? "\n\t}\n}\n" : " } }\n");
		return;
	}

	/* The kind is always given: an empty set needs it. */
	printf("set %s %s {", info->name, info->kind == XCT_SET_PORT ? "port" : "addr");
	for (j = 0; j < n; j++) {
		format_element(e, j, buf, sizeof(buf));
		if (lines)
			printf("\n\t%s,", buf);
		else
			printf("%s %s", j ? "," : "", buf);
	}
	printf(lines ? "\n}\n" : " }\n");
}

/* The running sets as set statements, in the order they were defined. */
static int show_sets(struct xct_policy_maps *m)
{
	return for_each_set(m, show_set, NULL);
}

/* One line (or object) of 'set list': a set's name, kind and size. */
static void list_set(const struct xct_set_info *info, const struct set_elems *e, void *ctx)
{
	bool *first = ctx;
	size_t n = e->n_addrs + e->n_ports + e->n_tuples;
	const char *kind = info->kind == XCT_SET_CONCAT ? "concat"
			   : info->kind == XCT_SET_PORT ? "port"
							: "addr";
	char type[SET_ELEM_TEXT_MAX] = "";

	if (info->kind == XCT_SET_CONCAT)
		xct_concat_type_format(e->types, e->n_types, type, sizeof(type));
	if (xct_opts.json && info->kind == XCT_SET_CONCAT)
		printf("%s{\"name\":\"%s\",\"kind\":\"%s\",\"type\":\"%s\",\"elements\":%zu}",
		       *first ? "" : ",", info->name, kind, type, n);
	else if (xct_opts.json)
		printf("%s{\"name\":\"%s\",\"kind\":\"%s\",\"elements\":%zu}", *first ? "" : ",",
		       info->name, kind, n);
	else if (info->kind == XCT_SET_CONCAT)
		printf("%-31s %-4s %zu elements (%s)\n", info->name, kind, n, type);
	else
		printf("%-31s %-4s %zu elements\n", info->name, kind, n);
	*first = false;
}

static int set_list_all(struct xct_policy_maps *m)
{
	bool first = true;
	int err;

	if (xct_opts.json)
		putchar('[');
	err = for_each_set(m, list_set, &first);
	if (xct_opts.json && !err)
		printf("]\n");
	return err ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
}

/* Parses command-line elements for a set of the given kind. */
static int parse_elements(const struct xct_set_info *set, int argc, char **argv,
			  struct xct_prefix **addrs, struct xct_port_range **ports, size_t *n)
{
	char why[160];
	int i;

	*n = 0;
	*addrs = calloc((size_t)argc, sizeof(**addrs));
	*ports = calloc((size_t)argc, sizeof(**ports));
	if (!*addrs || !*ports)
		return XCT_EXIT_RUNTIME;
	for (i = 0; i < argc; i++) {
		/* The rules file's parsers, and their messages. */
		if (set->kind == XCT_SET_PORT) {
			if (xct_parse_port_range_msg(argv[i], &(*ports)[*n], why, sizeof(why)))
				return xct_usage_error("set '%s' holds ports: %s", set->name, why);
		} else if (xct_parse_prefix_msg(argv[i], &(*addrs)[*n], why, sizeof(why))) {
			return xct_usage_error("set '%s' holds addresses: %s", set->name, why);
		}
		(*n)++;
	}
	return XCT_EXIT_OK;
}

/*
 * xct set add|del NAME on a concatenation: the arguments are one text, as
 * nft's add element takes it ({ 10.0.0.1 . 22, 10.0.0.2 . 80 }, or the
 * elements unquoted: 10.0.0.1 . 22), read with the rules file's parser.
 */
static int set_update_concat(struct xct_policy_maps *m, const struct xct_set_info *set, int argc,
			     char **argv, bool add)
{
	struct xct_concat_elem *elems = NULL;
	__u8 types[XCT_CONCAT_MAX];
	char why[256], text[SET_ELEM_TEXT_MAX], type[SET_ELEM_TEXT_MAX];
	size_t len = 1, n = 0, nt = xct_set_info_ctypes(set, types), failed = 0;
	char *all, *at;
	int i, err, rc = XCT_EXIT_OK;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	all = calloc(1, len);
	if (!all)
		return XCT_EXIT_RUNTIME;
	for (i = 0, at = all; i < argc; i++)
		at += sprintf(at, "%s%s", i ? " " : "", argv[i]);
	xct_concat_type_format(types, nt, type, sizeof(type));
	if (xct_parse_concat_elems(all, types, nt, &elems, &n, why, sizeof(why))) {
		free(all);
		return xct_usage_error("set '%s' holds %s: %s", set->name, type, why);
	}
	free(all);
	err = xct_policy_set_update_concat(m, set, elems, n, add, &failed);
	if (err && failed != XCT_NO_ELEMENT)
		xct_concat_elem_format(&elems[failed], types, nt, text, sizeof(text));
	if ((err == -ENOENT || err == -ESTALE) && failed == XCT_NO_ELEMENT) {
		xct_err("set '%s' is no longer in the running rules (they were loaded again)",
			set->name);
		rc = XCT_EXIT_RUNTIME;
	} else if (err == -ENOENT && !add) {
		xct_err("'%s' is not an element of set '%s'; nothing was deleted", text, set->name);
		rc = XCT_EXIT_RUNTIME;
	} else if (err) {
		xct_err("cannot %s set '%s': %s%s", add ? "add to" : "delete from", set->name,
			strerror(-err), add ? "" : "; nothing was deleted");
		rc = XCT_EXIT_RUNTIME;
	}
	free(elems);
	return rc;
}

int cmd_set(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct xct_prefix *addrs = NULL;
	struct xct_port_range *ports = NULL;
	struct xct_policy_maps m;
	struct xct_set_info set;
	struct set_elems elems;
	size_t n = 0, failed = 0;
	bool add;
	int rc, err;

	if (argc < 2 || !strcmp(sub, "help") || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(set_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? XCT_EXIT_USAGE : XCT_EXIT_OK;
	}
	if (help_asked(argc, argv)) {
		fputs(set_usage, stdout);
		return XCT_EXIT_OK;
	}
	add = !strcmp(sub, "add");
	if (!add && strcmp(sub, "del") && strcmp(sub, "delete") && strcmp(sub, "list"))
		return xct_usage_error("unknown set command '%s' (add, del, list)", sub);
	if (!strcmp(sub, "list") ? argc > 3 : argc < 4)
		return xct_usage_error(!strcmp(sub, "list") ? "'set list' takes at most a name"
							    : "'set %s' takes a name and elements",
				       sub);
	if (xct_require_root() || xct_prepare_pin_path(xct_opts.pin_path, false))
		return XCT_EXIT_RUNTIME;
	if (xct_policy_open(&m))
		return XCT_EXIT_RUNTIME;
	if (!strcmp(sub, "list") && argc == 2) {
		rc = set_list_all(&m);
		goto out;
	}
	if (xct_policy_find_set(&m, argv[2], &set)) {
		xct_err("no set '%s' in the running rules", argv[2]);
		rc = XCT_EXIT_RUNTIME;
		goto out;
	}
	if (!strcmp(sub, "list")) {
		if (xct_opts.json)
			putchar('[');
		err = set_elements(&m, &set, &elems);
		if (!err)
			print_elements(&elems);
		set_elems_free(&elems);
		if (xct_opts.json)
			printf("]\n");
		rc = err ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
		goto out;
	}
	if (set.kind == XCT_SET_CONCAT) {
		rc = set_update_concat(&m, &set, argc - 3, argv + 3, add);
		goto out;
	}
	rc = parse_elements(&set, argc - 3, argv + 3, &addrs, &ports, &n);
	if (rc)
		goto out;
	err = xct_policy_set_update(&m, &set, set.kind == XCT_SET_PORT ? NULL : addrs,
				    set.kind == XCT_SET_PORT ? 0 : n,
				    set.kind == XCT_SET_PORT ? ports : NULL,
				    set.kind == XCT_SET_PORT ? n : 0, add, &failed);
	if (err == -ENOENT && failed == XCT_NO_ELEMENT) {
		xct_err("set '%s' is no longer in the running rules (they were loaded again)",
			set.name);
		rc = XCT_EXIT_RUNTIME;
	} else if (err == -ENOENT && !add) {
		xct_err("'%s' is not an element of set '%s' (delete elements as they were "
			"added); nothing was deleted",
			argv[3 + failed], set.name);
		rc = XCT_EXIT_RUNTIME;
	} else if (err) {
		xct_err("cannot %s set '%s': %s%s", add ? "add to" : "delete from", set.name,
			strerror(-err), add ? "" : "; nothing was deleted");
		rc = XCT_EXIT_RUNTIME;
	}
out:
	free(addrs);
	free(ports);
	xct_policy_close(&m);
	return rc;
}
