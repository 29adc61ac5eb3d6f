// SPDX-License-Identifier: GPL-2.0-only
/*
 * connlabel.conf and label lists.  The file's format is
 * libnetfilter_conntrack's: one "BIT NAME" per line, BIT from 0 to 127,
 * '#' starting a comment; xct reads the same file as conntrack -l, so that
 * both name a connection's labels alike.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_labels.h"
#include "xct.h"

void xct_labelmap_free(struct xct_labelmap *m)
{
	int i;

	for (i = 0; i < XCT_LABEL_BITS; i++) {
		free(m->names[i]);
		m->names[i] = NULL;
	}
}

int xct_labelmap_load(const char *path, struct xct_labelmap *m, bool quiet_if_missing)
{
	char line[512], *p, *name, *end;
	unsigned int lineno = 0;
	FILE *f;
	long bit;

	memset(m, 0, sizeof(*m));
	f = fopen(path, "r");
	if (!f) {
		int err = -errno;

		if (err != -ENOENT || !quiet_if_missing)
			xct_err("cannot read the label names %s: %s", path, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (!*p)
			continue;
		bit = strtol(p, &end, 10);
		for (name = end; isspace((unsigned char)*name); name++)
			;
		for (end = name; *end && !isspace((unsigned char)*end); end++)
			;
		*end = '\0';
		if (!isdigit((unsigned char)*p) || bit < 0 || bit >= XCT_LABEL_BITS || !*name) {
			xct_err("%s:%u: not 'BIT NAME' with BIT from 0 to %d", path, lineno,
				XCT_LABEL_BITS - 1);
			fclose(f);
			xct_labelmap_free(m);
			return -EINVAL;
		}
		/* The first name of a bit wins, as in libnetfilter_conntrack. */
		if (!m->names[bit] && !(m->names[bit] = strdup(name))) {
			fclose(f);
			xct_labelmap_free(m);
			return -ENOMEM;
		}
	}
	fclose(f);
	return 0;
}

static int labelmap_bit(const struct xct_labelmap *m, const char *name)
{
	int i;

	for (i = 0; i < XCT_LABEL_BITS; i++)
		if (m->names[i] && !strcmp(m->names[i], name))
			return i;
	return -1;
}

int xct_labels_parse(const struct xct_labelmap *m, const char *list, __u64 bits[2], char *bad,
		     size_t badlen)
{
	char buf[1024], *tok, *save = NULL;
	int bit;

	bits[0] = bits[1] = 0;
	if (strlen(list) >= sizeof(buf) || !*list) {
		snprintf(bad, badlen, "%s", list);
		return -EINVAL;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bit = labelmap_bit(m, tok);
		if (bit < 0) {
			snprintf(bad, badlen, "%s", tok);
			return -EINVAL;
		}
		bits[bit / 64] |= 1ULL << (bit % 64);
	}
	return 0;
}

void xct_labels_format(const struct xct_labelmap *m, const __u64 bits[2], char *buf, size_t len)
{
	size_t pos = 0;
	int i, n;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < XCT_LABEL_BITS && pos < len; i++) {
		if (!(bits[i / 64] & (1ULL << (i % 64))))
			continue;
		if (m && m->names[i])
			n = snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "", m->names[i]);
		else
			n = snprintf(buf + pos, len - pos, "%s%d", pos ? "," : "", i);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
}
