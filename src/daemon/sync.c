// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sync link to an HA peer, in conntrackd's NOTRACK mode over UDP
 * unicast (conntrack-tools src/sync-notrack.c, src/udp.c).
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
 * Only datagrams from the peer's address are read: anyone else could
 * otherwise feed connections to this firewall.
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
#include "ct_state.h"
#include "daemon/daemon.h"
#include "table.h"
#include "daemon/sync.h"
#include "xct.h"
#include "xct/ctsync_ct.h"

int xctd_sync_open(struct xctd_sync *s, const char *peer, const char *listen, char *err,
		   size_t errlen)
{
	struct sockaddr_storage local;
	unsigned int plen, llen;
	int e, len;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (xctd_parse_listen(peer, &s->peer, &plen)) {
		snprintf(err, errlen, "--sync-peer %s: not ADDR:PORT or [ADDR]:PORT", peer);
		return -EINVAL;
	}
	s->peer_len = plen;
	if (listen) {
		if (xctd_parse_listen(listen, &local, &llen)) {
			snprintf(err, errlen, "--sync-listen %s: not ADDR:PORT or [ADDR]:PORT",
				 listen);
			return -EINVAL;
		}
		if (local.ss_family != s->peer.ss_family) {
			snprintf(err, errlen, "--sync-listen %s and --sync-peer %s: not one family",
				 listen, peer);
			return -EINVAL;
		}
	} else {
		/* The wildcard address, the peer's port. */
		memset(&local, 0, sizeof(local));
		local.ss_family = s->peer.ss_family;
		if (local.ss_family == AF_INET)
			((struct sockaddr_in *)&local)->sin_port =
				((struct sockaddr_in *)&s->peer)->sin_port;
		else
			((struct sockaddr_in6 *)&local)->sin6_port =
				((struct sockaddr_in6 *)&s->peer)->sin6_port;
		llen = plen;
	}
	s->fd = socket(s->peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "cannot open the sync socket: %s", strerror(errno));
		return e;
	}
	if (bind(s->fd, (struct sockaddr *)&local, llen)) {
		e = -errno;
		snprintf(err, errlen, "cannot bind the sync socket to %s: %s",
			 listen ? listen : "the peer's port", strerror(errno));
		close(s->fd);
		s->fd = -1;
		return e;
	}
	s->seq = (__u32)time(NULL);
	/* The first message asks the peer for its table, as conntrackd's
	 * StartupResync: an xctd that (re)starts has an empty cache. */
	len = xct_ctsync_build_ctl(s->out, sizeof(s->out), XCT_CTSYNC_F_RESYNC, s->seq, 0, 0);
	if (len > 0) {
		s->olen = (size_t)len;
		s->seq++;
		s->st.resync_snd++;
	}
	return 0;
}

void xctd_sync_close(struct xctd_sync *s)
{
	xctd_sync_flush_cache(s);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
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

/* A data message's connection into, or out of, the external cache. */
static void ext_apply(struct xctd_sync *s, __u8 type, const struct xct_ctsync_conn *c, __u64 now_ns)
{
	struct xctd_ext_conn n = {0}, **pp, *x;
	__u8 side;

	if (xct_ctsync_to_ct(c, &n.key, &side, &n.e, n.nat, &n.n_nat)) {
		s->st.ext_unkeyable++;
		return;
	}
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
	n.has_timeout = XCT_CTSYNC_HAS(c, XCT_NTA_TIMEOUT);
	n.timeout_s = c->timeout;
	n.rcv_ns = now_ns;
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
	if (sendto(s->fd, s->out, s->olen, MSG_DONTWAIT, (struct sockaddr *)&s->peer,
		   s->peer_len) == (ssize_t)s->olen) {
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

/* One data message into the datagram being built (the datagram sent
 * first when it has no room left). */
static void put_conn(struct xctd_sync *s, __u8 type, const struct xct_ctsync_conn *c, __u64 now_ns)
{
	int len;

	len = xct_ctsync_encode_conn(s->out + s->olen, sizeof(s->out) - s->olen, type, 0, s->seq,
				     c);
	if (len == -ENOSPC && s->olen) {
		xctd_sync_flush(s, now_ns);
		len = xct_ctsync_encode_conn(s->out, sizeof(s->out), type, 0, s->seq, c);
	}
	if (len < 0)
		return; /* cannot happen: a message is far below a datagram */
	s->seq++;
	s->olen += (size_t)len;
	s->st.data_snd[type]++;
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
	xct_ctsync_from_ct(&ev->key, ev->orig_side, ev->state, ev->status, ev->mark, timeout,
			   nat.manip ? &nat : NULL, inner.manip ? &inner : NULL, &c);
	put_conn(s, type_of[ev->type], &c, now_ns);
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
	xct_ctsync_from_ct(key, e->orig_side, e->state, e->status, e->mark,
			   seconds_left(e->expires_ns, b->now_ns), nat,
			   xct_nat_view_inner(b->nat, nat), &c);
	put_conn(b->s, XCT_CTSYNC_CT_UPD, &c, b->now_ns);
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
	int len;

	if (now_ns - s->last_snd_ns < XCTD_SYNC_ALIVE_NS)
		return;
	len = xct_ctsync_build_ctl(s->out + s->olen, sizeof(s->out) - s->olen, XCT_CTSYNC_F_ALIVE,
				   s->seq, 0, 0);
	if (len < 0)
		return;
	s->seq++;
	s->olen += (size_t)len;
	s->st.alive_snd++;
	xctd_sync_flush(s, now_ns);
}

void xctd_sync_request_resync(struct xctd_sync *s, __u64 now_ns)
{
	int len;

	len = xct_ctsync_build_ctl(s->out + s->olen, sizeof(s->out) - s->olen, XCT_CTSYNC_F_RESYNC,
				   s->seq, 0, 0);
	if (len == -ENOSPC) {
		xctd_sync_flush(s, now_ns);
		len = xct_ctsync_build_ctl(s->out, sizeof(s->out), XCT_CTSYNC_F_RESYNC, s->seq, 0,
					   0);
	}
	if (len < 0)
		return;
	s->seq++;
	s->olen += (size_t)len;
	s->st.resync_snd++;
	xctd_sync_flush(s, now_ns);
}

void xctd_sync_get_stats(const struct xctd_sync *s, struct xctd_sync_stats *st)
{
	*st = s->st;
	st->ext_entries = s->ext.n;
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

/* Whether a datagram came from the peer's address (any port). */
static bool from_peer(const struct xctd_sync *s, const struct sockaddr_storage *from)
{
	if (from->ss_family != s->peer.ss_family)
		return false;
	if (from->ss_family == AF_INET)
		return ((const struct sockaddr_in *)from)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&s->peer)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
		       &((const struct sockaddr_in6 *)&s->peer)->sin6_addr,
		       sizeof(struct in6_addr));
}

void xctd_sync_input(struct xctd_sync *s)
{
	static __u8 buf[65536];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &flen);
		if (n < 0)
			return; /* EAGAIN: all read */
		if (!from_peer(s, &from)) {
			s->st.dgram_rcv_foreign++;
			continue;
		}
		xctd_sync_datagram(s, buf, (size_t)n, xct_now_ns());
	}
}
