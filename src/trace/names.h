/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Names for what the kernel's tracepoints give as numbers: enum values
 * resolved from the running kernel's BTF (the drop and reset reasons are
 * not UAPI and are renumbered between releases, so no table is compiled
 * in), and code addresses symbolised through /proc/kallsyms.
 */
#ifndef XCT_TRACE_NAMES_H
#define XCT_TRACE_NAMES_H

#include <stddef.h>
#include <linux/types.h>

struct btf;

/* One enum's values and names, prefix stripped, sorted by value. */
struct xct_enum_names {
	struct xct_enum_entry {
		__s64 value;
		char *name;
	} * v;
	size_t n;
};

/* Loads enum `type` ("skb_drop_reason") from btf, dropping `prefix`
 * ("SKB_DROP_REASON_") from the names.  0 or -errno (-ENOENT: no such
 * enum). */
int xct_enum_load(struct xct_enum_names *e, const struct btf *btf, const char *type,
		  const char *prefix);
void xct_enum_free(struct xct_enum_names *e);

/* The name of value, or NULL. */
const char *xct_enum_name(const struct xct_enum_names *e, __s64 value);

/* The value of a name (case-insensitive, with or without the prefix the
 * load stripped); 0 or -ENOENT. */
int xct_enum_value(const struct xct_enum_names *e, const char *name, __s64 *value);

/* Kernel text symbols, sorted by address. */
struct xct_ksyms {
	struct xct_ksym {
		__u64 addr;
		char *name;
	} * v;
	size_t n;
};

/* Reads a kallsyms file (/proc/kallsyms); text symbols only.  0 or
 * -errno; -EPERM when every address reads as 0 (kptr_restrict). */
int xct_ksyms_load(struct xct_ksyms *k, const char *path);
void xct_ksyms_free(struct xct_ksyms *k);

/* "name+0xoff" for addr into buf; "0x..." when no symbol is below it. */
const char *xct_ksym_format(const struct xct_ksyms *k, __u64 addr, char *buf, size_t len);

/* The symbol at or below addr, and the offset into it; NULL if none. */
const struct xct_ksym *xct_ksym_find(const struct xct_ksyms *k, __u64 addr, __u64 *off);

#endif /* XCT_TRACE_NAMES_H */
