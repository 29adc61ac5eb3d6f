/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * conntrackd's FTFW mode, the reliable one (conntrack-tools
 * src/sync-ftfw.c): the decisions, without the queues or the socket, so
 * that they are unit-tested message by message (tests/unit/test_ctsync.c).
 *
 * Receiving.  Messages are taken in sequence only.  The receiver counts a
 * window of messages (ACKWindowSize, 300) and acknowledges it with one
 * ACK [first, last]; a message past a gap ACKs what came before the gap,
 * NACKs the gap [expected, received - 1] and starts a new window; a
 * message from before the expected one is dropped (it was NACKed and comes
 * again under a new number).  Every message counts, data and control.
 * The 1 s alive timer ACKs what a window left unacknowledged.
 *
 * HELLO.  A sender sets HELLO on every message until the peer answers
 * with HELLO_BACK on one of its own.  A receiver that sees HELLO answers
 * HELLO_BACK on its next message and takes the message in, whatever its
 * number: the peer restarted, and its sequence with it.
 */
#ifndef XCT_CTSYNC_FTFW_H
#define XCT_CTSYNC_FTFW_H

#include <linux/types.h>
#include "xct/compat.h"
#include "xct/ctsync.h"

#define XCT_FTFW_WINDOW 300 /* conntrackd's ACKWindowSize default */

enum xct_ftfw_hello {
	XCT_FTFW_HELLO_SAY = 0, /* the peer has not answered yet */
	XCT_FTFW_HELLO_DONE,
};

struct xct_ftfw {
	__u32 window_size;
	__u32 window;	/* messages until the next ACK */
	__u32 ack_from; /* the first message not yet acknowledged */
	__u32 exp_seq;	/* the peer's next message's number */
	__u32 last_seq; /* the peer's last message taken in */
	__u8 ack_from_set;
	__u8 seq_set;	     /* a message was taken in: exp_seq holds */
	__u8 hello;	     /* enum xct_ftfw_hello, ours */
	__u8 say_hello_back; /* the peer said HELLO: answer on our next message */
};

/* What one message of the peer asks for. */
struct xct_ftfw_verdict {
	__u8 take;  /* process it (else drop it: an old number) */
	__u8 ack;   /* send ACK [ack_from, ack_to] */
	__u8 nack;  /* send NACK [nack_from, nack_to] */
	__u8 hello; /* the peer (re)started: its old control messages are void */
	__u32 ack_from, ack_to;
	__u32 nack_from, nack_to;
};

XCT_INLINE void xct_ftfw_init(struct xct_ftfw *f, __u32 window_size)
{
	*f = (struct xct_ftfw){0};
	f->window_size = window_size ? window_size : XCT_FTFW_WINDOW;
	f->window = f->window_size;
	f->hello = XCT_FTFW_HELLO_SAY;
}

/* Whether seq is in [from, to], the numbers wrapping as conntrackd's
 * between(). */
XCT_INLINE int xct_ftfw_between(__u32 seq, __u32 from, __u32 to)
{
	return to - from >= seq - from;
}

/* The peer's message number seq with header flags: what to do. */
XCT_INLINE void xct_ftfw_recv(struct xct_ftfw *f, __u32 seq, __u8 flags, struct xct_ftfw_verdict *v)
{
	*v = (struct xct_ftfw_verdict){0};
	if ((flags & XCT_CTSYNC_F_HELLO_BACK) && f->hello == XCT_FTFW_HELLO_SAY)
		f->hello = XCT_FTFW_HELLO_DONE;
	if (flags & XCT_CTSYNC_F_HELLO) {
		f->say_hello_back = 1;
		v->hello = 1;
		/* What we held unacknowledged of the peer's old run is of no
		 * interest to it: the window starts again here. */
		if (f->ack_from_set && (__s32)(seq - f->ack_from) < 0) {
			f->window = f->window_size - 1;
			f->ack_from = seq;
		}
		goto in_sync;
	}
	if (f->seq_set && seq != f->exp_seq) {
		if ((__s32)(seq - f->exp_seq) < 0)
			return; /* before: dropped, and the sequence stays */
		/* After a gap. */
		v->take = 1;
		if (f->ack_from_set) {
			v->ack = 1;
			v->ack_from = f->ack_from;
			v->ack_to = f->exp_seq - 1;
		}
		v->nack = 1;
		v->nack_from = f->exp_seq;
		v->nack_to = seq - 1;
		f->window = f->window_size - 1;
		f->ack_from = seq;
		f->ack_from_set = 1;
		goto taken;
	}
in_sync:
	v->take = 1;
	if (!f->ack_from_set) {
		f->ack_from_set = 1;
		f->ack_from = seq;
	}
	if (--f->window == 0) {
		v->ack = 1;
		v->ack_from = f->ack_from;
		v->ack_to = seq;
		f->window = f->window_size;
		f->ack_from_set = 0;
	}
taken:
	f->seq_set = 1;
	f->exp_seq = seq + 1;
	f->last_seq = seq;
}

/* The alive timer: 1 with the range to ACK when some messages of the
 * peer are not acknowledged yet, else 0 (an ALIVE is due instead). */
XCT_INLINE int xct_ftfw_pending_ack(struct xct_ftfw *f, __u32 *from, __u32 *to)
{
	if (!f->ack_from_set || !f->seq_set)
		return 0;
	*from = f->ack_from;
	*to = f->last_seq;
	f->ack_from_set = 0;
	f->window = f->window_size;
	return 1;
}

/* The flags our next message carries: HELLO until the peer answered,
 * HELLO_BACK once after the peer's HELLO. */
XCT_INLINE __u8 xct_ftfw_tx_flags(struct xct_ftfw *f)
{
	__u8 flags = f->hello == XCT_FTFW_HELLO_SAY ? XCT_CTSYNC_F_HELLO : 0;

	if (f->say_hello_back) {
		flags |= XCT_CTSYNC_F_HELLO_BACK;
		f->say_hello_back = 0;
	}
	return flags;
}

#endif /* XCT_CTSYNC_FTFW_H */
