// SPDX-License-Identifier: GPL-2.0-only
/*
 * How much of the verifier's budget each datapath program takes: loads the
 * object with BPF_LOG_STATS and prints every program's "processed N insns"
 * line (the limit is 1,000,000 per program).  With -j, JSON for
 * bench/load.py instead: per program the kernel's own count
 * (bpf_prog_info.verified_insns) and the verifier's time from its log.
 * Needs root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xct/abi.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"

#define LOG_SIZE (1 << 20)

/* The "verification time N usec" of a program's stats log; 0 if none. */
static unsigned long verify_usec(const char *log)
{
	const char *p = strstr(log, "verification time ");

	return p ? strtoul(p + strlen("verification time "), NULL, 10) : 0;
}

static void print_json(struct bpf_object *obj, char **logs)
{
	struct bpf_program *prog;
	const char *sep = "";
	int i = 0;

	printf("{\"limit\": 1000000, \"programs\": [");
	bpf_object__for_each_program(prog, obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			info.verified_insns = 0;
		printf("%s\n {\"name\": \"%s\", \"verified_insns\": %u, \"verify_us\": %lu}", sep,
		       bpf_program__name(prog), info.verified_insns, verify_usec(logs[i]));
		sep = ",";
		i++;
	}
	printf("\n]}\n");
}

int main(int argc, char **argv)
{
	int json = argc > 1 && !strcmp(argv[1], "-j");
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
	if (json && !err) {
		print_json(skel->obj, logs);
		xct_bpf__destroy(skel);
		return 0;
	}
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
