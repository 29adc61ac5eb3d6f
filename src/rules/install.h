/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The running policy in the pinned maps: installing a compiled ruleset as
 * the next generation and switching to it in one step, and reading back
 * what runs (rules with counters, sets) for xct rules show and xct set.
 */
#ifndef XCT_RULES_INSTALL_H
#define XCT_RULES_INSTALL_H

#include "rules/compile.h"
#include "rules/ruleset.h"

/* The policy maps of a running xct, opened by pin path. */
struct xct_policy_maps {
	int ctl, cls_meta, cls_iface, cls_v4, cls_v6, cls_port, cls_icmp, cls_flags;
	int chunks, rules, rule_stats, limits, limits_src, log_limits, set_info, rule_text;
	int iface_names; /* what the rules say of names, for interfaces attached later */
	int sets_v4, sets_v6, sets_port; /* arrays of tries, by generation */
	int sets_concat;		 /* array of concatenations' hash tables, by generation */
	int nat_rules, nat_ctl, nat;	 /* NAT rules by generation, their header, bindings */
	int owner_rules, owner_ctl;	 /* owner rules by generation, their counts */
	struct xct_policy_ctl *ctl_mem;	 /* xct_policy_ctl, memory-mapped */
	int lock_fd;			 /* the pin directory, flocked by writers; or -1 */
};

/* Opens them under xct_opts.pin_path; -ENOENT (reported) if xct has never
 * been attached there. */
int xct_policy_open(struct xct_policy_maps *m);
/*
 * The same maps from another source (xct replay: the private maps of a
 * datapath loaded without pins): fd_of returns a file descriptor of the
 * named map ("xct_cls_meta"...), which m then owns, or -errno after
 * reporting why not.
 */
int xct_policy_open_fds(struct xct_policy_maps *m, int (*fd_of)(const char *name, void *ctx),
			void *ctx);
void xct_policy_close(struct xct_policy_maps *m);

/*
 * Writes rs, compiled as c, into the inactive generation and makes it the
 * active one with a single store.  Packets see the old rules or the new
 * ones, never a mix; connections in the table are not touched.  On failure
 * the running rules stay as they were.  Returns 0 or -errno (reported).
 */
int xct_policy_install(struct xct_policy_maps *m, const struct xct_ruleset *rs,
		       const struct xct_compiled *c);

/*
 * The two steps of xct_policy_install(), for a caller that holds the
 * writers' turn itself (and for tests of what runs between them): write
 * rs into the inactive generation, which no packet reads yet, returning
 * that generation (0 or 1) or -errno; then switch to it with one store.
 */
int xct_policy_write_spare(struct xct_policy_maps *m, const struct xct_ruleset *rs,
			   const struct xct_compiled *c);
void xct_policy_switch(struct xct_policy_maps *m, __u32 gen);

/*
 * Whether the interfaces attached under xct_opts.pin_path can run rs: a
 * rule on the packet mark (meta mark) of arriving packets needs an skb,
 * which an interface running xct at XDP (native or generic) has not.
 * 0, or -EOPNOTSUPP with err naming the first such rule and interface.
 */
int xct_policy_check_hooks(const struct xct_ruleset *rs, const char *file,
			   struct xct_rules_error *err);

/*
 * Parses, compiles and installs text (named file in messages) as the
 * running rules under xct_opts.pin_path, in one call: what the tests and
 * benchmarks do with rulesets they write themselves.  Returns 0, -EINVAL
 * with err filled for a bad ruleset, or the installer's -errno.
 */
int xct_policy_load_text(const char *file, const char *text, xct_ifindex_fn ifindex, void *ctx,
			 struct xct_rules_error *err);

/*
 * Gives the interface ifindex, called name, the class the running rules
 * (and the spare generation's) give its name: what xct attach does before
 * it hooks an interface created after the load, so that iifname and
 * oifname rules apply to it from its first packet.  An interface iif or
 * oif named keeps the class of the load.  Returns 0 or -errno.
 */
int xct_policy_iface_added(struct xct_policy_maps *m, __u32 ifindex, const char *name);

/* The text of owner rule k (of rs->owner_rules) of a generation is kept in
 * xct_rule_text under TEXT_KEY(gen, XCT_OWNER_TEXT | k): no filter rule
 * slot has that bit. */
#define XCT_OWNER_TEXT 0x8000

/* Stops filtering: every packet is accepted, tracking goes on; the owner
 * rules stop with the filter rules. */
int xct_policy_clear(struct xct_policy_maps *m);

/* Called with each element of a set, as a prefix (ports: family 0, the
 * port in addr[0..1] in host order, plen out of 16). */
typedef int (*xct_set_elem_fn)(const struct xct_prefix *p, void *ctx);

/* Finds a set of the running rules by name; its info, or -ENOENT. */
int xct_policy_find_set(struct xct_policy_maps *m, const char *name, struct xct_set_info *out);

/*
 * Adds or removes elements of a running set, without a reload; all or
 * nothing.  A removal needs each element as it was added: -ENOENT, with
 * *failed the index of the first that is not (addresses first, then
 * ports); *failed is XCT_NO_ELEMENT when no element failed (-ENOENT then
 * means that a load since removed the set).
 */
#define XCT_NO_ELEMENT ((size_t)-1)
int xct_policy_set_update(struct xct_policy_maps *m, const struct xct_set_info *set,
			  const struct xct_prefix *addrs, size_t n_addrs,
			  const struct xct_port_range *ports, size_t n_ports, bool add,
			  size_t *failed);

/* Adds or removes elements of a running concatenation's set, all or
 * nothing as xct_policy_set_update(). */
int xct_policy_set_update_concat(struct xct_policy_maps *m, const struct xct_set_info *set,
				 const struct xct_concat_elem *elems, size_t n, bool add,
				 size_t *failed);

/* Walks the elements of a running concatenation's set. */
int xct_policy_set_walk_concat(struct xct_policy_maps *m, const struct xct_set_info *set,
			       int (*fn)(const struct xct_concat_elem *e, void *ctx), void *ctx);

/* A set_info's concatenation types (n of them, at most XCT_CONCAT_MAX). */
size_t xct_set_info_ctypes(const struct xct_set_info *info, __u8 *types);

/* Walks the elements of a running set. */
int xct_policy_set_walk(struct xct_policy_maps *m, const struct xct_set_info *set,
			xct_set_elem_fn fn, void *ctx);

/* Splits a port range into the fewest prefixes; calls fn for each with
 * the prefix's first port and length (0..16). */
int xct_port_range_prefixes(__u16 lo, __u16 hi, int (*fn)(__u16 port, __u8 plen, void *ctx),
			    void *ctx);

#endif /* XCT_RULES_INSTALL_H */
