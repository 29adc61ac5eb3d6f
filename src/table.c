// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading the pinned table.  Entries are fetched with batch lookups (one
 * syscall per thousands of entries, not two per entry) and BPF_F_LOCK, so
 * each entry is a consistent copy even while the datapath updates it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "table.h"
#include "xct.h"
#include "xct/ct.h"

static int open_pinned(const char *pin_path, const char *name, int *fd)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", pin_path, name);
	*fd = bpf_obj_get(path);
	return *fd < 0 ? -errno : 0;
}

int xct_table_open(struct xct_table *t)
{
	return xct_table_open_at(t, xct_opts.pin_path, 0);
}

int xct_table_open_flags(struct xct_table *t, unsigned int pin_flags)
{
	return xct_table_open_at(t, xct_opts.pin_path, pin_flags);
}

int xct_table_open_at(struct xct_table *t, const char *pin_path, unsigned int pin_flags)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int err;

	memset(t, 0, sizeof(*t));
	t->ct_fd = t->counters_fd = t->ifaces_fd = t->gc_fd = -1;
	t->nat_fd = t->nat_rev_fd = t->labels_fd = -1;
	err = xct_prepare_pin_path(pin_path, pin_flags);
	if (err)
		return err;
	err = open_pinned(pin_path, "xct_ct", &t->ct_fd);
	if (!err)
		err = open_pinned(pin_path, "xct_counters", &t->counters_fd);
	if (!err)
		err = open_pinned(pin_path, "xct_ifaces", &t->ifaces_fd);
	if (!err)
		err = open_pinned(pin_path, "xct_gc", &t->gc_fd);
	if (err) {
		if (err == -ENOENT)
			xct_err("xct is not attached (no state under %s)", pin_path);
		else
			xct_err("cannot open xct's maps under %s: %s", pin_path, strerror(-err));
		xct_table_close(t);
		return err;
	}
	if (bpf_obj_get_info_by_fd(t->ct_fd, &info, &len) == 0)
		t->max_entries = info.max_entries;
	/* Absent under an xct from before NAT: then nothing is translated. */
	if (open_pinned(pin_path, "xct_nat", &t->nat_fd) ||
	    open_pinned(pin_path, "xct_nat_rev", &t->nat_rev_fd)) {
		if (t->nat_fd >= 0)
			close(t->nat_fd);
		t->nat_fd = t->nat_rev_fd = -1;
	}
	if (open_pinned(pin_path, "xct_ct_labels", &t->labels_fd))
		t->labels_fd = -1;
	return 0;
}

void xct_table_close(struct xct_table *t)
{
	int *fds[] = {&t->ct_fd,  &t->counters_fd, &t->ifaces_fd, &t->gc_fd,
		      &t->nat_fd, &t->nat_rev_fd,  &t->labels_fd};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int walk(const struct xct_table *t, __u64 now_ns, bool dead_too, xct_entry_fn fn, void *ctx);

int xct_table_walk(const struct xct_table *t, __u64 now_ns, xct_entry_fn fn, void *ctx)
{
	return walk(t, now_ns, false, fn, ctx);
}

int xct_table_walk_all(const struct xct_table *t, xct_entry_fn fn, void *ctx)
{
	return walk(t, 0, true, fn, ctx);
}

static int walk(const struct xct_table *t, __u64 now_ns, bool dead_too, xct_entry_fn fn, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_F_LOCK);
	__u32 batch_size = 4096, count, i;
	struct xct_ct_key *keys = NULL;
	struct xct_ct_entry *values = NULL;
	__u64 in_batch = 0, out_batch = 0;
	bool first = true;
	int err = 0, ret = 0;

	keys = calloc(batch_size, sizeof(*keys));
	values = calloc(batch_size, sizeof(*values));
	if (!keys || !values) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		count = batch_size;
		err = bpf_map_lookup_batch(t->ct_fd, first ? NULL : &in_batch, &out_batch, keys,
					   values, &count, &opts);
		if (err)
			err = -errno;
		if (err && err != -ENOENT) {
			if (err == -ENOSPC && batch_size < (1u << 20)) {
				/* One hash bucket holds more than a batch. */
				batch_size *= 2;
				free(keys);
				free(values);
				keys = calloc(batch_size, sizeof(*keys));
				values = calloc(batch_size, sizeof(*values));
				if (!keys || !values) {
					err = -ENOMEM;
					goto out;
				}
				continue;
			}
			xct_err("cannot read the connection table: %s", strerror(-err));
			goto out;
		}
		for (i = 0; i < count; i++) {
			if (!dead_too && !xct_entry_alive(&values[i], now_ns))
				continue;
			ret = fn(&keys[i], &values[i], ctx);
			if (ret)
				goto out;
		}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in_batch = out_batch;
		first = false;
	}
out:
	free(keys);
	free(values);
	return ret ? ret : err;
}

int xct_percpu_sum(int fd, __u32 key, __u64 *sum, size_t nwords)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	__u64 *vals;
	size_t w;

	memset(sum, 0, nwords * sizeof(*sum));
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	/* The kernel lays each CPU's copy out at a multiple of 8 bytes:
	 * words of __u64 need no padding between CPUs. */
	vals = calloc((size_t)ncpus * nwords, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals))
		err = -errno;
	for (int cpu = 0; cpu < ncpus && !err; cpu++)
		for (w = 0; w < nwords; w++)
			sum[w] += vals[(size_t)cpu * nwords + w];
	free(vals);
	return err;
}

int xct_counters_read(const struct xct_table *t, __u32 slot, __u64 *per_cpu, int ncpus)
{
	if (ncpus < libbpf_num_possible_cpus())
		return -EINVAL;
	return bpf_map_lookup_elem(t->counters_fd, &slot, per_cpu) ? -errno : 0;
}

__u64 xct_counter_total(const struct xct_table *t, __u32 slot)
{
	__u64 sum;

	return xct_percpu_sum(t->counters_fd, slot, &sum, 1) ? 0 : sum;
}

/* ---- NAT bindings ---- */

static int cmp_view_rec(const void *a, const void *b)
{
	return memcmp(&((const struct xct_nat_view_rec *)a)->key,
		      &((const struct xct_nat_view_rec *)b)->key, sizeof(struct xct_ct_key));
}

int xct_nat_view_load(const struct xct_table *t, struct xct_nat_view *v)
{
	struct xct_ct_key key, next;
	size_t cap = 0;
	bool first = true;

	memset(v, 0, sizeof(*v));
	if (t->nat_fd < 0)
		return 0;
	while (bpf_map_get_next_key(t->nat_fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (v->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct xct_nat_view_rec *r = realloc(v->recs, ncap * sizeof(*r));

			if (!r) {
				xct_nat_view_free(v);
				return -ENOMEM;
			}
			v->recs = r;
			cap = ncap;
		}
		v->recs[v->n].key = key;
		/* Deleted since the key was read: skip it. */
		if (bpf_map_lookup_elem(t->nat_fd, &key, &v->recs[v->n].b) == 0)
			v->n++;
	}
	if (v->n)
		qsort(v->recs, v->n, sizeof(*v->recs), cmp_view_rec);
	return 0;
}

void xct_nat_view_free(struct xct_nat_view *v)
{
	free(v->recs);
	memset(v, 0, sizeof(*v));
}

const struct xct_nat_binding *xct_nat_view_find(const struct xct_nat_view *v,
						const struct xct_ct_key *key,
						const struct xct_ct_entry *e)
{
	struct xct_nat_view_rec want, *r;

	if (!v->n || !(e->status & (XCT_CT_SRC_NAT | XCT_CT_DST_NAT)))
		return NULL;
	want.key = *key;
	r = bsearch(&want, v->recs, v->n, sizeof(*v->recs), cmp_view_rec);
	/* A binding left by an earlier connection on the same tuple. */
	if (!r || r->b.first_seen_ns != e->first_seen_ns)
		return NULL;
	return &r->b;
}

const struct xct_nat_binding *xct_nat_view_inner(const struct xct_nat_view *v,
						 const struct xct_nat_binding *b)
{
	struct xct_nat_view_rec want, *r;

	if (!b || b->manip != XCT_CT_DST_NAT)
		return NULL;
	want.key = b->rkey;
	r = bsearch(&want, v->recs, v->n, sizeof(*v->recs), cmp_view_rec);
	if (!r || r->b.manip != XCT_CT_SRC_NAT || r->b.first_seen_ns != b->first_seen_ns)
		return NULL;
	return &r->b;
}

/* Frees the claim on rkey if it is still owner's (bpf/maps.h,
 * xct_nat_free_claim()). */
static void free_claim(const struct xct_table *t, const struct xct_ct_key *rkey,
		       const struct xct_ct_key *owner)
{
	struct xct_ct_key o;

	if (bpf_map_lookup_elem(t->nat_rev_fd, rkey, &o) == 0 && xct_key_eq(&o, owner))
		bpf_map_delete_elem(t->nat_rev_fd, rkey);
}

void xct_nat_forget(const struct xct_table *t, const struct xct_ct_key *key)
{
	struct xct_nat_binding b, inner;

	if (t->nat_fd < 0 || bpf_map_lookup_elem(t->nat_fd, key, &b))
		return;
	if (b.manip == XCT_CT_DST_NAT && bpf_map_lookup_elem(t->nat_fd, &b.rkey, &inner) == 0 &&
	    inner.manip == XCT_CT_SRC_NAT && inner.first_seen_ns == b.first_seen_ns) {
		free_claim(t, &inner.rkey, &b.rkey);
		bpf_map_delete_elem(t->nat_fd, &b.rkey);
	}
	free_claim(t, &b.rkey, key);
	bpf_map_delete_elem(t->nat_fd, key);
}
