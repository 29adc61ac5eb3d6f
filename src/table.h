/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pinned state of a running xct, opened by path: connection table,
 * counters, interface registry and GC state.
 */
#ifndef XCT_TABLE_H
#define XCT_TABLE_H

#include "xct/abi.h"
#include "xct/nat.h"

struct xct_table {
	int ct_fd;
	int counters_fd;
	int ifaces_fd;
	int gc_fd;
	int nat_fd, nat_rev_fd; /* NAT bindings and claims (include/xct/nat.h) */
	int labels_fd;		/* connection labels; -1 under an xct from before them */
	__u32 max_entries;
};

/* Opens the maps under xct_opts.pin_path; -ENOENT (reported) if xct is not
 * attached there. */
int xct_table_open(struct xct_table *t);
/* The same, with xct_open_pin_dir()'s XCT_PIN_* flags. */
int xct_table_open_flags(struct xct_table *t, unsigned int pin_flags);
/* The same under pin_path. */
int xct_table_open_at(struct xct_table *t, const char *pin_path, unsigned int pin_flags);
void xct_table_close(struct xct_table *t);

/* Called for each live entry; a non-zero return stops the walk. */
typedef int (*xct_entry_fn)(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx);

/* Walks the live entries (read in batches, each entry copied under its
 * lock); returns the callback's non-zero value, 0, or -errno. */
int xct_table_walk(const struct xct_table *t, __u64 now_ns, xct_entry_fn fn, void *ctx);

/* The same over every entry, dead ones too (expired, or claimed by a
 * deleter, not yet gone): conntrack -L dying's. */
int xct_table_walk_all(const struct xct_table *t, xct_entry_fn fn, void *ctx);

/* Sums one element of a per-CPU map over the possible CPUs: the element
 * is nwords __u64s (a counter, or a struct of them such as
 * struct xct_rule_stats) and sum[i] gets word i's total.  0 or -errno. */
int xct_percpu_sum(int fd, __u32 key, __u64 *sum, size_t nwords);

/* Fills per_cpu[ncpus] with a per-CPU counter slot's values. */
int xct_counters_read(const struct xct_table *t, __u32 slot, __u64 *per_cpu, int ncpus);

/* A counter slot summed over the CPUs; 0 if it cannot be read. */
__u64 xct_counter_total(const struct xct_table *t, __u32 slot);

/* Every NAT binding, read once for a listing, found by connection key. */
struct xct_nat_view {
	struct xct_nat_view_rec {
		struct xct_ct_key key;
		struct xct_nat_binding b;
	} * recs;
	size_t n;
};

int xct_nat_view_load(const struct xct_table *t, struct xct_nat_view *v);
void xct_nat_view_free(struct xct_nat_view *v);

/* The binding of entry e, or NULL when the connection is not translated. */
const struct xct_nat_binding *xct_nat_view_find(const struct xct_nat_view *v,
						const struct xct_ct_key *key,
						const struct xct_ct_entry *e);

/* The source translation of a destination-translated connection's inner
 * tuple (b: the connection's binding), or NULL. */
const struct xct_nat_binding *xct_nat_view_inner(const struct xct_nat_view *v,
						 const struct xct_nat_binding *b);

/* Frees a deleted connection's binding and the claim on its tuple. */
void xct_nat_forget(const struct xct_table *t, const struct xct_ct_key *key);

#endif /* XCT_TABLE_H */
