/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xctd: the long-running process beside the datapath.  It owns the event
 * rings and hands every record to every reader on its socket, and serves
 * the metrics over HTTP.  The datapath never depends on it.
 */
#ifndef XCT_DAEMON_H
#define XCT_DAEMON_H

#include <stdbool.h>
#include <linux/types.h>

#include "daemon/stream.h"

/* Addresses --sync-ignore-address takes at most. */
#define XCTD_SYNC_IGNORE_MAX 32

struct xctd_config {
	const char *pin_path;
	const char *socket_path;
	const char *run_dir;	     /* the rings' locks (XCT_RUN_DIR) */
	const char *metrics_listen;  /* ADDR:PORT or [ADDR]:PORT, NULL: none */
	bool foreground;	     /* else a daemon, logging to syslog */
	const char *flow_log;	     /* every DESTROY, as JSON lines; NULL: none */
	const char *nat_log;	     /* translated connections' NEW and DESTROY */
	bool rule_log;		     /* log rules' packets to syslog (daemon/rulelog.h) */
	__u64 log_max_size;	     /* bytes, before a log is rotated */
	unsigned int log_keep;	     /* rotated files kept */
	const char *ipfix_collector; /* as given, for the messages; NULL: none */
	const char *ipfix_host;	     /* its parts (xct_ipfix_parse_addr()) */
	const char *ipfix_port;
	__u32 ipfix_domain;    /* the observation domain */
	const char *sync_peer; /* ADDR:PORT of the HA peer (multicast: the group); NULL: no sync */
	const char *sync_listen;    /* where its messages come in; NULL: the peer's port */
	int sync_transport;	    /* enum xctd_link_kind */
	const char *sync_interface; /* the sync link's interface; NULL: any */
	int sync_mode;		    /* XCTD_SYNC_MODE_* */
	const char *sync_ignore[XCTD_SYNC_IGNORE_MAX]; /* addresses not synced */
	unsigned int n_sync_ignore;
	__u16 sync_state_accept;     /* TCP states synced, a bit each; 0: all */
	bool sync_commit_on_receive; /* the peer's connections into the table at once */
};

/* conntrackd's sync modes xctd speaks. */
#define XCTD_SYNC_MODE_NOTRACK	  0
#define XCTD_SYNC_MODE_FTFW	  1

#define XCTD_LOG_MAX_SIZE_DEFAULT (64ULL << 20)
#define XCTD_LOG_KEEP_DEFAULT	  3

/* What xctd adds to the metrics: per stream, its readers and what it
 * passed on or had to drop for readers too slow to take it. */
struct xctd_stream_stats {
	bool open;
	__u32 readers;
	__u64 delivered, dropped;
};

/* xctd's own metrics: its streams (one per enum xct_stream_kind), and its
 * IPFIX exporter's counts when it runs one. */
struct xctd_sync_report;

struct xctd_stats {
	struct xctd_stream_stats stream[XCT_STREAM_KINDS];
	bool ipfix;
	__u64 ipfix_records, ipfix_messages, ipfix_send_errors, ipfix_lost;
	const struct xctd_sync_report *sync; /* the sync link's; NULL: none */
};

/* Runs until SIGTERM or SIGINT; an exit status. */
int xctd_run(const struct xctd_config *cfg);

/* Parses ADDR:PORT or [ADDR]:PORT into a socket address; 0 or -EINVAL. */
struct sockaddr_storage;
int xctd_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned int *len);

#endif /* XCT_DAEMON_H */
