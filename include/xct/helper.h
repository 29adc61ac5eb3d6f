/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The FTP helper's reading of a control connection's segment, as
 * nf_conntrack_ftp reads it: a PORT or EPRT command from the client
 * (original direction), a 227 or 229 reply from the server (reply
 * direction), at the very start of a segment that begins right after a
 * line end, announce the data connection to expect.
 *
 * The scan is a machine fed one byte at a time (xct_ftp_step()), so that
 * the datapath can drive it from a bpf_loop callback whose body the
 * verifier checks once, and the unit tests drive the very same code from
 * a plain loop (xct_ftp_scan_bytes()).  Its answers are the kernel's
 * find_pattern(): a match, no match, or a partial match (a command cut
 * short, split across segments, or malformed), on which nf_conntrack_ftp
 * drops the segment.  The numbers are read as try_number() reads them,
 * overflow included, so that the same bytes give the same tuple.
 *
 * Not read: EPRT with an IPv6 address (|2|): the scan says XCT_FTP_UNREAD,
 * and no data connection is expected from it.
 */
#ifndef XCT_HELPER_H
#define XCT_HELPER_H

#include "compat.h"
#include "abi.h"

/* The helpers a connection can have (ct helper set "NAME"). */
enum xct_helper_type {
	XCT_HELPER_NONE = 0,
	XCT_HELPER_FTP = 1,
};

/* nf_conntrack_ftp's expectation policy: one at a time per control
 * connection, five minutes to be used. */
#define XCT_FTP_EXPECT_MAX	 1
#define XCT_FTP_EXPECT_TIMEOUT_S 300

/* What the announcement was (nf_ct_ftp_type's order). */
enum xct_ftp_kind {
	XCT_FTP_PORT = 0,
	XCT_FTP_PASV = 1, /* 227 */
	XCT_FTP_EPRT = 2,
	XCT_FTP_EPSV = 3, /* 229 */
};

/* The scan's answer. */
enum xct_ftp_result {
	XCT_FTP_RUNNING = 0, /* wants more bytes */
	XCT_FTP_NONE,	     /* no announcement: the segment passes */
	XCT_FTP_MATCH,	     /* addr and port announce a data connection */
	XCT_FTP_PARTIAL,     /* cut short or malformed: nf_conntrack_ftp drops it */
	XCT_FTP_UNREAD,	     /* beyond what was copied, or IPv6 EPRT: passes */
};

enum xct_ftp_phase {
	XCT_FTP_P_PATTERN = 0, /* the command or reply code */
	XCT_FTP_P_SKIP,	       /* up to the skip character (' ' or '(') */
	XCT_FTP_P_DIGIT,       /* 227: up to the first digit (RFC 1123) */
	XCT_FTP_P_NUMBERS,     /* try_number(): n numbers separated by sep */
	XCT_FTP_P_EPRT,	       /* |1| */
	XCT_FTP_P_EPSV,	       /* ||| */
	XCT_FTP_P_PORT,	       /* get_port(): digits up to the delimiter */
};

/* The scan's state; lives in per-CPU memory in BPF. */
struct xct_ftp_scan {
	__u32 pos;   /* index of the next byte */
	__u32 dlen;  /* the segment's payload length */
	__u32 start; /* where the numbers start (find_pattern's numoff) */
	__u32 num[6];
	__u16 port;  /* host order */
	__u8 dir;    /* enum xct_dir of the segment */
	__u8 phase;  /* enum xct_ftp_phase */
	__u8 cand;   /* patterns of dir still matching, a bit each */
	__u8 kind;   /* enum xct_ftp_kind, once the pattern matched */
	__u8 result; /* enum xct_ftp_result */
	__u8 nidx;   /* number being read */
	__u8 nmax;   /* numbers to read: 6 or 4 */
	__u8 sep, term, skip;
	__u8 delim; /* EPRT / EPSV delimiter */
	__u8 pad[3];
};

XCT_INLINE __u8 xct_ftp_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

XCT_INLINE int xct_ftp_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

/* The patterns, in lower case: PORT and EPRT from the client, "227 " and
 * "229 " from the server; k is the byte's index (0..3). */
XCT_INLINE __u8 xct_ftp_pattern(__u8 dir, __u8 which, __u32 k)
{
	static const char pats[2][2][4] = {{{'p', 'o', 'r', 't'}, {'e', 'p', 'r', 't'}},
					   {{'2', '2', '7', ' '}, {'2', '2', '9', ' '}}};

	return (__u8)pats[dir & 1][which & 1][k & 3];
}

/* A fresh scan of a payload of dlen bytes sent in direction dir. */
XCT_INLINE void xct_ftp_scan_init(struct xct_ftp_scan *s, __u8 dir, __u32 dlen)
{
	__builtin_memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->dlen = dlen;
	s->cand = 3;
}

XCT_INLINE void xct_ftp_numbers(struct xct_ftp_scan *s, __u8 n, __u8 sep, __u8 term)
{
	s->phase = XCT_FTP_P_NUMBERS;
	s->nidx = 0;
	s->nmax = n;
	s->sep = sep;
	s->term = term;
	s->num[0] = s->num[1] = s->num[2] = s->num[3] = s->num[4] = s->num[5] = 0;
}

/* A delimiter of EPRT and EPSV: printable, not a digit. */
XCT_INLINE int xct_ftp_delim_ok(__u8 c)
{
	return !xct_ftp_digit(c) && c >= 33 && c <= 126;
}

/*
 * One byte of the payload (its index is s->pos).  Returns the result, still
 * XCT_FTP_RUNNING while the scan wants more.
 */
XCT_INLINE __u8 xct_ftp_step(struct xct_ftp_scan *s, __u8 c)
{
	__u32 i = s->pos++;
	__u32 rel = i - s->start;
	__u8 which;

	if (s->result != XCT_FTP_RUNNING)
		return s->result;
	switch (s->phase) {
	case XCT_FTP_P_PATTERN:
		for (which = 0; which < 2; which++)
			if (xct_ftp_lower(c) != xct_ftp_pattern(s->dir, which, i))
				s->cand &= ~(1 << which);
		if (!s->cand) {
			s->result = XCT_FTP_NONE;
			break;
		}
		if (i < 3)
			break;
		which = s->cand & 1 ? 0 : 1;
		s->kind = s->dir == XCT_DIR_ORIGINAL ? (which ? XCT_FTP_EPRT : XCT_FTP_PORT)
						     : (which ? XCT_FTP_EPSV : XCT_FTP_PASV);
		if (s->kind == XCT_FTP_PASV) {
			s->start = 4;
			s->phase = XCT_FTP_P_DIGIT;
		} else {
			s->skip = s->kind == XCT_FTP_EPSV ? '(' : ' ';
			s->phase = XCT_FTP_P_SKIP;
		}
		break;
	case XCT_FTP_P_SKIP:
		if (c == s->skip) {
			s->start = i + 1;
			if (s->kind == XCT_FTP_PORT)
				xct_ftp_numbers(s, 6, ',', '\r');
			else
				s->phase =
					s->kind == XCT_FTP_EPRT ? XCT_FTP_P_EPRT : XCT_FTP_P_EPSV;
		} else if (i + 1 == s->dlen) {
			s->result = XCT_FTP_PARTIAL;
		}
		break;
	case XCT_FTP_P_DIGIT:
		if (!xct_ftp_digit(c))
			break;
		/* RFC 1123: the numbers start at the first digit, and
		 * end at whatever follows the sixth. */
		s->start = i;
		xct_ftp_numbers(s, 6, ',', 0);
		s->num[0] = c - '0';
		break;
	case XCT_FTP_P_NUMBERS:
		if (xct_ftp_digit(c)) {
			s->num[s->nidx % 6] = s->num[s->nidx % 6] * 10 + (c - '0');
		} else if (c == s->sep) {
			if (++s->nidx == s->nmax)
				s->result = XCT_FTP_PARTIAL;
		} else if ((c == s->term || !s->term) && s->nidx + 1 == s->nmax) {
			if (s->kind == XCT_FTP_EPRT) {
				/* The address is read; the port follows the
				 * delimiter that ended it. */
				s->phase = XCT_FTP_P_PORT;
				s->port = 0;
			} else {
				s->port = (__u16)(s->num[4] << 8 | s->num[5]);
				s->result = XCT_FTP_MATCH;
			}
		} else {
			s->result = XCT_FTP_PARTIAL;
		}
		break;
	case XCT_FTP_P_EPRT:
	case XCT_FTP_P_EPSV:
		if (rel == 0) {
			if (s->dlen - s->start <= 3 || !xct_ftp_delim_ok(c))
				s->result = XCT_FTP_PARTIAL;
			s->delim = c;
		} else if (rel == 1 && s->phase == XCT_FTP_P_EPRT) {
			/* The family the control connection has is checked
			 * by the caller; |2| (IPv6) is not read. */
			if (c == '2')
				s->result = XCT_FTP_UNREAD;
			else if (c != '1')
				s->result = XCT_FTP_PARTIAL;
		} else if (c != s->delim) {
			s->result = XCT_FTP_PARTIAL;
		} else if (rel == 2) {
			if (s->phase == XCT_FTP_P_EPRT) {
				xct_ftp_numbers(s, 4, '.', s->delim);
			} else {
				s->phase = XCT_FTP_P_PORT;
				s->port = 0;
			}
		}
		break;
	case XCT_FTP_P_PORT:
		if (c == s->delim)
			s->result = s->port ? XCT_FTP_MATCH : XCT_FTP_PARTIAL;
		else if (xct_ftp_digit(c))
			s->port = (__u16)(s->port * 10 + (c - '0'));
		else
			s->result = XCT_FTP_PARTIAL;
		break;
	}
	return s->result;
}

/*
 * The scan's answer once avail bytes of the payload were fed (avail <=
 * dlen; fewer when the copy the datapath took ends before the payload).
 */
XCT_INLINE __u8 xct_ftp_finish(struct xct_ftp_scan *s, __u32 avail)
{
	/* find_pattern(): a payload no longer than the pattern is a partial
	 * match if it starts one, whatever else. */
	if (s->dlen <= 4)
		return s->cand && s->dlen ? XCT_FTP_PARTIAL : XCT_FTP_NONE;
	if (s->result != XCT_FTP_RUNNING)
		return s->result;
	return avail < s->dlen ? XCT_FTP_UNREAD : XCT_FTP_PARTIAL;
}

/*
 * The address a match announces, as nf_conntrack_ftp fills it: the
 * segment's source address with the IPv4 word overwritten by PORT, 227 and
 * EPRT's numbers (EPSV names no address).  The helper expects the data
 * connection only when it equals the source (nf_conntrack_ftp without
 * loose=1).
 */
XCT_INLINE void xct_ftp_addr(const struct xct_ftp_scan *s, const union xct_addr *src,
			     union xct_addr *out)
{
	*out = *src;
	if (s->kind != XCT_FTP_EPSV)
		out->v4 = xct_htonl(s->num[0] << 24 | s->num[1] << 16 | s->num[2] << 8 | s->num[3]);
}

#ifndef __bpf__
/* The scan over a buffer of avail bytes of a dlen-byte payload. */
static inline __u8 xct_ftp_scan_bytes(struct xct_ftp_scan *s, __u8 dir, const __u8 *data,
				      __u32 avail, __u32 dlen)
{
	__u32 i;

	xct_ftp_scan_init(s, dir, dlen);
	for (i = 0; i < avail && i < dlen; i++)
		if (xct_ftp_step(s, data[i]) != XCT_FTP_RUNNING)
			break;
	return xct_ftp_finish(s, avail < dlen ? avail : dlen);
}
#endif

/*
 * Where a control connection may hold a command: segments that start right
 * after a line end (nf_conntrack_ftp's seq_aft_nl), the two latest per
 * direction.  A segment elsewhere is not read; one that ends with '\n'
 * records where the next line starts.
 */
struct xct_ftp_lines {
	__u32 seq_aft_nl[2][2]; /* by enum xct_dir */
	__u8 n[2];
	__u8 pad[2];
};

XCT_INLINE int xct_ftp_at_line_start(const struct xct_ftp_lines *l, __u8 dir, __u32 seq)
{
	__u8 d = dir & 1;

	return (l->n[d] > 0 && l->seq_aft_nl[d][0] == seq) ||
	       (l->n[d] > 1 && l->seq_aft_nl[d][1] == seq);
}

/* update_nl_seq(): remembered, unless it is older than both known. */
XCT_INLINE void xct_ftp_line_seen(struct xct_ftp_lines *l, __u8 dir, __u32 nl_seq)
{
	__u8 d = dir & 1, oldest;

	if (xct_ftp_at_line_start(l, d, nl_seq))
		return;
	if (l->n[d] < 2) {
		l->seq_aft_nl[d][l->n[d] & 1] = nl_seq;
		l->n[d]++;
		return;
	}
	oldest = xct_seq_before(l->seq_aft_nl[d][0], l->seq_aft_nl[d][1]) ? 0 : 1;
	if (xct_seq_after(nl_seq, l->seq_aft_nl[d][oldest]))
		l->seq_aft_nl[d][oldest] = nl_seq;
}

#endif /* XCT_HELPER_H */
