// SPDX-License-Identifier: GPL-2.0-only
/*
 * The default state directory, per network namespace, on the host's BPF
 * filesystem; the record of the namespace a state belongs to; the names
 * of its interfaces (see netns.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>

#include "netns.h"
#include "xct.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

static int ns_stat(const char *path, struct stat *st)
{
	return stat(path, st) ? -errno : 0;
}

int xct_netns_self(struct xct_netns_id *id)
{
	socklen_t len = sizeof(id->cookie);
	struct stat st;
	int fd, err;

	memset(id, 0, sizeof(*id));
	err = ns_stat("/proc/self/ns/net", &st);
	if (err) {
		xct_err("cannot identify this network namespace (/proc/self/ns/net): %s",
			strerror(-err));
		return err;
	}
	id->ino = st.st_ino;
	id->dev = st.st_dev;
	/* The cookie is never given to another namespace; the inode number
	 * is, once this namespace is gone. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &id->cookie, &len)) {
		err = -errno;
		xct_err("cannot read this network namespace's cookie: %s", strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	close(fd);
	return 0;
}

void xct_netns_describe(const struct xct_netns_id *id, char *buf, size_t len)
{
	struct dirent *d;
	struct stat st;
	char path[300];
	int n;
	DIR *dir;

	n = snprintf(buf, len, "net:[%llu]", (unsigned long long)id->ino);
	dir = opendir("/run/netns");
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", d->d_name);
		if (!stat(path, &st) && st.st_ino == id->ino && st.st_dev == id->dev) {
			if (n > 0 && (size_t)n < len)
				snprintf(buf + n, len - (size_t)n, " (ip netns %s)", d->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
}

static bool can_stat(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Whether /proc/PID is kthreadd: a kernel thread, whose root is always the
 * initial mount namespace's, and which no process can be chrooted into. */
static bool is_kthreadd(const char *pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strcmp(comm, "kthreadd\n");
}

/*
 * PID 1's root is the initial mount namespace's (its namespace files say
 * so to whoever may inspect PID 1).  Where PID 1 may not be inspected (it
 * made itself undumpable), kthreadd's is, for the same root.
 */
static const char *host_pid(void)
{
	if (can_stat("/proc/1/ns/mnt"))
		return "1";
	if (is_kthreadd("2") && can_stat("/proc/2/ns/mnt"))
		return "2";
	return NULL;
}

bool xct_in_host_mntns(void)
{
	const char *pid = host_pid();
	char path[64];

	if (!pid)
		return false;
	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", pid);
	return same_file("/proc/self/ns/mnt", path);
}

int xct_host_root(char *buf, size_t len)
{
	const char *pid = host_pid();

	if (!pid) {
		xct_err("cannot find the initial mount namespace (neither PID 1 nor kthreadd "
			"can be inspected under /proc): give --pin-path DIR on a BPF filesystem");
		return -ENOENT;
	}
	if (xct_in_host_mntns())
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "/proc/%s/root", pid);
	return 0;
}

int xct_default_pin_path(char *buf, size_t len)
{
	struct xct_netns_id self;
	char root[64], path[64], bpffs[128];
	const char *pid = host_pid();
	int err;

	err = xct_host_root(root, sizeof(root));
	if (err)
		return err;
	err = xct_netns_self(&self);
	if (err)
		return err;
	/* A private mount namespace may still see the host's bpffs at
	 * /sys/fs/bpf (one made without `ip netns exec`): then the state
	 * is shown by the path its users know. */
	snprintf(bpffs, sizeof(bpffs), "%s/sys/fs/bpf", root);
	if (root[0] && same_file("/sys/fs/bpf", bpffs))
		snprintf(bpffs, sizeof(bpffs), "/sys/fs/bpf");
	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	if (same_file("/proc/self/ns/net", path))
		snprintf(buf, len, "%s/%s", bpffs, "xct");
	else
		snprintf(buf, len, "%s/xct-netns-%llu", bpffs, (unsigned long long)self.ino);
	return 0;
}

int xct_netns_recorded(const char *pin_path, struct xct_netns_id *id)
{
	char path[4096];
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", pin_path, XCT_NETNS_PIN);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, id))
		err = -errno;
	close(fd);
	/* A record being made (pinned, not yet written) counts as none. */
	if (!err && !id->ino)
		err = -ENOENT;
	return err;
}

int xct_netns_check(const char *pin_path, bool stale_ok)
{
	struct xct_netns_id rec, self;
	char theirs[300], ours[300];
	int err;

	err = xct_netns_recorded(pin_path, &rec);
	if (err == -ENOENT)
		return 0; /* a new state, or one from before the record */
	if (err) {
		xct_err("cannot read the network namespace of the state under %s: %s", pin_path,
			strerror(-err));
		return err;
	}
	err = xct_netns_self(&self);
	if (err)
		return err;
	if (rec.ino == self.ino && rec.dev == self.dev && rec.cookie == self.cookie)
		return 0;
	xct_netns_describe(&rec, theirs, sizeof(theirs));
	xct_netns_describe(&self, ours, sizeof(ours));
	if (rec.ino == self.ino && rec.dev == self.dev) {
		/* Two live namespaces never share an inode number. */
		if (stale_ok)
			return 0;
		xct_err("the state under %s was left by a network namespace that no longer "
			"exists (net:[%llu], a number this namespace reuses): 'xct detach --all' "
			"removes it",
			pin_path, (unsigned long long)rec.ino);
		return -ESTALE;
	}
	xct_err("the state under %s belongs to network namespace %s, not to this one (%s): "
		"run xct in that namespace, or give this namespace's own --pin-path",
		pin_path, theirs, ours);
	return -EXDEV;
}

int xct_netns_record(const char *pin_path)
{
	struct xct_netns_id self, rec;
	char path[4096];
	__u32 zero = 0;
	int fd, err;

	if (xct_netns_recorded(pin_path, &rec) == 0)
		return 0; /* checked when the directory was opened */
	err = xct_netns_self(&self);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", pin_path, XCT_NETNS_PIN);
	/* Written before it is pinned, so that no reader sees it empty. */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, XCT_NETNS_PIN, sizeof(__u32), sizeof(self), 1,
			    NULL);
	if (fd < 0 || bpf_map_update_elem(fd, &zero, &self, BPF_ANY) || bpf_obj_pin(fd, path)) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		/* Another attach recorded it first: it is ours if it says so. */
		if (err == -EEXIST)
			return xct_netns_check(pin_path, false);
		xct_err("cannot record the network namespace at %s: %s", path, strerror(-err));
		return err;
	}
	close(fd);
	return 0;
}

static int ifnames_open(const char *pin_path, bool create)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_path, XCT_IFNAMES_PIN);
	fd = bpf_obj_get(path);
	if (fd >= 0 || !create || errno != ENOENT)
		return fd < 0 ? -errno : fd;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, XCT_IFNAMES_PIN, sizeof(__u32), IF_NAMESIZE, 1024,
			    NULL);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		close(fd);
		/* Another attach made it first. */
		fd = bpf_obj_get(path);
		return fd < 0 ? -errno : fd;
	}
	return fd;
}

int xct_ifname_record(const char *pin_path, __u32 ifindex, const char *name)
{
	char v[IF_NAMESIZE] = {};
	int fd = ifnames_open(pin_path, true), err = 0;

	snprintf(v, sizeof(v), "%s", name);
	if (fd < 0 || bpf_map_update_elem(fd, &ifindex, v, BPF_ANY))
		err = fd < 0 ? fd : -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		xct_err("cannot record the name of %s under %s: %s", name, pin_path,
			strerror(-err));
	return err;
}

int xct_ifname_recorded(const char *pin_path, __u32 ifindex, char *name)
{
	int fd = ifnames_open(pin_path, false), err = 0;

	if (fd < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(fd, &ifindex, name))
		err = -ENOENT;
	close(fd);
	name[IF_NAMESIZE - 1] = '\0';
	return err;
}

void xct_ifname_forget(const char *pin_path, __u32 ifindex)
{
	int fd = ifnames_open(pin_path, false);

	if (fd < 0)
		return;
	bpf_map_delete_elem(fd, &ifindex);
	close(fd);
}
