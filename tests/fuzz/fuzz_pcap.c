// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target of xct replay's capture reader (src/replay/capture.c),
 * over libpcap's pcap and pcapng parsers.  Built with ASan and UBSan by
 * tests/fuzz/test_fuzz_pcap.sh, so a crash, an out-of-bounds access,
 * undefined behaviour or a leak on any path fails the run.  Besides not
 * crashing, the reader must keep its promises, checked here and abort()ed
 * on:
 *
 *  - every frame it hands out is a readable buffer of len bytes (all of
 *    them are read here, so ASan sees any overrun), len <= XCT_FRAME_MAX,
 *    caplen <= len, and a frame that is not a runt has an Ethernet header;
 *  - a failure comes with a non-empty message, and the reader says nothing
 *    more after the end or an error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "replay/capture.h"

#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xct_capture *cap = NULL;
	struct xct_frame f;
	char err[512];
	__u8 sink = 0;
	FILE *fp;
	int ret, n = 0;
	__u32 i;

	if (!size)
		return 0;
	fp = fmemopen((void *)data, size, "rb");
	if (!fp)
		return 0;
	err[0] = 0;
	ret = xct_capture_open_stream(fp, &cap, err, sizeof(err));
	if (ret) {
		ASSERT(ret == -EINVAL || ret == -ENOMEM);
		ASSERT(err[0] != 0);
		ASSERT(cap == NULL);
		return 0;
	}
	ASSERT(xct_capture_link_name(cap) != NULL);
	for (;;) {
		err[0] = 0;
		ret = xct_capture_next(cap, &f, err, sizeof(err));
		if (ret <= 0)
			break;
		ASSERT(ret == 1);
		ASSERT(f.data != NULL || f.len == 0);
		ASSERT(f.len <= XCT_FRAME_MAX);
		ASSERT(f.caplen <= f.len);
		if (!f.runt)
			ASSERT(f.len >= 14);
		for (i = 0; i < f.len; i++)
			sink ^= f.data[i];
		n++;
	}
	ASSERT(ret == 0 || ret == -EINVAL);
	if (ret < 0)
		ASSERT(err[0] != 0);
	/* Keep the reads of every byte. */
	__asm__ volatile("" : : "r"(sink), "r"(n));
	xct_capture_close(cap);
	return 0;
}
