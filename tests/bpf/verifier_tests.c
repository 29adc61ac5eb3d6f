// SPDX-License-Identifier: GPL-2.0-only
/*
 * The verifier's budget.  The kernel verifies a program in at most
 * 1,000,000 processed instructions (BPF_COMPLEXITY_LIMIT_INSNS); every
 * program of xct's BPF objects must take at most half of it, so that the
 * datapath has room to grow and `xct attach`, which verifies the main
 * programs, stays short.  The count is the kernel's own
 * (bpf_prog_info.verified_insns), read back after a load as xct makes it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "owner.skel.h"
#include "xct/trace.h" /* the skeleton names struct xct_trace_filter */
#include "trace.skel.h"

#define VERIFIER_LIMIT	1000000
#define VERIFIER_BUDGET (VERIFIER_LIMIT / 2)

/* Checks every loaded program of obj against the budget; returns how many
 * were loaded. */
static int check_budget(struct bpf_object *obj)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (!bpf_program__autoload(prog))
			continue;
		memset(&info, 0, sizeof(info));
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
			CHECK_FAIL("%s: no information from the kernel (%s)",
				   bpf_program__name(prog), strerror(fd < 0 ? EBADF : errno));
			continue;
		}
		/* Zero would be a kernel that does not count. */
		CHECK(info.verified_insns > 0);
		if (info.verified_insns > VERIFIER_BUDGET)
			CHECK_FAIL("%s: %u instructions processed by the verifier, more than half "
				   "of its limit of %u",
				   bpf_program__name(prog), info.verified_insns, VERIFIER_LIMIT);
		n++;
	}
	return n;
}

/* Nothing of a test's load is pinned: its maps are its own. */
static void unpin_all(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) bpf_map__set_pin_path(map, NULL);
}

TEST(verifier_budget_datapath)
{
	struct fixture fx;

	if (!fixture_setup(&fx, 0))
		return;
	/* xct_xdp, the reject, NAT, control and TC programs: all nine. */
	CHECK_EQ(check_budget(fx.skel->obj), 9);
}

TEST(verifier_budget_owner)
{
	struct xct_owner_bpf *skel = xct_owner_bpf__open();

	if (!skel) {
		CHECK_FAIL("cannot open the owner object: %s", strerror(errno));
		return;
	}
	unpin_all(skel->obj);
	if (xct_owner_bpf__load(skel))
		CHECK_FAIL("cannot load the owner object: %s", strerror(errno));
	else
		CHECK(check_budget(skel->obj) > 0);
	xct_owner_bpf__destroy(skel);
}

TEST(verifier_budget_trace)
{
	struct xct_trace_bpf *skel = xct_trace_bpf__open();

	if (!skel) {
		CHECK_FAIL("cannot open the trace object: %s", strerror(errno));
		return;
	}
	unpin_all(skel->obj);
	if (xct_trace_bpf__load(skel))
		CHECK_FAIL("cannot load the trace object: %s", strerror(errno));
	else
		CHECK_EQ(check_budget(skel->obj), 3);
	xct_trace_bpf__destroy(skel);
}
