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
	XCT_SET_ADDR, /* prefixes, both families may be mixed */
	XCT_SET_PORT, /* ports and port ranges */
};

/* set NAME { ELEMENT, ... }: the kind is inferred from the elements; an
 * empty set is declared with a kind: set NAME addr {} / set NAME port {}. */
struct xct_set_def {
	char name[XCT_RULE_NAME_MAX];
	enum xct_set_kind kind;
	struct xct_prefix *prefixes; /* XCT_SET_ADDR */
	size_t n_prefixes;
	struct xct_port_range *ports; /* XCT_SET_PORT */
	size_t n_ports;
	struct xct_src_loc loc;
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
};

/* limit RATE/UNIT [burst N] [per saddr] */
struct xct_limit {
	bool present;
	__u64 rate;	/* tokens ... */
	__u64 unit_ns;	/* ... per this many ns (1e9 for /second) */
	__u64 burst;	/* bucket depth; defaults to rate when not given */
	bool per_saddr; /* one bucket per source address */
	bool bytes;	/* limit 10 mbytes/second: tokens are bytes */
};

struct xct_rule {
	struct xct_src_loc loc;
	char *text;    /* the rule as written, trimmed, without its comment */
	char *comment; /* comment "...": its text, or NULL */
	enum xct_rule_action action;
	enum xct_rule_hook hook;

	/* iif NAME / oif NAME / iif { a, b }: names, resolved at load */
	char (*ifaces)[XCT_IFNAME_MAX];
	struct xct_src_loc *iface_locs; /* where each name was written */
	size_t n_ifaces;
	bool iface_negate;

	__u8 family; /* 0: both; XCT_AF_INET ("ip"), XCT_AF_INET6 ("ip6") */
	bool has_proto;
	__u8 proto; /* tcp, udp, icmp, icmpv6, or "meta l4proto N" */

	struct xct_addr_match saddr, daddr;
	struct xct_port_match sport, dport;

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

	struct xct_limit limit;
	bool log; /* a sampled event to the event stream */

	struct xct_nat_to nat_to; /* NAT rules */

	/* Owner rules: the owner of a connection the host opens */
	struct xct_id_match skuid, skgid;
	struct xct_cgroup_match cgroup;
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
	struct xct_rule *rules;
	size_t n_rules;
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

#endif /* XCT_RULESET_H */
