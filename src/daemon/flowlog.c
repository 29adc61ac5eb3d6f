// SPDX-License-Identifier: GPL-2.0-only
/*
 * The flow and NAT logs.  A flow log holds every connection's DESTROY,
 * which carries both directions' counters and the connection's start and
 * end: a flow record.  A NAT log holds the NEW and the DESTROY of every
 * translated connection, the translation's start and end, as operators
 * must keep them.  Lines are flushed one by one, so that a reader of the
 * file (or a crash) never sees half a record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ct_events.h"
#include "daemon/flowlog.h"
#include "xct.h"

/* Flow logs name every peer: the file is root's alone, and never reached
 * through a symbolic link someone else planted. */
static int open_file(struct xctd_log *l)
{
	struct stat st;
	int fd;

	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		xct_err("cannot open %s: %s", l->path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != 0) {
		xct_err("refusing %s: not a regular file of root's", l->path);
		close(fd);
		return -EPERM;
	}
	if ((st.st_mode & 077) && fchmod(fd, 0600)) {
		close(fd);
		return -errno;
	}
	l->f = fdopen(fd, "a");
	if (!l->f) {
		close(fd);
		return -ENOMEM;
	}
	setvbuf(l->f, NULL, _IOLBF, 0);
	l->size = (__u64)st.st_size;
	return 0;
}

int xctd_log_open(struct xctd_log *l, const char *path, __u64 max_size, unsigned int keep)
{
	*l = (struct xctd_log){.path = path, .max_size = max_size, .keep = keep};
	if (!strcmp(path, XCTD_LOG_JOURNAL)) {
		l->journal = true;
		openlog("xctd", LOG_PID, LOG_DAEMON);
		return 0;
	}
	return open_file(l);
}

/* FILE.KEEP-1 becomes FILE.KEEP ... FILE becomes FILE.1, and a new FILE. */
static void rotate(struct xctd_log *l)
{
	char from[PATH_MAX], to[PATH_MAX];
	unsigned int i;

	fclose(l->f);
	l->f = NULL;
	for (i = l->keep; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", l->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", l->path, i);
		rename(from, to);
	}
	snprintf(to, sizeof(to), "%s.1", l->path);
	if (rename(l->path, to))
		unlink(l->path);
	open_file(l);
}

void xctd_log_event(struct xctd_log *l, const struct xct_ct_event *ev, __s64 mono_to_real)
{
	long before, after;

	if (l->journal) {
		char *line = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&line, &len);

		if (!m || xct_ct_event_json(m, ev, mono_to_real) || fclose(m)) {
			l->failed++;
		} else {
			syslog(LOG_DAEMON | LOG_INFO, "%.*s",
			       (int)(len && line[len - 1] == '\n' ? len - 1 : len), line);
			l->written++;
		}
		free(line);
		return;
	}
	if (!l->f)
		return;
	before = ftell(l->f);
	if (xct_ct_event_json(l->f, ev, mono_to_real) || ferror(l->f)) {
		l->failed++;
		clearerr(l->f);
		return;
	}
	after = ftell(l->f);
	l->written++;
	l->size += before >= 0 && after > before ? (__u64)(after - before) : 0;
	if (l->size >= l->max_size)
		rotate(l);
}

void xctd_log_close(struct xctd_log *l)
{
	if (l->f)
		fclose(l->f);
	l->f = NULL;
}
