// SPDX-License-Identifier: GPL-2.0-only
/*
 * Small helpers every command uses: error output, privilege and bpffs
 * checks, the pin path, the clock, number parsing.
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "netns.h"
#include "xct.h"

struct xct_opts xct_opts = {.pin_path = XCT_PIN_PATH_DEFAULT};

static bool syslog_on;

void xct_syslog_enable(void)
{
	if (!syslog_on)
		openlog("xct", LOG_PID, LOG_DAEMON);
	syslog_on = true;
}

void xct_syslog(int prio, const char *fmt, ...)
{
	va_list ap;

	if (!syslog_on)
		return;
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

void xct_err(const char *fmt, ...)
{
	va_list ap;

	fputs("xct: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (syslog_on) {
		va_start(ap, fmt);
		vsyslog(LOG_ERR, fmt, ap);
		va_end(ap);
	}
}

int xct_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("xct: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'xct help' for more information.\n", stderr);
	return XCT_EXIT_USAGE;
}

int xct_require_root(void)
{
	if (geteuid() != 0) {
		xct_err("this command needs root (CAP_BPF and CAP_NET_ADMIN)");
		return -EPERM;
	}
	return 0;
}

/*
 * The pin directory is the firewall's state: whoever may unlink a pin there
 * unhooks xct, whoever may open one can read or change its tables.  So the
 * pin path is opened one component at a time from "/", never through a
 * symbolic link (O_NOFOLLOW at every step), and what was opened is checked
 * with fstat, not by a second lookup of the name:
 *
 *  - every directory on the way must be owned by root and writable by root
 *    alone, or else be root's and sticky (/tmp, a bpffs root, mode 1777):
 *    in a sticky directory only an entry's owner may remove or rename it,
 *    so the root-owned entry the path goes on with cannot be swapped;
 *  - the pin directory itself must be owned by root and give group and
 *    others no access at all (xct creates it 0700).
 *
 * Then nobody but root can rename, replace or enter anything on the path,
 * and the pins the kernel creates inside (mode 0600) cannot be opened,
 * unlinked or replaced by another user.
 */
static int unsafe(const char *pin_path, const char *comp, const char *why)
{
	xct_err("refusing the pin path %s: %s %s", pin_path, comp, why);
	return -EPERM;
}

static int check_dir(int fd, const char *pin_path, const char *comp, bool pin_dir)
{
	struct stat st;
	char why[96];

	if (fstat(fd, &st)) {
		int err = -errno;

		xct_err("cannot stat %s: %s", comp, strerror(errno));
		return err;
	}
	if (!S_ISDIR(st.st_mode))
		return unsafe(pin_path, comp, "is not a directory");
	if (st.st_uid != 0) {
		snprintf(why, sizeof(why), "is owned by uid %u, not by root", (unsigned)st.st_uid);
		return unsafe(pin_path, comp, why);
	}
	if (pin_dir && (st.st_mode & 077)) {
		snprintf(why, sizeof(why),
			 "has mode %04o: group and others must have no access (0700)",
			 (unsigned)(st.st_mode & 07777));
		return unsafe(pin_path, comp, why);
	}
	if (!pin_dir && (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		snprintf(why, sizeof(why), "is writable by %s and not sticky (mode %04o)",
			 st.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return unsafe(pin_path, comp, why);
	}
	return 0;
}

/* Says why name could not be opened as a directory under dirfd. */
static int open_failed(int dirfd, const char *name, const char *pin_path, const char *comp, int err)
{
	struct stat st;

	if ((err == -ELOOP || err == -ENOTDIR) &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return unsafe(pin_path, comp,
			      S_ISLNK(st.st_mode) ? "is a symbolic link (not followed)"
						  : "is not a directory");
	xct_err("cannot open %s: %s", comp, strerror(-err));
	return err;
}

static bool is_bpffs(int fd)
{
	struct statfs st;

	return fstatfs(fd, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/*
 * Where the walk starts: "/", or the root of PID 1 or 2 (init, kthreadd)
 * for a path through /proc/1/root or /proc/2/root (how the default state
 * of a private mount namespace is reached on the initial one's BPF
 * filesystem, src/netns.c).  That root is the one link the walk follows:
 * /proc must be procfs, where PID/root is the process's root, which only
 * that process can change, and no other user's process has those PIDs (a
 * user's own process could chroot in a user namespace of its own); the
 * directory it leads to is checked like any other.  *rest is left on the
 * rest of the path, comp[*len] names the start ("" for "/").
 */
static int walk_start(const char *pin_path, const char **rest, char *comp, size_t *len)
{
	const char *pid = pin_path + strlen("/proc/");
	size_t n = strspn(pid, "0123456789");
	char sub[64];
	struct statfs sf;
	int proc, fd, err;

	*len = 0;
	comp[0] = '\0';
	*rest = pin_path;
	if (strncmp(pin_path, "/proc/", strlen("/proc/")) || n != 1 ||
	    (pid[0] != '1' && pid[0] != '2') || strncmp(pid + n, "/root/", strlen("/root/"))) {
		fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			xct_err("cannot open /: %s", strerror(errno));
			return err;
		}
		return fd;
	}
	proc = open("/proc", O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0) {
		err = -errno;
		xct_err("cannot open /proc: %s", strerror(errno));
		return err;
	}
	if (fstatfs(proc, &sf) || sf.f_type != PROC_SUPER_MAGIC) {
		close(proc);
		return unsafe(pin_path, "/proc", "is not the proc filesystem");
	}
	snprintf(sub, sizeof(sub), "%.*s/root", (int)n, pid);
	fd = openat(proc, sub, O_PATH | O_DIRECTORY | O_CLOEXEC);
	err = -errno;
	close(proc);
	*len = strlen("/proc/") + n + strlen("/root");
	memcpy(comp, pin_path, *len);
	comp[*len] = '\0';
	*rest = pin_path + *len;
	if (fd < 0) {
		xct_err("cannot open %s: %s", comp, strerror(-err));
		return err;
	}
	return fd;
}

/*
 * Walks pin_path as described above.  Returns the open pin directory, or
 * -ENOENT (quietly, without create) when it does not exist yet, or another
 * -errno after a message.  *parent_fd is left open on the directory that
 * holds it, for the caller's bpffs check.
 */
static int walk_pin_path(const char *pin_path, bool create, int *parent_fd, char *parent,
			 size_t parent_len)
{
	char comp[PATH_MAX], name[NAME_MAX + 1];
	const char *p = pin_path, *end;
	size_t len = 0, n;
	int fd, next, err;

	*parent_fd = -1;
	if (strlen(pin_path) >= sizeof(comp) || parent_len < sizeof(comp)) {
		xct_err("pin path too long: %s", pin_path);
		return -ENAMETOOLONG;
	}
	fd = walk_start(pin_path, &p, comp, &len);
	if (fd < 0)
		return fd;
	err = check_dir(fd, pin_path, len ? comp : "/", false);
	strcpy(parent, len ? comp : "/");
	while (!err) {
		while (*p == '/')
			p++;
		end = strchr(p, '/');
		if (!end)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if (!n || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			xct_err("the pin path %s must name a directory by a plain absolute path",
				pin_path);
			err = -EINVAL;
			break;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		comp[len++] = '/';
		memcpy(comp + len, name, n + 1);
		len += n;
		p = end;
		while (*p == '/')
			p++;
		if (!*p)
			break; /* name is the pin directory, fd its parent */
		next = openat(fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			err = -errno;
			if (err == -ENOENT && !create)
				break;
			/* Where attach meets a missing directory: there is no
			 * BPF filesystem to pin into. */
			if (err == -ENOENT) {
				xct_err("%s is not on a BPF filesystem (%s does not exist)",
					pin_path, comp);
				break;
			}
			err = open_failed(fd, name, pin_path, comp, err);
			break;
		}
		close(fd);
		fd = next;
		err = check_dir(fd, pin_path, comp, false);
		strcpy(parent, comp);
	}
	if (err) {
		close(fd);
		return err;
	}
	*parent_fd = fd;
	/* Nothing is made where there is no BPF filesystem: the caller says
	 * what to do. */
	if (create && !is_bpffs(fd))
		return -ENOTSUP;
	if (create && mkdirat(fd, name, 0700) && errno != EEXIST) {
		err = -errno;
		xct_err("cannot create %s: %s", pin_path, strerror(errno));
		return err;
	}
	next = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	if (next < 0) {
		err = -errno;
		if (err == -ENOENT && !create)
			return err;
		return open_failed(fd, name, pin_path, comp, err);
	}
	err = check_dir(next, pin_path, comp, true);
	if (err) {
		close(next);
		return err;
	}
	return next;
}

/* Says what to do where pin_path is not on a BPF filesystem. */
static int not_bpffs(const char *pin_path, const char *parent)
{
	if (!strncmp(parent, "/proc/", strlen("/proc/")))
		xct_err("%s is not on a BPF filesystem: the host has none at /sys/fs/bpf (mount "
			"one there in the initial mount namespace: mount -t bpf bpf /sys/fs/bpf), "
			"or give --pin-path DIR on one that outlives this command",
			pin_path);
	else if (!strcmp(parent, "/sys/fs/bpf") && !xct_in_host_mntns())
		xct_err("%s is not on a BPF filesystem, and one mounted there now would go with "
			"this private mount namespace (as under 'ip netns exec'): run xct without "
			"--pin-path (its default state is on the host's /sys/fs/bpf), or give "
			"--pin-path DIR on a BPF filesystem the host mounted",
			pin_path);
	else
		xct_err("%s is not on a BPF filesystem (mount -t bpf bpf %s)", pin_path, parent);
	return -ENOTSUP;
}

int xct_open_pin_dir(const char *pin_path, unsigned int flags)
{
	bool create = flags & XCT_PIN_CREATE;
	char parent[PATH_MAX];
	int fd, parent_fd, err;

	fd = walk_pin_path(pin_path, create, &parent_fd, parent, sizeof(parent));
	if (parent_fd >= 0 && !is_bpffs(parent_fd)) {
		close(parent_fd);
		if (fd >= 0)
			close(fd);
		/* Like bpftool: the default location gets mounted on demand,
		 * where the mount lasts: in the initial mount namespace.  Its
		 * path was just walked: no link, nothing but root's. */
		if (strcmp(parent, "/sys/fs/bpf") == 0 && create && xct_in_host_mntns() &&
		    mount("bpf", parent, "bpf", 0, "mode=0700") == 0) {
			if (xct_opts.verbose)
				xct_err("mounted a BPF filesystem on /sys/fs/bpf");
			fd = walk_pin_path(pin_path, create, &parent_fd, parent, sizeof(parent));
			if (parent_fd >= 0 && is_bpffs(parent_fd)) {
				close(parent_fd);
				goto check_netns;
			}
			if (fd >= 0)
				close(fd);
			if (parent_fd >= 0)
				close(parent_fd);
		}
		return not_bpffs(pin_path, parent);
	}
	if (parent_fd >= 0)
		close(parent_fd);
check_netns:
	if (fd < 0)
		return fd;
	/* The state is this network namespace's, or is not touched. */
	err = flags & XCT_PIN_ANY_NETNS ? 0 : xct_netns_check(pin_path, flags & XCT_PIN_STALE_OK);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int xct_prepare_pin_path(const char *pin_path, unsigned int flags)
{
	int fd = xct_open_pin_dir(pin_path, flags);

	if (fd == -ENOENT && !(flags & XCT_PIN_CREATE))
		return 0; /* the caller says "not attached" */
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

const char *xct_pin(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", xct_opts.pin_path, name);
	return buf;
}

__u64 xct_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

int xct_parse_u64(const char *s, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

void xct_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int xct_parse_count_opt(const char *s, __u64 *out)
{
	if (xct_parse_u64(s, 1, ~0ULL >> 1, out))
		return xct_usage_error("--count: '%s' is not a positive number", s);
	return 0;
}

int xct_parse_timeout_opt(const char *s, __u64 *out)
{
	if (xct_parse_u64(s, 1, 86400ULL * 365, out))
		return xct_usage_error("--timeout: '%s' is not a number of seconds", s);
	return 0;
}
