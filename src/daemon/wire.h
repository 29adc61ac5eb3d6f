/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What xctd and its readers say to each other over the unix socket.
 *
 * A reader connects and sends one hello naming the stream it wants and the
 * map id of the ring it found under its pin path, so that it never reads
 * another instance's events.  Then both sides send frames: a header and
 * len bytes.  xctd sends READY once the reader is registered (what the
 * datapath queues from then on reaches it), EVENT with one ring record as
 * the datapath wrote it, LOST before the first record after some it had to
 * drop for this reader, ERROR with a message, and SYNC in answer to the
 * reader's SYNC once everything queued before it has been sent.
 *
 * A hello with XCTD_HELLO_SYNC_COMMIT or XCTD_HELLO_SYNC_FLUSH is a request,
 * not a reader ('xct sync commit', 'xct sync flush'): xctd does it, answers
 * DONE with a struct xctd_sync_result, or ERROR, and closes.  So are
 * XCTD_HELLO_SYNC_RESYNC ('xct sync resync', answered the same way) and
 * XCTD_HELLO_SYNC_STATS ('xct sync stats': DONE carries a struct
 * xctd_sync_report, src/daemon/sync.h).
 */
#ifndef XCT_DAEMON_WIRE_H
#define XCT_DAEMON_WIRE_H

#include <linux/types.h>

#define XCTD_MAGIC   0x64746378U /* "xctd" in memory order */
#define XCTD_VERSION 1

/* The reader was following the stream before xctd restarted: it gets what
 * the ring held when xctd came back too. */
#define XCTD_HELLO_RESUME 0x1
/* Commit the external cache of the HA sync into the table. */
#define XCTD_HELLO_SYNC_COMMIT 0x2
/* Empty the external cache. */
#define XCTD_HELLO_SYNC_FLUSH 0x4
/* Ask the HA peer for its whole table. */
#define XCTD_HELLO_SYNC_RESYNC 0x8
/* The sync link's counters. */
#define XCTD_HELLO_SYNC_STATS 0x10
/* Take the connections the peer owns out of the table. */
#define XCTD_HELLO_SYNC_PURGE 0x20
/* Any of the requests. */
#define XCTD_HELLO_SYNC_REQUESTS                                                                   \
	(XCTD_HELLO_SYNC_COMMIT | XCTD_HELLO_SYNC_FLUSH | XCTD_HELLO_SYNC_RESYNC |                 \
	 XCTD_HELLO_SYNC_STATS | XCTD_HELLO_SYNC_PURGE)

struct xctd_hello {
	__u32 magic;
	__u16 version;
	__u16 stream; /* enum xct_stream_kind */
	__u32 flags;  /* XCTD_HELLO_* */
	__u32 ring_id;
};

enum xctd_frame_type {
	XCTD_F_READY = 1,
	XCTD_F_EVENT = 2,
	XCTD_F_LOST = 3, /* payload: __u64, records dropped since the last LOST */
	XCTD_F_SYNC = 4,
	XCTD_F_ERROR = 5, /* payload: a message, not terminated */
	XCTD_F_DONE = 6,  /* payload: struct xctd_sync_result */
};

/* What a sync request did. */
struct xctd_sync_result {
	__u64 cached;	 /* connections in the external cache before the request */
	__u64 committed; /* inserted into the table */
	__u64 liberal;	 /* of them TCP, relearning their windows */
	__u64 exists;	 /* the table had the tuple: left as it was */
	__u64 nat_clash; /* translated tuple taken by another connection */
	__u64 failed;	 /* the table refused the insert (full) */
	__u64 purged;	 /* taken out of the table by a purge */
};

struct xctd_frame {
	__u32 len; /* of the payload */
	__u16 type;
	__u16 pad;
};

/* A ring record is at most this big (xct's largest event is far smaller);
 * a frame announcing more is a broken peer. */
#define XCTD_MAX_PAYLOAD 4096

#endif /* XCT_DAEMON_WIRE_H */
