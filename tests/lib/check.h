/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small test harness in the style of the kernel's test_progs: tests
 * register themselves, CHECK_* macros record failures with file:line and
 * the values compared, and every test prints one line, "ok NAME" or
 * "not ok NAME", which tests/run.sh counts.
 *
 * Usage:
 *	TEST(tcp_handshake) { CHECK_EQ(state, XCT_TCP_ESTABLISHED); }
 *	int main(int argc, char **argv) { return check_main(argc, argv); }
 */
#ifndef XCT_TEST_CHECK_H
#define XCT_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_test {
	const char *name;
	void (*fn)(void);
};

/* Whether len bytes are the same, the first difference printed (for
 * CHECK(check_bytes_equal(got, want, len)) on encoded messages). */
static inline int check_bytes_equal(const unsigned char *got, const unsigned char *want, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			fprintf(stderr, "  byte %zu: got 0x%02x, want 0x%02x\n", i, got[i],
				want[i]);
			return 0;
		}
	}
	return 1;
}

#define CHECK_MAX_TESTS 1024
extern struct check_test check_tests[CHECK_MAX_TESTS];
extern int check_ntests;
extern int check_failed_now;

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		if (check_ntests < CHECK_MAX_TESTS)                                                \
			check_tests[check_ntests++] = (struct check_test){#name, test_##name};     \
	}                                                                                          \
	static void test_##name(void)

#define CHECK_FAIL(fmt, ...)                                                                       \
	do {                                                                                       \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__);          \
		check_failed_now = 1;                                                              \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			CHECK_FAIL("CHECK(%s) failed", #cond);                                     \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long __a = (long long)(a), __b = (long long)(b);                              \
		if (__a != __b)                                                                    \
			CHECK_FAIL("%s == %s: got %lld, want %lld", #a, #b, __a, __b);             \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *__a = (a), *__b = (b);                                                 \
		if (!__a || !__b || strcmp(__a, __b))                                              \
			CHECK_FAIL("%s == %s:\n    got  \"%s\"\n    want \"%s\"", #a, #b,          \
				   __a ? __a : "(null)", __b ? __b : "(null)");                    \
	} while (0)

/* Runs every registered test (or those whose name contains argv[1]). */
int check_main(int argc, char **argv);

#ifdef CHECK_IMPLEMENTATION
struct check_test check_tests[CHECK_MAX_TESTS];
int check_ntests;
int check_failed_now;

int check_main(int argc, char **argv)
{
	int i, failed = 0, run = 0;

	for (i = 0; i < check_ntests; i++) {
		if (argc > 1 && !strstr(check_tests[i].name, argv[1]))
			continue;
		check_failed_now = 0;
		check_tests[i].fn();
		run++;
		printf("%s %s\n", check_failed_now ? "not ok" : "ok", check_tests[i].name);
		fflush(stdout);
		failed += check_failed_now;
	}
	if (run == 0) {
		printf("not ok no tests matched\n");
		return 1;
	}
	return failed ? 1 : 0;
}
#endif

#endif /* XCT_TEST_CHECK_H */
