/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A rules file as parsed: the sets it defines, the default policy and the
 * rules in order.  The parser (parse.c) builds it from text and
 * reports the first error with file:line:column; the compiler
 * (compile.c) turns it into the datapath's maps.  Nothing here knows
 * about BPF, so the parser's tests and fuzz target run without root.
 */
#ifndef XCT_RULESET_H
#define XCT_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "xct/policy.h" /* enum xct_rule_hook */

#define XCT_RULE_NAME_MAX 32 /* set names, including the NUL */
#define XCT_IFNAME_MAX	  16 /* IFNAMSIZ */

/* Where something was written: 1-based line and column (in bytes). */
struct xct_src_loc {
	unsigned int line;
	unsigned int col;
};

/* An address prefix.  family is XCT_AF_INET (the address in addr[0..3]) or
 * XCT_AF_INET6; the bits after plen are zero. */
struct xct_prefix {
	__u8 family;
	__u8 plen;
	__u8 addr[16];
};

/* An inclusive port range; a single port has lo == hi. */
struct xct_port_range {
	__u16 lo;
	__u16 hi;
};

enum xct_set_kind {
	XCT_SET_ADDR,	/* prefixes, both families may be mixed */
	XCT_SET_PORT,	/* ports and port ranges */
	XCT_SET_CONCAT, /* tuples of exact values: type ipv4_addr . inet_service */
};

/* nft's datatypes a concatenation is made of, a nibble each in
 * xct_set_info.ctype. */
enum xct_concat_type {
	XCT_CT_NONE = 0,
	XCT_CT_IPV4,	/* ipv4_addr */
	XCT_CT_IPV6,	/* ipv6_addr */
	XCT_CT_SERVICE, /* inet_service */
	XCT_CT_PROTO,	/* inet_proto */
	XCT_CT_MARK,	/* mark */
	XCT_CT_COUNT,
};

/* One component's value: an address (a prefix only in a vmap), a port
 * (a range only in a vmap), or a protocol or mark in num. */
struct xct_concat_val {
	struct xct_prefix prefix;
	struct xct_port_range ports;
	__u32 num;
};

struct xct_concat_elem {
	struct xct_concat_val v[XCT_CONCAT_MAX];
};

/* Two tuples in the order of their values, component by component (a
 * qsort order): field by field, since the padding between them is not
 * the values'. */
static inline int xct_concat_elem_cmp(const struct xct_concat_elem *x,
				      const struct xct_concat_elem *y)
{
	for (int i = 0; i < XCT_CONCAT_MAX; i++) {
		const struct xct_concat_val *u = &x->v[i], *v = &y->v[i];
		int c = memcmp(u->prefix.addr, v->prefix.addr, sizeof(u->prefix.addr));

		if (!c)
			c = (u->ports.lo > v->ports.lo) - (u->ports.lo < v->ports.lo);
		if (!c)
			c = (u->num > v->num) - (u->num < v->num);
		if (c)
			return c;
	}
	return 0;
}

/* set NAME { ELEMENT, ... }: the kind is inferred from the elements; an
 * empty set is declared with a kind: set NAME addr {} / set NAME port {}.
 * A concatenation is declared with its type, as in nft:
 * set NAME { type ipv4_addr . inet_service; elements = { ... } }; an
 * anonymous one (ip saddr . tcp dport { ... }) is a set with no name. */
struct xct_set_def {
	char name[XCT_RULE_NAME_MAX];
	enum xct_set_kind kind;
	struct xct_prefix *prefixes; /* XCT_SET_ADDR */
	size_t n_prefixes;
	struct xct_port_range *ports; /* XCT_SET_PORT */
	size_t n_ports;
	struct xct_src_loc loc;
	/* XCT_SET_CONCAT */
	__u8 ctypes[XCT_CONCAT_MAX]; /* enum xct_concat_type */
	__u8 n_ctypes;
	bool anon; /* written in a rule: not named by xct set, not shown as a set */
	struct xct_concat_elem *elems;
	size_t n_elems;
};

/* A match on addresses: a literal list (saddr 10.0.0.0/8, { ... }) or a
 * named set (saddr @blocklist); "!=" negates. */
struct xct_addr_match {
	bool present;
	bool negate;
	int set; /* index into xct_ruleset.sets, or -1 for the literal list */
	struct xct_prefix *list;
	size_t n;
};

/* A match on ports, same shape. */
struct xct_port_match {
	bool present;
	bool negate;
	int set;
	struct xct_port_range *list;
	size_t n;
};

/* ip saddr . tcp dport [!=] @NAME | { E . E, ... } | E . E: the components
 * in order (enum xct_concat_field) and the set, named or anonymous. */
struct xct_concat_match {
	bool present;
	bool negate;
	int set; /* index into xct_ruleset.sets */
	__u8 fields[XCT_CONCAT_MAX];
	__u8 n;
};

/* icmp type echo-request, icmp type { 0, 8 }, icmp type 3 code 4:
 * code is -1 when any code matches. */
struct xct_icmp_match {
	__u8 type;
	__s16 code;
};

/* An inclusive range of user or group ids; a single id has lo == hi. */
struct xct_id_range {
	__u32 lo;
	__u32 hi;
};

/* meta skuid|skgid [!=] ID|LO-HI|NAME|{ L }: names are resolved to ids
 * when the file is read. */
struct xct_id_match {
	bool present;
	bool negate;
	struct xct_id_range *list;
	size_t n;
};

/* socket cgroupv2 level N [!=] "PATH": the cgroup at level N of the
 * owner's ancestry (the root is level 0) is PATH, relative to the cgroup2
 * mount; resolved to its id when the rules are compiled. */
struct xct_cgroup_match {
	bool present;
	bool negate;
	__u8 level;
	char *path;
	struct xct_src_loc loc; /* of the path, for the error when it does not exist */
};

enum xct_rule_action {
	XCT_ACTION_ACCEPT,
	XCT_ACTION_DROP,
	XCT_ACTION_REJECT,
	XCT_ACTION_NOTRACK,
	/* NAT rules (their own list, see struct xct_ruleset) */
	XCT_ACTION_MASQUERADE,
	XCT_ACTION_SNAT,
	XCT_ACTION_DNAT,
	/* Control flow between chains (src/rules/chains.c): they are
	 * written, never compiled; the expansion leaves only RETURN, as a
	 * rule that makes the walk go on from skip_to. */
	XCT_ACTION_JUMP,
	XCT_ACTION_GOTO,
	XCT_ACTION_RETURN,
	XCT_ACTION_VMAP, /* dport vmap { 22 : accept, ... }: the verdict is the element's */
	/* continue: the rule's statements apply and the next rules decide
	 * (a filter rule, with the others before the NAT ones in the
	 * classifier's numbering) */
	XCT_ACTION_CONTINUE,
};

#define XCT_DNAT_BACKENDS_MAX 16 /* XCT_NAT_BACKENDS_MAX */

/* One backend of dnat to { ADDR[:PORT], ... }; port 0: the connection's. */
struct xct_nat_to_backend {
	__u8 addr[16];
	__u16 port;
};

/* The translation of snat (to ADDR[-ADDR][:PORT[-PORT]]), masquerade
 * (to :PORT[-PORT]) and dnat (to ADDR[:PORT] or to { ADDR[:PORT], ... }). */
struct xct_nat_to {
	__u8 family; /* 0: no address (masquerade) */
	__u8 addr_lo[16], addr_hi[16];
	bool has_ports; /* of the target, or of any backend */
	__u16 port_lo, port_hi;
	__u8 n_backends; /* 0: one target, not a set */
	struct xct_nat_to_backend backends[XCT_DNAT_BACKENDS_MAX];
	__u8 mode; /* masquerade and snat: XCT_NAT_MODE_* of xct/nat.h */
};

/* A header field's value in [lo, hi], or outside it with negate. */
struct xct_hdr_range {
	bool present;
	bool negate;
	__u8 lo, hi;
};

/* limit RATE/UNIT [burst N] [per saddr] */
struct xct_limit {
	bool present;
	__u64 rate;	/* tokens ... */
	__u64 unit_ns;	/* ... per this many ns (1e9 for /second) */
	__u64 burst;	/* bucket depth; defaults to rate when not given */
	bool per_saddr; /* one bucket per source address */
	bool bytes;	/* limit 10 mbytes/second: tokens are bytes */
	bool over;	/* limit rate over: matches past the rate, not within it */
};

/* Where a jump, goto or vmap was written, kept for the messages of the
 * chain expansion, which runs once the whole file (and its includes) is
 * read. */
struct xct_flow_src {
	char file[256];
	struct xct_src_loc loc; /* of the chain's name, or of 'vmap' */
	size_t off;		/* in the line, for the caret */
	char line_text[256];
};

/* jump NAME / goto NAME: the chain, resolved when the file is read. */
struct xct_jump {
	char name[XCT_RULE_NAME_MAX];
	int chain; /* index into xct_ruleset.chains */
	struct xct_flow_src src;
};

enum xct_vmap_field {
	XCT_VMAP_SADDR,
	XCT_VMAP_DADDR,
	XCT_VMAP_SPORT,
	XCT_VMAP_DPORT,
	XCT_VMAP_CONCAT, /* ip saddr . tcp dport vmap { ... }: xct_vmap.fields */
};

/* One element of a verdict map: KEY : VERDICT. */
struct xct_vmap_elem {
	struct xct_prefix prefix;      /* XCT_VMAP_SADDR, XCT_VMAP_DADDR */
	struct xct_port_range ports;   /* XCT_VMAP_SPORT, XCT_VMAP_DPORT */
	struct xct_concat_elem concat; /* XCT_VMAP_CONCAT: a value per component */
	enum xct_rule_action action;   /* accept, drop, reject, jump, goto, return */
	struct xct_jump jump;	       /* jump and goto */
};

/* FIELD vmap { KEY : VERDICT, ... } or FIELD vmap @NAME: a rule whose
 * verdict is that of the element its field's value falls in; no element,
 * no match. */
struct xct_vmap {
	enum xct_vmap_field field;
	__u8 fields[XCT_CONCAT_MAX]; /* XCT_VMAP_CONCAT: enum xct_concat_field */
	__u8 n_fields;
	int map; /* index into xct_ruleset.maps for vmap @NAME, else -1 */
	struct xct_vmap_elem *elems;
	size_t n;
	struct xct_flow_src src;
};

/* ct mark [!=] V | ct mark and M [==|!=] V | ct mark [!=] { V, ... }, and
 * the same for meta mark: the compiled struct xct_mark_cmp. */
struct xct_mark_match {
	bool present;
	struct xct_mark_cmp cmp;
};

/* ct mark set EXPR / meta mark set EXPR: EXPR is a value, the mark itself
 * or the other mark ("ct mark set meta mark"), followed by and/or/xor
 * with values; compiled into one struct xct_mark_op. */
struct xct_mark_stmt {
	bool present;
	bool from_other; /* the source is the other mark */
	struct xct_mark_op op;
};

struct xct_rule {
	struct xct_src_loc loc;
	char *text;    /* the rule as written, trimmed, without its comment */
	char *comment; /* comment "...": its text, or NULL */
	enum xct_rule_action action;
	enum xct_rule_hook hook;

	/* iif NAME / oif NAME / iif { a, b }: names, resolved to indexes at
	 * load.  iifname / oifname (iface_by_name): names matched as they
	 * are when xct attaches to an interface, so also interfaces created
	 * after the load; a name ending in '*' matches every name it is a
	 * prefix of ("veth*"). */
	char (*ifaces)[XCT_IFNAME_MAX];
	struct xct_src_loc *iface_locs; /* where each name was written */
	size_t n_ifaces;
	bool iface_negate;
	bool iface_by_name;

	__u8 family; /* 0: both; XCT_AF_INET ("ip"), XCT_AF_INET6 ("ip6") */
	bool has_proto;
	__u8 proto; /* tcp, udp, icmp, icmpv6, or "meta l4proto N" */

	struct xct_addr_match saddr, daddr;
	struct xct_port_match sport, dport;
	struct xct_concat_match concat;

	/* tcp flags syn, tcp flags syn,ack, tcp flags syn|ack
	 *	-> flags_any, mask = value = the flags (any of them set, as nft)
	 * tcp flags == syn|ack -> mask = 0xff, value = SYN|ACK (exactly these)
	 * tcp flags & (syn|ack) == syn -> mask = SYN|ACK, value = SYN */
	bool has_tcp_flags;
	__u8 tcp_flags_mask;
	__u8 tcp_flags_value;
	bool tcp_flags_any; /* match if (flags & mask) != 0 */

	struct xct_icmp_match *icmp; /* icmp/icmpv6 type[/code] list */
	size_t n_icmp;

	__u8 ct_states; /* bit (1 << enum xct_ct_state); 0 when not given */

	struct xct_mark_match ct_mark, meta_mark;
	__u16 ct_status; /* ct status S[,S]: any of these XCT_CTS_BIT_* */
	bool ct_status_negate;
	struct xct_mark_stmt ct_mark_set, meta_mark_set;

	struct xct_limit limit;
	bool log;	  /* a sampled event to the event stream */
	char *log_prefix; /* log prefix "...": its text, or NULL */
	int log_level;	  /* log level LEVEL: a syslog priority, LOG_WARNING by default */

	/* reject with icmp|icmpv6|icmpx [type] T, reject with tcp reset */
	enum xct_reject_kind reject;

	/* ip ttl / ip6 hoplimit, ip dscp / ip6 dscp: checked per candidate
	 * rule, not classified (include/xct/policy.h) */
	struct xct_hdr_range ttl, dscp;

	struct xct_nat_to nat_to; /* NAT rules */

	/* Owner rules: the owner of a connection the host opens */
	struct xct_id_match skuid, skgid;
	struct xct_cgroup_match cgroup;

	struct xct_jump *jump; /* XCT_ACTION_JUMP, XCT_ACTION_GOTO */
	struct xct_vmap *vmap; /* XCT_ACTION_VMAP */
	int chain_of;	       /* as written: its chain, -1 for the base list */
	/* As expanded (xct_ruleset.rules): */
	__u32 skip_to; /* XCT_ACTION_RETURN: where the walk goes on */
	__u32 src;     /* the written rule, an index into xct_ruleset.written */
};

/* chain NAME { RULES }: rules reached by jump or goto only. */
struct xct_chain {
	char name[XCT_RULE_NAME_MAX];
	struct xct_src_loc loc;
	char file[256];
};

/* map NAME { type PORT|ADDR : verdict; elements = { KEY : VERDICT, ... } } */
struct xct_map_def {
	char name[XCT_RULE_NAME_MAX];
	struct xct_src_loc loc;
	bool ports;		     /* keys are ports, else addresses */
	__u8 ctypes[XCT_CONCAT_MAX]; /* a concatenation: its types, else n_ctypes 0 */
	__u8 n_ctypes;
	struct xct_vmap_elem *elems;
	size_t n;
	char *text; /* as written, on one line, for xct rules show */
};

enum xct_policy {
	XCT_POLICY_ACCEPT,
	XCT_POLICY_DROP,
};

struct xct_ruleset {
	enum xct_policy policy; /* for new connections no rule decides */
	struct xct_src_loc policy_loc;
	struct xct_set_def *sets;
	size_t n_sets;
	/* The filter rules as the datapath walks them, first match wins: the
	 * base rules with every chain they jump to inlined (chains.c). */
	struct xct_rule *rules;
	size_t n_rules;
	/* The filter rules as written, in the order of the file, each with
	 * its chain (chain_of): what xct rules show prints back. */
	struct xct_rule *written;
	size_t n_written;
	struct xct_chain *chains;
	size_t n_chains;
	struct xct_map_def *maps;
	size_t n_maps;
	/* masquerade and snat rules, in order: they decide a connection's
	 * translation on its first packet, apart from the filter rules */
	struct xct_rule *nat_rules;
	size_t n_nat_rules;
	/* rules with meta skuid, meta skgid or socket cgroupv2, in order:
	 * decided at a local connection's connect() or first sendmsg(),
	 * apart from the filter rules */
	struct xct_rule *owner_rules;
	size_t n_owner_rules;
};

/* The first error in a file.  line_text is the offending line (without the
 * newline) so the caller can print it with a caret under col. */
struct xct_rules_error {
	char file[256];
	struct xct_src_loc loc;
	char msg[256];
	char line_text[256];
};

/*
 * Parses text (len bytes, NUL not required) read from file (used in
 * messages only).  Returns 0 and fills out, or -EINVAL (-ENOMEM when out of
 * memory) and fills err; out is then empty and needs no freeing.
 */
int xct_rules_parse(const char *file, const char *text, size_t len, struct xct_ruleset *out,
		    struct xct_rules_error *err);

/* The most a rules file may hold (docs/RULES.md): a set at its maximum of
 * XCT_SET_ELEMS_MAX IPv4 prefixes, one a line, fits; a runaway input (a
 * device, a wrong file) stops here instead of at the end of memory. */
#define XCT_RULES_FILE_MAX (64u << 20)

/* Reads and parses a file ("-": standard input), up to XCT_RULES_FILE_MAX
 * bytes and no further than a NUL byte; a file that cannot be read, or is
 * too large, is an error at 0:0. */
int xct_rules_parse_file(const char *path, struct xct_ruleset *out, struct xct_rules_error *err);

/* How errors and messages name the file path: "<stdin>" for "-". */
const char *xct_rules_file_name(const char *path);

/* "FILE:LINE:COL: error: MSG", the line, and a caret under the column. */
void xct_rules_error_print(FILE *f, const struct xct_rules_error *err);

void xct_ruleset_free(struct xct_ruleset *rs);
void xct_rule_free(struct xct_rule *r);

/* Nested jumps allowed, as nftables' NFT_JUMP_STACK_SIZE. */
#define XCT_CHAIN_DEPTH_MAX 16

/*
 * Builds rs->rules from rs->written (src/rules/chains.c): each jump and
 * goto is replaced by the rules of its chain with the jump's matches added
 * to each, each vmap by a rule per element; a return becomes a rule
 * whose skip_to is the first rule after its chain.  Loops, jumps nested
 * deeper than XCT_CHAIN_DEPTH_MAX and expansions past XCT_RULES_MAX - 1
 * rules are errors at the jump (err).  Returns 0 or -EINVAL/-ENOMEM.
 */
int xct_chains_expand(struct xct_ruleset *rs, struct xct_rules_error *err);

/* What a log statement says, as nft's: log [prefix "TEXT"] [level LEVEL]. */
#define XCT_LOG_PREFIX_MAX 127 /* bytes, as nft's (NF_LOG_PREFIXLEN less its NUL) */

/*
 * The prefix and level of a rule's log statement, read back from the rule's
 * text (struct xct_rule's text, which the datapath keeps beside the rule
 * for xct rules show): xctd writes them in the journal line of each packet
 * the rule logs.  prefix gets the text without its quotes ("" when none),
 * level the syslog priority (LOG_WARNING when none).  0, or -ENOENT when
 * the rule has no log statement.
 */
int xct_rule_log_options(const char *text, char *prefix, size_t prefix_len, int *level);

/* Looks a set up by name; its index or -1. */
int xct_ruleset_find_set(const struct xct_ruleset *rs, const char *name);

/* Parses one set element as written on the command line ("10.0.0.0/8",
 * "2001:db8::1", "80", "8000-8099") for xct set add/del. */
int xct_parse_prefix(const char *s, struct xct_prefix *out);
int xct_parse_port_range(const char *s, struct xct_port_range *out);

/* The same, with the reason for -EINVAL in msg, as the rules file would
 * say it ("host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)"). */
int xct_parse_prefix_msg(const char *s, struct xct_prefix *out, char *msg, size_t msglen);
int xct_parse_port_range_msg(const char *s, struct xct_port_range *out, char *msg, size_t msglen);

/* Parses the elements of a concatenation of n types as xct set add|del
 * take them ("10.0.0.1 . 22", "{ 10.0.0.1 . 22, 10.0.0.2 . 80 }"), into
 * *out (malloc'd, *n_out elements); -EINVAL with the reason in msg. */
int xct_parse_concat_elems(const char *s, const __u8 *types, size_t n, struct xct_concat_elem **out,
			   size_t *n_out, char *msg, size_t msglen);

/* A concatenation's type and elements as the rules language writes them:
 * "ipv4_addr . inet_service", "10.0.0.1 . 22". */
void xct_concat_type_format(const __u8 *types, size_t n, char *buf, size_t len);
void xct_concat_elem_format(const struct xct_concat_elem *e, const __u8 *types, size_t n, char *buf,
			    size_t len);

/* The key data of an element in a set of these types (xct_concat_key()'s
 * layout): data holds XCT_CONCAT_DATA + 16 bytes. */
void xct_concat_elem_key(const struct xct_concat_elem *e, const __u8 *types, size_t n, __u8 *data);
/* The element a key's data holds, back. */
void xct_concat_elem_from_key(const __u8 *data, const __u8 *types, size_t n,
			      struct xct_concat_elem *e);

#endif /* XCT_RULESET_H */
