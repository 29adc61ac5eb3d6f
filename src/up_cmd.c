// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct up / down / reload: the firewall that xct.conf describes, brought up,
 * taken down, or given its rules again.  Each command reads and checks the
 * whole configuration (and up and reload the rules file it names) before
 * anything changes, then applies it with the same code as xct attach,
 * detach and rules load.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "config.h"
#include "ct_state.h"
#include "xct.h"
#include "zones.h"

static const char up_usage[] =
	"Usage: xct up [--config FILE]\n"
	"       xct down [--config FILE]\n"
	"       xct reload [--config FILE]\n"
	"\n"
	"up      attaches every [interface] of FILE that is not attached, swaps the\n"
	"        programs of those that are for this xct's (--replace: the table is\n"
	"        kept), re-attaches one attached in another mode or zone, then loads the\n"
	"        rules file and sets the [timeouts] (those not given to their\n"
	"        defaults); running it again changes nothing.\n"
	"down    detaches every [interface] of FILE; once no interface is left, the\n"
	"        table and every pin go too (as 'xct detach --all').\n"
	"        With state-file set, an up that creates the table restores the\n"
	"        connections saved there (then removes the file), and a down that\n"
	"        takes the table away saves them first (xct ct save / restore).\n"
	"reload  loads the rules file again (its sets too) and sets the\n"
	"        [timeouts] as up does; connections in the table are kept.\n"
	"\n"
	"  --config FILE   default " XCT_CONFIG_DEFAULT "\n"
	"\n"
	"FILE is described in xct.conf(5).  A bad FILE or rules file is reported as\n"
	"FILE:LINE:COLUMN, exits with status 2 and changes nothing; a runtime failure\n"
	"exits with 1.  --pin-path (or XCT_PIN_PATH) overrides FILE's pin-path.\n"
	"\n"
	"Examples:\n"
	"  xct up\n"
	"  xct reload --config /etc/xct/xct.conf\n"
	"  xct down\n";

enum up_op {
	OP_UP,
	OP_DOWN,
	OP_RELOAD,
};

/* Parses "--config FILE" and loads it; an exit status, or -1 to go on. */
static int load_config(int argc, char **argv, struct xct_config *cfg)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = XCT_CONFIG_DEFAULT;
	char err[PATH_MAX + 256];
	int c, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			fputs(up_usage, stdout);
			return XCT_EXIT_OK;
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return xct_usage_error("%s: unexpected argument '%s'", argv[0], argv[optind]);

	ret = xct_config_load(path, cfg, err, sizeof(err));
	if (ret) {
		xct_err("%s", err);
		return ret == -EINVAL ? XCT_EXIT_USAGE : XCT_EXIT_RUNTIME;
	}
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (cfg->pin_path[0] && !xct_opts.pin_path_given)
		xct_opts.pin_path = cfg->pin_path;
	return -1;
}

/*
 * The mode each interface of cfg is attached in now (XCT_MODE_NONE when
 * it is not, or does not exist), from the registry.  0, or -errno when
 * the pin path is unsafe (reported).  *others counts registered
 * interfaces that cfg does not name, and other_names (if not NULL) gets
 * their names.
 */
static int current_modes(const struct xct_config *cfg, __u32 *modes, __u32 *ifindex, int *others,
			 char (*other_names)[IF_NAMESIZE])
{
	__u32 key, next;
	char path[PATH_MAX];
	size_t i;
	int fd, err;

	*others = 0;
	for (i = 0; i < cfg->n_ifaces; i++) {
		modes[i] = XCT_MODE_NONE;
		ifindex[i] = if_nametoindex(cfg->ifaces[i].name);
	}
	err = xct_prepare_pin_path(xct_opts.pin_path, false);
	if (err)
		return err;
	fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_ifaces"));
	if (fd < 0)
		return 0;
	for (i = 0; i < cfg->n_ifaces; i++) {
		struct xct_iface v = {};

		if (ifindex[i] && !bpf_map_lookup_elem(fd, &ifindex[i], &v))
			modes[i] = v.mode;
	}
	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		for (i = 0; i < cfg->n_ifaces; i++)
			if (ifindex[i] == key)
				break;
		if (i < cfg->n_ifaces)
			continue;
		if (!other_names)
			(*others)++;
		else if (*others < XCT_CONFIG_MAX_IFACES &&
			 if_indextoname(key, other_names[*others]))
			(*others)++;
	}
	close(fd);
	return 0;
}

/* Runs an xct command in this process, as if given on the command line. */
static int run(int argc, const char **argv)
{
	int (*fn)(int, char **) = NULL;

	if (!strcmp(argv[0], "attach"))
		fn = cmd_attach;
	else if (!strcmp(argv[0], "detach"))
		fn = cmd_detach;
	else if (!strcmp(argv[0], "rules"))
		fn = cmd_rules;
	return fn((int)argc, (char **)argv);
}

/* The rules file checked (parsed, compiled against the interfaces). */
static int check_rules(const struct xct_config *cfg)
{
	const char *argv[] = {"rules", "check", cfg->rules, NULL};
	int ret;

	if (access(cfg->rules, R_OK)) {
		xct_err("%s: rules file %s: %s", cfg->path, cfg->rules, strerror(errno));
		return XCT_EXIT_RUNTIME;
	}
	ret = run(3, argv);
	if (ret)
		xct_syslog(LOG_ERR, "%s: rules file %s refused", cfg->path, cfg->rules);
	return ret;
}

/* The rules loaded, then every tunable set: the file's, or the default. */
static int apply_policy(const struct xct_config *cfg)
{
	const char *argv[] = {"rules", "load", cfg->rules, NULL};
	int ret;

	ret = run(3, argv);
	if (ret)
		return ret;
	if (xct_apply_tunables(xct_opts.pin_path, cfg->tunables, cfg->tunables_set))
		return XCT_EXIT_RUNTIME;
	return XCT_EXIT_OK;
}

static int detach_names(const char **names, int n)
{
	const char *argv[XCT_CONFIG_MAX_IFACES + 2] = {"detach"};
	int i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		argv[i + 1] = names[i];
	return run(n + 1, argv);
}

/* xct attach for the interfaces of cfg in mode that are not attached, or
 * with replace xct attach --replace for every attached interface. */
static int attach_group(const struct xct_config *cfg, const __u32 *modes, __u32 mode, __u16 zone,
			bool replace, char (*other_names)[IF_NAMESIZE], int n_others,
			const char **done, int *n_done)
{
	const char *argv[2 * XCT_CONFIG_MAX_IFACES + 12];
	char size[32], ring[32], zone_arg[8];
	int argc = 0, first, ret;
	size_t i;

	argv[argc++] = "attach";
	if (replace) {
		argv[argc++] = "--replace";
	} else {
		argv[argc++] = "--mode";
		argv[argc++] = xct_config_mode_name(mode);
		snprintf(zone_arg, sizeof(zone_arg), "%u", zone);
		argv[argc++] = "--zone";
		argv[argc++] = zone_arg;
	}
	if (cfg->table_size) {
		snprintf(size, sizeof(size), "%llu", (unsigned long long)cfg->table_size);
		argv[argc++] = "--max-entries";
		argv[argc++] = size;
	}
	if (cfg->events_ring_size) {
		snprintf(ring, sizeof(ring), "%llu", (unsigned long long)cfg->events_ring_size);
		argv[argc++] = "--ct-events-size";
		argv[argc++] = ring;
	}
	first = argc;
	for (i = 0; i < cfg->n_ifaces; i++) {
		if (replace ? modes[i] == XCT_MODE_NONE
			    : cfg->ifaces[i].mode != mode || cfg->ifaces[i].zone != zone ||
				      modes[i] != XCT_MODE_NONE)
			continue;
		argv[argc++] = cfg->ifaces[i].name;
	}
	/* One load runs on every interface of the instance: --replace swaps
	 * it on all of them at once, those the file does not name too. */
	for (i = 0; replace && i < (size_t)n_others; i++)
		argv[argc++] = other_names[i];
	if (argc == first)
		return 0;
	argv[argc] = NULL;
	ret = run(argc, argv);
	if (!ret && !replace)
		for (i = (size_t)first; i < (size_t)argc; i++)
			done[(*n_done)++] = argv[i];
	return ret;
}

/*
 * state-file: the table up restores once it has created it (never into a
 * table that was up already, which would bring back connections that
 * ended since), and removes, so that no later up restores it again.
 */
static int restore_state(const struct xct_config *cfg)
{
	struct xct_ct_state_counts c;
	struct xct_table t;
	char err[512];
	int ret;

	if (access(cfg->state_file, F_OK))
		return 0;
	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	ret = xct_ct_restore_file(&t, cfg->state_file, &c, err, sizeof(err));
	xct_table_close(&t);
	if (ret) {
		/* The firewall is up, its rules loaded: a bad state file costs
		 * the saved connections only, and stays for a look. */
		xct_err("%s: state-file: %s", cfg->path, err);
		xct_syslog(LOG_ERR, "up: state-file %s not restored: %s", cfg->state_file, err);
		return 0;
	}
	unlink(cfg->state_file);
	fprintf(stderr,
		"xct: %lu connections restored from %s (%lu already in the table, %lu expired, "
		"%lu refused)\n",
		c.restored, cfg->state_file, c.exists, c.expired, c.nat_clash + c.failed);
	xct_syslog(LOG_INFO, "up: %lu connections restored from %s", c.restored, cfg->state_file);
	return 0;
}

/* state-file: the table saved before down takes it away. */
static int save_state(const struct xct_config *cfg)
{
	struct xct_ct_state_counts c;
	struct xct_table t;
	int ret;

	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	ret = xct_ct_save_file(&t, cfg->state_file, &c);
	xct_table_close(&t);
	if (ret) {
		xct_syslog(LOG_ERR, "down: cannot save the table to %s", cfg->state_file);
		return XCT_EXIT_RUNTIME;
	}
	xct_syslog(LOG_INFO, "down: %lu connections saved to %s", c.saved, cfg->state_file);
	return 0;
}

static int do_up(const struct xct_config *cfg)
{
	static const __u32 all_modes[] = {XCT_MODE_NATIVE, XCT_MODE_GENERIC, XCT_MODE_TC};
	__u32 modes[XCT_CONFIG_MAX_IFACES], ifindex[XCT_CONFIG_MAX_IFACES];
	const char *moved[XCT_CONFIG_MAX_IFACES], *done[XCT_CONFIG_MAX_IFACES];
	static char other_names[XCT_CONFIG_MAX_IFACES][IF_NAMESIZE];
	int n_moved = 0, n_done = 0, others, ret;
	bool fresh = true;
	size_t i, m;

	/* Everything checked first: interfaces, rules, the pin path. */
	for (i = 0; i < cfg->n_ifaces; i++)
		if (!if_nametoindex(cfg->ifaces[i].name)) {
			xct_err("%s:%u: cannot attach to %s: no such interface", cfg->path,
				cfg->ifaces[i].line, cfg->ifaces[i].name);
			return XCT_EXIT_RUNTIME;
		}
	ret = check_rules(cfg);
	if (ret)
		return ret;
	if (current_modes(cfg, modes, ifindex, &others, other_names))
		return XCT_EXIT_RUNTIME;
	/* A fresh installation names no interface yet: there is nothing to
	 * bring up, and no state to load rules into, which is not a failure
	 * of the unit. */
	if (!cfg->n_ifaces && !others) {
		fprintf(stderr, "xct: %s names no [interface]: nothing to bring up\n", cfg->path);
		xct_syslog(LOG_WARNING, "up: %s names no [interface]: nothing to bring up",
			   cfg->path);
		return XCT_EXIT_OK;
	}

	/* The table is created by this up when nothing is attached yet. */
	for (i = 0; i < cfg->n_ifaces; i++)
		if (modes[i] != XCT_MODE_NONE)
			fresh = false;
	if (others)
		fresh = false;

	/* In another mode or zone than configured: detached here, attached
	 * below (its connections stay in the zone they were tracked in). */
	for (i = 0; i < cfg->n_ifaces; i++)
		if (modes[i] != XCT_MODE_NONE &&
		    (modes[i] != cfg->ifaces[i].mode ||
		     xct_zone_of(xct_opts.pin_path, ifindex[i]) != cfg->ifaces[i].zone)) {
			moved[n_moved++] = cfg->ifaces[i].name;
			modes[i] = XCT_MODE_NONE;
		}
	ret = detach_names(moved, n_moved);
	if (!ret)
		ret = attach_group(cfg, modes, XCT_MODE_NONE, 0, true, other_names, others, done,
				   &n_done);
	/* One attach per mode and zone, each zone once: at the first
	 * interface that has it. */
	for (m = 0; !ret && m < sizeof(all_modes) / sizeof(all_modes[0]); m++)
		for (i = 0; !ret && i < cfg->n_ifaces; i++) {
			size_t j;

			for (j = 0; j < i; j++)
				if (cfg->ifaces[j].zone == cfg->ifaces[i].zone)
					break;
			if (j == i)
				ret = attach_group(cfg, modes, all_modes[m], cfg->ifaces[i].zone,
						   false, NULL, 0, done, &n_done);
		}
	if (!ret)
		ret = apply_policy(cfg);
	if (!ret && fresh && cfg->state_file[0])
		ret = restore_state(cfg);
	if (ret) {
		/* What this run attached is taken off again; interfaces
		 * that were up stay up, on their programs. */
		if (detach_names(done, n_done) == 0 && n_done)
			fprintf(stderr, "xct: up failed: the interfaces it attached are detached "
					"again\n");
		return XCT_EXIT_RUNTIME;
	}
	xct_syslog(LOG_INFO, "up: %s applied (%zu interface%s, rules %s)", cfg->path, cfg->n_ifaces,
		   cfg->n_ifaces == 1 ? "" : "s", cfg->rules);
	return XCT_EXIT_OK;
}

static int do_down(const struct xct_config *cfg)
{
	__u32 modes[XCT_CONFIG_MAX_IFACES], ifindex[XCT_CONFIG_MAX_IFACES];
	const char *names[XCT_CONFIG_MAX_IFACES];
	const char *all[] = {"detach", "--all", NULL};
	char path[PATH_MAX];
	int n = 0, others, ret;
	size_t i;

	if (current_modes(cfg, modes, ifindex, &others, NULL))
		return XCT_EXIT_RUNTIME;
	for (i = 0; i < cfg->n_ifaces; i++)
		if (modes[i] != XCT_MODE_NONE)
			names[n++] = cfg->ifaces[i].name;
	/* The table goes with the last interface: saved first. */
	if (cfg->state_file[0] && !others &&
	    access(xct_pin(path, sizeof(path), "xct_ifaces"), F_OK) == 0) {
		ret = save_state(cfg);
		if (ret)
			return ret;
	}
	ret = detach_names(names, n);
	if (ret)
		return ret;
	/* Nothing attached any more: no pin may stay either. */
	if (!others && access(xct_pin(path, sizeof(path), "xct_ifaces"), F_OK) == 0) {
		ret = run(2, all);
		if (ret)
			return ret;
	}
	xct_syslog(LOG_INFO, "down: %s (%d interface%s detached%s)", cfg->path, n,
		   n == 1 ? "" : "s", others ? ", others stay attached" : "");
	return XCT_EXIT_OK;
}

static int do_reload(const struct xct_config *cfg)
{
	char path[PATH_MAX];
	int ret;

	ret = check_rules(cfg);
	if (ret)
		return ret;
	if (xct_prepare_pin_path(xct_opts.pin_path, false))
		return XCT_EXIT_RUNTIME;
	if (access(xct_pin(path, sizeof(path), "xct_ifaces"), F_OK)) {
		xct_err("reload: xct is not up under %s ('xct up' first)", xct_opts.pin_path);
		return XCT_EXIT_RUNTIME;
	}
	ret = apply_policy(cfg);
	if (ret)
		return ret;
	xct_syslog(LOG_INFO, "reload: rules %s loaded", cfg->rules);
	return XCT_EXIT_OK;
}

static int up_down(int argc, char **argv, enum up_op op)
{
	static struct xct_config cfg;
	static const char *const names[] = {"up", "down", "reload"};
	int ret;

	xct_syslog_enable();
	ret = load_config(argc, argv, &cfg);
	if (ret >= 0)
		return ret;
	switch (op) {
	case OP_UP:
		ret = do_up(&cfg);
		break;
	case OP_DOWN:
		ret = do_down(&cfg);
		break;
	default:
		ret = do_reload(&cfg);
		break;
	}
	if (ret)
		xct_syslog(LOG_ERR, "%s: %s failed", names[op], cfg.path);
	return ret;
}

int cmd_up(int argc, char **argv)
{
	return up_down(argc, argv, OP_UP);
}

int cmd_down(int argc, char **argv)
{
	return up_down(argc, argv, OP_DOWN);
}

int cmd_reload(int argc, char **argv)
{
	return up_down(argc, argv, OP_RELOAD);
}
