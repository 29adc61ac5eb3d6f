// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sync link to an HA peer, in conntrackd's NOTRACK or FTFW mode
 * (conntrack-tools src/sync-notrack.c, src/sync-ftfw.c), over the
 * transport of sync_link.c.
 *
 * Sending.  Every connection event of the ring becomes one data message,
 * built from the event alone (no lookup in the table: the event holds the
 * connection as committed), and the messages are packed into datagrams in
 * the order the events came.  Every message, data or control, takes the
 * next sequence number, which starts at the wall clock's seconds: so does
 * conntrackd's, and a peer that sees the sequence jump after a restart
 * counts the gap as lost, never as old messages to drop.  NOTRACK is fire
 * and forget: a datagram the socket refuses is counted and not resent.
 *
 * A RESYNC from the peer (conntrackd -n, or its StartupResync) is answered
 * with the whole table, each live connection as a CT_UPD, as conntrackd
 * answers with its internal cache: a backup that restarted gets back what
 * it missed.  That walk of the table happens only on the peer's request.
 *
 * xctd asks the peer the same when it starts, since its cache is empty.
 *
 * Receiving.  The peer's datagrams are checked message by message as
 * conntrackd's parser checks them (ctsync.h): a malformed message ends its
 * datagram, since the next message's place is known only from its length.
 * Sequence gaps are counted as conntrackd's nethdr_track_seq() counts them.
 * The transport reads only what comes from the peer (sync_link.c).
 *
 * FTFW.  Every message sent, but the ALIVEs, also goes into the resend
 * queue, until an ACK of the peer covers its number.  A NACK sends the
 * messages of its range again, each under a new number: the peer takes
 * messages in sequence only, and has moved past the old ones.  What the
 * peer sends is taken in sequence (include/xct/ctsync_ftfw.h), ACKed by
 * windows and at the alive timer, its gaps NACKed.
 *
 * The external cache.  The peer's CT_NEW and CT_UPD put a connection in
 * (or replace it: NEW and UPD alike, as conntrackd treats them, since its
 * transmit queue may turn a NEW into an UPD), its CT_DEL takes it out.  It
 * is kept in xct's form, keyed by the canonical key, so that a commit only
 * sets the times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ct_events.h"
#include "ct_ops.h"
#include "ct_state.h"
#include "daemon/daemon.h"
#include "table.h"
#include "daemon/sync.h"
#include "xct.h"
#include "xct/ctsync_ct.h"
#include "xct/tcp.h"

static void put_ctl(struct xctd_sync *s, __u8 flags, __u32 from, __u32 to, __u64 now_ns);

int xctd_sync_ignore(struct xctd_sync *s, const char *addr)
{
	union xct_addr a = {0};
	__u8 family;

	if (inet_pton(AF_INET, addr, &a.v4) == 1)
		family = XCT_AF_INET;
	else if (inet_pton(AF_INET6, addr, a.bytes) == 1)
		family = XCT_AF_INET6;
	else
		return -EINVAL;
	if (s->n_ignore >= XCTD_SYNC_IGNORE_MAX)
		return -ENOSPC;
	s->ignore_family[s->n_ignore] = family;
	s->ignore[s->n_ignore++] = a;
	return 0;
}

/* Whether addr of family is one --sync-ignore-address named. */
static bool ignored_addr(const struct xctd_sync *s, __u8 family, const union xct_addr *addr)
{
	unsigned int i;

	for (i = 0; i < s->n_ignore; i++) {
		if (s->ignore_family[i] != family)
			continue;
		if (family == XCT_AF_INET ? s->ignore[i].v4 == addr->v4
					  : !memcmp(s->ignore[i].bytes, addr->bytes, 16))
			return true;
	}
	return false;
}

/* Whether a connection is left out of the sync: one of its addresses,
 * original or translated, is ignored. */
static bool ignored_conn(const struct xctd_sync *s, const struct xct_ct_key *key,
			 const struct xct_nat_binding *nat, const struct xct_nat_binding *inner)
{
	if (!s->n_ignore)
		return false;
	return ignored_addr(s, key->family, &key->addr[0]) ||
	       ignored_addr(s, key->family, &key->addr[1]) ||
	       (nat && ignored_addr(s, key->family, &nat->addr)) ||
	       (inner && ignored_addr(s, key->family, &inner->addr));
}

void xctd_sync_accept_states(struct xctd_sync *s, __u16 states)
{
	s->state_accept = states;
}

/* Whether a TCP connection's state keeps it off the link (State Accept);
 * counted as filtered when it does. */
static bool withheld_state(struct xctd_sync *s, const struct xct_ct_key *key, __u8 state)
{
	if (!s->state_accept || key->proto != IPPROTO_TCP || state >= 16 ||
	    (s->state_accept & (1U << state)))
		return false;
	s->st.filtered++;
	s->st.filtered_state++;
	return true;
}

const char *xctd_sync_mode_name(enum xctd_sync_mode mode)
{
	return mode == XCTD_SYNC_FTFW ? "FTFW" : "NOTRACK";
}

int xctd_sync_open(struct xctd_sync *s, const struct xctd_link_cfg *link, enum xctd_sync_mode mode,
		   char *err, size_t errlen)
{
	int e;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->purge_fd = -1;
	s->direct_ctl = -1;
	s->mode = mode;
	xct_ftfw_init(&s->ftfw, XCT_FTFW_WINDOW);
	e = xctd_link_open(&s->link, link, err, errlen);
	if (e)
		return e;
	s->fd = s->link.fd;
	s->seq = (__u32)time(NULL);
	/* The first message asks the peer for its table, as conntrackd's
	 * StartupResync: an xctd that (re)starts has an empty cache.  Over
	 * TCP, once the peer's connection to us is up (xctd_sync_tick()):
	 * the answer travels on it. */
	if (link->kind != XCTD_LINK_TCP) {
		put_ctl(s, XCT_CTSYNC_F_RESYNC, 0, 0, 0);
		s->st.resync_snd++;
	}
	return 0;
}

static void rs_free_all(struct xctd_sync *s);
static void direct_close(struct xctd_sync *s);

void xctd_sync_close(struct xctd_sync *s)
{
	xctd_sync_flush_cache(s);
	rs_free_all(s);
	if (s->fd >= 0)
		xctd_link_close(&s->link);
	s->fd = -1;
	if (s->purge_fd >= 0)
		close(s->purge_fd);
	s->purge_fd = -1;
	direct_close(s);
}

/* FNV-1a over the key: its bucket. */
static unsigned int ext_bucket(const struct xct_ct_key *key)
{
	const __u8 *p = (const __u8 *)key;
	__u32 h = 2166136261U;
	size_t i;

	for (i = 0; i < sizeof(*key); i++)
		h = (h ^ p[i]) * 16777619U;
	return h % XCTD_EXT_BUCKETS;
}

static struct xctd_ext_conn **ext_find(struct xctd_ext_cache *x, const struct xct_ct_key *key)
{
	struct xctd_ext_conn **pp = &x->bucket[ext_bucket(key)];

	while (*pp && !xct_key_eq(&(*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

/* One connection the peer owns out of the table: 1 when it was there. */
static int purge_one(struct xctd_sync *s, const struct xct_ct_key *key)
{
	struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE, .key = *key};
	int err = xct_ctl_run(s->purge_fd, &m, sizeof(m));

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	s->st.purged++;
	return 1;
}

int xctd_sync_purge(struct xctd_sync *s, int ctl_fd, __u64 *purged)
{
	const struct xctd_ext_conn *x;
	__u64 before = s->st.purged;
	int i, err = 0;

	if (s->purge_fd >= 0)
		close(s->purge_fd);
	s->purge_fd = ctl_fd;
	s->st.purges++;
	for (i = 0; i < XCTD_EXT_BUCKETS; i++) {
		for (x = s->ext.bucket[i]; x; x = x->next) {
			int ret = purge_one(s, &x->key);

			if (ret < 0 && !err)
				err = ret;
		}
	}
	*purged = s->st.purged - before;
	return err;
}

void xctd_sync_commit_on_receive(struct xctd_sync *s, const char *pin_path)
{
	s->direct_pin = pin_path;
}

/* The table and the control program for commit on receive, kept open
 * for a second at most (xctd_sync_tick() closes them), so that a burst of
 * messages opens them once and an xct attached again is the one written
 * to soon after; 0 or -errno. */
static int direct_open(struct xctd_sync *s, __u64 now_ns)
{
	static struct xct_table t;
	int err;

	if (s->direct_t)
		return 0;
	/* No xct attached a moment ago: not again (and its error not logged
	 * again) for each message of the burst. */
	if (s->direct_failed_ns && now_ns - s->direct_failed_ns < XCTD_SYNC_ALIVE_NS)
		return -ENOENT;
	s->direct_open_ns = now_ns;
	err = xct_table_open_at(&t, s->direct_pin, 0);
	if (!err) {
		s->direct_ctl = xct_ctl_open(s->direct_pin);
		if (s->direct_ctl < 0) {
			err = s->direct_ctl;
			xct_table_close(&t);
		}
	}
	if (err) {
		s->direct_failed_ns = now_ns;
		return err;
	}
	s->direct_failed_ns = 0;
	s->direct_t = &t;
	return 0;
}

static void direct_close(struct xctd_sync *s)
{
	if (!s->direct_t)
		return;
	close(s->direct_ctl);
	s->direct_ctl = -1;
	xct_table_close(s->direct_t);
	s->direct_t = NULL;
}

/*
 * A data message of the peer's straight into the table: 0 once done, or
 * -errno when the table could not take it (the cache keeps it then).  A
 * connection the table has keeps its own state (the datapath tracks it)
 * and gets what the peer knows that the table's copy needs to live as
 * long: the timeout left, SEEN_REPLY and ASSURED, the mark.  Neither the
 * insert nor the update sends an event, so nothing echoes back to the
 * peer; a DESTROY does, which the peer takes for a connection it has
 * already dropped.
 */
static int direct_apply(struct xctd_sync *s, __u8 type, const struct xctd_ext_conn *n, __u64 now_ns)
{
	struct xct_ct_state_counts c = {0};
	struct xct_ct_entry e = n->e;
	__u32 left = n->has_timeout && n->timeout_s ? n->timeout_s : XCTD_SYNC_COMMIT_TIMEOUT_S;
	int err = direct_open(s, now_ns);

	if (err)
		return err;
	if (type == XCT_CTSYNC_CT_DEL) {
		struct xct_ctl_ct_msg m = {.hdr.cmd = XCT_CTL_CT_DELETE, .key = n->key};

		err = xct_ctl_run(s->direct_ctl, &m, sizeof(m));
		if (!err)
			s->st.direct_deleted++;
		return err == -ENOENT ? 0 : err;
	}
	e.first_seen_ns = e.last_seen_ns = now_ns;
	e.expires_ns = now_ns + (__u64)left * 1000000000ULL;
	err = xct_ct_insert(s->direct_t, &n->key, &e, n->nat, n->n_nat, &c);
	if (err)
		return err;
	if (c.restored) {
		s->st.direct_inserted++;
		return 0;
	}
	if (c.exists) {
		struct xct_ctl_ct_update u = {
			.ct.hdr.cmd = XCT_CTL_CT_UPDATE,
			.ct.key = n->key,
			.flags = XCT_UPD_TIMEOUT | XCT_UPD_STATUS | XCT_UPD_MARK,
			.timeout_s = left,
			.status_set = n->e.status & (XCT_CT_SEEN_REPLY | XCT_CT_ASSURED),
			.mark_xor = n->e.mark,
			.mark_mask = 0xffffffffU,
		};

		err = xct_ctl_run(s->direct_ctl, &u, sizeof(u));
		if (!err)
			s->st.direct_updated++;
		return err;
	}
	return -ENOSPC; /* the table full, or a translated tuple taken */
}

/* A data message's connection into, or out of, the external cache. */
static void ext_apply(struct xctd_sync *s, __u8 type, const struct xct_ctsync_conn *c, __u64 now_ns)
{
	struct xctd_ext_conn n = {0}, **pp, *x;
	__u8 side;

	if (xct_ctsync_to_ct(c, &n.key, &side, &n.e, n.nat, &n.n_nat)) {
		s->st.ext_unkeyable++;
		return;
	}
	/* Purging: the peer owns this one (a DESTROY included, which the
	 * peer sends when the connection ended there). */
	if (s->purge_fd >= 0)
		purge_one(s, &n.key);
	n.has_timeout = XCT_CTSYNC_HAS(c, XCT_NTA_TIMEOUT);
	n.timeout_s = c->timeout;
	n.rcv_ns = now_ns;
	if (s->direct_pin && direct_apply(s, type, &n, now_ns))
		s->st.direct_failed++;
	pp = ext_find(&s->ext, &n.key);
	if (type == XCT_CTSYNC_CT_DEL) {
		x = *pp;
		if (x) {
			*pp = x->next;
			free(x);
			s->ext.n--;
		}
		return;
	}
	x = *pp;
	if (!x) {
		x = malloc(sizeof(*x));
		if (!x)
			return;
		n.next = NULL;
		*pp = x;
		s->ext.n++;
	} else {
		n.next = x->next;
	}
	*x = n;
}

void xctd_sync_flush_cache(struct xctd_sync *s)
{
	struct xctd_ext_conn *x, *next;
	int i;

	for (i = 0; i < XCTD_EXT_BUCKETS; i++) {
		for (x = s->ext.bucket[i]; x; x = next) {
			next = x->next;
			free(x);
		}
		s->ext.bucket[i] = NULL;
	}
	s->ext.n = 0;
}

int xctd_sync_commit(struct xctd_sync *s, const struct xct_table *t, __u64 now_ns,
		     struct xct_ct_state_counts *c)
{
	const struct xctd_ext_conn *x;
	int i, err = 0;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < XCTD_EXT_BUCKETS && !err; i++) {
		for (x = s->ext.bucket[i]; x; x = x->next) {
			struct xct_ct_entry e = x->e;
			__u64 since = (now_ns - x->rcv_ns) / 1000000000ULL;
			__u64 left = x->has_timeout && x->timeout_s > since
					     ? x->timeout_s - since
					     : XCTD_SYNC_COMMIT_TIMEOUT_S;

			e.first_seen_ns = e.last_seen_ns = now_ns;
			e.expires_ns = now_ns + left * 1000000000ULL;
			err = xct_ct_insert(t, &x->key, &e, x->nat, x->n_nat, c);
			if (err)
				break;
		}
	}
	s->st.commits++;
	s->st.committed += c->restored;
	/* The primary now: the table is this node's own again. */
	if (s->purge_fd >= 0)
		close(s->purge_fd);
	s->purge_fd = -1;
	return err;
}

/* Messages in the datagram being built, for the lost count. */
static unsigned int pending_msgs(const struct xctd_sync *s)
{
	size_t off = 0;
	unsigned int n = 0;

	while (off + XCT_CTSYNC_HDR_LEN <= s->olen) {
		__u16 len = xct_ctsync_get16(s->out + off + 2);

		if (len < XCT_CTSYNC_HDR_LEN)
			break;
		off += len;
		n++;
	}
	return n;
}

void xctd_sync_flush(struct xctd_sync *s, __u64 now_ns)
{
	unsigned int n;

	if (!s->olen)
		return;
	n = pending_msgs(s);
	if (!xctd_link_send(&s->link, s->out, s->olen, now_ns)) {
		s->st.msg_snd += n;
		s->st.bytes_snd += s->olen;
		s->st.dgram_snd++;
	} else {
		s->st.msg_snd_lost += n;
	}
	s->olen = 0;
	s->last_snd_ns = now_ns;
}

/* The seconds left of a connection dying at expires_ns, rounded up: one
 * about to expire is still alive for the peer. */
static __u32 seconds_left(__u64 expires_ns, __u64 now_ns)
{
	return expires_ns > now_ns ? (__u32)((expires_ns - now_ns + 999999999ULL) / 1000000000ULL)
				   : 0;
}

/* The flags of our next message: FTFW's HELLO and HELLO_BACK. */
static __u8 out_flags(struct xctd_sync *s)
{
	return s->mode == XCTD_SYNC_FTFW ? xct_ftfw_tx_flags(&s->ftfw) : 0;
}

static unsigned int rs_bucket_of(const struct xct_ct_key *key)
{
	return ext_bucket(key) % XCTD_RS_BUCKETS;
}

/* Takes m off the resend queue (and its bucket) and frees it. */
static void rs_del(struct xctd_sync *s, struct xctd_rs_msg *m)
{
	if (m->keyed) {
		struct xctd_rs_msg **pp = &s->rs_bucket[rs_bucket_of(&m->key)];

		while (*pp && *pp != m)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = m->hnext;
	}
	if (m->prev)
		m->prev->next = m->next;
	else
		s->rs_head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		s->rs_tail = m->prev;
	s->rs_keyed -= m->keyed;
	free(m);
	s->rs_n--;
}

static void rs_append(struct xctd_sync *s, struct xctd_rs_msg *m)
{
	m->next = NULL;
	m->prev = s->rs_tail;
	if (s->rs_tail)
		s->rs_tail->next = m;
	else
		s->rs_head = m;
	s->rs_tail = m;
}

static void rs_free_all(struct xctd_sync *s)
{
	while (s->rs_head)
		rs_del(s, s->rs_head);
}

/* Keeps the message just sent (len bytes at msg, number seq) until the
 * peer ACKs it; key, the connection's, replaces its older message. */
static void rs_add(struct xctd_sync *s, const struct xct_ct_key *key, const __u8 *msg, size_t len,
		   __u32 seq)
{
	struct xctd_rs_msg *m, **pp;

	if (key) {
		for (pp = &s->rs_bucket[rs_bucket_of(key)]; *pp; pp = &(*pp)->hnext)
			if (xct_key_eq(&(*pp)->key, key)) {
				rs_del(s, *pp);
				break;
			}
	}
	if (s->rs_n >= XCTD_RS_MAX) {
		rs_del(s, s->rs_head);
		s->st.rs_dropped++;
	}
	m = malloc(sizeof(*m) + len);
	if (!m) {
		s->st.rs_dropped++;
		return;
	}
	memset(m, 0, sizeof(*m));
	m->keyed = key != NULL;
	if (key) {
		m->key = *key;
		pp = &s->rs_bucket[rs_bucket_of(key)];
		m->hnext = *pp;
		*pp = m;
	}
	m->seq = seq;
	m->len = (__u16)len;
	memcpy(m->msg, msg, len);
	rs_append(s, m);
	s->rs_n++;
	s->rs_keyed += m->keyed;
}

/* The peer's ACK [from, to]: those messages reached it. */
static void rs_ack(struct xctd_sync *s, __u32 from, __u32 to)
{
	struct xctd_rs_msg *m, *next;

	for (m = s->rs_head; m; m = next) {
		next = m->next;
		if (xct_ftfw_between(m->seq, from, to)) {
			rs_del(s, m);
			s->st.rs_acked++;
		}
	}
}

/* Room for len more bytes in the datagram being built, sending it first
 * when it has not. */
static void make_room(struct xctd_sync *s, size_t len, __u64 now_ns)
{
	if (sizeof(s->out) - s->olen < len)
		xctd_sync_flush(s, now_ns);
}

/* The peer's NACK [from, to]: those messages again, each under the next
 * number (and its current HELLO flags), at the queue's tail. */
static void rs_resend(struct xctd_sync *s, __u32 from, __u32 to, __u64 now_ns)
{
	struct xctd_rs_msg *m, *next, *last = s->rs_tail;

	for (m = s->rs_head; m; m = next) {
		next = m == last ? NULL : m->next;
		if (!xct_ftfw_between(m->seq, from, to))
			continue;
		make_room(s, m->len, now_ns);
		m->seq = s->seq++;
		m->msg[1] = (m->msg[1] & ~(XCT_CTSYNC_F_HELLO | XCT_CTSYNC_F_HELLO_BACK)) |
			    out_flags(s);
		xct_ctsync_put32(m->msg + 4, m->seq);
		memcpy(s->out + s->olen, m->msg, m->len);
		s->olen += m->len;
		s->st.rs_resent++;
		if (m != s->rs_tail) {
			if (m->prev)
				m->prev->next = m->next;
			else
				s->rs_head = m->next;
			m->next->prev = m->prev;
			rs_append(s, m);
		}
	}
}

/* One data message into the datagram being built (the datagram sent
 * first when it has no room left); in FTFW, into the resend queue too,
 * under key. */
static void put_conn(struct xctd_sync *s, __u8 type, const struct xct_ctsync_conn *c,
		     const struct xct_ct_key *key, __u64 now_ns)
{
	__u8 flags = out_flags(s);
	int len;

	len = xct_ctsync_encode_conn(s->out + s->olen, sizeof(s->out) - s->olen, type, flags,
				     s->seq, c);
	if (len == -ENOSPC && s->olen) {
		xctd_sync_flush(s, now_ns);
		len = xct_ctsync_encode_conn(s->out, sizeof(s->out), type, flags, s->seq, c);
	}
	if (len < 0)
		return; /* cannot happen: a message is far below a datagram */
	if (s->mode == XCTD_SYNC_FTFW)
		rs_add(s, key, s->out + s->olen, (size_t)len, s->seq);
	s->seq++;
	s->olen += (size_t)len;
	s->st.data_snd[type]++;
}

/* One control message into the datagram being built; in FTFW, those
 * with a range (ACK, NACK, RESYNC) into the resend queue too, as
 * conntrackd keeps them: the peer may miss one as any other. */
static void put_ctl(struct xctd_sync *s, __u8 flags, __u32 from, __u32 to, __u64 now_ns)
{
	int len;

	flags |= out_flags(s);
	make_room(s, XCT_CTSYNC_CTL_LEN, now_ns);
	len = xct_ctsync_build_ctl(s->out + s->olen, sizeof(s->out) - s->olen, flags, s->seq, from,
				   to);
	if (len < 0)
		return;
	if (s->mode == XCTD_SYNC_FTFW && (flags & XCT_CTSYNC_F_RANGE))
		rs_add(s, NULL, s->out + s->olen, (size_t)len, s->seq);
	s->seq++;
	s->olen += (size_t)len;
}

/* The window scales of a TCP connection (XCT_CTE_WSCALE_KNOWN on both, as
 * an event carries them) into its message: NTA_TCP_WSCALE_ORIG and _REPL,
 * which conntrackd sends with TCPWindowTracking on and takes in any case,
 * so that the peer's commit need not track the connection liberally for
 * good.  Unknown, they are left out, as conntrackd leaves them. */
static void put_wscale(struct xct_ctsync_conn *c, const __u8 wscale[2])
{
	if (c->proto != XCT_IPPROTO_TCP || !(wscale[XCT_DIR_ORIGINAL] & XCT_CTE_WSCALE_KNOWN) ||
	    !(wscale[XCT_DIR_REPLY] & XCT_CTE_WSCALE_KNOWN))
		return;
	c->attrs |=
		XCT_CTSYNC_BIT(XCT_NTA_TCP_WSCALE_ORIG) | XCT_CTSYNC_BIT(XCT_NTA_TCP_WSCALE_REPL);
	c->wscale[XCT_DIR_ORIGINAL] = wscale[XCT_DIR_ORIGINAL] & ~XCT_CTE_WSCALE_KNOWN;
	c->wscale[XCT_DIR_REPLY] = wscale[XCT_DIR_REPLY] & ~XCT_CTE_WSCALE_KNOWN;
}

void xctd_sync_event(struct xctd_sync *s, const struct xct_ct_event *ev, __u64 now_ns)
{
	static const __u8 type_of[] = {
		[XCT_CTE_NEW] = XCT_CTSYNC_CT_NEW,
		[XCT_CTE_UPDATE] = XCT_CTSYNC_CT_UPD,
		[XCT_CTE_DESTROY] = XCT_CTSYNC_CT_DEL,
	};
	struct xct_nat_binding nat, inner;
	struct xct_ctsync_conn c;
	__u32 timeout = 0;

	if (ev->type < XCT_CTE_NEW || ev->type > XCT_CTE_DESTROY)
		return;
	if (ev->type != XCT_CTE_DESTROY)
		timeout = seconds_left(ev->expires_ns, now_ns);
	xct_event_nat(ev, &nat, &inner);
	if (ignored_conn(s, &ev->key, nat.manip ? &nat : NULL, inner.manip ? &inner : NULL)) {
		s->st.filtered++;
		return;
	}
	if (withheld_state(s, &ev->key, ev->state))
		return;
	xct_ctsync_from_ct(&ev->key, ev->orig_side, ev->state, ev->status, ev->mark, timeout,
			   nat.manip ? &nat : NULL, inner.manip ? &inner : NULL, &c);
	put_wscale(&c, ev->wscale);
	put_conn(s, type_of[ev->type], &c, &ev->key, now_ns);
}

struct bulk_ctx {
	struct xctd_sync *s;
	const struct xct_nat_view *nat;
	__u64 now_ns;
	__u64 sent;
};

static int bulk_one(const struct xct_ct_key *key, const struct xct_ct_entry *e, void *arg)
{
	struct bulk_ctx *b = arg;
	const struct xct_nat_binding *nat = xct_nat_view_find(b->nat, key, e);
	struct xct_ctsync_conn c;

	/* A connection whose NEW still waits for its translation is not
	 * announced yet: its NEW event comes, and the peer hears of it then. */
	if (e->status & XCT_CT_NEW_PENDING)
		return 0;
	if (ignored_conn(b->s, key, nat, xct_nat_view_inner(b->nat, nat))) {
		b->s->st.filtered++;
		return 0;
	}
	if (withheld_state(b->s, key, e->state))
		return 0;
	xct_ctsync_from_ct(key, e->orig_side, e->state, e->status, e->mark,
			   seconds_left(e->expires_ns, b->now_ns), nat,
			   xct_nat_view_inner(b->nat, nat), &c);
	if (key->proto == XCT_IPPROTO_TCP && xct_tcp_scales_known(e)) {
		__u8 w[2] = {e->proto.tcp.seen[XCT_DIR_ORIGINAL].td_scale | XCT_CTE_WSCALE_KNOWN,
			     e->proto.tcp.seen[XCT_DIR_REPLY].td_scale | XCT_CTE_WSCALE_KNOWN};

		put_wscale(&c, w);
	}
	put_conn(b->s, XCT_CTSYNC_CT_UPD, &c, key, b->now_ns);
	b->sent++;
	return 0;
}

int xctd_sync_bulk(struct xctd_sync *s, const struct xct_table *t, __u64 now_ns, __u64 *sent)
{
	struct xct_nat_view nat = {0};
	struct bulk_ctx b = {.s = s, .nat = &nat, .now_ns = now_ns};
	int err;

	*sent = 0;
	err = xct_nat_view_load(t, &nat);
	if (err)
		return err;
	err = xct_table_walk(t, now_ns, bulk_one, &b);
	xct_nat_view_free(&nat);
	xctd_sync_flush(s, now_ns);
	*sent = b.sent;
	return err;
}

void xctd_sync_tick(struct xctd_sync *s, __u64 now_ns)
{
	__u32 from, to;

	xctd_link_tick(&s->link, now_ns);
	/* TCP: a new connection from the peer.  What the peer sent while it
	 * could not reach us is lost (conntrackd drops it while it
	 * reconnects, or wrote it to the connection that died), and the
	 * peer may have restarted: its whole table, again. */
	if (s->link.st.accepts != s->accepts_seen) {
		s->accepts_seen = s->link.st.accepts;
		xctd_sync_request_resync(s, now_ns);
	}
	if (s->direct_t && now_ns - s->direct_open_ns >= XCTD_SYNC_ALIVE_NS)
		direct_close(s);

	/* FTFW's alive timer: what came since the last ACK is ACKed. */
	if (s->mode == XCTD_SYNC_FTFW && now_ns - s->last_ack_ns >= XCTD_SYNC_ALIVE_NS) {
		s->last_ack_ns = now_ns;
		if (xct_ftfw_pending_ack(&s->ftfw, &from, &to)) {
			put_ctl(s, XCT_CTSYNC_F_ACK, from, to, now_ns);
			s->st.ack_snd++;
			xctd_sync_flush(s, now_ns);
		}
	}
	if (now_ns - s->last_snd_ns < XCTD_SYNC_ALIVE_NS)
		return;
	put_ctl(s, XCT_CTSYNC_F_ALIVE, 0, 0, now_ns);
	s->st.alive_snd++;
	xctd_sync_flush(s, now_ns);
}

void xctd_sync_request_resync(struct xctd_sync *s, __u64 now_ns)
{
	put_ctl(s, XCT_CTSYNC_F_RESYNC, 0, 0, now_ns);
	s->st.resync_snd++;
	xctd_sync_flush(s, now_ns);
}

void xctd_sync_get_stats(const struct xctd_sync *s, struct xctd_sync_stats *st)
{
	*st = s->st;
	st->ext_entries = s->ext.n;
	st->rs_len = s->rs_n;
	st->rs_conns = s->rs_keyed;
	st->hello_done = s->mode == XCTD_SYNC_FTFW && s->ftfw.hello == XCT_FTFW_HELLO_DONE;
	xctd_link_get_stats(&s->link, &st->link);
	st->dgram_rcv_foreign = st->link.foreign;
	st->dgram_rcv_own = st->link.own;
}

const char *xctd_sync_error_name(int err)
{
	static const char *const names[XCT_CTSYNC_ERR_COUNT] = {
		[XCT_CTSYNC_OK] = "ok",
		[XCT_CTSYNC_ERR_TRUNCATED] = "truncated",
		[XCT_CTSYNC_ERR_VERSION] = "version",
		[XCT_CTSYNC_ERR_ATTR_LEN] = "attr_len",
		[XCT_CTSYNC_ERR_ATTR_UNKNOWN] = "attr_unknown",
		[XCT_CTSYNC_ERR_ATTR_SIZE] = "attr_size",
		[XCT_CTSYNC_ERR_INCOMPLETE] = "incomplete",
	};

	return err >= 0 && err < XCT_CTSYNC_ERR_COUNT && names[err] ? names[err] : "unknown";
}

/* The peer's sequence, as conntrackd's nethdr_track_seq() follows it. */
static void track_seq(struct xctd_sync *s, __u32 seq)
{
	if (s->seq_expected_set && seq != s->seq_expected) {
		if ((__s32)(seq - s->seq_expected) > 0)
			s->st.msg_rcv_lost += seq - s->seq_expected;
		else
			s->st.msg_rcv_before++;
	}
	s->seq_expected_set = true;
	s->seq_expected = seq + 1;
}

/* FTFW: the peer's message h in sequence, our ACK and NACK for it, its
 * own ACK or NACK for ours.  Whether to take it in. */
static bool ftfw_take(struct xctd_sync *s, const struct xct_ctsync_hdr *h, __u64 now_ns)
{
	struct xct_ftfw_verdict v;
	struct xctd_rs_msg *m, *next;

	xct_ftfw_recv(&s->ftfw, h->seq, h->flags, &v);
	if (v.hello) {
		/* The peer (re)started: our control messages of its old run
		 * mean nothing to it now. */
		for (m = s->rs_head; m; m = next) {
			next = m->next;
			if (!m->keyed)
				rs_del(s, m);
		}
	}
	if (v.ack) {
		put_ctl(s, XCT_CTSYNC_F_ACK, v.ack_from, v.ack_to, now_ns);
		s->st.ack_snd++;
	}
	if (v.nack) {
		put_ctl(s, XCT_CTSYNC_F_NACK, v.nack_from, v.nack_to, now_ns);
		s->st.nack_snd++;
	}
	if (!v.take)
		return false;
	if (h->type == XCT_CTSYNC_CTL && (h->flags & XCT_CTSYNC_F_ACK)) {
		rs_ack(s, h->from, h->to);
		s->st.ack_rcv++;
	}
	if (h->type == XCT_CTSYNC_CTL && (h->flags & XCT_CTSYNC_F_NACK)) {
		rs_resend(s, h->from, h->to, now_ns);
		s->st.nack_rcv++;
	}
	return true;
}

void xctd_sync_datagram(struct xctd_sync *s, const __u8 *buf, size_t len, __u64 now_ns)
{
	size_t off = 0;

	s->st.dgram_rcv++;
	s->st.bytes_rcv += len;
	while (off < len) {
		struct xct_ctsync_hdr h;
		struct xct_ctsync_conn c;
		enum xct_ctsync_error err;

		if (xct_ctsync_parse_hdr(buf + off, (__u32)(len - off), &h, &err)) {
			s->st.msg_rcv_malformed[err]++;
			return;
		}
		if (h.type <= XCT_CTSYNC_CT_DEL &&
		    xct_ctsync_decode_conn(buf + off, h.len, &c, &err)) {
			s->st.msg_rcv_malformed[err]++;
			return;
		}
		track_seq(s, h.seq);
		s->st.msg_rcv++;
		if (s->mode == XCTD_SYNC_FTFW && !ftfw_take(s, &h, now_ns)) {
			off += h.len;
			continue;
		}
		if (h.type <= XCT_CTSYNC_CT_DEL) {
			s->st.data_rcv[h.type]++;
			ext_apply(s, h.type, &c, now_ns);
		}
		if (h.type == XCT_CTSYNC_CTL) {
			if (h.flags & XCT_CTSYNC_F_ALIVE)
				s->st.alive_rcv++;
			if (h.flags & XCT_CTSYNC_F_RESYNC)
				s->st.resync_rcv++;
		}
		off += h.len;
	}
}

/* A batch of the peer's messages, from the transport. */
static void link_rx(void *arg, const __u8 *buf, size_t len)
{
	xctd_sync_datagram(arg, buf, len, xct_now_ns());
}

void xctd_sync_input(struct xctd_sync *s)
{
	xctd_link_input(&s->link, link_rx, s, xct_now_ns());
}
