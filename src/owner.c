// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connection owners, userspace side: xct attach-cgroup and detach-cgroup
 * (the owner programs of bpf/owner.bpf.c, attached to a cgroup v2 through
 * bpf_links pinned next to the state), and the lookups that put an owner
 * next to an entry in xct ct list -o process, xct ct events and xct trace.
 *
 * The kernel side records pid, thread, comm, uid, gid and cgroup id in the
 * owner's context.  What it cannot read there is resolved here, when shown:
 * the cgroup's path (by its id, which is its directory's inode on cgroup2)
 * and the executable (/proc/PID/exe, while the process still runs and still
 * has the name it had; otherwise left out).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netns.h"
#include "owner.h"
#include "xct.h"
#include "owner.skel.h"

#define OWNER_PIN_PREFIX "xct_owner_cg"

struct xct_owner_cg {
	__u64 id;
	char *path;
};

/* The owner programs and the names their links are pinned by. */
static struct bpf_program *owner_prog(struct xct_owner_bpf *s, int i, const char **name)
{
	static const char *const names[] = {"sockops",	"bind4",    "bind6",
					    "release",	"connect4", "connect6",
					    "sendmsg4", "sendmsg6", "egress"};
	struct bpf_program *progs[] = {
		s->progs.xct_owner_sockops,  s->progs.xct_owner_bind4,
		s->progs.xct_owner_bind6,    s->progs.xct_owner_sock_release,
		s->progs.xct_owner_connect4, s->progs.xct_owner_connect6,
		s->progs.xct_owner_sendmsg4, s->progs.xct_owner_sendmsg6,
		s->progs.xct_owner_egress,
	};

	if (i < 0 || i >= (int)(sizeof(names) / sizeof(names[0])))
		return NULL;
	*name = names[i];
	return progs[i];
}

/* Opens a cgroup v2 directory; from a private mount namespace (ip netns
 * exec mounts a /sys of its own, without the cgroup mounts) through the
 * initial one's root.  The fd and its id, or -errno after a message. */
static int open_cgroup(const char *path, __u64 *id)
{
	char root[64], alt[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && path[0] == '/' && !xct_host_root(root, sizeof(root)) &&
	    root[0]) {
		snprintf(alt, sizeof(alt), "%s%s", root, path);
		fd = open(alt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		int err = -errno;

		xct_err("cannot open cgroup %s: %s", path, strerror(errno));
		return err;
	}
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC || fstat(fd, &st)) {
		xct_err("cannot use %s: not a cgroup v2 directory (cgroup2 is mounted at "
			"/sys/fs/cgroup, or /sys/fs/cgroup/unified in the hybrid layout)",
			path);
		close(fd);
		return -EINVAL;
	}
	*id = st.st_ino;
	return fd;
}

static int owner_ctl_rw(const char *pin_path, struct xct_owner_ctl *c, bool write)
{
	char path[4096];
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/xct_owner_ctl", pin_path);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (write ? bpf_map_update_elem(fd, &zero, c, BPF_ANY) : bpf_map_lookup_elem(fd, &zero, c))
		err = -errno;
	close(fd);
	return err;
}

int xct_owner_cgroups(const char *pin_path, __u64 *out, int max)
{
	DIR *dir = opendir(pin_path);
	struct dirent *d;
	unsigned long long id;
	int n = 0, i;

	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, OWNER_PIN_PREFIX, strlen(OWNER_PIN_PREFIX)) ||
		    sscanf(d->d_name + strlen(OWNER_PIN_PREFIX), "%llu_", &id) != 1)
			continue;
		for (i = 0; i < n && out[i] != id; i++)
			;
		if (i == n && n < max)
			out[n++] = id;
	}
	closedir(dir);
	return n;
}

int xct_owner_attach(const char *pin_path, const char *cgroup)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_path);
	struct xct_owner_ctl ctl = {0};
	struct xct_netns_id self;
	struct xct_owner_bpf *skel = NULL;
	struct bpf_program *prog;
	struct bpf_link *link;
	char path[4096], tmp[4200];
	const char *name;
	__u64 cgid;
	int cgfd, err, i;

	snprintf(path, sizeof(path), "%s/xct_ct", pin_path);
	if (access(path, F_OK)) {
		xct_err("no xct state under %s: attach an interface first (xct attach IFACE)",
			pin_path);
		return -ENOENT;
	}
	err = xct_netns_self(&self);
	if (err)
		return err;
	cgfd = open_cgroup(cgroup, &cgid);
	if (cgfd < 0)
		return cgfd;
	skel = xct_owner_bpf__open_opts(&opts);
	if (!skel) {
		err = -errno;
		xct_err("cannot open the owner programs: %s", strerror(-err));
		goto out;
	}
	err = xct_owner_bpf__load(skel);
	if (err) {
		xct_err("cannot load the owner programs: %s (an xct attached before owners "
			"existed needs 'xct attach --replace' first%s)",
			strerror(-err), xct_opts.verbose ? "" : "; -v shows the verifier's log");
		goto out;
	}
	/* Recording starts before the hooks: none of their calls is lost. */
	owner_ctl_rw(pin_path, &ctl, false);
	ctl.netns_cookie = self.cookie;
	ctl.on = 1;
	err = owner_ctl_rw(pin_path, &ctl, true);
	if (err) {
		xct_err("cannot switch owner recording on under %s: %s", pin_path, strerror(-err));
		goto out;
	}
	for (i = 0; (prog = owner_prog(skel, i, &name)); i++) {
		link = bpf_program__attach_cgroup(prog, cgfd);
		if (!link) {
			err = -errno;
			xct_err("cannot attach the owner program %s to cgroup %s: %s", name, cgroup,
				strerror(-err));
			goto out;
		}
		/* Pinned under a temporary name and renamed over the old pin:
		 * a second attach swaps the programs, never leaving a gap
		 * (the cgroup runs both for that moment, which records the
		 * same owner twice).  No '.' in the name: bpffs refuses
		 * such names (EPERM), keeping them for its own files. */
		snprintf(path, sizeof(path), "%s/" OWNER_PIN_PREFIX "%llu_%s", pin_path,
			 (unsigned long long)cgid, name);
		snprintf(tmp, sizeof(tmp), "%s_new", path);
		unlink(tmp);
		if (bpf_link__pin(link, tmp) || rename(tmp, path)) {
			err = -errno;
			xct_err("cannot pin %s: %s", path, strerror(-err));
			unlink(tmp);
			bpf_link__destroy(link);
			goto out;
		}
		bpf_link__destroy(link);
	}
	err = 0;
out:
	if (err)
		xct_owner_detach(pin_path, cgroup);
	xct_owner_bpf__destroy(skel);
	close(cgfd);
	return err;
}

/* Empties one of the owner maps. */
static void owner_map_clear(const char *pin_path, const char *name, size_t key_size)
{
	char path[4096];
	unsigned char key[64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_path, name);
	fd = bpf_obj_get(path);
	if (fd < 0 || key_size > sizeof(key)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			break;
	close(fd);
}

int xct_owner_detach(const char *pin_path, const char *cgroup)
{
	struct xct_owner_ctl ctl;
	char path[4096], prefix[64];
	struct dirent *d;
	__u64 cgid, ids[1];
	int cgfd, removed = 0;
	DIR *dir;

	cgfd = open_cgroup(cgroup, &cgid);
	if (cgfd < 0)
		return cgfd;
	close(cgfd);
	snprintf(prefix, sizeof(prefix), OWNER_PIN_PREFIX "%llu_", (unsigned long long)cgid);
	dir = opendir(pin_path);
	while (dir && (d = readdir(dir))) {
		if (strncmp(d->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_path, d->d_name);
		if (!unlink(path))
			removed++;
	}
	if (dir)
		closedir(dir);
	/* The last cgroup: nothing records any more, and nothing would
	 * remove what was recorded. */
	if (xct_owner_cgroups(pin_path, ids, 1) == 0 && !owner_ctl_rw(pin_path, &ctl, false)) {
		ctl.on = 0;
		owner_ctl_rw(pin_path, &ctl, true);
		owner_map_clear(pin_path, "xct_owner", sizeof(struct xct_ct_key));
		owner_map_clear(pin_path, "xct_owner_sock", sizeof(__u64));
		owner_map_clear(pin_path, "xct_owner_listen", sizeof(struct xct_owner_listen_key));
	}
	return removed ? 0 : -ENOENT;
}

/* ---- Reading owners back ---- */

void xct_owner_view_open(struct xct_owner_view *v, const char *pin_path)
{
	struct xct_owner_ctl ctl;
	char path[4096];

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/xct_owner", pin_path);
	v->owner_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/xct_owner_listen", pin_path);
	v->listen_fd = bpf_obj_get(path);
	v->on = !owner_ctl_rw(pin_path, &ctl, false) && ctl.on;
}

void xct_owner_view_close(struct xct_owner_view *v)
{
	size_t i;

	if (v->owner_fd >= 0)
		close(v->owner_fd);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	for (i = 0; i < v->n_cgs; i++)
		free(v->cgs[i].path);
	free(v->cgs);
	memset(v, 0, sizeof(*v));
	v->owner_fd = v->listen_fd = -1;
}

int xct_owner_find(struct xct_owner_view *v, const struct xct_ct_key *key, __u8 orig_side,
		   struct xct_owner *o)
{
	struct xct_owner_listen_key lk;

	if (!v->on)
		return -ENOENT;
	if (v->owner_fd >= 0 && !bpf_map_lookup_elem(v->owner_fd, key, o))
		return 0;
	if (v->listen_fd < 0 || (key->proto != XCT_IPPROTO_TCP && key->proto != XCT_IPPROTO_UDP))
		return -ENOENT;
	/* Accepted, not yet established: the listener at its destination. */
	memset(&lk, 0, sizeof(lk));
	lk.family = key->family;
	lk.proto = key->proto;
	lk.addr = key->addr[!orig_side];
	lk.port = key->port[!orig_side];
	if (!bpf_map_lookup_elem(v->listen_fd, &lk, o))
		return 0;
	memset(&lk.addr, 0, sizeof(lk.addr));
	if (!bpf_map_lookup_elem(v->listen_fd, &lk, o))
		return 0;
	if (lk.family == XCT_AF_INET) {
		lk.family = XCT_AF_INET6; /* a dual-stack listener on :: */
		if (!bpf_map_lookup_elem(v->listen_fd, &lk, o))
			return 0;
	}
	return -ENOENT;
}

/* The cgroup2 mount point, as this process reaches it, in buf. */
static int cgroup2_root(char *buf, size_t len)
{
	static const char *const mountinfos[] = {"/proc/self/mountinfo", "/proc/1/mountinfo"};
	char line[4096], mnt[PATH_MAX], root[64];
	size_t i;

	for (i = 0; i < sizeof(mountinfos) / sizeof(mountinfos[0]); i++) {
		FILE *f = fopen(mountinfos[i], "r");
		int found = 0;

		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f)) {
			char *sep = strstr(line, " - ");

			if (!sep || strncmp(sep + 3, "cgroup2 ", 8) ||
			    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
				continue;
			found = 1;
		}
		fclose(f);
		if (!found)
			continue;
		root[0] = 0;
		if (i == 1 && xct_host_root(root, sizeof(root)))
			return -ENOENT;
		snprintf(buf, len, "%s%s", root, mnt);
		return 0;
	}
	return -ENOENT;
}

int xct_owner_cgroup_id(const char *rel, __u64 *id, char *msg, size_t msglen)
{
	char root[PATH_MAX], path[PATH_MAX + 4096];
	struct statfs sfs;
	struct stat st;

	if (cgroup2_root(root, sizeof(root))) {
		snprintf(msg, msglen, "cannot find cgroup '%s': no cgroup2 file system is mounted",
			 rel);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (stat(path, &st) || statfs(path, &sfs)) {
		int err = -errno;

		snprintf(msg, msglen, "cannot find cgroup '%s' under %s: %s", rel, root,
			 strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode) || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(msg, msglen, "'%s' under %s is not a cgroup v2 directory", rel, root);
		return -ENOTDIR;
	}
	*id = st.st_ino;
	return 0;
}

static struct xct_owner_view *walk_view;
static size_t walk_root_len;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct xct_owner_view *v = walk_view;
	struct xct_owner_cg *cgs;
	const char *rel = path + walk_root_len;

	if (flag != FTW_D)
		return 0;
	cgs = realloc(v->cgs, (v->n_cgs + 1) * sizeof(*cgs));
	if (!cgs)
		return -1;
	v->cgs = cgs;
	cgs[v->n_cgs].id = st->st_ino;
	cgs[v->n_cgs].path = strdup(*rel ? rel : "/");
	if (cgs[v->n_cgs].path)
		v->n_cgs++;
	return 0;
}

const char *xct_owner_cgroup_path(struct xct_owner_view *v, __u64 id, char *buf, size_t len)
{
	char root[PATH_MAX];
	size_t i;
	int pass;

	/* Cgroups made since the last walk are found by walking again, once
	 * per view. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < v->n_cgs; i++) {
			if (v->cgs[i].id == id) {
				snprintf(buf, len, "%s", v->cgs[i].path);
				return buf;
			}
		}
		if (v->cgs_walked > 1 || cgroup2_root(root, sizeof(root)))
			break;
		for (i = 0; i < v->n_cgs; i++)
			free(v->cgs[i].path);
		v->n_cgs = 0;
		walk_view = v;
		walk_root_len = strlen(root);
		nftw(root, walk_one, 16, FTW_PHYS | FTW_MOUNT);
		v->cgs_walked++;
	}
	snprintf(buf, len, "?");
	return buf;
}

/* The executable of the owner's process, while it still runs under the
 * name it had: a pid given to another process since is not shown as the
 * owner's. */
static int owner_exe(const struct xct_owner *o, char *buf, size_t len)
{
	char path[64], comm[XCT_OWNER_COMM_LEN + 2];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", o->tgid, o->pid);
	f = fopen(path, "r");
	if (!f) {
		snprintf(path, sizeof(path), "/proc/%u/comm", o->tgid);
		f = fopen(path, "r");
	}
	if (!f)
		return -ENOENT;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	if (strncmp(comm, o->comm, XCT_OWNER_COMM_LEN))
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%u/exe", o->tgid);
	n = readlink(path, buf, len - 1);
	if (n <= 0)
		return -ENOENT;
	buf[n] = 0;
	return 0;
}

/* The owner's comm, printable: the thread may have named itself with
 * spaces or control characters. */
static void owner_comm(const struct xct_owner *o, char *buf)
{
	int i;

	for (i = 0; i < XCT_OWNER_COMM_LEN - 1 && o->comm[i]; i++)
		buf[i] = (o->comm[i] > ' ' && o->comm[i] < 0x7f) ? o->comm[i] : '?';
	buf[i] = 0;
}

static const char *how_name(__u8 how)
{
	switch (how) {
	case XCT_OWNER_CONNECT:
		return "connect";
	case XCT_OWNER_SEND:
		return "send";
	case XCT_OWNER_LISTENER:
		return "listener";
	case XCT_OWNER_BIND:
		return "bind";
	}
	return "?";
}

int xct_owner_format(struct xct_owner_view *v, const struct xct_owner *o, char *buf, size_t len)
{
	char cg[PATH_MAX], exe[PATH_MAX], comm[XCT_OWNER_COMM_LEN];
	int n;

	owner_comm(o, comm);
	n = snprintf(buf, len, " pid=%u tid=%u comm=%s uid=%u gid=%u cgroup=%s", o->tgid, o->pid,
		     comm, o->uid, o->gid, xct_owner_cgroup_path(v, o->cgroup_id, cg, sizeof(cg)));
	if (n > 0 && (size_t)n < len && !owner_exe(o, exe, sizeof(exe)))
		n += snprintf(buf + n, len - (size_t)n, " exe=%s", exe);
	if (n < 0)
		return 0;
	return (size_t)n < len ? n : (int)len - 1;
}

void xct_owner_json(FILE *f, struct xct_owner_view *v, const struct xct_owner *o)
{
	char cg[PATH_MAX], exe[PATH_MAX], comm[XCT_OWNER_COMM_LEN];

	owner_comm(o, comm);
	fprintf(f, "{\"pid\":%u,\"tid\":%u,\"comm\":", o->tgid, o->pid);
	xct_json_string(comm);
	fprintf(f, ",\"uid\":%u,\"gid\":%u,\"cgroup_id\":%llu,\"cgroup\":", o->uid, o->gid,
		(unsigned long long)o->cgroup_id);
	xct_json_string(xct_owner_cgroup_path(v, o->cgroup_id, cg, sizeof(cg)));
	if (!owner_exe(o, exe, sizeof(exe))) {
		fputs(",\"exe\":", f);
		xct_json_string(exe);
	}
	fprintf(f, ",\"cookie\":%llu,\"how\":\"%s\"}", (unsigned long long)o->cookie,
		how_name(o->how));
}

int xct_event_owner(const void *data, size_t size, struct xct_owner *o)
{
	if (size < sizeof(struct xct_ct_event_owned))
		return 0;
	memcpy(o, (const char *)data + offsetof(struct xct_ct_event_owned, owner), sizeof(*o));
	return 1;
}

/* ---- Commands ---- */

static const char attach_usage[] =
	"Usage: xct attach-cgroup CGROUP\n"
	"       xct detach-cgroup CGROUP\n"
	"\n"
	"Records which process owns each connection this host makes or accepts, for\n"
	"the sockets of the processes in the cgroup v2 directory CGROUP and below it:\n"
	"xct ct list -o process, xct ct events and xct trace show the owner, and rules\n"
	"with 'meta skuid', 'meta skgid' or 'socket cgroupv2' refuse connect() and\n"
	"sendmsg() (EPERM).  The cgroup-v2 root (/sys/fs/cgroup, or\n"
	"/sys/fs/cgroup/unified in the hybrid layout) covers every process.  The\n"
	"programs stay attached after the command ends, until detach-cgroup, 'xct\n"
	"detach --all' or 'xct down'.  Needs an attached xct (xct attach IFACE).\n"
	"\n"
	"Examples:\n"
	"  xct attach-cgroup /sys/fs/cgroup\n"
	"  xct ct list -o process\n"
	"  xct detach-cgroup /sys/fs/cgroup\n";

static int owner_cmd(int argc, char **argv, bool attach)
{
	int err;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(attach_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return xct_usage_error("%s takes one argument, a cgroup v2 directory (see '%s "
				       "--help')",
				       argv[0], argv[0]);
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	xct_syslog_enable();
	err = xct_prepare_pin_path(xct_opts.pin_path, 0);
	if (err)
		return XCT_EXIT_RUNTIME;
	if (attach) {
		err = xct_owner_attach(xct_opts.pin_path, argv[1]);
		if (!err) {
			printf("%s: owners recorded\n", argv[1]);
			xct_syslog(LOG_INFO, "owner programs attached to cgroup %s", argv[1]);
		}
	} else {
		err = xct_owner_detach(xct_opts.pin_path, argv[1]);
		if (err == -ENOENT)
			xct_err("cgroup %s: no owner programs of %s attached", argv[1],
				xct_opts.pin_path);
		else if (!err)
			xct_syslog(LOG_INFO, "owner programs detached from cgroup %s", argv[1]);
	}
	return err ? XCT_EXIT_RUNTIME : XCT_EXIT_OK;
}

int cmd_attach_cgroup(int argc, char **argv)
{
	return owner_cmd(argc, argv, true);
}

int cmd_detach_cgroup(int argc, char **argv)
{
	return owner_cmd(argc, argv, false);
}
