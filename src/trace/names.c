// SPDX-License-Identifier: GPL-2.0-only
/*
 * BTF enum names and kallsyms symbols for xct trace (see names.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <bpf/btf.h>

#include "trace/names.h"

static int cmp_enum(const void *a, const void *b)
{
	const struct xct_enum_entry *x = a, *y = b;

	return x->value < y->value ? -1 : x->value > y->value;
}

int xct_enum_load(struct xct_enum_names *e, const struct btf *btf, const char *type,
		  const char *prefix)
{
	size_t plen = strlen(prefix);
	const struct btf_type *t;
	__u16 i, vlen;
	__s32 id;

	e->v = NULL;
	e->n = 0;
	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	if (id < 0)
		id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM64);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	vlen = btf_vlen(t);
	e->v = calloc(vlen ? vlen : 1, sizeof(*e->v));
	if (!e->v)
		return -ENOMEM;
	for (i = 0; i < vlen; i++) {
		const char *name;
		__s64 value;

		if (btf_is_enum(t)) {
			const struct btf_enum *m = btf_enum(t) + i;

			name = btf__name_by_offset(btf, m->name_off);
			value = btf_kflag(t) ? (__s64)(__s32)m->val : (__s64)(__u32)m->val;
		} else {
			const struct btf_enum64 *m = btf_enum64(t) + i;

			name = btf__name_by_offset(btf, m->name_off);
			value = (__s64)btf_enum64_value(m);
		}
		if (!name)
			continue;
		if (!strncmp(name, prefix, plen))
			name += plen;
		e->v[e->n].value = value;
		e->v[e->n].name = strdup(name);
		if (!e->v[e->n].name) {
			xct_enum_free(e);
			return -ENOMEM;
		}
		e->n++;
	}
	qsort(e->v, e->n, sizeof(*e->v), cmp_enum);
	return 0;
}

void xct_enum_free(struct xct_enum_names *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i].name);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

const char *xct_enum_name(const struct xct_enum_names *e, __s64 value)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->v[mid].value == value)
			return e->v[mid].name;
		if (e->v[mid].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int xct_enum_value(const struct xct_enum_names *e, const char *name, __s64 *value)
{
	static const char *const prefixes[] = {"SKB_DROP_REASON_", "SK_RST_REASON_"};
	size_t i;

	/* "NO_SOCKET", "no_socket" or "SKB_DROP_REASON_NO_SOCKET". */
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t l = strlen(prefixes[i]);

		if (!strncasecmp(name, prefixes[i], l) && name[l]) {
			name += l;
			break;
		}
	}
	for (i = 0; i < e->n; i++) {
		if (!strcasecmp(e->v[i].name, name)) {
			*value = e->v[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

static int cmp_ksym(const void *a, const void *b)
{
	const struct xct_ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int xct_ksyms_load(struct xct_ksyms *k, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], name[256], type;
	size_t cap = 0, nonzero = 0;
	unsigned long long addr;

	k->v = NULL;
	k->n = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		/* Code only: drop sites and callers are in text. */
		if (type != 't' && type != 'T')
			continue;
		if (k->n == cap) {
			struct xct_ksym *v;

			cap = cap ? cap * 2 : 65536;
			v = realloc(k->v, cap * sizeof(*v));
			if (!v) {
				fclose(f);
				xct_ksyms_free(k);
				return -ENOMEM;
			}
			k->v = v;
		}
		k->v[k->n].addr = addr;
		k->v[k->n].name = strdup(name);
		if (!k->v[k->n].name) {
			fclose(f);
			xct_ksyms_free(k);
			return -ENOMEM;
		}
		nonzero += addr != 0;
		k->n++;
	}
	fclose(f);
	if (k->n && !nonzero) {
		xct_ksyms_free(k);
		return -EPERM;
	}
	qsort(k->v, k->n, sizeof(*k->v), cmp_ksym);
	return 0;
}

void xct_ksyms_free(struct xct_ksyms *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->v[i].name);
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

const struct xct_ksym *xct_ksym_find(const struct xct_ksyms *k, __u64 addr, __u64 *off)
{
	size_t lo = 0, hi = k->n;

	/* The last symbol whose address is <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	*off = addr - k->v[lo - 1].addr;
	return &k->v[lo - 1];
}

const char *xct_ksym_format(const struct xct_ksyms *k, __u64 addr, char *buf, size_t len)
{
	const struct xct_ksym *s;
	__u64 off = 0;

	s = addr ? xct_ksym_find(k, addr, &off) : NULL;
	if (s)
		snprintf(buf, len, "%s+0x%llx", s->name, (unsigned long long)off);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)addr);
	return buf;
}
