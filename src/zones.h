/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Conntrack zones in userspace (src/zones.c): which interface's packets
 * belong to which zone (the datapath's xct_zones map, bpf/maps.h), kept
 * together with the count the datapath reads before it looks the map up.
 */
#ifndef XCT_ZONES_H
#define XCT_ZONES_H

#include <linux/types.h>

/* The largest zone: nf_conntrack's zone id is 16 bits. */
#define XCT_ZONE_MAX 65535

/* Puts ifindex in zone (0: the default zone, no entry) under pin_path.
 * 0 or -errno, after a message naming the interface. */
int xct_zone_set(const char *pin_path, __u32 ifindex, const char *name, __u16 zone);

/* The zone of ifindex: 0 when it has none of its own or zones cannot be
 * read (an xct that had none). */
__u16 xct_zone_of(const char *pin_path, __u32 ifindex);

/* Forgets the zone of ifindex (detached); 0 or -errno. */
int xct_zone_forget(const char *pin_path, __u32 ifindex);

/* Parses a zone argument, 0 to XCT_ZONE_MAX; 0 or -EINVAL. */
int xct_zone_parse(const char *s, __u16 *zone);

#endif /* XCT_ZONES_H */
