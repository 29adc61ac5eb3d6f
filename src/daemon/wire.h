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
 */
#ifndef XCT_DAEMON_WIRE_H
#define XCT_DAEMON_WIRE_H

#include <linux/types.h>

#define XCTD_MAGIC   0x64746378U /* "xctd" in memory order */
#define XCTD_VERSION 1

/* The reader was following the stream before xctd restarted: it gets what
 * the ring held when xctd came back too. */
#define XCTD_HELLO_RESUME 0x1

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
