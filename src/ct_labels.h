/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection label names: connlabel.conf, the file conntrack(8) and
 * iptables' connlabel match read ("BIT NAME" lines), and label lists
 * ("foo,bar") to bits and back.
 */
#ifndef XCT_CT_LABELS_H
#define XCT_CT_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include "xct/abi.h"

#define XCT_CONNLABEL_CONF "/etc/xtables/connlabel.conf"

struct xct_labelmap {
	char *names[XCT_LABEL_BITS]; /* NULL: the bit has no name */
};

/* Reads the names of path into m; -errno (reported, with the file's
 * line for a bad one) when it cannot.  A missing file is -ENOENT, not
 * reported with quiet_if_missing (where names are only shown: without
 * them, labels show as their bit numbers). */
int xct_labelmap_load(const char *path, struct xct_labelmap *m, bool quiet_if_missing);
void xct_labelmap_free(struct xct_labelmap *m);

/* "foo,bar" to bits; -EINVAL, with the unknown name in bad, for a name
 * the map does not have. */
int xct_labels_parse(const struct xct_labelmap *m, const char *list, __u64 bits[2], char *bad,
		     size_t badlen);

/* The names of the set bits, comma-separated (a bit without a name as its
 * number), into buf. */
void xct_labels_format(const struct xct_labelmap *m, const __u64 bits[2], char *buf, size_t len);

#endif /* XCT_CT_LABELS_H */
