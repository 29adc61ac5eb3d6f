/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The datapath's event streams, read by any number of readers.
 *
 * A BPF ring buffer has one consumer position: two processes reading one
 * ring would each get part of the events.  So a ring has one owner at a
 * time, which holds its lock (a file under the run directory, named by the
 * ring's map id, so that every xct instance has its own):
 *
 *  - xctd, which reads every ring and hands each record to every reader
 *    connected to its unix socket (src/daemon/server.c);
 *  - or, while xctd does not run, a single command reading it directly.
 *
 * A command opens its stream with xct_stream_open(): through xctd when it
 * answers on its socket, else directly, and a second direct reader is
 * refused with the holder's pid.  Both ways give the callback the ring's
 * records unchanged, so the commands format and filter them as before.
 */
#ifndef XCT_DAEMON_STREAM_H
#define XCT_DAEMON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define XCT_RUN_DIR	   "/run/xct"
#define XCT_SOCKET_DEFAULT XCT_RUN_DIR "/xctd.sock"

enum xct_stream_kind {
	XCT_STREAM_CT_EVENTS = 0, /* xct_ct_events: NEW, UPDATE, DESTROY */
	XCT_STREAM_EVENTS = 1,	  /* xct_events: what 'log' rules decide */
	XCT_STREAM_DROPS = 2,	  /* xct_drop_events: xct's drops and rejects */
	XCT_STREAM_KINDS,
};

struct xct_stream_info {
	const char *ring; /* the pinned ring's name */
	const char *name; /* for messages and metric labels */
	int sub_kind;	  /* enum xct_sub_kind the datapath waits for, or -1 */
	__u32 lost_stat;  /* enum xct_stat counting what the ring had no room for */
};

const struct xct_stream_info *xct_stream_info(enum xct_stream_kind kind);

/* Where an instance keeps its state and where its daemon listens. */
/*
 * The socket of the xctd of the instance at pin_path, when none is given:
 * XCT_SOCKET_DEFAULT for the host's default instance (/sys/fs/bpf/xct),
 * else one of the instance's own under XCT_RUN_DIR, named by the pin
 * path's last component and a hash of the whole path.  /run is shared by
 * every network namespace, so the instance of each namespace (and every
 * --pin-path) finds its own daemon, not the host's.
 */
void xct_default_socket(const char *pin_path, char *buf, size_t len);

struct xct_stream_paths {
	const char *pin_path;
	const char *socket_path; /* xctd's socket */
	const char *run_dir;	 /* the rings' locks */
};

/* As a libbpf ring_buffer's sample callback: a negative return ends the
 * poll with that value. */
typedef int (*xct_stream_fn)(void *ctx, void *data, size_t size);

struct xct_stream;

/* Opens one stream, through xctd or directly (then holding the ring's lock
 * and the datapath's subscription).  0, or -errno after a message. */
int xct_stream_open(struct xct_stream **out, const struct xct_stream_paths *paths,
		    enum xct_stream_kind kind, xct_stream_fn fn, void *ctx);

/* Waits up to timeout_ms for records and hands each to the callback; the
 * number handled, or -errno (-EINTR on a signal). */
int xct_stream_poll(struct xct_stream *s, int timeout_ms);

/* Hands over every record the datapath queued before the call (through
 * xctd: a round trip that xctd answers once it has read its ring). */
int xct_stream_drain(struct xct_stream *s);

/* Records xctd had to drop for this reader because it read too slowly
 * (the datapath's own losses are in its lost counter). */
__u64 xct_stream_lost(const struct xct_stream *s);

bool xct_stream_via_daemon(const struct xct_stream *s);

/* A descriptor that polls readable when xct_stream_poll() has work, for a
 * caller that waits on several things; -1 while xctd is away. */
int xct_stream_fd(const struct xct_stream *s);

void xct_stream_close(struct xct_stream *s);

/* A request to xctd (XCTD_HELLO_SYNC_* of wire.h), waited for: 0 with its
 * answer in res (len bytes: a struct xctd_sync_result, or a struct
 * xctd_sync_report for the counters), or -errno after a message. */
int xctd_sync_request(const struct xct_stream_paths *paths, __u32 flags, void *res, size_t len);

/*
 * The run directory (XCT_RUN_DIR, or a socket's directory): created 0700 if
 * missing; refused unless every directory on the way is root's and
 * writable by root alone (or sticky), the last one root's with no access
 * for group or others, and no component a symbolic link.  0, or -errno
 * after a message.
 */
int xct_safe_dir(const char *dir, bool create);

/* The lock of the ring whose map id is ring_id, under run_dir: its fd, or
 * -EBUSY with *holder the pid that holds it, or another -errno. */
int xct_ring_lock(const char *run_dir, __u32 ring_id, int *holder);
void xct_ring_unlock(const char *run_dir, __u32 ring_id, int fd);

/* The map id of the pinned ring of kind under pin_path, with its fd in
 * *fd (or -1 when the caller does not want it): 0, or -errno. */
int xct_ring_open(const char *pin_path, enum xct_stream_kind kind, int *fd, __u32 *id);

#endif /* XCT_DAEMON_STREAM_H */
