/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rule compiler: a parsed ruleset (ruleset.h) in, the datapath's
 * classification tables out (the scheme is explained in include/xct/policy.h).
 * The output is plain memory with generation-free class numbers; the
 * installer (install.c) gives classes their map ids and writes one
 * generation of the policy maps from it.  Nothing here touches BPF, so the
 * compiler is tested without root against a direct evaluation of the rules.
 */
#ifndef XCT_RULES_COMPILE_H
#define XCT_RULES_COMPILE_H

#include "rules/ruleset.h"
#include "xct/policy.h"
#include "xct/nat.h"
#include "xct/owner.h"

/* One distinct bit vector: bit r is set when rule r may match. */
struct xct_cclass {
	__u64 summary;		  /* bit c: chunk c is not all zero */
	__u32 n_chunks;		  /* non-zero chunks only */
	__u32 *chunk_no;	  /* n_chunks chunk numbers, ascending */
	struct xct_chunk *chunks; /* their bits */
	__u32 decided; /* first rule + 1 when that rule needs no field but META, else 0 */
};

/* A prefix of an address class trie and its class. */
struct xct_cprefix {
	struct xct_prefix prefix;
	__u32 cls;
};

struct xct_compiled {
	__u32 n_rules;		   /* rule i of the file is bit i */
	struct xct_rule_rec *recs; /* n_rules records; set ids are set index + 1 */
	__u8 policy;		   /* enum xct_verdict for NEW and INVALID at ingress */
	__u8 has_raw;		   /* some rule is notrack */
	__u16 fields_used;	   /* bit per enum xct_field some rule classifies on */

	/* Class 0 is always the all-zero vector: "no rule matches". */
	struct xct_cclass *classes;
	__u32 n_classes;

	__u32 meta[XCT_META_ENTRIES]; /* by xct_meta_index() */

	struct {
		__u32 ifindex;
		__u32 cls;
	} * ifaces; /* interfaces iif or oif name, by index */
	__u32 n_ifaces;
	/* The names and wildcards iifname and oifname rules write, sorted:
	 * the class of an interface no iif or oif names is that of its name,
	 * else that of the longest wildcard its name starts with, else
	 * iface_default (xct_compiled_iface_class()). */
	struct xct_ciface_name {
		char name[XCT_IFNAME_MAX]; /* "eth0", or "eth*" */
		__u32 cls;
	} * iface_names;
	__u32 n_iface_names;
	__u32 iface_default; /* every other interface */

	/* [0] source, [1] destination; both families, each with its /0 root
	 * so that every address finds a class. */
	struct xct_cprefix *addr[2];
	__u32 n_addr[2];

	__u32 *port[2]; /* [0] source, [1] destination: 65536 entries each, by host-order port */
	__u32 *icmp;	/* 65536 entries, by type << 8 | code */
	__u32 flags[256];

	struct xct_nat_rule *nat; /* the NAT rules, in order */
	__u32 n_nat;
	__u32 has_dnat; /* one of them is a dnat rule */

	/* The owner rules (rs->owner_rules) as xct_owner_rules holds them:
	 * one per combination of their lists' elements, in order. */
	struct xct_owner_rule *owner;
	__u32 n_owner;
};

/* Resolves an interface name; the ifindex, or 0 if there is none. */
typedef __u32 (*xct_ifindex_fn)(const char *name, void *ctx);

/*
 * Compiles rs into out.  Returns 0, or -EINVAL with err filled (an
 * interface or a cgroup that does not exist, too many rules), naming the rule's
 * file:line:column; out is then empty.  file is used in messages only.
 */
int xct_rules_compile(const struct xct_ruleset *rs, const char *file, xct_ifindex_fn ifindex,
		      void *ctx, struct xct_compiled *out, struct xct_rules_error *err);

void xct_compiled_free(struct xct_compiled *c);

/* The class of the interface ifindex, named name: what the installer
 * writes for it when the rules load, or when xct attaches to it later. */
__u32 xct_compiled_iface_class(const struct xct_compiled *c, __u32 ifindex, const char *name);

/* The entry of c->iface_names an interface called name takes its class
 * from, or NULL for iface_default (an interface iif or oif names aside). */
const struct xct_ciface_name *xct_compiled_iface_name(const struct xct_compiled *c,
						      const char *name);

#endif /* XCT_RULES_COMPILE_H */
