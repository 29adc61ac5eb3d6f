// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event rings, their owners' locks and the run directory that holds
 * the locks and xctd's socket (src/daemon/stream.h).
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "daemon/stream.h"
#include "xct.h"

static const struct xct_stream_info infos[XCT_STREAM_KINDS] = {
	[XCT_STREAM_CT_EVENTS] = {"xct_ct_events", "ct_events", XCT_SUB_CT_EVENTS,
				  XCT_S_CT_EVENTS_LOST},
	[XCT_STREAM_EVENTS] = {"xct_events", "events", -1, XCT_S_EVENTS_LOST},
	[XCT_STREAM_DROPS] = {"xct_drop_events", "drops", XCT_SUB_DROPS, XCT_S_DROP_EVENTS_LOST},
};

const struct xct_stream_info *xct_stream_info(enum xct_stream_kind kind)
{
	return (unsigned)kind < XCT_STREAM_KINDS ? &infos[kind] : NULL;
}

/* Whoever may change a directory on the way could swap the socket or a
 * lock for one of their own. */
static int dir_unsafe(int fd, const char *dir, const char *comp, bool last)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_uid != 0) {
		xct_err("refusing %s: %s is owned by uid %u, not by root", dir, comp,
			(unsigned)st.st_uid);
		return -EPERM;
	}
	if (last && (st.st_mode & 077)) {
		xct_err("refusing %s: it has mode %04o; group and others must have no access "
			"(0700)",
			dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (!last && (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		xct_err("refusing %s: %s is writable by others than root (mode %04o)", dir, comp,
			(unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int xct_safe_dir(const char *dir, bool create)
{
	char buf[PATH_MAX], comp[PATH_MAX] = "", *name, *next_name, *save = NULL;
	int fd, next, err;

	if (dir[0] != '/' || strlen(dir) >= sizeof(buf)) {
		xct_err("refusing %s: not an absolute path", dir);
		return -EINVAL;
	}
	strcpy(buf, dir);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = dir_unsafe(fd, dir, "/", false);
	/* One component at a time from "/", each checked once opened. */
	for (name = strtok_r(buf, "/", &save); name && !err; name = next_name) {
		next_name = strtok_r(NULL, "/", &save);
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			xct_err("refusing %s: not a plain absolute path", dir);
			err = -EINVAL;
			break;
		}
		strcat(strcat(comp, "/"), name); /* no longer than dir */
		if (!next_name && create && mkdirat(fd, name, 0700) && errno != EEXIST) {
			err = -errno;
			xct_err("cannot create %s: %s", dir, strerror(errno));
			break;
		}
		next = openat(fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			err = -errno;
			if (err == -ENOTDIR || err == -ELOOP)
				xct_err("refusing %s: %s is a symbolic link or not a directory",
					dir, comp);
			else if (err != -ENOENT)
				xct_err("cannot open %s: %s", comp, strerror(errno));
			break;
		}
		close(fd);
		fd = next;
		err = dir_unsafe(fd, dir, comp, !next_name);
	}
	close(fd);
	return err;
}

static void lock_path(char *buf, size_t len, const char *run_dir, __u32 ring_id)
{
	snprintf(buf, len, "%s/ring-%u.lock", run_dir, ring_id);
}

/*
 * A POSIX record lock, because F_GETLK names its holder.  The file is
 * removed by its holder on release; one that was removed between our open
 * and our lock is not the lock any more, so a lock taken is kept only while
 * the name still leads to the locked file.
 */
int xct_ring_lock(const char *run_dir, __u32 ring_id, int *holder)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct stat a, b;
	char path[PATH_MAX];
	int fd, err, tries;

	*holder = 0;
	err = xct_safe_dir(run_dir, true);
	if (err)
		return err;
	lock_path(path, sizeof(path), run_dir, ring_id);
	for (tries = 0; tries < 10; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (fcntl(fd, F_SETLK, &fl)) {
			err = -errno;
			fl.l_type = F_WRLCK;
			if ((err == -EAGAIN || err == -EACCES) && !fcntl(fd, F_GETLK, &fl) &&
			    fl.l_type != F_UNLCK) {
				*holder = fl.l_pid;
				close(fd);
				return -EBUSY;
			}
			close(fd);
			if (err == -EAGAIN || err == -EACCES)
				continue; /* released between the two calls */
			return err;
		}
		if (!fstat(fd, &a) && !stat(path, &b) && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	return -EAGAIN;
}

void xct_ring_unlock(const char *run_dir, __u32 ring_id, int fd)
{
	char path[PATH_MAX];

	if (fd < 0)
		return;
	lock_path(path, sizeof(path), run_dir, ring_id);
	unlink(path);
	close(fd);
}

int xct_ring_open(const char *pin_path, enum xct_stream_kind kind, int *fdp, __u32 *id)
{
	const struct xct_stream_info *si = xct_stream_info(kind);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (!si)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", pin_path, si->ring);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		close(fd);
		return err;
	}
	*id = info.id;
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return 0;
}
