// SPDX-License-Identifier: GPL-2.0-only
/*
 * Small helpers every command uses: error output, privilege and bpffs
 * checks, the pin path, the clock, number parsing.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "xct.h"

struct xct_opts xct_opts = {.pin_path = XCT_PIN_PATH_DEFAULT};

void xct_err(const char *fmt, ...)
{
	va_list ap;

	fputs("xct: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int xct_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("xct: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'xct help' for more information.\n", stderr);
	return XCT_EXIT_USAGE;
}

int xct_require_root(void)
{
	if (geteuid() != 0) {
		xct_err("this command needs root (CAP_BPF and CAP_NET_ADMIN)");
		return -EPERM;
	}
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int xct_prepare_pin_path(const char *pin_path, bool create)
{
	char parent[PATH_MAX];

	if (strlen(pin_path) >= sizeof(parent)) {
		xct_err("pin path too long: %s", pin_path);
		return -ENAMETOOLONG;
	}
	strcpy(parent, pin_path);
	dirname(parent);

	if (!is_bpffs(parent)) {
		/* Like bpftool: the default location gets mounted on demand. */
		if (strcmp(parent, "/sys/fs/bpf") == 0 && create &&
		    mount("bpf", parent, "bpf", 0, "mode=0700") == 0) {
			if (xct_opts.verbose)
				xct_err("mounted a BPF filesystem on /sys/fs/bpf");
		} else {
			xct_err("%s is not on a BPF filesystem (mount -t bpf bpf %s)", pin_path,
				parent);
			return -ENOTSUP;
		}
	}
	if (create && mkdir(pin_path, 0700) && errno != EEXIST) {
		int err = -errno;

		xct_err("cannot create %s: %s", pin_path, strerror(errno));
		return err;
	}
	return 0;
}

const char *xct_pin(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", xct_opts.pin_path, name);
	return buf;
}

__u64 xct_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

int xct_parse_u64(const char *s, __u64 min, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

void xct_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int xct_parse_count_opt(const char *s, __u64 *out)
{
	if (xct_parse_u64(s, 1, ~0ULL >> 1, out))
		return xct_usage_error("--count: '%s' is not a positive number", s);
	return 0;
}

int xct_parse_timeout_opt(const char *s, __u64 *out)
{
	if (xct_parse_u64(s, 1, 86400ULL * 365, out))
		return xct_usage_error("--timeout: '%s' is not a number of seconds", s);
	return 0;
}
