// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pins that make every attach under one pin directory share one load
 * of the programs (see load.h).
 *
 * A load's program arrays are its own until it is published: the arrays
 * of the running load stay pinned, and filled with the running load's
 * programs, while a newer load swaps the hooks one by one, so that until
 * the last swap every packet runs one load's programs from its first to
 * its last tail call.  The kernel empties a program array when its last
 * pin or descriptor goes, so the running load's arrays are only replaced
 * once no hook runs its programs any more.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "load.h"

/* Which pin holds which program or map of the object. */
struct load_pin {
	const char *pin;
	const char *name; /* in the object */
	int is_map;
};

static const struct load_pin load_pins[] = {
	{"xct_prog_xdp", "xct_xdp", 0},
	{"xct_prog_tc_answer", "xct_tc_answer", 0},
	{"xct_prog_tc_ingress", "xct_tc_ingress", 0},
	{"xct_prog_tc_egress", "xct_tc_egress", 0},
	{"xct_reject_xdp_prog", "xct_reject_xdp_prog", 1},
	{"xct_reject_tc_prog", "xct_reject_tc_prog", 1},
	{"xct_nat_progs", "xct_nat_progs", 1},
};

#define LOAD_NPINS (sizeof(load_pins) / sizeof(load_pins[0]))

/* The build id's map, published last: a load is complete once it is. */
#define LOAD_BUILD_PIN "xct_load"
#define LOAD_STAGED    "__staged" /* bpffs refuses dots in names */

static void pin_at(char *buf, size_t len, const char *dir, const char *name, int staged)
{
	snprintf(buf, len, "%s/%s%s", dir, name, staged ? LOAD_STAGED : "");
}

__u64 xct_load_build_id(const void *elf, size_t len)
{
	const unsigned char *b = elf;
	__u64 h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int xct_load_is_prog_array(const struct bpf_map *map)
{
	return bpf_map__type(map) == BPF_MAP_TYPE_PROG_ARRAY;
}

void xct_hook_progs_of(struct bpf_object *obj, struct xct_hook_progs *p)
{
	int *fds[] = {&p->xdp, &p->tc_answer, &p->tc_ingress, &p->tc_egress};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, load_pins[i].name);

		*fds[i] = prog ? bpf_program__fd(prog) : -1;
	}
}

void xct_hook_progs_close(struct xct_hook_progs *p)
{
	int *fds[] = {&p->xdp, &p->tc_answer, &p->tc_ingress, &p->tc_egress};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int xct_load_open(const char *pin_dir, struct xct_hook_progs *p, __u64 *build)
{
	int *fds[] = {&p->xdp, &p->tc_answer, &p->tc_ingress, &p->tc_egress};
	char path[4096];
	__u32 zero = 0;
	size_t i;
	int fd, err;

	*p = (struct xct_hook_progs)XCT_HOOK_PROGS_NONE;
	pin_at(path, sizeof(path), pin_dir, LOAD_BUILD_PIN, 0);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	err = bpf_map_lookup_elem(fd, &zero, build) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		pin_at(path, sizeof(path), pin_dir, load_pins[i].pin, 0);
		*fds[i] = bpf_obj_get(path);
		if (*fds[i] < 0) {
			err = errno == ENOENT ? -ENOENT : -errno;
			xct_hook_progs_close(p);
			return err;
		}
	}
	return 0;
}

void xct_load_unstage(const char *pin_dir)
{
	char path[4096];
	size_t i;

	for (i = 0; i < LOAD_NPINS; i++) {
		pin_at(path, sizeof(path), pin_dir, load_pins[i].pin, 1);
		unlink(path);
	}
	pin_at(path, sizeof(path), pin_dir, LOAD_BUILD_PIN, 1);
	unlink(path);
}

int xct_load_stage(const char *pin_dir, struct bpf_object *obj, __u64 build)
{
	char path[4096];
	__u32 zero = 0;
	size_t i;
	int fd, err;

	/* Leftovers of a load killed between its stage and its publish. */
	xct_load_unstage(pin_dir);
	for (i = 0; i < LOAD_NPINS; i++) {
		const struct load_pin *lp = &load_pins[i];

		if (lp->is_map) {
			struct bpf_map *map = bpf_object__find_map_by_name(obj, lp->name);

			fd = map ? bpf_map__fd(map) : -1;
		} else {
			struct bpf_program *prog = bpf_object__find_program_by_name(obj, lp->name);

			fd = prog ? bpf_program__fd(prog) : -1;
		}
		pin_at(path, sizeof(path), pin_dir, lp->pin, 1);
		if (fd < 0 || bpf_obj_pin(fd, path)) {
			err = fd < 0 ? -ENOENT : -errno;
			xct_load_unstage(pin_dir);
			return err;
		}
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, LOAD_BUILD_PIN, sizeof(__u32), sizeof(__u64), 1,
			    NULL);
	if (fd < 0) {
		err = -errno;
		xct_load_unstage(pin_dir);
		return err;
	}
	pin_at(path, sizeof(path), pin_dir, LOAD_BUILD_PIN, 1);
	err = bpf_map_update_elem(fd, &zero, &build, BPF_ANY) || bpf_obj_pin(fd, path) ? -errno : 0;
	close(fd);
	if (err)
		xct_load_unstage(pin_dir);
	return err;
}

int xct_load_publish(const char *pin_dir)
{
	char from[4096], to[4096];
	size_t i;
	int err = 0;

	/* The build id last: whoever reads it finds the programs of that
	 * build in place. */
	for (i = 0; i <= LOAD_NPINS; i++) {
		const char *name = i < LOAD_NPINS ? load_pins[i].pin : LOAD_BUILD_PIN;

		pin_at(from, sizeof(from), pin_dir, name, 1);
		pin_at(to, sizeof(to), pin_dir, name, 0);
		if (rename(from, to) && !err)
			err = -errno;
	}
	return err;
}
