/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection owners in userspace (src/owner.c): attaching the owner
 * programs to a cgroup, and reading the owners back to show them next to
 * the table's entries, in events and in traces.
 */
#ifndef XCT_OWNER_CLI_H
#define XCT_OWNER_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include "xct/owner.h"

/* Attaches the owner programs of the state under pin_path to the cgroup v2
 * directory cgroup (pinned there, so they outlive the command); again on
 * an attached cgroup, replaces its programs.  0 or -errno, after a
 * message. */
int xct_owner_attach(const char *pin_path, const char *cgroup);

/* Detaches them from cgroup; from the last one, owners stop being
 * recorded and every record is forgotten.  0 or -errno after a message
 * (-ENOENT: not attached there). */
int xct_owner_detach(const char *pin_path, const char *cgroup);

/* The cgroups the owner programs are attached to, by id, as written to
 * out (up to max); their number, or -errno. */
int xct_owner_cgroups(const char *pin_path, __u64 *out, int max);

/* The id of the cgroup at rel, a path relative to the cgroup2 mount (as
 * nft's socket cgroupv2 takes it): 0, or -errno with the reason in msg. */
int xct_owner_cgroup_id(const char *rel, __u64 *id, char *msg, size_t msglen);

/* Reading owners back, with the names of cgroups found on the way. */
struct xct_owner_view {
	int owner_fd;  /* xct_owner, or -1: no owner is recorded here */
	int listen_fd; /* xct_owner_listen, or -1 */
	bool on;       /* owners are recorded (xct_owner_ctl) */
	struct xct_owner_cg *cgs;
	size_t n_cgs;
	int cgs_walked; /* the cgroup tree was read once */
};

/* Opens the owner maps of the state under pin_path; where there are none
 * (an older datapath), every lookup misses.  Never fails. */
void xct_owner_view_open(struct xct_owner_view *v, const char *pin_path);
void xct_owner_view_close(struct xct_owner_view *v);

/* The owner of the connection of key whose original direction is side
 * orig_side of it: its own record, or for a connection accepted but not
 * yet established, its listener's.  0, or -ENOENT. */
int xct_owner_find(struct xct_owner_view *v, const struct xct_ct_key *key, __u8 orig_side,
		   struct xct_owner *o);

/* The cgroup v2 path of id, relative to the cgroup2 mount ("/" for its
 * root), into buf; "?" when no cgroup has that id. */
const char *xct_owner_cgroup_path(struct xct_owner_view *v, __u64 id, char *buf, size_t len);

/* " pid=N tid=N comm=NAME uid=N gid=N cgroup=PATH exe=PATH" for the text
 * formats (exe read from /proc now, and left out once the process has
 * gone); its length. */
int xct_owner_format(struct xct_owner_view *v, const struct xct_owner *o, char *buf, size_t len);

/* The same as a JSON object. */
void xct_owner_json(FILE *f, struct xct_owner_view *v, const struct xct_owner *o);

/* The owner an event record carries after the event (struct
 * xct_ct_event_owned): 1 and *o, or 0 when it has none. */
int xct_event_owner(const void *data, size_t size, struct xct_owner *o);

#endif /* XCT_OWNER_CLI_H */
