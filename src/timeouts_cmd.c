// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct timeouts / xct set-timeout: the trackers' tunables, named and counted
 * as nf_conntrack's sysctls (include/xct/timeouts.h), in the pinned map
 * xct_timeouts that the datapath reads at every packet.  The map is always
 * written whole, with every value, so that the datapath never sees a
 * default and a set value mixed by a half-done write.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "config.h"
#include "xct.h"

static int tunables_open(const char *pin_path)
{
	char path[PATH_MAX];
	int fd, err;

	err = xct_prepare_pin_path(pin_path, false);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/xct_timeouts", pin_path);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			xct_err("xct is not attached (no %s)", path);
		else
			xct_err("cannot open %s: %s", path, strerror(-err));
		return err;
	}
	return fd;
}

int xct_tunables_read(const char *pin_path, struct xct_tunables *t)
{
	__u32 zero = 0;
	int fd, i, err = 0;

	fd = tunables_open(pin_path);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, t)) {
		err = -errno;
		xct_err("cannot read xct_timeouts: %s", strerror(-err));
	} else if (t->written != XCT_TUNABLES_WRITTEN) {
		for (i = 0; i < XCT_TUNABLE_MAX; i++)
			t->v[i] = xct_tunable_info[i].def;
	}
	close(fd);
	return err;
}

int xct_tunables_write(const char *pin_path, const struct xct_tunables *t)
{
	struct xct_tunables w = *t;
	__u32 zero = 0;
	int fd, err = 0;

	fd = tunables_open(pin_path);
	if (fd < 0)
		return fd;
	w.written = XCT_TUNABLES_WRITTEN;
	if (bpf_map_update_elem(fd, &zero, &w, BPF_ANY)) {
		err = -errno;
		xct_err("cannot write xct_timeouts: %s", strerror(-err));
	}
	close(fd);
	return err;
}

int xct_apply_tunables(const char *pin_path, const __u32 *values, __u32 set)
{
	struct xct_tunables t = {};
	int i, err;

	for (i = 0; i < XCT_TUNABLE_MAX; i++)
		t.v[i] = (set & (1U << i)) ? values[i] : xct_tunable_info[i].def;
	err = xct_tunables_write(pin_path, &t);
	if (!err)
		xct_syslog(LOG_INFO, "timeouts applied (%d of %d set, the rest defaults)",
			   __builtin_popcount(set), XCT_TUNABLE_MAX);
	return err;
}

static const char timeouts_usage[] =
	"Usage: xct timeouts\n"
	"       xct set-timeout NAME VALUE\n"
	"\n"
	"The trackers' timeouts and switches, with the names and units of\n"
	"nf_conntrack's sysctls (without net.netfilter.): seconds, or 0/1 for\n"
	"nf_conntrack_tcp_loose and nf_conntrack_tcp_be_liberal, a count for\n"
	"nf_conntrack_tcp_max_retrans.  'timeouts' prints them as the [timeouts]\n"
	"section of xct.conf takes them; 'set-timeout' changes one.  As in the\n"
	"kernel, a live connection gets a new timeout at its next packet.  'xct up'\n"
	"and 'xct reload' set every value again: the file's, or the default.\n"
	"\n"
	"Examples:\n"
	"  xct timeouts\n"
	"  xct set-timeout nf_conntrack_tcp_timeout_established 86400\n"
	"  xct set-timeout nf_conntrack_tcp_be_liberal 1\n";

int cmd_timeouts(int argc, char **argv)
{
	struct xct_tunables t;
	int i;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(timeouts_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc > 1)
		return xct_usage_error("timeouts: unexpected argument '%s'", argv[1]);
	if (xct_require_root() || xct_tunables_read(xct_opts.pin_path, &t))
		return XCT_EXIT_RUNTIME;
	if (xct_opts.json)
		putchar('{');
	for (i = 0; i < XCT_TUNABLE_MAX; i++) {
		if (xct_opts.json)
			printf("%s\"%s\":%u", i ? "," : "", xct_tunable_info[i].name, t.v[i]);
		else
			printf("%s = %u\n", xct_tunable_info[i].name, t.v[i]);
	}
	if (xct_opts.json)
		puts("}");
	return XCT_EXIT_OK;
}

int cmd_set_timeout(int argc, char **argv)
{
	struct xct_tunables t;
	__u64 v;
	int id;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(timeouts_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc != 3)
		return xct_usage_error("set-timeout: NAME VALUE expected ('xct timeouts' lists "
				       "the names)");
	id = xct_tunable_by_name(argv[1]);
	if (id < 0)
		return xct_usage_error("set-timeout: unknown name '%s' ('xct timeouts' lists "
				       "the names)",
				       argv[1]);
	/* Decimal only, as sysctl takes it. */
	if (strspn(argv[2], "0123456789") != strlen(argv[2]) ||
	    xct_parse_u64(argv[2], 0, xct_tunable_info[id].max, &v))
		return xct_usage_error("set-timeout: %s: '%s' is not a number from 0 to %u",
				       argv[1], argv[2], xct_tunable_info[id].max);
	xct_syslog_enable();
	if (xct_require_root() || xct_tunables_read(xct_opts.pin_path, &t))
		return XCT_EXIT_RUNTIME;
	t.v[id] = (__u32)v;
	if (xct_tunables_write(xct_opts.pin_path, &t))
		return XCT_EXIT_RUNTIME;
	printf("%s = %u\n", argv[1], t.v[id]);
	xct_syslog(LOG_INFO, "%s set to %u", argv[1], t.v[id]);
	return XCT_EXIT_OK;
}
