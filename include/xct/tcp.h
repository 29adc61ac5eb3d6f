/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The TCP connection tracker: nf_conntrack's state table, the rules it
 * applies after the table (reopen from TIME_WAIT/CLOSE, resync after an
 * ignored SYN, simultaneous open, challenge ACKs, RST validation) and its
 * window tracking, with the kernel's sysctls as tunables (tcp_loose,
 * tcp_be_liberal, tcp_max_retrans and the timeouts: xct/timeouts.h) and
 * tcp_ignore_invalid_rst=0.
 *
 * The functions work on one table entry that the caller holds exclusively
 * (under the entry's lock in the datapath) and never sleep, allocate or call
 * helpers, so the same code runs in BPF and in the unit tests.
 *
 * Deviations from nf_conntrack, all because XDP sees packets before the stack:
 * checksums are not verified (the receiving stack drops bad ones), and there
 * is no NAT sequence adjustment yet.
 */
#ifndef XCT_TCP_H
#define XCT_TCP_H

#include "compat.h"
#include "abi.h"
#include "parse.h"
#include "timeouts.h"

/* Timeouts, in seconds (nf_conntrack_tcp_timeout_*), and the retransmission
 * count past which a connection gets the max_retrans timeout. */
#define XCT_TCP_TIMEOUT_RETRANS xct_tunable(XCT_TUNABLE_TCP_RETRANS)
#define XCT_TCP_TIMEOUT_UNACK	xct_tunable(XCT_TUNABLE_TCP_UNACK)
#define XCT_TCP_MAX_RETRANS	xct_tunable(XCT_TUNABLE_TCP_MAX_RETRANS)

XCT_INLINE __u32 xct_tcp_timeout(__u8 state)
{
	switch (state) {
	case XCT_TCP_SYN_SENT:
		return xct_tunable(XCT_TUNABLE_TCP_SYN_SENT);
	case XCT_TCP_SYN_RECV:
		return xct_tunable(XCT_TUNABLE_TCP_SYN_RECV);
	case XCT_TCP_ESTABLISHED:
		return xct_tunable(XCT_TUNABLE_TCP_ESTABLISHED);
	case XCT_TCP_FIN_WAIT:
		return xct_tunable(XCT_TUNABLE_TCP_FIN_WAIT);
	case XCT_TCP_CLOSE_WAIT:
		return xct_tunable(XCT_TUNABLE_TCP_CLOSE_WAIT);
	case XCT_TCP_LAST_ACK:
		return xct_tunable(XCT_TUNABLE_TCP_LAST_ACK);
	case XCT_TCP_TIME_WAIT:
		return xct_tunable(XCT_TUNABLE_TCP_TIME_WAIT);
	case XCT_TCP_CLOSE:
		return xct_tunable(XCT_TUNABLE_TCP_CLOSE);
	}
	/* SYN_SENT2 has no sysctl in nf_conntrack: 2 minutes. */
	return 120;
}

/* Table cells beyond the states: invalid, and "let through, no change". */
#define XCT_TCP_sIV 10
#define XCT_TCP_sIG 11

/*
 * tcp_conntracks[dir][class][old state] of the current kernel.  The comments
 * in net/netfilter/nf_conntrack_proto_tcp.c explain each cell; the unit
 * tests check this table cell by cell against a copy written out by hand.
 */
#define sNO XCT_TCP_NONE
#define sSS XCT_TCP_SYN_SENT
#define sSR XCT_TCP_SYN_RECV
#define sES XCT_TCP_ESTABLISHED
#define sFW XCT_TCP_FIN_WAIT
#define sCW XCT_TCP_CLOSE_WAIT
#define sLA XCT_TCP_LAST_ACK
#define sTW XCT_TCP_TIME_WAIT
#define sCL XCT_TCP_CLOSE
#define sS2 XCT_TCP_SYN_SENT2
#define sIV XCT_TCP_sIV
#define sIG XCT_TCP_sIG

/* clang-format off: the table reads as a table */
static const __u8 xct_tcp_table[2][6][10] = {
	{
		/* ORIGINAL */
		/*            sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		/*syn*/ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		/*synack*/ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		/*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		/*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
	{
		/* REPLY */
		/*            sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		/*syn*/ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		/*synack*/ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		/*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		/*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
};
/* clang-format on */

#undef sNO
#undef sSS
#undef sSR
#undef sES
#undef sFW
#undef sCW
#undef sLA
#undef sTW
#undef sCL
#undef sS2
#undef sIV
#undef sIG

/* get_conntrack_index(): the packet's row in the table. */
XCT_INLINE __u8 xct_tcp_index(__u8 flags)
{
	if (flags & XCT_TCPF_RST)
		return XCT_TCP_RST_SET;
	if (flags & XCT_TCPF_SYN)
		return (flags & XCT_TCPF_ACK) ? XCT_TCP_SYNACK_SET : XCT_TCP_SYN_SET;
	if (flags & XCT_TCPF_FIN)
		return XCT_TCP_FIN_SET;
	if (flags & XCT_TCPF_ACK)
		return XCT_TCP_ACK_SET;
	return XCT_TCP_NONE_SET;
}

XCT_INLINE __u8 xct_tcp_next_state(int dir, __u8 index, __u8 old)
{
	if (index > XCT_TCP_NONE_SET || old >= XCT_TCP_STATE_COUNT)
		return XCT_TCP_sIV;
	return xct_tcp_table[dir & 1][index][old];
}

/* tcp_error(): the flag combinations a real stack sends, PSH, ECE and CWR
 * aside. */
XCT_INLINE int xct_tcp_flags_valid(__u8 flags)
{
	switch (flags & ~(XCT_TCPF_ECE | XCT_TCPF_CWR | XCT_TCPF_PSH)) {
	case XCT_TCPF_SYN:
	case XCT_TCPF_SYN | XCT_TCPF_URG:
	case XCT_TCPF_SYN | XCT_TCPF_ACK:
	case XCT_TCPF_RST:
	case XCT_TCPF_RST | XCT_TCPF_ACK:
	case XCT_TCPF_FIN | XCT_TCPF_ACK:
	case XCT_TCPF_FIN | XCT_TCPF_ACK | XCT_TCPF_URG:
	case XCT_TCPF_ACK:
	case XCT_TCPF_ACK | XCT_TCPF_URG:
		return 1;
	}
	return 0;
}

/* segment_seq_plus_len(): the sequence number after this segment. */
XCT_INLINE __u32 xct_tcp_end(const struct xct_tcp_info *tcp)
{
	return tcp->seq + tcp->payload_len + !!(tcp->flags & XCT_TCPF_SYN) +
	       !!(tcp->flags & XCT_TCPF_FIN);
}

/* tcp_options(): what a SYN says about its sender. */
XCT_INLINE void xct_tcp_options(struct xct_tcp_peer *peer, const struct xct_tcp_info *tcp)
{
	peer->td_scale = 0;
	peer->flags &= XCT_TCP_F_BE_LIBERAL;
	if (tcp->opts & XCT_TCP_F_SACK_PERM)
		peer->flags |= XCT_TCP_F_SACK_PERM;
	if (tcp->opts & XCT_TCP_F_WINDOW_SCALE) {
		peer->td_scale = tcp->wscale;
		peer->flags |= XCT_TCP_F_WINDOW_SCALE;
	}
}

/* tcp_new(): may this packet open a connection?  XCT_R_OK, or the reason
 * it may not. */
XCT_INLINE __u8 xct_tcp_may_open(const struct xct_tcp_info *tcp)
{
	__u8 next = xct_tcp_next_state(XCT_DIR_ORIGINAL, xct_tcp_index(tcp->flags), XCT_TCP_NONE);

	if (next >= XCT_TCP_sIV)
		return XCT_R_TCP_INVALID_NEW;
	/* tcp_loose=0: only a SYN opens a connection, none is picked up. */
	if (next != XCT_TCP_SYN_SENT && !xct_tunable(XCT_TUNABLE_TCP_LOOSE))
		return XCT_R_TCP_INVALID_NEW;
	return XCT_R_OK;
}

/* tcp_new() itself: when the packet may open a connection, initialises
 * the entry's TCP state from it and returns XCT_R_OK, or else the reason
 * it may not. */
XCT_INLINE __u8 xct_tcp_new(struct xct_ct_entry *ct, const struct xct_tcp_info *tcp)
{
	struct xct_tcp_ct *s = &ct->proto.tcp;
	__u8 next = xct_tcp_next_state(XCT_DIR_ORIGINAL, xct_tcp_index(tcp->flags), XCT_TCP_NONE);
	__u8 reason = xct_tcp_may_open(tcp);

	if (reason != XCT_R_OK)
		return reason;
	__builtin_memset(s, 0, sizeof(*s));
	s->seen[0].td_end = xct_tcp_end(tcp);
	s->seen[0].td_maxwin = tcp->window ? tcp->window : 1;
	if (next == XCT_TCP_SYN_SENT) {
		s->seen[0].td_maxend = s->seen[0].td_end;
		xct_tcp_options(&s->seen[0], tcp);
	} else {
		/* Mid-stream pickup (tcp_loose=1): the history is lost, so
		 * assume SACK and check windows liberally both ways. */
		s->seen[0].td_maxend = s->seen[0].td_end + s->seen[0].td_maxwin;
		s->seen[0].flags = XCT_TCP_F_SACK_PERM | XCT_TCP_F_BE_LIBERAL;
		s->seen[1].flags = XCT_TCP_F_SACK_PERM | XCT_TCP_F_BE_LIBERAL;
	}
	s->last_index = XCT_TCP_NONE_SET;
	ct->state = XCT_TCP_NONE;
	return XCT_R_OK;
}

/*
 * tcp_init_sender(): a SYN or SYN/ACK sets up its sender's window.  RFC 1323
 * scales windows only when both sides offered it, which is known once the
 * reply direction's SYN (or SYN/ACK) is seen: a SYN that re-initialises the
 * original direction in SYN_SENT or SYN_RECV must not clear the scale
 * factors, since the reply's options are not known yet (or were already
 * agreed on).
 */
XCT_INLINE void xct_tcp_init_sender(struct xct_tcp_peer *sender, struct xct_tcp_peer *receiver,
				    const struct xct_tcp_info *tcp, __u32 end, int dir)
{
	sender->td_end = end;
	sender->td_maxend = end;
	sender->td_maxwin = tcp->window ? tcp->window : 1;
	xct_tcp_options(sender, tcp);
	if (dir == XCT_DIR_REPLY && !((sender->flags & XCT_TCP_F_WINDOW_SCALE) &&
				      (receiver->flags & XCT_TCP_F_WINDOW_SCALE))) {
		sender->td_scale = 0;
		receiver->td_scale = 0;
	}
}

/*
 * A connection that comes back without its recent history (restored from a
 * saved table, committed from a failed peer's): each direction relearns its
 * window from its next packet, as a mid-stream pickup does (td_maxwin 0),
 * and a failed window check lets the packet through (BE_LIBERAL) until
 * both directions have been seen (xct_tcp_liberal_done()).  The bounds the
 * lost history made stale go too: the highest ACK a RST is checked
 * against, data waiting for its ACK, the retransmission count.  The window
 * scale factors stay: they were agreed at the handshake and never change.
 */
XCT_INLINE void xct_tcp_set_liberal(struct xct_ct_entry *ct)
{
	struct xct_tcp_ct *s = &ct->proto.tcp;
	int d;

	ct->status |= XCT_CT_LIBERAL;
	for (d = 0; d < 2; d++) {
		s->seen[d].td_maxwin = 0;
		s->seen[d].flags &= ~(XCT_TCP_F_MAXACK_SET | XCT_TCP_F_DATA_UNACKNOWLEDGED);
		s->seen[d].flags |= XCT_TCP_F_BE_LIBERAL;
	}
	s->retrans = 0;
	s->last_index = XCT_TCP_NONE_SET;
}

/* After a packet accepted in window (xct_ct_packet() calls it): once both
 * directions of a liberally tracked connection have been seen again, it is
 * checked as any other; but one whose window scales never came
 * (XCT_CT_SCALE_UNKNOWN) keeps the relaxed window check. */
XCT_INLINE void xct_tcp_liberal_done(struct xct_ct_entry *ct)
{
	struct xct_tcp_ct *s = &ct->proto.tcp;

	if (!(ct->status & XCT_CT_LIBERAL) || !s->seen[0].td_maxwin || !s->seen[1].td_maxwin)
		return;
	ct->status &= ~XCT_CT_LIBERAL;
	if (ct->status & XCT_CT_SCALE_UNKNOWN)
		return;
	s->seen[0].flags &= ~XCT_TCP_F_BE_LIBERAL;
	s->seen[1].flags &= ~XCT_TCP_F_BE_LIBERAL;
}

/*
 * Whether the window scales of ct are known: this table saw both SYNs
 * (past SYN_SENT), it did not pick the connection up mid-stream (which
 * leaves both directions liberal for good, the scales never seen), and it
 * was not committed from a message without them (XCT_CT_SCALE_UNKNOWN).
 * A committed connection with its scales, liberal until it has been seen
 * both ways (XCT_CT_LIBERAL), knows them.  What an HA peer is sent
 * (NTA_TCP_WSCALE_*), so that the connection it commits need not stay
 * liberal.
 */
XCT_INLINE int xct_tcp_scales_known(const struct xct_ct_entry *ct)
{
	const struct xct_tcp_ct *s = &ct->proto.tcp;

	if (ct->state == XCT_TCP_NONE || ct->state == XCT_TCP_SYN_SENT ||
	    ct->state == XCT_TCP_SYN_SENT2 || (ct->status & XCT_CT_SCALE_UNKNOWN))
		return 0;
	return !(s->seen[0].flags & s->seen[1].flags & XCT_TCP_F_BE_LIBERAL) ||
	       (ct->status & XCT_CT_LIBERAL);
}

enum xct_tcp_window {
	XCT_WIN_ACCEPT,
	XCT_WIN_IGNORE,
	XCT_WIN_INVALID,
};

/*
 * nf_tcp_log_invalid(): with BE_LIBERAL on the sender, or tcp_be_liberal
 * set, a failed check lets the packet through as if it were in window (but
 * updates nothing).
 */
XCT_INLINE int xct_tcp_window_fail(const struct xct_tcp_peer *sender, int ret, __u8 why,
				   __u8 *reason)
{
	if ((sender->flags & XCT_TCP_F_BE_LIBERAL) || xct_tunable(XCT_TUNABLE_TCP_BE_LIBERAL))
		return XCT_WIN_ACCEPT;
	*reason = why;
	return ret;
}

#define XCT_MAXACKWINDOW(s) ((s)->td_maxwin > 66000 ? (s)->td_maxwin : 66000)

/* tcp_in_window(): is the segment within what the peers have advertised? */
XCT_INLINE int xct_tcp_in_window(struct xct_ct_entry *ct, int dir, __u8 index,
				 const struct xct_tcp_info *tcp, __u8 *reason)
{
	struct xct_tcp_ct *s = &ct->proto.tcp;
	struct xct_tcp_peer *sender = &s->seen[dir & 1];
	struct xct_tcp_peer *receiver = &s->seen[!(dir & 1)];
	__u32 seq = tcp->seq, ack = tcp->ack, sack = tcp->ack, end = xct_tcp_end(tcp);
	__u32 win = tcp->window, swin;
	int syn = !!(tcp->flags & XCT_TCPF_SYN), has_ack = !!(tcp->flags & XCT_TCPF_ACK);
	int rst = !!(tcp->flags & XCT_TCPF_RST);

	if (receiver->flags & XCT_TCP_F_SACK_PERM)
		sack = tcp->sack;

	if (sender->td_maxwin == 0) {
		if (syn) {
			xct_tcp_init_sender(sender, receiver, tcp, end, dir & 1);
			if (!has_ack)
				return XCT_WIN_ACCEPT; /* simultaneous open */
		} else {
			/* Picked up mid-stream in this direction. */
			sender->td_end = end;
			swin = win << sender->td_scale;
			sender->td_maxwin = swin ? swin : 1;
			sender->td_maxend = end + sender->td_maxwin;
			if (receiver->td_maxwin == 0) {
				receiver->td_end = sack;
				receiver->td_maxend = sack;
			} else if (sack == receiver->td_end + 1) {
				receiver->td_end++; /* reply to a keepalive */
			}
		}
	} else if (syn && xct_seq_after(end, sender->td_end) &&
		   (ct->state == XCT_TCP_SYN_SENT || ct->state == XCT_TCP_SYN_RECV)) {
		/* RFC 793: a reinitialised peer uses higher sequence numbers. */
		xct_tcp_init_sender(sender, receiver, tcp, end, dir & 1);
	}

	if (!has_ack) {
		ack = sack = receiver->td_end;
	} else if (rst && ack == 0) {
		/* Broken stacks send RST|ACK with a zero ack. */
		ack = sack = receiver->td_end;
	}

	if (rst && seq == 0 && ct->state == XCT_TCP_SYN_SENT)
		seq = end = sender->td_end; /* RST answering a SYN */

	if (!xct_seq_before(seq, sender->td_maxend + 1)) {
		__u32 overshot = end - sender->td_maxend + 1;
		int ack_ok = xct_seq_after(sack, receiver->td_end - XCT_MAXACKWINDOW(sender) - 1);
		int in_recv_win = receiver->td_maxwin &&
				  xct_seq_after(end, sender->td_end - receiver->td_maxwin - 1);

		if (in_recv_win && ack_ok && overshot <= receiver->td_maxwin &&
		    xct_seq_before(sack, receiver->td_end + 1)) {
			/* A stack that sends more than the window allows:
			 * remember the data so that its ACK is not over the
			 * upper bound later. */
			sender->td_end = end;
			sender->flags |= XCT_TCP_F_DATA_UNACKNOWLEDGED;
			return xct_tcp_window_fail(sender, XCT_WIN_IGNORE, XCT_R_TCP_IGNORED,
						   reason);
		}
		return xct_tcp_window_fail(sender, XCT_WIN_INVALID, XCT_R_TCP_SEQ_OVER_WINDOW,
					   reason);
	}

	if (!xct_seq_before(sack, receiver->td_end + 1))
		return xct_tcp_window_fail(sender, XCT_WIN_INVALID, XCT_R_TCP_ACK_OVER_WINDOW,
					   reason);

	/* Below the lower bounds: old retransmissions and overly delayed
	 * ACKs are let through untouched rather than called invalid. */
	if (receiver->td_maxwin && !xct_seq_after(end, sender->td_end - receiver->td_maxwin - 1))
		return xct_tcp_window_fail(sender, XCT_WIN_IGNORE, XCT_R_TCP_IGNORED, reason);
	if (!xct_seq_after(sack, receiver->td_end - XCT_MAXACKWINDOW(sender) - 1))
		return xct_tcp_window_fail(sender, XCT_WIN_IGNORE, XCT_R_TCP_IGNORED, reason);

	if (!syn)
		win <<= sender->td_scale;

	swin = win + (sack - ack);
	if (sender->td_maxwin < swin)
		sender->td_maxwin = swin;
	if (xct_seq_after(end, sender->td_end)) {
		sender->td_end = end;
		sender->flags |= XCT_TCP_F_DATA_UNACKNOWLEDGED;
	}
	if (has_ack) {
		if (!(sender->flags & XCT_TCP_F_MAXACK_SET)) {
			sender->td_maxack = ack;
			sender->flags |= XCT_TCP_F_MAXACK_SET;
		} else if (xct_seq_after(ack, sender->td_maxack)) {
			sender->td_maxack = ack;
		}
	}

	if (receiver->td_maxwin != 0 && xct_seq_after(end, sender->td_maxend))
		receiver->td_maxwin += end - sender->td_maxend;
	if (xct_seq_after(sack + win, receiver->td_maxend - 1)) {
		receiver->td_maxend = sack + win;
		if (win == 0)
			receiver->td_maxend++;
	}
	if (ack == receiver->td_end)
		receiver->flags &= ~XCT_TCP_F_DATA_UNACKNOWLEDGED;

	/* Count identical ACK-class retransmissions. */
	if (index == XCT_TCP_ACK_SET) {
		if (s->last_dir == dir && s->last_seq == seq && s->last_ack == ack &&
		    s->last_end == end && s->last_win == tcp->window) {
			s->retrans++;
		} else {
			s->last_dir = dir;
			s->last_seq = seq;
			s->last_ack = ack;
			s->last_end = end;
			s->last_win = tcp->window;
			s->retrans = 0;
		}
	}
	return XCT_WIN_ACCEPT;
}

/* What the tracker decided; the caller applies it to counters and timers. */
enum xct_tcp_action {
	XCT_TCP_ACCEPT,	   /* in window: account, refresh the timeout */
	XCT_TCP_NOREFRESH, /* valid, but neither accounted nor refreshed */
	XCT_TCP_IGNORE,	   /* let through, state untouched */
	XCT_TCP_INVALID,   /* not part of the connection */
	XCT_TCP_REOPEN,	   /* a new connection reuses the tuple: start over */
	XCT_TCP_KILL,	   /* account, then the entry is gone (RST, no reply) */
};

struct xct_tcp_verdict {
	__u8 action;
	__u8 reason;
	__u8 assured; /* the connection became ASSURED now */
	__u8 pad;
	__u32 timeout; /* seconds, for ACCEPT */
};

XCT_INLINE int xct_tcp_can_early_drop(__u8 state)
{
	return state == XCT_TCP_FIN_WAIT || state == XCT_TCP_LAST_ACK ||
	       state == XCT_TCP_TIME_WAIT || state == XCT_TCP_CLOSE || state == XCT_TCP_CLOSE_WAIT;
}

/*
 * nf_tcp_handle_invalid(): an ASSURED connection whose peers exchange
 * out-of-window FINs or RSTs is probably dead: shorten its life to the
 * UNACK timeout instead of letting it sit ESTABLISHED for days.
 */
XCT_INLINE void xct_tcp_handle_invalid(struct xct_ct_entry *ct, int dir, __u8 index, __u64 now_ns)
{
	struct xct_tcp_ct *s = &ct->proto.tcp;
	__u64 unack_ns = (__u64)XCT_TCP_TIMEOUT_UNACK * XCT_NSEC_PER_SEC;

	if (!(ct->status & XCT_CT_ASSURED))
		return;
	if (index != XCT_TCP_RST_SET && index != XCT_TCP_FIN_SET)
		return;
	if (s->last_dir != dir &&
	    (s->last_index == XCT_TCP_FIN_SET || s->last_index == XCT_TCP_RST_SET)) {
		if (ct->expires_ns < now_ns + 120 * XCT_NSEC_PER_SEC)
			return;
		if (ct->expires_ns > now_ns + unack_ns)
			ct->expires_ns = now_ns + unack_ns;
	} else {
		s->last_index = index;
		s->last_dir = dir;
	}
}

/*
 * RFC 1122 TIME_WAIT reopen: a SYN on a closed connection (TIME_WAIT or
 * CLOSE) after a FIN was seen, or after this side's last packet was a RST,
 * starts a new connection on the same tuple; nf_conntrack kills the old
 * entry and tracks the SYN afresh.
 */
XCT_INLINE int xct_tcp_reopens(const struct xct_ct_entry *ct, int dir,
			       const struct xct_tcp_info *tcp)
{
	const struct xct_tcp_ct *s = &ct->proto.tcp;
	__u8 index = xct_tcp_index(tcp->flags);

	dir &= 1;
	if (xct_tcp_next_state(dir, index, ct->state) != XCT_TCP_SYN_SENT ||
	    ct->state < XCT_TCP_TIME_WAIT)
		return 0;
	return ((s->seen[0].flags | s->seen[1].flags) & XCT_TCP_F_CLOSE_INIT) ||
	       (s->last_dir == dir && s->last_index == XCT_TCP_RST_SET);
}

/*
 * nf_conntrack_tcp_packet(): one packet of a known connection (or the first
 * packet of a new one, after xct_tcp_new()).  seen_reply is the connection's
 * SEEN_REPLY bit *before* this packet, as nf_conntrack sets it only after.
 */
XCT_INLINE struct xct_tcp_verdict xct_tcp_packet(struct xct_ct_entry *ct, int dir,
						 const struct xct_tcp_info *tcp, __u64 now_ns)
{
	struct xct_tcp_verdict v = {.action = XCT_TCP_ACCEPT, .reason = XCT_R_OK};
	struct xct_tcp_ct *s = &ct->proto.tcp;
	__u8 index = xct_tcp_index(tcp->flags);
	__u8 old = ct->state, next;
	int seen_reply = !!(ct->status & XCT_CT_SEEN_REPLY);
	__u32 timeout;
	int win;

	dir &= 1;
	next = xct_tcp_next_state(dir, index, old);

	switch (next) {
	case XCT_TCP_SYN_SENT:
		if (old < XCT_TCP_TIME_WAIT)
			break;
		if (xct_tcp_reopens(ct, dir, tcp)) {
			v.action = XCT_TCP_REOPEN;
			return v;
		}
		/* fall through */
	case XCT_TCP_sIG:
		if (index == XCT_TCP_SYNACK_SET && s->last_index == XCT_TCP_SYN_SET &&
		    s->last_dir != dir && tcp->ack == s->last_end) {
			/* This SYN/ACK answers a SYN we ignored: the peers
			 * are in sync, we are not.  Resync from the SYN. */
			struct xct_tcp_peer *p = &s->seen[s->last_dir & 1];

			old = XCT_TCP_SYN_SENT;
			next = XCT_TCP_SYN_RECV;
			p->td_end = s->last_end;
			p->td_maxend = s->last_end;
			p->td_maxwin = s->last_win ? s->last_win : 1;
			p->td_scale = s->last_wscale;
			s->last_flags &= ~XCT_TCP_F_EXP_CHALLENGE_ACK;
			p->flags = s->last_flags;
			/* nf_ct_tcp_state_reset(): the responder starts
			 * afresh, but a connection picked up mid-stream
			 * stays liberal on its side. */
			s->seen[dir].td_end = 0;
			s->seen[dir].td_maxend = 0;
			s->seen[dir].td_maxwin = 0;
			s->seen[dir].td_maxack = 0;
			s->seen[dir].td_scale = 0;
			s->seen[dir].flags &= XCT_TCP_F_BE_LIBERAL;
			break;
		}
		s->last_index = index;
		s->last_dir = dir;
		s->last_seq = tcp->seq;
		s->last_end = xct_tcp_end(tcp);
		s->last_win = tcp->window;
		if (index == XCT_TCP_SYN_SET && dir == XCT_DIR_ORIGINAL) {
			/* Maybe the peers are in sync and we are not: keep
			 * the SYN's options for the SYN/ACK that may follow. */
			s->last_flags = 0;
			s->last_wscale = 0;
			if (tcp->opts & XCT_TCP_F_WINDOW_SCALE) {
				s->last_flags |= XCT_TCP_F_WINDOW_SCALE;
				s->last_wscale = tcp->wscale;
			}
			if (tcp->opts & XCT_TCP_F_SACK_PERM)
				s->last_flags |= XCT_TCP_F_SACK_PERM;
			/* An ACK to this SYN in LAST_ACK is an RFC 5961
			 * challenge ACK, not the ACK of the last FIN. */
			if (old == XCT_TCP_LAST_ACK)
				s->last_flags |= XCT_TCP_F_EXP_CHALLENGE_ACK;
		}
		if (old == XCT_TCP_SYN_SENT && index == XCT_TCP_ACK_SET && dir == XCT_DIR_REPLY)
			s->last_ack = tcp->ack; /* possible challenge ACK */
		v.action = XCT_TCP_IGNORE;
		v.reason = XCT_R_TCP_IGNORED;
		return v;
	case XCT_TCP_sIV:
		v.action = XCT_TCP_INVALID;
		v.reason = XCT_R_TCP_INVALID_STATE;
		return v;
	case XCT_TCP_TIME_WAIT:
		if (old == XCT_TCP_LAST_ACK && index == XCT_TCP_ACK_SET && s->last_dir != dir &&
		    s->last_index == XCT_TCP_SYN_SET &&
		    (s->last_flags & XCT_TCP_F_EXP_CHALLENGE_ACK)) {
			/* RFC 5961 challenge ACK: not the end of the
			 * connection. */
			s->last_flags &= ~XCT_TCP_F_EXP_CHALLENGE_ACK;
			v.action = XCT_TCP_IGNORE;
			v.reason = XCT_R_TCP_IGNORED;
			return v;
		}
		break;
	case XCT_TCP_SYN_SENT2:
		/* The table cannot express simultaneous open alone. */
		s->last_flags |= XCT_TCP_F_SIMULTANEOUS_OPEN;
		break;
	case XCT_TCP_SYN_RECV:
		if (dir == XCT_DIR_REPLY && index == XCT_TCP_ACK_SET &&
		    (s->last_flags & XCT_TCP_F_SIMULTANEOUS_OPEN))
			next = XCT_TCP_ESTABLISHED;
		break;
	case XCT_TCP_CLOSE:
		if (index != XCT_TCP_RST_SET)
			break;
		/* Closing already: the tuple may have been reused, the
		 * sequence state is stale, so the RST is taken as it is. */
		if (xct_tcp_can_early_drop(old))
			goto in_window;
		/* td_maxack is stale if the last packet was a SYN let
		 * through: the RST may answer that SYN. */
		if ((s->seen[!dir].flags & XCT_TCP_F_MAXACK_SET) &&
		    s->last_index != XCT_TCP_SYN_SET) {
			__u32 maxack = s->seen[!dir].td_maxack;

			/* Outside ESTABLISHED a RST with seq 0 most likely
			 * answers a SYN let through earlier: window check. */
			if (tcp->seq == 0 &&
			    !(old == XCT_TCP_ESTABLISHED && (ct->status & XCT_CT_ASSURED)))
				break;
			if (xct_seq_before(tcp->seq, maxack)) {
				v.action = XCT_TCP_INVALID;
				v.reason = XCT_R_TCP_INVALID_RST;
				return v;
			}
			if (!(old == XCT_TCP_ESTABLISHED && (ct->status & XCT_CT_ASSURED)) ||
			    tcp->seq == maxack)
				break;
			/* A RST that ends a train of this side's data. */
			if (s->last_index == XCT_TCP_ACK_SET && s->last_dir == dir &&
			    tcp->seq == s->last_end)
				break;
			/* In window but not exact: keep the state and let the
			 * peer answer with a challenge ACK. */
			next = old;
		}
		/* A RST answering a SYN or ACK we let pass skips the window
		 * check: it may ack what we ignored.  Only the other side
		 * answers a SYN, so a RST from the SYN's own side gets no
		 * shortcut (as in nf_conntrack on 6.18), and a SYN and a RST
		 * injected from one side cannot close an assured connection.
		 * The kernel puts no such condition on the ACK case. */
		if (((seen_reply && s->last_index == XCT_TCP_SYN_SET && s->last_dir != dir) ||
		     (!(ct->status & XCT_CT_ASSURED) && s->last_index == XCT_TCP_ACK_SET)) &&
		    tcp->ack == s->last_end)
			goto in_window;
		if (old == XCT_TCP_SYN_SENT && s->last_index == XCT_TCP_ACK_SET &&
		    s->last_dir == XCT_DIR_REPLY && tcp->seq == s->last_ack)
			goto in_window; /* RST after a challenge ACK */
		break;
	default:
		break;
	}

	win = xct_tcp_in_window(ct, dir, index, tcp, &v.reason);
	if (win == XCT_WIN_IGNORE) {
		v.action = XCT_TCP_IGNORE;
		return v;
	}
	if (win == XCT_WIN_INVALID) {
		xct_tcp_handle_invalid(ct, dir, index, now_ns);
		v.action = XCT_TCP_INVALID;
		return v;
	}
	v.reason = XCT_R_OK;

in_window:
	s->last_index = index;
	s->last_dir = dir;
	ct->state = next;
	if (old != next && next == XCT_TCP_FIN_WAIT)
		s->seen[dir].flags |= XCT_TCP_F_CLOSE_INIT;

	timeout = xct_tcp_timeout(next);
	if (s->retrans >= XCT_TCP_MAX_RETRANS && timeout > XCT_TCP_TIMEOUT_RETRANS)
		timeout = XCT_TCP_TIMEOUT_RETRANS;
	else if (index == XCT_TCP_RST_SET)
		timeout = xct_tcp_timeout(XCT_TCP_CLOSE);
	else if (((s->seen[0].flags | s->seen[1].flags) & XCT_TCP_F_DATA_UNACKNOWLEDGED) &&
		 timeout > XCT_TCP_TIMEOUT_UNACK)
		timeout = XCT_TCP_TIMEOUT_UNACK;
	else if (s->last_win == 0 && timeout > XCT_TCP_TIMEOUT_RETRANS)
		timeout = XCT_TCP_TIMEOUT_RETRANS;

	if (!seen_reply) {
		/* Only a RST came back: no connection worth keeping. */
		if (tcp->flags & XCT_TCPF_RST) {
			v.action = XCT_TCP_KILL;
			return v;
		}
		/* A retransmitted SYN must not keep the entry alive for
		 * ever (port reuse by a client or a NAT). */
		if (index == XCT_TCP_SYN_SET && old == XCT_TCP_SYN_SENT) {
			v.action = XCT_TCP_NOREFRESH;
			return v;
		}
		/* Picked up mid-stream, never answered: short life. */
		if (next == XCT_TCP_ESTABLISHED && timeout > XCT_TCP_TIMEOUT_UNACK)
			timeout = XCT_TCP_TIMEOUT_UNACK;
	} else if (!(ct->status & XCT_CT_ASSURED) &&
		   (old == XCT_TCP_SYN_RECV || old == XCT_TCP_ESTABLISHED) &&
		   next == XCT_TCP_ESTABLISHED) {
		ct->status |= XCT_CT_ASSURED;
		v.assured = 1;
	}
	v.timeout = timeout;
	return v;
}

#endif /* XCT_TCP_H */
