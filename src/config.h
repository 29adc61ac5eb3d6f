/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xct.conf, the configuration of a firewall brought up by `xct up` (and of
 * the daemon): which interfaces in which mode, the table and ring sizes, the
 * rules file, the trackers' timeouts, the daemon's endpoints and its HA
 * sync peer.  The format is described in xct.conf(5) (man/xct.conf.5.scd).
 */
#ifndef XCT_CONFIG_H
#define XCT_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "xct/timeouts.h"

#define XCT_CONFIG_DEFAULT	 "/etc/xct/xct.conf"
#define XCT_CONFIG_RULES_DEFAULT "/etc/xct/rules.xct"
#define XCT_CONFIG_MAX_IFACES	 64
/* Room for "[IPv6]:port". */
#define XCT_CONFIG_ADDR_MAX 64

struct xct_config_iface {
	char name[IF_NAMESIZE];
	__u32 mode; /* XCT_MODE_NATIVE, _GENERIC or _TC */
	__u16 zone; /* conntrack zone (xct attach --zone), 0 default */
	unsigned int line;
};

struct xct_config_daemon {
	char socket[PATH_MAX];			   /* "" when unset */
	char metrics_listen[XCT_CONFIG_ADDR_MAX];  /* ADDR:PORT, "" when unset */
	char ipfix_collector[XCT_CONFIG_ADDR_MAX]; /* ADDR:PORT, "" when unset */
	__u32 ipfix_domain;			   /* observation domain id, 0 default */
	char flow_log[PATH_MAX];		   /* "journal", a file, or "" */
	__u64 flow_log_max_size;		   /* bytes before rotation, 0 unset */
	int rule_log;				   /* 1 journal, 0 off, -1 unset */
};

/* Addresses [sync] ignore-address takes at most (xctd's
 * XCTD_SYNC_IGNORE_MAX, which xctd checks is the same). */
#define XCT_CONFIG_SYNC_IGNORE_MAX 32

/* [sync] commit-on-receive. */
#define XCT_CONFIG_SYNC_YES 1
#define XCT_CONFIG_SYNC_NO  2

/* [sync] mode. */
enum xct_config_sync_mode {
	XCT_CONFIG_SYNC_MODE_UNSET = 0,
	XCT_CONFIG_SYNC_MODE_NOTRACK,
	XCT_CONFIG_SYNC_MODE_FTFW,
};

/* [sync]: the HA peer of xctd's state sync (xctd --sync-peer, --sync-listen,
 * --sync-transport, --sync-multicast, --sync-interface, --sync-mode,
 * --sync-ignore-address, --sync-state-accept, --sync-commit-on-receive). */
struct xct_config_sync {
	char peer[XCT_CONFIG_ADDR_MAX];	     /* ADDR:PORT, "" when unset */
	char listen[XCT_CONFIG_ADDR_MAX];    /* ADDR:PORT, "" when unset */
	char transport[16];		     /* udp, tcp, multicast; "" when unset */
	char multicast[XCT_CONFIG_ADDR_MAX]; /* GROUP:PORT, "" when unset */
	char interface[IF_NAMESIZE];	     /* "" when unset */
	enum xct_config_sync_mode mode;
	/* ignore-address, each as written (checked to be an address). */
	char ignore[XCT_CONFIG_SYNC_IGNORE_MAX][INET6_ADDRSTRLEN];
	unsigned int n_ignore;
	__u16 state_accept;    /* state-accept: a bit per enum xct_tcp_state; 0 unset */
	int commit_on_receive; /* XCT_CONFIG_SYNC_YES, _NO; 0 unset */
	unsigned int line;     /* of the [sync] header, 0 without one */
	unsigned int listen_line, listen_column;
	unsigned int transport_line, transport_column;
	unsigned int multicast_line, multicast_column;
	unsigned int interface_line, interface_column;
	/* The first key that means nothing without a peer or a group, and where. */
	const char *needs_peer;
	unsigned int needs_peer_line, needs_peer_column;
};

struct xct_config {
	char path[PATH_MAX];	   /* the file read */
	char pin_path[PATH_MAX];   /* "" when unset */
	char rules[PATH_MAX];	   /* XCT_CONFIG_RULES_DEFAULT when unset */
	__u64 table_size;	   /* 0: unset (attach's default) */
	__u64 events_ring_size;	   /* 0: unset (attach's default) */
	char state_file[PATH_MAX]; /* the table saved by down, restored by up; "" unset */
	size_t n_ifaces;
	struct xct_config_iface ifaces[XCT_CONFIG_MAX_IFACES];
	__u32 tunables[XCT_TUNABLE_MAX];
	__u32 tunables_set; /* bit (1 << enum xct_tunable) per key given */
	struct xct_config_daemon daemon;
	struct xct_config_sync sync;
};

/*
 * Reads and validates the configuration file at path into cfg.  0, or:
 * -EINVAL with "FILE:LINE:COLUMN: message" in err for a bad file, or
 * another -errno with "cannot read FILE: cause" when it cannot be read.
 * On failure cfg holds the defaults only, never part of the file.
 */
int xct_config_load(const char *path, struct xct_config *cfg, char *err, size_t errlen);

/* The same for text already in memory; file names it in errors. */
int xct_config_parse(const char *file, const char *text, size_t len, struct xct_config *cfg,
		     char *err, size_t errlen);

/* The index of a tunable by its sysctl name, or -1. */
int xct_tunable_by_name(const char *name);

/* The name of an interface mode as xct.conf spells it. */
const char *xct_config_mode_name(__u32 mode);

#endif /* XCT_CONFIG_H */
