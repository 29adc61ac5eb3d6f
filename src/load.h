/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One loaded datapath per pin directory.  The programs a load attaches,
 * and the program arrays through which they hand packets to each other,
 * are pinned next to the maps with the build they came from, so that a
 * later attach hooks the same programs instead of loading a second copy:
 * two copies would hand packets to each other's tail calls, whose
 * per-CPU hand-off state is each copy's own, and track them twice.
 */
#ifndef XCT_LOAD_H
#define XCT_LOAD_H

#include <stddef.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

/* The programs the hooks of an interface run, as file descriptors (-1:
 * none). */
struct xct_hook_progs {
	int xdp;
	int tc_answer;
	int tc_ingress;
	int tc_egress;
};

#define XCT_HOOK_PROGS_NONE                                                                        \
	{                                                                                          \
		.xdp = -1, .tc_answer = -1, .tc_ingress = -1, .tc_egress = -1                      \
	}

/* An identity of the BPF object a binary carries: FNV-1a of its bytes. */
__u64 xct_load_build_id(const void *elf, size_t len);

/* The hook programs of a loaded object (not duplicated: closed with it). */
void xct_hook_progs_of(struct bpf_object *obj, struct xct_hook_progs *p);

/*
 * Opens the pinned programs of the load running under pin_dir, and the
 * build id it came from.  0; -ENOENT when no load is pinned there (none
 * yet, or one of an xct that did not pin its programs); another -errno
 * when the pins cannot be read.
 */
int xct_load_open(const char *pin_dir, struct xct_hook_progs *p, __u64 *build);

void xct_hook_progs_close(struct xct_hook_progs *p);

/*
 * Pins a new load's hook programs, its program arrays and its build id
 * under staging names: the step that may fail, taken before any hook
 * changes.  xct_load_publish() then renames them over the running load's
 * pins, each rename atomic; xct_load_unstage() removes them after a
 * failure.
 */
int xct_load_stage(const char *pin_dir, struct bpf_object *obj, __u64 build);
int xct_load_publish(const char *pin_dir);
void xct_load_unstage(const char *pin_dir);

/* Whether a map is one of the program arrays a load keeps to itself until
 * it is published. */
int xct_load_is_prog_array(const struct bpf_map *map);

#endif /* XCT_LOAD_H */
