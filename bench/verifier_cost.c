// SPDX-License-Identifier: GPL-2.0-only
/*
 * How much of the verifier's budget each datapath program takes: loads the
 * object with BPF_LOG_STATS and prints every program's "processed N insns"
 * line (the limit is 1,000,000 per program).  Needs root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "xct/abi.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"

#define LOG_SIZE (1 << 20)

int main(void)
{
	struct xct_bpf *skel = xct_bpf__open();
	struct bpf_program *prog;
	struct bpf_map *map;
	int n = 0, i, err;
	char **logs;

	if (!skel) {
		fprintf(stderr, "cannot open the BPF object\n");
		return 1;
	}
	bpf_object__for_each_program(prog, skel->obj) n++;
	logs = calloc((size_t)n, sizeof(*logs));
	if (!logs)
		return 1;
	i = 0;
	bpf_object__for_each_program(prog, skel->obj)
	{
		logs[i] = calloc(1, LOG_SIZE);
		if (!logs[i])
			return 1;
		bpf_program__set_log_buf(prog, logs[i], LOG_SIZE);
		/* XCT_VERIFIER_LOG=PROG: the whole log of one program, to see why it fails. */
		bpf_program__set_log_level(prog, getenv("XCT_VERIFIER_LOG") &&
								 !strcmp(getenv("XCT_VERIFIER_LOG"),
									 bpf_program__name(prog))
							 ? 5
							 : 4);
		i++;
	}
	/* Nothing is pinned or attached: the maps are this process's own. */
	bpf_object__for_each_map(map, skel->obj) bpf_map__set_pin_path(map, NULL);
	err = xct_bpf__load(skel);
	i = 0;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const char *p = strstr(logs[i], "processed ");
		int len = p ? (int)strcspn(p, "\n") : 0;

		printf("%-20s %.*s\n", bpf_program__name(prog), len, p ? p : "(no stats)");
		if ((!p || getenv("XCT_VERIFIER_LOG")) && logs[i][0]) {
			size_t l = strlen(logs[i]);

			/* Why it failed: the end of the verifier's log. */
			fputs(logs[i] + (l > 2000 ? l - 2000 : 0), stdout);
		}
		i++;
	}
	xct_bpf__destroy(skel);
	return err ? 1 : 0;
}
