// SPDX-License-Identifier: GPL-2.0-only
/*
 * Asking the kernel what is on an interface's hooks.  xct's registry
 * (xct_ifaces) says what it attached; only the kernel says what is there
 * now: another tool may have detached the XDP program, flushed the clsact
 * qdisc or put its own filter at xct's handle, and another xct instance (a
 * second --pin-path) may hold the interface.  Programs are compared by id,
 * which the kernel never reuses while a program lives.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>

#include "hooks.h"
#include "xct.h"

__u32 xct_tc_prog_at(int ifindex, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XCT_TC_HANDLE, .priority = XCT_TC_PRIORITY);

	/* -ENOENT: no such filter; -EINVAL: no clsact qdisc at all. */
	if (bpf_tc_query(&hook, &opts))
		return 0;
	return opts.prog_id;
}

__u32 xct_xdp_prog_on(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return 0;
	if (q.drv_prog_id)
		return q.drv_prog_id;
	if (q.skb_prog_id)
		return q.skb_prog_id;
	return q.hw_prog_id;
}

int xct_link_at(const char *path, __u32 *link_id, __u32 *prog_id, __u32 *ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), err = 0;

	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	else if (info.type != BPF_LINK_TYPE_XDP)
		err = -EINVAL;
	close(fd);
	if (err)
		return err;
	*link_id = info.id;
	*prog_id = info.prog_id;
	/* A link someone detached (bpftool link detach, the interface gone)
	 * stays pinned, defunct, with no interface. */
	*ifindex = info.xdp.ifindex;
	return 0;
}

void xct_prog_name(__u32 prog_id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);

	snprintf(buf, len, "?");
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.name[0])
		snprintf(buf, len, "%s", info.name);
	close(fd);
}

/* Whether the registry pinned in dir lists prog_id on some interface. */
static bool registry_lists(const char *dir, __u32 prog_id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key, *prev = NULL;
	char path[4096];
	bool found = false;
	int fd;

	snprintf(path, sizeof(path), "%s/xct_ifaces", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	/* An older xct's registry may be shorter; a longer one is not ours
	 * to read. */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size != sizeof(__u32) ||
	    info.value_size > sizeof(struct xct_iface)) {
		close(fd);
		return false;
	}
	while (!found && bpf_map_get_next_key(fd, prev, &key) == 0) {
		struct xct_iface v = {};

		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		found = v.ingress_prog_id == prog_id || v.egress_prog_id == prog_id ||
			v.answer_prog_id == prog_id;
	}
	close(fd);
	return found;
}

/* Looks for the registry that lists prog_id under dir, depth levels deep
 * at most; directories only, no symlink followed. */
static bool find_registry(char *dir, size_t len, int depth, __u32 prog_id)
{
	size_t n = strlen(dir);
	struct dirent *d;
	bool found;
	DIR *dp;

	if (registry_lists(dir, prog_id))
		return true;
	if (depth == 0 || !(dp = opendir(dir)))
		return false;
	found = false;
	while (!found && (d = readdir(dp))) {
		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;
		if (snprintf(dir + n, len - n, "/%s", d->d_name) >= (int)(len - n))
			continue;
		found = find_registry(dir, len, depth - 1, prog_id);
		if (!found)
			dir[n] = '\0';
	}
	closedir(dp);
	return found;
}

/*
 * The state directory of the xct instance whose registry lists prog_id:
 * every mounted BPF filesystem is searched a few levels deep, as instances
 * keep their state in one directory each (the default, or --pin-path).
 */
static bool holder_instance(__u32 prog_id, char *buf, size_t len)
{
	char line[4096], mnt[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && !found && fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SRC OPTS */
		char *sep = strstr(line, " - bpf ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		snprintf(buf, len, "%s", mnt);
		found = find_registry(buf, len, 3, prog_id);
	}
	if (f)
		fclose(f);
	return found;
}

void xct_describe_holder(__u32 prog_id, char *buf, size_t len)
{
	char name[64], dir[4096];

	xct_prog_name(prog_id, name, sizeof(name));
	if (holder_instance(prog_id, dir, sizeof(dir)))
		snprintf(buf, len, "the xct instance with its state in %s (program %s, id %u)", dir,
			 name, prog_id);
	else
		snprintf(buf, len, "program %s (id %u)", name, prog_id);
}

/*
 * The number of filters on ifindex's clsact ingress or egress, of any
 * handle and priority, by an RTM_GETTFILTER dump (libbpf can only query
 * one handle and priority); -errno on failure.
 */
int xct_tc_filter_count(int ifindex, enum bpf_tc_attach_point point)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = {
		.nh = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		       .nlmsg_type = RTM_GETTFILTER,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 1},
		.tc = {.tcm_family = AF_UNSPEC,
		       .tcm_ifindex = ifindex,
		       .tcm_parent =
			       TC_H_MAKE(TC_H_CLSACT, point == BPF_TC_INGRESS ? TC_H_MIN_INGRESS
									      : TC_H_MIN_EGRESS)},
	};
	char buf[16384];
	int fd, n = 0, err = 0;
	bool done = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		err = -errno;
	while (!err && !done) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			err = -errno;
			break;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				err = e->error ? e->error : -EPROTO;
				break;
			}
			/* The dump also lists each priority's classifier
			 * with handle 0: only the filters count. */
			if (nh->nlmsg_type == RTM_NEWTFILTER &&
			    ((struct tcmsg *)NLMSG_DATA(nh))->tcm_handle)
				n++;
		}
	}
	close(fd);
	return err ? err : n;
}
