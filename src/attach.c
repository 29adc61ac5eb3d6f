
// SPDX-License-Identifier: GPL-2.0-only
/*
 * xct attach / detach / status: loading the datapath, hooking it to
 * interfaces, and showing what is attached.
 *
 * State lives in maps pinned under the pin path.  The first attach loads
 * the programs against those maps (libbpf pins them by name) and pins the
 * programs too (load.c); a later attach hooks those same programs to its
 * interfaces, so every interface of an instance runs one load and a packet
 * is tracked once however the attaches were ordered.  --replace loads a
 * newer copy and swaps it in on every interface before it takes the
 * running one's place.  XDP attachments are bpf_links pinned next to the
 * maps, so they outlive the command; TC filters are held by the clsact qdisc.
 * Nothing is half-applied: arguments and interfaces are checked before any
 * change, and interfaces attached by a failing command are detached again.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath_size.h"
#include "hooks.h"
#include "load.h"
#include "netns.h"
#include "rules/install.h"
#include "table.h"
#include "xct/nat.h"
#include "xct/policy.h"
#include "xct.h"
#include "zones.h"
#include "xct/timeouts.h" /* the skeleton names struct xct_tunables */
#include "xct.skel.h"

#define MAX_IFACES 64

static const char *mode_name(__u32 mode)
{
	switch (mode) {
	case XCT_MODE_NATIVE:
		return "xdp native";
	case XCT_MODE_GENERIC:
		return "xdp generic";
	case XCT_MODE_TC:
		return "tc";
	}
	return "none";
}

static const char attach_usage[] =
	"Usage: xct attach IFACE... [--mode native|generic|tc] [--max-entries N]\n"
	"                  [--ct-events-size BYTES] [--zone N]\n"
	"\n"
	"Tracks every connection through IFACE: XDP on ingress (TC ingress with\n"
	"--mode tc, or when the driver has no XDP), TC on egress.\n"
	"  --mode native      XDP in the driver (default; falls back to tc if the\n"
	"                     driver cannot run XDP, unless given explicitly)\n"
	"  --mode generic     XDP in the stack, for testing\n"
	"  --mode tc          TC ingress\n"
	"  --max-entries N    table size when it is first created (default 262144)\n"
	"  --ct-events-size BYTES\n"
	"                     ring buffer of 'xct ct events', a power of 2 from\n"
	"                     4096 (default 32 MiB; kept from the running xct)\n"
	"  --zone N           the conntrack zone, 0 to 65535 (default 0), of the\n"
	"                     connections whose packets arrive on IFACE (or leave\n"
	"                     by it, sent by this host): the same addresses and\n"
	"                     ports in two zones are two connections, as with\n"
	"                     nft's 'ct zone set'; kept until detach\n"
	"  --replace          swap the programs on already attached interfaces for\n"
	"                     the ones of this xct, atomically, keeping the table\n"
	"                     (how a new version of xct takes over); every\n"
	"                     attached interface, named, and only hooks that\n"
	"                     still run this instance's programs\n"
	"\n"
	"An interface whose XDP hook, or whose TC handle 0x7c7 priority 0x7c7, is\n"
	"held by another program (another xct instance's too) is refused before\n"
	"anything changes, with the holder named (with --mode tc, an XDP program\n"
	"that is not xct's may stay).  Every interface of an instance runs the\n"
	"programs the first attach loaded; next to programs of another build,\n"
	"attach refuses and names the --replace to run first.  Exit status 1\n"
	"then, 2 for bad usage.\n"
	"\n"
	"Examples:\n"
	"  xct attach eth0\n"
	"  xct attach veth0 veth1 --mode tc --max-entries 1048576\n"
	"  xct attach vrf-red0 --zone 1\n"
	"  xct attach --replace eth0\n";

static __u32 prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static void link_pin_path(char *buf, size_t len, int ifindex)
{
	char name[64];

	snprintf(name, sizeof(name), "link_xdp_%d", ifindex);
	xct_pin(buf, len, name);
}

/*
 * An entry of an older registry lacks the ids of the reject answerer and
 * of the XDP link; they are read from the kernel, where that xct put them,
 * the answerer only if it is one (by name: that xct kept no other trace).
 */
static void iface_fill_legacy(__u32 ifindex, struct xct_iface *v)
{
	__u32 link_id, prog, ifi, answer;
	char path[4096], name[64];

	if (v->mode == XCT_MODE_TC)
		return;
	answer = xct_tc_prog_at((int)ifindex, BPF_TC_INGRESS);
	xct_prog_name(answer, name, sizeof(name));
	if (!v->answer_prog_id && answer && !strcmp(name, "xct_tc_answer"))
		v->answer_prog_id = answer;
	link_pin_path(path, sizeof(path), (int)ifindex);
	if (!v->xdp_link_id && !xct_link_at(path, &link_id, &prog, &ifi))
		v->xdp_link_id = link_id;
}

/* Copies an older registry into this load's. */
static int migrate_registry(int old_fd, int new_fd)
{
	__u32 key, *prev = NULL;

	while (bpf_map_get_next_key(old_fd, prev, &key) == 0) {
		struct xct_iface v = {};

		prev = &key;
		if (bpf_map_lookup_elem(old_fd, &key, &v))
			continue;
		iface_fill_legacy(key, &v);
		if (bpf_map_update_elem(new_fd, &key, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* Pins an older registry back after a failed load, as it was. */
static void restore_registry(int old_fd)
{
	char path[4096];

	if (old_fd < 0)
		return;
	if (bpf_obj_pin(old_fd, xct_pin(path, sizeof(path), "xct_ifaces")))
		xct_err("cannot pin the interface registry back at %s: %s", path, strerror(errno));
	close(old_fd);
}

/* Runs one command of the control program (GC start, GC run). */
static int run_ctl(struct xct_bpf *skel, __u16 cmd)
{
	struct xct_ctl_msg msg = {.cmd = cmd};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &msg, .data_size_in = sizeof(msg),
		    .data_out = &msg, .data_size_out = sizeof(msg), .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xct_ctl), &opts);
	if (err)
		return -errno;
	return msg.ret;
}

/* Whether a pinned map has the layout this xct's object gives it. */
static bool same_layout(const struct bpf_map *map, const struct bpf_map_info *info)
{
	return info->type == bpf_map__type(map) && info->key_size == bpf_map__key_size(map) &&
	       info->value_size == bpf_map__value_size(map) &&
	       info->max_entries == bpf_map__max_entries(map) &&
	       info->map_flags == bpf_map__map_flags(map);
}

/*
 * An older xct's registry (16-byte entries) is taken over by copying: the
 * entries are read from the old map, which stays pinned until this load
 * has succeeded, into the one this load creates.
 */
static bool is_v1_registry(const struct bpf_map *map, const struct bpf_map_info *info)
{
	return !strcmp(bpf_map__name(map), "xct_ifaces") && info->type == bpf_map__type(map) &&
	       info->key_size == bpf_map__key_size(map) && info->value_size == XCT_IFACE_V1_SIZE;
}

/* Reads the pinned map's info; false if there is no pin. */
static bool pinned_info(const struct bpf_map *map, struct bpf_map_info *info)
{
	const char *path = bpf_map__pin_path(map);
	__u32 len = sizeof(*info);
	int fd, err;

	if (!path)
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	memset(info, 0, sizeof(*info));
	err = bpf_obj_get_info_by_fd(fd, info, &len);
	close(fd);
	return !err;
}

/*
 * A pinned map of an older xct whose layout differs from this one's cannot
 * be reused, and libbpf would refuse the whole load.  Maps that hold no
 * connection are unpinned and start afresh (counters, an older policy: the
 * rules are loaded again).  The maps that hold connections are never
 * dropped here: a change of the table's layout, or of the NAT bindings'
 * (dropping them would cut every translated connection, whose replies
 * would no longer find their way back), needs a migration this xct does
 * not have, so the load is refused.  Every map is checked before any is
 * unpinned, so that a refusal changes nothing.  The registry of an older
 * layout is migrated: its map stays pinned, open in *old_ifaces_fd, until
 * the load has succeeded.
 */
static int drop_stale_pins(struct xct_bpf *skel, bool *nat_rules_dropped, int *old_ifaces_fd)
{
	struct bpf_map_info info;
	struct bpf_map *map;

	bpf_object__for_each_map(map, skel->obj)
	{
		const char *name = bpf_map__name(map);

		if (!pinned_info(map, &info) || same_layout(map, &info))
			continue;
		if (!strcmp(name, "xct_ct")) {
			xct_err("the connection table under %s has another layout than this xct's; "
				"it cannot be taken over without a migration",
				xct_opts.pin_path);
			return -EINVAL;
		}
		if (!strcmp(name, "xct_nat") || !strcmp(name, "xct_nat_rev")) {
			xct_err("the NAT bindings under %s (%s) have another layout than this "
				"xct's; taking them over would cut every translated connection, so "
				"nothing was changed ('xct detach --all' drops them with the table)",
				xct_opts.pin_path, name);
			return -EINVAL;
		}
		if (!strcmp(name, "xct_ifaces") && !is_v1_registry(map, &info)) {
			xct_err("the interface registry under %s has a layout this xct does not "
				"know; nothing was changed",
				xct_opts.pin_path);
			return -EINVAL;
		}
	}
	bpf_object__for_each_map(map, skel->obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (!pinned_info(map, &info) || same_layout(map, &info))
			continue;
		if (is_v1_registry(map, &info)) {
			*old_ifaces_fd = bpf_obj_get(path);
			if (*old_ifaces_fd < 0 || unlink(path)) {
				xct_err("cannot take over the registry %s: %s", path,
					strerror(errno));
				return -errno;
			}
			continue;
		}
		fprintf(stderr, "xct: %s: layout changed since it was pinned, starting it afresh\n",
			bpf_map__name(map));
		if (!strcmp(bpf_map__name(map), "xct_nat_rules"))
			*nat_rules_dropped = true;
		if (unlink(path)) {
			xct_err("cannot unpin %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* Opens and loads the programs against the pinned maps (creating them with
 * max_entries if they do not exist yet). */
/* The size of a pinned map, or 0 if there is none. */
static __u32 pinned_max_entries(const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[4096];
	int fd = bpf_obj_get(xct_pin(path, sizeof(path), name));

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/*
 * Pins the control program, so that later commands (xct ct delete and
 * flush) run the loaded datapath's own copy: a delete must go through the
 * datapath to send its DESTROY into the ring.  The newest load's copy
 * replaces an older one.
 */
static int pin_ctl(struct xct_bpf *skel)
{
	char path[4096];

	xct_pin(path, sizeof(path), "xct_ctl");
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bpf_obj_pin(bpf_program__fd(skel->progs.xct_ctl), path) ? -errno : 0;
}

static struct xct_bpf *load_datapath(__u64 max_entries, bool max_given, __u32 ct_events_size,
				     int *exit_code)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = xct_opts.pin_path);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct bpf_map *map;
	struct xct_bpf *skel;
	bool nat_rules_dropped = false;
	int fd, err, old_ifaces_fd = -1;
	char path[4096];

	*exit_code = XCT_EXIT_RUNTIME;
	fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_ct"));
	if (fd >= 0) {
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (err) {
			xct_err("cannot read %s: %s", path, strerror(errno));
			return NULL;
		}
		if (max_given && info.max_entries != max_entries) {
			xct_err("the table under %s already has %u entries; 'xct detach --all' "
				"drops it before it can be resized",
				xct_opts.pin_path, info.max_entries);
			return NULL;
		}
		max_entries = info.max_entries;
	}

	skel = xct_bpf__open_opts(&open_opts);
	if (!skel) {
		xct_err("cannot open the BPF programs: %s", strerror(errno));
		return NULL;
	}
	err = xct_datapath_size(skel, (__u32)max_entries);
	if (err) {
		xct_err("cannot size the table to %llu entries: %s",
			(unsigned long long)max_entries, strerror(-err));
		xct_bpf__destroy(skel);
		return NULL;
	}
	/* The events ring holds no state: a new size replaces it. */
	if (!ct_events_size)
		ct_events_size = pinned_max_entries("xct_ct_events");
	if (ct_events_size)
		bpf_map__set_max_entries(skel->maps.xct_ct_events, ct_events_size);
	/* The program arrays stay this load's own until it has taken every
	 * hook over: the running load's tail calls keep reaching its own
	 * programs meanwhile (xct_load_publish() pins these in their place). */
	bpf_object__for_each_map(map, skel->obj)
	{
		if (xct_load_is_prog_array(map))
			bpf_map__set_pin_path(map, NULL);
	}
	/* The tunables are a global section of the datapath, which libbpf
	 * pins only by path: shared, like the maps, by every load. */
	if (bpf_map__set_pin_path(skel->maps.data_xct_timeouts,
				  xct_pin(path, sizeof(path), "xct_timeouts"))) {
		xct_err("cannot name the pin of xct_timeouts: %s", strerror(errno));
		xct_bpf__destroy(skel);
		return NULL;
	}
	if (bpf_map__set_pin_path(skel->maps.data_xct_zone_cfg,
				  xct_pin(path, sizeof(path), "xct_zone_cfg"))) {
		xct_err("cannot name the pin of xct_zone_cfg: %s", strerror(errno));
		xct_bpf__destroy(skel);
		return NULL;
	}
	if (drop_stale_pins(skel, &nat_rules_dropped, &old_ifaces_fd)) {
		restore_registry(old_ifaces_fd);
		xct_bpf__destroy(skel);
		return NULL;
	}
	err = xct_bpf__load(skel);
	if (err) {
		xct_err("cannot load the BPF programs: %s%s", strerror(-err),
			xct_opts.verbose ? "" : " (run with -v for the verifier's log)");
		restore_registry(old_ifaces_fd);
		xct_bpf__destroy(skel);
		return NULL;
	}
	if (old_ifaces_fd >= 0) {
		err = migrate_registry(old_ifaces_fd, bpf_map__fd(skel->maps.xct_ifaces));
		if (err) {
			xct_err("cannot migrate the interface registry: %s", strerror(-err));
			unlink(xct_pin(path, sizeof(path), "xct_ifaces"));
			restore_registry(old_ifaces_fd);
			xct_bpf__destroy(skel);
			return NULL;
		}
		close(old_ifaces_fd);
	}
	/* The NAT programs hand translated packets to the TC tracker; set
	 * here, not in the object, so that a load without that program (a
	 * replay, the BPF tests) needs none. */
	{
		__u32 slot = XCT_NAT_PROG_TRACK;
		int prog = bpf_program__fd(skel->progs.xct_tc_ingress);

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.xct_nat_progs), &slot, &prog,
					BPF_ANY)) {
			err = -errno;
			xct_err("cannot set up the NAT programs: %s", strerror(-err));
			xct_bpf__destroy(skel);
			return NULL;
		}
	}
	/* NAT rules of another layout were dropped: none are left to walk
	 * until the next rules load (the bindings stay, and keep working). */
	if (nat_rules_dropped) {
		int nfd = bpf_map__fd(skel->maps.xct_nat_ctl);
		struct xct_nat_ctl nctl;
		__u32 zero = 0;

		if (!bpf_map_lookup_elem(nfd, &zero, &nctl)) {
			nctl.n_rules[0] = nctl.n_rules[1] = 0;
			bpf_map_update_elem(nfd, &zero, &nctl, BPF_ANY);
		}
	}
	err = run_ctl(skel, XCT_CTL_GC_START);
	if (err) {
		xct_err("cannot start the table's garbage collector: %s", strerror(-err));
		xct_bpf__destroy(skel);
		return NULL;
	}
	err = pin_ctl(skel);
	if (err) {
		xct_err("cannot pin the control program under %s: %s", xct_opts.pin_path,
			strerror(-err));
		xct_bpf__destroy(skel);
		return NULL;
	}
	*exit_code = XCT_EXIT_OK;
	return skel;
}

static const char *tc_point_name(enum bpf_tc_attach_point point)
{
	return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

/*
 * Adds (replace false) or swaps (replace true, xct attach --replace) the
 * filter at xct's handle and priority.  A plain add fails with EEXIST if
 * any filter is there, so a filter someone else put there after the checks
 * is never overwritten; a swap is only asked for once the filter there was
 * found to be this instance's (tc offers no compare-and-swap: a filter
 * replaced by someone else between that check and the swap would be
 * swapped too).
 */
static int tc_attach(int ifindex, enum bpf_tc_attach_point point, int prog_fd, bool replace,
		     bool *own_clsact)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XCT_TC_HANDLE, .priority = XCT_TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = replace ? BPF_TC_F_REPLACE : 0);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	if (!err)
		*own_clsact = true;
	return bpf_tc_attach(&hook, &opts);
}

/*
 * Deletes the filter at xct's handle and priority if it still runs the
 * program xct attached there (want); a filter someone else put there is
 * left alone, and reported.  Returns whether no filter of anyone's is left
 * at the handle.
 */
static bool tc_detach_own(const char *name, int ifindex, enum bpf_tc_attach_point point, __u32 want)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XCT_TC_HANDLE, .priority = XCT_TC_PRIORITY);
	__u32 have = xct_tc_prog_at(ifindex, point);
	char holder[4200];

	if (!have)
		return true;
	if (have != want) {
		xct_describe_holder(have, holder, sizeof(holder));
		fprintf(stderr,
			"xct: %s: the TC %s filter at xct's handle is not xct's (it runs %s); "
			"left as it is\n",
			name, tc_point_name(point), holder);
		return false;
	}
	return bpf_tc_detach(&hook, &opts) == 0;
}

/* Removes everything xct put on one interface, and its registry entry;
 * nothing of anyone else's. */
static void detach_iface(int ifaces_fd, __u32 ifindex, const struct xct_iface *iface)
{
	char path[4096], name[IF_NAMESIZE];
	bool ingress_gone, egress_gone;
	int fd;

	if (!if_indextoname(ifindex, name) && xct_ifname_recorded(xct_opts.pin_path, ifindex, name))
		snprintf(name, sizeof(name), "ifindex %u", ifindex);
	/* The link is this instance's own pin: detaching it removes only the
	 * program it attached. */
	link_pin_path(path, sizeof(path), (int)ifindex);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
		unlink(path);
	}
	/* TC ingress holds the tracker in tc mode, the reject answerer next
	 * to XDP otherwise. */
	ingress_gone = tc_detach_own(name, (int)ifindex, BPF_TC_INGRESS,
				     iface->mode == XCT_MODE_TC ? iface->ingress_prog_id
								: iface->answer_prog_id);
	egress_gone = tc_detach_own(name, (int)ifindex, BPF_TC_EGRESS, iface->egress_prog_id);
	/* The qdisc xct created goes once it holds no filter: one of
	 * someone else's, at xct's handle or any other, keeps it. */
	if ((iface->flags & XCT_IFACE_OWN_CLSACT) && ingress_gone && egress_gone &&
	    xct_tc_filter_count((int)ifindex, BPF_TC_INGRESS) == 0 &&
	    xct_tc_filter_count((int)ifindex, BPF_TC_EGRESS) == 0) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&hook);
	}
	bpf_map_delete_elem(ifaces_fd, &ifindex);
	xct_zone_forget(xct_opts.pin_path, ifindex);
	xct_ifname_forget(xct_opts.pin_path, ifindex);
}

/*
 * Whether every hook the registry lists for an interface is there and
 * runs the program xct attached: what status reports, and what --replace
 * requires before it swaps anything.  Each missing hook is described in
 * why[] (at most XCT_HOOKS_MAX); returns their number.
 */
#define XCT_HOOKS_MAX 4

struct hook_problem {
	const char *hook;
	char why[4300];
};

static int check_hooks(__u32 ifindex, const struct xct_iface *v, struct hook_problem *p)
{
	__u32 link_id, prog, ifi, have;
	char path[4096], name[IF_NAMESIZE], holder[4200];
	int n = 0, err;

	if (!if_indextoname(ifindex, name)) {
		p[n].hook = "interface";
		if (!xct_ifname_recorded(xct_opts.pin_path, ifindex, name))
			snprintf(p[n++].why, sizeof(p->why),
				 "%s (ifindex %u) was deleted; 'xct detach %s' removes its state",
				 name, ifindex, name);
		else
			snprintf(p[n++].why, sizeof(p->why), "interface %u is gone", ifindex);
		return n;
	}
	if (v->mode != XCT_MODE_TC) {
		link_pin_path(path, sizeof(path), (int)ifindex);
		err = xct_link_at(path, &link_id, &prog, &ifi);
		have = xct_xdp_prog_on((int)ifindex);
		p[n].hook = "xdp";
		if (err)
			snprintf(p[n++].why, sizeof(p->why),
				 "the XDP link pinned at %s is gone (%s)", path, strerror(-err));
		else if (v->xdp_link_id && link_id != v->xdp_link_id)
			snprintf(p[n++].why, sizeof(p->why),
				 "the XDP link pinned at %s is link %u, not the one xct made (%u)",
				 path, link_id, v->xdp_link_id);
		else if (ifi != ifindex)
			snprintf(p[n++].why, sizeof(p->why), "the XDP link was detached from %s",
				 name);
		else if (prog != v->ingress_prog_id || have != v->ingress_prog_id) {
			if (have)
				xct_describe_holder(have, holder, sizeof(holder));
			snprintf(p[n++].why, sizeof(p->why),
				 "XDP on %s runs %s, not xct's (prog %u)", name,
				 have ? holder : "nothing", v->ingress_prog_id);
		}
	}
	have = xct_tc_prog_at((int)ifindex, BPF_TC_INGRESS);
	if (have != (v->mode == XCT_MODE_TC ? v->ingress_prog_id : v->answer_prog_id)) {
		p[n].hook = v->mode == XCT_MODE_TC ? "tc ingress" : "tc ingress answerer";
		if (have)
			xct_describe_holder(have, holder, sizeof(holder));
		snprintf(p[n++].why, sizeof(p->why),
			 "the TC ingress filter at handle 0x%x priority 0x%x %s%s", XCT_TC_HANDLE,
			 XCT_TC_PRIORITY, have ? "runs " : "is gone", have ? holder : "");
	}
	have = xct_tc_prog_at((int)ifindex, BPF_TC_EGRESS);
	if (have != v->egress_prog_id) {
		p[n].hook = "tc egress";
		if (have)
			xct_describe_holder(have, holder, sizeof(holder));
		snprintf(p[n++].why, sizeof(p->why),
			 "the TC egress filter at handle 0x%x priority 0x%x %s%s", XCT_TC_HANDLE,
			 XCT_TC_PRIORITY, have ? "runs " : "is gone", have ? holder : "");
	}
	return n;
}

/*
 * Swaps the programs on an attached interface for those of progs (a new
 * load's, or the running ones' again when a swap elsewhere failed): the
 * XDP link is updated in place and the TC filters replaced, each an atomic
 * switch, so every packet meets either the old program or the new one,
 * and both use the same pinned table.  The hooks were found to be this
 * instance's before the load (check_hooks()).
 */
static int replace_iface(const struct xct_hook_progs *progs, int ifaces_fd, const char *name,
			 __u32 ifindex, struct xct_iface *iface)
{
	bool own_clsact = false;
	char path[4096];
	int err, fd;

	if (iface->mode == XCT_MODE_TC) {
		err = tc_attach((int)ifindex, BPF_TC_INGRESS, progs->tc_ingress, true, &own_clsact);
		if (err) {
			xct_err("cannot replace the TC ingress program of %s: %s", name,
				strerror(-err));
			return err;
		}
		iface->ingress_prog_id = prog_id(progs->tc_ingress);
	} else {
		err = tc_attach((int)ifindex, BPF_TC_INGRESS, progs->tc_answer, true, &own_clsact);
		if (err) {
			xct_err("cannot replace the TC ingress program of %s: %s", name,
				strerror(-err));
			return err;
		}
		iface->answer_prog_id = prog_id(progs->tc_answer);
		link_pin_path(path, sizeof(path), (int)ifindex);
		fd = bpf_obj_get(path);
		if (fd < 0 || bpf_link_update(fd, progs->xdp, NULL)) {
			err = -errno;
			xct_err("cannot replace the XDP program of %s: %s", name, strerror(-err));
			if (fd >= 0)
				close(fd);
			bpf_map_update_elem(ifaces_fd, &ifindex, iface, BPF_EXIST);
			return err;
		}
		close(fd);
		iface->ingress_prog_id = prog_id(progs->xdp);
	}
	err = tc_attach((int)ifindex, BPF_TC_EGRESS, progs->tc_egress, true, &own_clsact);
	if (err) {
		xct_err("cannot replace the TC egress program of %s: %s", name, strerror(-err));
		bpf_map_update_elem(ifaces_fd, &ifindex, iface, BPF_EXIST);
		return err;
	}
	iface->egress_prog_id = prog_id(progs->tc_egress);
	bpf_map_update_elem(ifaces_fd, &ifindex, iface, BPF_EXIST);
	return 0;
}

/*
 * Whether an interface is free for this instance: no other xct instance
 * and no other XDP program on it, and nothing at xct's TC handle.  Checked
 * for every interface before anything changes; the message names the
 * holder.  With --mode tc an XDP program of another tool may stay (it runs
 * before xct's TC ingress); another xct's may not.
 */
static int check_iface_free(const char *name, __u32 ifindex, __u32 mode)
{
	static const enum bpf_tc_attach_point points[] = {BPF_TC_INGRESS, BPF_TC_EGRESS};
	char holder[4200], pname[64];
	__u32 have;
	size_t i;

	have = xct_xdp_prog_on((int)ifindex);
	xct_prog_name(have, pname, sizeof(pname));
	if (have && (mode != XCT_MODE_TC || !strncmp(pname, "xct_", 4))) {
		xct_describe_holder(have, holder, sizeof(holder));
		xct_err("cannot attach to %s: its XDP hook is held by %s", name, holder);
		return -EBUSY;
	}
	for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		have = xct_tc_prog_at((int)ifindex, points[i]);
		if (!have)
			continue;
		xct_describe_holder(have, holder, sizeof(holder));
		xct_err("cannot attach to %s: its TC %s filter at xct's handle 0x%x priority 0x%x "
			"is held by %s",
			name, tc_point_name(points[i]), XCT_TC_HANDLE, XCT_TC_PRIORITY, holder);
		return -EBUSY;
	}
	return 0;
}

/* Reports a hook that could not be added because something took it
 * after check_iface_free(). */
static void report_taken(const char *name, const char *hook, __u32 have, int err)
{
	char holder[4200];

	if (!have) {
		xct_err("cannot attach to %s of %s: %s", hook, name, strerror(-err));
		return;
	}
	xct_describe_holder(have, holder, sizeof(holder));
	xct_err("cannot attach to %s of %s: held by %s", hook, name, holder);
}

static int policy_header(struct xct_policy_gen *g);

/* Hooks one interface to progs; on failure leaves it as it was. */
static int attach_iface(const struct xct_hook_progs *progs, int ifaces_fd, const char *name,
			__u32 ifindex, __u32 mode, bool mode_given)
{
	struct xct_iface iface = {.mode = mode};
	bool own_clsact = false;
	char path[4096];
	int err, link_fd = -1;

	/* Registered first, so that the egress program knows from the first
	 * forwarded packet that ingress already tracked it. */
	if (bpf_map_update_elem(ifaces_fd, &ifindex, &iface, BPF_NOEXIST)) {
		xct_err("cannot register %s: %s", name, strerror(errno));
		return -errno;
	}

	/* Each hook's program id is recorded as soon as it is attached: the
	 * undo below deletes only what this command added. */
	if (mode != XCT_MODE_TC) {
		/* The answerer of XDP's rejects first: from XDP's first packet
		 * on, a packet it marks rejected must not reach the stack
		 * unanswered. */
		err = tc_attach((int)ifindex, BPF_TC_INGRESS, progs->tc_answer, false, &own_clsact);
		if (err) {
			report_taken(name, "TC ingress",
				     xct_tc_prog_at((int)ifindex, BPF_TC_INGRESS), err);
			goto fail;
		}
		iface.answer_prog_id = prog_id(progs->tc_answer);
	}
	if (mode != XCT_MODE_TC) {
		LIBBPF_OPTS(bpf_link_create_opts, lo,
			    .flags = mode == XCT_MODE_GENERIC ? XDP_FLAGS_SKB_MODE
							      : XDP_FLAGS_DRV_MODE);

		link_fd = bpf_link_create(progs->xdp, (int)ifindex, BPF_XDP, &lo);
		if (link_fd < 0) {
			err = -errno;
			/* Only a driver without XDP falls back to TC; EBUSY
			 * or EEXIST mean another program holds the hook. */
			if (mode_given || err != -EOPNOTSUPP) {
				report_taken(name, "XDP", xct_xdp_prog_on((int)ifindex), err);
				goto fail;
			}
			fprintf(stderr, "xct: %s: no native XDP (%s), tracking ingress at TC\n",
				name, strerror(-err));
			/* The answerer's place is the tracker's now. */
			tc_detach_own(name, (int)ifindex, BPF_TC_INGRESS, iface.answer_prog_id);
			iface.answer_prog_id = 0;
			mode = XCT_MODE_TC;
		} else {
			struct bpf_link_info li = {};
			__u32 li_len = sizeof(li);

			link_pin_path(path, sizeof(path), (int)ifindex);
			if (bpf_obj_pin(link_fd, path)) {
				err = -errno;
				xct_err("cannot pin the XDP link of %s at %s: %s", name, path,
					strerror(-err));
				goto fail;
			}
			iface.ingress_prog_id = prog_id(progs->xdp);
			if (!bpf_obj_get_info_by_fd(link_fd, &li, &li_len))
				iface.xdp_link_id = li.id;
		}
	}
	iface.mode = mode;
	if (mode == XCT_MODE_TC) {
		err = tc_attach((int)ifindex, BPF_TC_INGRESS, progs->tc_ingress, false,
				&own_clsact);
		if (err) {
			report_taken(name, "TC ingress",
				     xct_tc_prog_at((int)ifindex, BPF_TC_INGRESS), err);
			goto fail;
		}
		iface.ingress_prog_id = prog_id(progs->tc_ingress);
	}
	err = tc_attach((int)ifindex, BPF_TC_EGRESS, progs->tc_egress, false, &own_clsact);
	if (err) {
		report_taken(name, "TC egress", xct_tc_prog_at((int)ifindex, BPF_TC_EGRESS), err);
		goto fail;
	}
	iface.egress_prog_id = prog_id(progs->tc_egress);
	iface.flags = own_clsact ? XCT_IFACE_OWN_CLSACT : 0;
	bpf_map_update_elem(ifaces_fd, &ifindex, &iface, BPF_EXIST);
	if (link_fd >= 0)
		close(link_fd);
	return 0;

fail:
	iface.flags = own_clsact ? XCT_IFACE_OWN_CLSACT : 0;
	if (link_fd >= 0)
		close(link_fd);
	detach_iface(ifaces_fd, ifindex, &iface);
	return err;
}

/*
 * Gives each interface about to be attached the class the running rules
 * give its name (iifname "veth*" and interfaces created after the load),
 * before its first packet.  Nothing to do before the first rules load:
 * there are no policy maps yet.
 */
static int set_iface_classes(char **names, const __u32 *ifindex, int n)
{
	struct xct_policy_maps maps;
	char path[4096];
	int i, err = 0;

	if (access(xct_pin(path, sizeof(path), "xct_iface_names"), F_OK))
		return 0;
	if (xct_policy_open(&maps))
		return -1;
	for (i = 0; i < n && !err; i++) {
		err = xct_policy_iface_added(&maps, ifindex[i], names[i]);
		if (err)
			xct_err("cannot give %s its class in the running rules: %s", names[i],
				strerror(-err));
	}
	xct_policy_close(&maps);
	return err;
}

/*
 * The interfaces of this instance other than the n named, whose hooks are
 * still there to run a load's programs (an interface deleted since took
 * its hooks with it): their names, space-separated, in buf, and their
 * number.
 */
static int others_attached(int ifaces_fd, const __u32 *named, int n, char *buf, size_t len)
{
	__u32 key, *prev = NULL;
	char name[IF_NAMESIZE];
	size_t used = 0;
	int i, count = 0;

	buf[0] = 0;
	while (bpf_map_get_next_key(ifaces_fd, prev, &key) == 0) {
		prev = &key;
		for (i = 0; i < n && named[i] != key; i++)
			;
		if (i < n || !if_indextoname(key, name))
			continue;
		if (used + strlen(name) + 2 > len)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", count ? " " : "", name);
		count++;
	}
	return count;
}

/*
 * Refuses to load a second copy of the programs next to the running one
 * (whose: who loaded it; NULL when it is this build's, with another ring
 * size asked for): the running one's hand-offs would reach the new copy's
 * tail calls and track packets twice.
 */
static void refuse_second_load(const char *whose, const char *others, __u32 ring,
			       __u64 ct_events_size)
{
	if (!whose) {
		xct_err("cannot attach with --ct-events-size %llu: %s run the programs with a "
			"ring of %u bytes; 'xct attach --replace --ct-events-size %llu %s' "
			"resizes it for every interface, then attach",
			(unsigned long long)ct_events_size, others, ring,
			(unsigned long long)ct_events_size, others);
		return;
	}
	xct_err("cannot attach next to %s: they run programs %s loaded, and a second load "
		"beside them would track their packets twice; 'xct attach --replace %s' runs "
		"this xct's on them first, then attach",
		others, whose, others);
}

/* Opens the programs an attached interface runs, by the ids its registry
 * entry recorded: what a failed --replace goes back to. */
static int hold_running(const struct xct_iface *v, struct xct_hook_progs *p)
{
	*p = (struct xct_hook_progs)XCT_HOOK_PROGS_NONE;
	if (v->mode == XCT_MODE_TC) {
		p->tc_ingress = bpf_prog_get_fd_by_id(v->ingress_prog_id);
		if (p->tc_ingress < 0)
			return -errno;
	} else {
		p->xdp = bpf_prog_get_fd_by_id(v->ingress_prog_id);
		p->tc_answer = bpf_prog_get_fd_by_id(v->answer_prog_id);
		if (p->xdp < 0 || p->tc_answer < 0) {
			xct_hook_progs_close(p);
			return -ENOENT;
		}
	}
	p->tc_egress = bpf_prog_get_fd_by_id(v->egress_prog_id);
	if (p->tc_egress < 0) {
		xct_hook_progs_close(p);
		return -ENOENT;
	}
	return 0;
}

/*
 * Whether what this command attached can be found again the way every
 * later command finds it: the state directory walked and opened anew by
 * its path, the namespace record this namespace's, and each interface in
 * the registry with every hook running the program recorded there.  An
 * attach that a later command would not see (a state on a filesystem that
 * goes with this command) is not reported as attached.  The modes found
 * are returned in mode[].
 */
static int verify_attached(char **names, const __u32 *ifindex, int n, __u32 *mode)
{
	struct hook_problem problems[XCT_HOOKS_MAX];
	struct xct_iface cur;
	struct xct_table t;
	int i, err;

	err = xct_table_open(&t);
	if (err) {
		xct_err("the state under %s cannot be opened again after the attach",
			xct_opts.pin_path);
		return err;
	}
	for (i = 0; i < n && !err; i++) {
		memset(&cur, 0, sizeof(cur));
		if (bpf_map_lookup_elem(t.ifaces_fd, &ifindex[i], &cur)) {
			xct_err("%s is not in the registry under %s after the attach", names[i],
				xct_opts.pin_path);
			err = -ENOENT;
		} else if (check_hooks(ifindex[i], &cur, problems)) {
			xct_err("%s after the attach: %s", names[i], problems[0].why);
			err = -ENOENT;
		}
		mode[i] = cur.mode;
	}
	xct_table_close(&t);
	return err;
}

/* Detaches the first n interfaces this command attached. */
static void undo_attach(int fd, char **names, const __u32 *ifindex, int n)
{
	int j;

	for (j = 0; j < n; j++) {
		struct xct_iface cur = {};

		bpf_map_lookup_elem(fd, &ifindex[j], &cur);
		detach_iface(fd, ifindex[j], &cur);
		fprintf(stderr, "xct: %s: detached again\n", names[j]);
	}
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"max-entries", required_argument, NULL, 'n'},
		{"ct-events-size", required_argument, NULL, 'e'},
		{"replace", no_argument, NULL, 'r'},
		{"zone", required_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	__u32 ifindex[MAX_IFACES], mode = XCT_MODE_NATIVE, found_mode[MAX_IFACES];
	__u64 max_entries = XCT_MAX_ENTRIES_DEFAULT, ct_events_size = 0;
	bool mode_given = false, max_given = false, replace = false, zone_given = false;
	__u16 zone = 0;
	struct xct_hook_progs progs = XCT_HOOK_PROGS_NONE, old[MAX_IFACES];
	struct xct_iface current[MAX_IFACES];
	struct xct_policy_gen g_running;
	int c, i, j, n, ret, exit_code, err, others, n_old = 0, ifaces_fd;
	char path[4096], others_list[MAX_IFACES * (IF_NAMESIZE + 1)];
	struct xct_bpf *skel = NULL;
	__u64 build, running = 0;
	bool reuse = false;
	size_t elf_len = 0;
	__u32 ring;
	int fd;

	xct_syslog_enable();
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mode_given = true;
			if (!strcmp(optarg, "native"))
				mode = XCT_MODE_NATIVE;
			else if (!strcmp(optarg, "generic"))
				mode = XCT_MODE_GENERIC;
			else if (!strcmp(optarg, "tc"))
				mode = XCT_MODE_TC;
			else
				return xct_usage_error("--mode: '%s' is not native, generic or tc",
						       optarg);
			break;
		case 'n':
			if (xct_parse_u64(optarg, 1, 1U << 26, &max_entries))
				return xct_usage_error("--max-entries: '%s' is not a number from 1 "
						       "to 67108864",
						       optarg);
			max_given = true;
			break;
		case 'e':
			if (xct_parse_u64(optarg, 4096, 1U << 30, &ct_events_size) ||
			    (ct_events_size & (ct_events_size - 1)))
				return xct_usage_error("--ct-events-size: '%s' is not a power of 2 "
						       "from 4096 to 1073741824",
						       optarg);
			break;
		case 'r':
			replace = true;
			break;
		case 'z':
			if (xct_zone_parse(optarg, &zone))
				return xct_usage_error("--zone: '%s' is not a number from 0 to %d",
						       optarg, XCT_ZONE_MAX);
			zone_given = true;
			break;
		case 'h':
			fputs(attach_usage, stdout);
			return XCT_EXIT_OK;
		case ':':
			return xct_usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return xct_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (replace && mode_given)
		return xct_usage_error("--replace keeps each interface's mode; --mode goes "
				       "with a new attachment");
	if (replace && zone_given)
		return xct_usage_error("--replace keeps each interface's zone; --zone goes "
				       "with a new attachment");
	n = argc - optind;
	if (n <= 0)
		return xct_usage_error("attach: which interface?");
	if (n > MAX_IFACES)
		return xct_usage_error("attach: at most %d interfaces at once", MAX_IFACES);

	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	for (i = 0; i < n; i++) {
		const char *name = argv[optind + i];

		ifindex[i] = if_nametoindex(name);
		if (!ifindex[i]) {
			xct_err("cannot attach to %s: no such interface", name);
			return XCT_EXIT_RUNTIME;
		}
		for (j = 0; j < i; j++)
			if (ifindex[j] == ifindex[i])
				return xct_usage_error("attach: %s named twice", name);
	}
	if (xct_prepare_pin_path(xct_opts.pin_path, XCT_PIN_CREATE) ||
	    xct_netns_record(xct_opts.pin_path))
		return XCT_EXIT_RUNTIME;
	build = xct_load_build_id(xct_bpf__elf_bytes(&elf_len), elf_len);

	/* XDP has no skb, so no packet mark for rules on arriving packets
	 * (xct rules load refuses them the other way round). */
	if (!replace && mode != XCT_MODE_TC && policy_header(&g_running) &&
	    g_running.meta_mark_in) {
		xct_err("cannot attach with ingress %s: the running rules read or set 'meta mark' "
			"on arriving packets, which needs xct at TC ingress (--mode tc)",
			mode_name(mode));
		return XCT_EXIT_RUNTIME;
	}

	/* Already attached (or, for --replace, not)? Checked before anything
	 * changes. */
	memset(current, 0, sizeof(current));
	fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_ifaces"));
	for (i = 0; i < n; i++) {
		bool attached = fd >= 0 && bpf_map_lookup_elem(fd, &ifindex[i], &current[i]) == 0;
		struct hook_problem problems[XCT_HOOKS_MAX];

		if (attached && !replace) {
			xct_err("%s: already attached (ingress %s); detach it first, or "
				"--replace its programs",
				argv[optind + i], mode_name(current[i].mode));
			close(fd);
			return XCT_EXIT_RUNTIME;
		}
		if (!attached && replace) {
			xct_err("cannot replace on %s: not attached", argv[optind + i]);
			if (fd >= 0)
				close(fd);
			return XCT_EXIT_RUNTIME;
		}
		/* Only this instance's own hooks are swapped: one that is
		 * gone or runs someone else's program is reported, and
		 * nothing is replaced anywhere. */
		if (attached) {
			iface_fill_legacy(ifindex[i], &current[i]);
			if (check_hooks(ifindex[i], &current[i], problems)) {
				xct_err("cannot replace on %s: %s ('xct status' shows every "
					"hook; detach it and attach again)",
					argv[optind + i], problems[0].why);
				close(fd);
				return XCT_EXIT_RUNTIME;
			}
		} else if (check_iface_free(argv[optind + i], ifindex[i], mode)) {
			if (fd >= 0)
				close(fd);
			return XCT_EXIT_RUNTIME;
		}
	}
	others = fd >= 0 ? others_attached(fd, ifindex, n, others_list, sizeof(others_list)) : 0;
	if (replace && others) {
		xct_err("cannot replace on %s alone: every interface of this instance runs one "
			"load of the programs, and --replace swaps it on all of them at once; name "
			"%s too",
			argv[optind], others_list);
		close(fd);
		return XCT_EXIT_RUNTIME;
	}
	if (!replace && fd >= 0) {
		err = xct_load_open(xct_opts.pin_path, &progs, &running);
		if (err && err != -ENOENT) {
			xct_err("cannot open the programs pinned under %s: %s", xct_opts.pin_path,
				strerror(-err));
			close(fd);
			return XCT_EXIT_RUNTIME;
		}
		ring = pinned_max_entries("xct_ct_events");
		reuse = !err && running == build && (!ct_events_size || ct_events_size == ring);
		if (!reuse)
			xct_hook_progs_close(&progs);
		if (!reuse && others) {
			refuse_second_load(err ? "an older xct, which did not pin them,"
					   : running != build ? "another build of xct"
							      : NULL,
					   others_list, ring, ct_events_size);
			close(fd);
			return XCT_EXIT_RUNTIME;
		}
		if (reuse && max_given && pinned_max_entries("xct_ct") != max_entries) {
			xct_err("the table under %s already has %u entries; 'xct detach --all' "
				"drops it before it can be resized",
				xct_opts.pin_path, pinned_max_entries("xct_ct"));
			xct_hook_progs_close(&progs);
			close(fd);
			return XCT_EXIT_RUNTIME;
		}
	}
	/* What a failed swap goes back to, held before anything changes. */
	for (i = 0; replace && i < n; i++) {
		if (hold_running(&current[i], &old[i])) {
			xct_err("cannot replace on %s: its running programs are gone",
				argv[optind + i]);
			while (i >= 0)
				xct_hook_progs_close(&old[i--]);
			close(fd);
			return XCT_EXIT_RUNTIME;
		}
	}
	n_old = replace ? n : 0;

	if (reuse) {
		ifaces_fd = fd;
	} else {
		if (fd >= 0)
			close(fd);
		fd = -1;
		skel = load_datapath(max_entries, max_given, (__u32)ct_events_size, &exit_code);
		if (!skel) {
			ret = exit_code;
			goto out;
		}
		xct_hook_progs_of(skel->obj, &progs);
		ifaces_fd = bpf_map__fd(skel->maps.xct_ifaces);
		err = xct_load_stage(xct_opts.pin_path, skel->obj, build);
		if (err) {
			xct_err("cannot pin the programs under %s: %s", xct_opts.pin_path,
				strerror(-err));
			ret = XCT_EXIT_RUNTIME;
			goto out;
		}
	}
	ret = XCT_EXIT_OK;
	for (i = 0; replace && i < n; i++) {
		if (!replace_iface(&progs, ifaces_fd, argv[optind + i], ifindex[i], &current[i]))
			continue;
		/* Back to the running load everywhere: interfaces running
		 * two loads would track a packet twice. */
		for (j = 0; j <= i; j++) {
			if (replace_iface(&old[j], ifaces_fd, argv[optind + j], ifindex[j],
					  &current[j]))
				xct_err("%s: cannot go back to the running programs",
					argv[optind + j]);
			else
				fprintf(stderr, "xct: %s: back on the running programs\n",
					argv[optind + j]);
		}
		ret = XCT_EXIT_RUNTIME;
		break;
	}
	for (i = 0; replace && ret == XCT_EXIT_OK && i < n; i++) {
		printf("%s: replaced (ingress %s, egress tc)\n", argv[optind + i],
		       mode_name(current[i].mode));
		xct_syslog(LOG_INFO, "%s: programs replaced (ingress %s, egress tc)",
			   argv[optind + i], mode_name(current[i].mode));
	}
	if (!replace && ret == XCT_EXIT_OK && set_iface_classes(argv + optind, ifindex, n))
		ret = XCT_EXIT_RUNTIME;
	for (i = 0; !replace && ret == XCT_EXIT_OK && i < n; i++) {
		/* The zone first: no packet of the interface is tracked
		 * before it is in place. */
		if (xct_ifname_record(xct_opts.pin_path, ifindex[i], argv[optind + i]) ||
		    xct_zone_set(xct_opts.pin_path, ifindex[i], argv[optind + i], zone) ||
		    attach_iface(&progs, ifaces_fd, argv[optind + i], ifindex[i], mode,
				 mode_given)) {
			xct_zone_forget(xct_opts.pin_path, ifindex[i]);
			xct_ifname_forget(xct_opts.pin_path, ifindex[i]);
			/* Undo this command's earlier interfaces. */
			undo_attach(ifaces_fd, argv + optind, ifindex, i);
			ret = XCT_EXIT_RUNTIME;
			break;
		}
	}
	/* Attached only if a later command finds it so. */
	if (!replace && ret == XCT_EXIT_OK &&
	    verify_attached(argv + optind, ifindex, n, found_mode)) {
		undo_attach(ifaces_fd, argv + optind, ifindex, n);
		ret = XCT_EXIT_RUNTIME;
	}
	/* A new load takes the running one's place only once it holds every
	 * hook. */
	if (skel && ret == XCT_EXIT_OK) {
		err = xct_load_publish(xct_opts.pin_path);
		if (err) {
			xct_err("cannot pin the programs under %s: %s", xct_opts.pin_path,
				strerror(-err));
			ret = XCT_EXIT_RUNTIME;
		}
	} else if (skel) {
		xct_load_unstage(xct_opts.pin_path);
	}
	for (i = 0; !replace && ret == XCT_EXIT_OK && i < n; i++) {
		printf("%s: attached (ingress %s, egress tc)\n", argv[optind + i],
		       mode_name(found_mode[i]));
		xct_syslog(LOG_INFO, "%s: attached (ingress %s, egress tc)", argv[optind + i],
			   mode_name(found_mode[i]));
	}
out:
	for (i = 0; i < n_old; i++)
		xct_hook_progs_close(&old[i]);
	if (reuse)
		xct_hook_progs_close(&progs);
	if (fd >= 0)
		close(fd);
	/* The programs stay loaded through their links and filters. */
	if (skel)
		xct_bpf__destroy(skel);
	return ret;
}

/* Unpins everything under the pin path (every pin there is one of xct's
 * maps).  The directory itself stays, empty: its parent is usually a
 * bpffs root, mode 1777, where any user could create the name again once
 * it is gone and wait for the next attach. */
static void remove_state(void)
{
	char path[4096];
	struct dirent *d;
	DIR *dir = opendir(xct_opts.pin_path);

	while (dir && (d = readdir(dir)))
		if (!strncmp(d->d_name, "xct_", 4))
			unlink(xct_pin(path, sizeof(path), d->d_name));
	if (dir)
		closedir(dir);
}

/* The ifindex of a registered interface that was deleted and was called
 * name, or 0. */
static __u32 deleted_iface(int ifaces_fd, const char *name)
{
	char have[IF_NAMESIZE], old[IF_NAMESIZE];
	__u32 key, *prev = NULL;

	while (bpf_map_get_next_key(ifaces_fd, prev, &key) == 0) {
		prev = &key;
		if (!if_indextoname(key, have) &&
		    !xct_ifname_recorded(xct_opts.pin_path, key, old) && !strcmp(old, name))
			return key;
	}
	return 0;
}

int cmd_detach(int argc, char **argv)
{
	__u32 ifindex[MAX_IFACES], key, next;
	struct xct_iface cur;
	struct xct_table t;
	bool all = false;
	int i, n = 0;

	xct_syslog_enable();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a")) {
			all = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("Usage: xct detach IFACE... | --all\n\n"
			     "Removes xct's hooks from each IFACE: its XDP link, and the TC filters\n"
			     "that still run the programs it attached (a filter someone else put at\n"
			     "xct's handle is left, and reported; so is the clsact qdisc while it\n"
			     "holds another tool's filter).  --all also drops the connection table\n"
			     "and counters.");
			return XCT_EXIT_OK;
		} else if (argv[i][0] == '-') {
			return xct_usage_error("unknown option '%s'", argv[i]);
		}
	}
	if (argc - 1 > MAX_IFACES)
		return xct_usage_error("detach: at most %d interfaces at once", MAX_IFACES);
	if (all && argc > 2)
		return xct_usage_error("detach: --all or interface names, not both");
	if (!all && argc < 2)
		return xct_usage_error("detach: which interface? (or --all)");
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	/* --all also clears the state a deleted namespace left behind: its
	 * interfaces, and so its hooks, went with it. */
	if (xct_table_open_flags(&t, all ? XCT_PIN_STALE_OK : 0))
		return XCT_EXIT_RUNTIME;

	if (all) {
		while (bpf_map_get_next_key(t.ifaces_fd, NULL, &next) == 0) {
			key = next;
			memset(&cur, 0, sizeof(cur));
			if (bpf_map_lookup_elem(t.ifaces_fd, &key, &cur))
				break;
			iface_fill_legacy(key, &cur);
			detach_iface(t.ifaces_fd, key, &cur);
		}
		xct_table_close(&t);
		remove_state();
		xct_syslog(LOG_INFO, "detached from every interface, state under %s removed",
			   xct_opts.pin_path);
		return XCT_EXIT_OK;
	}

	/* Every name is checked before anything is detached. */
	for (i = 1; i < argc; i++) {
		ifindex[n] = if_nametoindex(argv[i]);
		if (!ifindex[n])
			ifindex[n] = deleted_iface(t.ifaces_fd, argv[i]);
		if (!ifindex[n] || bpf_map_lookup_elem(t.ifaces_fd, &ifindex[n], &cur)) {
			xct_err("cannot detach %s: %s", argv[i],
				ifindex[n] ? "not attached" : "no such interface");
			xct_table_close(&t);
			return XCT_EXIT_RUNTIME;
		}
		n++;
	}
	for (i = 0; i < n; i++) {
		memset(&cur, 0, sizeof(cur));
		if (bpf_map_lookup_elem(t.ifaces_fd, &ifindex[i], &cur) == 0) {
			iface_fill_legacy(ifindex[i], &cur);
			detach_iface(t.ifaces_fd, ifindex[i], &cur);
		}
		printf("%s: detached\n", argv[i + 1]);
		xct_syslog(LOG_INFO, "%s: detached", argv[i + 1]);
	}
	xct_table_close(&t);
	return XCT_EXIT_OK;
}

static int count_live(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *ctx)
{
	(*(unsigned long *)ctx)++;
	return 0;
}

/* The running ruleset's header, if one is loaded. */
static int policy_header(struct xct_policy_gen *g)
{
	struct xct_policy_ctl ctl;
	char path[4096];
	__u32 zero = 0;
	int fd = bpf_obj_get(xct_pin(path, sizeof(path), "xct_policy_ctl")), err;

	if (fd < 0)
		return 0;
	err = bpf_map_lookup_elem(fd, &zero, &ctl);
	close(fd);
	if (err || !ctl.loaded)
		return 0;
	*g = ctl.gen[ctl.active_gen & 1];
	return 1;
}

static const char status_usage[] =
	"Usage: xct status\n"
	"\n"
	"The table's fill, the collector, the rules, and every attached interface's\n"
	"hooks as the kernel has them: each XDP link and TC filter xct attached is\n"
	"looked up by its program id.  A hook that is gone (XDP detached, clsact\n"
	"flushed, a link unpinned) or runs a program xct did not attach is shown\n"
	"as MISSING, and the exit status is 1.\n"
	"\n"
	"Exit status: 0 when every hook is there, 1 when one is MISSING or the\n"
	"state cannot be read, 2 for bad usage.\n"
	"\n"
	"Examples:\n"
	"  xct status\n"
	"  xct -j status | jq '.interfaces[] | select(.state != \"ok\")'\n";

int cmd_status(int argc, char **argv)
{
	unsigned long live = 0;
	struct xct_table t;
	struct xct_gc gc = {};
	struct xct_iface cur;
	__u32 key, *prev = NULL, zero = 0;
	char name[IF_NAMESIZE];
	struct xct_policy_gen pg;
	__u64 now, dropped, rejected;
	int n = 0, loaded, missing = 0;
	struct xct_netns_id ns = {};
	char ns_name[300];
	__u16 zone;
	bool gone;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(status_usage, stdout);
		return XCT_EXIT_OK;
	}
	if (argc > 1)
		return xct_usage_error("status takes no arguments");
	if (xct_require_root())
		return XCT_EXIT_RUNTIME;
	if (xct_table_open(&t))
		return XCT_EXIT_RUNTIME;
	now = xct_now_ns();
	if (xct_table_walk(&t, now, count_live, &live)) {
		xct_table_close(&t);
		return XCT_EXIT_RUNTIME;
	}
	bpf_map_lookup_elem(t.gc_fd, &zero, &gc);
	loaded = policy_header(&pg);
	dropped = xct_counter_total(&t, XCT_S_POLICY_DROP);
	rejected = xct_counter_total(&t, XCT_S_POLICY_REJECT);

	if (xct_netns_recorded(xct_opts.pin_path, &ns))
		snprintf(ns_name, sizeof(ns_name), "not recorded");
	else
		xct_netns_describe(&ns, ns_name, sizeof(ns_name));
	if (xct_opts.json) {
		printf("{\"pin_path\":");
		xct_json_string(xct_opts.pin_path);
		printf(",\"netns\":{\"inode\":%llu,\"name\":", (unsigned long long)ns.ino);
		xct_json_string(ns_name);
		printf("},\"entries\":%lu,\"max_entries\":%u,"
		       "\"gc\":{\"interval_ms\":%llu,\"last_seen\":%llu,\"last_deleted\":%llu},"
		       "\"rules\":{\"loaded\":%s,\"rules\":%u,\"policy\":\"%s\","
		       "\"dropped\":%llu,\"rejected\":%llu},"
		       "\"interfaces\":[",
		       live, t.max_entries, (unsigned long long)(gc.interval_ns / 1000000),
		       (unsigned long long)gc.last_seen, (unsigned long long)gc.last_deleted,
		       loaded ? "true" : "false", loaded ? pg.n_rules : 0,
		       loaded && pg.policy == XCT_VERDICT_DROP ? "drop" : "accept",
		       (unsigned long long)dropped, (unsigned long long)rejected);
	} else {
		printf("xct %s, state in %s (network namespace %s)\n"
		       "table: %lu connections of %u (%.1f%%)\n"
		       "gc: sweeping every %llu ms; last sweep saw %llu entries, removed %llu\n",
		       XCT_VERSION, xct_opts.pin_path, ns_name, live, t.max_entries,
		       t.max_entries ? 100.0 * (double)live / t.max_entries : 0.0,
		       (unsigned long long)(gc.interval_ns / 1000000),
		       (unsigned long long)gc.last_seen, (unsigned long long)gc.last_deleted);
	}
	if (!xct_opts.json && loaded)
		printf("rules: %u, policy %s; packets dropped %llu, rejected %llu "
		       "('xct rules show' for each rule)\ninterfaces:\n",
		       pg.n_rules, pg.policy == XCT_VERDICT_DROP ? "drop" : "accept",
		       (unsigned long long)dropped, (unsigned long long)rejected);
	else if (!xct_opts.json)
		printf("rules: none loaded, every packet accepted\ninterfaces:\n");

	/* The registry says what should be there; the kernel is asked what
	 * is. */
	while (bpf_map_get_next_key(t.ifaces_fd, prev, &key) == 0) {
		struct hook_problem problems[XCT_HOOKS_MAX];
		int np, k;

		prev = &key;
		memset(&cur, 0, sizeof(cur));
		if (bpf_map_lookup_elem(t.ifaces_fd, &key, &cur))
			continue;
		iface_fill_legacy(key, &cur);
		np = check_hooks(key, &cur, problems);
		missing += np;
		zone = xct_zone_of(xct_opts.pin_path, key);
		gone = !if_indextoname(key, name);
		if (gone && xct_ifname_recorded(xct_opts.pin_path, key, name))
			snprintf(name, sizeof(name), "(gone)");
		if (xct_opts.json) {
			printf("%s{\"name\":", n ? "," : "");
			xct_json_string(name);
			printf(",\"deleted\":%s,\"ifindex\":%u,\"ingress\":\"%s\","
			       "\"ingress_prog_id\":%u,\"egress\":\"tc\",\"egress_prog_id\":%u,"
			       "\"answer_prog_id\":%u,\"xdp_link_id\":%u,\"zone\":%u,\"state\":\"%s\","
			       "\"missing\":[",
			       gone ? "true" : "false", key, mode_name(cur.mode),
			       cur.ingress_prog_id, cur.egress_prog_id, cur.answer_prog_id,
			       cur.xdp_link_id, zone, np ? "MISSING" : "ok");
			for (k = 0; k < np; k++) {
				printf("%s{\"hook\":\"%s\",\"why\":", k ? "," : "",
				       problems[k].hook);
				xct_json_string(problems[k].why);
				printf("}");
			}
			printf("]}");
		} else {
			printf("  %s (ifindex %u%s): ingress %s (prog %u), egress tc (prog %u)", name,
			       key, gone ? ", deleted" : "", mode_name(cur.mode), cur.ingress_prog_id,
			       cur.egress_prog_id);
			if (zone)
				printf(", zone %u", zone);
			printf("%s\n", np ? " MISSING" : "");
			for (k = 0; k < np; k++)
				printf("    MISSING %s: %s\n", problems[k].hook, problems[k].why);
		}
		n++;
	}
	if (xct_opts.json)
		printf("],\"missing\":%d}\n", missing);
	else if (!n)
		printf("  (none)\n");
	xct_table_close(&t);
	/* A monitor alarms on the status: the firewall is not (wholly) where
	 * it should be. */
	if (missing) {
		xct_err("%d hook%s MISSING: xct does not see, or does not decide, the traffic "
			"there",
			missing, missing == 1 ? "" : "s");
		return XCT_EXIT_RUNTIME;
	}
	return XCT_EXIT_OK;
}
