// SPDX-License-Identifier: GPL-2.0-only
/*
 * Installing a compiled ruleset into the running datapath.
 *
 * Every policy map holds two generations (include/xct/policy.h).  A load
 * writes the inactive one while packets keep using the active one, then
 * switches with one store to the memory-mapped xct_policy_ctl: a packet
 * reads the active generation once, so it sees all of the old rules or all
 * of the new.
 *
 * The inactive generation is only safe to rewrite once no packet is still
 * evaluating it, i.e. once every packet that started before the previous
 * switch has finished.  Replacing an element of an array of maps makes the
 * kernel wait for an RCU grace period before the syscall returns, and XDP
 * and TC programs run inside RCU read-side sections; so the first step of a
 * load, putting fresh set tries in the generation's slots, is also the wait
 * that makes the rest of the writes safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rules/install.h"
#include "xct.h"

#define CLASS_ID(gen, cls)  ((__u32)(gen) << XCT_CLASS_GEN_SHIFT | (cls))
#define TEXT_KEY(gen, rule) ((__u32)(gen) << 16 | (rule))
#define POLICY_SLOT	    (XCT_RULES_MAX - 1)

static const struct {
	const char *name;
	size_t off;
} policy_map_names[] = {
#define M(field)                                                                                   \
	{                                                                                          \
		"xct_" #field, offsetof(struct xct_policy_maps, field)                             \
	}
	M(cls_meta),	M(cls_iface),
	M(cls_v4),	M(cls_v6),
	M(cls_port),	M(cls_icmp),
	M(cls_flags),	M(chunks),
	M(rules),	M(rule_stats),
	M(limits),	M(limits_src),
	M(set_info),	M(rule_text),
	M(sets_v4),	M(sets_v6),
	M(sets_port),	M(log_limits),
	M(nat_rules),	M(nat_ctl),
	M(owner_rules),	M(owner_ctl),
	M(nat),		{"xct_policy_ctl", offsetof(struct xct_policy_maps, ctl)},
	M(iface_names),	M(sets_concat),
#undef M
};

#define N_POLICY_MAPS (sizeof(policy_map_names) / sizeof(policy_map_names[0]))

static int *map_fd(struct xct_policy_maps *m, size_t i)
{
	return (int *)((char *)m + policy_map_names[i].off);
}

static size_t ctl_map_len(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return (sizeof(struct xct_policy_ctl) + page - 1) / page * page;
}

int xct_policy_open_fds(struct xct_policy_maps *m, int (*fd_of)(const char *name, void *ctx),
			void *ctx)
{
	size_t i;
	void *mem;

	memset(m, 0, sizeof(*m));
	m->lock_fd = -1;
	for (i = 0; i < N_POLICY_MAPS; i++)
		*map_fd(m, i) = -1;
	for (i = 0; i < N_POLICY_MAPS; i++) {
		int fd = fd_of(policy_map_names[i].name, ctx);

		if (fd < 0) {
			xct_policy_close(m);
			return fd;
		}
		*map_fd(m, i) = fd;
	}
	mem = mmap(NULL, ctl_map_len(), PROT_READ | PROT_WRITE, MAP_SHARED, m->ctl, 0);
	if (mem == MAP_FAILED) {
		int err = -errno;

		xct_err("cannot map xct_policy_ctl: %s", strerror(-err));
		xct_policy_close(m);
		return err;
	}
	m->ctl_mem = mem;
	return 0;
}

/* A policy map by its pin under xct_opts.pin_path; reports failures. */
static int pinned_fd(const char *name, void *ctx)
{
	char path[4096];
	int fd = bpf_obj_get(xct_pin(path, sizeof(path), name)), err;

	if (fd >= 0)
		return fd;
	err = -errno;
	if (err == -ENOENT)
		xct_err("xct is not attached (no %s under %s): run 'xct attach' first", name,
			xct_opts.pin_path);
	else
		xct_err("cannot open %s: %s", path, strerror(-err));
	return err;
}

int xct_policy_open(struct xct_policy_maps *m)
{
	int err = xct_policy_open_fds(m, pinned_fd, NULL);

	if (err)
		return err;
	m->lock_fd = xct_open_pin_dir(xct_opts.pin_path, false);
	if (m->lock_fd < 0) {
		err = m->lock_fd;
		if (err == -ENOENT)
			xct_err("cannot open %s: %s", xct_opts.pin_path, strerror(-err));
		xct_policy_close(m);
	}
	return err;
}

void xct_policy_close(struct xct_policy_maps *m)
{
	size_t i;

	if (m->ctl_mem)
		munmap(m->ctl_mem, ctl_map_len());
	m->ctl_mem = NULL;
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	m->lock_fd = -1;
	for (i = 0; i < N_POLICY_MAPS; i++) {
		int *fd = map_fd(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

/* ---- Small map helpers ---- */

/* Deletes every key of a hash or trie for which keep() says no.  Keys are
 * collected first: deleting while walking with get_next_key restarts the
 * walk in a hash map. */
static int delete_keys(int fd, size_t key_size, int (*match)(const void *key, void *ctx), void *ctx)
{
	size_t n = 0, cap = 0, i;
	char *keys = NULL, *cur = NULL, next[64];
	int err = 0;

	while (bpf_map_get_next_key(fd, cur, next) == 0) {
		if (match(next, ctx)) {
			if (n == cap) {
				char *grown;

				cap = cap ? cap * 2 : 256;
				grown = realloc(keys, cap * key_size);
				if (!grown) {
					free(keys);
					return -ENOMEM;
				}
				keys = grown;
			}
			memcpy(keys + n * key_size, next, key_size);
			n++;
		}
		cur = next;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * key_size) && errno != ENOENT && !err)
			err = -errno;
	free(keys);
	return err;
}

static int key_gen_u32_top(const void *key, void *ctx)
{
	__u32 v;

	memcpy(&v, key, 4);
	return v >> XCT_CLASS_GEN_SHIFT == *(__u32 *)ctx;
}

static int key_gen_u32_first(const void *key, void *ctx)
{
	__u32 v;

	memcpy(&v, key, 4);
	return v == *(__u32 *)ctx;
}

/* One entry of the rules as written, for xct rules show. */
static int put_text(struct xct_policy_maps *m, __u32 gen, __u32 *n, __u32 line, __u8 kind,
		    const char *fmt, const char *arg)
{
	struct xct_rule_text t = {.line = line, .kind = kind};
	__u32 k;

	if (*n >= XCT_TEXTS_MAX)
		return -E2BIG;
	snprintf(t.text, sizeof(t.text), fmt, arg ? arg : "");
	k = TEXT_KEY(gen, *n);
	if (bpf_map_update_elem(m->rule_text, &k, &t, BPF_ANY))
		return -errno;
	(*n)++;
	return 0;
}

/*
 * The rules as written, in the order xct rules show prints them: the base
 * rules, then each chain between its 'chain NAME {' and '}'.  Each record
 * of the expanded list then names the entry of the rule it was copied
 * from (src), whose counters are the sum of its copies'.
 */
static int write_texts(struct xct_policy_maps *m, __u32 gen, const struct xct_ruleset *rs,
		       struct xct_rule_rec *recs, __u32 n_recs)
{
	__u32 *at = calloc(rs->n_written + 1, sizeof(*at)), n = 0, i;
	int err = 0;

	if (!at)
		return -ENOMEM;
	/* Maps first: a rule names a map defined before it. */
	for (i = 0; i < rs->n_maps && !err; i++)
		err = put_text(m, gen, &n, rs->maps[i].loc.line, XCT_TEXT_MAP, "%s",
			       rs->maps[i].text);
	for (int c = -1; c < (int)rs->n_chains && !err; c++) {
		if (c >= 0)
			err = put_text(m, gen, &n, rs->chains[c].loc.line, XCT_TEXT_CHAIN_OPEN,
				       "chain %s {", rs->chains[c].name);
		for (i = 0; i < rs->n_written && !err; i++) {
			const struct xct_rule *r = &rs->written[i];
			bool flow = r->action == XCT_ACTION_JUMP || r->action == XCT_ACTION_GOTO;

			if (r->chain_of != c)
				continue;
			at[i] = n;
			err = put_text(m, gen, &n, r->loc.line,
				       flow ? XCT_TEXT_FLOW : XCT_TEXT_RULE, "%s", r->text);
		}
		if (c >= 0 && !err)
			err = put_text(m, gen, &n, 0, XCT_TEXT_CHAIN_CLOSE, "}", NULL);
	}
	for (i = 0; i < n_recs && !err; i++)
		recs[i].src = recs[i].src < rs->n_written ? at[recs[i].src] : 0;
	free(at);
	return err;
}

static int key_gen_text(const void *key, void *ctx)
{
	__u32 v;

	memcpy(&v, key, 4);
	return v >> 16 == *(__u32 *)ctx;
}

/* Trie keys {prefixlen, gen, ...}: the generation is the 5th byte. */
static int key_gen_cls(const void *key, void *ctx)
{
	return ((const __u8 *)key)[4] == *(__u32 *)ctx;
}

static int key_gen_limit_src(const void *key, void *ctx)
{
	__u32 rule;

	memcpy(&rule, key, 4);
	return rule / XCT_RULES_MAX == *(__u32 *)ctx;
}

/* Writes n consecutive array elements from index base, in batches. */
static int array_write(int fd, __u32 base, const void *values, size_t value_size, __u32 n)
{
	const __u32 batch = 8192;
	__u32 keys[8192], done = 0;

	while (done < n) {
		__u32 count = n - done < batch ? n - done : batch, i;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		for (i = 0; i < count; i++)
			keys[i] = base + done + i;
		if (bpf_map_update_batch(fd, keys, (const char *)values + (size_t)done * value_size,
					 &count, &opts))
			return -errno;
		done += count;
	}
	return 0;
}

static struct xct_class_ref class_ref(const struct xct_compiled *c, __u32 gen, __u32 cls)
{
	struct xct_class_ref ref = {.class_id = CLASS_ID(gen, cls),
				    .decided = c->classes[cls].decided,
				    .summary = c->classes[cls].summary};

	return ref;
}

/* A class table indexed by value (META, ports, ICMP, flags). */
static int write_class_array(int fd, __u32 base, const struct xct_compiled *c, __u32 gen,
			     const __u32 *cls, __u32 n)
{
	struct xct_class_ref *refs = calloc(n, sizeof(*refs));
	__u32 i;
	int err;

	if (!refs)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		refs[i] = class_ref(c, gen, cls[i]);
	err = array_write(fd, base, refs, sizeof(*refs), n);
	free(refs);
	return err;
}

/* ---- Sets ---- */

int xct_port_range_prefixes(__u16 lo, __u16 hi, int (*fn)(__u16 port, __u8 plen, void *ctx),
			    void *ctx)
{
	__u32 p = lo;

	while (p <= hi) {
		__u32 len = xct_range_prefix_len(p, hi, 16);
		int err = fn((__u16)p, (__u8)len, ctx);

		if (err)
			return err;
		p += 1U << (16 - len);
	}
	return 0;
}

/* A prefix deleted by the command under way: put back if it fails. */
struct set_undo {
	int trie; /* 0 IPv4, 1 IPv6, 2 ports */
	struct xct_prefix p;
};

struct set_write {
	int fd;
	__u32 set_id;
	int op; /* 1 add, 0 delete */
	struct set_undo *undo;
	size_t n_undo, cap_undo;
};

static int undo_push(struct set_write *w, int trie, const struct xct_prefix *p)
{
	if (!w || w->op)
		return 0;
	if (w->n_undo == w->cap_undo) {
		size_t cap = w->cap_undo ? w->cap_undo * 2 : 16;
		struct set_undo *u = realloc(w->undo, cap * sizeof(*u));

		if (!u)
			return -ENOMEM;
		w->undo = u;
		w->cap_undo = cap;
	}
	w->undo[w->n_undo].trie = trie;
	w->undo[w->n_undo++].p = *p;
	return 0;
}

static int set_port_elem(__u16 port, __u8 plen, void *ctx)
{
	struct set_write *w = ctx;
	struct xct_set_port_key k = {.prefixlen = XCT_SET_KEY_BITS + plen,
				     .set_id = htonl(w->set_id),
				     .port = htons(port)};
	__u8 one = 1;

	struct xct_prefix p = {.plen = plen};

	if (w->op)
		return bpf_map_update_elem(w->fd, &k, &one, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(w->fd, &k))
		return -errno; /* -ENOENT: not an element as written */
	memcpy(p.addr, &port, sizeof(port));
	return undo_push(w, 2, &p);
}

static int set_addr_elem(int fd4, int fd6, __u32 set_id, const struct xct_prefix *p, int add)
{
	__u8 one = 1;
	int err;

	if (p->family == XCT_AF_INET) {
		struct xct_set_v4_key k = {.prefixlen = XCT_SET_KEY_BITS + p->plen,
					   .set_id = htonl(set_id)};

		memcpy(k.addr, p->addr, 4);
		err = add ? bpf_map_update_elem(fd4, &k, &one, BPF_ANY)
			  : bpf_map_delete_elem(fd4, &k);
	} else {
		struct xct_set_v6_key k = {.prefixlen = XCT_SET_KEY_BITS + p->plen,
					   .set_id = htonl(set_id)};

		memcpy(k.addr, p->addr, 16);
		err = add ? bpf_map_update_elem(fd6, &k, &one, BPF_ANY)
			  : bpf_map_delete_elem(fd6, &k);
	}
	/* A delete needs the element as written: a prefix inside a larger
	 * element is not one, and is reported rather than ignored. */
	return err ? -errno : 0;
}

static int new_trie(const char *name, __u32 key_size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, key_size, 1, XCT_SET_ELEMS_MAX, &opts);

	return fd < 0 ? -errno : fd;
}

static int new_concat_hash(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "xct_set_concat",
				sizeof(struct xct_set_concat_key), 1, XCT_SET_ELEMS_MAX, &opts);

	return fd < 0 ? -errno : fd;
}

/* An element of a concatenation's set, added or deleted. */
static int concat_elem_write(int fd, __u32 set_id, const __u8 *types, size_t n,
			     const struct xct_concat_elem *e, bool add)
{
	struct xct_set_concat_key k = {.set_id = set_id};
	__u8 data[XCT_CONCAT_DATA + 16];
	__u8 one = 1;

	xct_concat_elem_key(e, types, n, data);
	memcpy(k.data, data, sizeof(k.data));
	if (add)
		return bpf_map_update_elem(fd, &k, &one, BPF_ANY) ? -errno : 0;
	return bpf_map_delete_elem(fd, &k) ? -errno : 0;
}

/* Fresh tries (and the concatenations' hash table) holding the ruleset's
 * sets, for one generation. */
static int build_set_tries(const struct xct_ruleset *rs, int fds[4])
{
	size_t s, i;
	int err;

	fds[0] = new_trie("xct_set_v4", sizeof(struct xct_set_v4_key));
	fds[1] = new_trie("xct_set_v6", sizeof(struct xct_set_v6_key));
	fds[2] = new_trie("xct_set_port", sizeof(struct xct_set_port_key));
	fds[3] = new_concat_hash();
	for (i = 0; i < 4; i++)
		if (fds[i] < 0)
			return fds[i];
	for (s = 0; s < rs->n_sets; s++) {
		const struct xct_set_def *d = &rs->sets[s];
		struct set_write w = {.fd = fds[2], .set_id = (__u32)s + 1, .op = 1};

		for (i = 0; i < d->n_elems; i++) {
			err = concat_elem_write(fds[3], (__u32)s + 1, d->ctypes, d->n_ctypes,
						&d->elems[i], true);
			if (err)
				return err;
		}

		for (i = 0; i < d->n_prefixes; i++) {
			err = set_addr_elem(fds[0], fds[1], (__u32)s + 1, &d->prefixes[i], 1);
			if (err)
				return err;
		}
		for (i = 0; i < d->n_ports; i++) {
			err = xct_port_range_prefixes(d->ports[i].lo, d->ports[i].hi, set_port_elem,
						      &w);
			if (err)
				return err;
		}
	}
	return 0;
}

/* ---- Installing ---- */

/*
 * The interface classes of a generation: those iif and oif name by index,
 * the names and wildcards iifname and oifname write (for interfaces
 * attached later), and every interface there is now by its name.
 */
static int write_ifaces(struct xct_policy_maps *m, const struct xct_compiled *c, __u32 gen)
{
	struct if_nameindex *ifs, *it;
	__u32 i;
	int err = 0;

	for (i = 0; i < c->n_ifaces; i++) {
		struct xct_cls_iface_key key = {.gen = gen, .ifindex = c->ifaces[i].ifindex};
		struct xct_iface_name_key nkey = {.gen = gen, .ifindex = c->ifaces[i].ifindex};
		struct xct_class_ref ref = class_ref(c, gen, c->ifaces[i].cls);

		if (bpf_map_update_elem(m->cls_iface, &key, &ref, BPF_ANY) ||
		    bpf_map_update_elem(m->iface_names, &nkey, &ref, BPF_ANY))
			return -errno;
	}
	for (i = 0; i < c->n_iface_names; i++) {
		struct xct_iface_name_key nkey = {.gen = gen};
		struct xct_class_ref ref = class_ref(c, gen, c->iface_names[i].cls);

		memcpy(nkey.name, c->iface_names[i].name, sizeof(nkey.name));
		if (bpf_map_update_elem(m->iface_names, &nkey, &ref, BPF_ANY))
			return -errno;
	}
	if (!c->n_iface_names)
		return 0;
	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (it = ifs; it->if_index && !err; it++) {
		struct xct_cls_iface_key key = {.gen = gen, .ifindex = it->if_index};
		const struct xct_ciface_name *e;
		struct xct_class_ref ref;

		for (i = 0; i < c->n_ifaces && c->ifaces[i].ifindex != it->if_index; i++)
			;
		e = i < c->n_ifaces ? NULL : xct_compiled_iface_name(c, it->if_name);
		if (!e)
			continue;
		ref = class_ref(c, gen, e->cls);
		if (bpf_map_update_elem(m->cls_iface, &key, &ref, BPF_ANY))
			err = -errno;
	}
	if_freenameindex(ifs);
	return err;
}

static int write_gen(struct xct_policy_maps *m, const struct xct_ruleset *rs,
		     const struct xct_compiled *c, __u32 gen)
{
	int ncpus = libbpf_num_possible_cpus();
	struct xct_rule_stats *zero_stats;
	struct xct_rule_rec *recs;
	__u64 *zero_limits;
	__u32 i, k;
	int err;

	/* What the generation held before. */
	err = delete_keys(m->chunks, sizeof(struct xct_chunk_key), key_gen_u32_top, &gen);
	if (!err)
		err = delete_keys(m->cls_iface, sizeof(struct xct_cls_iface_key), key_gen_u32_first,
				  &gen);
	if (!err)
		err = delete_keys(m->iface_names, sizeof(struct xct_iface_name_key),
				  key_gen_u32_first, &gen);
	if (!err)
		err = delete_keys(m->cls_v4, sizeof(struct xct_cls_v4_key), key_gen_cls, &gen);
	if (!err)
		err = delete_keys(m->cls_v6, sizeof(struct xct_cls_v6_key), key_gen_cls, &gen);
	if (!err)
		err = delete_keys(m->rule_text, sizeof(__u32), key_gen_text, &gen);
	if (!err)
		err = delete_keys(m->limits_src, sizeof(struct xct_limit_src_key),
				  key_gen_limit_src, &gen);
	if (err)
		return err;

	/* Classes: their non-zero chunks. */
	for (i = 0; i < c->n_classes; i++) {
		const struct xct_cclass *cl = &c->classes[i];

		for (k = 0; k < cl->n_chunks; k++) {
			struct xct_chunk_key key = {.class_id = CLASS_ID(gen, i),
						    .chunk = cl->chunk_no[k]};

			if (bpf_map_update_elem(m->chunks, &key, &cl->chunks[k], BPF_ANY))
				return -errno;
		}
	}

	/* Field tables; the datapath skips a field no rule uses. */
	err = write_class_array(m->cls_meta, gen * XCT_META_ENTRIES, c, gen, c->meta,
				XCT_META_ENTRIES);
	for (k = 0; k < 2 && !err; k++)
		if (c->fields_used & (1 << (XCT_F_SPORT + k)))
			err = write_class_array(m->cls_port, (gen * 2 + k) * 65536, c, gen,
						c->port[k], 65536);
	if (!err && (c->fields_used & (1 << XCT_F_ICMP)))
		err = write_class_array(m->cls_icmp, gen * 65536, c, gen, c->icmp, 65536);
	if (!err && (c->fields_used & (1 << XCT_F_FLAGS)))
		err = write_class_array(m->cls_flags, gen * 256, c, gen, c->flags, 256);
	if (err)
		return err;
	err = write_ifaces(m, c, gen);
	if (err)
		return err;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < c->n_addr[k]; i++) {
			const struct xct_cprefix *p = &c->addr[k][i];
			struct xct_class_ref ref = class_ref(c, gen, p->cls);
			int e;

			if (p->prefix.family == XCT_AF_INET) {
				struct xct_cls_v4_key key = {.prefixlen = XCT_CLS_KEY_BITS +
									  p->prefix.plen,
							     .gen = (__u8)gen,
							     .dir = (__u8)k};

				memcpy(key.addr, p->prefix.addr, 4);
				e = bpf_map_update_elem(m->cls_v4, &key, &ref, BPF_ANY);
			} else {
				struct xct_cls_v6_key key = {.prefixlen = XCT_CLS_KEY_BITS +
									  p->prefix.plen,
							     .gen = (__u8)gen,
							     .dir = (__u8)k};

				memcpy(key.addr, p->prefix.addr, 16);
				e = bpf_map_update_elem(m->cls_v6, &key, &ref, BPF_ANY);
			}
			if (e)
				return -errno;
		}
	}

	/* Rules: records, zeroed counters and full buckets, texts. */
	recs = calloc(XCT_RULES_MAX, sizeof(*recs));
	zero_stats = calloc((size_t)ncpus * XCT_RULES_MAX, sizeof(*zero_stats));
	zero_limits = calloc(XCT_RULES_MAX, sizeof(*zero_limits));
	if (!recs || !zero_stats || !zero_limits) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(recs, c->recs, c->n_rules * sizeof(*recs));
	err = write_texts(m, gen, rs, recs, c->n_rules);
	if (err)
		goto out;
	recs[POLICY_SLOT].action = c->policy;
	recs[POLICY_SLOT].line = rs->policy_loc.line;
	err = array_write(m->rules, gen * XCT_RULES_MAX, recs, sizeof(*recs), XCT_RULES_MAX);
	if (!err)
		err = array_write(m->limits, gen * XCT_RULES_MAX, zero_limits, sizeof(__u64),
				  XCT_RULES_MAX);
	if (!err)
		err = array_write(m->log_limits, gen * XCT_RULES_MAX, zero_limits, sizeof(__u64),
				  XCT_RULES_MAX);
	if (!err) {
		/* Per-CPU values: one batch element holds every CPU's copy. */
		for (i = 0; i < XCT_RULES_MAX && !err; i++) {
			__u32 key = gen * XCT_RULES_MAX + i;

			if (i >= c->n_rules && i != POLICY_SLOT)
				continue;
			if (bpf_map_update_elem(m->rule_stats, &key, zero_stats, BPF_ANY))
				err = -errno;
		}
	}
	if (!err) {
		struct xct_rule_text t = {.line = rs->policy_loc.line};

		snprintf(t.text, sizeof(t.text), "policy %s",
			 rs->policy == XCT_POLICY_DROP ? "drop" : "accept");
		k = TEXT_KEY(gen, POLICY_SLOT);
		if (bpf_map_update_elem(m->rule_text, &k, &t, BPF_ANY))
			err = -errno;
	}
	for (i = 0; i < XCT_SETS_MAX && !err; i++) {
		struct xct_set_info info = {};

		if (i < rs->n_sets) {
			const struct xct_set_def *d = &rs->sets[i];
			size_t t;

			if (!d->anon)
				snprintf(info.name, sizeof(info.name), "%s", d->name);
			info.id = i + 1;
			info.kind = (__u8)d->kind;
			for (t = 0; t < d->n_ctypes && t < 2 * sizeof(info.ctype); t++)
				info.ctype[t / 2] |= (__u8)(d->ctypes[t] << (4 * (t % 2)));
		}
		k = gen * XCT_SETS_MAX + i;
		if (bpf_map_update_elem(m->set_info, &k, &info, BPF_ANY))
			err = -errno;
	}
out:
	free(recs);
	free(zero_stats);
	free(zero_limits);
	return err;
}

/*
 * Writers of the policy take turns: a flock on the pin directory, which is
 * the xct instance's own, held from reading the active generation to the
 * switch.  Private maps (a replay) have no directory and no other writer.
 */
static void writer_lock(struct xct_policy_maps *m)
{
	if (m->lock_fd >= 0)
		while (flock(m->lock_fd, LOCK_EX) && errno == EINTR)
			;
}

static void writer_unlock(struct xct_policy_maps *m)
{
	if (m->lock_fd >= 0)
		flock(m->lock_fd, LOCK_UN);
}

/* The class generation gen gives an interface called name, as
 * xct_compiled_iface_name() finds it: false for the default class. */
static bool iface_name_class(struct xct_policy_maps *m, __u32 gen, const char *name,
			     struct xct_class_ref *ref)
{
	struct xct_iface_name_key key = {.gen = gen};
	size_t len = strnlen(name, XCT_IFNAME_LEN - 1), k;

	memcpy(key.name, name, len);
	if (!bpf_map_lookup_elem(m->iface_names, &key, ref))
		return true;
	for (k = len + 1; k-- > 0;) {
		if (k + 1 >= XCT_IFNAME_LEN)
			continue;
		memset(key.name + k, 0, sizeof(key.name) - k);
		key.name[k] = '*';
		if (!bpf_map_lookup_elem(m->iface_names, &key, ref))
			return true;
	}
	return false;
}

int xct_policy_iface_added(struct xct_policy_maps *m, __u32 ifindex, const char *name)
{
	__u32 gen;
	int err = 0;

	/* Under the writers' turn: a load that enumerated the interfaces
	 * before this one existed cannot switch to a generation without it. */
	writer_lock(m);
	for (gen = 0; gen < XCT_POLICY_GENS && !err; gen++) {
		struct xct_iface_name_key by_index = {.gen = gen, .ifindex = ifindex};
		struct xct_cls_iface_key key = {.gen = gen, .ifindex = ifindex};
		struct xct_class_ref ref;

		if (!bpf_map_lookup_elem(m->iface_names, &by_index, &ref))
			continue;
		if (iface_name_class(m, gen, name, &ref)) {
			if (bpf_map_update_elem(m->cls_iface, &key, &ref, BPF_ANY))
				err = -errno;
		} else if (bpf_map_delete_elem(m->cls_iface, &key) && errno != ENOENT) {
			/* An entry of an interface gone whose index came back. */
			err = -errno;
		}
	}
	writer_unlock(m);
	return err;
}

/*
 * The NAT rules of the spare generation, and whether the datapath must
 * look at packets for NAT under it (g->nat, g->dnat): while rules exist,
 * and while connections translated under earlier rules still do (their
 * packets must go on being rewritten after the rules that made them are
 * gone).  The flags are the generation's, so the switch that makes its
 * rules run makes them hold, and a load that dies before the switch
 * leaves the running rules' NAT as it was.
 */
static int write_nat(struct xct_policy_maps *m, const struct xct_compiled *c, __u32 gen,
		     struct xct_policy_gen *g)
{
	const struct xct_policy_gen *old = &m->ctl_mem->gen[gen ^ 1];
	struct xct_nat_ctl ctl;
	struct xct_ct_key k;
	__u32 zero = 0, i, idx;

	if (bpf_map_lookup_elem(m->nat_ctl, &zero, &ctl))
		return -errno;
	for (i = 0; i < c->n_nat; i++) {
		idx = gen * XCT_NAT_RULES_MAX + i;
		if (bpf_map_update_elem(m->nat_rules, &idx, &c->nat[i], BPF_ANY))
			return -errno;
	}
	/* Bindings are counted after the grace period of this load's first
	 * write (see the top of the file), so every packet of the rules
	 * before the running ones is done; but the running rules' packets
	 * go on binding until the switch: while they have NAT rules, a
	 * binding made after the count must still be looked at.  So NAT
	 * goes off one load after its last rule, once none is left. */
	g->nat = c->n_nat || ctl.n_rules[gen ^ 1] || bpf_map_get_next_key(m->nat, NULL, &k) == 0;
	/* Arriving packets are looked at while a dnat rule or a binding
	 * that may be one exists. */
	g->dnat = c->has_dnat || (old->dnat && g->nat);
	ctl.n_rules[gen] = c->n_nat;
	if (bpf_map_update_elem(m->nat_ctl, &zero, &ctl, BPF_ANY))
		return -errno;
	return 0;
}

/* Does the rule read or write the packet's mark on the way in? */
static bool rule_meta_mark_in(const struct xct_rule *r)
{
	size_t i;
	bool concat = false;

	for (i = 0; r->concat.present && i < r->concat.n; i++)
		concat |= r->concat.fields[i] == XCT_CF_META_MARK;
	return r->hook == XCT_HOOK_INGRESS &&
	       (r->meta_mark.present || r->meta_mark_set.present || concat);
}

/*
 * The owner rules of the spare generation (include/xct/owner.h), their
 * texts for xct rules show, and their count, which the owner programs
 * read for the generation the switch makes active.  The texts go after
 * write_gen(), which empties the generation's texts first.
 */
static int write_owner(struct xct_policy_maps *m, const struct xct_ruleset *rs,
		       const struct xct_compiled *c, __u32 gen)
{
	struct xct_owner_ctl ctl;
	__u32 zero = 0, i, k;

	for (i = 0; i < c->n_owner; i++) {
		k = gen * XCT_OWNER_RULES_MAX + i;
		if (bpf_map_update_elem(m->owner_rules, &k, &c->owner[i], BPF_ANY))
			return -errno;
	}
	for (i = 0; i < rs->n_owner_rules; i++) {
		struct xct_rule_text t = {.line = rs->owner_rules[i].loc.line};

		snprintf(t.text, sizeof(t.text), "%s", rs->owner_rules[i].text);
		k = TEXT_KEY(gen, XCT_OWNER_TEXT | i);
		if (bpf_map_update_elem(m->rule_text, &k, &t, BPF_ANY))
			return -errno;
	}
	if (bpf_map_lookup_elem(m->owner_ctl, &zero, &ctl))
		return -errno;
	ctl.n_rules[gen] = c->n_owner;
	if (bpf_map_update_elem(m->owner_ctl, &zero, &ctl, BPF_ANY))
		return -errno;
	return 0;
}

int xct_policy_write_spare(struct xct_policy_maps *m, const struct xct_ruleset *rs,
			   const struct xct_compiled *c)
{
	struct xct_policy_ctl *ctl = m->ctl_mem;
	int outer[4] = {m->sets_v4, m->sets_v6, m->sets_port, m->sets_concat};
	int tries[4] = {-1, -1, -1, -1};
	struct xct_policy_gen *g;
	__u32 gen, i;
	int err;

	gen = (__atomic_load_n(&ctl->active_gen, __ATOMIC_ACQUIRE) & 1) ^ 1;
	g = &ctl->gen[gen];

	/* Sets first: building them is what most often fails (memory), and
	 * swapping them in is the grace period the rest relies on. */
	err = build_set_tries(rs, tries);
	for (i = 0; i < 4 && !err; i++)
		if (bpf_map_update_elem(outer[i], &gen, &tries[i], BPF_ANY))
			err = -errno;
	for (i = 0; i < 4; i++)
		if (tries[i] >= 0)
			close(tries[i]);
	if (!err)
		err = write_gen(m, rs, c, gen);
	if (!err)
		err = write_nat(m, c, gen, g);
	if (!err)
		err = write_owner(m, rs, c, gen);
	if (err)
		return err;

	g->n_rules = c->n_rules;
	g->policy = c->policy;
	g->has_raw = c->has_raw;
	g->fields_used = c->fields_used;
	g->meta_mark_in = 0;
	for (i = 0; i < rs->n_rules; i++)
		if (rule_meta_mark_in(&rs->rules[i]))
			g->meta_mark_in = 1;
	g->iface_default = CLASS_ID(gen, c->iface_default);
	g->iface_default_summary = c->classes[c->iface_default].summary;
	ctl->load_serial++;
	return (int)gen;
}

void xct_policy_switch(struct xct_policy_maps *m, __u32 gen)
{
	/* One store, after everything it points to. */
	__atomic_store_n(&m->ctl_mem->active_gen, gen, __ATOMIC_RELEASE);
	__atomic_store_n(&m->ctl_mem->loaded, 1, __ATOMIC_RELEASE);
}

int xct_policy_install(struct xct_policy_maps *m, const struct xct_ruleset *rs,
		       const struct xct_compiled *c)
{
	int gen;

	/* Two loads at once would both fill the same spare generation. */
	writer_lock(m);
	gen = xct_policy_write_spare(m, rs, c);
	if (gen < 0) {
		xct_err("cannot install the rules: %s; the running rules are unchanged",
			strerror(-gen));
		writer_unlock(m);
		return gen;
	}
	xct_policy_switch(m, (__u32)gen);
	writer_unlock(m);
	return 0;
}

int xct_policy_check_hooks(const struct xct_ruleset *rs, const char *file,
			   struct xct_rules_error *err)
{
	const struct xct_rule *r = NULL;
	struct xct_iface iface;
	char path[4096], name[IF_NAMESIZE];
	__u32 key, next, *prev = NULL;
	size_t i;
	int fd, ret = 0;

	for (i = 0; i < rs->n_rules && !r; i++)
		if (rule_meta_mark_in(&rs->rules[i]))
			r = &rs->rules[i];
	if (!r)
		return 0;
	fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_ifaces"));
	if (fd < 0)
		return 0; /* nothing attached: the rules wait for attach */
	while (!ret && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &iface) ||
		    (iface.mode != XCT_MODE_NATIVE && iface.mode != XCT_MODE_GENERIC))
			continue;
		if (!if_indextoname(key, name))
			snprintf(name, sizeof(name), "ifindex %u", key);
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", file);
		err->loc = r->loc;
		snprintf(err->msg, sizeof(err->msg),
			 "'meta mark' on arriving packets needs xct at TC ingress, where a packet "
			 "has an skb: %s runs xct at XDP (attach it with --mode tc)",
			 name);
		snprintf(err->line_text, sizeof(err->line_text), "%*s%s",
			 (int)(r->loc.col ? r->loc.col - 1 : 0), "", r->text ? r->text : "");
		ret = -EOPNOTSUPP;
	}
	close(fd);
	return ret;
}

int xct_policy_load_text(const char *file, const char *text, xct_ifindex_fn ifindex, void *ctx,
			 struct xct_rules_error *err)
{
	struct xct_policy_maps maps;
	struct xct_compiled c;
	struct xct_ruleset rs;
	int ret;

	memset(err, 0, sizeof(*err));
	ret = xct_rules_parse(file, text, strlen(text), &rs, err);
	if (ret)
		return ret;
	ret = xct_policy_check_hooks(&rs, file, err);
	if (!ret)
		ret = xct_rules_compile(&rs, file, ifindex, ctx, &c, err);
	if (!ret) {
		ret = xct_policy_open(&maps);
		if (!ret) {
			ret = xct_policy_install(&maps, &rs, &c);
			xct_policy_close(&maps);
		}
		xct_compiled_free(&c);
	}
	xct_ruleset_free(&rs);
	return ret;
}

int xct_policy_clear(struct xct_policy_maps *m)
{
	struct xct_nat_ctl ctl;
	__u32 zero = 0;

	__atomic_store_n(&m->ctl_mem->loaded, 0, __ATOMIC_RELEASE);
	/* No new translations; the translated connections carry on.  The
	 * generations' nat and dnat flags stay as they are: a packet may
	 * still be binding under the rules just removed, and the next load
	 * turns them off if nothing is left to translate. */
	if (bpf_map_lookup_elem(m->nat_ctl, &zero, &ctl) == 0) {
		ctl.n_rules[0] = ctl.n_rules[1] = 0;
		if (bpf_map_update_elem(m->nat_ctl, &zero, &ctl, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* ---- Running sets ---- */

int xct_policy_find_set(struct xct_policy_maps *m, const char *name, struct xct_set_info *out)
{
	__u32 gen = __atomic_load_n(&m->ctl_mem->active_gen, __ATOMIC_ACQUIRE) & 1, i;

	if (!m->ctl_mem->loaded)
		return -ENOENT;
	for (i = 0; i < XCT_SETS_MAX; i++) {
		__u32 k = gen * XCT_SETS_MAX + i;

		if (bpf_map_lookup_elem(m->set_info, &k, out))
			return -errno;
		if (!out->id)
			break;
		if (!strncmp(out->name, name, sizeof(out->name)))
			return 0;
	}
	return -ENOENT;
}

/* The active generation's trie of one kind (0 v4, 1 v6, 2 port, 3 the
 * concatenations' hash table). */
static int active_trie(struct xct_policy_maps *m, int kind)
{
	int outer[4] = {m->sets_v4, m->sets_v6, m->sets_port, m->sets_concat};
	__u32 gen = __atomic_load_n(&m->ctl_mem->active_gen, __ATOMIC_ACQUIRE) & 1, id;
	int fd;

	if (bpf_map_lookup_elem(outer[kind], &gen, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int xct_policy_set_update(struct xct_policy_maps *m, const struct xct_set_info *set,
			  const struct xct_prefix *addrs, size_t n_addrs,
			  const struct xct_port_range *ports, size_t n_ports, bool add,
			  size_t *failed)
{
	int fds[3] = {-1, -1, -1};
	struct set_write w = {.op = add};
	struct xct_set_info cur;
	size_t i, j;
	int err = 0, k;

	/* Under the writers' lock, the set as the running rules have it now:
	 * a load since the caller looked may have renumbered the sets. */
	writer_lock(m);
	err = xct_policy_find_set(m, set->name, &cur);
	if (!err && cur.kind != set->kind)
		err = -ESTALE;
	w.set_id = cur.id;
	set = &cur;
	for (k = 0; k < 3 && !err; k++) {
		fds[k] = active_trie(m, k);
		if (fds[k] < 0)
			err = fds[k];
	}
	if (failed)
		*failed = XCT_NO_ELEMENT;
	for (i = 0; i < n_addrs && !err; i++) {
		err = set_addr_elem(fds[0], fds[1], set->id, &addrs[i], add);
		if (!err)
			err = undo_push(&w, addrs[i].family == XCT_AF_INET ? 0 : 1, &addrs[i]);
		else if (failed)
			*failed = i;
	}
	w.fd = fds[2];
	for (j = 0; j < n_ports && !err; j++) {
		err = xct_port_range_prefixes(ports[j].lo, ports[j].hi, set_port_elem, &w);
		if (err && failed)
			*failed = n_addrs + j;
	}
	/* All or nothing: what this command deleted goes back. */
	for (j = 0; err && j < w.n_undo; j++) {
		const struct set_undo *u = &w.undo[j];

		if (u->trie == 2) {
			struct set_write back = {.fd = fds[2], .set_id = set->id, .op = 1};
			__u16 port;

			memcpy(&port, u->p.addr, sizeof(port));
			set_port_elem(port, u->p.plen, &back);
		} else {
			set_addr_elem(fds[0], fds[1], set->id, &u->p, 1);
		}
	}
	free(w.undo);
	for (k = 0; k < 3; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	writer_unlock(m);
	return err;
}

static int walk_trie(int fd, size_t key_size, __u32 set_id, int kind, xct_set_elem_fn fn, void *ctx)
{
	__u8 cur[sizeof(struct xct_set_v6_key)], next[sizeof(struct xct_set_v6_key)];
	bool first = true;
	int err = 0;

	while (!err && bpf_map_get_next_key(fd, first ? NULL : cur, next) == 0) {
		struct xct_prefix p = {};
		__u32 plen, id;

		memcpy(&plen, next, 4);
		memcpy(&id, next + 4, 4);
		if (ntohl(id) == set_id) {
			p.plen = (__u8)(plen - XCT_SET_KEY_BITS);
			p.family = kind == 0 ? XCT_AF_INET : kind == 1 ? XCT_AF_INET6 : 0;
			if (kind == 2) {
				__u16 port;

				memcpy(&port, next + 8, 2);
				port = ntohs(port);
				memcpy(p.addr, &port, 2);
			} else {
				memcpy(p.addr, next + 8, key_size - 8);
			}
			err = fn(&p, ctx);
		}
		memcpy(cur, next, key_size);
		first = false;
	}
	return err;
}

int xct_policy_set_walk(struct xct_policy_maps *m, const struct xct_set_info *set,
			xct_set_elem_fn fn, void *ctx)
{
	static const size_t key_size[3] = {sizeof(struct xct_set_v4_key),
					   sizeof(struct xct_set_v6_key),
					   sizeof(struct xct_set_port_key)};
	int k, err = 0;

	for (k = 0; k < 3 && !err; k++) {
		int fd;

		if ((set->kind == XCT_SET_PORT) != (k == 2))
			continue;
		fd = active_trie(m, k);
		if (fd < 0)
			return fd;
		err = walk_trie(fd, key_size[k], set->id, k, fn, ctx);
		close(fd);
	}
	return err;
}

/* ---- Running concatenations ---- */

size_t xct_set_info_ctypes(const struct xct_set_info *info, __u8 *types)
{
	size_t n = 0;

	while (n < XCT_CONCAT_MAX && n < 2 * sizeof(info->ctype)) {
		__u8 t = (info->ctype[n / 2] >> (4 * (n % 2))) & 0xf;

		if (!t)
			break;
		types[n++] = t;
	}
	return n;
}

int xct_policy_set_update_concat(struct xct_policy_maps *m, const struct xct_set_info *set,
				 const struct xct_concat_elem *elems, size_t n, bool add,
				 size_t *failed)
{
	struct xct_set_info cur;
	__u8 types[XCT_CONCAT_MAX];
	size_t nt, i, j;
	int fd = -1, err;

	writer_lock(m);
	err = xct_policy_find_set(m, set->name, &cur);
	if (!err && (cur.kind != set->kind || memcmp(cur.ctype, set->ctype, sizeof(cur.ctype))))
		err = -ESTALE;
	if (failed)
		*failed = XCT_NO_ELEMENT;
	if (!err) {
		fd = active_trie(m, 3);
		if (fd < 0)
			err = fd;
	}
	nt = xct_set_info_ctypes(&cur, types);
	for (i = 0; i < n && !err; i++) {
		err = concat_elem_write(fd, cur.id, types, nt, &elems[i], add);
		if (err && failed)
			*failed = i;
	}
	/* All or nothing, as for the other sets: what this command deleted
	 * before the element that failed (elems[i - 1]) goes back. */
	for (j = 0; err && !add && j + 1 < i; j++)
		concat_elem_write(fd, cur.id, types, nt, &elems[j], true);
	if (fd >= 0)
		close(fd);
	writer_unlock(m);
	return err;
}

int xct_policy_set_walk_concat(struct xct_policy_maps *m, const struct xct_set_info *set,
			       int (*fn)(const struct xct_concat_elem *e, void *ctx), void *ctx)
{
	struct xct_set_concat_key cur, next;
	__u8 types[XCT_CONCAT_MAX];
	size_t nt = xct_set_info_ctypes(set, types);
	bool first = true;
	int fd = active_trie(m, 3), err = 0;

	if (fd < 0)
		return fd;
	while (!err && bpf_map_get_next_key(fd, first ? NULL : &cur, &next) == 0) {
		if (next.set_id == set->id) {
			struct xct_concat_elem e;

			xct_concat_elem_from_key(next.data, types, nt, &e);
			err = fn(&e, ctx);
		}
		cur = next;
		first = false;
	}
	close(fd);
	return err;
}
