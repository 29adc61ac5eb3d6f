/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where an instance's state lives by default, and which network namespace
 * it belongs to (src/netns.c).
 *
 * The default state directory is on the host's BPF filesystem, reached in
 * the initial mount namespace even from a private one (`ip netns exec`
 * mounts its own /sys, which goes with the command), and is one directory
 * per network namespace: the initial one's is /sys/fs/bpf/xct, another's
 * /sys/fs/bpf/xct-netns-INODE.  The state records its namespace (the nsfs
 * inode and device, and the namespace's cookie, which is never reused), so
 * that a command run in another namespace is refused instead of acting on
 * interfaces by ifindexes that mean other interfaces there.
 */
#ifndef XCT_NETNS_H
#define XCT_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* A network namespace: what `ls -l /proc/self/ns/net` shows, and its cookie
 * (SO_NETNS_COOKIE), which tells a namespace from a later one that got the
 * same inode number. */
struct xct_netns_id {
	__u64 ino;
	__u64 dev;
	__u64 cookie;
};

/* The record's pin under a state directory. */
#define XCT_NETNS_PIN "xct_netns"

/* The calling process's network namespace; 0 or -errno. */
int xct_netns_self(struct xct_netns_id *id);

/* "net:[INODE]", with " (ip netns NAME)" when /run/netns names it. */
void xct_netns_describe(const struct xct_netns_id *id, char *buf, size_t len);

/*
 * The directory the initial mount namespace's root is reached by from this
 * process ("" when this process is in that namespace, else "/proc/1/root",
 * or kthreadd's root, "/proc/2/root", when PID 1 cannot be inspected), in
 * buf; -errno (reported) when neither can be found.
 */
int xct_host_root(char *buf, size_t len);

/* Whether this process runs in the initial mount namespace, where a mount
 * outlives the command. */
bool xct_in_host_mntns(void);

/* The default state directory of this process's network namespace, in
 * buf; -errno (reported) when it cannot be worked out. */
int xct_default_pin_path(char *buf, size_t len);

/*
 * Whether the state under pin_path belongs to this network namespace: 0 if
 * it does, or has no record yet; -EXDEV (reported, naming both namespaces)
 * if it belongs to another; -ESTALE (reported) if it was left by a
 * namespace that no longer exists, whose inode number this one reuses
 * (accepted, 0, with stale_ok: what `detach --all` needs to clean it up).
 */
int xct_netns_check(const char *pin_path, bool stale_ok);

/* Records this namespace under pin_path unless a record is there; 0 or
 * -errno (reported). */
int xct_netns_record(const char *pin_path);

/* The recorded namespace of the state under pin_path; 0, or -ENOENT when
 * it has no record. */
int xct_netns_recorded(const char *pin_path, struct xct_netns_id *id);

/*
 * The names of the attached interfaces, by ifindex (pinned as xct_ifnames):
 * the registry's ifindex is all that is left of an interface once it is
 * deleted, and a user knows it by its name.  Record returns 0 or -errno
 * (reported); recorded fills name[IF_NAMESIZE] and returns 0, or -ENOENT.
 */
#define XCT_IFNAMES_PIN "xct_ifnames"

int xct_ifname_record(const char *pin_path, __u32 ifindex, const char *name);
int xct_ifname_recorded(const char *pin_path, __u32 ifindex, char *name);
void xct_ifname_forget(const char *pin_path, __u32 ifindex);

#endif /* XCT_NETNS_H */
