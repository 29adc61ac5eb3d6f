// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conntrack zones: the interface -> zone map the datapath reads once per
 * packet (bpf/maps.h's xct_zones), and the count beside it
 * (xct_zone_cfg.zoned) that spares a host without zones the lookup.  The
 * count is raised before an entry goes in and lowered after one goes out,
 * so the datapath never skips an entry that is there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "xct.h"
#include "xct/abi.h"
#include "zones.h"

static int zone_open(const char *pin_path, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", pin_path, name);
	return bpf_obj_get(path);
}

/* Counts the map's entries into the datapath's zoned. */
static int zone_count_store(int zones_fd, int cfg_fd, __u32 extra)
{
	struct xct_zone_cfg cfg = {.zoned = extra};
	__u32 key, *prev = NULL, zero = 0;

	while (bpf_map_get_next_key(zones_fd, prev, &key) == 0) {
		prev = &key;
		cfg.zoned++;
	}
	return bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

int xct_zone_set(const char *pin_path, __u32 ifindex, const char *name, __u16 zone)
{
	int zones_fd, cfg_fd, err = 0;
	__u16 old;

	if (!zone)
		return xct_zone_forget(pin_path, ifindex);
	zones_fd = zone_open(pin_path, "xct_zones");
	cfg_fd = zone_open(pin_path, "xct_zone_cfg");
	if (zones_fd < 0 || cfg_fd < 0) {
		err = -errno;
		xct_err("cannot put %s in zone %u: the zone map under %s: %s", name, zone, pin_path,
			strerror(errno));
		goto out;
	}
	/* One more, counted before the entry exists. */
	if (bpf_map_lookup_elem(zones_fd, &ifindex, &old))
		err = zone_count_store(zones_fd, cfg_fd, 1);
	if (!err && bpf_map_update_elem(zones_fd, &ifindex, &zone, BPF_ANY))
		err = -errno;
	if (!err)
		err = zone_count_store(zones_fd, cfg_fd, 0);
	if (err)
		xct_err("cannot put %s in zone %u: %s", name, zone, strerror(-err));
out:
	if (zones_fd >= 0)
		close(zones_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	return err;
}

__u16 xct_zone_of(const char *pin_path, __u32 ifindex)
{
	int fd = zone_open(pin_path, "xct_zones");
	__u16 zone = 0;

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &ifindex, &zone))
		zone = 0;
	close(fd);
	return zone;
}

int xct_zone_forget(const char *pin_path, __u32 ifindex)
{
	int zones_fd = zone_open(pin_path, "xct_zones");
	int cfg_fd = zone_open(pin_path, "xct_zone_cfg");
	int err = 0;

	/* No map: an xct without zones, nothing to forget. */
	if (zones_fd >= 0 && cfg_fd >= 0 && !bpf_map_delete_elem(zones_fd, &ifindex))
		err = zone_count_store(zones_fd, cfg_fd, 0);
	if (zones_fd >= 0)
		close(zones_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	return err;
}

int xct_zone_parse(const char *s, __u16 *zone)
{
	__u64 v;

	if (xct_parse_u64(s, 0, XCT_ZONE_MAX, &v))
		return -EINVAL;
	*zone = (__u16)v;
	return 0;
}
